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
//! * ABF (adjusted base frequency) — Xiong et al. 2023, "Effective Long-Context Scaling of
//!   Foundation Models": a larger base, `b' = s·b` here (Llama 2 Long: 10 000 → 500 000, s = 50),
//!   meant to be followed by continued pre-training.
//! * Giraffe power scaling and truncated basis — Pal et al. 2023, "Giraffe: Adventures in
//!   Expanding Context Lengths in LLMs": `θ'_i = θ_i·(1 − 2i/d)^k`; and `θ'_i = θ_i` for
//!   `θ_i ≥ b`, `ρ` for `a < θ_i < b`, `0` for `θ_i ≤ a`, with (our choice, approximate)
//!   `b = 4·2π/L_o` (pairs that turn at least four times in training are kept),
//!   `a = ρ = 2π/(s·L_o)` (slower pairs would not turn once even over the extended context).

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
    /// ABF: base `b·base_ratio`.
    Abf {
        /// `b'/b` ≥ 1.
        base_ratio: f64,
    },
    /// Giraffe power scaling `θ_i·(1 − 2i/d)^power`.
    GiraffePower {
        /// `k` ≥ 0.
        power: f64,
    },
    /// Giraffe truncated basis (thresholds from `factor` and `original_max_pos`, see the module
    /// docs; [`giraffe_truncation`] gives them).
    GiraffeTruncated {
        /// `s` ≥ 1.
        factor: f64,
        /// Training length `L_o`.
        original_max_pos: usize,
    },
}

/// Giraffe truncated basis thresholds `(a, b, ρ)` for scale `s` and training length `L_o`
/// (module docs): `b = 4·2π/L_o`, `a = ρ = 2π/(s·L_o)`.
pub fn giraffe_truncation(factor: f64, original_max_pos: usize) -> (f64, f64, f64) {
    let lo = original_max_pos as f64;
    let a = 2.0 * PI / (factor * lo);
    (a, 4.0 * 2.0 * PI / lo, a)
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
///
/// Every returned frequency is finite and ≥ 0, and the attention factor finite and > 0;
/// otherwise [`PeError::NonFinite`].
pub fn rope_inv_freq(
    head_dim: usize,
    base: f64,
    scaling: &RopeScaling,
    seq_len: usize,
) -> Result<ScaledFreqs, PeError> {
    let f = compute_inv_freq(head_dim, base, scaling, seq_len)?;
    if let Some((i, t)) = f
        .inv_freq
        .iter()
        .enumerate()
        .find(|(_, t)| !(t.is_finite() && **t >= 0.0))
    {
        return Err(PeError::NonFinite {
            what: "scaled inverse frequency",
            detail: format!("θ'_{i} = {t}"),
        });
    }
    if !(f.attention_factor.is_finite() && f.attention_factor > 0.0) {
        return Err(PeError::NonFinite {
            what: "attention factor",
            detail: format!("{}", f.attention_factor),
        });
    }
    Ok(f)
}

fn compute_inv_freq(head_dim: usize, base: f64, scaling: &RopeScaling, seq_len: usize) -> Result<ScaledFreqs, PeError> {
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
        RopeScaling::Abf { base_ratio } => {
            if !base_ratio.is_finite() || *base_ratio < 1.0 {
                return Err(PeError::invalid("base_ratio", base_ratio, "a finite number >= 1"));
            }
            plain(unchecked_inv_freq(head_dim, base * base_ratio))
        }
        RopeScaling::GiraffePower { power } => {
            if !power.is_finite() || !(0.0..=16.0).contains(power) {
                return Err(PeError::invalid("power", power, "a number in 0..=16"));
            }
            plain(
                unchecked_inv_freq(head_dim, base)
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| t * (1.0 - 2.0 * i as f64 / d).powf(*power))
                    .collect(),
            )
        }
        RopeScaling::GiraffeTruncated {
            factor,
            original_max_pos,
        } => {
            check_factor(*factor)?;
            check_original(*original_max_pos)?;
            let (a, b, rho) = giraffe_truncation(*factor, *original_max_pos);
            plain(
                unchecked_inv_freq(head_dim, base)
                    .into_iter()
                    .map(|t| {
                        if t >= b {
                            t
                        } else if t > a {
                            rho
                        } else {
                            0.0
                        }
                    })
                    .collect(),
            )
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
#[path = "scaling_tests.rs"]
mod tests;
