//! The CPU engine's fast path for relative maps: when every logit depends only on `k − q` (every
//! relative scheme with identical tokens — NoPE, T5, ALiBi, RoPE, xPos, KERPLE — the views'
//! default), the N×N softmax needs no exponential per cell. With `E[j] = exp(rel[j] − G)` for the
//! `2N − 1` distances (`G` the largest logit), every weight is `p(q, k) = E[k − q] / Z_q`, and a
//! block of cells sums to a difference of prefix sums of `E` over distance. The map costs
//! `O(N log N + N·S)` for `S` output columns instead of `O(N²)` exponentials and logarithms, and
//! gives the same numbers as the row-by-row path (`super::attention_map`) to float precision.
//!
//! Precision: prefix sums run over the distances a row sees, from distance 0 outwards (the past
//! and the future separately), so a block's sum is a difference of two partial sums of the
//! row's own normaliser `Z_q`: its error is about `1e-16 · Z_q`, i.e. `1e-16` in probability.
//! Rows whose largest visible logit lies more than [`MAX_SHIFT`] below `G` (where `E` would
//! underflow) make [`compute`] return `None`, and the caller takes the row-by-row path.

use super::attention_map::{AttentionMap, MapRequest, block_values, robust_range};
use crate::analysis::grid::Aggregate;
use crate::pe::PreparedLogits;

/// Largest `G − max_q` (in logits) the fast path accepts: `exp(−600) ≈ 1e−261` is still a
/// normal f64.
pub const MAX_SHIFT: f64 = 600.0;

/// The relative logit table `rel[k − q + N − 1]` (length `2N − 1`) of `prepared`, or `None` if
/// its logits are not a function of `k − q` alone (checked on several rows).
pub fn relative_table(prepared: &PreparedLogits, n: usize) -> Option<Vec<f32>> {
    if n == 0 || n > prepared.n_max() {
        return None;
    }
    let mut row = vec![0.0_f32; n];
    let mut rel = vec![0.0_f32; 2 * n - 1];
    // Row N−1 gives k − q = −(N−1) … 0; row 0 gives 0 … N−1.
    prepared.logits_row(n - 1, n, false, &mut row).ok()?;
    rel[..n].copy_from_slice(&row);
    prepared.logits_row(0, n, false, &mut row).ok()?;
    rel[n - 1..].copy_from_slice(&row);
    // Verify on a few other rows that the map really is relative.
    for q in [n / 3, n / 2, (2 * n) / 3] {
        prepared.logits_row(q, n, false, &mut row).ok()?;
        for (k, &v) in row.iter().enumerate() {
            let t = rel[k + n - 1 - q];
            let tol = 1e-4 * (1.0 + t.abs());
            if !(v.is_finite() && (v - t).abs() <= tol) {
                return None;
            }
        }
    }
    Some(rel)
}

/// Prefix sums and maxima over distance `d = 0, 1, …` of one side (past or future).
struct Side {
    /// `sum_e[i] = Σ_{d < i} E(d)`.
    sum_e: Vec<f64>,
    /// `sum_el[i] = Σ_{d < i} E(d)·(l(d) − G)` (the entropy's numerator; every term ≤ 0).
    sum_el: Vec<f64>,
    /// `sum_l[i] = Σ_{d < i} l(d)` (logit means).
    sum_l: Vec<f64>,
    /// `max_l[i] = max_{d < i} l(d)`.
    max_l: Vec<f64>,
    /// Sparse table of `E(d)` (softmax) or `l(d)` (logits) for block maxima, when asked for.
    table: Vec<Vec<f64>>,
}

impl Side {
    fn new(logits: &[f64], g: f64, max_table: Option<bool>) -> Self {
        let len = logits.len();
        let mut s = Self {
            sum_e: Vec::with_capacity(len + 1),
            sum_el: Vec::with_capacity(len + 1),
            sum_l: Vec::with_capacity(len + 1),
            max_l: Vec::with_capacity(len + 1),
            table: Vec::new(),
        };
        let (mut e_acc, mut el_acc, mut l_acc, mut m_acc) = (0.0, 0.0, 0.0, f64::NEG_INFINITY);
        s.sum_e.push(0.0);
        s.sum_el.push(0.0);
        s.sum_l.push(0.0);
        s.max_l.push(m_acc);
        let mut base = Vec::new();
        for &l in logits {
            let e = (l - g).exp();
            e_acc += e;
            el_acc += e * (l - g);
            l_acc += l;
            m_acc = m_acc.max(l);
            s.sum_e.push(e_acc);
            s.sum_el.push(el_acc);
            s.sum_l.push(l_acc);
            s.max_l.push(m_acc);
            if let Some(softmax) = max_table {
                base.push(if softmax { e } else { l });
            }
        }
        if max_table.is_some() {
            s.table.push(base);
            let mut width = 1;
            while 2 * width <= len {
                let prev = &s.table[s.table.len() - 1];
                let next: Vec<f64> = (0..=len - 2 * width).map(|i| prev[i].max(prev[i + width])).collect();
                s.table.push(next);
                width *= 2;
            }
        }
        s
    }

    /// Max of the table's values over distances `lo..=hi`.
    fn range_max(&self, lo: usize, hi: usize) -> f64 {
        let len = hi - lo + 1;
        let level = (usize::BITS - 1 - len.leading_zeros()) as usize;
        let row = &self.table[level];
        row[lo].max(row[hi + 1 - (1 << level)])
    }
}

/// The map of `req` from the relative table `rel` (see the module docs), or `None` when the
/// table does not fit (`rel.len() != 2N − 1`, a non-finite logit) or a row's logits lie too far
/// below the largest (then use `super::attention_map`). [`RelativeJob`] does the same over
/// several frames.
pub fn compute(rel: &[f32], req: &MapRequest) -> Option<AttentionMap> {
    let mut job = RelativeJob::new(rel, req)?;
    job.block_rows(usize::MAX);
    Some(job.finish())
}

/// The `O(N)` part of the fast path: prefix sums over distance, every row's normaliser and the
/// map's statistics. The CPU's [`RelativeJob`] sums blocks from it; the GPU engine uploads it
/// ([`RelativePrefix::device_table`]) and sums the same blocks in parallel.
pub struct RelativePrefix {
    req: MapRequest,
    /// Output side S.
    s: usize,
    past: Side,
    future: Side,
    inv_z: Vec<f64>,
    entropy_sum: f64,
    beyond_sum: f64,
    beyond_queries: usize,
    /// `max_q (G − max_q)`: how far the row whose largest logit is smallest lies below `G`.
    max_shift: f64,
}

impl RelativePrefix {
    /// Everything but the block sums; `None` as for [`compute`].
    pub fn new(rel: &[f32], req: &MapRequest) -> Option<Self> {
        let n = req.n;
        if n == 0 || rel.len() != 2 * n - 1 || rel.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let s = n.min(req.out_side.max(1));
        let causal = req.causal;
        // Past distance d (key q − d) and future distance d ≥ 1 (key q + d), as index d − 1.
        let past: Vec<f64> = (0..n).map(|d| f64::from(rel[n - 1 - d])).collect();
        let future: Vec<f64> = (1..n).map(|d| f64::from(rel[n - 1 + d])).collect();
        let g = if causal {
            past.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        } else {
            past.iter().chain(&future).copied().fold(f64::NEG_INFINITY, f64::max)
        };
        let max_table = (req.aggregate == Aggregate::Max).then_some(req.softmax);
        let p = Side::new(&past, g, max_table);
        let f = Side::new(&future, g, max_table.filter(|_| !causal));

        // Row statistics: the normaliser Z_q = Σ_visible E, entropy, mass at distance ≥ L_train.
        let mut inv_z = vec![0.0_f64; n];
        let (mut entropy_sum, mut beyond_sum, mut beyond_queries) = (0.0_f64, 0.0_f64, 0_usize);
        let mut max_shift = 0.0_f64;
        for (q, inv) in inv_z.iter_mut().enumerate() {
            // Past distances 0..=q; future distances 1..=n−1−q.
            let fut_len = if causal { 0 } else { n - 1 - q };
            let z = p.sum_e[q + 1] + f.sum_e.get(fut_len).copied().unwrap_or(0.0);
            let u = p.sum_el[q + 1] + f.sum_el.get(fut_len).copied().unwrap_or(0.0);
            let m = p.max_l[q + 1].max(f.max_l.get(fut_len).copied().unwrap_or(f64::NEG_INFINITY));
            if !(g - m <= MAX_SHIFT && z > 0.0) {
                return None;
            }
            max_shift = max_shift.max(g - m);
            *inv = 1.0 / z;
            // H = −Σ p ln p with p = E / Z and ln E = l − G.
            entropy_sum += z.ln() - u / z;
            if req.train_len > 0 && q >= req.train_len {
                beyond_sum += (p.sum_e[q + 1] - p.sum_e[req.train_len]) / z;
                beyond_queries += 1;
            }
        }
        Some(Self {
            req: *req,
            s,
            past: p,
            future: f,
            inv_z,
            entropy_sum,
            beyond_sum,
            beyond_queries,
            max_shift,
        })
    }

    /// Output side S (≤ N).
    pub fn side(&self) -> usize {
        self.s
    }

    /// Mean entropy of the rows, nats.
    pub fn mean_entropy_nats(&self) -> f64 {
        self.entropy_sum / self.req.n as f64
    }

    /// Mean over queries `q ≥ L_train` of the mass at distance `≥ L_train`.
    pub fn mass_beyond_train(&self) -> Option<f64> {
        (self.beyond_queries > 0).then(|| self.beyond_sum / self.beyond_queries as f64)
    }

    /// The window table for the GPU's `relative_blocks` pass (`shaders/attention_map.wgsl`), or
    /// `None` where f32 cannot carry it: a row whose largest logit lies more than
    /// [`DEVICE_MAX_SHIFT`] below `G` (its `E` and `1 / Z` would leave f32's range).
    ///
    /// A block's columns are `w` consecutive keys (`w` = ⌊N/S⌋ or ⌈N/S⌉), so one query row sees
    /// them as `w` consecutive distances, clipped at the diagonal, ending at a *top* distance
    /// `t` (past: `t = q − k0`, distances `max(0, t − w + 1) ..= t`; future: `t = k1 − 1 − q`,
    /// distances `max(1, t − w + 1) ..= t`). The table holds, for every `t` in `0..N`, the sum
    /// (mean blocks) or maximum (max blocks) of `E` (softmax) or the logit (logits) over that
    /// window, computed here in f64 from the prefix sums and rounded once — a block's row costs
    /// the device one load and one multiply, with no f32 cancellation. Layout, N values each:
    /// past windows of width ⌊N/S⌋, of width ⌈N/S⌉, future windows of width ⌊N/S⌋, of width
    /// ⌈N/S⌉ (zeros for a causal map), then `1 / Z_q` per query row.
    pub fn device_table(&self) -> Option<Vec<f32>> {
        let softmax = self.req.softmax;
        if softmax && self.max_shift > DEVICE_MAX_SHIFT {
            return None;
        }
        let (n, s) = (self.req.n, self.s);
        let use_max = self.req.aggregate == Aggregate::Max;
        // Past windows: distances lo..=t from index lo; future distance d at index d − 1.
        let window = |side: &Side, lo: usize, hi: usize| -> f64 {
            match (use_max, softmax) {
                (false, true) => side.sum_e[hi + 1] - side.sum_e[lo],
                (false, false) => side.sum_l[hi + 1] - side.sum_l[lo],
                (true, _) => side.range_max(lo, hi),
            }
        };
        let mut out = Vec::with_capacity(5 * n);
        for w in [n / s, n.div_ceil(s)] {
            out.extend((0..n).map(|t| window(&self.past, (t + 1).saturating_sub(w), t) as f32));
        }
        for w in [n / s, n.div_ceil(s)] {
            out.extend((0..n).map(|t| {
                if self.req.causal || t == 0 {
                    0.0
                } else {
                    window(&self.future, (t + 1).saturating_sub(w).max(1) - 1, t - 1) as f32
                }
            }));
        }
        out.extend(self.inv_z.iter().map(|&v| v as f32));
        out.iter().all(|v| v.is_finite()).then_some(out)
    }
}

/// Largest `G − max_q` the GPU's f32 tables accept: `E ≥ e^−40 ≈ 4e−18` at a row's largest logit
/// and `1 / Z ≤ e^40`, both well inside f32; cells more than ~47 below their row's largest logit
/// (probabilities under `e^−47`) may flush to zero.
pub const DEVICE_MAX_SHIFT: f64 = 40.0;

/// A fast-path map in progress: the `O(N)` part ([`RelativePrefix`]) done by
/// [`RelativeJob::new`], the `O(N·S)` block sums one block row at a time, so that at N = 65 536
/// (~0.2 s in the browser) the work can be spread over frames.
pub struct RelativeJob {
    prefix: RelativePrefix,
    /// Block r covers `[bounds[r], bounds[r + 1])`.
    bounds: Vec<usize>,
    acc: Vec<f64>,
    count: Vec<u64>,
    /// The next block row to sum.
    next: usize,
}

impl RelativeJob {
    /// Everything but the block sums; `None` as for [`compute`].
    pub fn new(rel: &[f32], req: &MapRequest) -> Option<Self> {
        let prefix = RelativePrefix::new(rel, req)?;
        let (n, s) = (req.n, prefix.s);
        let empty = if req.aggregate == Aggregate::Max {
            f64::NEG_INFINITY
        } else {
            0.0
        };
        Some(Self {
            prefix,
            // Block r covers [r·N/S, (r+1)·N/S), as in the row-by-row path and the WGSL engine.
            bounds: (0..=s).map(|r| r * n / s).collect(),
            acc: vec![empty; s * s],
            count: vec![0; s * s],
            next: 0,
        })
    }

    /// Work of one block row, in cell updates (its ≈ N/S query rows × S blocks): about N.
    pub fn work_per_block_row(&self) -> usize {
        self.prefix.req.n.div_ceil(self.prefix.s) * self.prefix.s
    }

    /// Fraction of the block rows summed so far.
    pub fn progress(&self) -> f32 {
        self.next as f32 / self.prefix.s as f32
    }

    pub fn is_done(&self) -> bool {
        self.next >= self.prefix.s
    }

    /// Sum up to `max` more block rows.
    pub fn block_rows(&mut self, max: usize) {
        let pre = &self.prefix;
        let (s, causal, req) = (pre.s, pre.req.causal, pre.req);
        let end = self.next.saturating_add(max).min(s);
        let (p, f, bounds) = (&pre.past, &pre.future, &self.bounds);
        for r in self.next..end {
            for (q, &inv) in pre.inv_z.iter().enumerate().take(bounds[r + 1]).skip(bounds[r]) {
                let row = r * s;
                for c in 0..s {
                    let (k0, k1) = (bounds[c], bounds[c + 1]);
                    let i = row + c;
                    // Past keys [k0, min(k1, q + 1)): distances lo..=hi.
                    if k0 <= q {
                        let (lo, hi) = (q + 1 - k1.min(q + 1), q - k0);
                        self.count[i] += (hi - lo + 1) as u64;
                        add(&mut self.acc[i], p, lo, hi, &req, inv);
                    }
                    // Future keys [max(k0, q + 1), k1): distances lo..=hi (index d − 1).
                    if !causal && k1 > q + 1 {
                        let (lo, hi) = (k0.max(q + 1) - q - 1, k1 - 1 - q - 1);
                        self.count[i] += (hi - lo + 1) as u64;
                        add(&mut self.acc[i], f, lo, hi, &req, inv);
                    }
                }
            }
        }
        self.next = end;
    }

    /// The map from the block rows summed (all of them, unless stopped early).
    pub fn finish(self) -> AttentionMap {
        let pre = &self.prefix;
        let values = block_values(&self.acc, self.count.iter().copied(), pre.req.aggregate);
        AttentionMap {
            range: robust_range(&values),
            values,
            rows: pre.s,
            cols: pre.s,
            n: pre.req.n,
            mean_entropy_nats: pre.mean_entropy_nats(),
            mass_beyond_train: pre.mass_beyond_train(),
        }
    }
}

/// Fold the side's distances `lo..=hi` of one row (normaliser `1 / inv_z`) into a block.
fn add(acc: &mut f64, side: &Side, lo: usize, hi: usize, req: &MapRequest, inv_z: f64) {
    match (req.aggregate, req.softmax) {
        (Aggregate::Mean, true) => *acc += (side.sum_e[hi + 1] - side.sum_e[lo]) * inv_z,
        (Aggregate::Mean, false) => *acc += side.sum_l[hi + 1] - side.sum_l[lo],
        (Aggregate::Max, true) => *acc = acc.max(side.range_max(lo, hi) * inv_z),
        (Aggregate::Max, false) => *acc = acc.max(side.range_max(lo, hi)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::attention_map;
    use crate::pe::{Content, PositionMap, Scheme, scaling::RopeScaling};

    fn schemes() -> Vec<Scheme> {
        vec![
            Scheme::NoPe,
            Scheme::Alibi { slope: 0.25 },
            Scheme::Rope {
                base: 10_000.0,
                scaling: RopeScaling::None,
                map: PositionMap::Identity,
            },
            Scheme::Rope {
                base: 100.0,
                scaling: RopeScaling::None,
                map: PositionMap::Identity,
            },
        ]
    }

    /// Spread over several calls (as the engine does across frames), the job gives exactly the
    /// map computed in one go.
    #[test]
    fn a_job_in_chunks_equals_the_map_in_one_go() {
        let prepared = PreparedLogits::new(&schemes()[2], &Content::Identical, 32, 300).expect("prepared");
        let rel = relative_table(&prepared, 300).expect("relative");
        for (causal, aggregate) in [(true, Aggregate::Mean), (false, Aggregate::Max)] {
            let req = MapRequest {
                n: 300,
                causal,
                softmax: true,
                out_side: 97,
                aggregate,
                train_len: 40,
            };
            let whole = compute(&rel, &req).expect("map");
            let mut job = RelativeJob::new(&rel, &req).expect("job");
            assert_eq!(job.work_per_block_row(), 300_usize.div_ceil(97) * 97);
            let mut calls = 0;
            while !job.is_done() {
                let before = job.progress();
                job.block_rows(10);
                assert!(job.progress() > before);
                calls += 1;
            }
            assert_eq!(calls, 10, "97 block rows, 10 at a time");
            let chunked = job.finish();
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

    /// The fast path equals the row-by-row path: every cell, the colour range, the entropy and
    /// the mass past L_train, for causal and bidirectional maps, softmax and logits, mean and
    /// max blocks, sides that do and do not divide N.
    #[test]
    fn equals_the_row_by_row_path() {
        for scheme in schemes() {
            for (n, side) in [(1, 1), (7, 7), (50, 16), (130, 64), (300, 97), (512, 512)] {
                let prepared = PreparedLogits::new(&scheme, &Content::Identical, 32, n).expect("prepared");
                let rel = relative_table(&prepared, n).expect("relative");
                for causal in [true, false] {
                    for softmax in [true, false] {
                        for aggregate in [Aggregate::Mean, Aggregate::Max] {
                            let req = MapRequest {
                                n,
                                causal,
                                softmax,
                                out_side: side,
                                aggregate,
                                train_len: n / 3,
                            };
                            let what = format!("{scheme:?} n={n} side={side} {req:?}");
                            let exact = attention_map::compute(&prepared, &req).expect("exact");
                            let fast = compute(&rel, &req).unwrap_or_else(|| panic!("{what}: no fast map"));
                            assert_eq!(
                                (fast.rows, fast.cols, fast.n),
                                (exact.rows, exact.cols, exact.n),
                                "{what}"
                            );
                            for (i, (a, b)) in fast.values.iter().zip(&exact.values).enumerate() {
                                assert_eq!(a.is_nan(), b.is_nan(), "{what} cell {i}: {a} vs {b}");
                                if b.is_finite() {
                                    assert!((a - b).abs() <= 2e-6 * (1.0 + b.abs()), "{what} cell {i}: {a} vs {b}");
                                }
                            }
                            assert!(
                                (fast.mean_entropy_nats - exact.mean_entropy_nats).abs() < 1e-5,
                                "{what}: entropy {} vs {}",
                                fast.mean_entropy_nats,
                                exact.mean_entropy_nats
                            );
                            match (fast.mass_beyond_train, exact.mass_beyond_train) {
                                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-5, "{what}: beyond {a} vs {b}"),
                                (a, b) => assert_eq!(a.is_some(), b.is_some(), "{what}"),
                            }
                            let (r0, r1) = (fast.range, exact.range);
                            assert!(
                                (r0.0 - r1.0).abs() <= 2e-6 * (1.0 + r1.0.abs())
                                    && (r0.1 - r1.1).abs() <= 2e-6 * (1.0 + r1.1.abs()),
                                "{what}: range {r0:?} vs {r1:?}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The GPU's table: each window's sum (or maximum) equals the one taken cell by cell over
    /// the weights `E`, clipped at the diagonal, for both block widths and both sides; `1 / Z`
    /// follows; f32 refuses what would underflow.
    #[test]
    fn the_device_table_holds_every_windows_sum_and_max() {
        let n = 300;
        let prepared = PreparedLogits::new(&schemes()[2], &Content::Identical, 32, n).expect("prepared");
        let rel = relative_table(&prepared, n).expect("relative");
        let g = rel.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        // E at past distance d (key q − d) and future distance d (key q + d).
        let e_past = |d: usize| (f64::from(rel[n - 1 - d]) - g).exp();
        let e_future = |d: usize| (f64::from(rel[n - 1 + d]) - g).exp();
        for aggregate in [Aggregate::Mean, Aggregate::Max] {
            let req = MapRequest {
                n,
                causal: false,
                softmax: true,
                out_side: 64, // widths 4 and 5
                aggregate,
                train_len: 0,
            };
            let pre = RelativePrefix::new(&rel, &req).expect("prefix");
            let table = pre.device_table().expect("f32 carries it");
            assert_eq!(table.len(), 5 * n);
            let fold = |vals: Vec<f64>| match aggregate {
                Aggregate::Mean => vals.iter().sum::<f64>(),
                Aggregate::Max => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            };
            for (i, w) in [4_usize, 5].into_iter().enumerate() {
                for t in [0, 1, 3, 4, 5, 150, n - 1] {
                    let past = fold(((t + 1).saturating_sub(w)..=t).map(e_past).collect());
                    let got = f64::from(table[i * n + t]);
                    assert!(
                        (got - past).abs() <= 1e-6 * past,
                        "{aggregate:?} w={w} past t={t}: {got} vs {past}"
                    );
                    if t >= 1 {
                        let future = fold(((t + 1).saturating_sub(w).max(1)..=t).map(e_future).collect());
                        let got = f64::from(table[(2 + i) * n + t]);
                        assert!(
                            (got - future).abs() <= 1e-6 * future,
                            "{aggregate:?} w={w} future t={t}: {got} vs {future}"
                        );
                    }
                }
            }
            assert_eq!(table[4 * n + 7], pre.inv_z[7] as f32);
        }
        // Query 0 of a causal softmax map sees one logit 50 below the largest: refused in f32
        // (not in f64), while its logits carry fine.
        let mut steep = vec![-50.0_f32; 2 * 64 - 1];
        steep[0] = 0.0;
        let req = MapRequest {
            n: 64,
            causal: true,
            softmax: true,
            out_side: 16,
            aggregate: Aggregate::Mean,
            train_len: 0,
        };
        assert!(RelativePrefix::new(&steep, &req).expect("f64").device_table().is_none());
        let logits = MapRequest { softmax: false, ..req };
        assert!(
            RelativePrefix::new(&steep, &logits)
                .expect("f64")
                .device_table()
                .is_some()
        );
    }

    #[test]
    fn refuses_what_it_cannot_do_exactly() {
        let req = MapRequest {
            n: 4,
            causal: true,
            softmax: true,
            out_side: 4,
            aggregate: Aggregate::Mean,
            train_len: 0,
        };
        // Wrong length, a non-finite logit.
        assert!(compute(&[0.0; 6], &req).is_none());
        assert!(compute(&[0.0, 0.0, 0.0, f32::NAN, 0.0, 0.0, 0.0], &req).is_none());
        // Query 0 sees only distance 0, 1000 logits below the largest: E would underflow.
        let steep = [0.0, 0.0, 0.0, -1000.0, 0.0, 0.0, 0.0];
        let mut rel = steep;
        rel[2] = 0.0;
        assert!(compute(&rel, &req).is_none());
        // Absolute schemes have no relative table.
        let sin = PreparedLogits::new(
            &Scheme::Sinusoidal {
                layout: Default::default(),
            },
            &Content::Identical,
            16,
            40,
        )
        .expect("ok");
        assert!(relative_table(&sin, 40).is_none());
    }
}
