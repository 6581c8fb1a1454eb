//! The RoPE view's serialisable state, its URL keys and the per-pair maths it shows.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::pe::diagnostics::{turns_within, unseen_angle_pairs};
use crate::pe::learned::LearnedTable;
use crate::pe::rope::{self, RopeLayout, default_inv_freq};
use crate::pe::{MAX_LEN, PeError};
use crate::views::clamp_noted;

/// Query position `m`, in tokens.
pub const POSITION_RANGE: RangeInclusive<usize> = 0..=MAX_LEN;
/// Training length `L_train`, in tokens.
pub const TRAIN_LEN_RANGE: RangeInclusive<usize> = 8..=32_768;
/// Rotary head dimension `d` (even).
pub const HEAD_DIM_RANGE: RangeInclusive<usize> = 8..=256;
/// RoPE base `b`.
pub const BASE_RANGE: RangeInclusive<f64> = 100.0..=1.0e7;
/// Largest relative distance `m − n` on the decay curve, in tokens.
pub const DECAY_LEN_RANGE: RangeInclusive<usize> = 16..=MAX_LEN;
/// Seed of the "random" query/key pair (same seed as the attention view's random content).
pub const QK_SEED: u64 = 7;
/// The decay curve is drawn with at most this many min/max buckets (two points each).
pub const DECAY_PLOT_BUCKETS: usize = 2048;
/// While playing, `m + 1` doubles every this many seconds (so the whole range takes ~32 s).
pub const PLAY_DOUBLING_S: f64 = 2.0;
/// Pairing used for the decay curve (the scores of both layouts differ only by which coordinates
/// of a random q/k are paired; the clocks do not depend on it).
pub(super) const LAYOUT: RopeLayout = RopeLayout::RotateHalf;
/// Largest and smallest side of one clock's cell, in points.
pub(super) const CLOCK_CELL_MAX_PT: f32 = 64.0;
pub(super) const CLOCK_CELL_MIN_PT: f32 = 28.0;
/// Height of each of the two plots under the clocks, in points.
pub(super) const PLOT_HEIGHT_PT: f32 = 210.0;

/// Which query and key vectors the decay curve uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QkContent {
    /// `q = k = (1, …, 1)`: RoFormer's long-term-decay setting; the score at distance 0 is `d`.
    #[default]
    Ones,
    /// Seeded standard-normal `q` and `k` (seed [`QK_SEED`]).
    Random,
}

impl QkContent {
    pub const ALL: [QkContent; 2] = [Self::Ones, Self::Random];

    /// The URL value (`qk=`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Ones => "ones",
            Self::Random => "random",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == key)
    }

    /// The `(q, k)` vectors of length `head_dim`.
    pub fn vectors(self, head_dim: usize) -> Result<(Vec<f64>, Vec<f64>), PeError> {
        match self {
            Self::Ones => Ok((vec![1.0; head_dim], vec![1.0; head_dim])),
            Self::Random => {
                // Two i.i.d. N(0, 1) rows from the maths core's seeded generator.
                let table = LearnedTable::seeded(2, head_dim, 1.0, QK_SEED)?;
                let row =
                    |p| -> Result<Vec<f64>, PeError> { Ok(table.row(p)?.iter().map(|&v| f64::from(v)).collect()) };
                Ok((row(0)?, row(1)?))
            }
        }
    }
}

/// The serialisable settings of this view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RopeState {
    /// Query position `m` the clocks show, in tokens (URL key `len`).
    pub query_pos: usize,
    /// Training length `L_train`, in tokens.
    pub train_len: usize,
    /// Rotary head dimension `d` (even); there are `d/2` pairs.
    pub head_dim: usize,
    /// RoPE base `b` (`θ_i = b^(−2i/d)`).
    pub base: f64,
    /// Query/key content of the decay curve.
    pub qk: QkContent,
    /// Largest relative distance `m − n` on the decay curve, in tokens.
    pub decay_len: usize,
    /// Whether `m` is animating upward. Not serialised: a shared link never starts playing.
    #[serde(skip)]
    pub playing: bool,
    /// Show the trained recall-rope model's own query and key phasors (URL `real=1`).
    #[serde(default)]
    pub model_clocks: bool,
    /// Which layer of that model (URL `layer=`).
    #[serde(default)]
    pub model_layer: usize,
}

/// Layers of the model clocks (the shipped models have three).
pub const MODEL_LAYER_RANGE: RangeInclusive<usize> = 0..=2;
/// Longest sample the model clocks run (the tasks' limit).
pub const MODEL_MAX_LEN: usize = 256;

impl RopeState {
    /// The real sample's length and the query position in it: m itself while the model can run
    /// that far, else the last position of its longest sample.
    pub fn model_sample(&self) -> (usize, usize) {
        let pos = self.query_pos.min(MODEL_MAX_LEN - 1);
        ((pos + 1).clamp(32, MODEL_MAX_LEN), pos)
    }
}

impl Default for RopeState {
    fn default() -> Self {
        Self {
            query_pos: 100,
            train_len: 2048,
            head_dim: 64,
            base: 10_000.0,
            qk: QkContent::Ones,
            decay_len: 4096,
            playing: false,
            model_clocks: false,
            model_layer: 0,
        }
    }
}

impl RopeState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        clamp_noted(&mut self.query_pos, POSITION_RANGE, "len", &mut notes);
        clamp_noted(&mut self.train_len, TRAIN_LEN_RANGE, "train", &mut notes);
        clamp_noted(&mut self.head_dim, HEAD_DIM_RANGE, "hd", &mut notes);
        clamp_noted(&mut self.decay_len, DECAY_LEN_RANGE, "dist", &mut notes);
        clamp_noted(&mut self.model_layer, MODEL_LAYER_RANGE, "layer", &mut notes);
        crate::views::even_noted(&mut self.head_dim, "hd", &mut notes);
        if !self.base.is_finite() || !BASE_RANGE.contains(&self.base) {
            let c = if self.base.is_finite() {
                self.base.clamp(*BASE_RANGE.start(), *BASE_RANGE.end())
            } else {
                10_000.0
            };
            notes.push(format!("base={} is outside 100…1e7; using {c}", self.base));
            self.base = c;
        }
        notes
    }

    /// Inverse frequencies `θ_i = base^(−2i/d)`, in radians per token.
    pub fn inv_freq(&self) -> Result<Vec<f64>, PeError> {
        default_inv_freq(self.head_dim, self.base)
    }

    /// Pairs that never complete a turn within `L_train` (`L_train·θ_i < 2π`, i.e. `λ_i > L_train`).
    pub fn never_turn_pairs(&self, inv_freq: &[f64]) -> Vec<bool> {
        turns_within(inv_freq, self.train_len)
            .into_iter()
            .map(|turns| turns < 1.0)
            .collect()
    }

    /// Pairs whose angle at `m` was never reached in training: `m > L_train` and the pair never
    /// completed a turn within `L_train`.
    pub fn unseen_pairs(&self, inv_freq: &[f64]) -> Vec<bool> {
        unseen_angle_pairs(inv_freq, self.train_len, inv_freq, self.query_pos)
    }

    /// Score `⟨R(m)q, R(n)k⟩` (no `1/√d`) at every integer distance `m − n = 0 ..= decay_len`.
    pub fn decay_curve(&self) -> Result<Vec<f64>, PeError> {
        let inv_freq = self.inv_freq()?;
        let (q, k) = self.qk.vectors(self.head_dim)?;
        (0..=self.decay_len)
            .map(|dist| rope::score(&q, &k, dist as f64, 0.0, &inv_freq, LAYOUT))
            .collect()
    }

    /// The one-line summary of the clocks (see [`RopeView::summary`]).
    pub fn summary(&self) -> String {
        match self.inv_freq() {
            Ok(f) => format_summary(self, &self.never_turn_pairs(&f), &self.unseen_pairs(&f)),
            Err(e) => format!("Cannot compute RoPE frequencies: {e}"),
        }
    }
}

pub(super) fn format_summary(s: &RopeState, never_turn: &[bool], unseen: &[bool]) -> String {
    let count = |v: &[bool]| v.iter().filter(|&&b| b).count();
    format!(
        "{} of {} pairs never complete a turn within L_train = {}; at m = {}, {} pairs show angles never seen in training.",
        count(never_turn),
        never_turn.len(),
        s.train_len,
        s.query_pos,
        count(unseen)
    )
}

impl RopeState {
    /// Appends this view's URL keys: `&len=<m>&train=..&hd=..&base=..&qk=ones|random&dist=..`.
    pub fn write_hash(&self, out: &mut String) {
        let state = self;
        out.push_str(&format!(
            "&len={}&train={}&hd={}&base={}&qk={}&dist={}",
            state.query_pos,
            state.train_len,
            state.head_dim,
            state.base,
            state.qk.key(),
            state.decay_len
        ));
        if state.model_clocks {
            out.push_str(&format!("&real=1&layer={}", state.model_layer));
        }
    }

    /// Reads one URL key into `state`: `None` if the key is not this view's, `Some(true)` if the value
    /// parsed, `Some(false)` if it did not (the state is then unchanged). Range checks are left to
    /// [`RopeState::sanitize`], which reports them as notes.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        let state = self;
        use crate::views::parse_into as set;
        Some(match key {
            "len" => set(&mut state.query_pos, value),
            "train" => set(&mut state.train_len, value),
            "hd" => set(&mut state.head_dim, value),
            "dist" => set(&mut state.decay_len, value),
            "layer" => set(&mut state.model_layer, value),
            "real" => match value {
                "1" | "true" => {
                    state.model_clocks = true;
                    true
                }
                "0" | "false" => {
                    state.model_clocks = false;
                    true
                }
                _ => false,
            },
            "base" => match value.parse::<f64>() {
                Ok(b) if b.is_finite() => {
                    state.base = b;
                    true
                }
                _ => false,
            },
            "qk" => match QkContent::from_key(value) {
                Some(qk) => {
                    state.qk = qk;
                    true
                }
                None => false,
            },
            _ => return None,
        })
    }
}
