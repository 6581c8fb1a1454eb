//! The CPU path of the heatmap engine: a full N×N attention map, streamed row by row through
//! `crate::pe::PreparedLogits` and aggregated on the fly into at most `out_side²` cells.
//!
//! Memory is `O(N + out_side²)` whatever N is (an 8192² map would be 256 MiB), and every cell
//! contributes to its block (mean or max), so nothing is dropped. Masked cells (future keys
//! under a causal mask, cells hidden by a position map) are NaN in the output and excluded from
//! means; the heatmap draws them as background. Also returns the per-view summary statistics.

use crate::analysis::grid::Aggregate;
use crate::pe::diagnostics::{entropy, softmax_in_place};
use crate::pe::{PeError, PreparedLogits};

/// What to compute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapRequest {
    /// Sequence length N (queries and keys `0..N`).
    pub n: usize,
    pub causal: bool,
    /// Softmax probabilities (true) or raw logits (false).
    pub softmax: bool,
    /// Largest output side, in cells.
    pub out_side: usize,
    pub aggregate: Aggregate,
    /// Training length, for the "mass beyond L_train" statistic.
    pub train_len: usize,
}

/// An aggregated attention map with its statistics.
#[derive(Clone, Debug, Default)]
pub struct AttentionMap {
    /// Row-major `rows × cols`; NaN = masked block.
    pub values: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
    /// N (the map is N×N before aggregation).
    pub n: usize,
    /// Colour range: smallest finite value to the 99.5th percentile of the aggregated cells, so
    /// that one saturated cell (query 0 always attends only to itself) does not wash out the rest.
    pub range: (f32, f32),
    /// Mean attention entropy over queries, in nats.
    pub mean_entropy_nats: f64,
    /// Mean attention mass that queries `m ≥ L_train` put on keys at distance `≥ L_train`
    /// (relative distances never seen in training); `None` when `N ≤ L_train`.
    pub mass_beyond_train: Option<f64>,
}

/// Compute the map. Errors only for parameters `prepared` rejects (e.g. N > its `n_max`).
pub fn compute(prepared: &PreparedLogits, req: &MapRequest) -> Result<AttentionMap, PeError> {
    let n = req.n;
    let out_rows = n.min(req.out_side.max(1));
    let out_cols = out_rows;
    let mut acc = vec![0.0_f64; out_rows * out_cols];
    let mut count = vec![0_u32; out_rows * out_cols];
    if req.aggregate == Aggregate::Max {
        acc.fill(f64::NEG_INFINITY);
    }
    // Index → block, with block r covering [r·N/S, (r+1)·N/S) (integer division): the same
    // partition as `analysis::grid::downsample` and the WGSL engine.
    let block_of = |side: usize| -> Vec<usize> {
        let mut b = vec![0; n];
        for r in 0..side {
            b[r * n / side..(r + 1) * n / side].fill(r);
        }
        b
    };
    let col_block = block_of(out_cols);
    let row_block = block_of(out_rows);
    let mut logits = vec![0.0_f32; n];
    let mut probs = vec![0.0_f32; n];
    let mut entropy_sum = 0.0;
    let (mut beyond_sum, mut beyond_queries) = (0.0_f64, 0_usize);
    for m in 0..n {
        prepared.logits_row(m, n, req.causal, &mut logits)?;
        probs.copy_from_slice(&logits);
        softmax_in_place(&mut probs);
        entropy_sum += entropy(&probs);
        if m >= req.train_len && req.train_len > 0 {
            // keys n with m − n ≥ L_train, i.e. n ≤ m − L_train
            beyond_sum += probs[..=(m - req.train_len)].iter().map(|&p| p as f64).sum::<f64>();
            beyond_queries += 1;
        }
        let shown = if req.softmax { &probs } else { &logits };
        let base = row_block[m] * out_cols;
        for (c, &v) in shown.iter().enumerate() {
            if !v.is_finite() || (req.softmax && logits[c] == f32::NEG_INFINITY) {
                continue;
            }
            let i = base + col_block[c];
            count[i] += 1;
            match req.aggregate {
                Aggregate::Mean => acc[i] += v as f64,
                Aggregate::Max => acc[i] = acc[i].max(v as f64),
            }
        }
    }
    let values: Vec<f32> = acc
        .iter()
        .zip(&count)
        .map(|(&a, &c)| match (c, req.aggregate) {
            (0, _) => f32::NAN,
            (c, Aggregate::Mean) => (a / c as f64) as f32,
            (_, Aggregate::Max) => a as f32,
        })
        .collect();
    let range = robust_range(&values);
    Ok(AttentionMap {
        values,
        rows: out_rows,
        cols: out_cols,
        n,
        range,
        mean_entropy_nats: entropy_sum / n.max(1) as f64,
        mass_beyond_train: (beyond_queries > 0).then(|| beyond_sum / beyond_queries as f64),
    })
}

/// `(min, 99.5th percentile)` of the finite values; `(0, 1)` when there are none; never empty.
pub fn robust_range(values: &[f32]) -> (f32, f32) {
    let mut finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return (0.0, 1.0);
    }
    let lo = finite.iter().copied().fold(f32::INFINITY, f32::min);
    let k = ((finite.len() - 1) as f64 * 0.995).round() as usize;
    let (_, hi, _) = finite.select_nth_unstable_by(k, f32::total_cmp);
    let hi = *hi;
    if hi > lo {
        (lo, hi)
    } else {
        (lo, lo + 1e-6_f32.max(lo.abs() * 1e-6))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::{Content, Scheme};

    fn alibi(n: usize, slope: f64) -> PreparedLogits {
        PreparedLogits::new(&Scheme::Alibi { slope }, &Content::Identical, 16, n).expect("valid")
    }

    fn req(n: usize, out_side: usize, softmax: bool, aggregate: Aggregate) -> MapRequest {
        MapRequest {
            n,
            causal: true,
            softmax,
            out_side,
            aggregate,
            train_len: 4,
        }
    }

    #[test]
    fn unaggregated_map_matches_rows_and_masks_the_future() {
        let p = alibi(8, 0.5);
        let map = compute(&p, &req(8, 64, true, Aggregate::Mean)).expect("map");
        assert_eq!((map.rows, map.cols), (8, 8));
        let mut row = vec![0.0; 8];
        p.probs_row(5, 8, true, &mut row).expect("row");
        for (c, expected) in row.iter().enumerate() {
            let v = map.values[5 * 8 + c];
            if c > 5 {
                assert!(v.is_nan(), "future key {c} should be masked");
            } else {
                assert!((v - expected).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn aggregated_softmax_blocks_average_the_cells() {
        let p = alibi(16, 0.3);
        let full = compute(&p, &req(16, 64, true, Aggregate::Mean)).expect("full");
        let small = compute(&p, &req(16, 4, true, Aggregate::Mean)).expect("small");
        assert_eq!((small.rows, small.cols), (4, 4));
        // Block (3, 0) = rows 12..16 × cols 0..4, all visible under the causal mask.
        let mut sum = 0.0;
        for r in 12..16 {
            for c in 0..4 {
                sum += full.values[r * 16 + c];
            }
        }
        assert!((small.values[3 * 4] - sum / 16.0).abs() < 1e-6);
        // Block (0, 3) is entirely in the future: masked.
        assert!(small.values[3].is_nan());
    }

    #[test]
    fn entropy_and_mass_beyond_training_length() {
        // slope 0 = uniform causal attention: entropy of query m is ln(m + 1).
        let p = alibi(8, 0.0);
        let map = compute(&p, &req(8, 8, true, Aggregate::Max)).expect("map");
        let expected: f64 = (0..8).map(|m| ((m + 1) as f64).ln()).sum::<f64>() / 8.0;
        assert!((map.mean_entropy_nats - expected).abs() < 1e-5);
        // L_train = 4: query m puts (m − 3)/(m + 1) on keys at distance ≥ 4.
        let beyond = (4..8).map(|m| (m - 3) as f64 / (m + 1) as f64).sum::<f64>() / 4.0;
        let got = map.mass_beyond_train.expect("N > L_train");
        assert!((got - beyond).abs() < 1e-5, "{got} vs {beyond}");
        assert_eq!(map.range.0, 1.0 / 8.0);
    }

    #[test]
    fn robust_range_ignores_a_few_outliers_and_masks() {
        let mut v: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        v.extend([f32::NAN, f32::NEG_INFINITY, 1000.0]);
        let (lo, hi) = robust_range(&v);
        assert_eq!(lo, 0.0);
        assert!(hi > 0.98 && hi < 1.0, "{hi}");
        assert_eq!(robust_range(&[f32::NAN]), (0.0, 1.0));
        let (a, b) = robust_range(&[2.0, 2.0]);
        assert!(a == 2.0 && b > a);
    }
}
