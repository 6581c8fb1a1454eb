//! RoPE context-extension methods: new inverse frequencies `θ'_i` plus an attention factor.
//!
//! Each method returns [`ScaledFreqs`] `(inv_freq, attention_factor)` exactly as Hugging Face
//! `transformers` 5.x `modeling_rope_utils.py` does (HF computes `θ` in `f32`; this module uses
//! `f64` throughout, so values agree to `f32` precision). The attention factor multiplies both
//! `cos` and `sin`, so q·k logits scale by its square.
//!
//! * Linear / Position Interpolation — Chen, Wong, Chen & Tian 2023, "Extending Context Window of
//!   Large Language Models via Positional Interpolation": `θ'_i = θ_i / s`.
//! * NTK-aware — bloc97 2023 (Reddit post "NTK-Aware Scaled RoPE"): base `b' = b · s^(d/(d−2))`.
//! * Dynamic NTK — emozilla 2023 (Reddit post "Dynamically Scaled RoPE"): at current length
//!   `L' = max(L, L_o)`, `b' = b · (s·L'/L_o − (s − 1))^(d/(d−2))` (not `b·s^(d/(d−2))`).
//! * YaRN — Peng, Quesnelle, Fan & Shippole 2023, "YaRN: Efficient Context Window Extension of
//!   Large Language Models": NTK-by-parts ramp between `θ_i` and `θ_i/s` plus an attention factor.
//! * Llama 3 — Meta 2024, "The Llama 3 Herd of Models": wavelength-banded blend.
//! * LongRoPE — Ding et al. 2024, "LongRoPE: Extending LLM Context Window Beyond 2 Million
//!   Tokens": searched per-pair factors, `θ'_i = θ_i / f_i`.

use super::rope::unchecked_inv_freq;
use super::{PeError, check_base, check_head_dim, check_positive};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Inverse frequencies and attention factor produced by a scaling method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaledFreqs {
    /// `θ'_i`, one per rotation pair (`head_dim / 2` entries).
    pub inv_freq: Vec<f64>,
    /// Multiplies `cos` and `sin` (1 for most methods).
    pub attention_factor: f64,
}

impl ScaledFreqs {
    /// `θ'_i` rounded to `f32`, for GPU upload.
    pub fn inv_freq_f32(&self) -> Vec<f32> {
        self.inv_freq.iter().map(|&v| v as f32).collect()
    }
}

/// YaRN parameters (HF key names in comments).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct YarnParams {
    /// Scale factor `s` (`factor`), ≥ 1.
    pub factor: f64,
    /// Training length `L_o` (`original_max_position_embeddings`).
    pub original_max_pos: usize,
    /// Rotations above which a pair is left unscaled (`beta_fast`, default 32).
    pub beta_fast: f64,
    /// Rotations below which a pair is fully interpolated (`beta_slow`, default 1).
    pub beta_slow: f64,
    /// DeepSeek-style `mscale`; used only together with `mscale_all_dim` (as in HF).
    pub mscale: Option<f64>,
    /// DeepSeek-style `mscale_all_dim`.
    pub mscale_all_dim: Option<f64>,
    /// Explicit attention factor, overriding the computed one (`attention_factor`).
    pub attention_factor: Option<f64>,
    /// Floor/ceil the correction range (`truncate`, HF default true).
    pub truncate: bool,
}

impl Default for YarnParams {
    fn default() -> Self {
        Self {
            factor: 1.0,
            original_max_pos: 2048,
            beta_fast: 32.0,
            beta_slow: 1.0,
            mscale: None,
            mscale_all_dim: None,
            attention_factor: None,
            truncate: true,
        }
    }
}

/// A RoPE frequency-scaling method and its parameters (serialised with a `rope_type` tag, like
/// HF's `rope_parameters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rope_type", rename_all = "snake_case")]
pub enum RopeScaling {
    /// Plain RoPE.
    None,
    /// Position Interpolation: `θ_i / s`.
    Linear {
        /// `s` ≥ 1.
        factor: f64,
    },
    /// NTK-aware base change `b · s^(d/(d−2))`.
    Ntk {
        /// `s` ≥ 1.
        factor: f64,
    },
    /// Dynamic NTK, depends on the current length (`seq_len` argument of [`rope_inv_freq`]).
    Dynamic {
        /// `s` ≥ 1.
        factor: f64,
        /// Training length `L_o`.
        original_max_pos: usize,
    },
    /// YaRN.
    Yarn(YarnParams),
    /// Llama 3.1 banded scaling.
    Llama3 {
        /// `s` ≥ 1 (8 in Llama 3.1).
        factor: f64,
        /// 1 in Llama 3.1.
        low_freq_factor: f64,
        /// 4 in Llama 3.1.
        high_freq_factor: f64,
        /// 8192 in Llama 3.1.
        original_max_pos: usize,
    },
    /// LongRoPE per-pair factors (`short` when `seq_len ≤ L_o`, else `long`).
    LongRope {
        /// `head_dim / 2` factors used up to the training length.
        short_factors: Vec<f64>,
        /// `head_dim / 2` factors used beyond it.
        long_factors: Vec<f64>,
        /// Overall extension ratio `s` ≥ 1 (only sets the default attention factor).
        factor: f64,
        /// Training length `L_o`.
        original_max_pos: usize,
        /// Explicit attention factor override.
        attention_factor: Option<f64>,
    },
}

fn check_factor(factor: f64) -> Result<(), PeError> {
    if !factor.is_finite() || factor < 1.0 {
        return Err(PeError::invalid("factor", factor, "a finite number >= 1"));
    }
    Ok(())
}

fn check_original(len: usize) -> Result<(), PeError> {
    if !(2..=1 << 30).contains(&len) {
        return Err(PeError::invalid(
            "original_max_pos",
            len,
            "an integer in 2..=1073741824",
        ));
    }
    Ok(())
}

fn check_factor_list(name: &'static str, list: &[f64], pairs: usize) -> Result<(), PeError> {
    if list.len() != pairs {
        return Err(PeError::invalid(
            name,
            format!("{} entries", list.len()),
            format!("exactly head_dim/2 = {pairs} entries"),
        ));
    }
    if let Some(bad) = list.iter().find(|v| !v.is_finite() || **v <= 0.0) {
        return Err(PeError::invalid(name, format!("an entry {bad}"), "finite numbers > 0"));
    }
    Ok(())
}

/// HF's `get_mscale`: `0.1 · mscale · ln(s) + 1`, or 1 when `s ≤ 1`.
pub fn get_mscale(scale: f64, mscale: f64) -> f64 {
    if scale <= 1.0 {
        1.0
    } else {
        0.1 * mscale * scale.ln() + 1.0
    }
}

/// YaRN's inverse-dimension formula: the (fractional) pair-dimension index whose wavelength fits
/// `num_rotations` turns into `L_o`: `d · ln(L_o / (2π r)) / (2 ln b)`.
pub fn yarn_correction_dim(num_rotations: f64, head_dim: usize, base: f64, original_max_pos: usize) -> f64 {
    head_dim as f64 * (original_max_pos as f64 / (num_rotations * 2.0 * PI)).ln() / (2.0 * base.ln())
}

/// YaRN's `(low, high)` ramp bounds, as HF `find_correction_range`: floor/ceil when `truncate`,
/// then `low ≥ 0`, `high ≤ d − 1` (HF clamps to the full head dim, not `d/2 − 1`).
pub fn yarn_correction_range(
    head_dim: usize,
    base: f64,
    original_max_pos: usize,
    beta_fast: f64,
    beta_slow: f64,
    truncate: bool,
) -> (f64, f64) {
    let mut low = yarn_correction_dim(beta_fast, head_dim, base, original_max_pos);
    let mut high = yarn_correction_dim(beta_slow, head_dim, base, original_max_pos);
    if truncate {
        low = low.floor();
        high = high.ceil();
    }
    (low.max(0.0), high.min(head_dim.saturating_sub(1) as f64))
}

/// YaRN's linear ramp `clamp((i − low)/(high − low), 0, 1)` for `i = 0 .. n − 1`; when
/// `low == high`, `high` gets `+0.001` (as HF). 0 = keep `θ_i` (extrapolate), 1 = `θ_i / s`.
pub fn yarn_ramp(low: f64, high: f64, n: usize) -> Vec<f64> {
    let high = if low == high { high + 0.001 } else { high };
    (0..n)
        .map(|i| ((i as f64 - low) / (high - low)).clamp(0.0, 1.0))
        .collect()
}

/// Scaled RoPE inverse frequencies for `head_dim` (even, ≥ 2) and `base` (> 1).
///
/// `seq_len` is the current sequence length; only [`RopeScaling::Dynamic`] (uses
/// `max(seq_len, L_o)`) and [`RopeScaling::LongRope`] (long factors iff `seq_len > L_o`) read it.
/// Pass the training length (or 0) for "not extended yet".
pub fn rope_inv_freq(
    head_dim: usize,
    base: f64,
    scaling: &RopeScaling,
    seq_len: usize,
) -> Result<ScaledFreqs, PeError> {
    check_head_dim(head_dim)?;
    check_base(base)?;
    let d = head_dim as f64;
    let plain = |inv_freq| ScaledFreqs {
        inv_freq,
        attention_factor: 1.0,
    };
    Ok(match scaling {
        RopeScaling::None => plain(unchecked_inv_freq(head_dim, base)),
        RopeScaling::Linear { factor } => {
            check_factor(*factor)?;
            plain(
                unchecked_inv_freq(head_dim, base)
                    .into_iter()
                    .map(|t| t / factor)
                    .collect(),
            )
        }
        RopeScaling::Ntk { factor } => {
            check_factor(*factor)?;
            // For d = 2 the exponent is infinite but the only pair has θ_0 = b'^0 = 1.
            let new_base = base * factor.powf(d / (d - 2.0));
            plain(unchecked_inv_freq(head_dim, new_base))
        }
        RopeScaling::Dynamic {
            factor,
            original_max_pos,
        } => {
            check_factor(*factor)?;
            check_original(*original_max_pos)?;
            let l = seq_len.max(*original_max_pos) as f64;
            let lo = *original_max_pos as f64;
            let new_base = base * (factor * l / lo - (factor - 1.0)).powf(d / (d - 2.0));
            plain(unchecked_inv_freq(head_dim, new_base))
        }
        RopeScaling::Yarn(p) => yarn(head_dim, base, p)?,
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_pos,
        } => {
            check_factor(*factor)?;
            check_original(*original_max_pos)?;
            check_positive("low_freq_factor", *low_freq_factor)?;
            if !high_freq_factor.is_finite() || high_freq_factor <= low_freq_factor {
                return Err(PeError::invalid(
                    "high_freq_factor",
                    high_freq_factor,
                    format!("a finite number > low_freq_factor ({low_freq_factor})"),
                ));
            }
            let lo = *original_max_pos as f64;
            let low_wavelen = lo / low_freq_factor;
            let high_wavelen = lo / high_freq_factor;
            let inv_freq = unchecked_inv_freq(head_dim, base)
                .into_iter()
                .map(|t| {
                    let wavelen = 2.0 * PI / t;
                    if wavelen < high_wavelen {
                        t
                    } else if wavelen > low_wavelen {
                        t / factor
                    } else {
                        let alpha = (lo / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
                        (1.0 - alpha) * t / factor + alpha * t
                    }
                })
                .collect();
            plain(inv_freq)
        }
        RopeScaling::LongRope {
            short_factors,
            long_factors,
            factor,
            original_max_pos,
            attention_factor,
        } => {
            check_factor(*factor)?;
            check_original(*original_max_pos)?;
            check_factor_list("short_factors", short_factors, head_dim / 2)?;
            check_factor_list("long_factors", long_factors, head_dim / 2)?;
            let attention_factor = match attention_factor {
                Some(a) => {
                    check_positive("attention_factor", *a)?;
                    *a
                }
                None if *factor <= 1.0 => 1.0,
                None => (1.0 + factor.ln() / (*original_max_pos as f64).ln()).sqrt(),
            };
            let ext = if seq_len > *original_max_pos {
                long_factors
            } else {
                short_factors
            };
            let inv_freq = unchecked_inv_freq(head_dim, base)
                .into_iter()
                .zip(ext)
                .map(|(t, f)| t / f)
                .collect();
            ScaledFreqs {
                inv_freq,
                attention_factor,
            }
        }
    })
}

/// YaRN (HF `_compute_yarn_parameters`).
///
/// Attention factor: the explicit override if given; else, when both `mscale` and
/// `mscale_all_dim` are set and non-zero, `get_mscale(s, mscale) / get_mscale(s, mscale_all_dim)`;
/// else `get_mscale(s, 1) = 0.1 ln s + 1` (the paper's `√(1/t) = 0.1 ln s + 1`).
fn yarn(head_dim: usize, base: f64, p: &YarnParams) -> Result<ScaledFreqs, PeError> {
    check_factor(p.factor)?;
    check_original(p.original_max_pos)?;
    check_positive("beta_slow", p.beta_slow)?;
    if !p.beta_fast.is_finite() || p.beta_fast <= p.beta_slow {
        return Err(PeError::invalid(
            "beta_fast",
            p.beta_fast,
            format!("a finite number > beta_slow ({})", p.beta_slow),
        ));
    }
    for (name, v) in [("mscale", p.mscale), ("mscale_all_dim", p.mscale_all_dim)] {
        if let Some(v) = v.filter(|v| !v.is_finite()) {
            return Err(PeError::invalid(name, v, "a finite number"));
        }
    }
    let attention_factor = match (p.attention_factor, p.mscale, p.mscale_all_dim) {
        (Some(a), _, _) => {
            check_positive("attention_factor", a)?;
            a
        }
        (None, Some(ms), Some(msa)) if ms != 0.0 && msa != 0.0 => get_mscale(p.factor, ms) / get_mscale(p.factor, msa),
        _ => get_mscale(p.factor, 1.0),
    };
    let (low, high) = yarn_correction_range(head_dim, base, p.original_max_pos, p.beta_fast, p.beta_slow, p.truncate);
    let ramp = yarn_ramp(low, high, head_dim / 2);
    let inv_freq = unchecked_inv_freq(head_dim, base)
        .into_iter()
        .zip(ramp)
        .map(|(t, r)| t * (1.0 - r) + (t / p.factor) * r)
        .collect();
    Ok(ScaledFreqs {
        inv_freq,
        attention_factor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rel_close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    fn unscaled(d: usize, base: f64) -> Vec<f64> {
        rope_inv_freq(d, base, &RopeScaling::None, 0).unwrap().inv_freq
    }

    fn yarn_p(factor: f64, lo: usize) -> YarnParams {
        YarnParams {
            factor,
            original_max_pos: lo,
            ..YarnParams::default()
        }
    }

    fn all_methods(factor: f64, d: usize) -> Vec<RopeScaling> {
        vec![
            RopeScaling::Linear { factor },
            RopeScaling::Ntk { factor },
            RopeScaling::Dynamic {
                factor,
                original_max_pos: 2048,
            },
            RopeScaling::Yarn(yarn_p(factor, 2048)),
            RopeScaling::Llama3 {
                factor,
                low_freq_factor: 1.0,
                high_freq_factor: 4.0,
                original_max_pos: 2048,
            },
            RopeScaling::LongRope {
                short_factors: vec![factor; d / 2],
                long_factors: vec![factor; d / 2],
                factor,
                original_max_pos: 2048,
                attention_factor: None,
            },
        ]
    }

    #[test]
    fn every_method_reduces_to_unscaled_at_factor_one() {
        for d in [2, 8, 64, 128] {
            let want = unscaled(d, 10_000.0);
            for m in all_methods(1.0, d) {
                // seq_len = L_o: dynamic NTK only rescales beyond the training length.
                let got = rope_inv_freq(d, 10_000.0, &m, 2048).unwrap();
                assert_eq!(got.attention_factor, 1.0, "{m:?}");
                for (g, w) in got.inv_freq.iter().zip(&want) {
                    assert!(rel_close(*g, *w, 1e-12), "{m:?}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn linear_and_ntk_hand_derived() {
        // d = 4, base 100: θ = [1, 0.1].
        let lin = rope_inv_freq(4, 100.0, &RopeScaling::Linear { factor: 4.0 }, 0).unwrap();
        assert!(rel_close(lin.inv_freq[1], 0.025, 1e-12));
        // NTK, d = 4: b' = 100 · 4^(4/2) = 1600, θ_1 = 1600^(-1/2) = 0.025. θ_0 stays 1.
        let ntk = rope_inv_freq(4, 100.0, &RopeScaling::Ntk { factor: 4.0 }, 0).unwrap();
        assert_eq!(ntk.inv_freq[0], 1.0);
        assert!(rel_close(ntk.inv_freq[1], 0.025, 1e-12));
        // d = 2 (infinite exponent) stays finite.
        let ntk2 = rope_inv_freq(2, 100.0, &RopeScaling::Ntk { factor: 4.0 }, 0).unwrap();
        assert_eq!(ntk2.inv_freq, vec![1.0]);
    }

    #[test]
    fn dynamic_ntk_follows_the_spec_formula() {
        let m = RopeScaling::Dynamic {
            factor: 4.0,
            original_max_pos: 1024,
        };
        let d = 8;
        let plain = unscaled(d, 10_000.0);
        for seq_len in [0, 1, 512, 1024] {
            assert_eq!(rope_inv_freq(d, 10_000.0, &m, seq_len).unwrap().inv_freq, plain);
        }
        // seq_len = 2048 = 2 L_o: b' = 10000 · (4·2 − 3)^(8/6) = 10000 · 5^(4/3).
        let got = rope_inv_freq(d, 10_000.0, &m, 2048).unwrap().inv_freq;
        let b = 10_000.0 * 5f64.powf(4.0 / 3.0);
        for (i, g) in got.iter().enumerate() {
            assert!(rel_close(*g, b.powf(-(2.0 * i as f64) / 8.0), 1e-12));
        }
        // … which is not the static NTK base 10000 · 4^(4/3).
        let wrong = 10_000.0 * 4f64.powf(4.0 / 3.0);
        assert!(!rel_close(got[3], wrong.powf(-6.0 / 8.0), 1e-3));
    }

    // Expected values below were derived independently in Python (plain `math`, f64) from the
    // spec formulas (`python3`, pure `math`), not copied from this implementation.
    #[test]
    fn yarn_head128_base1e4_factor4_lo2048() {
        let p = yarn_p(4.0, 2048);
        let (low, high) = yarn_correction_range(128, 10_000.0, 2048, 32.0, 1.0, true);
        // corr(32) = 16.13… → 16, corr(1) = 40.21… → 41.
        assert_eq!((low, high), (16.0, 41.0));
        let got = rope_inv_freq(128, 10_000.0, &RopeScaling::Yarn(p), 0).unwrap();
        assert!(rel_close(got.attention_factor, 1.138629436111989, 1e-12));
        let expect = [
            (0, 1.0),
            (16, 0.1), // ramp 0: θ_16 = 10000^(-1/4) untouched
            (20, 0.04948603661675072),
            (30, 0.007734424306547279),
            (41, 0.0006846049085660903), // ramp 1: θ_41 / 4
            (63, 2.8869549617236455e-05),
        ];
        for (i, want) in expect {
            assert!(rel_close(got.inv_freq[i], want, 1e-12), "pair {i}: {}", got.inv_freq[i]);
        }
    }

    #[test]
    fn yarn_without_truncation_and_with_mscale() {
        let p = YarnParams {
            truncate: false,
            mscale: Some(1.0),
            mscale_all_dim: Some(0.707),
            ..yarn_p(40.0, 4096)
        };
        let (low, high) = yarn_correction_range(64, 10_000.0, 4096, 32.0, 1.0, false);
        assert!(low.fract() != 0.0 && high.fract() != 0.0);
        let got = rope_inv_freq(64, 10_000.0, &RopeScaling::Yarn(p.clone()), 0).unwrap();
        let want = (0.1 * 40f64.ln() + 1.0) / (0.1 * 0.707 * 40f64.ln() + 1.0);
        assert!(rel_close(got.attention_factor, want, 1e-12));
        // mscale alone is ignored (HF needs both).
        let alone = YarnParams {
            mscale_all_dim: None,
            ..p.clone()
        };
        let got = rope_inv_freq(64, 10_000.0, &RopeScaling::Yarn(alone), 0).unwrap();
        assert!(rel_close(got.attention_factor, 0.1 * 40f64.ln() + 1.0, 1e-12));
        // Explicit override wins.
        let forced = YarnParams {
            attention_factor: Some(0.5),
            ..p
        };
        let got = rope_inv_freq(64, 10_000.0, &RopeScaling::Yarn(forced), 0).unwrap();
        assert_eq!(got.attention_factor, 0.5);
    }

    #[test]
    fn llama3_head128_base5e5_factor8_lo8192() {
        let m = RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_pos: 8192,
        };
        let got = rope_inv_freq(128, 500_000.0, &m, 0).unwrap();
        let plain = unscaled(128, 500_000.0);
        assert_eq!(got.attention_factor, 1.0);
        let expect = [
            (0, 1.0),
            (20, 0.016560440080994446),  // λ ≈ 379 < 2048: kept
            (31, 0.0008567514129196321), // λ ≈ 3619: blended
            (40, 3.428102195952591e-05), // λ ≈ 22911 > 8192: θ / 8
            (63, 3.068925988914511e-07),
        ];
        for (i, want) in expect {
            assert!(rel_close(got.inv_freq[i], want, 1e-12), "pair {i}: {}", got.inv_freq[i]);
        }
        // High frequencies (wavelength < 8192/4 = 2048) are bit-for-bit untouched.
        for (g, p) in got.inv_freq.iter().zip(&plain) {
            if 2.0 * PI / p < 2048.0 {
                assert_eq!(g, p);
            } else {
                assert!(g < p);
            }
        }
    }

    #[test]
    fn longrope_short_long_and_attention_factor() {
        let d = 8;
        let short = vec![1.0, 1.0, 2.0, 2.0];
        let long = vec![1.0, 2.0, 4.0, 8.0];
        let m = RopeScaling::LongRope {
            short_factors: short.clone(),
            long_factors: long.clone(),
            factor: 16.0,
            original_max_pos: 4096,
            attention_factor: None,
        };
        let plain = unscaled(d, 10_000.0);
        let s = rope_inv_freq(d, 10_000.0, &m, 4096).unwrap();
        let l = rope_inv_freq(d, 10_000.0, &m, 4097).unwrap();
        for i in 0..4 {
            assert!(rel_close(s.inv_freq[i], plain[i] / short[i], 1e-15));
            assert!(rel_close(l.inv_freq[i], plain[i] / long[i], 1e-15));
        }
        // sqrt(1 + ln 16 / ln 4096) = sqrt(1 + 4/12).
        assert!(rel_close(s.attention_factor, (4.0f64 / 3.0).sqrt(), 1e-12));
    }

    #[test]
    fn validation_errors_name_the_parameter() {
        let cases: Vec<(RopeScaling, &str)> = vec![
            (RopeScaling::Linear { factor: 0.5 }, "factor"),
            (RopeScaling::Ntk { factor: f64::NAN }, "factor"),
            (
                RopeScaling::Dynamic {
                    factor: 2.0,
                    original_max_pos: 0,
                },
                "original_max_pos",
            ),
            (
                RopeScaling::Yarn(YarnParams {
                    beta_fast: 0.5,
                    ..yarn_p(2.0, 2048)
                }),
                "beta_fast",
            ),
            (
                RopeScaling::Yarn(YarnParams {
                    beta_slow: 0.0,
                    ..yarn_p(2.0, 2048)
                }),
                "beta_slow",
            ),
            (
                RopeScaling::Yarn(YarnParams {
                    attention_factor: Some(-1.0),
                    ..yarn_p(2.0, 2048)
                }),
                "attention_factor",
            ),
            (
                RopeScaling::Llama3 {
                    factor: 8.0,
                    low_freq_factor: 4.0,
                    high_freq_factor: 1.0,
                    original_max_pos: 8192,
                },
                "high_freq_factor",
            ),
            (
                RopeScaling::LongRope {
                    short_factors: vec![1.0; 3],
                    long_factors: vec![1.0; 4],
                    factor: 2.0,
                    original_max_pos: 4096,
                    attention_factor: None,
                },
                "short_factors",
            ),
            (
                RopeScaling::LongRope {
                    short_factors: vec![1.0; 4],
                    long_factors: vec![],
                    factor: 2.0,
                    original_max_pos: 4096,
                    attention_factor: None,
                },
                "long_factors",
            ),
        ];
        for (m, name) in cases {
            let e = rope_inv_freq(8, 10_000.0, &m, 0).unwrap_err();
            assert_eq!(e.parameter(), Some(name), "{m:?}");
        }
        assert_eq!(
            rope_inv_freq(7, 10_000.0, &RopeScaling::None, 0)
                .unwrap_err()
                .parameter(),
            Some("head_dim")
        );
    }

    #[test]
    fn serde_round_trip_uses_rope_type_tag() {
        let m = RopeScaling::Yarn(yarn_p(4.0, 2048));
        let json = serde_json::to_string(&m).unwrap();
        assert!(json.contains("\"rope_type\":\"yarn\""), "{json}");
        let back: RopeScaling = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn yarn_ramp_is_monotone_and_bounded(low in -10.0f64..80.0, width in 0.0f64..60.0, n in 1usize..128) {
            let r = yarn_ramp(low, low + width, n);
            prop_assert!(r.windows(2).all(|w| w[0] <= w[1]));
            prop_assert!(r.iter().all(|v| (0.0..=1.0).contains(v)));
        }

        #[test]
        fn scaled_frequencies_never_exceed_unscaled(factor in 1.0f64..64.0, half in 1usize..64) {
            let d = 2 * half;
            let plain = unscaled(d, 10_000.0);
            for m in all_methods(factor, d) {
                let got = rope_inv_freq(d, 10_000.0, &m, 2048).unwrap();
                for (g, p) in got.inv_freq.iter().zip(&plain) {
                    prop_assert!(*g <= *p * (1.0 + 1e-12) && *g > 0.0, "{:?}", m);
                }
                prop_assert!(got.attention_factor >= 1.0);
            }
        }
    }
}
