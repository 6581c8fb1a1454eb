//! Positions in two dimensions: a `rows × cols` grid of image patches.
//!
//! * **Axial 2-D RoPE** — Heo, Park, Han & Yun 2024, "Rotary Position Embedding for Vision
//!   Transformer" (code: naver-ai/rope-vit `compute_axial_cis`). The `d/2` pairs split in two
//!   halves of `d/4`; pair `j` of the first half turns by `r · θ'_j`, pair `d/4 + j` of the second
//!   by `c · θ'_j`, both with `θ'_j = base^(−2j/(d/2)) = base^(−4j/d)`, `j = 0 .. d/4 − 1`
//!   (rope-vit puts the column `x` first; the order only permutes pairs and leaves every logit
//!   unchanged). Needs `d % 4 == 0`.
//! * **RoPE-Mixed** (same paper): pair `i` turns by `θx_i · c + θy_i · r`. The paper *learns*
//!   `(θx_i, θy_i)`; here they are **fixed, as at initialisation, not learned**: rope-vit's
//!   `init_random_2d_freqs` uses magnitude `θ'_j` in direction `φ` for pair `j` and in direction
//!   `φ + π/2` for pair `d/4 + j`, with one random `φ` per head. This module gives each magnitude
//!   its own deterministic direction `φ_j = (j + 1) · γ`, `γ = π(3 − √5)` (the golden angle), so
//!   one head shows several directions. `φ = 0` for all `j` would be axial RoPE. Needs `d % 4 == 0`.
//! * **M-RoPE** — Wang et al. 2024, "Qwen2-VL" (HF `apply_multimodal_rotary_pos_emb`): ids
//!   `(t, h, w)`; pair `i` keeps the 1-D frequency `θ_i = base^(−2i/d)` and is turned by the id of
//!   its section. Sections split the `P = d/2` pairs as `t = max(1, ⌊P/4⌋)`, `h = ⌊(P − t)/2⌋`,
//!   `w = P − t − h` (Qwen2-VL's `[16, 24, 24]` for `P = 64`). Text tokens use `t = h = w`, so
//!   M-RoPE on text *is* 1-D RoPE. Positions ([`mrope_ids`], after Qwen2-VL's `get_rope_index`):
//!   text before the image counts `0 ..`; a patch `(r, c)` of an image after `T` text tokens gets
//!   `(T, T + r, T + c)`; text after it continues at the largest id so far `+ 1`. The grid here is
//!   the LLM-side grid (after Qwen2-VL's 2 × 2 patch merge).
//! * **2-D distance bias** (the MD-TPE / 2-D ALiBi family, e.g. LightNet): `−slope · dist`, with
//!   Euclidean or Manhattan distance between patches.
//!
//! Logits use identical content, `q = k = (1, …, 1)` (RoFormer's long-term-decay setting): each
//! pair contributes `2 cos(Δangle)`, so `logit = (1/√d) · Σ_pairs 2 cos(angle_q − angle_k)`, at
//! most `√d` (reached at `Δ = 0`). Attention is a softmax over every patch (bidirectional).

use super::rope::unchecked_inv_freq;
use super::{MAX_LEN, PeError, check_base, check_head_dim};
use serde::{Deserialize, Serialize};
use std::f64::consts::{FRAC_PI_2, PI};

/// Largest number of rows or columns of the patch grid.
pub const MAX_SIDE: usize = 64;

/// Which 2-D rotary scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rope2d {
    /// Half the pairs by row, half by column (Heo et al. 2024).
    #[default]
    Axial,
    /// Every pair mixes row and column with its own fixed direction (RoPE-Mixed at init).
    Mixed,
    /// Qwen2-VL's `(t, h, w)` sections.
    #[serde(rename = "m-rope")]
    MRope,
}

impl Rope2d {
    /// Stable key: `"axial"`, `"mixed"` or `"m-rope"`.
    pub fn key(self) -> &'static str {
        match self {
            Rope2d::Axial => "axial",
            Rope2d::Mixed => "mixed",
            Rope2d::MRope => "m-rope",
        }
    }
}

/// A token's position: temporal `t`, height (row) `h`, width (column) `w`. Axial and Mixed
/// RoPE ignore `t`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Pos2 {
    /// Temporal id (M-RoPE only).
    pub t: f64,
    /// Row.
    pub h: f64,
    /// Column.
    pub w: f64,
}

impl Pos2 {
    /// Patch `(r, c)` of a lone image: `(0, r, c)`.
    pub fn patch(r: usize, c: usize) -> Self {
        Pos2 {
            t: 0.0,
            h: r as f64,
            w: c as f64,
        }
    }

    /// Text token at 1-D position `p`: `t = h = w = p`.
    pub fn text(p: f64) -> Self {
        Pos2 { t: p, h: p, w: p }
    }

    /// `[t, h, w]`.
    pub fn ids(self) -> [f64; 3] {
        [self.t, self.h, self.w]
    }
}

impl From<[f64; 3]> for Pos2 {
    fn from([t, h, w]: [f64; 3]) -> Self {
        Pos2 { t, h, w }
    }
}

/// Distance between two patches for the 2-D bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distance2d {
    /// `√(Δr² + Δc²)`.
    #[default]
    Euclidean,
    /// `|Δr| + |Δc|`.
    Manhattan,
}

impl Distance2d {
    /// Distance for offsets `(Δr, Δc)`.
    pub fn of(self, dr: f64, dc: f64) -> f64 {
        match self {
            Distance2d::Euclidean => dr.hypot(dc),
            Distance2d::Manhattan => dr.abs() + dc.abs(),
        }
    }
}

/// Checks `head_dim` for `kind`: even, 4..=`MAX_DIM`; axial and mixed need `d % 4 == 0`,
/// M-RoPE needs at least 3 pairs (`d ≥ 6`).
pub fn check_head_dim_2d(kind: Rope2d, head_dim: usize) -> Result<(), PeError> {
    check_head_dim(head_dim)?;
    let ok = match kind {
        Rope2d::Axial | Rope2d::Mixed => head_dim.is_multiple_of(4),
        Rope2d::MRope => head_dim >= 6,
    };
    if !ok {
        let allowed = match kind {
            Rope2d::Axial | Rope2d::Mixed => "a multiple of 4 (two halves of whole pairs)",
            Rope2d::MRope => "an even integer ≥ 6 (three sections of pairs)",
        };
        return Err(PeError::invalid("head_dim", head_dim, allowed));
    }
    Ok(())
}

/// M-RoPE section sizes `[t, h, w]` in pairs: `t = max(1, ⌊P/4⌋)`, `h = ⌊(P − t)/2⌋`, the rest
/// `w` (`P = d/2`; `[16, 24, 24]` for `d = 128`).
pub fn mrope_sections(head_dim: usize) -> Result<[usize; 3], PeError> {
    check_head_dim_2d(Rope2d::MRope, head_dim)?;
    let p = head_dim / 2;
    let t = (p / 4).max(1);
    let h = (p - t) / 2;
    Ok([t, h, p - t - h])
}

/// Per-pair frequency coefficients on `(t, h, w)`: pair `i` turns by
/// `f[0]·t + f[1]·h + f[2]·w` (see the module docs for each scheme).
pub fn pair_freqs(kind: Rope2d, head_dim: usize, base: f64) -> Result<Vec<[f64; 3]>, PeError> {
    check_head_dim_2d(kind, head_dim)?;
    check_base(base)?;
    Ok(match kind {
        Rope2d::Axial => {
            let ladder = unchecked_inv_freq(head_dim / 2, base);
            let rows = ladder.iter().map(|&m| [0.0, m, 0.0]);
            rows.chain(ladder.iter().map(|&m| [0.0, 0.0, m])).collect()
        }
        Rope2d::Mixed => {
            let ladder = unchecked_inv_freq(head_dim / 2, base);
            let golden = PI * (3.0 - 5f64.sqrt());
            let dir = |j: usize, extra: f64| {
                let (s, c) = ((j + 1) as f64 * golden + extra).sin_cos();
                [0.0, ladder[j] * s, ladder[j] * c] // θy = m sin φ on h, θx = m cos φ on w
            };
            let n = ladder.len();
            (0..n)
                .map(|j| dir(j, 0.0))
                .chain((0..n).map(|j| dir(j, FRAC_PI_2)))
                .collect()
        }
        Rope2d::MRope => {
            let [t, h, _] = mrope_sections(head_dim)?;
            let theta = unchecked_inv_freq(head_dim, base);
            let one_hot = |i: usize, th: f64| match i {
                i if i < t => [th, 0.0, 0.0],
                i if i < t + h => [0.0, th, 0.0],
                _ => [0.0, 0.0, th],
            };
            theta.iter().enumerate().map(|(i, &th)| one_hot(i, th)).collect()
        }
    })
}

fn angle(f: &[f64; 3], pos: [f64; 3]) -> f64 {
    f[0] * pos[0] + f[1] * pos[1] + f[2] * pos[2]
}

fn check_pos(pos: Pos2) -> Result<(), PeError> {
    if pos.ids().iter().any(|v| !v.is_finite()) {
        return Err(PeError::invalid("positions", format!("{pos:?}"), "finite numbers"));
    }
    Ok(())
}

/// Rotation angle of every pair at `pos` (length `head_dim / 2`).
pub fn pair_angles(kind: Rope2d, head_dim: usize, base: f64, pos: Pos2) -> Result<Vec<f64>, PeError> {
    check_pos(pos)?;
    let freqs = pair_freqs(kind, head_dim, base)?;
    Ok(freqs.iter().map(|f| angle(f, pos.ids())).collect())
}

/// Logit for identical all-ones content: `(1/√d) · Σ_pairs 2 cos(angle(query) − angle(key))`
/// with `d = 2 · freqs.len()` (from [`pair_freqs`]).
pub fn logit(freqs: &[[f64; 3]], query: Pos2, key: Pos2) -> f64 {
    let (q, k) = (query.ids(), key.ids());
    let delta = [q[0] - k[0], q[1] - k[1], q[2] - k[2]];
    let sum: f64 = freqs.iter().map(|f| 2.0 * angle(f, delta).cos()).sum();
    sum / ((2 * freqs.len()) as f64).sqrt()
}

fn check_grid(rows: usize, cols: usize, query: (usize, usize)) -> Result<(), PeError> {
    for (name, v) in [("rows", rows), ("cols", cols)] {
        if v == 0 || v > MAX_SIDE {
            return Err(PeError::invalid(name, v, format!("an integer in 1..={MAX_SIDE}")));
        }
    }
    if query.0 >= rows {
        return Err(PeError::invalid("query_row", query.0, format!("a row in 0..{rows}")));
    }
    if query.1 >= cols {
        return Err(PeError::invalid("query_col", query.1, format!("a column in 0..{cols}")));
    }
    Ok(())
}

/// Logit of the query patch `(r, c)` to every patch, row-major `rows × cols`; patches sit at
/// [`Pos2::patch`] (for M-RoPE: an image with no text before it).
pub fn patch_logits(
    kind: Rope2d,
    rows: usize,
    cols: usize,
    head_dim: usize,
    base: f64,
    query: (usize, usize),
) -> Result<Vec<f64>, PeError> {
    check_grid(rows, cols, query)?;
    let freqs = pair_freqs(kind, head_dim, base)?;
    let q = Pos2::patch(query.0, query.1);
    Ok((0..rows * cols)
        .map(|v| logit(&freqs, q, Pos2::patch(v / cols, v % cols)))
        .collect())
}

/// Softmax of [`patch_logits`] over all patches (bidirectional).
pub fn patch_attention(
    kind: Rope2d,
    rows: usize,
    cols: usize,
    head_dim: usize,
    base: f64,
    query: (usize, usize),
) -> Result<Vec<f64>, PeError> {
    patch_logits(kind, rows, cols, head_dim, base, query).map(softmax)
}

/// Logit of `positions[query]` to every entry of `positions` (e.g. [`mrope_ids`] of a mixed
/// text-and-image sequence), at most `MAX_LEN` positions.
pub fn sequence_logits(
    kind: Rope2d,
    head_dim: usize,
    base: f64,
    positions: &[Pos2],
    query: usize,
) -> Result<Vec<f64>, PeError> {
    if positions.is_empty() || positions.len() > MAX_LEN {
        let n = positions.len();
        return Err(PeError::invalid("positions", n, format!("1..={MAX_LEN} positions")));
    }
    let Some(&q) = positions.get(query) else {
        return Err(PeError::invalid(
            "query",
            query,
            format!("an index in 0..{}", positions.len()),
        ));
    };
    positions.iter().try_for_each(|&p| check_pos(p))?;
    let freqs = pair_freqs(kind, head_dim, base)?;
    Ok(positions.iter().map(|&k| logit(&freqs, q, k)).collect())
}

/// Qwen2-VL position ids `[t, h, w]` of `text_before` text tokens, a `rows × cols` image
/// (row-major) and `text_after` text tokens (see the module docs).
pub fn mrope_ids(text_before: usize, rows: usize, cols: usize, text_after: usize) -> Result<Vec<[f64; 3]>, PeError> {
    check_grid(rows, cols, (0, 0))?;
    for (name, v) in [("text_before", text_before), ("text_after", text_after)] {
        if v > MAX_LEN {
            return Err(PeError::invalid(name, v, format!("an integer in 0..={MAX_LEN}")));
        }
    }
    let text = |p: usize| [p as f64; 3];
    let t0 = text_before as f64;
    let image = (0..rows * cols).map(|v| [t0, t0 + (v / cols) as f64, t0 + (v % cols) as f64]);
    let next = text_before + rows.max(cols);
    Ok((0..text_before)
        .map(text)
        .chain(image)
        .chain((next..next + text_after).map(text))
        .collect())
}

/// 2-D ALiBi-style bias between patches `a` and `b`: `−slope · dist(a, b)`.
pub fn bias_2d(slope: f64, dist: Distance2d, a: (usize, usize), b: (usize, usize)) -> f64 {
    let dr = a.0.abs_diff(b.0) as f64;
    let dc = a.1.abs_diff(b.1) as f64;
    -slope * dist.of(dr, dc)
}

/// [`bias_2d`] of the query patch to every patch, row-major; `slope` finite and ≥ 0.
pub fn patch_bias(
    slope: f64,
    dist: Distance2d,
    rows: usize,
    cols: usize,
    query: (usize, usize),
) -> Result<Vec<f64>, PeError> {
    if !slope.is_finite() || slope < 0.0 {
        return Err(PeError::invalid("slope", slope, "a finite number ≥ 0"));
    }
    check_grid(rows, cols, query)?;
    let bias: Vec<f64> = (0..rows * cols)
        .map(|v| bias_2d(slope, dist, query, (v / cols, v % cols)))
        .collect();
    if let Some((i, b)) = bias.iter().enumerate().find(|(_, b)| !b.is_finite()) {
        return Err(PeError::NonFinite {
            what: "2-D distance bias",
            detail: format!("{b} at patch ({}, {}) with slope {slope}", i / cols, i % cols),
        });
    }
    Ok(bias)
}

/// Softmax of [`patch_bias`] over all patches (content logits all equal, so only the bias acts).
pub fn patch_attention_bias(
    slope: f64,
    dist: Distance2d,
    rows: usize,
    cols: usize,
    query: (usize, usize),
) -> Result<Vec<f64>, PeError> {
    patch_bias(slope, dist, rows, cols, query).map(softmax)
}

/// Softmax of a row whose maximum is finite (true for every caller here: the query's own entry).
fn softmax(mut v: Vec<f64>) -> Vec<f64> {
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    v.iter_mut().for_each(|x| *x = (*x - max).exp());
    let sum: f64 = v.iter().sum();
    v.iter_mut().for_each(|x| *x /= sum);
    v
}

#[cfg(test)]
mod tests {
    use super::super::rope::{RopeLayout, default_inv_freq, score};
    use super::*;

    const KINDS: [Rope2d; 3] = [Rope2d::Axial, Rope2d::Mixed, Rope2d::MRope];

    fn at(v: &[f64], cols: usize, r: usize, c: usize) -> f64 {
        v[r * cols + c]
    }

    #[test]
    fn axial_ladder_by_hand() {
        // d = 8, base 100: magnitudes 100^0 = 1, 100^(-1/2) = 0.1; pairs turn by r, 0.1r, c, 0.1c.
        let a = pair_angles(Rope2d::Axial, 8, 100.0, Pos2::patch(3, 5)).unwrap();
        let want = [3.0, 0.3, 5.0, 0.5];
        assert!(a.iter().zip(want).all(|(x, y)| (x - y).abs() < 1e-14), "{a:?}");
    }

    #[test]
    fn every_kind_is_translation_invariant_symmetric_and_peaks_at_the_query() {
        let (rows, cols, d) = (8, 10, 16);
        for kind in KINDS {
            let a = patch_logits(kind, rows, cols, d, 10.0, (1, 2)).unwrap();
            let b = patch_logits(kind, rows, cols, d, 10.0, (4, 5)).unwrap();
            // Same offset (Δr, Δc) from both queries gives the same logit.
            for (dr, dc) in [(0, 0), (1, 0), (0, 3), (2, 4), (-1, -2), (3, -1)] {
                let (ra, ca) = ((1 + dr) as usize, (2 + dc) as usize);
                let (rb, cb) = ((4 + dr) as usize, (5 + dc) as usize);
                assert!((at(&a, cols, ra, ca) - at(&b, cols, rb, cb)).abs() < 1e-12, "{kind:?}");
            }
            let top = (d as f64).sqrt();
            assert!((at(&a, cols, 1, 2) - top).abs() < 1e-12);
            assert!(a.iter().all(|&x| x <= top + 1e-12));
            // logit(a → b) = logit(b → a).
            let f = pair_freqs(kind, d, 10.0).unwrap();
            let (p, q) = (Pos2::patch(0, 6), Pos2::patch(5, 1));
            assert!((logit(&f, p, q) - logit(&f, q, p)).abs() < 1e-13);
        }
    }

    #[test]
    fn axial_is_separable_by_halves() {
        let d = 16;
        let (p, q) = (Pos2::patch(2, 7), Pos2::patch(5, 7));
        let ap = pair_angles(Rope2d::Axial, d, 100.0, p).unwrap();
        let aq = pair_angles(Rope2d::Axial, d, 100.0, q).unwrap();
        // Same column: the column half does not move; the row half moves by Δr only.
        assert!(ap[d / 4..].iter().zip(&aq[d / 4..]).all(|(x, y)| x == y));
        assert!(ap[..d / 4].iter().zip(&aq[..d / 4]).all(|(x, y)| x != y));
        // logit(Δr, Δc) + logit(0, 0) = logit(Δr, 0) + logit(0, Δc).
        let l = patch_logits(Rope2d::Axial, 8, 8, d, 100.0, (0, 0)).unwrap();
        for (r, c) in [(1, 1), (3, 5), (7, 2)] {
            let lhs = at(&l, 8, r, c) + at(&l, 8, 0, 0);
            assert!((lhs - at(&l, 8, r, 0) - at(&l, 8, 0, c)).abs() < 1e-12);
        }
    }

    #[test]
    fn mixed_uses_perpendicular_pairs_and_differs_from_axial() {
        for d in [4, 8, 32] {
            let f = pair_freqs(Rope2d::Mixed, d, 100.0).unwrap();
            let ax = pair_freqs(Rope2d::Axial, d, 100.0).unwrap();
            let n = d / 4;
            for j in 0..n {
                let (a, b) = (f[j], f[n + j]);
                let m = ax[j][1];
                assert!((a[1].hypot(a[2]) - m).abs() < 1e-14 && (b[1].hypot(b[2]) - m).abs() < 1e-14);
                assert!((a[1] * b[1] + a[2] * b[2]).abs() < 1e-14 && a[0] == 0.0);
            }
            let mixed = patch_logits(Rope2d::Mixed, 5, 5, d, 100.0, (2, 2)).unwrap();
            let axial = patch_logits(Rope2d::Axial, 5, 5, d, 100.0, (2, 2)).unwrap();
            assert!(mixed.iter().zip(&axial).any(|(x, y)| (x - y).abs() > 1e-3), "d {d}");
        }
    }

    #[test]
    fn mrope_on_text_is_plain_rope() {
        assert_eq!(mrope_sections(128).unwrap(), [16, 24, 24]);
        assert_eq!(mrope_sections(6).unwrap(), [1, 1, 1]);
        for d in [6, 8, 10, 64, 200] {
            assert_eq!(mrope_sections(d).unwrap().iter().sum::<usize>(), d / 2);
        }
        let (d, base) = (64, 10_000.0);
        let theta = default_inv_freq(d, base).unwrap();
        let a = pair_angles(Rope2d::MRope, d, base, Pos2::text(37.0)).unwrap();
        assert!(a.iter().zip(&theta).all(|(x, t)| (x - 37.0 * t).abs() < 1e-12));
        let f = pair_freqs(Rope2d::MRope, d, base).unwrap();
        let ones = vec![1.0; d];
        for (m, n) in [(0.0, 0.0), (37.0, 5.0), (3.0, 900.0)] {
            let plain = score(&ones, &ones, m, n, &theta, RopeLayout::RotateHalf).unwrap();
            let got = logit(&f, Pos2::text(m), Pos2::text(n));
            assert!((got - plain / (d as f64).sqrt()).abs() < 1e-10);
        }
    }

    #[test]
    fn mrope_ids_by_hand() {
        // 2 text tokens, a 2 × 3 image, 2 text tokens: the image starts at t = 2, spans h 2..=3,
        // w 2..=4; text after continues at 4 + 1 = 5.
        let ids = mrope_ids(2, 2, 3, 2).unwrap();
        let want = [
            [0, 0, 0],
            [1, 1, 1],
            [2, 2, 2],
            [2, 2, 3],
            [2, 2, 4],
            [2, 3, 2],
            [2, 3, 3],
            [2, 3, 4],
            [5, 5, 5],
            [6, 6, 6],
        ];
        assert_eq!(ids, want.map(|r| r.map(f64::from)));
        assert_eq!(mrope_ids(0, 1, 1, 1).unwrap(), vec![[0.0; 3], [1.0; 3]]);
        // Inside the image the logits equal the lone-image grid ones (t is constant there).
        let pos: Vec<Pos2> = ids.iter().map(|&p| Pos2::from(p)).collect();
        let seq = sequence_logits(Rope2d::MRope, 12, 100.0, &pos, 2).unwrap();
        let grid = patch_logits(Rope2d::MRope, 2, 3, 12, 100.0, (0, 0)).unwrap();
        assert!(seq[2..8].iter().zip(&grid).all(|(x, y)| (x - y).abs() < 1e-12));
    }

    #[test]
    fn attention_rows_are_distributions() {
        for kind in KINDS {
            for (rows, cols) in [(1, 1), (3, 8), (64, 64)] {
                let p = patch_attention(kind, rows, cols, 32, 100.0, (rows / 2, cols - 1)).unwrap();
                assert_eq!(p.len(), rows * cols);
                assert!(p.iter().all(|x| x.is_finite() && *x >= 0.0));
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{kind:?}");
            }
        }
        for dist in [Distance2d::Euclidean, Distance2d::Manhattan] {
            for slope in [0.0, 0.5, 1e300] {
                let p = patch_attention_bias(slope, dist, 10, 6, (3, 3)).unwrap();
                assert!(p.iter().all(|x| x.is_finite()) && (p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
            // A bias that overflows is refused, not printed as −inf.
            assert!(matches!(
                patch_bias(1e308, dist, 8, 8, (0, 0)),
                Err(PeError::NonFinite { .. })
            ));
        }
    }

    #[test]
    fn distance_bias_by_hand() {
        // Offset (3, 4): Euclidean 5, Manhattan 7.
        assert_eq!(bias_2d(0.5, Distance2d::Euclidean, (0, 0), (3, 4)), -2.5);
        assert_eq!(bias_2d(0.5, Distance2d::Manhattan, (3, 4), (0, 0)), -3.5);
        assert_eq!(bias_2d(0.5, Distance2d::Manhattan, (2, 2), (2, 2)), 0.0);
        let b = patch_bias(1.0, Distance2d::Euclidean, 3, 3, (1, 1)).unwrap();
        let s = -(2f64.sqrt());
        assert_eq!(b, vec![s, -1.0, s, -1.0, 0.0, -1.0, s, -1.0, s]);
        let p = patch_attention_bias(1.0, Distance2d::Manhattan, 1, 3, (0, 0)).unwrap();
        let z = 1.0 + (-1f64).exp() + (-2f64).exp();
        assert!((p[0] - 1.0 / z).abs() < 1e-15 && (p[2] - (-2f64).exp() / z).abs() < 1e-15);
    }

    #[test]
    fn keys_are_stable() {
        assert_eq!(KINDS.map(Rope2d::key), ["axial", "mixed", "m-rope"]);
    }

    #[test]
    fn invalid_input_is_an_error_not_a_panic() {
        let name = |r: Result<Vec<f64>, PeError>| r.unwrap_err().parameter();
        let logits = |kind, rows, cols, d, base, q| name(patch_logits(kind, rows, cols, d, base, q));
        assert_eq!(logits(Rope2d::Axial, 0, 4, 8, 10.0, (0, 0)), Some("rows"));
        assert_eq!(logits(Rope2d::Axial, 4, 65, 8, 10.0, (0, 0)), Some("cols"));
        assert_eq!(logits(Rope2d::Axial, 4, 4, 8, 10.0, (4, 0)), Some("query_row"));
        assert_eq!(logits(Rope2d::Axial, 4, 4, 8, 10.0, (0, 4)), Some("query_col"));
        assert_eq!(logits(Rope2d::Axial, 4, 4, 8, 1.0, (0, 0)), Some("base"));
        assert_eq!(logits(Rope2d::Mixed, 4, 4, 8, f64::NAN, (0, 0)), Some("base"));
        for (kind, d) in [
            (Rope2d::Axial, 6),
            (Rope2d::Mixed, 2),
            (Rope2d::MRope, 4),
            (Rope2d::MRope, 7),
        ] {
            assert_eq!(logits(kind, 4, 4, d, 10.0, (0, 0)), Some("head_dim"), "{kind:?} {d}");
        }
        assert_eq!(
            name(patch_attention(Rope2d::MRope, 4, 4, 0, 10.0, (0, 0))),
            Some("head_dim")
        );
        for slope in [-1.0, f64::INFINITY, f64::NAN] {
            assert_eq!(
                name(patch_bias(slope, Distance2d::Manhattan, 2, 2, (0, 0))),
                Some("slope")
            );
        }
        assert_eq!(
            name(patch_attention_bias(0.1, Distance2d::Euclidean, 2, 0, (0, 0))),
            Some("cols")
        );
        let bad = Pos2 {
            t: 0.0,
            h: f64::NAN,
            w: 0.0,
        };
        assert!(pair_angles(Rope2d::Axial, 8, 10.0, bad).is_err());
        assert!(sequence_logits(Rope2d::MRope, 8, 10.0, &[Pos2::text(0.0)], 1).is_err());
        assert!(sequence_logits(Rope2d::MRope, 8, 10.0, &[], 0).is_err());
        assert!(mrope_ids(MAX_LEN + 1, 2, 2, 0).is_err() && mrope_ids(0, 2, 2, MAX_LEN + 1).is_err());
        assert!(mrope_ids(0, 0, 2, 0).is_err());
    }
}
