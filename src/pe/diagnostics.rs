//! Diagnostics the views compute: RoPE wavelengths and turns, unseen-angle pairs, a stable
//! softmax, attention entropy and attention mass by distance.
//!
//! The unseen-angle diagnosis follows the RoPE-extrapolation analyses of Chen et al. 2023
//! ("Extending Context Window of Large Language Models via Positional Interpolation") and Peng et
//! al. 2023 (YaRN); position-bias diagnostics (mass vs distance) follow Wang et al. 2024
//! ("Eliminating Position Bias of Language Models: A Mechanistic Approach", PINE).
//! The attention logits themselves are in [`super::logits`].

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
    softmax_with_entropy(row);
}

/// [`softmax_in_place`], returning the entropy `−Σ p ln p` (nats) of the row it leaves.
///
/// With `zᵢ = xᵢ − max` and `S = Σ e^zᵢ`, `ln pᵢ = zᵢ − ln S`, so `H = ln S + Σ pᵢ·(−zᵢ)`: two
/// non-negative terms (no cancellation) and no logarithm per entry — the heatmap engine's rows
/// would otherwise spend more time in `ln` than in the softmax itself. Entries flushed to 0
/// contribute nothing, as in [`entropy`]. `+∞` entries sharing the mass give `ln(count)`; a fully
/// masked row gives 0.
pub fn softmax_with_entropy(row: &mut [f32]) -> f64 {
    let mut max = f32::NEG_INFINITY;
    for v in row.iter_mut() {
        if v.is_nan() {
            *v = f32::NEG_INFINITY;
        }
        max = max.max(*v);
    }
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return 0.0;
    }
    // Σ e^z · (−z): the entropy's second term before dividing by S.
    let mut weighted = 0.0f64;
    if max == f32::INFINITY {
        for v in row.iter_mut() {
            *v = if *v == f32::INFINITY { 1.0 } else { 0.0 };
        }
    } else {
        for v in row.iter_mut() {
            let z = *v - max;
            // Below −87 the result is under f32's normal range: flush to 0 rather than take
            // libm's slow subnormal path (also skips masked −∞ entries).
            *v = if z < -87.0 {
                0.0
            } else {
                let e = z.exp();
                weighted -= e as f64 * z as f64;
                e
            };
        }
    }
    let sum: f64 = row.iter().map(|&v| v as f64).sum();
    // sum ≥ 1 because the maximum contributes exp(0) = 1.
    let inv = (1.0 / sum) as f32;
    for v in row.iter_mut() {
        *v *= inv;
    }
    sum.ln() + weighted / sum
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::rope::default_inv_freq;

    #[test]
    fn softmax_entropy_from_logits_equals_the_entropy_of_the_probabilities() {
        let rows: Vec<Vec<f32>> = vec![
            vec![0.0; 7],                                             // uniform: ln 7
            (0..50).map(|i| (i as f32 * 0.37).sin() * 6.0).collect(), // varied
            (0..40).map(|i| -(i as f32) * 4.0).collect(),             // entries flushed to 0
            vec![1e30, -1e30, 3.0, f32::NEG_INFINITY, f32::NAN],      // extreme and masked
            vec![3.0, f32::INFINITY, 1.0, f32::INFINITY],             // +∞ share the mass: ln 2
            vec![f32::NEG_INFINITY, f32::NAN],                        // fully masked: 0
            vec![],
        ];
        for row in rows {
            let mut probs = row.clone();
            softmax_in_place(&mut probs);
            let mut again = row.clone();
            let h = softmax_with_entropy(&mut again);
            assert_eq!(probs, again, "the same probabilities as softmax_in_place");
            let direct = entropy(&probs);
            assert!(
                (h - direct).abs() < 1e-6 * (1.0 + direct),
                "{h} vs {direct} for {row:?}"
            );
            assert!(h.is_finite() && h >= -1e-12);
        }
        let mut uniform = [0.0f32; 7];
        assert!((softmax_with_entropy(&mut uniform) - 7f64.ln()).abs() < 1e-12);
        let mut two = [f32::INFINITY, 0.0, f32::INFINITY];
        assert!((softmax_with_entropy(&mut two) - 2f64.ln()).abs() < 1e-12);
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
}
