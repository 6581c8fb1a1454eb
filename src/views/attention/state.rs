//! The Attention view's state: its settings, link keys and clamping, and the map it asks for.

use serde::{Deserialize, Serialize};

use crate::analysis::attention_map::{self, AttentionMap, MapRequest};
use crate::analysis::engine::MapEngines;
use crate::analysis::grid::Aggregate;
use crate::analysis::relative_map::relative_table;
use crate::pe::scheme::{self, HEADS, SchemeKind, SchemeParams};
use crate::pe::{Content, PeError, PreparedLogits};
use crate::theme::Colormap;
use crate::views::clamp_noted;

/// Every length the view can show; which of them a state allows: [`AttentionState::len_range`].
pub const SEQ_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=RELATIVE_MAX_LEN;
/// Longest map computed query row by query row (random or repeating tokens, sinusoidal APE):
/// `N²·d` multiply-adds, ~17 G at 8192 with d = 256, spread over frames.
pub const ROW_MAX_LEN: usize = 8192;
/// Longest map that depends on `k − q` alone (identical tokens, every scheme but sinusoidal APE):
/// the WGSL engine draws it on the GPU, and the CPU's fast path (`analysis::relative_map`) needs
/// `O(N·512)` work, ~0.1 s at 65 536 in the browser.
pub const RELATIVE_MAX_LEN: usize = 65_536;
pub const TRAIN_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=4096;
pub const HEAD_DIM_RANGE: std::ops::RangeInclusive<usize> = 8..=256;
pub const BASE_RANGE: std::ops::RangeInclusive<f64> = 100.0..=1.0e7;
pub const PERIOD_RANGE: std::ops::RangeInclusive<usize> = 2..=256;
/// Largest side of the computed (aggregated) map, in cells.
pub const MAP_SIDE: usize = 512;

/// What the q/k vectors hold besides position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    /// The same token everywhere: the pure positional effect.
    #[default]
    Identical,
    /// Seeded random tokens (unit-variance entries).
    Random,
    /// A random pattern of `period` tokens, repeated.
    Repeating,
}

impl ContentKind {
    pub const ALL: [ContentKind; 3] = [Self::Identical, Self::Random, Self::Repeating];
    pub fn key(self) -> &'static str {
        match self {
            Self::Identical => "identical",
            Self::Random => "random",
            Self::Repeating => "repeating",
        }
    }
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == key)
    }

    /// The `pe` content for a length, with `period` for the repeating pattern (seed 7).
    pub fn content(self, period: usize, seq_len: usize) -> Content {
        match self {
            Self::Identical => Content::Identical,
            Self::Random => Content::Random { seed: 7 },
            Self::Repeating => Content::Repeating {
                period: period.min(seq_len).max(1),
                seed: 7,
            },
        }
    }
}

/// The serialisable settings of this view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionState {
    pub scheme: SchemeKind,
    pub seq_len: usize,
    pub train_len: usize,
    pub content: ContentKind,
    pub period: usize,
    pub softmax: bool,
    pub causal: bool,
    pub head: usize,
    pub rope_base: f64,
    pub head_dim: usize,
    pub aggregate: Aggregate,
    /// Which heatmap engine computes the map: measured (auto), or the reader's override.
    pub engine: EnginePref,
}

/// The reader's heatmap-engine choice (`engine=` in the link).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EnginePref {
    /// The faster engine for this length, by the app's first-use measurement.
    #[default]
    Auto,
    /// The WGSL engine whenever the device and the scheme allow it.
    Gpu,
    /// The CPU engine always.
    Cpu,
}

impl EnginePref {
    pub fn key(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Gpu => "gpu",
            Self::Cpu => "cpu",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        [Self::Auto, Self::Gpu, Self::Cpu].into_iter().find(|p| p.key() == key)
    }

    /// Does this choice ask for the GPU for a map of `n` keys on `engines`?
    pub fn prefers_gpu(self, engines: &MapEngines, n: usize) -> bool {
        match self {
            Self::Auto => engines.auto_uses_gpu(n),
            Self::Gpu => true,
            Self::Cpu => false,
        }
    }
}

impl Default for AttentionState {
    fn default() -> Self {
        Self {
            scheme: SchemeKind::Rope,
            seq_len: 256,
            train_len: 128,
            content: ContentKind::Identical,
            period: 16,
            softmax: true,
            causal: true,
            head: 0,
            rope_base: 10_000.0,
            head_dim: 64,
            aggregate: Aggregate::Mean,
            engine: EnginePref::Auto,
        }
    }
}

impl AttentionState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        clamp_noted(&mut self.train_len, TRAIN_LEN_RANGE, "train", &mut notes);
        clamp_noted(&mut self.head_dim, HEAD_DIM_RANGE, "hd", &mut notes);
        clamp_noted(&mut self.period, PERIOD_RANGE, "period", &mut notes);
        clamp_noted(&mut self.head, 0..=HEADS - 1, "head", &mut notes);
        crate::views::even_noted(&mut self.head_dim, "hd", &mut notes);
        if !self.rope_base.is_finite() || !BASE_RANGE.contains(&self.rope_base) {
            let c = if self.rope_base.is_finite() {
                self.rope_base.clamp(*BASE_RANGE.start(), *BASE_RANGE.end())
            } else {
                10_000.0
            };
            notes.push(format!("base={} is outside 100…1e7; using {c}", self.rope_base));
            self.rope_base = c;
        }
        // Last: the allowed lengths depend on the (now valid) scheme, content and head dimension.
        let lengths = self.len_range();
        clamp_noted(&mut self.seq_len, lengths, "len", &mut notes);
        notes
    }

    /// Does this state's map depend on `k − q` alone? Probed on a 16-token map with the same
    /// scheme, content and head dimension: the engines' own test (`relative_table`), so the
    /// limit and the engine that serves the map never disagree.
    pub fn is_relative(&self) -> bool {
        const PROBE: usize = 16;
        let probe = AttentionState {
            seq_len: PROBE,
            ..self.clone()
        };
        probe
            .prepare()
            .is_ok_and(|p| p.cost_per_cell() == 1 && relative_table(&p, PROBE).is_some())
    }

    /// The lengths this state allows: up to [`RELATIVE_MAX_LEN`] for a relative map, else up to
    /// [`ROW_MAX_LEN`].
    pub fn len_range(&self) -> std::ops::RangeInclusive<usize> {
        let max = if self.is_relative() {
            RELATIVE_MAX_LEN
        } else {
            ROW_MAX_LEN
        };
        *SEQ_LEN_RANGE.start()..=max
    }

    /// Append this view's keys to a URL hash.
    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&len={}&scheme={}&train={}&content={}&period={}&mode={}&causal={}&head={}&base={}&hd={}&agg={}&engine={}",
            self.seq_len,
            self.scheme.key(),
            self.train_len,
            self.content.key(),
            self.period,
            if self.softmax { "softmax" } else { "logits" },
            u8::from(self.causal),
            self.head,
            self.rope_base,
            self.head_dim,
            self.aggregate.key(),
            self.engine.key()
        ));
    }

    /// Read one URL key: `None` if it is not this view's, else whether the value was valid.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        let num = |v: &str| v.parse::<usize>().ok();
        let ok = match key {
            "len" => num(value).map(|n| self.seq_len = n).is_some(),
            "train" => num(value).map(|n| self.train_len = n).is_some(),
            "period" => num(value).map(|n| self.period = n).is_some(),
            "head" => num(value).map(|n| self.head = n).is_some(),
            "hd" => num(value).map(|n| self.head_dim = n).is_some(),
            "base" => value.parse::<f64>().ok().map(|b| self.rope_base = b).is_some(),
            "scheme" => SchemeKind::analytic_from_key(value).map(|k| self.scheme = k).is_some(),
            "content" => ContentKind::from_key(value).map(|c| self.content = c).is_some(),
            "agg" => Aggregate::from_key(value).map(|a| self.aggregate = a).is_some(),
            "mode" => match value {
                "softmax" | "logits" => {
                    self.softmax = value == "softmax";
                    true
                }
                _ => false,
            },
            "engine" => match EnginePref::from_key(value) {
                Some(p) => {
                    self.engine = p;
                    true
                }
                None => false,
            },
            "causal" => match value {
                "1" | "true" | "0" | "false" => {
                    self.causal = matches!(value, "1" | "true");
                    true
                }
                _ => false,
            },
            _ => return None,
        };
        Some(ok)
    }

    /// Prepare the scheme's logits for this state.
    pub fn prepare(&self) -> Result<PreparedLogits, PeError> {
        let scheme = scheme::build(
            self.scheme,
            SchemeParams {
                head: self.head,
                rope_base: self.rope_base,
            },
        )?;
        PreparedLogits::new(
            &scheme,
            &self.content.content(self.period, self.seq_len),
            self.head_dim,
            self.seq_len,
        )
    }

    /// What to compute for this state.
    pub fn request(&self) -> MapRequest {
        MapRequest {
            n: self.seq_len,
            causal: self.causal,
            softmax: self.softmax,
            out_side: MAP_SIDE,
            aggregate: self.aggregate,
            train_len: self.train_len,
        }
    }

    /// Compute the (aggregated) map for this state on the CPU (export, tests).
    pub fn compute(&self, prepared: &PreparedLogits) -> Result<AttentionMap, PeError> {
        attention_map::compute(prepared, &self.request())
    }

    pub fn colormap(&self) -> Colormap {
        if self.softmax {
            Colormap::Viridis
        } else {
            Colormap::Magma
        }
    }
}
