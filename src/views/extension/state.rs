//! The Context-extension view's state, its URL keys and the per-pair diagnostics it draws.

use serde::{Deserialize, Serialize};

use crate::analysis::attention_map::{self, AttentionMap, MapRequest};
use crate::analysis::grid::Aggregate;
use crate::pe::diagnostics::{turns_within, unseen_angle_pairs, wavelengths};
use crate::pe::{Content, PeError, PositionMap, PreparedLogits, RopeScaling, Scheme, rope_inv_freq};

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

/// Giraffe power scaling exponent `k`.
pub const POWER_RANGE: std::ops::RangeInclusive<f64> = 0.0..=8.0;
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
    /// Giraffe power scaling exponent `k`.
    pub giraffe_power: f64,
}

impl Default for ExtensionState {
    /// Every method parameter comes from [`ExtensionParams::new`], the one default set that the
    /// Model lab and `poslens eval` use too (a test holds them together).
    fn default() -> Self {
        let p = ExtensionParams::new(ExtensionMethod::Pi, 4.0, 512, 64);
        Self {
            method: p.method,
            seq_len: 2048,
            train_len: p.train_len,
            head_dim: p.head_dim,
            rope_base: 10_000.0,
            factor: p.factor,
            yarn_beta_fast: p.yarn_beta_fast,
            yarn_beta_slow: p.yarn_beta_slow,
            llama3_low_freq_factor: p.llama3_low_freq_factor,
            llama3_high_freq_factor: p.llama3_high_freq_factor,
            lm_n_global: p.lm_n_global,
            lm_local_window_tokens: p.lm_local_window,
            self_extend_group: p.self_extend_group,
            self_extend_window_tokens: p.self_extend_window,
            rerope_window_tokens: p.rerope_window,
            giraffe_power: p.giraffe_power,
        }
    }
}

impl ExtensionState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let mut clamp = |v: &mut usize, r: std::ops::RangeInclusive<usize>, name: &str| {
            crate::views::clamp_noted(v, r, name, &mut notes);
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
        crate::views::even_noted(&mut self.head_dim, "hd", &mut notes);
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
        clamp_f(&mut self.giraffe_power, POWER_RANGE, defaults.giraffe_power, "power");
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

    /// The method's trajectory θ′_i(s)/θ_i as the scale factor sweeps `scales` (CLEX, Chen et
    /// al. 2023, learns such a trajectory; the closed-form methods each follow a fixed one), for
    /// the pairs `pairs`; one row per pair. Dynamic NTK and LongRoPE are read at N = s·L_train.
    pub fn trajectory(&self, pairs: &[usize], scales: &[f64]) -> Result<Vec<Vec<f64>>, PeError> {
        let plain = crate::pe::rope::default_inv_freq(self.head_dim, self.rope_base)?;
        let mut rows = vec![Vec::with_capacity(scales.len()); pairs.len()];
        for &sc in scales {
            let p = ExtensionParams {
                factor: sc,
                ..self.params()
            };
            let seq = (sc * self.train_len as f64).round() as usize;
            let f = crate::pe::rope_inv_freq(self.head_dim, self.rope_base, &p.scaling(), seq)?;
            for (row, &i) in rows.iter_mut().zip(pairs) {
                row.push(f.inv_freq.get(i).zip(plain.get(i)).map_or(1.0, |(a, b)| a / b));
            }
        }
        Ok(rows)
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
            giraffe_power: self.giraffe_power,
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
    pub fn diagnostics(&self) -> Result<ExtensionDiagnostics, PeError> {
        let n = self.seq_len;
        let train = self.train_len;
        let before = rope_inv_freq(self.head_dim, self.rope_base, &RopeScaling::None, n)?;
        let after = rope_inv_freq(self.head_dim, self.rope_base, &self.scaling(), n)?;
        let map = self.position_map();
        map.validate()?;
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
        // Every value finite and positive — except a pair whose frequency a method sets to
        // exactly 0 (Giraffe's truncated basis): ratio 0, no turns, an infinite wavelength.
        let ok = |i: usize| {
            let zeroed = diag.inv_freq_after[i] == 0.0;
            let pos = |x: f64| x.is_finite() && x > 0.0;
            pos(diag.wavelength_before_tokens[i])
                && if zeroed {
                    diag.freq_ratio[i] == 0.0 && diag.reached_turns_after[i] == 0.0
                } else {
                    pos(diag.freq_ratio[i]) && pos(diag.wavelength_after_tokens[i]) && pos(diag.reached_turns_after[i])
                }
        };
        let all_finite = (0..diag.freq_ratio.len()).all(ok);
        if !all_finite || !diag.attention_factor.is_finite() {
            return Err(PeError::NonFinite {
                what: "frequencies of these settings",
                detail: "they overflow; try a smaller s or base".to_owned(),
            });
        }
        Ok(diag)
    }

    /// What each map computes.
    pub fn map_request(&self) -> MapRequest {
        MapRequest {
            n: self.seq_len,
            causal: true,
            softmax: true,
            out_side: MAP_SIDE,
            aggregate: Aggregate::Mean,
            train_len: self.train_len,
        }
    }

    /// Prepared logits of `scheme` at length N with identical tokens.
    pub fn prepare(&self, scheme: &Scheme) -> Result<PreparedLogits, PeError> {
        PreparedLogits::new(scheme, &Content::Identical, self.head_dim, self.seq_len)
    }

    fn compute_map(&self, scheme: &Scheme) -> Result<AttentionMap, PeError> {
        attention_map::compute(&self.prepare(scheme)?, &self.map_request())
    }

    /// Attention map of plain RoPE at length N (softmax, causal, identical tokens; CPU).
    pub fn compute_before(&self) -> Result<AttentionMap, PeError> {
        self.compute_map(&self.scheme_before())
    }

    /// Attention map of the chosen method at length N (softmax, causal, identical tokens; CPU).
    pub fn compute_after(&self) -> Result<AttentionMap, PeError> {
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

impl ExtensionState {
    /// Append this view's URL keys: `&len=..&method=..&factor=..&train=..&hd=..&base=..` plus the
    /// chosen method's own parameters (`bfast`, `bslow` for YaRN; `lowff`, `highff` for Llama 3;
    /// `global`, `lmwin` for LM-Infinite; `group`, `sewin` for SelfExtend; `rrwin` for ReRoPE;
    /// windows only when set explicitly).
    pub fn write_hash(&self, out: &mut String) {
        let state = self;
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
            ExtensionMethod::GiraffePower => {
                let _ = write!(out, "&power={}", s.giraffe_power);
            }
            ExtensionMethod::Pi
            | ExtensionMethod::Ntk
            | ExtensionMethod::DynamicNtk
            | ExtensionMethod::LongRope
            | ExtensionMethod::Abf
            | ExtensionMethod::GiraffeTruncated => {}
        }
    }

    /// Read one URL key into `state`. `None`: not this view's key; `Some(true)`: parsed;
    /// `Some(false)`: this view's key with an invalid value (state unchanged). Range checks are left
    /// to [`ExtensionState::sanitize`]. Windows also accept `auto` (= the default tied to L_train).
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        let state = self;
        use crate::views::parse_into as set;
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
            "power" => set(&mut s.giraffe_power, value),
            _ => return None,
        })
    }
}
