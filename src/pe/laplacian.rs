//! Graph Laplacian positional encodings.
//!
//! Dwivedi & Bresson 2020, "A Generalization of Transformer Networks to Graphs", and Dwivedi,
//! Joshi, Laurent, Bengio & Bresson 2020, "Benchmarking Graph Neural Networks": a node's position
//! is its row in the matrix of the `k` eigenvectors of the graph Laplacian with the smallest
//! non-zero eigenvalues. Eigenvector signs are arbitrary (training flips them at random).
//!
//! Conventions here:
//! * nodes are numbered `0 .. n−1`: along the path / around the cycle, row-major on a grid
//!   (`r · cols + c`), breadth-first in a tree (children of `p` are `b·p + 1 ..= b·p + b`);
//! * [`laplacian`] is dense row-major `n × n`, combinatorial `L = D − A` or normalised
//!   `I − D^{-1/2} A D^{-1/2}`;
//! * [`eigen`] returns the first `k` eigenpairs in ascending eigenvalue order **including** the
//!   zero eigenvalue (constant vector, or `√degree` for the normalised Laplacian) at index 0;
//!   Laplacian PE uses indices `1 ..= k` ([`lap_pe`]);
//! * sign: the first entry with `|v_i| > 1e-9` of every eigenvector is positive;
//! * a repeated eigenvalue (cycle pairs, square grids) gets *an arbitrary* orthonormal basis of its
//!   eigenspace: only the eigenspace, not the individual vectors, is determined.
//!
//! Closed forms ([`path_closed_form`], [`cycle_closed_form`]): for the path `P_n`,
//! `λ_k = 2 − 2 cos(πk/n)`, `v_k(i) = cos(πk(i + ½)/n)` (the DCT-II basis); for the cycle `C_n`,
//! `λ_k = 2 − 2 cos(2πk/n)` with `cos(2πki/n)` and `sin(2πki/n)`, i.e. the sinusoids of a
//! sinusoidal PE table; a grid's eigenvalues are sums of two path eigenvalues (the 2-D DCT).

use super::PeError;
use serde::{Deserialize, Serialize};
use std::f64::consts::{PI, TAU};

/// Largest number of nodes accepted (the dense Jacobi eigensolver takes about 5 s at 512 nodes
/// in a release build, and grows as n³ per sweep).
pub const MAX_NODES: usize = 512;
/// Safety cap on Jacobi sweeps (convergence is quadratic; 10–15 sweeps are typical).
pub const MAX_SWEEPS: usize = 64;
/// Jacobi stops once the off-diagonal Frobenius norm is below this times `‖L‖_F`.
const JACOBI_TOL: f64 = 1e-14;
/// Entries with `|v_i|` at or below this are skipped when fixing an eigenvector's sign.
const SIGN_EPS: f64 = 1e-9;

/// A small graph family with a known spectrum (serde: `{"graph": "grid", "rows": 4, "cols": 6}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "graph", rename_all = "kebab-case")]
pub enum Graph {
    /// Path `0 − 1 − … − (n−1)` of `n ≥ 2` nodes.
    Path { n: usize },
    /// Cycle `0 − 1 − … − (n−1) − 0` of `n ≥ 3` nodes.
    Cycle { n: usize },
    /// `rows × cols` grid (rows, cols ≥ 1, at least 2 nodes) with 4-neighbour edges.
    Grid { rows: usize, cols: usize },
    /// Complete tree: `depth` (1..=8) edge levels below the root, `branching` (1..=4) children
    /// per inner node.
    Tree { depth: usize, branching: usize },
}

impl Graph {
    /// Stable key: `"path"`, `"cycle"`, `"grid"` or `"tree"`.
    pub fn key(&self) -> &'static str {
        match self {
            Graph::Path { .. } => "path",
            Graph::Cycle { .. } => "cycle",
            Graph::Grid { .. } => "grid",
            Graph::Tree { .. } => "tree",
        }
    }

    /// Number of nodes (saturating for out-of-range parameters; see [`Graph::validate`]).
    pub fn nodes(&self) -> usize {
        match *self {
            Graph::Path { n } | Graph::Cycle { n } => n,
            Graph::Grid { rows, cols } => rows.saturating_mul(cols),
            Graph::Tree { branching: 0, .. } => 1,
            Graph::Tree { depth, branching: 1 } => depth.saturating_add(1),
            Graph::Tree { depth, branching: b } => {
                (0..=depth.min(64)).fold(0usize, |sum, l| sum.saturating_add(b.saturating_pow(l as u32)))
            }
        }
    }

    /// Checks the limits: at most [`MAX_NODES`] nodes; path `n ≥ 2`, cycle `n ≥ 3`; grid rows,
    /// cols ≥ 1 and ≥ 2 nodes; tree depth 1..=8, branching 1..=4.
    pub fn validate(&self) -> Result<(), PeError> {
        let within = |name, v: usize, lo: usize, hi: usize| match (lo..=hi).contains(&v) {
            true => Ok(()),
            false => Err(PeError::invalid(name, v, format!("an integer in {lo}..={hi}"))),
        };
        let (name, value) = match *self {
            Graph::Path { n } => return within("n", n, 2, MAX_NODES),
            Graph::Cycle { n } => return within("n", n, 3, MAX_NODES),
            Graph::Grid { rows, cols } => {
                within("rows", rows, 1, MAX_NODES)?;
                within("cols", cols, 1, MAX_NODES)?;
                if rows * cols < 2 {
                    return Err(PeError::invalid("cols", cols, "at least 2 when rows = 1 (2 nodes)"));
                }
                ("rows", format!("{rows} (× cols {cols})"))
            }
            Graph::Tree { depth, branching } => {
                within("depth", depth, 1, 8)?;
                within("branching", branching, 1, 4)?;
                ("depth", format!("{depth} (branching {branching})"))
            }
        };
        if self.nodes() > MAX_NODES {
            let allowed = format!("at most {MAX_NODES} nodes (got {})", self.nodes());
            return Err(PeError::invalid(name, value, allowed));
        }
        Ok(())
    }

    /// Undirected edges `(a, b)` with `a < b`; empty for an invalid graph.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        if self.validate().is_err() {
            return Vec::new();
        }
        match *self {
            Graph::Path { n } => (1..n).map(|i| (i - 1, i)).collect(),
            Graph::Cycle { n } => (1..n).map(|i| (i - 1, i)).chain([(0, n - 1)]).collect(),
            Graph::Grid { rows, cols } => {
                let across = (0..rows * cols).filter(|v| v % cols + 1 < cols).map(|v| (v, v + 1));
                across.chain((0..(rows - 1) * cols).map(|v| (v, v + cols))).collect()
            }
            Graph::Tree { branching, .. } => (1..self.nodes()).map(|v| ((v - 1) / branching, v)).collect(),
        }
    }

    /// Node coordinates in `[0, 1]²` for drawing (`y` grows downwards, as on screen); empty for an
    /// invalid graph. Path: a horizontal line; cycle: a circle of radius ½ starting at the top,
    /// clockwise; grid: unit spacing scaled so the longer side spans `[0, 1]`, centred; tree: level
    /// `ℓ` at `y = ℓ/depth`, leaf `j` of `L` at `x = (j + ½)/L`, parents centred over children.
    pub fn layout(&self) -> Vec<[f64; 2]> {
        if self.validate().is_err() {
            return Vec::new();
        }
        match *self {
            Graph::Path { n } => (0..n).map(|i| [i as f64 / (n - 1) as f64, 0.5]).collect(),
            Graph::Cycle { n } => (0..n)
                .map(|i| {
                    let (s, c) = (TAU * i as f64 / n as f64).sin_cos();
                    [0.5 + 0.5 * s, 0.5 - 0.5 * c]
                })
                .collect(),
            Graph::Grid { rows, cols } => {
                let span = (rows.max(cols) - 1) as f64;
                let centre = |i: usize, len: usize| 0.5 + (i as f64 - (len - 1) as f64 / 2.0) / span;
                (0..rows * cols)
                    .map(|v| [centre(v % cols, cols), centre(v / cols, rows)])
                    .collect()
            }
            Graph::Tree { depth, branching } => {
                let n = self.nodes();
                let leaves = branching.pow(depth as u32);
                let first_leaf = n - leaves;
                let mut level = vec![0usize; n];
                for v in 1..n {
                    level[v] = level[(v - 1) / branching] + 1;
                }
                let mut pos = vec![[0.0; 2]; n];
                for v in (0..n).rev() {
                    let x = if v >= first_leaf {
                        (v - first_leaf) as f64 / leaves as f64 + 0.5 / leaves as f64
                    } else {
                        let kids = &pos[branching * v + 1..=branching * v + branching];
                        kids.iter().map(|p| p[0]).sum::<f64>() / branching as f64
                    };
                    pos[v] = [x, level[v] as f64 / depth as f64];
                }
                pos
            }
        }
    }
}

/// Dense row-major Laplacian: `L = D − A` (`normalized = false`) or `I − D^{-1/2} A D^{-1/2}`.
pub fn laplacian(graph: &Graph, normalized: bool) -> Result<Vec<f64>, PeError> {
    graph.validate()?;
    let n = graph.nodes();
    let edges = graph.edges();
    let mut degree = vec![0.0f64; n];
    for &(a, b) in &edges {
        degree[a] += 1.0;
        degree[b] += 1.0;
    }
    let mut l = vec![0.0; n * n];
    for (i, &d) in degree.iter().enumerate() {
        l[i * n + i] = if normalized { 1.0 } else { d };
    }
    for &(a, b) in &edges {
        // Every node of a valid graph has degree ≥ 1 (all families are connected).
        let w = if normalized {
            -(degree[a] * degree[b]).sqrt().recip()
        } else {
            -1.0
        };
        l[a * n + b] = w;
        l[b * n + a] = w;
    }
    Ok(l)
}

/// Eigenpairs in ascending eigenvalue order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Eigen {
    /// Eigenvalues `λ_0 ≤ λ_1 ≤ …` (`λ_0 ≈ 0`, up to rounding).
    pub values: Vec<f64>,
    /// `vectors[k]` is the unit-norm eigenvector of `values[k]` (length `n`), first entry with
    /// `|v_i| > 1e-9` positive.
    pub vectors: Vec<Vec<f64>>,
}

/// The first `k` (1..=n) eigenpairs of the graph's Laplacian, **including** the zero eigenvalue
/// at index 0.
///
/// Cyclic Jacobi iteration on the dense symmetric matrix (all `n` pairs are computed, then cut
/// to `k`): a sweep costs about `6n³` flops and 10–15 sweeps are typical. Measured on one core
/// of a release build: 128 nodes 30 ms, 256 nodes 0.35 s, 512 nodes 5 s, 1024 nodes about 70 s
/// (debug and size-optimised wasm builds are slower): keep large graphs off the UI thread. It
/// always stops, after at most [`MAX_SWEEPS`] sweeps. A repeated eigenvalue gets an arbitrary
/// orthonormal basis of its eigenspace.
pub fn eigen(graph: &Graph, normalized: bool, k: usize) -> Result<Eigen, PeError> {
    let l = laplacian(graph, normalized)?;
    let n = graph.nodes();
    check_k(k, n)?;
    let (values, vectors) = jacobi(l, n);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let sign_fixed = |i: usize| {
        let v = &vectors[i * n..(i + 1) * n];
        let flip = v.iter().find(|x| x.abs() > SIGN_EPS).is_some_and(|&x| x < 0.0);
        unit(v.iter().map(|&x| if flip { -x } else { x }).collect())
    };
    let (values, vectors) = order.iter().take(k).map(|&i| (values[i], sign_fixed(i))).unzip();
    Ok(Eigen { values, vectors })
}

fn check_k(k: usize, max: usize) -> Result<(), PeError> {
    if k == 0 || k > max {
        return Err(PeError::invalid("k", k, format!("an integer in 1..={max}")));
    }
    Ok(())
}

/// Laplacian PE table: row-major `n × k`, node `i`'s row holds entry `i` of the eigenvectors
/// `1 ..= k` (the `k` smallest non-zero eigenvalues of a connected graph), `k` in 1..n.
pub fn lap_pe(graph: &Graph, normalized: bool, k: usize) -> Result<Vec<f64>, PeError> {
    graph.validate()?;
    let n = graph.nodes();
    check_k(k, n - 1)?;
    let e = eigen(graph, normalized, k + 1)?;
    Ok((0..n).flat_map(|i| e.vectors[1..].iter().map(move |v| v[i])).collect())
}

/// Cyclic Jacobi eigenvalue iteration on the symmetric row-major `n × n` matrix `a`.
/// Returns the (unsorted) eigenvalues and the eigenvectors as the rows of a row-major matrix.
fn jacobi(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut vt = vec![0.0; n * n];
    for i in 0..n {
        vt[i * n + i] = 1.0;
    }
    let scale = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let tol = (JACOBI_TOL * scale).powi(2);
    let skip = 1e-17 * scale;
    let mut prev_off = f64::INFINITY;
    for _ in 0..MAX_SWEEPS {
        let off: f64 = (0..n)
            .flat_map(|p| (p + 1..n).map(move |q| (p, q)))
            .map(|(p, q)| a[p * n + q] * a[p * n + q])
            .sum();
        // Done, or stalled at rounding level.
        if off <= tol || (off > 0.25 * prev_off && off <= (1e-10 * scale).powi(2)) {
            break;
        }
        prev_off = off;
        for p in 0..n {
            for q in p + 1..n {
                if a[p * n + q].abs() > skip {
                    rotate(&mut a, &mut vt, n, p, q);
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), vt)
}

/// One Jacobi rotation zeroing `a[p][q]` (`p < q`): `A ← Jᵀ A J`, `V ← V J` (Numerical Recipes
/// form, `t = sgn θ / (|θ| + √(θ² + 1))`, `θ = (a_qq − a_pp) / 2a_pq`).
fn rotate(a: &mut [f64], vt: &mut [f64], n: usize, p: usize, q: usize) {
    let (app, aqq, apq) = (a[p * n + p], a[q * n + q], a[p * n + q]);
    let theta = (aqq - app) / (2.0 * apq);
    let t = if theta.abs() > 1e150 {
        0.5 / theta
    } else {
        theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
    };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in (0..n).filter(|&k| k != p && k != q) {
        let (akp, akq) = (a[k * n + p], a[k * n + q]);
        let (kp, kq) = (c * akp - s * akq, s * akp + c * akq);
        a[k * n + p] = kp;
        a[p * n + k] = kp;
        a[k * n + q] = kq;
        a[q * n + k] = kq;
    }
    a[p * n + p] = app - t * apq;
    a[q * n + q] = aqq + t * apq;
    a[p * n + q] = 0.0;
    a[q * n + p] = 0.0;
    let (head, tail) = vt.split_at_mut(q * n);
    for (vp, vq) in head[p * n..(p + 1) * n].iter_mut().zip(&mut tail[..n]) {
        (*vp, *vq) = (c * *vp - s * *vq, s * *vp + c * *vq);
    }
}

fn check_closed_form(n: usize, min_n: usize, k: usize) -> Result<(), PeError> {
    if n < min_n || n > MAX_NODES {
        return Err(PeError::invalid("n", n, format!("an integer in {min_n}..={MAX_NODES}")));
    }
    if k >= n {
        return Err(PeError::invalid("k", k, format!("an integer in 0..={}", n - 1)));
    }
    Ok(())
}

fn unit(mut v: Vec<f64>) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// Path `P_n` (combinatorial Laplacian), `k` in `0..n`: `λ_k = 2 − 2 cos(πk/n)` and the unit
/// vector `∝ cos(πk(i + ½)/n)` (DCT-II), whose first entry is positive as in [`eigen`].
pub fn path_closed_form(n: usize, k: usize) -> Result<(f64, Vec<f64>), PeError> {
    check_closed_form(n, 2, k)?;
    let w = PI * k as f64 / n as f64;
    let v = (0..n).map(|i| (w * (i as f64 + 0.5)).cos()).collect();
    Ok((2.0 - 2.0 * w.cos(), unit(v)))
}

/// `(λ_k, unit cos vector, unit sin vector if non-zero)` from [`cycle_closed_form`].
pub type CycleMode = (f64, Vec<f64>, Option<Vec<f64>>);

/// Cycle `C_n` (combinatorial Laplacian), `k` in `0..n`: `λ_k = 2 − 2 cos(2πk/n)`, the unit
/// vector `∝ cos(2πki/n)` and, unless it vanishes (`k = 0` or `2k = n`), the unit vector
/// `∝ sin(2πki/n)`. For `0 < k < n/2` both span the 2-D eigenspace shared with `n − k`.
pub fn cycle_closed_form(n: usize, k: usize) -> Result<CycleMode, PeError> {
    check_closed_form(n, 3, k)?;
    let w = TAU * k as f64 / n as f64;
    let cos = (0..n).map(|i| (w * i as f64).cos()).collect();
    let sin = (k != 0 && 2 * k != n).then(|| unit((0..n).map(|i| (w * i as f64).sin()).collect()));
    Ok((2.0 - 2.0 * w.cos(), unit(cos), sin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: usize, cols: usize) -> Graph {
        Graph::Grid { rows, cols }
    }

    fn tree(depth: usize, branching: usize) -> Graph {
        Graph::Tree { depth, branching }
    }

    fn all_graphs() -> Vec<Graph> {
        let mut g: Vec<Graph> = [2, 9, 40].map(|n| Graph::Path { n }).into();
        g.extend([3, 8, 31].map(|n| Graph::Cycle { n }));
        g.extend([grid(1, 2), grid(3, 3), grid(4, 7), tree(1, 1), tree(3, 2), tree(2, 4)]);
        g
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn matvec(m: &[f64], v: &[f64]) -> Vec<f64> {
        m.chunks(v.len()).map(|row| dot(row, v)).collect()
    }

    /// Norm of `v` minus its projection onto the eigenvectors whose eigenvalue is within 1e-8
    /// of `lambda` (0 when `v` lies in that eigenspace).
    fn off_eigenspace(e: &Eigen, lambda: f64, v: &[f64]) -> f64 {
        let mut rest = v.to_vec();
        for (val, u) in e.values.iter().zip(&e.vectors) {
            if (val - lambda).abs() < 1e-8 {
                let c = dot(u, v);
                rest.iter_mut().zip(u).for_each(|(r, x)| *r -= c * x);
            }
        }
        dot(&rest, &rest).sqrt()
    }

    fn sorted(mut v: Vec<f64>) -> Vec<f64> {
        v.sort_by(f64::total_cmp);
        v
    }

    fn assert_close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < tol, "{x} vs {y}");
        }
    }

    #[test]
    fn path_laplacian_by_hand() {
        let l = laplacian(&Graph::Path { n: 3 }, false).unwrap();
        assert_eq!(l, vec![1.0, -1.0, 0.0, -1.0, 2.0, -1.0, 0.0, -1.0, 1.0]);
        let l = laplacian(&Graph::Path { n: 3 }, true).unwrap();
        let h = -1.0 / 2f64.sqrt();
        assert_close(&l, &[1.0, h, 0.0, h, 1.0, h, 0.0, h, 1.0], 1e-15);
    }

    #[test]
    fn path_eigenpairs_equal_the_dct_closed_form() {
        for n in [2, 3, 5, 8, 17, 33] {
            let e = eigen(&Graph::Path { n }, false, n).unwrap();
            for k in 0..n {
                let (lambda, v) = path_closed_form(n, k).unwrap();
                assert!((e.values[k] - lambda).abs() < 1e-10, "n {n} k {k}");
                // Distinct eigenvalues: the vector is unique up to sign, and v_k(0) > 0 in the
                // closed form, so the sign convention makes them equal.
                assert_close(&e.vectors[k], &v, 1e-9);
            }
        }
        // Laplacian PE rows: entries of eigenvectors 1 ..= k.
        let pe = lap_pe(&Graph::Path { n: 6 }, false, 2).unwrap();
        let (v1, v2) = (path_closed_form(6, 1).unwrap().1, path_closed_form(6, 2).unwrap().1);
        assert_close(&pe, &[0, 1, 2, 3, 4, 5].map(|i| [v1[i], v2[i]]).concat(), 1e-9);
    }

    #[test]
    fn cycle_eigenvalues_and_sinusoid_eigenspaces() {
        for n in [3, 4, 8, 11, 24] {
            let e = eigen(&Graph::Cycle { n }, false, n).unwrap();
            let want = sorted((0..n).map(|k| cycle_closed_form(n, k).unwrap().0).collect());
            assert_close(&e.values, &want, 1e-10);
            for k in 0..n {
                let (lambda, cos, sin) = cycle_closed_form(n, k).unwrap();
                assert!(off_eigenspace(&e, lambda, &cos) < 1e-9, "n {n} k {k}");
                assert_eq!(sin.is_none(), k == 0 || 2 * k == n);
                if let Some(sin) = sin {
                    assert!(off_eigenspace(&e, lambda, &sin) < 1e-9);
                    assert!(dot(&sin, &cos).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn grid_eigenvalues_are_sums_of_path_eigenvalues() {
        for (rows, cols) in [(1, 5), (2, 2), (3, 4), (5, 5), (6, 3)] {
            let g = Graph::Grid { rows, cols };
            let e = eigen(&g, false, rows * cols).unwrap();
            let path = |len: usize, k: usize| 2.0 - 2.0 * (PI * k as f64 / len as f64).cos();
            let want = (0..rows).flat_map(|i| (0..cols).map(move |j| path(rows, i) + path(cols, j)));
            assert_close(&e.values, &sorted(want.collect()), 1e-10);
            // The 2-D DCT product vectors lie in their eigenspaces.
            if rows > 1 && cols > 1 {
                let (lr, vr) = path_closed_form(rows, 1).unwrap();
                let (lc, vc) = path_closed_form(cols, 1).unwrap();
                let prod: Vec<f64> = vr.iter().flat_map(|a| vc.iter().map(move |b| a * b)).collect();
                assert!(off_eigenspace(&e, lr + lc, &prod) < 1e-9);
            }
        }
    }

    #[test]
    fn every_family_orthonormal_exact_and_sign_fixed() {
        for g in all_graphs() {
            for norm in [false, true] {
                let n = g.nodes();
                let l = laplacian(&g, norm).unwrap();
                let e = eigen(&g, norm, n).unwrap();
                assert!(
                    norm || l.chunks(n).all(|row| row.iter().sum::<f64>() == 0.0),
                    "rows sum to 0"
                );
                assert!(e.values.windows(2).all(|w| w[0] <= w[1]), "{g:?}");
                assert!(e.values[0].abs() < 1e-10, "{g:?} λ0 = {}", e.values[0]);
                for (i, (lambda, v)) in e.values.iter().zip(&e.vectors).enumerate() {
                    let lv = matvec(&l, v);
                    let resid = lv.iter().zip(v).map(|(a, b)| (a - lambda * b).powi(2)).sum::<f64>();
                    assert!(resid.sqrt() < 1e-9, "{g:?} norm {norm} pair {i}");
                    let first = v.iter().find(|x| x.abs() > SIGN_EPS).unwrap();
                    assert!(*first > 0.0);
                    for (j, u) in e.vectors.iter().enumerate() {
                        let want = if i == j { 1.0 } else { 0.0 };
                        assert!((dot(u, v) - want).abs() < 1e-10, "{g:?} ({i}, {j})");
                    }
                }
                if norm {
                    assert!(e.values.iter().all(|&x| (-1e-10..=2.0 + 1e-10).contains(&x)));
                }
            }
        }
    }

    #[test]
    fn normalised_zero_mode_is_sqrt_degree_and_bipartite_top_is_two() {
        let g = tree(2, 3);
        let e = eigen(&g, true, g.nodes()).unwrap();
        let (n, l) = (g.nodes(), laplacian(&g, false).unwrap());
        let deg: Vec<f64> = (0..n).map(|i| l[i * n + i]).collect();
        let total: f64 = deg.iter().sum();
        let want: Vec<f64> = deg.iter().map(|d| (d / total).sqrt()).collect();
        assert_close(&e.vectors[0], &want, 1e-9);
        // Trees and even cycles are bipartite: the normalised spectrum reaches exactly 2.
        for g in [g, Graph::Path { n: 7 }, Graph::Cycle { n: 10 }] {
            let top = *eigen(&g, true, g.nodes()).unwrap().values.last().unwrap();
            assert!((top - 2.0).abs() < 1e-10, "{g:?}");
        }
    }

    #[test]
    fn sinusoidal_pe_columns_span_cycle_eigenspaces() {
        // A sinusoidal PE column pair sin(ωp), cos(ωp) over p = 0..n−1 with ω = 2πk/n is a pair of
        // Laplacian eigenvectors of the cycle C_n: sinusoidal PE is the Laplacian basis of a
        // cyclic chain.
        let n = 16;
        let g = Graph::Cycle { n };
        let l = laplacian(&g, false).unwrap();
        let e = eigen(&g, false, n).unwrap();
        for k in 1..n / 2 {
            let w = TAU * k as f64 / n as f64;
            let lambda = 2.0 - 2.0 * w.cos();
            for col in [
                (0..n).map(|p| (w * p as f64).sin()).collect::<Vec<f64>>(),
                (0..n).map(|p| (w * p as f64).cos()).collect(),
            ] {
                let scaled: Vec<f64> = col.iter().map(|x| lambda * x).collect();
                assert_close(&matvec(&l, &col), &scaled, 1e-12);
                assert!(off_eigenspace(&e, lambda, &col) < 1e-9);
            }
        }
    }

    #[test]
    fn structure_counts_keys_and_layouts() {
        assert_eq!([tree(3, 2), tree(4, 4), tree(8, 1)].map(|g| g.nodes()), [15, 341, 9]);
        assert_eq!(tree(usize::MAX, 3).nodes(), usize::MAX);
        let keys: Vec<&str> = all_graphs().iter().map(Graph::key).collect();
        assert!(["path", "cycle", "grid", "tree"].iter().all(|k| keys.contains(k)));
        for g in all_graphs() {
            let n = g.nodes();
            let want = match g {
                Graph::Cycle { n } => n,
                Graph::Grid { rows, cols } => rows * (cols - 1) + cols * (rows - 1),
                _ => n - 1,
            };
            let e = g.edges();
            assert_eq!(e.len(), want, "{g:?}");
            assert!(e.iter().all(|&(a, b)| a < b && b < n));
            let lay = g.layout();
            assert_eq!(lay.len(), n);
            assert!(lay.iter().flatten().all(|x| (-1e-12..=1.0 + 1e-12).contains(x)));
        }
        let lay = tree(2, 3).layout();
        assert_close(&lay[0], &[0.5, 0.0], 1e-15);
        assert_close(&lay[1], &[1.5 / 9.0, 0.5], 1e-15); // over leaves 0.5/9, 1.5/9, 2.5/9
        assert_close(&lay[4], &[0.5 / 9.0, 1.0], 1e-15);
        assert_close(&grid(2, 3).layout()[3], &[0.0, 0.75], 1e-15);
        assert_close(&Graph::Cycle { n: 4 }.layout()[1], &[1.0, 0.5], 1e-15);
    }

    #[test]
    fn invalid_input_is_an_error_not_a_panic() {
        let bad = [
            (Graph::Path { n: 0 }, "n"),
            (Graph::Path { n: 1 }, "n"),
            (Graph::Path { n: MAX_NODES + 1 }, "n"),
            (Graph::Cycle { n: 2 }, "n"),
            (grid(0, 5), "rows"),
            (grid(1, 1), "cols"),
            (grid(33, 32), "rows"),
            (grid(usize::MAX, 3), "rows"),
            (tree(0, 2), "depth"),
            (tree(9, 1), "depth"),
            (tree(2, 5), "branching"),
            (tree(5, 4), "depth"),
        ];
        for (g, name) in bad {
            assert_eq!(g.validate().unwrap_err().parameter(), Some(name), "{g:?}");
            assert_eq!(laplacian(&g, false).unwrap_err().parameter(), Some(name));
            assert!(eigen(&g, true, 1).is_err());
            assert!(g.edges().is_empty() && g.layout().is_empty());
        }
        let g = Graph::Cycle { n: 5 };
        assert_eq!(eigen(&g, false, 0).unwrap_err().parameter(), Some("k"));
        assert_eq!(eigen(&g, false, 6).unwrap_err().parameter(), Some("k"));
        assert_eq!(path_closed_form(1, 0).unwrap_err().parameter(), Some("n"));
        assert_eq!(path_closed_form(4, 4).unwrap_err().parameter(), Some("k"));
        assert_eq!(cycle_closed_form(2, 0).unwrap_err().parameter(), Some("n"));
        assert_eq!(cycle_closed_form(5, 9).unwrap_err().parameter(), Some("k"));
        let path = Graph::Path { n: 6 };
        assert!(lap_pe(&path, false, 0).is_err() && lap_pe(&path, false, 6).is_err());
    }
}
