//! Pure maths of positional encodings for PosLens.
//!
//! No UI or GPU code lives here: only `std`, `thiserror` and `serde` derives. Every scheme has its
//! own file, each citing its paper. Where a paper and the Hugging Face `transformers` 5.x code
//! differ, the code here follows the library and notes the paper form in a doc comment.
//!
//! Conventions used throughout (see `shared/spec/positional-encodings.md`):
//! `d` = head (rotary) dimension, pairs `i = 0 .. d/2-1`, `θ_i = base^(-2i/d)` (inverse frequency),
//! `m` = query position, `n` = key position, relative position for T5 = `n − m` (key − query),
//! distance for ALiBi/KERPLE/maps = `m − n`.
//!
//! Maths is done in `f64`; tables meant for the GPU or for per-frame views are `f32`.
//! User-supplied values are validated and reported as [`PeError`]; nothing here panics on them.

pub mod alibi;
pub mod diagnostics;
pub mod extension;
pub mod grid2d;
pub mod id_attention;
pub mod kerple;
pub mod lanes;
pub mod laplacian;
pub mod learned;
pub mod logits;
pub mod nope;
pub mod position_ids;
pub mod position_maps;

pub mod rope;
pub(crate) mod rotation_table;
pub mod scaling;
pub mod scheme;
pub mod sinusoidal;
pub mod t5;
pub mod xpos;

pub use diagnostics::softmax_in_place;
pub use logits::PreparedLogits;
pub use position_maps::{MapEntry, PositionMap};
pub use rope::RopeLayout;
pub use scaling::{RopeScaling, ScaledFreqs, YarnParams, rope_inv_freq};
pub use scheme::{Content, Scheme, SchemeKind};
pub use sinusoidal::SinusoidalLayout;

/// Largest head / model dimension accepted anywhere in this module.
pub const MAX_DIM: usize = 4096;
/// Largest sequence length (positions) accepted for tables and attention maps.
pub const MAX_LEN: usize = 65_536;

/// Every error the positional-encoding maths can report.
///
/// `name` is always the parameter's name in snake case; the CLI turns it into the flag
/// (`head_dim` → `--head-dim`), so keep the two spelled alike.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PeError {
    /// A parameter is outside its allowed range.
    #[error("invalid {name} = {value}: must be {allowed}")]
    InvalidParameter {
        /// Parameter name (snake case, matches the CLI flag).
        name: &'static str,
        /// The offending value, as text.
        value: String,
        /// The allowed range, in words.
        allowed: String,
    },
    /// A learned absolute table has no row for this position: the model cannot run there.
    #[error(
        "position {position} is past the learned position table (max_len {max_len}): \
         a learned absolute encoding is undefined beyond its table"
    )]
    PastLearnedTable {
        /// Requested position.
        position: usize,
        /// Number of rows in the table.
        max_len: usize,
    },
    /// Valid-looking parameters whose result is not a finite number (e.g. YaRN's mscale ratio
    /// 0/0, subnormal LongRoPE factors, inputs near `f64::MAX`): refused instead of printed as
    /// `null` or `inf`.
    #[error("the {what} is not a finite number for these parameters ({detail})")]
    NonFinite {
        /// What was computed.
        what: &'static str,
        /// The offending value and where.
        detail: String,
    },
}

impl PeError {
    /// Shorthand constructor for [`PeError::InvalidParameter`].
    pub fn invalid(name: &'static str, value: impl std::fmt::Display, allowed: impl Into<String>) -> Self {
        PeError::InvalidParameter {
            name,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// The parameter this error is about, if any.
    pub fn parameter(&self) -> Option<&'static str> {
        match self {
            PeError::InvalidParameter { name, .. } => Some(name),
            PeError::PastLearnedTable { .. } | PeError::NonFinite { .. } => None,
        }
    }
}

/// Checks a rotary head dimension: even, ≥ 2 and ≤ [`MAX_DIM`].
pub fn check_head_dim(head_dim: usize) -> Result<(), PeError> {
    if head_dim < 2 || !head_dim.is_multiple_of(2) || head_dim > MAX_DIM {
        return Err(PeError::invalid(
            "head_dim",
            head_dim,
            format!("an even integer in 2..={MAX_DIM}"),
        ));
    }
    Ok(())
}

/// Checks a RoPE base: finite and > 1 (so that `ln base > 0`).
pub fn check_base(base: f64) -> Result<(), PeError> {
    if !base.is_finite() || base <= 1.0 {
        return Err(PeError::invalid("base", base, "a finite number > 1"));
    }
    Ok(())
}

/// Checks a sequence length: 1..=[`MAX_LEN`].
pub fn check_len(name: &'static str, len: usize) -> Result<(), PeError> {
    if len == 0 || len > MAX_LEN {
        return Err(PeError::invalid(name, len, format!("an integer in 1..={MAX_LEN}")));
    }
    Ok(())
}

/// Checks that a float is finite and strictly positive.
pub(crate) fn check_positive(name: &'static str, v: f64) -> Result<(), PeError> {
    if !v.is_finite() || v <= 0.0 {
        return Err(PeError::invalid(name, v, "a finite number > 0"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_dim_validation_names_the_parameter_and_range() {
        assert!(check_head_dim(64).is_ok());
        for bad in [0, 1, 7, MAX_DIM + 2] {
            let err = check_head_dim(bad).unwrap_err();
            assert_eq!(err.parameter(), Some("head_dim"));
            let msg = err.to_string();
            assert!(msg.contains("head_dim") && msg.contains("even"), "{msg}");
        }
    }

    #[test]
    fn base_and_len_validation() {
        assert!(check_base(10_000.0).is_ok());
        assert!(check_base(1.0).is_err());
        assert!(check_base(f64::NAN).is_err());
        assert!(check_len("len", 0).is_err());
        assert!(check_len("len", MAX_LEN).is_ok());
        assert!(check_len("len", MAX_LEN + 1).is_err());
    }
}
