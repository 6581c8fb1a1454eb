//! The CPU path of the heatmap engine: a full N×N attention map, streamed row by row through
//! `crate::pe::PreparedLogits` and aggregated on the fly into at most `out_side²` cells.
//!
//! Memory is `O(N + out_side²)` whatever N is (an 8192² map would be 256 MiB), and every cell
//! contributes to its block (mean or max), so nothing is dropped. Masked cells (future keys
//! under a causal mask, cells hidden by a position map) are NaN in the output and excluded from
//! means; the heatmap draws them as background. Also returns the per-view summary statistics.

use crate::analysis::grid::Aggregate;
use crate::pe::diagnostics::softmax_with_entropy;
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
    let mut acc = MapAccumulator::new(req);
    acc.rows(prepared, req.n)?;
    Ok(acc.finish())
}

/// A map being computed row by row, so the work can be spread over frames (the engine façade
/// runs as many rows per frame as its time budget allows). [`compute`] runs every row at once.
#[derive(Clone, Debug)]
pub struct MapAccumulator {
    req: MapRequest,
    out_rows: usize,
    out_cols: usize,
    acc: Vec<f64>,
    count: Vec<u32>,
    row_block: Vec<usize>,
    col_block: Vec<usize>,
    logits: Vec<f32>,
    probs: Vec<f32>,
    entropy_sum: f64,
    beyond_sum: f64,
    beyond_queries: usize,
    /// The next query row to compute.
    next: usize,
}

impl MapAccumulator {
    pub fn new(req: &MapRequest) -> Self {
        let n = req.n;
        let out_rows = n.min(req.out_side.max(1));
        let out_cols = out_rows;
        let mut acc = vec![0.0_f64; out_rows * out_cols];
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
        Self {
            req: *req,
            out_rows,
            out_cols,
            count: vec![0_u32; out_rows * out_cols],
            acc,
            row_block: block_of(out_rows),
            col_block: block_of(out_cols),
            logits: vec![0.0_f32; n],
            probs: vec![0.0_f32; n],
            entropy_sum: 0.0,
            beyond_sum: 0.0,
            beyond_queries: 0,
            next: 0,
        }
    }

    /// Rows done so far, out of `n`.
    pub fn rows_done(&self) -> usize {
        self.next
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.req.n
    }

    /// Compute up to `max_rows` more query rows.
    pub fn rows(&mut self, prepared: &PreparedLogits, max_rows: usize) -> Result<(), PeError> {
        let (n, req) = (self.req.n, self.req);
        let end = self.next.saturating_add(max_rows).min(n);
        for m in self.next..end {
            prepared.logits_row(m, n, req.causal, &mut self.logits)?;
            self.probs.copy_from_slice(&self.logits);
            self.entropy_sum += softmax_with_entropy(&mut self.probs);
            if m >= req.train_len && req.train_len > 0 {
                // keys n with m − n ≥ L_train, i.e. n ≤ m − L_train
                self.beyond_sum += self.probs[..=(m - req.train_len)]
                    .iter()
                    .map(|&p| p as f64)
                    .sum::<f64>();
                self.beyond_queries += 1;
            }
            let shown = if req.softmax { &self.probs } else { &self.logits };
            let base = self.row_block[m] * self.out_cols;
            for (c, &v) in shown.iter().enumerate() {
                if !v.is_finite() || (req.softmax && self.logits[c] == f32::NEG_INFINITY) {
                    continue;
                }
                let i = base + self.col_block[c];
                self.count[i] += 1;
                match req.aggregate {
                    Aggregate::Mean => self.acc[i] += v as f64,
                    Aggregate::Max => self.acc[i] = self.acc[i].max(v as f64),
                }
            }
        }
        self.next = end;
        Ok(())
    }

    /// The map from the rows computed (all of them, unless stopped early).
    pub fn finish(self) -> AttentionMap {
        let req = self.req;
        let values = block_values(&self.acc, self.count.iter().map(|&c| u64::from(c)), req.aggregate);
        let range = robust_range(&values);
        AttentionMap {
            values,
            rows: self.out_rows,
            cols: self.out_cols,
            n: req.n,
            range,
            mean_entropy_nats: self.entropy_sum / self.next.max(1) as f64,
            mass_beyond_train: (self.beyond_queries > 0).then(|| self.beyond_sum / self.beyond_queries as f64),
        }
    }
}

/// Block sums (or maxima) and their visible-cell counts → the map's values: the mean (or max),
/// NaN for a fully masked block. Shared by the row-by-row path and the relative fast path.
pub(crate) fn block_values(acc: &[f64], count: impl Iterator<Item = u64>, aggregate: Aggregate) -> Vec<f32> {
    acc.iter()
        .zip(count)
        .map(|(&a, c)| match (c, aggregate) {
            (0, _) => f32::NAN,
            (c, Aggregate::Mean) => (a / c as f64) as f32,
            (_, Aggregate::Max) => a as f32,
        })
        .collect()
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

    #[test]
    fn rows_in_chunks_give_the_same_map_as_all_at_once() {
        let p = PreparedLogits::new(&Scheme::Alibi { slope: 0.3 }, &Content::Random { seed: 3 }, 8, 50).expect("p");
        let r = req(50, 16, true, Aggregate::Mean);
        let whole = compute(&p, &r).expect("map");
        let mut acc = MapAccumulator::new(&r);
        while !acc.is_done() {
            acc.rows(&p, 7).expect("rows");
        }
        assert_eq!(acc.rows_done(), 50);
        let chunked = acc.finish();
        assert_eq!(chunked.mean_entropy_nats, whole.mean_entropy_nats);
        assert_eq!(chunked.mass_beyond_train, whole.mass_beyond_train);
        assert!(
            chunked
                .values
                .iter()
                .zip(&whole.values)
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
        );
    }
}
