//! View: RoPE context extension. Past the training length `L_train` an unscaled RoPE model meets
//! rotation angles it never saw in training (pairs that had not completed one turn within
//! `L_train`); every extension method trades that off differently.
//!
//! The view shows, per rotation pair `i`: the frequency ratio `θ'_i / θ_i`, the wavelengths
//! before and after, and the "angle coverage" — the angle range seen in training
//! `[0, L_train·θ_i]` against the range reached at the current length — plus the attention maps
//! of plain RoPE and of the method side by side.
//!
//! All maths comes from `crate::pe` (`scaling::rope_inv_freq`, `position_maps::PositionMap`,
//! `diagnostics::{wavelengths, turns_within, unseen_angle_pairs}`) and the maps from
//! `crate::compute::attention_map` (CPU, aggregated to at most [`MAP_SIDE`]² cells). Papers:
//! Chen et al. 2023 (Position Interpolation); bloc97 2023 (NTK-aware); emozilla 2023 (Dynamic
//! NTK); Peng et al. 2023 (YaRN); Meta 2024 (Llama 3); Ding et al. 2024 (LongRoPE); Han et al.
//! 2023 (LM-Infinite); Jin et al. 2024 (SelfExtend); Su 2023 (ReRoPE).

use egui::{RichText, Stroke, Ui};
use egui_plot::{
    Bar, BarChart, GridInput, GridMark, HLine, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoints, Points,
};
use serde::{Deserialize, Serialize};

use crate::compute::attention_map::{self, AttentionMap, MapRequest};
use crate::pe::diagnostics::{turns_within, unseen_angle_pairs, wavelengths};
use crate::pe::{Content, PositionMap, PreparedLogits, RopeScaling, Scheme, rope_inv_freq};
use crate::theme::{Colormap, ThemeChoice};
use crate::widgets::colorbar::colorbar_ui;
use crate::widgets::heatmap::{Aggregate, Axes, Grid, Heatmap};
use crate::widgets::log_slider::log_slider_ui;
use crate::widgets::train_marker::train_marker_ui;

pub const SEQ_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=8192;
pub const TRAIN_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=4096;
pub const HEAD_DIM_RANGE: std::ops::RangeInclusive<usize> = 8..=256;
pub const BASE_RANGE: std::ops::RangeInclusive<f64> = 100.0..=1.0e7;
/// Scale factor `s` (extension ratio).
pub const FACTOR_RANGE: std::ops::RangeInclusive<f64> = 1.0..=64.0;
/// YaRN `β_fast` (turns in `L_train` above which a pair is left alone).
pub const BETA_FAST_RANGE: std::ops::RangeInclusive<f64> = 1.0..=128.0;
/// YaRN `β_slow` (turns in `L_train` below which a pair is fully interpolated).
pub const BETA_SLOW_RANGE: std::ops::RangeInclusive<f64> = 0.25..=64.0;
/// Llama 3 `low_freq_factor`.
pub const LOW_FREQ_FACTOR_RANGE: std::ops::RangeInclusive<f64> = 0.25..=16.0;
/// Llama 3 `high_freq_factor`.
pub const HIGH_FREQ_FACTOR_RANGE: std::ops::RangeInclusive<f64> = 0.5..=64.0;
/// LM-Infinite global (sink) tokens.
pub const N_GLOBAL_RANGE: std::ops::RangeInclusive<usize> = 0..=64;
/// SelfExtend group size `G`.
pub const GROUP_RANGE: std::ops::RangeInclusive<usize> = 1..=64;
/// Any window (LM-Infinite local window, SelfExtend neighbour window, ReRoPE window), in tokens.
pub const WINDOW_RANGE: std::ops::RangeInclusive<usize> = 1..=8192;
/// Largest side of each computed (aggregated) map, in cells.
pub const MAP_SIDE: usize = 256;

pub use crate::pe::extension::{ExtensionMethod, ExtensionParams, longrope_illustrative_factors};

/// The serialisable settings of this view. Method parameters are kept for every method so that
/// switching methods back and forth does not lose them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExtensionState {
    pub method: ExtensionMethod,
    /// Current length `N`, in tokens.
    pub seq_len: usize,
    /// Training length `L_train` (`original_max_position_embeddings`), in tokens.
    pub train_len: usize,
    /// Rotary head dimension `d` (even).
    pub head_dim: usize,
    /// RoPE base `b`.
    pub rope_base: f64,
    /// Scale factor `s` for the frequency-scaling methods.
    pub factor: f64,
    /// YaRN `β_fast`, in turns within `L_train`.
    pub yarn_beta_fast: f64,
    /// YaRN `β_slow`, in turns within `L_train`.
    pub yarn_beta_slow: f64,
    /// Llama 3 `low_freq_factor`.
    pub llama3_low_freq_factor: f64,
    /// Llama 3 `high_freq_factor`.
    pub llama3_high_freq_factor: f64,
    /// LM-Infinite leading tokens every query sees.
    pub lm_n_global: usize,
    /// LM-Infinite local window in tokens; `None` = `L_train`.
    pub lm_local_window_tokens: Option<usize>,
    /// SelfExtend group size `G`.
    pub self_extend_group: usize,
    /// SelfExtend neighbour window `W` in tokens; `None` = `L_train / 4`.
    pub self_extend_window_tokens: Option<usize>,
    /// ReRoPE window `w` in tokens; `None` = `L_train / 2`.
    pub rerope_window_tokens: Option<usize>,
}

impl Default for ExtensionState {
    fn default() -> Self {
        Self {
            method: ExtensionMethod::Pi,
            seq_len: 2048,
            train_len: 512,
            head_dim: 64,
            rope_base: 10_000.0,
            factor: 4.0,
            yarn_beta_fast: 32.0,
            yarn_beta_slow: 1.0,
            llama3_low_freq_factor: 1.0,
            llama3_high_freq_factor: 4.0,
            lm_n_global: 4,
            lm_local_window_tokens: None,
            self_extend_group: 8,
            self_extend_window_tokens: None,
            rerope_window_tokens: None,
        }
    }
}

impl ExtensionState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let mut clamp = |v: &mut usize, r: std::ops::RangeInclusive<usize>, name: &str| {
            let c = (*v).clamp(*r.start(), *r.end());
            if c != *v {
                notes.push(format!("{name}={v} is outside {}…{}; using {c}", r.start(), r.end()));
                *v = c;
            }
        };
        clamp(&mut self.seq_len, SEQ_LEN_RANGE, "len");
        clamp(&mut self.train_len, TRAIN_LEN_RANGE, "train");
        clamp(&mut self.head_dim, HEAD_DIM_RANGE, "hd");
        clamp(&mut self.lm_n_global, N_GLOBAL_RANGE, "global");
        clamp(&mut self.self_extend_group, GROUP_RANGE, "group");
        for (w, name) in [
            (&mut self.lm_local_window_tokens, "lmwin"),
            (&mut self.self_extend_window_tokens, "sewin"),
            (&mut self.rerope_window_tokens, "rrwin"),
        ] {
            if let Some(w) = w {
                clamp(w, WINDOW_RANGE, name);
            }
        }
        if !self.head_dim.is_multiple_of(2) {
            notes.push(format!(
                "hd={} must be even; using {}",
                self.head_dim,
                self.head_dim + 1
            ));
            self.head_dim += 1;
        }
        let defaults = Self::default();
        let mut clamp_f = |v: &mut f64, r: std::ops::RangeInclusive<f64>, default: f64, name: &str| {
            if !v.is_finite() || !r.contains(v) {
                let c = if v.is_finite() {
                    v.clamp(*r.start(), *r.end())
                } else {
                    default
                };
                notes.push(format!("{name}={v} is outside {}…{}; using {c}", r.start(), r.end()));
                *v = c;
            }
        };
        clamp_f(&mut self.rope_base, BASE_RANGE, defaults.rope_base, "base");
        clamp_f(&mut self.factor, FACTOR_RANGE, defaults.factor, "factor");
        clamp_f(
            &mut self.yarn_beta_fast,
            BETA_FAST_RANGE,
            defaults.yarn_beta_fast,
            "bfast",
        );
        clamp_f(
            &mut self.yarn_beta_slow,
            BETA_SLOW_RANGE,
            defaults.yarn_beta_slow,
            "bslow",
        );
        clamp_f(
            &mut self.llama3_low_freq_factor,
            LOW_FREQ_FACTOR_RANGE,
            defaults.llama3_low_freq_factor,
            "lowff",
        );
        clamp_f(
            &mut self.llama3_high_freq_factor,
            HIGH_FREQ_FACTOR_RANGE,
            defaults.llama3_high_freq_factor,
            "highff",
        );
        notes
    }

    /// The method and its parameters as plain data (shared with the Model lab and `poslens eval`).
    pub fn params(&self) -> ExtensionParams {
        ExtensionParams {
            method: self.method,
            factor: self.factor,
            train_len: self.train_len,
            head_dim: self.head_dim,
            yarn_beta_fast: self.yarn_beta_fast,
            yarn_beta_slow: self.yarn_beta_slow,
            llama3_low_freq_factor: self.llama3_low_freq_factor,
            llama3_high_freq_factor: self.llama3_high_freq_factor,
            lm_n_global: self.lm_n_global,
            lm_local_window: self.lm_local_window_tokens,
            self_extend_group: self.self_extend_group,
            self_extend_window: self.self_extend_window_tokens,
            rerope_window: self.rerope_window_tokens,
        }
    }

    /// LM-Infinite local window actually used, in tokens (default `L_train`).
    pub fn lm_local_window(&self) -> usize {
        self.params().lm_local_window()
    }

    /// SelfExtend neighbour window actually used, in tokens (default `L_train / 4`).
    pub fn self_extend_window(&self) -> usize {
        self.params().self_extend_window()
    }

    /// ReRoPE window actually used, in tokens (default `L_train / 2`).
    pub fn rerope_window(&self) -> usize {
        self.params().rerope_window()
    }

    /// The frequency scaling of the chosen method (`None` for the position maps).
    pub fn scaling(&self) -> RopeScaling {
        self.params().scaling()
    }

    /// The position map of the chosen method (`Identity` for the frequency-scaling methods).
    pub fn position_map(&self) -> PositionMap {
        self.params().position_map()
    }

    /// Plain RoPE: unscaled, identity map.
    pub fn scheme_before(&self) -> Scheme {
        Scheme::Rope {
            base: self.rope_base,
            scaling: RopeScaling::None,
            map: PositionMap::Identity,
        }
    }

    /// RoPE with the chosen method.
    pub fn scheme_after(&self) -> Scheme {
        Scheme::Rope {
            base: self.rope_base,
            scaling: self.scaling(),
            map: self.position_map(),
        }
    }

    /// Per-pair diagnostics of this state (cheap: `O(d + N)`).
    pub fn diagnostics(&self) -> Result<ExtensionDiagnostics, String> {
        let n = self.seq_len;
        let train = self.train_len;
        let before = rope_inv_freq(self.head_dim, self.rope_base, &RopeScaling::None, n).map_err(|e| e.to_string())?;
        let after = rope_inv_freq(self.head_dim, self.rope_base, &self.scaling(), n).map_err(|e| e.to_string())?;
        let map = self.position_map();
        map.validate().map_err(|e| e.to_string())?;
        let max_distance = max_effective_distance(&map, n);
        // Length-equivalent reach: distances 0..=D are those of a window of D + 1 tokens.
        let reach_after = max_distance + 1;
        let inv_before = before.inv_freq;
        let inv_after = after.inv_freq;
        let diag = ExtensionDiagnostics {
            freq_ratio: inv_after.iter().zip(&inv_before).map(|(a, b)| a / b).collect(),
            wavelength_before_tokens: wavelengths(&inv_before),
            wavelength_after_tokens: wavelengths(&inv_after),
            seen_turns: turns_within(&inv_before, train),
            reached_turns_before: turns_within(&inv_before, n),
            reached_turns_after: turns_within(&inv_after, reach_after),
            unseen_before: unseen_angle_pairs(&inv_before, train, &inv_before, n),
            unseen_after: unseen_angle_pairs(&inv_before, train, &inv_after, reach_after),
            attention_factor: after.attention_factor,
            max_effective_distance_tokens: max_distance,
            inv_freq_before: inv_before,
            inv_freq_after: inv_after,
        };
        let all_finite = [
            &diag.freq_ratio,
            &diag.wavelength_before_tokens,
            &diag.wavelength_after_tokens,
            &diag.reached_turns_after,
        ]
        .iter()
        .all(|v| v.iter().all(|x| x.is_finite() && *x > 0.0));
        if !all_finite || !diag.attention_factor.is_finite() {
            return Err("these settings overflow the frequencies (try a smaller s or base)".to_owned());
        }
        Ok(diag)
    }

    fn map_request(&self) -> MapRequest {
        MapRequest {
            n: self.seq_len,
            causal: true,
            softmax: true,
            out_side: MAP_SIDE,
            aggregate: Aggregate::Mean,
            train_len: self.train_len,
        }
    }

    fn compute_map(&self, scheme: &Scheme) -> Result<AttentionMap, String> {
        let prepared =
            PreparedLogits::new(scheme, &Content::Identical, self.head_dim, self.seq_len).map_err(|e| e.to_string())?;
        attention_map::compute(&prepared, &self.map_request()).map_err(|e| e.to_string())
    }

    /// Attention map of plain RoPE at length N (softmax, causal, identical tokens).
    pub fn compute_before(&self) -> Result<AttentionMap, String> {
        self.compute_map(&self.scheme_before())
    }

    /// Attention map of the chosen method at length N (softmax, causal, identical tokens).
    pub fn compute_after(&self) -> Result<AttentionMap, String> {
        self.compute_map(&self.scheme_after())
    }
}

/// Largest effective relative distance any visible (query, key) cell uses at length `n`, from
/// [`PositionMap::entry`] of the last query (every supported map is monotone in the query).
pub fn max_effective_distance(map: &PositionMap, n: usize) -> usize {
    let m = n.saturating_sub(1);
    let d = (0..=m)
        .map(|k| map.entry(m, k))
        .filter(|e| e.visible)
        .map(|e| e.relative)
        .fold(0.0_f64, f64::max);
    d.ceil() as usize
}

/// What the charts draw, per rotation pair `i = 0 .. d/2 − 1`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtensionDiagnostics {
    /// `θ_i` of plain RoPE.
    pub inv_freq_before: Vec<f64>,
    /// `θ'_i` of the method (equal to `θ_i` for position maps).
    pub inv_freq_after: Vec<f64>,
    /// `θ'_i / θ_i`.
    pub freq_ratio: Vec<f64>,
    pub wavelength_before_tokens: Vec<f64>,
    pub wavelength_after_tokens: Vec<f64>,
    /// Turns `L_train·θ_i / 2π` completed in training.
    pub seen_turns: Vec<f64>,
    /// Turns `N·θ_i / 2π` reached by plain RoPE at N.
    pub reached_turns_before: Vec<f64>,
    /// Turns `(D + 1)·θ'_i / 2π` reached by the method, `D` its largest effective distance.
    pub reached_turns_after: Vec<f64>,
    /// Pairs seeing angles never seen in training, plain RoPE at N.
    pub unseen_before: Vec<bool>,
    /// Pairs seeing angles never seen in training, with the method.
    pub unseen_after: Vec<bool>,
    /// Multiplies cos and sin (logits scale by its square).
    pub attention_factor: f64,
    /// Largest effective relative distance `D` with the method at N (`N − 1` for scalings).
    pub max_effective_distance_tokens: usize,
}

impl ExtensionDiagnostics {
    pub fn unseen_count_before(&self) -> usize {
        self.unseen_before.iter().filter(|u| **u).count()
    }
    pub fn unseen_count_after(&self) -> usize {
        self.unseen_after.iter().filter(|u| **u).count()
    }
}

/// The one-line summary for `state` given its diagnostics and the two maps' "mass at distance
/// ≥ L_train" (`None` when `N ≤ L_train`).
pub fn summary_text(
    state: &ExtensionState,
    diag: &ExtensionDiagnostics,
    mass_before: Option<f64>,
    mass_after: Option<f64>,
) -> String {
    let pct = |m: Option<f64>| m.map_or_else(|| "n/a".to_owned(), |x| format!("{:.1} %", x * 100.0));
    let mass = if state.seq_len > state.train_len {
        format!("before {}, after {}", pct(mass_before), pct(mass_after))
    } else {
        "n/a (N ≤ L_train)".to_owned()
    };
    format!(
        "{} at N = {}, L_train = {}: pairs seeing unseen angles at N: before {}, after {} (of {}); \
         mass at distance ≥ L_train: {mass}; attention factor {:.3}",
        state.method.title(),
        state.seq_len,
        state.train_len,
        diag.unseen_count_before(),
        diag.unseen_count_after(),
        diag.unseen_before.len(),
        diag.attention_factor
    )
}

/// Append this view's URL keys: `&len=..&method=..&factor=..&train=..&hd=..&base=..` plus the
/// chosen method's own parameters (`bfast`, `bslow` for YaRN; `lowff`, `highff` for Llama 3;
/// `global`, `lmwin` for LM-Infinite; `group`, `sewin` for SelfExtend; `rrwin` for ReRoPE;
/// windows only when set explicitly).
pub fn write_hash(state: &ExtensionState, out: &mut String) {
    use std::fmt::Write as _;
    let s = state;
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "&len={}&method={}&factor={}&train={}&hd={}&base={}",
        s.seq_len,
        s.method.key(),
        s.factor,
        s.train_len,
        s.head_dim,
        s.rope_base
    );
    let window = |out: &mut String, key: &str, w: Option<usize>| {
        if let Some(w) = w {
            let _ = write!(out, "&{key}={w}");
        }
    };
    match s.method {
        ExtensionMethod::Yarn => {
            let _ = write!(out, "&bfast={}&bslow={}", s.yarn_beta_fast, s.yarn_beta_slow);
        }
        ExtensionMethod::Llama3 => {
            let _ = write!(
                out,
                "&lowff={}&highff={}",
                s.llama3_low_freq_factor, s.llama3_high_freq_factor
            );
        }
        ExtensionMethod::LmInfinite => {
            let _ = write!(out, "&global={}", s.lm_n_global);
            window(out, "lmwin", s.lm_local_window_tokens);
        }
        ExtensionMethod::SelfExtend => {
            let _ = write!(out, "&group={}", s.self_extend_group);
            window(out, "sewin", s.self_extend_window_tokens);
        }
        ExtensionMethod::ReRope => window(out, "rrwin", s.rerope_window_tokens),
        ExtensionMethod::Pi | ExtensionMethod::Ntk | ExtensionMethod::DynamicNtk | ExtensionMethod::LongRope => {}
    }
}

/// Read one URL key into `state`. `None`: not this view's key; `Some(true)`: parsed;
/// `Some(false)`: this view's key with an invalid value (state unchanged). Range checks are left
/// to [`ExtensionState::sanitize`]. Windows also accept `auto` (= the default tied to L_train).
pub fn read_hash_key(state: &mut ExtensionState, key: &str, value: &str) -> Option<bool> {
    fn set<T: std::str::FromStr>(slot: &mut T, value: &str) -> bool {
        match value.parse() {
            Ok(v) => {
                *slot = v;
                true
            }
            Err(_) => false,
        }
    }
    fn set_window(slot: &mut Option<usize>, value: &str) -> bool {
        if value == "auto" {
            *slot = None;
            return true;
        }
        match value.parse() {
            Ok(v) => {
                *slot = Some(v);
                true
            }
            Err(_) => false,
        }
    }
    let s = state;
    Some(match key {
        "len" => set(&mut s.seq_len, value),
        "method" => match ExtensionMethod::from_key(value) {
            Some(m) => {
                s.method = m;
                true
            }
            None => false,
        },
        "factor" => set(&mut s.factor, value),
        "train" => set(&mut s.train_len, value),
        "hd" => set(&mut s.head_dim, value),
        "base" => set(&mut s.rope_base, value),
        "bfast" => set(&mut s.yarn_beta_fast, value),
        "bslow" => set(&mut s.yarn_beta_slow, value),
        "lowff" => set(&mut s.llama3_low_freq_factor, value),
        "highff" => set(&mut s.llama3_high_freq_factor, value),
        "global" => set(&mut s.lm_n_global, value),
        "lmwin" => set_window(&mut s.lm_local_window_tokens, value),
        "group" => set(&mut s.self_extend_group, value),
        "sewin" => set_window(&mut s.self_extend_window_tokens, value),
        "rrwin" => set_window(&mut s.rerope_window_tokens, value),
        _ => return None,
    })
}

/// The view: state plus caches.
#[derive(Default)]
pub struct ExtensionView {
    pub state: ExtensionState,
    cached_for: Option<ExtensionState>,
    /// `(N, L_train, d, base bits)` the "before" map was computed for.
    before_key: Option<(usize, usize, usize, u64)>,
    diag: Option<ExtensionDiagnostics>,
    before: Option<AttentionMap>,
    after: Option<AttentionMap>,
    /// Shared colour range of both maps.
    range: (f32, f32),
    heat_before: Heatmap,
    heat_after: Heatmap,
    error: Option<String>,
    /// Time of the last recompute (CPU), in ms.
    pub compute_ms: f32,
}

impl ExtensionView {
    pub fn new(state: ExtensionState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The one-line summary of the last computed state (or why it cannot be computed).
    pub fn summary(&self) -> String {
        if let Some(e) = &self.error {
            return format!("{}: cannot compute: {e}", self.state.method.title());
        }
        match &self.diag {
            Some(diag) => summary_text(
                &self.state,
                diag,
                self.before.as_ref().and_then(|m| m.mass_beyond_train),
                self.after.as_ref().and_then(|m| m.mass_beyond_train),
            ),
            None => format!("{}: not computed yet", self.state.method.title()),
        }
    }

    /// Side-panel controls. Returns the response of the length (N) slider.
    pub fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Method").strong());
        ui.label(RichText::new("Frequency scaling").small());
        ui.horizontal_wrapped(|ui| {
            for m in ExtensionMethod::ALL.into_iter().filter(|m| !m.is_position_map()) {
                ui.selectable_value(&mut s.method, m, m.title());
            }
        });
        ui.label(RichText::new("Position maps (frequencies unchanged)").small());
        ui.horizontal_wrapped(|ui| {
            for m in ExtensionMethod::ALL.into_iter().filter(|m| m.is_position_map()) {
                ui.selectable_value(&mut s.method, m, m.title());
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Sequence length N").strong());
        let len_response = log_slider_ui(ui, &mut s.seq_len, SEQ_LEN_RANGE, "tokens");
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut s.train_len, TRAIN_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        if !s.method.is_position_map() {
            ui.label(RichText::new("Scale factor s").strong());
            ui.horizontal(|ui| {
                ui.add(
                    egui::Slider::new(&mut s.factor, FACTOR_RANGE)
                        .logarithmic(true)
                        .text("s"),
                );
                let fit =
                    (s.seq_len as f64 / s.train_len.max(1) as f64).clamp(*FACTOR_RANGE.start(), *FACTOR_RANGE.end());
                if ui
                    .small_button("N / L_train")
                    .on_hover_text("Set s to the extension ratio N / L_train")
                    .clicked()
                {
                    s.factor = fit;
                }
            });
        }
        match s.method {
            ExtensionMethod::Yarn => {
                ui.add(
                    egui::Slider::new(&mut s.yarn_beta_fast, BETA_FAST_RANGE)
                        .logarithmic(true)
                        .text("β_fast (turns)"),
                );
                ui.add(
                    egui::Slider::new(&mut s.yarn_beta_slow, BETA_SLOW_RANGE)
                        .logarithmic(true)
                        .text("β_slow (turns)"),
                );
            }
            ExtensionMethod::Llama3 => {
                ui.add(
                    egui::Slider::new(&mut s.llama3_low_freq_factor, LOW_FREQ_FACTOR_RANGE)
                        .logarithmic(true)
                        .text("low_freq_factor"),
                );
                ui.add(
                    egui::Slider::new(&mut s.llama3_high_freq_factor, HIGH_FREQ_FACTOR_RANGE)
                        .logarithmic(true)
                        .text("high_freq_factor"),
                );
            }
            ExtensionMethod::LongRope => {
                ui.label(
                    RichText::new("Illustrative factors f_i = 1 + (s − 1)·i/(d/2 − 1), not a searched set.").small(),
                );
            }
            ExtensionMethod::LmInfinite => {
                ui.add(egui::Slider::new(&mut s.lm_n_global, N_GLOBAL_RANGE).text("global tokens"));
                let default = s.train_len;
                window_slider(ui, &mut s.lm_local_window_tokens, default, "local window", "L_train");
            }
            ExtensionMethod::SelfExtend => {
                ui.add(egui::Slider::new(&mut s.self_extend_group, GROUP_RANGE).text("group size G"));
                let default = (s.train_len / 4).max(1);
                window_slider(
                    ui,
                    &mut s.self_extend_window_tokens,
                    default,
                    "neighbour window W",
                    "L_train / 4",
                );
            }
            ExtensionMethod::ReRope => {
                let default = (s.train_len / 2).max(1);
                window_slider(ui, &mut s.rerope_window_tokens, default, "window w", "L_train / 2");
            }
            ExtensionMethod::Pi | ExtensionMethod::Ntk | ExtensionMethod::DynamicNtk => {}
        }
        ui.add_space(6.0);
        ui.label(RichText::new("RoPE base b").strong());
        ui.add(
            egui::Slider::new(&mut s.rope_base, BASE_RANGE)
                .logarithmic(true)
                .text("base"),
        );
        ui.label(RichText::new("Head dimension d").strong());
        ui.add(
            egui::Slider::new(&mut s.head_dim, HEAD_DIM_RANGE)
                .step_by(2.0)
                .text("dims"),
        );
        self.state.sanitize();
        len_response
    }

    /// Recompute when the state changed. The plain-RoPE map is only recomputed when N, L_train,
    /// d or b changed.
    pub fn update(&mut self, ctx: &egui::Context) {
        if self.cached_for.as_ref() == Some(&self.state) {
            return;
        }
        let started = web_time::Instant::now();
        let s = self.state.clone();
        let key = (s.seq_len, s.train_len, s.head_dim, s.rope_base.to_bits());
        let mut errors = Vec::new();
        if self.before_key != Some(key) || self.before.is_none() {
            match s.compute_before() {
                Ok(m) => self.before = Some(m),
                Err(e) => {
                    self.before = None;
                    errors.push(format!("plain RoPE: {e}"));
                }
            }
            self.before_key = Some(key);
        }
        match s.diagnostics() {
            Ok(d) => self.diag = Some(d),
            Err(e) => {
                self.diag = None;
                errors.push(e);
            }
        }
        self.after = None;
        if self.diag.is_some() {
            match s.compute_after() {
                Ok(m) => self.after = Some(m),
                Err(e) => errors.push(e),
            }
        }
        self.error = (!errors.is_empty()).then(|| errors.join("; "));
        if let (Some(b), Some(a)) = (&self.before, &self.after) {
            let lo = b.range.0.min(a.range.0);
            let hi = b.range.1.max(a.range.1);
            self.range = if hi > lo { (lo, hi) } else { (lo, lo + 1e-6) };
            for (heat, map, name) in [
                (&mut self.heat_before, b, "extension_before"),
                (&mut self.heat_after, a, "extension_after"),
            ] {
                let grid = Grid {
                    values: &map.values,
                    rows: map.rows,
                    cols: map.cols,
                };
                heat.set(ctx, name, grid, self.range, Colormap::Viridis, Aggregate::Mean);
            }
        }
        self.compute_ms = started.elapsed().as_secs_f32() * 1000.0;
        self.cached_for = Some(s);
    }

    /// The central area.
    pub fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let s = self.state.clone();
        ui.heading(format!("Context extension — {}", s.method.title()));
        ui.label(
            RichText::new(
                "Past the training length, plain RoPE rotates its slow pairs further than they ever turned in \
                 training: those pairs meet unseen angles. Each method below trades that off differently.",
            )
            .color(theme.weak_text()),
        );
        ui.label(RichText::new(s.method.explanation()).color(theme.weak_text()));
        if let Some(err) = &self.error {
            ui.colored_label(theme.error(), format!("Cannot compute these settings: {err}"));
            return;
        }
        let Some(diag) = self.diag.clone() else {
            return;
        };
        ui.label(RichText::new(self.summary()).strong());
        egui::ScrollArea::vertical().auto_shrink(false).show(ui, |ui| {
            let width = ui.available_width();
            let half = ((width - 16.0) / 2.0).max(200.0);
            ui.horizontal(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(half);
                    ratio_plot(ui, &s, &diag, theme);
                });
                ui.vertical(|ui| {
                    ui.set_width(half);
                    wavelength_plot(ui, &s, &diag, theme);
                });
            });
            ui.add_space(6.0);
            coverage_plot(ui, &s, &diag, theme);
            ui.add_space(6.0);
            self.maps_ui(ui, &s, theme);
        });
    }

    fn maps_ui(&self, ui: &mut Ui, s: &ExtensionState, theme: ThemeChoice) {
        let (Some(before), Some(after)) = (&self.before, &self.after) else {
            return;
        };
        ui.label(
            RichText::new(format!(
                "Attention at N = {} (softmax, causal, identical tokens): plain RoPE | {}",
                s.seq_len,
                s.method.title()
            ))
            .strong(),
        );
        let avail = ui.available_width();
        let side = ((avail - 90.0) / 2.0).clamp(160.0, 420.0);
        let mut hover = None;
        ui.horizontal(|ui| {
            for (heat, map, label) in [
                (&self.heat_before, before, "plain RoPE"),
                (&self.heat_after, after, "method"),
            ] {
                let grid = Grid {
                    values: &map.values,
                    rows: map.rows,
                    cols: map.cols,
                };
                let axes = Axes {
                    row_label: "query m ↓",
                    col_label: "key n →",
                    rows: map.n,
                    cols: map.n,
                };
                let (plot, h) = heat.ui(ui, egui::vec2(side, side), grid, &axes);
                if let Some(h) = h {
                    hover = Some((label, h));
                }
                train_marker_ui(ui, plot, s.train_len, map.n, theme.warn());
            }
            colorbar_ui(ui, side, self.range, Colormap::Viridis, "weight");
        });
        ui.horizontal_wrapped(|ui| {
            match hover {
                Some((label, h)) => {
                    ui.monospace(format!("{label}: query {}, key {}: {:.5}", h.row, h.col, h.value));
                }
                None => {
                    ui.label(RichText::new("Hover a map to read (query, key, weight).").color(theme.weak_text()));
                }
            }
            if before.n > before.rows {
                ui.separator();
                ui.label(
                    RichText::new(format!(
                        "{0}×{0} maps shown as {1}×{1} block means",
                        before.n, before.rows
                    ))
                    .color(theme.warn()),
                );
            }
            ui.separator();
            ui.label(RichText::new(format!("computed in {:.0} ms", self.compute_ms)).color(theme.weak_text()));
        });
    }
}

/// A window slider for an optional window (`None` = the default tied to L_train).
fn window_slider(ui: &mut Ui, value: &mut Option<usize>, default_tokens: usize, label: &str, default_name: &str) {
    let mut v = value.unwrap_or(default_tokens);
    ui.horizontal(|ui| {
        let r = ui.add(egui::Slider::new(&mut v, WINDOW_RANGE).logarithmic(true).text(label));
        if r.changed() {
            *value = Some(v);
        }
        if value.is_some() {
            if ui
                .small_button("auto")
                .on_hover_text(format!("Back to the default, {default_name}"))
                .clicked()
            {
                *value = None;
            }
        } else {
            ui.label(RichText::new(format!("= {default_name}")).small());
        }
    });
}

const PLOT_HEIGHT_PT: f32 = 200.0;

/// Marks at every integer (or every k-th) of a log10 axis.
fn log10_spacer(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let step = ((hi - lo) / 8.0).ceil().max(1.0);
    let start = (lo / step).ceil() as i64;
    let end = (hi / step).floor() as i64;
    (start..=end)
        .map(|k| GridMark {
            value: k as f64 * step,
            step_size: step,
        })
        .collect()
}

/// `10^k` label for integer `k`, empty otherwise.
fn pow10_label(v: f64) -> String {
    if (v - v.round()).abs() > 1e-9 {
        return String::new();
    }
    let k = v.round() as i64;
    let sup: String = k
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect();
    format!("10{sup}")
}

/// θ'_i / θ_i per pair.
fn ratio_plot(ui: &mut Ui, s: &ExtensionState, diag: &ExtensionDiagnostics, theme: ThemeChoice) {
    ui.label(RichText::new("Frequency ratio θ'_i / θ_i per pair").strong());
    let pts: Vec<[f64; 2]> = diag
        .freq_ratio
        .iter()
        .enumerate()
        .map(|(i, r)| [i as f64, *r])
        .collect();
    Plot::new("extension_ratio")
        .height(PLOT_HEIGHT_PT)
        .x_axis_label("pair i (fast → slow)")
        .y_axis_label("θ'/θ")
        .include_y(0.0)
        .include_y(1.05)
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.line(Line::new("θ'/θ", PlotPoints::from(pts.clone())).color(theme.accent_text()));
            plot.points(
                Points::new("θ'/θ", PlotPoints::from(pts))
                    .color(theme.accent_text())
                    .radius(2.0),
            );
            if !s.method.is_position_map() {
                plot.hline(
                    HLine::new("1/s", 1.0 / s.factor)
                        .color(theme.weak_text())
                        .style(LineStyle::dashed_loose()),
                );
            }
        });
    if s.method.is_position_map() {
        ui.label(
            RichText::new("A position map leaves every frequency unchanged (ratio 1); it changes distances instead.")
                .small()
                .color(theme.weak_text()),
        );
    }
}

/// Wavelengths before/after, log10 axis, with L_train and N marked.
fn wavelength_plot(ui: &mut Ui, s: &ExtensionState, diag: &ExtensionDiagnostics, theme: ThemeChoice) {
    ui.label(RichText::new("Wavelength λ_i = 2π/θ_i per pair (tokens)").strong());
    let series = |v: &[f64]| -> Vec<[f64; 2]> { v.iter().enumerate().map(|(i, w)| [i as f64, w.log10()]).collect() };
    let before = series(&diag.wavelength_before_tokens);
    let after = series(&diag.wavelength_after_tokens);
    Plot::new("extension_wavelength")
        .height(PLOT_HEIGHT_PT)
        .x_axis_label("pair i")
        .y_axis_label("λ (tokens)")
        .y_grid_spacer(log10_spacer)
        .y_axis_formatter(|mark, _| pow10_label(mark.value))
        .label_formatter(|pos| {
            let (name, p) = match pos {
                HoverPosition::NearDataPoint {
                    plot_name, position, ..
                } => (*plot_name, position),
                HoverPosition::Elsewhere { position } => ("", position),
            };
            Some(format!("{name}\npair {:.0}\nλ = {:.4} tokens", p.x, 10f64.powf(p.y)))
        })
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.line(
                Line::new("plain RoPE", PlotPoints::from(before))
                    .color(theme.weak_text())
                    .style(LineStyle::dashed_dense()),
            );
            plot.line(Line::new(s.method.title(), PlotPoints::from(after)).color(theme.accent_text()));
            plot.hline(HLine::new("L_train", (s.train_len as f64).log10()).color(theme.warn()));
            plot.hline(
                HLine::new("N", (s.seq_len as f64).log10())
                    .color(theme.error())
                    .style(LineStyle::dashed_loose()),
            );
        });
}

/// Angle coverage per pair in turns (log10 axis, clipped at one full turn).
fn coverage_plot(ui: &mut Ui, s: &ExtensionState, diag: &ExtensionDiagnostics, theme: ThemeChoice) {
    let reach = if s.method.is_position_map() {
        format!("max effective distance {} · θ_i", diag.max_effective_distance_tokens)
    } else {
        "N · θ'_i".to_owned()
    };
    ui.label(
        RichText::new(format!(
            "Angle coverage per pair, in turns: seen in training [0, L_train·θ_i] vs reached at N [0, {reach}]"
        ))
        .strong(),
    );
    let clip = |t: f64| t.min(1.0).log10();
    let floor = diag
        .seen_turns
        .iter()
        .chain(&diag.reached_turns_after)
        .chain(&diag.reached_turns_before)
        .map(|&t| clip(t))
        .fold(0.0_f64, f64::min)
        .floor()
        .max(-15.0)
        - 0.2;
    let y = |t: f64| clip(t).max(floor);
    let seen_fill = theme.ok().gamma_multiply(0.45);
    let ood_fill = theme.error().gamma_multiply(0.8);
    let seen: Vec<Bar> = diag
        .seen_turns
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            Bar::new(i as f64, y(t) - floor)
                .base_offset(floor)
                .width(0.7)
                .fill(seen_fill)
                .stroke(Stroke::new(1.0, theme.ok()))
        })
        .collect();
    let ood: Vec<Bar> = diag
        .seen_turns
        .iter()
        .zip(&diag.reached_turns_after)
        .enumerate()
        .filter(|(i, _)| diag.unseen_after.get(*i).copied().unwrap_or(false))
        .map(|(i, (&a, &b))| {
            Bar::new(i as f64, (y(b) - y(a)).max(0.0))
                .base_offset(y(a))
                .width(0.7)
                .fill(ood_fill)
                .stroke(Stroke::new(1.0, theme.error()))
        })
        .collect();
    let pts = |v: &[f64]| -> Vec<[f64; 2]> { v.iter().enumerate().map(|(i, &t)| [i as f64, y(t)]).collect() };
    let reached_before = pts(&diag.reached_turns_before);
    let reached_after = pts(&diag.reached_turns_after);
    Plot::new("extension_coverage")
        .height(PLOT_HEIGHT_PT + 20.0)
        .x_axis_label("pair i (fast → slow)")
        .y_axis_label("turns (angle / 2π)")
        .y_grid_spacer(log10_spacer)
        .y_axis_formatter(|mark, _| pow10_label(mark.value))
        .include_y(0.1)
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.bar_chart(
                BarChart::new("seen in training", seen)
                    .color(theme.ok())
                    .element_formatter(Box::new(|bar, _| {
                        let top = bar.base_offset.unwrap_or(0.0) + bar.value;
                        format!("pair {:.0}: seen up to {:.3e} turns", bar.argument, 10f64.powf(top))
                    })),
            );
            plot.bar_chart(
                BarChart::new("unseen at N (out of distribution)", ood)
                    .color(theme.error())
                    .element_formatter(Box::new(|bar, _| {
                        let lo = bar.base_offset.unwrap_or(0.0);
                        format!(
                            "pair {:.0}: unseen {:.3e} … {:.3e} turns",
                            bar.argument,
                            10f64.powf(lo),
                            10f64.powf(lo + bar.value)
                        )
                    })),
            );
            plot.points(
                Points::new("reached by plain RoPE", PlotPoints::from(reached_before))
                    .color(theme.weak_text())
                    .filled(false)
                    .radius(3.0),
            );
            plot.points(
                Points::new(
                    format!("reached with {}", s.method.title()),
                    PlotPoints::from(reached_after),
                )
                .color(theme.accent_text())
                .radius(2.5),
            );
            plot.hline(
                HLine::new("one full turn: every angle seen", 0.0)
                    .color(theme.weak_text())
                    .style(LineStyle::dashed_loose()),
            );
        });
    ui.label(
        RichText::new(
            "Pairs that complete a full turn within L_train have seen every angle (bars reach the top line); the \
             red part is the angle range reached at N that training never showed.",
        )
        .small()
        .color(theme.weak_text()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_into(hash: &str, state: &mut ExtensionState) {
        for pair in hash.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            assert_eq!(read_hash_key(state, k, v), Some(true), "key {k}={v}");
        }
    }

    #[test]
    fn sanitize_clamps_with_notes() {
        let mut s = ExtensionState {
            seq_len: 100_000,
            train_len: 2,
            head_dim: 7,
            rope_base: f64::NAN,
            factor: 0.5,
            yarn_beta_slow: f64::INFINITY,
            self_extend_group: 0,
            rerope_window_tokens: Some(0),
            ..ExtensionState::default()
        };
        let notes = s.sanitize();
        assert_eq!(s.seq_len, 8192);
        assert_eq!(s.train_len, 8);
        assert_eq!(s.head_dim, 8);
        assert_eq!(s.rope_base, 10_000.0);
        assert_eq!(s.factor, 1.0);
        assert_eq!(s.yarn_beta_slow, 1.0);
        assert_eq!(s.self_extend_group, 1);
        assert_eq!(s.rerope_window_tokens, Some(1));
        for key in [
            "len=", "train=", "hd=", "base=", "factor=", "bslow=", "group=", "rrwin=",
        ] {
            assert!(notes.iter().any(|n| n.starts_with(key)), "no note for {key}: {notes:?}");
        }
        // A valid state is left alone, without notes.
        let mut ok = ExtensionState::default();
        assert!(ok.sanitize().is_empty());
        assert_eq!(ok, ExtensionState::default());
    }

    #[test]
    fn hash_round_trips_for_every_method() {
        for method in ExtensionMethod::ALL {
            let state = ExtensionState {
                method,
                seq_len: 3000,
                train_len: 700,
                head_dim: 96,
                rope_base: 500_000.0,
                factor: 2.5,
                yarn_beta_fast: if method == ExtensionMethod::Yarn { 16.0 } else { 32.0 },
                yarn_beta_slow: if method == ExtensionMethod::Yarn { 0.5 } else { 1.0 },
                llama3_low_freq_factor: if method == ExtensionMethod::Llama3 { 2.0 } else { 1.0 },
                llama3_high_freq_factor: if method == ExtensionMethod::Llama3 { 8.0 } else { 4.0 },
                lm_n_global: if method == ExtensionMethod::LmInfinite { 9 } else { 4 },
                lm_local_window_tokens: (method == ExtensionMethod::LmInfinite).then_some(300),
                self_extend_group: if method == ExtensionMethod::SelfExtend { 4 } else { 8 },
                self_extend_window_tokens: (method == ExtensionMethod::SelfExtend).then_some(64),
                rerope_window_tokens: (method == ExtensionMethod::ReRope).then_some(200),
            };
            let mut hash = String::new();
            write_hash(&state, &mut hash);
            assert!(hash.contains(&format!("&method={}", method.key())), "{hash}");
            let mut back = ExtensionState::default();
            parse_into(&hash, &mut back);
            assert_eq!(back, state, "{hash}");
        }
    }

    #[test]
    fn hash_keys_reject_bad_values_and_ignore_foreign_keys() {
        let mut s = ExtensionState::default();
        assert_eq!(read_hash_key(&mut s, "method", "bogus"), Some(false));
        assert_eq!(read_hash_key(&mut s, "len", "abc"), Some(false));
        assert_eq!(read_hash_key(&mut s, "rrwin", "-1"), Some(false));
        assert_eq!(read_hash_key(&mut s, "scheme", "rope"), None);
        assert_eq!(s, ExtensionState::default());
        assert_eq!(read_hash_key(&mut s, "rrwin", "12"), Some(true));
        assert_eq!(read_hash_key(&mut s, "rrwin", "auto"), Some(true));
        assert_eq!(s.rerope_window_tokens, None);
    }

    #[test]
    fn pi_with_factor_n_over_l_removes_every_unseen_pair() {
        // d = 64, b = 10⁴, L = 512: pair i never completes a turn iff 512·10^(−4i/32) < 2π,
        // i.e. i ≥ 16 (θ_16 = 0.01 → 5.12 rad; θ_15 ≈ 0.01334 → 6.83 rad). All 16 of them
        // reach further at N = 2048 unscaled; PI with s = 4 reaches exactly L·θ_i.
        let s = ExtensionState {
            method: ExtensionMethod::Pi,
            seq_len: 2048,
            train_len: 512,
            factor: 4.0,
            ..ExtensionState::default()
        };
        let d = s.diagnostics().expect("valid");
        assert_eq!(d.unseen_count_before(), 16);
        assert!(d.unseen_before[16..].iter().all(|u| *u) && d.unseen_before[..16].iter().all(|u| !*u));
        assert_eq!(d.unseen_count_after(), 0);
        assert!(d.freq_ratio.iter().all(|r| (r - 0.25).abs() < 1e-12));
        assert_eq!(d.attention_factor, 1.0);
        // A smaller factor leaves some pairs unseen again.
        let s2 = ExtensionState {
            factor: 2.0,
            ..s.clone()
        };
        assert_eq!(s2.diagnostics().expect("valid").unseen_count_after(), 16);
        let text = summary_text(&s, &d, Some(0.5), Some(0.25));
        assert!(text.contains("before 16, after 0 (of 32)"), "{text}");
        assert!(text.contains("before 50.0 %, after 25.0 %"), "{text}");
    }

    #[test]
    fn lm_infinite_without_globals_puts_no_mass_beyond_l_train() {
        // Local window = L_train hides every key at distance ≥ L_train (no global tokens), so
        // the method's mass there is exactly 0, while plain RoPE puts some mass there.
        let s = ExtensionState {
            method: ExtensionMethod::LmInfinite,
            seq_len: 64,
            train_len: 16,
            head_dim: 16,
            lm_n_global: 0,
            ..ExtensionState::default()
        };
        let before = s.compute_before().expect("before");
        let after = s.compute_after().expect("after");
        let mb = before.mass_beyond_train.expect("N > L");
        assert!(mb > 0.01, "{mb}");
        assert_eq!(after.mass_beyond_train, Some(0.0));
        let d = s.diagnostics().expect("valid");
        assert_eq!(d.max_effective_distance_tokens, 15);
        assert_eq!(d.unseen_count_after(), 0);
        assert!(d.unseen_count_before() > 0);
        assert!(d.freq_ratio.iter().all(|r| *r == 1.0));
    }

    #[test]
    fn position_map_distances_match_hand_values() {
        // ReRoPE w = L/2 = 8 at N = 64: largest distance 8. SelfExtend G = 8, W = L/4 = 4 at
        // N = 64: ⌊63/8⌋ + 4 − ⌊4/8⌋ − 0 = 11.
        let base = ExtensionState {
            seq_len: 64,
            train_len: 16,
            head_dim: 16,
            ..ExtensionState::default()
        };
        let rr = ExtensionState {
            method: ExtensionMethod::ReRope,
            ..base.clone()
        };
        assert_eq!(rr.diagnostics().expect("rerope").max_effective_distance_tokens, 8);
        let se = ExtensionState {
            method: ExtensionMethod::SelfExtend,
            ..base.clone()
        };
        assert_eq!(se.diagnostics().expect("self-extend").max_effective_distance_tokens, 11);
        let pi = ExtensionState {
            method: ExtensionMethod::Pi,
            ..base
        };
        assert_eq!(pi.diagnostics().expect("pi").max_effective_distance_tokens, 63);
    }

    #[test]
    fn every_method_builds_for_default_parameters() {
        for head_dim in [8, 64, 256] {
            for train_len in [8, 512, 4096] {
                for method in ExtensionMethod::ALL {
                    let mut s = ExtensionState {
                        method,
                        head_dim,
                        train_len,
                        seq_len: (4 * train_len).min(8192),
                        ..ExtensionState::default()
                    };
                    assert!(s.sanitize().is_empty(), "{method:?} d={head_dim} L={train_len}");
                    let d = s
                        .diagnostics()
                        .unwrap_or_else(|e| panic!("{method:?} d={head_dim} L={train_len}: {e}"));
                    assert_eq!(d.freq_ratio.len(), head_dim / 2);
                    assert!(d.attention_factor.is_finite() && d.attention_factor >= 1.0);
                    // Every method except the untouched frequencies never speeds a pair up.
                    assert!(d.freq_ratio.iter().all(|r| *r > 0.0 && *r <= 1.0 + 1e-12), "{method:?}");
                    // Building the prepared logits validates scaling and map (small N: speed).
                    s.seq_len = (2 * train_len).min(512);
                    PreparedLogits::new(&s.scheme_after(), &Content::Identical, head_dim, s.seq_len)
                        .unwrap_or_else(|e| panic!("{method:?} d={head_dim} L={train_len}: {e}"));
                }
            }
        }
    }

    #[test]
    fn bad_combinations_are_reported_not_panicking() {
        let s = ExtensionState {
            method: ExtensionMethod::Yarn,
            yarn_beta_fast: 2.0,
            yarn_beta_slow: 4.0,
            ..ExtensionState::default()
        };
        assert!(s.diagnostics().is_err());
        let s = ExtensionState {
            method: ExtensionMethod::Llama3,
            llama3_low_freq_factor: 8.0,
            llama3_high_freq_factor: 2.0,
            ..ExtensionState::default()
        };
        assert!(s.diagnostics().is_err());
    }

    #[test]
    fn view_draws_headless_for_every_method_and_reports_bad_combos() {
        let ctx = egui::Context::default();
        for method in ExtensionMethod::ALL {
            let mut view = ExtensionView::new(ExtensionState {
                method,
                seq_len: 96,
                train_len: 32,
                head_dim: 16,
                ..ExtensionState::default()
            });
            for theme in [ThemeChoice::Dark, ThemeChoice::Light] {
                let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
                    let _ = view.controls_ui(ui);
                    view.update(ui.ctx());
                    view.ui(ui, theme);
                });
                // Headless: no renderer applies the texture uploads.
                out.textures_delta.clear();
            }
            assert!(view.error().is_none(), "{method:?}: {:?}", view.error());
            assert!(
                view.summary().contains("pairs seeing unseen angles"),
                "{}",
                view.summary()
            );
        }
        let mut bad = ExtensionView::new(ExtensionState {
            method: ExtensionMethod::Yarn,
            yarn_beta_fast: 2.0,
            yarn_beta_slow: 4.0,
            seq_len: 64,
            ..ExtensionState::default()
        });
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
            bad.update(ui.ctx());
            bad.ui(ui, ThemeChoice::Dark);
        });
        // Headless: no renderer applies the texture uploads.
        out.textures_delta.clear();
        assert!(
            bad.error().is_some_and(|e| e.contains("beta_fast")),
            "{:?}",
            bad.error()
        );
        assert!(bad.summary().contains("cannot compute"));
    }

    #[test]
    fn longrope_factors_are_monotone_from_one_to_s() {
        let f = longrope_illustrative_factors(64, 4.0);
        assert_eq!(f.len(), 32);
        assert_eq!(f[0], 1.0);
        assert!((f[31] - 4.0).abs() < 1e-12);
        assert!(f.windows(2).all(|w| w[1] > w[0]));
    }

    #[test]
    fn log_axis_labels() {
        assert_eq!(pow10_label(3.0), "10³");
        assert_eq!(pow10_label(-12.0), "10⁻¹²");
        assert_eq!(pow10_label(0.5), "");
        let marks = log10_spacer(GridInput {
            bounds: (-0.5, 3.2),
            base_step_size: 0.01,
        });
        assert_eq!(
            marks.iter().map(|m| m.value).collect::<Vec<_>>(),
            vec![0.0, 1.0, 2.0, 3.0]
        );
    }
}
