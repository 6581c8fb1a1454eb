//! `--scaling` of `poslens pe rope-freqs` / `rope-apply`: the method vocabulary and the
//! [`RopeScaling`] it builds from the other RoPE flags.

use super::{CliError, RopeArgs, missing};
use crate::pe::extension::ExtensionMethod;
use crate::pe::scaling::{RopeScaling, YarnParams};

/// `--scaling`: `none` or a frequency-scaling method, in the one vocabulary of
/// `pe::extension::ExtensionMethod` (keys `pi`, `ntk`, `dynamic`, `yarn`, `llama3`, `longrope`,
/// plus its aliases such as Hugging Face's `linear` for PI) — the same names as the URL's
/// `method=` and `poslens eval --scaling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ScalingArg(Option<ExtensionMethod>);

pub(super) fn parse_scaling(s: &str) -> Result<ScalingArg, String> {
    if s == "none" {
        return Ok(ScalingArg(None));
    }
    let scaling_keys = || {
        ExtensionMethod::ALL
            .into_iter()
            .filter(|m| !m.is_position_map())
            .map(|m| m.key())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match ExtensionMethod::from_key(s) {
        Some(m) if !m.is_position_map() => Ok(ScalingArg(Some(m))),
        Some(m) => Err(format!(
            "{} is a position map, not a frequency scaling (see `poslens pe mask`); expected none or one of {}",
            m.key(),
            scaling_keys()
        )),
        None => Err(format!(
            "expected none or one of {} (alias: linear = pi)",
            scaling_keys()
        )),
    }
}

impl RopeArgs {
    pub(super) fn scaling(&self) -> Result<RopeScaling, CliError> {
        let ctx = |m: &str| format!("--scaling {m}");
        let factor = |m: &str| self.factor.ok_or_else(|| missing("factor", &ctx(m)));
        let orig = |m: &str| {
            self.original_max_pos
                .ok_or_else(|| missing("original_max_pos", &ctx(m)))
        };
        let Some(method) = self.scaling.0 else {
            return Ok(RopeScaling::None);
        };
        Ok(match method {
            ExtensionMethod::Pi => RopeScaling::Linear { factor: factor("pi")? },
            ExtensionMethod::Ntk => RopeScaling::Ntk { factor: factor("ntk")? },
            ExtensionMethod::DynamicNtk => RopeScaling::Dynamic {
                factor: factor("dynamic")?,
                original_max_pos: orig("dynamic")?,
            },
            ExtensionMethod::Yarn => RopeScaling::Yarn(YarnParams {
                factor: factor("yarn")?,
                original_max_pos: orig("yarn")?,
                beta_fast: self.beta_fast,
                beta_slow: self.beta_slow,
                mscale: self.mscale,
                mscale_all_dim: self.mscale_all_dim,
                attention_factor: self.attention_factor,
                truncate: !self.no_truncate,
            }),
            ExtensionMethod::Llama3 => RopeScaling::Llama3 {
                factor: factor("llama3")?,
                low_freq_factor: self.low_freq_factor,
                high_freq_factor: self.high_freq_factor,
                original_max_pos: orig("llama3")?,
            },
            ExtensionMethod::LongRope => RopeScaling::LongRope {
                short_factors: self.short_factors.clone(),
                long_factors: self.long_factors.clone(),
                factor: factor("longrope")?,
                original_max_pos: orig("longrope")?,
                attention_factor: self.attention_factor,
            },
            ExtensionMethod::Abf => RopeScaling::Abf {
                base_ratio: factor("abf")?,
            },
            ExtensionMethod::GiraffePower => RopeScaling::GiraffePower { power: self.power },
            ExtensionMethod::GiraffeTruncated => RopeScaling::GiraffeTruncated {
                factor: factor("giraffe-truncated")?,
                original_max_pos: orig("giraffe-truncated")?,
            },
            // Rejected by `parse_scaling`; named here so a new method cannot slip through.
            ExtensionMethod::LmInfinite | ExtensionMethod::SelfExtend | ExtensionMethod::ReRope => {
                return Err(CliError(format!(
                    "--scaling {}: a position map, not a frequency scaling",
                    method.key()
                )));
            }
        })
    }
}
