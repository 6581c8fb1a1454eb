//! ALiBi — Attention with Linear Biases.
//!
//! Press, Smith & Lewis 2022, "Train Short, Test Long: Attention with Linear Biases Enables Input
//! Length Extrapolation". No position embedding is added; each head `h` adds `−slope_h · (m − n)`
//! to the logit of query `m` and key `n ≤ m`.
//!
//! Slopes follow the paper and Hugging Face bloom's `build_alibi_tensor`: for a power of two `H`,
//! `slope_h = 2^(−8h/H)`, `h = 1..H`; otherwise with `c = 2^⌊log2 H⌋`, the `c` power-of-two slopes
//! followed by `2^(−8h/(2c))` for `h = 1, 3, 5, …` until `H` slopes.
//!
//! Bloom adds `+slope · n` (key position only) instead, which differs from `−slope · (m − n)` by a
//! per-row constant and is therefore softmax-equivalent.

use super::PeError;

/// Largest head count accepted.
pub const MAX_HEADS: usize = 1024;

/// Per-head slopes for `heads` heads (1..=1024), in head order.
pub fn slopes(heads: usize) -> Result<Vec<f64>, PeError> {
    if heads == 0 || heads > MAX_HEADS {
        return Err(PeError::invalid(
            "heads",
            heads,
            format!("an integer in 1..={MAX_HEADS}"),
        ));
    }
    let c = 1usize << heads.ilog2(); // closest power of two ≤ heads
    let mut out: Vec<f64> = (1..=c).map(|h| (-8.0 * h as f64 / c as f64).exp2()).collect();
    out.extend(
        (1..)
            .step_by(2)
            .take(heads - c)
            .map(|h| (-8.0 * h as f64 / (2 * c) as f64).exp2()),
    );
    Ok(out)
}

/// Bias for (query `m`, key `n`) with the given slope: `−slope · (m − n)`.
///
/// For `n > m` (only reachable without a causal mask) this returns the symmetric
/// `−slope · (n − m)`, as in bidirectional adaptations of ALiBi; the paper only defines the
/// causal case.
pub fn bias(slope: f64, query_pos: usize, key_pos: usize) -> f64 {
    -slope * query_pos.abs_diff(key_pos) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_of_two_heads() {
        // H = 8: 2^-1 .. 2^-8.
        let s = slopes(8).unwrap();
        let want: Vec<f64> = (1..=8).map(|h| 0.5f64.powi(h)).collect();
        assert_eq!(s, want);
        // H = 1: 2^-8; H = 2: 2^-4, 2^-8.
        assert_eq!(slopes(1).unwrap(), vec![1.0 / 256.0]);
        assert_eq!(slopes(2).unwrap(), vec![1.0 / 16.0, 1.0 / 256.0]);
    }

    #[test]
    fn six_heads_interleave_the_next_power_of_two() {
        let s = slopes(6).unwrap();
        let want = [-2, -4, -6, -8, -1, -3].map(|e| 2f64.powi(e));
        assert_eq!(s, want);
    }

    #[test]
    fn twelve_heads_match_the_paper_construction() {
        // c = 8 → 2^-1..2^-8, then from the 16-head set h = 1, 3, 5, 7: 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5.
        let s = slopes(12).unwrap();
        assert_eq!(s.len(), 12);
        for (i, e) in [0.5, 1.5, 2.5, 3.5].iter().enumerate() {
            assert!((s[8 + i] - 2f64.powf(-e)).abs() < 1e-15);
        }
    }

    #[test]
    fn rejects_zero_and_huge_head_counts() {
        assert!(slopes(0).is_err());
        assert!(slopes(MAX_HEADS + 1).is_err());
    }

    #[test]
    fn bias_is_linear_in_distance() {
        assert_eq!(bias(0.25, 10, 10), 0.0);
        assert_eq!(bias(0.25, 10, 6), -1.0);
        assert_eq!(bias(0.25, 6, 10), -1.0);
    }
}
