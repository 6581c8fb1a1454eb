//! Diagnostics the views compute: RoPE wavelengths and turns, unseen-angle pairs, attention
//! logits for every scheme, a stable softmax, attention entropy and attention mass by distance.
//!
//! The unseen-angle diagnosis follows the RoPE-extrapolation analyses of Chen et al. 2023
//! ("Extending Context Window of Large Language Models via Positional Interpolation") and Peng et
//! al. 2023 (YaRN); position-bias diagnostics (mass vs distance) follow Wang et al. 2024
//! ("Eliminating Position Bias of Language Models: A Mechanistic Approach", PINE).
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
use super::kerple::KerpleLog;
use super::position_maps::PositionMap;
use super::rope::{RopeLayout, rotate_into};
use super::scaling::{RopeScaling, rope_inv_freq};
use super::sinusoidal::{SinusoidalLayout, encode_into};
use super::t5::T5Bias;
use super::xpos::XPos;
use super::{PeError, check_head_dim, check_len};
use crate::rng::SplitMix64;
use std::f64::consts::TAU;

/// Wavelength `λ_i = 2π / θ_i` of each pair, in tokens (`∞` for `θ_i = 0`).
pub fn wavelengths(inv_freq: &[f64]) -> Vec<f64> {
    inv_freq.iter().map(|&t| TAU / t).collect()
}

/// Turns `L · θ_i / 2π` (= `L / λ_i`) pair `i` completes within `len` tokens.
pub fn turns_within(inv_freq: &[f64], len: usize) -> Vec<f64> {
    inv_freq.iter().map(|&t| len as f64 * t / TAU).collect()
}

/// Pairs that see angles never seen in training when run at `eval_len` with frequencies `used`
/// after training at `train_len` with frequencies `trained`.
///
/// Pair `i` is flagged when it never completed a turn in training (`L_o · θ_i < 2π`, so only
/// angles up to `L_o · θ_i` were seen) and the evaluation reaches further
/// (`L · θ'_i > L_o · θ_i`). Pairs that completed a turn have seen every angle. Lengths of the
/// two slices must match; extra entries of the longer one are ignored.
pub fn unseen_angle_pairs(trained: &[f64], train_len: usize, used: &[f64], eval_len: usize) -> Vec<bool> {
    trained
        .iter()
        .zip(used)
        .map(|(&t, &u)| {
            let seen = train_len as f64 * t;
            seen < TAU && eval_len as f64 * u > seen
        })
        .collect()
}

/// Numerically stable softmax of one row, in place.
///
/// Subtracts the row maximum before `exp` and sums in `f64`, so rows stay finite and sum to 1 for
/// logits anywhere in `±1e30` and rows up to 65 536 long. Probabilities below `e^−87` (under
/// `f32`'s normal range) are flushed to 0. `NaN` entries count as masked
/// (`−∞`). If some entries are `+∞`, they share the mass equally and all others get 0.
/// **A fully masked row (all `−∞`/`NaN`) or an empty row becomes all zeros** (sums to 0, no NaN),
/// meaning "this query attends to nothing".
pub fn softmax_in_place(row: &mut [f32]) {
    let mut max = f32::NEG_INFINITY;
    for v in row.iter_mut() {
        if v.is_nan() {
            *v = f32::NEG_INFINITY;
        }
        max = max.max(*v);
    }
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    if max == f32::INFINITY {
        for v in row.iter_mut() {
            *v = if *v == f32::INFINITY { 1.0 } else { 0.0 };
        }
    } else {
        for v in row.iter_mut() {
            let z = *v - max;
            // Below −87 the result is under f32's normal range: flush to 0 rather than take
            // libm's slow subnormal path (also skips masked −∞ entries).
            *v = if z < -87.0 { 0.0 } else { z.exp() };
        }
    }
    let sum: f64 = row.iter().map(|&v| v as f64).sum();
    // sum ≥ 1 because the maximum contributes exp(0) = 1.
    let inv = (1.0 / sum) as f32;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// Shannon entropy `−Σ p ln p` (nats) of a probability row; zeros contribute nothing.
pub fn entropy(probs: &[f32]) -> f64 {
    probs
        .iter()
        .filter(|&&p| p > 0.0)
        .map(|&p| {
            let p = p as f64;
            -p * p.ln()
        })
        .sum()
}

/// Adds the attention mass of a probability row for query `query_pos` into `by_distance`,
/// indexed by `m − n` for keys `n ≤ m` (distances beyond `by_distance.len()` are dropped).
/// Returns the mass on future keys (`n > m`), which has no causal distance.
pub fn accumulate_mass_by_distance(probs: &[f32], query_pos: usize, by_distance: &mut [f64]) -> f64 {
    let mut future = 0.0;
    for (n, &p) in probs.iter().enumerate() {
        if n > query_pos {
            future += p as f64;
        } else if let Some(slot) = by_distance.get_mut(query_pos - n) {
            *slot += p as f64;
        }
    }
    future
}

/// Token content feeding q and k (identity projections: `q_n = k_n = x_n`).
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Every position holds the same token, the all-ones vector (RoFormer's long-term-decay
    /// setting). Relative schemes then give logits that depend only on distance.
    Identical,
    /// Independent standard-normal tokens per position, reproducible from `seed`.
    Random {
        /// Seed of the generator.
        seed: u64,
    },
    /// `period` standard-normal tokens repeated cyclically (`x_n = X[n mod period]`).
    Repeating {
        /// Pattern length, 1..=`n_max`.
        period: usize,
        /// Seed of the generator.
        seed: u64,
    },
    /// Caller-supplied q and k, row-major `[n_max][head_dim]` each.
    Explicit {
        /// Queries.
        q: Vec<f32>,
        /// Keys.
        k: Vec<f32>,
    },
}

/// A positional scheme whose attention logits the views draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Scheme {
    /// No positional signal.
    NoPe,
    /// Sinusoidal absolute encoding added to the token (`q_n = k_n = x_n + PE_n`).
    Sinusoidal {
        /// Table layout (does not change logits, kept for labelling).
        layout: SinusoidalLayout,
    },
    /// T5 bucketed bias for one head.
    T5(T5Bias),
    /// ALiBi with one head's slope (see [`alibi::slopes`]).
    Alibi {
        /// Slope ≥ 0.
        slope: f64,
    },
    /// RoPE with optional frequency scaling and inference-time position map. Dynamic NTK and
    /// LongRoPE see `seq_len = n_max`.
    Rope {
        /// Base `b` > 1.
        base: f64,
        /// Frequency scaling.
        scaling: RopeScaling,
        /// Position map (LM-Infinite, SelfExtend, ReRoPE, …); non-identity maps are causal.
        map: PositionMap,
    },
    /// xPos (meant for causal use: with `causal = false` the key scale grows without bound).
    XPos {
        /// Base `b` > 1.
        base: f64,
        /// Scale base `γ` (512).
        scale_base: f64,
    },
    /// KERPLE logarithmic bias.
    Kerple(KerpleLog),
}

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

/// Per-pair gain and angle for a relative rotation table.
struct PairTable<'a> {
    inv_freq: &'a [f64],
    /// `gain(i, distance)` multiplies both cos and sin of pair `i`.
    gain: &'a dyn Fn(usize, f64) -> f64,
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
                    let (q, k) = x.encoded(|_, v, _| v.to_vec(), inv_sqrt_d);
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
                    |pos, v, _| {
                        encode_into(pos as f64, layout, &mut pe);
                        v.iter().zip(&pe).map(|(a, b)| a + b).collect()
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
                    let mut out = vec![0.0; head_dim];
                    let (q, k) = x.encoded(
                        |pos, v, _| {
                            // Valid by construction: v has head_dim entries, finite values.
                            match rotate_into(v, pos as f64, &freqs.inv_freq, af, RopeLayout::RotateHalf, &mut out) {
                                Ok(()) => out.clone(),
                                Err(_) => vec![0.0; head_dim],
                            }
                        },
                        inv_sqrt_d,
                    );
                    Kernel::Dot { q, k, bias: None }
                } else {
                    let gain = move |_: usize, _: f64| af2 * inv_sqrt_d;
                    let table = PairTable {
                        inv_freq: &freqs.inv_freq,
                        gain: &gain,
                    };
                    pair_kernel(&x, &table, &map, RopeLayout::RotateHalf, n_max)
                }
            }
            Scheme::XPos { base, scale_base } => {
                let xp = XPos::new(head_dim, *base, *scale_base)?;
                let gain = |i: usize, dist: f64| xp.decay(i, dist) * inv_sqrt_d;
                let table = PairTable {
                    inv_freq: xp.inv_freq(),
                    gain: &gain,
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
                        *o = dot_f32(qm, kn);
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
                        *o = pair_dot(qm, kn, &cs[row * d..(row + 1) * d]);
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
                            Kernel::Pair { q, k, cs } => pair_dot(
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
                self.probs_row(m, n, causal, &mut row)?;
                Ok(entropy(&row))
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
    // (C_i, S_i) per key, pairs contiguous.
    let mut cs = Vec::with_capacity((offset + max_key as usize + 1) * d);
    for key in -(offset as i64)..=max_key {
        let dist = map.key_distance(key);
        for (i, &theta) in table.inv_freq.iter().enumerate() {
            let g = (table.gain)(i, dist);
            let (s, c) = (dist * theta).sin_cos();
            cs.push(clamp_f32(g * c));
            cs.push(clamp_f32(g * s));
        }
    }
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
        let p = to_pairs(x0);
        let row = |r: usize| -> f32 {
            let c = &cs[r * d..(r + 1) * d];
            let mut acc = 0.0f64;
            for i in 0..d / 2 {
                let (a, b) = (p[2 * i], p[2 * i + 1]);
                acc += (a * a + b * b) * c[2 * i] as f64; // S term vanishes for q = k
            }
            acc as f32
        };
        Kernel::Relative {
            table: (0..cs.len() / d).map(row).collect(),
        }
    } else {
        let (q, k) = x.encoded(|_, v, _| to_pairs(v), 1.0);
        Kernel::Pair { q, k, cs }
    }
}

fn clamp_f32(v: f64) -> f32 {
    v.clamp(f32::MIN as f64, f32::MAX as f64) as f32
}

#[inline]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    // Four accumulators let the compiler vectorise without reassociation flags.
    let mut acc = [0.0f32; 4];
    let (ac, ar) = a.split_at(a.len() / 4 * 4);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(4).zip(bc.chunks_exact(4)) {
        for j in 0..4 {
            acc[j] += x[j] * y[j];
        }
    }
    let tail: f32 = ar.iter().zip(br).map(|(x, y)| x * y).sum();
    acc[0] + acc[1] + acc[2] + acc[3] + tail
}

#[inline]
fn pair_dot(q: &[f32], k: &[f32], cs: &[f32]) -> f32 {
    let mut acc = 0.0f32;
    for ((qp, kp), c) in q.chunks_exact(2).zip(k.chunks_exact(2)).zip(cs.chunks_exact(2)) {
        let p = qp[0] * kp[0] + qp[1] * kp[1];
        let s = qp[0] * kp[1] - qp[1] * kp[0];
        acc += p * c[0] + s * c[1];
    }
    acc
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
        let gaussian = |count: usize, seed: u64| -> Vec<f64> {
            let mut rng = SplitMix64::new(seed);
            (0..count * head_dim).map(|_| rng.next_gaussian()).collect()
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

    /// Encodes every position's q and k with `f(pos, vector, is_query)`, scaling q by
    /// `q_scale`, as flat `f32` `[n_max][head_dim]` arrays.
    fn encoded(&self, mut f: impl FnMut(usize, &[f64], bool) -> Vec<f64>, q_scale: f64) -> (Vec<f32>, Vec<f32>) {
        let mut q = Vec::with_capacity(self.n_max * self.head_dim);
        let mut k = Vec::with_capacity(self.n_max * self.head_dim);
        for pos in 0..self.n_max {
            q.extend(f(pos, self.query(pos), true).iter().map(|&v| (v * q_scale) as f32));
            k.extend(f(pos, self.key(pos), false).iter().map(|&v| v as f32));
        }
        (q, k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::rope::{default_inv_freq, score};
    use crate::pe::t5::T5Buckets;
    use proptest::prelude::*;

    fn row(p: &PreparedLogits, m: usize, n: usize, causal: bool) -> Vec<f32> {
        let mut out = vec![0.0; n];
        p.logits_row(m, n, causal, &mut out).unwrap();
        out
    }

    fn rope(scaling: RopeScaling, map: PositionMap) -> Scheme {
        Scheme::Rope {
            base: 10_000.0,
            scaling,
            map,
        }
    }

    #[test]
    fn wavelengths_turns_and_unseen_pairs() {
        let f = default_inv_freq(4, 100.0).unwrap(); // θ = [1, 0.1]
        let w = wavelengths(&f);
        assert!((w[0] - TAU).abs() < 1e-12 && (w[1] - 10.0 * TAU).abs() < 1e-9);
        let t = turns_within(&f, 31);
        assert!((t[0] - 31.0 / TAU).abs() < 1e-12 && (t[1] - 3.1 / TAU).abs() < 1e-12);
        // L_o = 31: pair 0 turned ~4.9 times, pair 1 only 0.49 of a turn.
        assert_eq!(unseen_angle_pairs(&f, 31, &f, 64), [false, true]);
        assert_eq!(unseen_angle_pairs(&f, 31, &f, 31), [false, false]);
        // Position Interpolation by 4 keeps length 124 inside the trained angles.
        let pi: Vec<f64> = f.iter().map(|t| t / 4.0).collect();
        assert_eq!(unseen_angle_pairs(&f, 31, &pi, 124), [false, false]);
        assert_eq!(unseen_angle_pairs(&f, 31, &pi, 125), [false, true]);
    }

    #[test]
    fn softmax_hand_derived_and_masked_rows() {
        let mut r = [0.0f32, 2f32.ln(), f32::NEG_INFINITY];
        softmax_in_place(&mut r);
        assert!((r[0] - 1.0 / 3.0).abs() < 1e-6 && (r[1] - 2.0 / 3.0).abs() < 1e-6);
        assert_eq!(r[2], 0.0);
        let mut all = [f32::NEG_INFINITY; 4];
        softmax_in_place(&mut all);
        assert_eq!(all, [0.0; 4]);
        let mut nan = [f32::NAN, 0.0];
        softmax_in_place(&mut nan);
        assert_eq!(nan, [0.0, 1.0]);
        let mut inf = [f32::INFINITY, 1.0, f32::INFINITY];
        softmax_in_place(&mut inf);
        assert_eq!(inf, [0.5, 0.0, 0.5]);
        let mut empty: [f32; 0] = [];
        softmax_in_place(&mut empty);
    }

    #[test]
    fn softmax_extreme_rows_stay_finite() {
        let n = 65_536;
        let mut r: Vec<f32> = (0..n).map(|i| if i % 2 == 0 { 1e30 } else { -1e30 }).collect();
        softmax_in_place(&mut r);
        let sum: f64 = r.iter().map(|&v| v as f64).sum();
        assert!(r.iter().all(|v| v.is_finite()));
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        assert!((r[0] as f64 - 2.0 / n as f64).abs() < 1e-9);
        assert_eq!(r[1], 0.0);
    }

    #[test]
    fn entropy_and_mass_by_distance() {
        assert!((entropy(&[0.25; 4]) - 4f64.ln()).abs() < 1e-7);
        assert_eq!(entropy(&[1.0, 0.0]), 0.0);
        let mut acc = vec![0.0; 3];
        let fut = accumulate_mass_by_distance(&[0.1, 0.2, 0.3, 0.4], 2, &mut acc);
        assert!((acc[0] - 0.3).abs() < 1e-7 && (acc[1] - 0.2).abs() < 1e-7 && (acc[2] - 0.1).abs() < 1e-7);
        assert!((fut - 0.4).abs() < 1e-7);
    }

    #[test]
    fn nope_identical_tokens_attend_uniformly_to_the_prefix() {
        let p = PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 8, 16).unwrap();
        let h = p.entropy_by_query(16, true).unwrap();
        for (m, e) in h.iter().enumerate() {
            assert!((e - ((m + 1) as f64).ln()).abs() < 1e-5);
        }
        let r = row(&p, 3, 6, true);
        // q·k/√d = 8/√8 = √8.
        assert!((r[0] - 8f32.sqrt()).abs() < 1e-5);
        assert_eq!(r[4], f32::NEG_INFINITY);
        assert_eq!(r[5], f32::NEG_INFINITY);
        assert!(row(&p, 3, 6, false).iter().all(|v| v.is_finite()));
    }

    #[test]
    fn alibi_and_kerple_rows_hand_derived() {
        let p = PreparedLogits::new(&Scheme::Alibi { slope: 0.5 }, &Content::Identical, 2, 8).unwrap();
        // content = (1 + 1)/√2 = √2; bias −0.5·(m − n).
        let r = row(&p, 4, 5, true);
        for (n, v) in r.iter().enumerate() {
            let want = 2f32.sqrt() - 0.5 * (4 - n) as f32;
            assert!((v - want).abs() < 1e-6, "{n}: {v}");
        }
        let k = KerpleLog::new(1.0, 1.0).unwrap();
        let p = PreparedLogits::new(&Scheme::Kerple(k), &Content::Random { seed: 3 }, 4, 8).unwrap();
        let nope = PreparedLogits::new(&Scheme::NoPe, &Content::Random { seed: 3 }, 4, 8).unwrap();
        let (a, b) = (row(&p, 5, 6, true), row(&nope, 5, 6, true));
        for n in 0..6 {
            let want = b[n] - (1.0 + (5 - n) as f32).ln();
            assert!((a[n] - want).abs() < 1e-5);
        }
    }

    #[test]
    fn t5_row_uses_key_minus_query_buckets() {
        let b = T5Buckets::new(8, 16, true).unwrap();
        let values: Vec<f32> = (0..8).map(|v| v as f32 * 10.0).collect();
        let t5 = T5Bias::new(b, values).unwrap();
        let p = PreparedLogits::new(&Scheme::T5(t5.clone()), &Content::Identical, 2, 40).unwrap();
        let r = row(&p, 20, 40, false);
        for (n, v) in r.iter().enumerate() {
            let want = 2f32.sqrt() + t5.bias(20, n);
            assert!((v - want).abs() < 1e-5, "{n}");
        }
        // Bidirectional, 8 buckets: N = 4, e = 2; key 21 (rel +1) → bucket 4 + 1 = 5.
        assert!((r[21] - (2f32.sqrt() + 50.0)).abs() < 1e-5);
    }

    #[test]
    fn sinusoidal_ape_is_not_translation_invariant() {
        let s = Scheme::Sinusoidal {
            layout: SinusoidalLayout::Interleaved,
        };
        let p = PreparedLogits::new(&s, &Content::Identical, 8, 64).unwrap();
        let (a, b) = (row(&p, 10, 11, true), row(&p, 40, 41, true));
        // Same distance 3, different absolute positions → different logits.
        assert!((a[7] - b[37]).abs() > 1e-3);
    }

    #[test]
    fn rope_logits_match_the_closed_form_for_all_content_paths() {
        let d = 16;
        let f = default_inv_freq(d, 10_000.0).unwrap();
        let scale = 1.0 / (d as f64).sqrt();
        for content in [
            Content::Identical,
            Content::Random { seed: 9 },
            Content::Repeating { period: 3, seed: 1 },
        ] {
            for map in [PositionMap::Identity, PositionMap::ReRope { window: 1_000_000 }] {
                let p = PreparedLogits::new(&rope(RopeScaling::None, map), &content, d, 64).unwrap();
                let x = TokenRows::new(&content, d, 64).unwrap();
                for m in [0, 7, 63] {
                    let r = row(&p, m, 64, true);
                    for (n, got) in r.iter().enumerate().take(m + 1) {
                        let want = score(x.query(m), x.key(n), m as f64, n as f64, &f, RopeLayout::RotateHalf).unwrap()
                            * scale;
                        assert!(
                            (*got as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "{content:?} {map:?} {m} {n}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rope_attention_factor_scales_logits_by_its_square() {
        let yarn = RopeScaling::Yarn(crate::pe::YarnParams {
            factor: 4.0,
            original_max_pos: 16,
            beta_fast: 32.0,
            beta_slow: 1.0,
            mscale: None,
            mscale_all_dim: None,
            attention_factor: Some(2.0),
            truncate: true,
        });
        let p = PreparedLogits::new(&rope(yarn, PositionMap::Identity), &Content::Identical, 8, 16).unwrap();
        // At distance 0 the logit is |x|²/√d · af² = 8/√8 · 4.
        assert!((row(&p, 5, 6, true)[5] - 4.0 * 8f32.sqrt()).abs() < 1e-4);
    }

    #[test]
    fn position_maps_mask_and_remap_rope_logits() {
        let map = PositionMap::LmInfinite {
            n_global: 1,
            local_window: 4,
            distance_cap: 4,
        };
        for content in [Content::Identical, Content::Random { seed: 5 }] {
            let p = PreparedLogits::new(&rope(RopeScaling::None, map), &content, 8, 32).unwrap();
            let plain = PreparedLogits::new(&rope(RopeScaling::None, PositionMap::Identity), &content, 8, 32).unwrap();
            let r = row(&p, 20, 32, false);
            let base = row(&plain, 20, 32, true);
            for n in 0..32 {
                let e = map.entry(20, n);
                assert_eq!(r[n].is_finite(), e.visible, "{n}");
                if (17..=20).contains(&n) {
                    assert!((r[n] - base[n]).abs() < 1e-4);
                }
            }
            if matches!(content, Content::Identical) {
                // Global key 0 is seen at the capped distance 4, like key 16 without a map.
                assert!((r[0] - base[16]).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn xpos_identical_tokens_decay_with_distance_envelope() {
        let s = Scheme::XPos {
            base: 10_000.0,
            scale_base: 512.0,
        };
        let p = PreparedLogits::new(&s, &Content::Identical, 8, 2048).unwrap();
        let r = row(&p, 2047, 2048, true);
        let xp = XPos::new(8, 10_000.0, 512.0).unwrap();
        for n in [0usize, 1000, 2040, 2047] {
            let dist = (2047 - n) as f64;
            let want: f64 = (0..4)
                .map(|i| 2.0 * xp.decay(i, dist) * (dist * xp.inv_freq()[i]).cos())
                .sum::<f64>()
                / 8f64.sqrt();
            assert!((r[n] as f64 - want).abs() < 1e-4, "{n}");
        }
        let random = PreparedLogits::new(&s, &Content::Random { seed: 2 }, 8, 64).unwrap();
        let x = TokenRows::new(&Content::Random { seed: 2 }, 8, 64).unwrap();
        let q = xp.query(x.query(40), 40.0, 32.0).unwrap();
        let k = xp.key(x.key(9), 9.0, 32.0).unwrap();
        let want = dot_f64(&q, &k) / 8f64.sqrt();
        assert!((row(&random, 40, 64, true)[9] as f64 - want).abs() < 1e-4);
    }

    #[test]
    fn rejects_bad_sizes_and_rows() {
        assert!(PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 7, 8).is_err());
        assert!(PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 8, 0).is_err());
        assert!(PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 512, 65_536).is_err());
        assert!(PreparedLogits::new(&Scheme::NoPe, &Content::Repeating { period: 0, seed: 0 }, 8, 8).is_err());
        assert!(PreparedLogits::new(&Scheme::Alibi { slope: -1.0 }, &Content::Identical, 8, 8).is_err());
        let bad = Content::Explicit {
            q: vec![0.0; 8],
            k: vec![0.0; 16],
        };
        assert!(PreparedLogits::new(&Scheme::NoPe, &bad, 2, 8).is_err());
        let p = PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 2, 8).unwrap();
        let mut buf = vec![0.0; 8];
        assert!(p.logits_row(8, 8, true, &mut buf).is_err());
        assert!(p.logits_row(0, 9, true, &mut buf).is_err());
        assert!(p.logits_row(0, 8, true, &mut buf[..4]).is_err());
    }

    #[test]
    fn explicit_content_uses_separate_q_and_k() {
        // head_dim 2, 2 positions: q_1 = (1, 0), k_0 = (0, 3) → NoPE logit 0; k_1 = (2, 0) → 2/√2.
        let c = Content::Explicit {
            q: vec![0.0, 0.0, 1.0, 0.0],
            k: vec![0.0, 3.0, 2.0, 0.0],
        };
        let p = PreparedLogits::new(&Scheme::NoPe, &c, 2, 2).unwrap();
        let r = row(&p, 1, 2, true);
        assert!(r[0].abs() < 1e-7 && (r[1] - 2f32.sqrt()).abs() < 1e-6);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn softmax_rows_sum_to_one_and_stay_finite(
            logits in prop::collection::vec(prop_oneof![-1e30f32..1e30, -50f32..50f32], 1..4096),
            masked in prop::collection::vec(any::<bool>(), 1..4096),
        ) {
            let mut r = logits.clone();
            for (v, m) in r.iter_mut().zip(&masked) {
                if *m { *v = f32::NEG_INFINITY; }
            }
            let any_visible = r.iter().any(|v| v.is_finite());
            softmax_in_place(&mut r);
            prop_assert!(r.iter().all(|v| v.is_finite() && *v >= 0.0));
            let sum: f64 = r.iter().map(|&v| v as f64).sum();
            if any_visible {
                prop_assert!((sum - 1.0).abs() < 1e-4, "sum {}", sum);
            } else {
                prop_assert_eq!(sum, 0.0);
            }
        }

        #[test]
        fn rope_identical_rows_depend_only_on_distance(m in 0usize..256, shift in 0usize..256, d in 0usize..256) {
            let p = PreparedLogits::new(&rope(RopeScaling::None, PositionMap::Identity), &Content::Identical, 16, 512).unwrap();
            let (m, d) = (m.max(d), d.min(m.max(d)));
            let a = row(&p, m, m + 1, true)[m - d];
            let b = row(&p, m + shift, m + shift + 1, true)[m + shift - d];
            prop_assert_eq!(a, b);
        }
    }
}
