//! Attention logits for every scheme: [`PreparedLogits`] turns a [`Scheme`] and a [`Content`]
//! into rows of `q·k / √d` (+ bias), softmax probabilities, entropies and mass by distance.
//!
//! # Hot path
//! [`PreparedLogits::new`] precomputes everything that does not depend on the row, so
//! [`PreparedLogits::logits_row`] costs:
//! * `O(n_keys)` when the logit depends only on the (possibly remapped) distance — identical
//!   tokens with any relative scheme (NoPE, T5, ALiBi, KERPLE, RoPE, xPos): one table lookup per
//!   key;
//! * `O(n_keys · d)` otherwise (per-position tokens, or absolute sinusoidal encodings): one dot
//!   product per key against pre-encoded `f32` vectors.
//!
//! Logits are `q·k / √d` (+ bias). q and k come from a [`Content`] with identity projections
//! (`q_n = k_n = x_n`), which keeps the pictures easy to explain.

use super::alibi;
use super::diagnostics::{accumulate_mass_by_distance, softmax_in_place, softmax_with_entropy};
use super::lanes;
use super::position_maps::PositionMap;
use super::rope::RopeLayout;
use super::rotation_table::{PairTable, clamp_f32};
use super::scaling::rope_inv_freq;
use super::scheme::{Content, Scheme};
use super::sinusoidal::encode_into;
use super::xpos::XPos;
use super::{PeError, check_head_dim, check_len};
use crate::rng::SplitMix64;

/// Largest `n_max × head_dim` a prepared map may use (keeps its tables ≤ 64 MiB each).
pub const MAX_PREPARED_CELLS: usize = 1 << 24;

#[derive(Debug, Clone)]
enum Kernel {
    /// `logit = table[key + offset]`.
    Relative { table: Vec<f32> },
    /// `logit = q_m · k_n (+ bias[m − n + offset])`, `1/√d` folded into `q`.
    Dot {
        q: Vec<f32>,
        k: Vec<f32>,
        bias: Option<Vec<f32>>,
    },
    /// `logit = Σ_i P_i C_i(key) + S_i S_i(key)` with pair products of the raw q/k
    /// (`cs` holds `(C_i, S_i)` per key, `1/√d` and attention factor folded in).
    Pair { q: Vec<f32>, k: Vec<f32>, cs: Vec<f32> },
}

/// Everything needed to produce attention-logit rows for one scheme, content and size.
#[derive(Debug, Clone)]
pub struct PreparedLogits {
    n_max: usize,
    head_dim: usize,
    map: PositionMap,
    /// Index of key 0 in the relative tables (`n_max − 1`).
    offset: usize,
    kernel: Kernel,
}

impl PreparedLogits {
    /// Prepares logits for positions `0..n_max` (1..=65 536) with `head_dim` (even, ≥ 2) and
    /// `n_max × head_dim ≤` [`MAX_PREPARED_CELLS`]. Validates every scheme and content parameter.
    pub fn new(scheme: &Scheme, content: &Content, head_dim: usize, n_max: usize) -> Result<Self, PeError> {
        check_head_dim(head_dim)?;
        check_len("n_max", n_max)?;
        if n_max * head_dim > MAX_PREPARED_CELLS {
            return Err(PeError::invalid(
                "n_max",
                n_max,
                format!(
                    "at most {} for head_dim {head_dim} (n_max × head_dim ≤ {MAX_PREPARED_CELLS})",
                    MAX_PREPARED_CELLS / head_dim
                ),
            ));
        }
        let x = TokenRows::new(content, head_dim, n_max)?;
        let offset = n_max - 1;
        let inv_sqrt_d = 1.0 / (head_dim as f64).sqrt();
        let mut map = PositionMap::Identity;

        // Content-free relative bias as a function of Δ = m − n, if the scheme has one.
        let bias_fn: Option<Box<dyn Fn(i64) -> f64>> = match scheme {
            Scheme::NoPe | Scheme::Sinusoidal { .. } | Scheme::Rope { .. } | Scheme::XPos { .. } => None,
            Scheme::T5(t5) => {
                let t5 = t5.clone();
                Some(Box::new(move |delta| t5.values()[t5.buckets().bucket(-delta)] as f64))
            }
            Scheme::Alibi { slope } => {
                if !slope.is_finite() || *slope < 0.0 {
                    return Err(PeError::invalid("slope", slope, "a finite number >= 0"));
                }
                let slope = *slope;
                Some(Box::new(move |delta: i64| {
                    alibi::bias(slope, delta.unsigned_abs() as usize, 0)
                }))
            }
            Scheme::Kerple(k) => {
                let k = *k;
                Some(Box::new(move |delta: i64| k.bias(delta.unsigned_abs() as usize, 0)))
            }
        };
        let bias_table = |max_key: i64| -> Option<Vec<f32>> {
            bias_fn
                .as_ref()
                .map(|f| (-(offset as i64)..=max_key).map(|k| f(k) as f32).collect())
        };

        let kernel = match scheme {
            Scheme::NoPe | Scheme::T5(_) | Scheme::Alibi { .. } | Scheme::Kerple(_) => {
                if let Some(x0) = x.identical() {
                    let content = dot_f64(x0, x0) * inv_sqrt_d;
                    let table = (-(offset as i64)..=offset as i64)
                        .map(|k| (content + bias_fn.as_ref().map_or(0.0, |f| f(k))) as f32)
                        .collect();
                    Kernel::Relative { table }
                } else {
                    let (q, k) = x.encoded(|_, v, _, out| out.copy_from_slice(v), inv_sqrt_d);
                    Kernel::Dot {
                        q,
                        k,
                        bias: bias_table(offset as i64),
                    }
                }
            }
            Scheme::Sinusoidal { layout } => {
                let mut pe = vec![0.0; head_dim];
                let layout = *layout;
                let (q, k) = x.encoded(
                    |pos, v, _, out| {
                        encode_into(pos as f64, layout, &mut pe);
                        for ((o, a), b) in out.iter_mut().zip(v).zip(&pe) {
                            *o = a + b;
                        }
                    },
                    inv_sqrt_d,
                );
                Kernel::Dot { q, k, bias: None }
            }
            Scheme::Rope { base, scaling, map: m } => {
                m.validate()?;
                map = *m;
                let freqs = rope_inv_freq(head_dim, *base, scaling, n_max)?;
                let af2 = freqs.attention_factor * freqs.attention_factor;
                if map.is_identity() && x.identical().is_none() {
                    let af = freqs.attention_factor;
                    // Positions are visited in order 0, 1, 2, …: each pair's (cos pθ, sin pθ)
                    // advances by one complex multiplication instead of a sin/cos per position
                    // (relative error ~1e-12 after 65 536 steps in f64).
                    let half = head_dim / 2;
                    let step: Vec<(f64, f64)> = freqs.inv_freq.iter().map(|t| t.sin_cos()).collect();
                    let mut rot: Vec<(f64, f64)> = vec![(0.0, 1.0); half];
                    let mut at = 0;
                    let (q, k) = x.encoded(
                        |pos, v, is_query, out| {
                            if pos != at {
                                // Not the next position (never happens): exact rotation.
                                rot = freqs.inv_freq.iter().map(|t| (pos as f64 * t).sin_cos()).collect();
                                at = pos;
                            }
                            for (i, &(s, c)) in rot.iter().enumerate() {
                                let (a, b) = (v[i], v[i + half]);
                                out[i] = af * (a * c - b * s);
                                out[i + half] = af * (b * c + a * s);
                            }
                            // Advance after the last vector of this position.
                            let last = !is_query || !x.has_keys();
                            if last {
                                for (r, &(ds, dc)) in rot.iter_mut().zip(&step) {
                                    *r = (r.0 * dc + r.1 * ds, r.1 * dc - r.0 * ds);
                                }
                                at += 1;
                            }
                        },
                        inv_sqrt_d,
                    );
                    Kernel::Dot { q, k, bias: None }
                } else {
                    let table = PairTable {
                        inv_freq: &freqs.inv_freq,
                        gain: af2 * inv_sqrt_d,
                        decay: None,
                    };
                    pair_kernel(&x, &table, &map, RopeLayout::RotateHalf, n_max)
                }
            }
            Scheme::XPos { base, scale_base } => {
                let xp = XPos::new(head_dim, *base, *scale_base)?;
                let table = PairTable {
                    inv_freq: xp.inv_freq(),
                    gain: inv_sqrt_d,
                    decay: Some((xp.zeta(), xp.scale_base())),
                };
                pair_kernel(&x, &table, &map, RopeLayout::Interleaved, n_max)
            }
        };
        Ok(Self {
            n_max,
            head_dim,
            map,
            offset,
            kernel,
        })
    }

    /// Number of positions prepared.
    pub fn n_max(&self) -> usize {
        self.n_max
    }

    /// Head dimension.
    pub fn head_dim(&self) -> usize {
        self.head_dim
    }

    /// Work per (query, key) cell, in multiply-adds: 1 for a table lookup (relative scheme,
    /// identical tokens), `head_dim` for a dot product. Callers budget a map at
    /// `N² × cost_per_cell` (plus softmax, entropy and aggregation, a few operations per cell).
    pub fn cost_per_cell(&self) -> usize {
        match &self.kernel {
            Kernel::Relative { .. } => 1,
            Kernel::Dot { .. } | Kernel::Pair { .. } => self.head_dim,
        }
    }

    /// Writes the logits of query `query_pos` against keys `0..n_keys` into `out[..n_keys]`.
    /// Hidden cells (future keys when `causal`, or cells a non-identity position map hides;
    /// such maps are always causal) are `f32::NEG_INFINITY`.
    ///
    /// Errors if `query_pos ≥ n_max`, `n_keys > n_max` or `out.len() < n_keys`.
    pub fn logits_row(&self, query_pos: usize, n_keys: usize, causal: bool, out: &mut [f32]) -> Result<(), PeError> {
        if query_pos >= self.n_max {
            return Err(PeError::invalid(
                "query_pos",
                query_pos,
                format!("below n_max = {}", self.n_max),
            ));
        }
        if n_keys > self.n_max || out.len() < n_keys {
            return Err(PeError::invalid(
                "n_keys",
                n_keys,
                format!("at most n_max = {} and the buffer length {}", self.n_max, out.len()),
            ));
        }
        let out = &mut out[..n_keys];
        let m = query_pos;
        let d = self.head_dim;
        if self.map.is_identity() {
            let limit = if causal { (m + 1).min(n_keys) } else { n_keys };
            let (seen, hidden) = out.split_at_mut(limit);
            hidden.fill(f32::NEG_INFINITY);
            let base = m + self.offset; // index of key distance Δ = m − n at n = 0
            match &self.kernel {
                Kernel::Relative { table } => {
                    for (n, o) in seen.iter_mut().enumerate() {
                        *o = table[base - n];
                    }
                }
                Kernel::Dot { q, k, bias } => {
                    let qm = &q[m * d..(m + 1) * d];
                    for (o, kn) in seen.iter_mut().zip(k.chunks_exact(d)) {
                        *o = lanes::dot(qm, kn);
                    }
                    if let Some(b) = bias {
                        for (n, o) in seen.iter_mut().enumerate() {
                            *o += b[base - n];
                        }
                    }
                }
                Kernel::Pair { q, k, cs } => {
                    let qm = &q[m * d..(m + 1) * d];
                    for (n, (o, kn)) in seen.iter_mut().zip(k.chunks_exact(d)).enumerate() {
                        let row = base - n;
                        *o = lanes::pair_dot(qm, kn, &cs[row * d..(row + 1) * d]);
                    }
                }
            }
        } else {
            for (n, o) in out.iter_mut().enumerate() {
                *o = match self.map.table_key(m, n) {
                    None => f32::NEG_INFINITY,
                    Some(key) => {
                        let row = (key + self.offset as i64) as usize;
                        match &self.kernel {
                            Kernel::Relative { table } => table[row],
                            Kernel::Pair { q, k, cs } => lanes::pair_dot(
                                &q[m * d..(m + 1) * d],
                                &k[n * d..(n + 1) * d],
                                &cs[row * d..(row + 1) * d],
                            ),
                            // Dot kernels are only built for the identity map.
                            Kernel::Dot { .. } => f32::NEG_INFINITY,
                        }
                    }
                };
            }
        }
        Ok(())
    }

    /// Attention probabilities of one row: [`Self::logits_row`] then [`softmax_in_place`].
    pub fn probs_row(&self, query_pos: usize, n_keys: usize, causal: bool, out: &mut [f32]) -> Result<(), PeError> {
        self.logits_row(query_pos, n_keys, causal, out)?;
        softmax_in_place(&mut out[..n_keys]);
        Ok(())
    }

    /// Attention entropy (nats) of every query `0..n` over keys `0..n`.
    pub fn entropy_by_query(&self, n: usize, causal: bool) -> Result<Vec<f64>, PeError> {
        let mut row = vec![0.0f32; n];
        (0..n)
            .map(|m| {
                self.logits_row(m, n, causal, &mut row)?;
                Ok(softmax_with_entropy(&mut row))
            })
            .collect()
    }

    /// Mean attention mass at each causal distance `0..n` over queries `0..n` (each query's
    /// row sums to 1, so the result sums to 1 when nothing is masked out entirely).
    pub fn mean_mass_by_distance(&self, n: usize) -> Result<Vec<f64>, PeError> {
        let mut row = vec![0.0f32; n];
        let mut acc = vec![0.0f64; n];
        for m in 0..n {
            self.probs_row(m, n, true, &mut row)?;
            accumulate_mass_by_distance(&row, m, &mut acc);
        }
        let inv = 1.0 / n.max(1) as f64;
        acc.iter_mut().for_each(|v| *v *= inv);
        Ok(acc)
    }
}

/// Builds the pair-form kernel, or a relative table when the content is identical.
fn pair_kernel(x: &TokenRows, table: &PairTable<'_>, map: &PositionMap, layout: RopeLayout, n_max: usize) -> Kernel {
    let d = x.head_dim;
    let offset = n_max - 1;
    let max_key = map.max_key(n_max);
    // Raw q/k reordered so pair i sits at (2i, 2i+1).
    let to_pairs = |v: &[f64]| -> Vec<f64> {
        let mut out = vec![0.0; d];
        for i in 0..d / 2 {
            let (a, b) = layout.pair(d, i);
            out[2 * i] = v[a];
            out[2 * i + 1] = v[b];
        }
        out
    };
    if let Some(x0) = x.identical() {
        // q = k: the S term vanishes, and each key's logit is Σ_i (a_i² + b_i²)·gain·C_i — summed
        // straight from the stepped rotation, without storing the (C_i, S_i) table.
        let weight: Vec<f64> = to_pairs(x0)
            .chunks_exact(2)
            .map(|p| p[0] * p[0] + p[1] * p[1])
            .collect();
        let mut rows = Vec::with_capacity((offset as i64 + max_key + 1).max(0) as usize);
        table.for_each_key(map, offset, max_key, |at| {
            let acc: f64 = at
                .iter()
                .zip(&weight)
                .map(|(&(c, _, z), w)| w * clamp_f32(table.gain * z * c) as f64)
                .sum();
            rows.push(acc as f32);
        });
        Kernel::Relative { table: rows }
    } else {
        // (C_i, S_i) per key, pairs contiguous.
        let cs = table.stepped_cs(map, offset, max_key);
        let (q, k) = x.encoded(|_, v, _, out| out.copy_from_slice(&to_pairs(v)), 1.0);
        Kernel::Pair { q, k, cs }
    }
}

fn dot_f64(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Token vectors per position (`f64`), or a single shared one.
struct TokenRows {
    head_dim: usize,
    n_max: usize,
    /// One row (identical tokens), `period` rows (repeating) or `n_max` rows.
    rows: Vec<f64>,
    /// For explicit content: separate keys.
    keys: Option<Vec<f64>>,
    /// Rows cycle with this period; 0 means a single shared token.
    period: usize,
}

impl TokenRows {
    fn new(content: &Content, head_dim: usize, n_max: usize) -> Result<Self, PeError> {
        // Random token entries: uniform on [−√3, √3] (mean 0, variance 1), one draw each. The
        // logits are sums of `head_dim` such products, near-Gaussian already (central limit);
        // Gaussian entries cost a logarithm and a sine per pair, ~70 ms at N = 8192, d = 256 in
        // the browser, more than a frame's work budget.
        let gaussian = |count: usize, seed: u64| -> Vec<f64> {
            let mut rng = SplitMix64::new(seed);
            let half_width = 3f64.sqrt();
            (0..count * head_dim)
                .map(|_| (2.0 * rng.next_open01() - 1.0) * half_width)
                .collect()
        };
        let (rows, keys, period) = match content {
            Content::Identical => (vec![1.0; head_dim], None, 0),
            Content::Random { seed } => (gaussian(n_max, *seed), None, n_max),
            Content::Repeating { period, seed } => {
                if *period == 0 || *period > n_max {
                    return Err(PeError::invalid(
                        "period",
                        period,
                        format!("an integer in 1..={n_max} (n_max)"),
                    ));
                }
                (gaussian(*period, *seed), None, *period)
            }
            Content::Explicit { q, k } => {
                for (name, v) in [("q", q), ("k", k)] {
                    if v.len() != n_max * head_dim {
                        return Err(PeError::invalid(
                            name,
                            format!("{} values", v.len()),
                            format!("exactly n_max × head_dim = {} values", n_max * head_dim),
                        ));
                    }
                    if v.iter().any(|x| !x.is_finite()) {
                        return Err(PeError::invalid(name, "a non-finite entry", "finite numbers"));
                    }
                }
                let widen = |v: &Vec<f32>| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
                (widen(q), Some(widen(k)), n_max)
            }
        };
        Ok(Self {
            head_dim,
            n_max,
            rows,
            keys,
            period,
        })
    }

    /// The shared token when every position holds the same q = k.
    fn identical(&self) -> Option<&[f64]> {
        (self.period == 0).then_some(&self.rows[..])
    }

    /// Whether keys differ from queries (explicit content), so each position is encoded twice.
    fn has_keys(&self) -> bool {
        self.keys.is_some()
    }

    fn query(&self, pos: usize) -> &[f64] {
        let r = if self.period == 0 { 0 } else { pos % self.period };
        &self.rows[r * self.head_dim..(r + 1) * self.head_dim]
    }

    fn key(&self, pos: usize) -> &[f64] {
        match &self.keys {
            Some(k) => &k[pos * self.head_dim..(pos + 1) * self.head_dim],
            None => self.query(pos),
        }
    }

    /// Encodes every position's q and k with `f(pos, vector, is_query, out)` (writing the
    /// encoded vector into `out`), scaling q by `q_scale`, as flat `f32` `[n_max][head_dim]`
    /// arrays. Where keys equal queries (all but explicit content) each position is encoded
    /// once and used for both.
    fn encoded(&self, mut f: impl FnMut(usize, &[f64], bool, &mut [f64]), q_scale: f64) -> (Vec<f32>, Vec<f32>) {
        let mut q = Vec::with_capacity(self.n_max * self.head_dim);
        let mut k = Vec::with_capacity(self.n_max * self.head_dim);
        let mut out = vec![0.0; self.head_dim];
        for pos in 0..self.n_max {
            f(pos, self.query(pos), true, &mut out);
            q.extend(out.iter().map(|&v| (v * q_scale) as f32));
            if self.keys.is_some() {
                f(pos, self.key(pos), false, &mut out);
            }
            k.extend(out.iter().map(|&v| v as f32));
        }
        (q, k)
    }
}

#[cfg(test)]
#[path = "logits_tests.rs"]
mod tests;
