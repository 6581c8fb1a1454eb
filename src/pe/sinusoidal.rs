//! Sinusoidal absolute position encoding.
//!
//! Vaswani et al. 2017, "Attention Is All You Need":
//! `PE[p, 2i] = sin(p · 10000^(-2i/d))`, `PE[p, 2i+1] = cos(p · 10000^(-2i/d))`.
//!
//! Two memory layouts are in use and are labelled explicitly here:
//! * [`SinusoidalLayout::Interleaved`] (the paper's formula, the default): `sin, cos, sin, cos, …`;
//! * [`SinusoidalLayout::Concat`] (e.g. tensor2tensor / fairseq): `[sin(ω_0 p) … | cos(ω_0 p) …]`.
//!
//! (The fairseq/tensor2tensor variant that divides the exponent by `d/2 − 1` instead of `d/2` is
//! not offered; both layouts here use `ω_i = 10000^(-2i/d)`.)

use super::{MAX_DIM, MAX_LEN, PeError, check_len};
use serde::{Deserialize, Serialize};

/// Largest number of cells (`len × d_model`) a table may have (64 MiB of `f32`).
pub const MAX_TABLE_CELLS: usize = 1 << 24;

/// Base of the sinusoid frequencies in Vaswani et al.
pub const BASE: f64 = 10_000.0;

/// Where the sine and cosine of each frequency are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinusoidalLayout {
    /// `[sin ω_0 p, cos ω_0 p, sin ω_1 p, cos ω_1 p, …]` (Vaswani et al. formula).
    #[default]
    Interleaved,
    /// `[sin ω_0 p, …, sin ω_{d/2-1} p, cos ω_0 p, …, cos ω_{d/2-1} p]`.
    Concat,
}

/// Validates `d_model` (even, 2..=`MAX_DIM`).
pub fn check_d_model(d_model: usize) -> Result<(), PeError> {
    if d_model < 2 || !d_model.is_multiple_of(2) || d_model > MAX_DIM {
        return Err(PeError::invalid(
            "d_model",
            d_model,
            format!("an even integer in 2..={MAX_DIM}"),
        ));
    }
    Ok(())
}

/// Frequency `ω_i = 10000^(-2i/d_model)` of pair `i`.
pub fn frequency(i: usize, d_model: usize) -> f64 {
    BASE.powf(-((2 * i) as f64) / d_model as f64)
}

/// Writes the encoding of one position into `out` (`out.len()` must equal `d_model`, even).
pub fn encode_into(position: f64, layout: SinusoidalLayout, out: &mut [f64]) {
    let d = out.len();
    let half = d / 2;
    for i in 0..half {
        let (s, c) = (position * frequency(i, d)).sin_cos();
        match layout {
            SinusoidalLayout::Interleaved => {
                out[2 * i] = s;
                out[2 * i + 1] = c;
            }
            SinusoidalLayout::Concat => {
                out[i] = s;
                out[half + i] = c;
            }
        }
    }
}

/// The sinusoidal table, row-major `[len][d_model]` (row = position `0..len`).
///
/// Computed in `f64` and rounded to `f32`. Errors: `d_model` odd or outside 2..=4096, `len` 0 or
/// above 65 536, or `len × d_model` above [`MAX_TABLE_CELLS`].
pub fn table(d_model: usize, len: usize, layout: SinusoidalLayout) -> Result<Vec<f32>, PeError> {
    check_d_model(d_model)?;
    check_len("len", len)?;
    if len * d_model > MAX_TABLE_CELLS {
        return Err(PeError::invalid(
            "len",
            len,
            format!(
                "at most {} for d_model {d_model} (len × d_model ≤ {MAX_TABLE_CELLS}; len ≤ {MAX_LEN})",
                MAX_TABLE_CELLS / d_model
            ),
        ));
    }
    let mut out = Vec::with_capacity(len * d_model);
    let mut row = vec![0.0f64; d_model];
    for p in 0..len {
        encode_into(p as f64, layout, &mut row);
        out.extend(row.iter().map(|&v| v as f32));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f64) -> bool {
        (a as f64 - b).abs() < 1e-6
    }

    #[test]
    fn hand_derived_d4_rows() {
        // d = 4: ω_0 = 1, ω_1 = 10000^(-1/2) = 0.01.
        let t = table(4, 2, SinusoidalLayout::Interleaved).unwrap();
        let want = [0.0, 1.0, 0.0, 1.0, 1f64.sin(), 1f64.cos(), 0.01f64.sin(), 0.01f64.cos()];
        for (a, b) in t.iter().zip(want) {
            assert!(close(*a, b), "{t:?}");
        }
        let t = table(4, 2, SinusoidalLayout::Concat).unwrap();
        let want = [0.0, 0.0, 1.0, 1.0, 1f64.sin(), 0.01f64.sin(), 1f64.cos(), 0.01f64.cos()];
        for (a, b) in t.iter().zip(want) {
            assert!(close(*a, b), "{t:?}");
        }
    }

    #[test]
    fn layouts_are_permutations_of_each_other() {
        let (d, len) = (16, 50);
        let a = table(d, len, SinusoidalLayout::Interleaved).unwrap();
        let b = table(d, len, SinusoidalLayout::Concat).unwrap();
        for p in 0..len {
            for i in 0..d / 2 {
                assert_eq!(a[p * d + 2 * i], b[p * d + i]);
                assert_eq!(a[p * d + 2 * i + 1], b[p * d + d / 2 + i]);
            }
        }
    }

    #[test]
    fn each_pair_has_unit_norm() {
        let d = 32;
        let t = table(d, 100, SinusoidalLayout::Interleaved).unwrap();
        for row in t.chunks(d) {
            for pair in row.chunks(2) {
                let n = pair[0] * pair[0] + pair[1] * pair[1];
                assert!((n - 1.0).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn rejects_bad_sizes() {
        for (d, len) in [(3, 4), (0, 4), (4, 0), (4, MAX_LEN + 1), (4096, 8192)] {
            let e = table(d, len, SinusoidalLayout::Interleaved).unwrap_err();
            assert!(matches!(e, PeError::InvalidParameter { .. }), "{d} {len}");
        }
    }
}
