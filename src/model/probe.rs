//! What a trained model knows about position: a linear probe that reads a token's absolute
//! position from one layer's hidden state (the residual stream), fitted in closed form (ridge
//! regression) on samples at the training length and evaluated at longer lengths.
//!
//! Linear probes after Alain & Bengio 2017 ("Understanding intermediate layers using linear
//! classifier probes"); the question after Kazemnejad et al. 2023 ("The Impact of Positional
//! Encoding on Length Generalization in Transformers"), who prove that a NoPE decoder can
//! recover absolute positions from its causal mask in its first layer, and Haviv et al. 2022
//! ("Transformer Language Models without Positional Encodings Still Learn Positional
//! Information"), who probe for it. Pure maths here (no burn); the hidden states come from
//! `Evaluator::position_probe`.

use serde::{Deserialize, Serialize};

/// A fitted probe: `ŷ = bias + Σ_j w_j (x_j − mean_j) / std_j`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ridge {
    mean: Vec<f64>,
    inv_std: Vec<f64>,
    weights: Vec<f64>,
    bias: f64,
}

/// Ridge strength relative to the number of rows (features are standardised, so `XᵀX` has
/// `rows` on its diagonal): small enough not to bias a real signal, large enough to keep
/// collinear hidden units (LayerNorm makes them so) solvable.
pub const RIDGE_PER_ROW: f64 = 1e-3;

/// How well a probe reads positions on one set of rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeFit {
    /// Coefficient of determination `1 − SS_res / SS_tot` (1 = perfect, 0 = no better than
    /// the mean position, negative = worse).
    pub r2: f64,
    /// Mean absolute error, in positions.
    pub mae: f64,
}

/// The probe of every layer of one model at several lengths.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Length the probes were fitted at (the model's training length).
    pub fit_len: usize,
    /// Samples at `fit_len` the probes were fitted on, and per evaluated length.
    pub samples: usize,
    pub lengths: Vec<usize>,
    /// `fits[layer][length]`: layer 0 is the input (token embedding + absolute encoding),
    /// layer `l` the residual stream after block `l`. `None` where the model cannot run (learned
    /// APE past its table).
    pub fits: Vec<Vec<Option<ProbeFit>>>,
}

/// Fit `y ≈ ridge(x)` on `rows` rows of `dims` features (`x` row-major).
pub fn fit(x: &[f32], dims: usize, y: &[f64]) -> Result<Ridge, String> {
    let rows = y.len();
    if dims == 0 || rows < 2 || x.len() != rows * dims {
        return Err(format!(
            "a probe needs ≥ 2 rows of ≥ 1 feature ({} values for {rows} rows × {dims})",
            x.len()
        ));
    }
    if x.iter().any(|v| !v.is_finite()) || y.iter().any(|v| !v.is_finite()) {
        return Err("a probe needs finite hidden states and targets".into());
    }
    let mut mean = vec![0.0; dims];
    for row in x.chunks_exact(dims) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= rows as f64);
    let mut var = vec![0.0; dims];
    for row in x.chunks_exact(dims) {
        for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (v as f64 - m).powi(2);
        }
    }
    // A constant unit gets weight 0 (inv_std 0), not a division by zero.
    let inv_std: Vec<f64> = var
        .iter()
        .map(|&s| {
            let sd = (s / rows as f64).sqrt();
            if sd > 1e-12 { 1.0 / sd } else { 0.0 }
        })
        .collect();
    let y_mean = y.iter().sum::<f64>() / rows as f64;
    // Normal equations (ZᵀZ + λI) w = Zᵀ(y − ȳ) on standardised features Z.
    let mut a = vec![0.0; dims * dims];
    let mut b = vec![0.0; dims];
    let mut z = vec![0.0; dims];
    for (row, &t) in x.chunks_exact(dims).zip(y) {
        for ((zj, &v), (m, s)) in z.iter_mut().zip(row).zip(mean.iter().zip(&inv_std)) {
            *zj = (v as f64 - m) * s;
        }
        for i in 0..dims {
            b[i] += z[i] * (t - y_mean);
            for j in 0..=i {
                a[i * dims + j] += z[i] * z[j];
            }
        }
    }
    let lambda = RIDGE_PER_ROW * rows as f64;
    for i in 0..dims {
        a[i * dims + i] += lambda;
        for j in 0..i {
            a[j * dims + i] = a[i * dims + j];
        }
    }
    let weights = cholesky_solve(&mut a, &b, dims).ok_or("the probe's normal equations are not solvable")?;
    Ok(Ridge {
        mean,
        inv_std,
        weights,
        bias: y_mean,
    })
}

impl Ridge {
    /// The predicted target of one row.
    pub fn predict(&self, row: &[f32]) -> f64 {
        self.bias
            + row
                .iter()
                .zip(&self.mean)
                .zip(&self.inv_std)
                .zip(&self.weights)
                .map(|(((&v, m), s), w)| (v as f64 - m) * s * w)
                .sum::<f64>()
    }

    /// R² and mean absolute error on `rows` (row-major, the fitted width) against `y`.
    pub fn score(&self, x: &[f32], y: &[f64]) -> ProbeFit {
        let dims = self.weights.len();
        let n = y.len().min(x.len() / dims.max(1));
        if n == 0 {
            return ProbeFit::default();
        }
        let y_mean = y[..n].iter().sum::<f64>() / n as f64;
        let (mut ss_res, mut ss_tot, mut abs) = (0.0, 0.0, 0.0);
        for (row, &t) in x.chunks_exact(dims).zip(&y[..n]) {
            let e = t - self.predict(row);
            ss_res += e * e;
            abs += e.abs();
            ss_tot += (t - y_mean).powi(2);
        }
        ProbeFit {
            r2: if ss_tot > 0.0 { 1.0 - ss_res / ss_tot } else { 0.0 },
            mae: abs / n as f64,
        }
    }
}

/// Solves `A w = b` for symmetric positive definite `A` (`n × n`, overwritten by its Cholesky
/// factor); `None` if `A` is not positive definite.
fn cholesky_solve(a: &mut [f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    // L u = b, then Lᵀ w = u.
    let mut u = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            u[i] -= a[i * n + k] * u[k];
        }
        u[i] /= a[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            u[i] -= a[k * n + i] * u[k];
        }
        u[i] /= a[i * n + i];
    }
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    /// Rows of `dims` uniform features, and a target that is a planted linear function of them
    /// plus a little noise.
    fn planted(rows: usize, dims: usize, seed: u64, noise: f64) -> (Vec<f32>, Vec<f64>, Vec<f64>) {
        let mut rng = SplitMix64::new(seed);
        let w: Vec<f64> = (0..dims).map(|j| (j as f64 - 2.0) * 3.0).collect();
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..rows {
            let row: Vec<f32> = (0..dims).map(|_| rng.next_open01() as f32).collect();
            let t = 7.0 + row.iter().zip(&w).map(|(&v, w)| v as f64 * w).sum::<f64>();
            y.push(t + noise * (rng.next_open01() - 0.5));
            x.extend(row);
        }
        (x, y, w)
    }

    #[test]
    fn recovers_a_planted_linear_position_signal() {
        let (x, y, _) = planted(500, 6, 1, 0.01);
        let probe = fit(&x, 6, &y).expect("fit");
        let (xt, yt, _) = planted(300, 6, 2, 0.01);
        let f = probe.score(&xt, &yt);
        assert!(f.r2 > 0.999, "held-out R² {}", f.r2);
        assert!(f.mae < 0.05, "held-out MAE {}", f.mae);
        // The raw-unit weights come back: w_j = weights_j · inv_std_j.
        let raw: Vec<f64> = probe.weights.iter().zip(&probe.inv_std).map(|(w, s)| w * s).collect();
        for (j, r) in raw.iter().enumerate() {
            assert!((r - (j as f64 - 2.0) * 3.0).abs() < 0.1, "w_{j} = {r}");
        }
    }

    #[test]
    fn features_unrelated_to_the_target_read_nothing() {
        let (x, _, _) = planted(800, 5, 3, 0.0);
        let mut rng = SplitMix64::new(9);
        let y: Vec<f64> = (0..800).map(|_| rng.next_open01() * 100.0).collect();
        let probe = fit(&x, 5, &y).expect("fit");
        let (xt, _, _) = planted(400, 5, 4, 0.0);
        let yt: Vec<f64> = (0..400).map(|_| rng.next_open01() * 100.0).collect();
        let f = probe.score(&xt, &yt);
        assert!(f.r2 < 0.05, "R² {} from noise", f.r2);
        assert!(f.mae > 15.0, "MAE {}", f.mae);
    }

    #[test]
    fn constant_and_duplicated_units_stay_solvable() {
        // Column 0 constant, column 2 a copy of column 1: ridge keeps the system definite.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..50 {
            let v = i as f32 / 10.0;
            x.extend([1.0, v, v]);
            y.push(2.0 * v as f64);
        }
        let probe = fit(&x, 3, &y).expect("fit");
        let f = probe.score(&x, &y);
        assert!(f.r2 > 0.999 && f.mae < 0.05, "{f:?}");
        assert!(probe.predict(&[1.0, 1.0, 1.0]).is_finite());
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(fit(&[1.0, 2.0], 2, &[1.0]).is_err(), "one row");
        assert!(fit(&[1.0, 2.0, 3.0], 2, &[1.0, 2.0]).is_err(), "ragged");
        assert!(fit(&[1.0, f32::NAN, 3.0, 4.0], 2, &[1.0, 2.0]).is_err(), "NaN state");
        assert!(
            fit(&[1.0, 2.0, 3.0, 4.0], 2, &[1.0, f64::INFINITY]).is_err(),
            "∞ target"
        );
    }

    #[test]
    fn cholesky_solves_a_known_system() {
        let mut a = vec![4.0, 2.0, 2.0, 3.0];
        let w = cholesky_solve(&mut a, &[2.0, 1.0], 2).expect("definite");
        assert!((w[0] - 0.5).abs() < 1e-12 && w[1].abs() < 1e-12, "{w:?}");
        let mut singular = vec![1.0, 1.0, 1.0, 1.0];
        assert!(cholesky_solve(&mut singular, &[1.0, 1.0], 2).is_none());
    }
}
