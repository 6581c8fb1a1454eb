//! View: RoPE as a grid of clocks (Su, Lu, Pan, Murtadha, Wen & Liu 2021, "RoFormer: Enhanced
//! Transformer with Rotary Position Embedding").
//!
//! Each rotation pair `i` of a query at position `m` is drawn as a phasor whose hand points at
//! `m·θ_i mod 2π`; the shaded arc is every angle the pair reached during training
//! (`0 … min(2π, L_train·θ_i)`). Pairs that never complete a turn within `L_train` show angles
//! never seen in training once `m > L_train` (the diagnosis of Chen et al. 2023 and Peng et al.
//! 2023, see [`crate::pe::diagnostics::unseen_angle_pairs`]). Below the clocks: the wavelength of
//! every pair against `L_train`, and RoFormer's long-term decay of `⟨R(m)q, R(n)k⟩` with `m − n`
//! (§3.4.3). All maths comes from `crate::pe`.

use std::f64::consts::TAU;
use std::ops::RangeInclusive;

use egui::{Align2, FontId, Mesh, Pos2, Rect, RichText, Sense, Shape, Stroke, Ui, pos2, vec2};
use egui_plot::{HLine, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoint, PlotPoints, Points, VLine};
use serde::{Deserialize, Serialize};

use crate::pe::diagnostics::{turns_within, unseen_angle_pairs, wavelengths};
use crate::pe::learned::LearnedTable;
use crate::pe::rope::{self, RopeLayout, default_inv_freq};
use crate::pe::{MAX_LEN, PeError};
use crate::theme::ThemeChoice;
use crate::views::clamp_noted;
use crate::widgets::log_slider::log_slider_ui;

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
const LAYOUT: RopeLayout = RopeLayout::RotateHalf;
/// Largest and smallest side of one clock's cell, in points.
const CLOCK_CELL_MAX_PT: f32 = 64.0;
const CLOCK_CELL_MIN_PT: f32 = 28.0;
/// Height of each of the two plots under the clocks, in points.
const PLOT_HEIGHT_PT: f32 = 210.0;

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
        if self.head_dim % 2 == 1 {
            // Clamped first, so `head_dim + 1` ≤ the (even) upper end.
            notes.push(format!(
                "hd={} must be even; using {}",
                self.head_dim,
                self.head_dim + 1
            ));
            self.head_dim += 1;
        }
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

fn format_summary(s: &RopeState, never_turn: &[bool], unseen: &[bool]) -> String {
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

/// Appends this view's URL keys: `&len=<m>&train=..&hd=..&base=..&qk=ones|random&dist=..`.
pub fn write_hash(state: &RopeState, out: &mut String) {
    out.push_str(&format!(
        "&len={}&train={}&hd={}&base={}&qk={}&dist={}",
        state.query_pos,
        state.train_len,
        state.head_dim,
        state.base,
        state.qk.key(),
        state.decay_len
    ));
}

/// Reads one URL key into `state`: `None` if the key is not this view's, `Some(true)` if the value
/// parsed, `Some(false)` if it did not (the state is then unchanged). Range checks are left to
/// [`RopeState::sanitize`], which reports them as notes.
pub fn read_hash_key(state: &mut RopeState, key: &str, value: &str) -> Option<bool> {
    fn set<T: std::str::FromStr>(slot: &mut T, value: &str) -> bool {
        match value.parse() {
            Ok(v) => {
                *slot = v;
                true
            }
            Err(_) => false,
        }
    }
    Some(match key {
        "len" => set(&mut state.query_pos, value),
        "train" => set(&mut state.train_len, value),
        "hd" => set(&mut state.head_dim, value),
        "dist" => set(&mut state.decay_len, value),
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

/// At most `2 · max_buckets` points that keep each bucket's minimum and maximum (in order), so
/// that a fast oscillation drawn as a line still shows its full envelope instead of aliasing.
fn envelope_points(values: &[f64], max_buckets: usize) -> Vec<PlotPoint> {
    if values.len() <= 2 * max_buckets.max(1) {
        return values
            .iter()
            .enumerate()
            .map(|(x, &y)| PlotPoint::new(x as f64, y))
            .collect();
    }
    let bucket_len = values.len().div_ceil(max_buckets.max(1));
    let mut out = Vec::with_capacity(2 * max_buckets);
    for (b, chunk) in values.chunks(bucket_len).enumerate() {
        let (mut lo, mut hi) = (0, 0);
        for (j, &v) in chunk.iter().enumerate() {
            if v < chunk[lo] {
                lo = j;
            }
            if v > chunk[hi] {
                hi = j;
            }
        }
        let start = b * bucket_len;
        let (first, second) = (lo.min(hi), lo.max(hi));
        out.push(PlotPoint::new((start + first) as f64, chunk[first]));
        if second != first {
            out.push(PlotPoint::new((start + second) as f64, chunk[second]));
        }
    }
    out
}

/// Inputs of the per-pair data: `(head_dim, base, train_len)`.
type PairsKey = (usize, f64, usize);
/// Inputs of the decay curve: `(head_dim, base, qk, decay_len)`.
type DecayKey = (usize, f64, QkContent, usize);

/// The view: state plus caches (per-pair frequencies and plot series, the decay curve).
#[derive(Default)]
pub struct RopeView {
    pub state: RopeState,
    pairs_key: Option<PairsKey>,
    /// `θ_i`, radians per token.
    inv_freq: Vec<f64>,
    /// `λ_i = 2π/θ_i`, tokens.
    wavelength_len: Vec<f64>,
    /// `λ_i > L_train`.
    never_turn: Vec<bool>,
    /// `(i, log10 λ_i)` for all pairs, for those that turn, and for those that never turn.
    wavelength_line: Vec<PlotPoint>,
    turning_points: Vec<PlotPoint>,
    never_turn_points: Vec<PlotPoint>,
    pairs_error: Option<String>,
    decay_key: Option<DecayKey>,
    decay_points: Vec<PlotPoint>,
    decay_error: Option<String>,
    /// Fractional `m` while playing (the slider holds its rounded value).
    play_pos: f64,
}

impl RopeView {
    pub fn new(state: RopeState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    /// The first computation error, if any.
    pub fn error(&self) -> Option<&str> {
        self.pairs_error.as_deref().or(self.decay_error.as_deref())
    }

    /// "k of d/2 pairs never complete a turn within L_train = …; at m = …, j pairs show angles
    /// never seen in training."
    pub fn summary(&self) -> String {
        self.state.summary()
    }

    /// Side-panel controls. Returns the response of the position (`m`) slider.
    pub fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Query position m").strong());
        let pos_response = ui
            .horizontal(|ui| {
                let (icon, hint) = if s.playing {
                    ("⏸", "Pause the animation")
                } else {
                    ("▶", "Animate m upward (wraps around at the end)")
                };
                if ui.button(icon).on_hover_text(hint).clicked() {
                    s.playing = !s.playing;
                }
                log_slider_ui(ui, &mut s.query_pos, POSITION_RANGE, "tokens")
            })
            .inner;
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut s.train_len, TRAIN_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        ui.label(RichText::new("Head dimension d").strong());
        ui.add(
            egui::Slider::new(&mut s.head_dim, HEAD_DIM_RANGE)
                .step_by(2.0)
                .text("dims"),
        );
        ui.label(RichText::new("RoPE base b").strong());
        ui.add(
            egui::Slider::new(&mut s.base, BASE_RANGE)
                .logarithmic(true)
                .text("base"),
        );
        ui.add_space(6.0);
        ui.label(RichText::new("Decay curve: q and k").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.qk, QkContent::Ones, "all-ones")
                .on_hover_text("q = k = (1, …, 1), as in RoFormer §3.4.3");
            ui.selectable_value(&mut s.qk, QkContent::Random, "random (seeded)")
                .on_hover_text("Seeded standard-normal q and k");
        });
        ui.label(RichText::new("Decay curve: largest distance m − n").strong());
        log_slider_ui(ui, &mut s.decay_len, DECAY_LEN_RANGE, "tokens");
        self.state.sanitize();
        pos_response
    }

    /// Advance the animation, then recompute what changed.
    pub fn update(&mut self, ctx: &egui::Context) {
        self.state.sanitize();
        self.advance_play(ctx);
        let s = &self.state;
        let pairs_key: PairsKey = (s.head_dim, s.base, s.train_len);
        if self.pairs_key != Some(pairs_key) {
            self.recompute_pairs();
            self.pairs_key = Some(pairs_key);
        }
        let s = &self.state;
        let decay_key: DecayKey = (s.head_dim, s.base, s.qk, s.decay_len);
        if self.decay_key != Some(decay_key) {
            match s.decay_curve() {
                Ok(curve) => {
                    self.decay_points = envelope_points(&curve, DECAY_PLOT_BUCKETS);
                    self.decay_error = None;
                }
                Err(e) => {
                    self.decay_points.clear();
                    self.decay_error = Some(e.to_string());
                }
            }
            self.decay_key = Some(decay_key);
        }
    }

    fn advance_play(&mut self, ctx: &egui::Context) {
        if !self.state.playing {
            return;
        }
        // The user may have dragged the slider since the last frame.
        if self.play_pos.round() as usize != self.state.query_pos {
            self.play_pos = self.state.query_pos as f64;
        }
        let dt_s = f64::from(ctx.input(|i| i.stable_dt)).clamp(0.0, 0.1);
        let next = (self.play_pos + 1.0) * (dt_s / PLAY_DOUBLING_S).exp2() - 1.0;
        let max = *POSITION_RANGE.end() as f64;
        self.play_pos = if next > max {
            *POSITION_RANGE.start() as f64
        } else {
            next
        };
        self.state.query_pos = self.play_pos.round() as usize;
        ctx.request_repaint();
    }

    fn recompute_pairs(&mut self) {
        match self.state.inv_freq() {
            Ok(inv_freq) => {
                self.wavelength_len = wavelengths(&inv_freq);
                self.never_turn = self.state.never_turn_pairs(&inv_freq);
                self.inv_freq = inv_freq;
                let point = |(i, lambda): (usize, &f64)| PlotPoint::new(i as f64, lambda.log10());
                self.wavelength_line = self.wavelength_len.iter().enumerate().map(point).collect();
                let (never, turning): (Vec<_>, Vec<_>) = self
                    .wavelength_len
                    .iter()
                    .enumerate()
                    .partition(|(i, _)| self.never_turn.get(*i).copied().unwrap_or(false));
                self.never_turn_points = never.into_iter().map(point).collect();
                self.turning_points = turning.into_iter().map(point).collect();
                self.pairs_error = None;
            }
            Err(e) => {
                self.inv_freq.clear();
                self.wavelength_len.clear();
                self.never_turn.clear();
                self.wavelength_line.clear();
                self.turning_points.clear();
                self.never_turn_points.clear();
                self.pairs_error = Some(e.to_string());
            }
        }
    }

    /// The central area: explanation, summary, clocks, wavelength plot and decay curve.
    pub fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let s = self.state.clone();
        ui.heading("RoPE — every pair of dimensions is a clock");
        ui.label(
            RichText::new(
                "RoPE (Su et al. 2021, “RoFormer”) rotates each pair i of query and key coordinates by the angle \
                 m·θ_i with θ_i = base^(−2i/d); each clock shows that angle at position m, and its shaded arc is \
                 every angle the pair reached in training. Fast pairs sweep full circles within L_train, but slow \
                 pairs whose wavelength 2π/θ_i exceeds L_train only ever saw part of the circle, so past L_train \
                 their hands point at angles the model never saw (warning colour) — why plain RoPE fails to \
                 extrapolate. The score ⟨R(m)q, R(n)k⟩ depends only on m − n and, for aligned q and k, shrinks \
                 as that distance grows (RoFormer's long-term decay).",
            )
            .color(theme.weak_text()),
        );
        if let Some(err) = &self.pairs_error {
            ui.colored_label(theme.error(), format!("Cannot compute the RoPE frequencies: {err}"));
            return;
        }
        let unseen = s.unseen_pairs(&self.inv_freq);
        let any_unseen = unseen.iter().any(|&b| b);
        ui.add_space(4.0);
        ui.label(
            RichText::new(format_summary(&s, &self.never_turn, &unseen))
                .strong()
                .color(if any_unseen { theme.warn() } else { theme.ok() }),
        );
        ui.add_space(4.0);
        let clocks_h = (ui.available_height() - PLOT_HEIGHT_PT - 60.0).max(2.0 * CLOCK_CELL_MIN_PT);
        self.clocks_ui(ui, theme, &unseen, clocks_h);
        ui.add_space(6.0);
        ui.columns(2, |cols| {
            self.wavelength_plot_ui(&mut cols[0], theme);
            self.decay_plot_ui(&mut cols[1], theme);
        });
    }

    /// The grid of `d/2` clocks, sized to fit `height_pt` where possible; hover one for details.
    fn clocks_ui(&self, ui: &mut Ui, theme: ThemeChoice, unseen: &[bool], height_pt: f32) {
        let n = self.inv_freq.len();
        if n == 0 {
            return;
        }
        let width = ui.available_width().max(CLOCK_CELL_MIN_PT);
        let cell = clock_cell_pt(n, width, height_pt);
        let cols = ((width / cell).floor() as usize).max(1);
        let rows = n.div_ceil(cols);
        let (rect, response) = ui.allocate_exact_size(vec2(width, rows as f32 * cell), Sense::hover());
        let painter = ui.painter_at(rect);
        let s = &self.state;
        for (i, &theta) in self.inv_freq.iter().enumerate() {
            let cell_rect = Rect::from_min_size(
                rect.min + vec2((i % cols) as f32 * cell, (i / cols) as f32 * cell),
                vec2(cell, cell),
            );
            let clock = Clock {
                angle_rad: (s.query_pos as f64 * theta) % TAU,
                seen_rad: (s.train_len as f64 * theta).min(TAU),
                unseen: unseen.get(i).copied().unwrap_or(false),
            };
            paint_clock(&painter, cell_rect, i, &clock, theme);
        }
        if let Some(pointer) = response.hover_pos() {
            let col = ((pointer.x - rect.left()) / cell).floor().max(0.0) as usize;
            let row = ((pointer.y - rect.top()) / cell).floor().max(0.0) as usize;
            let i = row * cols + col;
            if col < cols
                && let (Some(&theta), Some(&lambda)) = (self.inv_freq.get(i), self.wavelength_len.get(i))
            {
                let angle = (s.query_pos as f64 * theta) % TAU;
                let seen = s.train_len as f64 * theta;
                let status = if unseen.get(i).copied().unwrap_or(false) {
                    "angle never seen in training"
                } else {
                    "angle seen in training"
                };
                response.on_hover_ui_at_pointer(|ui| {
                    ui.label(RichText::new(format!("pair {i}")).strong());
                    ui.monospace(format!(
                        "θ = {theta:.3e} rad/token\nλ = {lambda:.1} tokens\nturns in L_train: {:.3}\n\
                         angle at m: {angle:.3} rad\nmax angle in training: {:.3} rad",
                        seen / TAU,
                        seen.min(TAU)
                    ));
                    ui.label(status);
                });
            }
        }
    }

    fn wavelength_plot_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let s = &self.state;
        ui.label(RichText::new("Wavelength λ_i = 2π/θ_i of each pair").strong());
        Plot::new("rope_wavelengths")
            .height(PLOT_HEIGHT_PT)
            .x_axis_label("pair i")
            .y_axis_label("log10 λ_i (tokens)")
            .y_axis_formatter(|mark, _range| pow10_label(mark.value))
            .label_formatter(|hover| {
                let p = hover_point(hover);
                Some(format!("pair {:.0}\nλ ≈ {:.1} tokens", p.x, 10f64.powf(p.y)))
            })
            .legend(Legend::default())
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(
                    Line::new("log10 λ_i", PlotPoints::Borrowed(&self.wavelength_line)).color(theme.accent_text()),
                );
                plot.points(
                    Points::new(
                        "completes a turn in L_train",
                        PlotPoints::Borrowed(&self.turning_points),
                    )
                    .color(theme.ok())
                    .radius(2.5),
                );
                plot.points(
                    Points::new(
                        "never completes a turn (λ > L_train)",
                        PlotPoints::Borrowed(&self.never_turn_points),
                    )
                    .color(theme.warn())
                    .radius(3.5),
                );
                plot.hline(
                    HLine::new(format!("L_train = {}", s.train_len), (s.train_len as f64).log10())
                        .color(theme.weak_text())
                        .style(LineStyle::dashed_loose()),
                );
            });
    }

    fn decay_plot_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let s = &self.state;
        let qk = match s.qk {
            QkContent::Ones => "q = k = all-ones",
            QkContent::Random => "random q, k",
        };
        ui.label(RichText::new(format!("Long-term decay: ⟨R(m)q, R(n)k⟩ vs m − n ({qk})")).strong());
        if let Some(err) = &self.decay_error {
            ui.colored_label(theme.error(), format!("Cannot compute the decay curve: {err}"));
            return;
        }
        Plot::new("rope_decay")
            .height(PLOT_HEIGHT_PT)
            .x_axis_label("relative distance m − n (tokens)")
            .y_axis_label("score (no 1/√d)")
            .legend(Legend::default())
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(Line::new("score", PlotPoints::Borrowed(&self.decay_points)).color(theme.accent_text()));
                if s.train_len <= s.decay_len {
                    plot.vline(
                        VLine::new(format!("L_train = {}", s.train_len), s.train_len as f64)
                            .color(theme.weak_text())
                            .style(LineStyle::dashed_loose()),
                    );
                }
                if s.query_pos <= s.decay_len {
                    let color = if s.query_pos > s.train_len {
                        theme.warn()
                    } else {
                        theme.ok()
                    };
                    plot.vline(
                        VLine::new(format!("m = {} (key at n = 0)", s.query_pos), s.query_pos as f64).color(color),
                    );
                }
            });
        if s.train_len > s.decay_len {
            ui.label(
                RichText::new(format!("L_train = {} lies beyond the distances shown.", s.train_len))
                    .small()
                    .color(theme.weak_text()),
            );
        }
    }
}

/// What one clock shows.
struct Clock {
    /// Current angle `m·θ_i mod 2π`, radians.
    angle_rad: f64,
    /// Arc reached in training, `min(2π, L_train·θ_i)`, radians.
    seen_rad: f64,
    /// Whether the current angle was never reached in training.
    unseen: bool,
}

/// Largest cell side (within the clamp) at which `n` clocks fit `width_pt × height_pt`.
fn clock_cell_pt(n: usize, width_pt: f32, height_pt: f32) -> f32 {
    let mut cell = CLOCK_CELL_MAX_PT;
    while cell > CLOCK_CELL_MIN_PT {
        let cols = ((width_pt / cell).floor() as usize).max(1);
        if n.div_ceil(cols) as f32 * cell <= height_pt {
            break;
        }
        cell -= 2.0;
    }
    cell.max(CLOCK_CELL_MIN_PT)
}

/// Point on a circle at `angle_rad`, counter-clockwise from "3 o'clock" (screen y points down).
fn on_circle(center: Pos2, radius: f32, angle_rad: f64) -> Pos2 {
    let (sin, cos) = angle_rad.sin_cos();
    center + vec2(radius * cos as f32, -radius * sin as f32)
}

/// Paints one clock: the seen arc as a filled sector, the dial, a zero tick, the hand and the label.
fn paint_clock(painter: &egui::Painter, cell: Rect, pair: usize, clock: &Clock, theme: ThemeChoice) {
    let status = if clock.unseen { theme.warn() } else { theme.ok() };
    let label_h = (cell.height() * 0.2).clamp(9.0, 12.0);
    let radius = ((cell.height() - label_h) * 0.5 - 3.0).max(4.0);
    let center = pos2(cell.center().x, cell.top() + 2.0 + radius);
    // Seen arc: a triangle fan from the centre (a sector over π is not convex).
    let steps = ((clock.seen_rad / TAU * 48.0).ceil() as u32).max(2);
    let mut mesh = Mesh::default();
    let fill = theme.ok().gamma_multiply(0.3);
    mesh.colored_vertex(center, fill);
    for k in 0..=steps {
        let a = clock.seen_rad * f64::from(k) / f64::from(steps);
        mesh.colored_vertex(on_circle(center, radius, a), fill);
        if k > 0 {
            mesh.add_triangle(0, k, k + 1);
        }
    }
    painter.add(Shape::mesh(mesh));
    painter.circle_stroke(center, radius, Stroke::new(1.0, status));
    painter.line_segment(
        [
            on_circle(center, radius - 3.0, 0.0),
            on_circle(center, radius + 1.0, 0.0),
        ],
        Stroke::new(1.0, theme.weak_text()),
    );
    painter.line_segment(
        [center, on_circle(center, radius * 0.9, clock.angle_rad)],
        Stroke::new(2.0, status),
    );
    painter.circle_filled(center, 1.5, status);
    painter.text(
        pos2(center.x, cell.bottom()),
        Align2::CENTER_BOTTOM,
        pair.to_string(),
        FontId::proportional(label_h),
        theme.weak_text(),
    );
}

/// Axis label for a `log10` value: `10^k` (one decimal when not an integer).
fn pow10_label(log10_value: f64) -> String {
    if (log10_value - log10_value.round()).abs() < 1e-9 {
        format!("10^{}", log10_value.round() as i64)
    } else {
        format!("10^{log10_value:.1}")
    }
}

fn hover_point(hover: &HoverPosition<'_>) -> PlotPoint {
    match hover {
        HoverPosition::NearDataPoint { position, .. } | HoverPosition::Elsewhere { position } => *position,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_clamps_and_notes() {
        let mut s = RopeState {
            query_pos: 1_000_000,
            train_len: 3,
            head_dim: 255,
            base: f64::NAN,
            qk: QkContent::Random,
            decay_len: 0,
            playing: false,
        };
        let notes = s.sanitize();
        assert_eq!(s.query_pos, MAX_LEN);
        assert_eq!(s.train_len, 8);
        assert_eq!(s.head_dim, 256);
        assert_eq!(s.base, 10_000.0);
        assert_eq!(s.decay_len, 16);
        assert_eq!(notes.len(), 5, "{notes:?}");
        for key in ["len=", "train=", "hd=", "dist=", "base="] {
            assert!(notes.iter().any(|n| n.starts_with(key)), "no note for {key}: {notes:?}");
        }
        // Too-small base is clamped (not reset); a valid state is left alone with no notes.
        let mut s = RopeState {
            base: 2.0,
            head_dim: 1000,
            ..RopeState::default()
        };
        s.sanitize();
        assert_eq!((s.base, s.head_dim), (100.0, 256));
        let mut s = RopeState::default();
        assert!(s.sanitize().is_empty());
        assert_eq!(s, RopeState::default());
    }

    #[test]
    fn hash_round_trip_and_bad_values() {
        let original = RopeState {
            query_pos: 12_345,
            train_len: 4096,
            head_dim: 128,
            base: 500_000.5,
            qk: QkContent::Random,
            decay_len: 777,
            playing: false,
        };
        let mut hash = String::new();
        write_hash(&original, &mut hash);
        assert!(hash.starts_with("&len=12345&"), "{hash}");
        let mut read = RopeState::default();
        for pair in hash.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            assert_eq!(read_hash_key(&mut read, k, v), Some(true), "{pair}");
        }
        assert_eq!(read, original);

        let mut s = RopeState::default();
        assert_eq!(read_hash_key(&mut s, "scheme", "rope"), None);
        assert_eq!(read_hash_key(&mut s, "qk", "zeros"), Some(false));
        assert_eq!(read_hash_key(&mut s, "len", "-3"), Some(false));
        assert_eq!(read_hash_key(&mut s, "base", "inf"), Some(false));
        assert_eq!(read_hash_key(&mut s, "hd", "abc"), Some(false));
        assert_eq!(s, RopeState::default(), "invalid values must leave the state unchanged");
    }

    #[test]
    fn unseen_pairs_hand_derived() {
        // d = 8, base 10⁴: θ_i = 10^(−i) = 1, 0.1, 0.01, 0.001. L_train = 100 gives
        // L·θ = 100, 10, 1, 0.1: pairs 0 and 1 exceed 2π ≈ 6.28 (full turns), pairs 2 and 3 do not.
        let mut s = RopeState {
            query_pos: 1000,
            train_len: 100,
            head_dim: 8,
            base: 10_000.0,
            ..RopeState::default()
        };
        let f = s.inv_freq().unwrap_or_default();
        assert_eq!(s.never_turn_pairs(&f), [false, false, true, true]);
        assert_eq!(s.unseen_pairs(&f), [false, false, true, true]);
        assert!(
            s.summary()
                .starts_with("2 of 4 pairs never complete a turn within L_train = 100; at m = 1000, 2 pairs")
        );
        // At or below L_train every angle was seen.
        for m in [0, 50, 100] {
            s.query_pos = m;
            assert_eq!(s.unseen_pairs(&f), [false; 4], "m = {m}");
        }
        s.query_pos = 101;
        assert_eq!(s.unseen_pairs(&f), [false, false, true, true]);
    }

    #[test]
    fn decay_curve_at_distance_zero_is_q_dot_k() {
        let mut s = RopeState {
            head_dim: 16,
            decay_len: 64,
            ..RopeState::default()
        };
        let ones = s.decay_curve().unwrap_or_default();
        assert_eq!(ones.len(), 65);
        // All-ones: ⟨q, k⟩ = d at distance 0, and every other distance scores less.
        assert!((ones[0] - 16.0).abs() < 1e-12, "{}", ones[0]);
        assert!(ones[1..].iter().all(|&v| v < 16.0));
        s.qk = QkContent::Random;
        let random = s.decay_curve().unwrap_or_default();
        let (q, k) = QkContent::Random.vectors(16).unwrap_or_default();
        assert_ne!(q, k);
        let dot: f64 = q.iter().zip(&k).map(|(a, b)| a * b).sum();
        assert!((random[0] - dot).abs() < 1e-9, "{} vs {dot}", random[0]);
        assert_ne!(random[1], ones[1]);
    }

    #[test]
    fn envelope_keeps_extremes_and_bounds_point_count() {
        let values: Vec<f64> = (0..10_000)
            .map(|i| (i as f64 * 2.7).sin() * (1.0 + i as f64 / 1000.0))
            .collect();
        let pts = envelope_points(&values, 100);
        assert!(pts.len() <= 200, "{}", pts.len());
        let max = values.iter().copied().fold(f64::MIN, f64::max);
        let min = values.iter().copied().fold(f64::MAX, f64::min);
        assert!(pts.iter().any(|p| p.y == max) && pts.iter().any(|p| p.y == min));
        assert!(pts.windows(2).all(|w| w[0].x < w[1].x));
        // Short series are kept as they are.
        assert_eq!(envelope_points(&values[..50], 100).len(), 50);
    }

    #[test]
    fn pow10_labels() {
        assert_eq!(pow10_label(3.0), "10^3");
        assert_eq!(pow10_label(-0.0), "10^0");
        assert_eq!(pow10_label(2.5), "10^2.5");
    }
}
