//! Context-extension methods for RoPE as data: which method, its parameters, and the frequency
//! scaling ([`RopeScaling`]) plus position map ([`PositionMap`]) it amounts to. Shared by the
//! Context-extension view, the Model lab and `poslens eval`, so all three apply a method alike.
//!
//! Papers: Chen et al. 2023 (Position Interpolation); bloc97 2023 (NTK-aware); emozilla 2023
//! (Dynamic NTK); Peng et al. 2023 (YaRN); Meta 2024 (Llama 3); Ding et al. 2024 (LongRoPE);
//! Han et al. 2023 (LM-Infinite); Jin et al. 2024 (SelfExtend); Su 2023 (ReRoPE); Xiong et al.
//! 2023 (ABF); Pal et al. 2023 (Giraffe power scaling and truncated basis).

use serde::{Deserialize, Serialize};

use super::{PositionMap, RopeScaling, YarnParams};

/// Which context-extension method is shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExtensionMethod {
    /// Position Interpolation — Chen, Wong, Chen & Tian 2023.
    #[default]
    Pi,
    /// NTK-aware base change — bloc97 2023.
    Ntk,
    /// Dynamic NTK — emozilla 2023.
    DynamicNtk,
    /// YaRN — Peng, Quesnelle, Fan & Shippole 2023.
    Yarn,
    /// Llama 3 banded scaling — Meta 2024, "The Llama 3 Herd of Models".
    Llama3,
    /// LongRoPE per-pair factors — Ding et al. 2024 (factors here are illustrative).
    LongRope,
    /// LM-Infinite Λ-mask with distance cap — Han et al. 2023 (position map).
    LmInfinite,
    /// SelfExtend grouped attention — Jin et al. 2024 (position map).
    SelfExtend,
    /// ReRoPE distance clipping — Su 2023 (position map).
    ReRope,
    /// Adjusted base frequency — Xiong et al. 2023 (base × s; for continued pre-training).
    Abf,
    /// Giraffe power scaling — Pal et al. 2023.
    GiraffePower,
    /// Giraffe truncated basis — Pal et al. 2023 (thresholds approximate).
    GiraffeTruncated,
}

impl ExtensionMethod {
    pub const ALL: [ExtensionMethod; 12] = [
        Self::Pi,
        Self::Ntk,
        Self::DynamicNtk,
        Self::Yarn,
        Self::Llama3,
        Self::LongRope,
        Self::Abf,
        Self::GiraffePower,
        Self::GiraffeTruncated,
        Self::LmInfinite,
        Self::SelfExtend,
        Self::ReRope,
    ];

    /// The `method=` value of the URL hash.
    pub fn key(self) -> &'static str {
        match self {
            Self::Pi => "pi",
            Self::Ntk => "ntk",
            Self::DynamicNtk => "dynamic",
            Self::Yarn => "yarn",
            Self::Llama3 => "llama3",
            Self::LongRope => "longrope",
            Self::LmInfinite => "lm-infinite",
            Self::SelfExtend => "self-extend",
            Self::ReRope => "rerope",
            Self::Abf => "abf",
            Self::GiraffePower => "giraffe-power",
            Self::GiraffeTruncated => "giraffe-truncated",
        }
    }

    /// The method named `key`, or by one of its documented [`Self::ALIASES`].
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.key() == key)
            .or_else(|| Self::ALIASES.iter().find(|(a, _)| *a == key).map(|(_, m)| *m))
    }

    /// Other spellings accepted everywhere a method is named (URL, `poslens pe --scaling`,
    /// `poslens eval --scaling`): Hugging Face's `rope_type` names.
    pub const ALIASES: [(&'static str, ExtensionMethod); 2] = [("linear", Self::Pi), ("dynamic-ntk", Self::DynamicNtk)];

    pub fn title(self) -> &'static str {
        match self {
            Self::Pi => "Position Interpolation",
            Self::Ntk => "NTK-aware",
            Self::DynamicNtk => "Dynamic NTK",
            Self::Yarn => "YaRN",
            Self::Llama3 => "Llama 3",
            Self::LongRope => "LongRoPE",
            Self::LmInfinite => "LM-Infinite",
            Self::SelfExtend => "SelfExtend",
            Self::ReRope => "ReRoPE",
            Self::Abf => "ABF (base ×s)",
            Self::GiraffePower => "Giraffe power",
            Self::GiraffeTruncated => "Giraffe truncated",
        }
    }

    /// Inference-time position maps keep the frequencies and change the distances instead.
    pub fn is_position_map(self) -> bool {
        matches!(self, Self::LmInfinite | Self::SelfExtend | Self::ReRope)
    }

    /// Two or three plain sentences, naming the paper.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Pi => {
                "Position Interpolation (Chen et al. 2023) divides every frequency by s, so with s ≥ N / L_train \
                 no pair turns further at N than it did in training. The price is resolution: neighbouring tokens \
                 are now s× closer in angle, which is why PI needs a short fine-tune."
            }
            Self::Ntk => {
                "NTK-aware scaling (bloc97 2023) raises the base to b·s^(d/(d−2)) instead: the fastest pairs, which \
                 already completed many turns in training, are barely touched and only the slowest are stretched by s. \
                 Middle pairs are stretched by less than s, so some can still reach unseen angles at N."
            }
            Self::DynamicNtk => {
                "Dynamic NTK (emozilla 2023) applies the NTK base change with a factor that grows with the current \
                 length, s·N/L_train − (s − 1), so nothing changes up to L_train and the stretch keeps pace beyond it. \
                 The frequencies therefore depend on N: drag N and watch the curves move."
            }
            Self::Yarn => {
                "YaRN (Peng et al. 2023) interpolates by parts: pairs completing more than β_fast turns within L_train \
                 keep θ_i, pairs completing fewer than β_slow are divided by s, and a linear ramp blends in between. \
                 It also scales q and k by 0.1·ln s + 1, re-sharpening the softmax that interpolation flattened."
            }
            Self::Llama3 => {
                "Llama 3 (Meta 2024, “The Llama 3 Herd of Models”) scales by wavelength bands: wavelengths shorter than \
                 L_train / high_freq_factor are kept, those longer than L_train / low_freq_factor are divided by s, and \
                 the band in between is blended. It is YaRN's idea without the attention factor."
            }
            Self::LongRope => {
                "LongRoPE (Ding et al. 2024) divides each pair by its own factor f_i found by an evolutionary search, \
                 with a separate set beyond L_train and an attention factor √(1 + ln s / ln L_train). The factors here \
                 are illustrative, a straight ramp from 1 (fastest pair) to s (slowest), not a searched set."
            }
            Self::LmInfinite => {
                "LM-Infinite (Han et al. 2023) leaves the frequencies alone and changes what a query sees: the first \
                 n_global tokens plus a local window, with every distance capped at the largest one seen in training \
                 (L_train − 1). No pair meets a new angle, at the cost of ignoring the middle of the context."
            }
            Self::SelfExtend => {
                "SelfExtend (Jin et al. 2024, “LLM Maybe LongLM”) keeps exact positions inside a neighbour window W and \
                 floor-divides positions by the group size G beyond it, so distant tokens share positions. Distances \
                 stay inside the trained range while ⌊N/G⌋ + W − ⌊W/G⌋ < L_train."
            }
            Self::ReRope => {
                "ReRoPE (Su 2023, “Rectified Rotary Position Embeddings”) keeps exact distances up to a window w and \
                 clips every longer one to w. All angles stay inside the trained range, but far tokens can no longer be \
                 told apart by position."
            }
            Self::Abf => {
                "ABF (Xiong et al. 2023, “Effective Long-Context Scaling of Foundation Models”) raises the base, here to \
                 s·b (Llama 2 Long: 10 000 → 500 000, s = 50). Every pair slows down, so even the fast pairs meet angles \
                 they never saw inside L_train: the method assumes continued pre-training at the new base."
            }
            Self::GiraffePower => {
                "Giraffe's power scaling (Pal et al. 2023) multiplies pair i by (1 − 2i/d)^k: the fastest pair is kept, \
                 slower pairs are slowed more and more. It does not depend on s — one fixed reshaping of the spectrum, \
                 meant to be fine-tuned with."
            }
            Self::GiraffeTruncated => {
                "Giraffe's truncated basis (Pal et al. 2023) keeps pairs that turn at least four times in training, sets \
                 the middle band to one small frequency ρ and zeroes the slowest pairs, which could not turn once even \
                 over s·L_train. Thresholds here are our approximation: a = ρ = 2π/(s·L_train), b = 4·2π/L_train."
            }
        }
    }
}

/// Illustrative LongRoPE long factors: `f_i = 1 + (s − 1)·i / (d/2 − 1)`, a monotone ramp from 1
/// for the fastest pair to `s` for the slowest. Ding et al. 2024 find theirs by evolutionary
/// search; these only mimic their overall shape (fast pairs ≈ untouched, slow pairs ≈ `s`).
pub fn longrope_illustrative_factors(head_dim: usize, factor: f64) -> Vec<f64> {
    let pairs = head_dim / 2;
    if pairs <= 1 {
        return vec![factor; pairs];
    }
    (0..pairs)
        .map(|i| 1.0 + (factor - 1.0) * i as f64 / (pairs - 1) as f64)
        .collect()
}

/// SelfExtend's default group size `G` (Jin et al. 2024 use 4–16; 8 keeps `W + (N − W)/G` within
/// `L_train` up to `N ≈ 8·L_train`).
pub const DEFAULT_SELF_EXTEND_GROUP: usize = 8;

/// A method with every parameter it may need. Windows left `None` take the defaults the
/// Context-extension view documents: LM-Infinite local window `L_train`, SelfExtend neighbour
/// window `L_train / 4`, ReRoPE window `L_train / 2`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtensionParams {
    pub method: ExtensionMethod,
    /// Scale factor `s` ≥ 1 (frequency-scaling methods).
    pub factor: f64,
    /// Training length `L_o`.
    pub train_len: usize,
    /// Rotary head dimension `d`.
    pub head_dim: usize,
    pub yarn_beta_fast: f64,
    pub yarn_beta_slow: f64,
    pub llama3_low_freq_factor: f64,
    pub llama3_high_freq_factor: f64,
    pub lm_n_global: usize,
    pub lm_local_window: Option<usize>,
    pub self_extend_group: usize,
    pub self_extend_window: Option<usize>,
    pub rerope_window: Option<usize>,
    /// Giraffe power `k`.
    pub giraffe_power: f64,
}

impl ExtensionParams {
    /// `method` with factor `s` and every other parameter at its default.
    pub fn new(method: ExtensionMethod, factor: f64, train_len: usize, head_dim: usize) -> Self {
        Self {
            method,
            factor,
            train_len,
            head_dim,
            yarn_beta_fast: 32.0,
            yarn_beta_slow: 1.0,
            llama3_low_freq_factor: 1.0,
            llama3_high_freq_factor: 4.0,
            lm_n_global: 4,
            lm_local_window: None,
            self_extend_group: DEFAULT_SELF_EXTEND_GROUP,
            self_extend_window: None,
            rerope_window: None,
            giraffe_power: 1.0,
        }
    }

    /// LM-Infinite local window actually used, in tokens.
    pub fn lm_local_window(&self) -> usize {
        self.lm_local_window.unwrap_or(self.train_len).max(1)
    }

    /// SelfExtend neighbour window actually used, in tokens.
    pub fn self_extend_window(&self) -> usize {
        self.self_extend_window.unwrap_or(self.train_len / 4).max(1)
    }

    /// ReRoPE window actually used, in tokens.
    pub fn rerope_window(&self) -> usize {
        self.rerope_window.unwrap_or(self.train_len / 2).max(1)
    }

    /// The frequency scaling of the method (`None` for the position maps).
    pub fn scaling(&self) -> RopeScaling {
        let factor = self.factor;
        let original_max_pos = self.train_len;
        match self.method {
            ExtensionMethod::Pi => RopeScaling::Linear { factor },
            ExtensionMethod::Ntk => RopeScaling::Ntk { factor },
            ExtensionMethod::DynamicNtk => RopeScaling::Dynamic {
                factor,
                original_max_pos,
            },
            ExtensionMethod::Yarn => RopeScaling::Yarn(YarnParams {
                factor,
                original_max_pos,
                beta_fast: self.yarn_beta_fast,
                beta_slow: self.yarn_beta_slow,
                ..YarnParams::default()
            }),
            ExtensionMethod::Llama3 => RopeScaling::Llama3 {
                factor,
                low_freq_factor: self.llama3_low_freq_factor,
                high_freq_factor: self.llama3_high_freq_factor,
                original_max_pos,
            },
            ExtensionMethod::LongRope => RopeScaling::LongRope {
                short_factors: vec![1.0; self.head_dim / 2],
                long_factors: longrope_illustrative_factors(self.head_dim, factor),
                factor,
                original_max_pos,
                attention_factor: None,
            },
            ExtensionMethod::Abf => RopeScaling::Abf { base_ratio: factor },
            ExtensionMethod::GiraffePower => RopeScaling::GiraffePower {
                power: self.giraffe_power,
            },
            ExtensionMethod::GiraffeTruncated => RopeScaling::GiraffeTruncated {
                factor,
                original_max_pos,
            },
            ExtensionMethod::LmInfinite | ExtensionMethod::SelfExtend | ExtensionMethod::ReRope => RopeScaling::None,
        }
    }

    /// The position map of the method (`Identity` for the frequency-scaling methods).
    /// LM-Infinite caps distances at `L_train − 1`, the largest distance seen in training.
    pub fn position_map(&self) -> PositionMap {
        match self.method {
            ExtensionMethod::LmInfinite => PositionMap::LmInfinite {
                n_global: self.lm_n_global,
                local_window: self.lm_local_window(),
                distance_cap: self.train_len.saturating_sub(1).max(1),
            },
            ExtensionMethod::SelfExtend => PositionMap::SelfExtend {
                group_size: self.self_extend_group.max(1),
                neighbor_window: self.self_extend_window(),
            },
            ExtensionMethod::ReRope => PositionMap::ReRope {
                window: self.rerope_window(),
            },
            ExtensionMethod::Pi
            | ExtensionMethod::Ntk
            | ExtensionMethod::DynamicNtk
            | ExtensionMethod::Yarn
            | ExtensionMethod::Llama3
            | ExtensionMethod::LongRope
            | ExtensionMethod::Abf
            | ExtensionMethod::GiraffePower
            | ExtensionMethod::GiraffeTruncated => PositionMap::Identity,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_each_method_is_a_scaling_or_a_map() {
        for m in ExtensionMethod::ALL {
            assert_eq!(ExtensionMethod::from_key(m.key()), Some(m));
            let p = ExtensionParams::new(m, 4.0, 32, 16);
            let scales = p.scaling() != RopeScaling::None;
            let maps = !p.position_map().is_identity();
            assert!(scales ^ maps, "{m:?}");
            assert_eq!(maps, m.is_position_map());
            assert!(p.position_map().validate().is_ok());
            assert!(
                super::super::rope_inv_freq(16, 10_000.0, &p.scaling(), 128).is_ok(),
                "{m:?}"
            );
        }
        assert_eq!(ExtensionMethod::from_key("nope"), None);
        // One vocabulary: Hugging Face's "linear" is PI everywhere.
        assert_eq!(ExtensionMethod::from_key("linear"), Some(ExtensionMethod::Pi));
        for (alias, m) in ExtensionMethod::ALIASES {
            assert_ne!(alias, m.key());
            assert_eq!(ExtensionMethod::from_key(alias), Some(m));
        }
    }

    #[test]
    fn default_windows_follow_the_training_length() {
        let p = ExtensionParams::new(ExtensionMethod::ReRope, 1.0, 32, 16);
        assert_eq!(p.position_map(), PositionMap::ReRope { window: 16 });
        let p = ExtensionParams::new(ExtensionMethod::LmInfinite, 1.0, 32, 16);
        assert_eq!(
            p.position_map(),
            PositionMap::LmInfinite {
                n_global: 4,
                local_window: 32,
                distance_cap: 31
            }
        );
    }
}
