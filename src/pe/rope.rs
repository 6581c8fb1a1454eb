//! RoPE — rotary position embedding.
//!
//! Su, Lu, Pan, Murtadha, Wen & Liu 2021, "RoFormer: Enhanced Transformer with Rotary Position
//! Embedding". Each pair of query/key coordinates is rotated by `position · θ_i` with
//! `θ_i = base^(−2i/d)`, so `⟨R(m)q, R(n)k⟩` depends only on `m − n`.
//!
//! Two pairings exist — same maths, different memory layout:
//! * [`RopeLayout::RotateHalf`] (Hugging Face Llama, the default here): pairs `(i, i + d/2)`,
//!   `y[i] = x[i]·cos − x[i+d/2]·sin`, `y[i+d/2] = x[i+d/2]·cos + x[i]·sin`;
//! * [`RopeLayout::Interleaved`] (RoFormer, GPT-J, Meta's reference code): pairs `(2i, 2i+1)`.
//!
//! Moving coordinate `2i → i` and `2i+1 → i + d/2` turns one into the other
//! ([`interleaved_to_rotate_half`]). As in HF, an *attention factor* (from context-extension
//! methods such as YaRN) multiplies both `cos` and `sin`, so q·k logits scale by its square.

use super::{PeError, check_base, check_head_dim};
use serde::{Deserialize, Serialize};

/// Which coordinates form a rotation pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RopeLayout {
    /// Pairs `(i, i + d/2)` (HF `rotate_half`).
    #[default]
    RotateHalf,
    /// Pairs `(2i, 2i + 1)` (RoFormer / GPT-J).
    Interleaved,
}

impl RopeLayout {
    /// Coordinates of pair `i` in a vector of length `head_dim`.
    pub fn pair(self, head_dim: usize, i: usize) -> (usize, usize) {
        match self {
            RopeLayout::RotateHalf => (i, i + head_dim / 2),
            RopeLayout::Interleaved => (2 * i, 2 * i + 1),
        }
    }
}

/// Unscaled inverse frequencies `θ_i = base^(−2i/d)`, `i = 0 .. d/2 − 1` (in `f64`; HF computes
/// them in `f32`).
pub fn default_inv_freq(head_dim: usize, base: f64) -> Result<Vec<f64>, PeError> {
    check_head_dim(head_dim)?;
    check_base(base)?;
    Ok(unchecked_inv_freq(head_dim, base))
}

/// `θ_i` without validation (callers have validated `head_dim` and `base`).
pub(crate) fn unchecked_inv_freq(head_dim: usize, base: f64) -> Vec<f64> {
    (0..head_dim / 2)
        .map(|i| 1.0 / base.powf((2 * i) as f64 / head_dim as f64))
        .collect()
}

fn check_vector(x: &[f64], inv_freq: &[f64]) -> Result<(), PeError> {
    if inv_freq.is_empty() || x.len() != 2 * inv_freq.len() {
        return Err(PeError::invalid(
            "vector",
            format!("{} values", x.len()),
            format!("exactly head_dim = 2 × {} values", inv_freq.len()),
        ));
    }
    if x.iter().any(|v| !v.is_finite()) {
        return Err(PeError::invalid("vector", "a non-finite entry", "finite numbers"));
    }
    Ok(())
}

/// Rotates `x` (length `2 · inv_freq.len()`) to `position`, writing into `out`:
/// pair `i` turns by `position · inv_freq[i]`, and `cos`, `sin` are multiplied by
/// `attention_factor`.
pub fn rotate_into(
    x: &[f64],
    position: f64,
    inv_freq: &[f64],
    attention_factor: f64,
    layout: RopeLayout,
    out: &mut [f64],
) -> Result<(), PeError> {
    check_vector(x, inv_freq)?;
    if !position.is_finite() {
        return Err(PeError::invalid("positions", position, "finite numbers"));
    }
    if !attention_factor.is_finite() {
        return Err(PeError::invalid(
            "attention_factor",
            attention_factor,
            "a finite number",
        ));
    }
    if out.len() != x.len() {
        return Err(PeError::invalid(
            "out",
            format!("{} values", out.len()),
            format!("the vector length {}", x.len()),
        ));
    }
    let d = x.len();
    for (i, &theta) in inv_freq.iter().enumerate() {
        let (s, c) = (position * theta).sin_cos();
        let (s, c) = (s * attention_factor, c * attention_factor);
        let (a, b) = layout.pair(d, i);
        out[a] = x[a] * c - x[b] * s;
        out[b] = x[b] * c + x[a] * s;
    }
    Ok(())
}

/// Allocating form of [`rotate_into`].
pub fn rotate(
    x: &[f64],
    position: f64,
    inv_freq: &[f64],
    attention_factor: f64,
    layout: RopeLayout,
) -> Result<Vec<f64>, PeError> {
    let mut out = vec![0.0; x.len()];
    rotate_into(x, position, inv_freq, attention_factor, layout, &mut out)?;
    if let Some((i, v)) = out.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(PeError::NonFinite {
            what: "rotated vector",
            detail: format!("y{i} = {v} at position {position}"),
        });
    }
    Ok(out)
}

/// Reorders an interleaved-layout vector `(x0, x1, x2, x3, …)` into rotate-half layout
/// `(x0, x2, … | x1, x3, …)`. Odd lengths keep the last element at the end.
pub fn interleaved_to_rotate_half(x: &[f64]) -> Vec<f64> {
    let half = x.len() / 2;
    let mut out = x.to_vec();
    for i in 0..half {
        out[i] = x[2 * i];
        out[half + i] = x[2 * i + 1];
    }
    out
}

/// Inverse of [`interleaved_to_rotate_half`].
pub fn rotate_half_to_interleaved(x: &[f64]) -> Vec<f64> {
    let half = x.len() / 2;
    let mut out = x.to_vec();
    for i in 0..half {
        out[2 * i] = x[i];
        out[2 * i + 1] = x[half + i];
    }
    out
}

/// Attention score `⟨R(m)q, R(n)k⟩` (no `1/√d`), in closed form per pair:
/// `Σ_i (q_a k_a + q_b k_b)·cos((m−n)θ_i) + (q_a k_b − q_b k_a)·sin((m−n)θ_i)`.
pub fn score(
    q: &[f64],
    k: &[f64],
    query_pos: f64,
    key_pos: f64,
    inv_freq: &[f64],
    layout: RopeLayout,
) -> Result<f64, PeError> {
    check_vector(q, inv_freq)?;
    check_vector(k, inv_freq)?;
    let delta = query_pos - key_pos;
    if !delta.is_finite() {
        return Err(PeError::invalid("positions", delta, "finite numbers"));
    }
    let d = q.len();
    Ok(inv_freq
        .iter()
        .enumerate()
        .map(|(i, &theta)| {
            let (a, b) = layout.pair(d, i);
            let (s, c) = (delta * theta).sin_cos();
            (q[a] * k[a] + q[b] * k[b]) * c + (q[a] * k[b] - q[b] * k[a]) * s
        })
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn inv_freq_hand_derived() {
        // d = 4, base 100: θ = [1, 100^(-1/2)] = [1, 0.1].
        let f = default_inv_freq(4, 100.0).unwrap();
        assert!((f[0] - 1.0).abs() < 1e-15 && (f[1] - 0.1).abs() < 1e-15);
        assert!(default_inv_freq(3, 100.0).is_err());
        assert!(default_inv_freq(4, 1.0).is_err());
    }

    #[test]
    fn quarter_turn_of_a_unit_vector() {
        let y = rotate(
            &[1.0, 0.0],
            std::f64::consts::FRAC_PI_2,
            &[1.0],
            1.0,
            RopeLayout::Interleaved,
        )
        .unwrap();
        assert!(y[0].abs() < 1e-15 && (y[1] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn rotate_half_hand_derived_d4() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y = rotate(&x, 1.0, &[1.0, 0.1], 1.0, RopeLayout::RotateHalf).unwrap();
        let (s1, c1) = 1f64.sin_cos();
        let (s2, c2) = 0.1f64.sin_cos();
        let want = [
            1.0 * c1 - 3.0 * s1,
            2.0 * c2 - 4.0 * s2,
            3.0 * c1 + 1.0 * s1,
            4.0 * c2 + 2.0 * s2,
        ];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-14);
        }
        // Interleaved pairs (0,1), (2,3) instead.
        let y = rotate(&x, 1.0, &[1.0, 0.1], 1.0, RopeLayout::Interleaved).unwrap();
        let want = [
            1.0 * c1 - 2.0 * s1,
            2.0 * c1 + 1.0 * s1,
            3.0 * c2 - 4.0 * s2,
            4.0 * c2 + 3.0 * s2,
        ];
        for (a, b) in y.iter().zip(want) {
            assert!((a - b).abs() < 1e-14);
        }
    }

    #[test]
    fn attention_factor_scales_output_and_logit_by_its_square() {
        let f = default_inv_freq(8, 10_000.0).unwrap();
        let x = [0.3, -1.0, 2.0, 0.5, 1.5, -0.2, 0.0, 1.0];
        let y1 = rotate(&x, 5.0, &f, 1.0, RopeLayout::RotateHalf).unwrap();
        let y2 = rotate(&x, 5.0, &f, 1.5, RopeLayout::RotateHalf).unwrap();
        for (a, b) in y1.iter().zip(&y2) {
            assert!((a * 1.5 - b).abs() < 1e-12);
        }
        assert!((dot(&y2, &y2) - 2.25 * dot(&y1, &y1)).abs() < 1e-9);
    }

    #[test]
    fn rejects_wrong_lengths_and_non_finite_values() {
        assert!(rotate(&[1.0, 2.0, 3.0], 0.0, &[1.0], 1.0, RopeLayout::RotateHalf).is_err());
        assert!(rotate(&[1.0, f64::NAN], 0.0, &[1.0], 1.0, RopeLayout::RotateHalf).is_err());
        assert!(rotate(&[1.0, 0.0], f64::INFINITY, &[1.0], 1.0, RopeLayout::RotateHalf).is_err());
    }

    fn vec_strategy(d: usize) -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(-3.0f64..3.0, d)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn score_depends_only_on_relative_position(
            q in vec_strategy(16), k in vec_strategy(16),
            m in 0u32..5000, n in 0u32..5000, shift in 0u32..5000,
        ) {
            let f = default_inv_freq(16, 10_000.0).unwrap();
            for layout in [RopeLayout::RotateHalf, RopeLayout::Interleaved] {
                let s = |a: f64, b: f64| {
                    let rq = rotate(&q, a, &f, 1.0, layout).unwrap();
                    let rk = rotate(&k, b, &f, 1.0, layout).unwrap();
                    dot(&rq, &rk)
                };
                let (m, n, t) = (m as f64, n as f64, shift as f64);
                let base = s(m, n);
                prop_assert!((base - s(m + t, n + t)).abs() < 1e-8 * (1.0 + base.abs()));
                // The closed form agrees with rotating explicitly.
                let closed = score(&q, &k, m, n, &f, layout).unwrap();
                prop_assert!((base - closed).abs() < 1e-8 * (1.0 + base.abs()));
            }
        }

        #[test]
        fn rotation_preserves_norm(x in vec_strategy(32), pos in -1e5f64..1e5) {
            let f = default_inv_freq(32, 10_000.0).unwrap();
            for layout in [RopeLayout::RotateHalf, RopeLayout::Interleaved] {
                let y = rotate(&x, pos, &f, 1.0, layout).unwrap();
                prop_assert!((dot(&y, &y) - dot(&x, &x)).abs() < 1e-9 * (1.0 + dot(&x, &x)));
            }
        }

        #[test]
        fn layouts_agree_under_the_permutation(x in vec_strategy(12), pos in 0.0f64..10_000.0) {
            let f = default_inv_freq(12, 500_000.0).unwrap();
            let via_interleaved = rotate(&x, pos, &f, 1.0, RopeLayout::Interleaved).unwrap();
            let x_half = interleaved_to_rotate_half(&x);
            let via_half = rotate(&x_half, pos, &f, 1.0, RopeLayout::RotateHalf).unwrap();
            let back = rotate_half_to_interleaved(&via_half);
            for (a, b) in via_interleaved.iter().zip(&back) {
                prop_assert!((a - b).abs() < 1e-12);
            }
            prop_assert_eq!(rotate_half_to_interleaved(&x_half), x);
        }
    }
}
