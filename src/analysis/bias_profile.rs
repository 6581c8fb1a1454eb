//! Position-bias profiles of one scheme in a single pass over the causal attention map:
//! attention mass by relative distance, entropy by query position, and mass by absolute key
//! position ("where does attention go": primacy, recency, lost in the middle — Liu et al. 2023,
//! "Lost in the Middle"; Wang et al. 2024, PINE).

use crate::pe::diagnostics::{entropy, softmax_in_place};
use crate::pe::{PeError, PreparedLogits};

/// Curves over `0..n` (index = distance, query position, or key position).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BiasProfile {
    /// Mean over queries of the mass at distance `m − n = d`.
    pub mass_by_distance: Vec<f64>,
    /// Entropy (nats) of each query's attention row.
    pub entropy_by_query: Vec<f64>,
    /// Mean over queries of the mass on key position `n`.
    pub mass_by_key: Vec<f64>,
}

/// One causal pass over queries `0..n`.
pub fn compute(prepared: &PreparedLogits, n: usize) -> Result<BiasProfile, PeError> {
    let mut row = vec![0.0_f32; n];
    let mut out = BiasProfile {
        mass_by_distance: vec![0.0; n],
        entropy_by_query: Vec::with_capacity(n),
        mass_by_key: vec![0.0; n],
    };
    for m in 0..n {
        prepared.logits_row(m, n, true, &mut row)?;
        softmax_in_place(&mut row);
        out.entropy_by_query.push(entropy(&row));
        for (key, &p) in row[..=m].iter().enumerate() {
            out.mass_by_distance[m - key] += p as f64;
            out.mass_by_key[key] += p as f64;
        }
    }
    let inv = 1.0 / n.max(1) as f64;
    out.mass_by_distance
        .iter_mut()
        .chain(out.mass_by_key.iter_mut())
        .for_each(|v| *v *= inv);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::{Content, Scheme};

    #[test]
    fn nope_is_uniform_over_the_prefix() {
        let p = PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 8, 4).expect("valid");
        let b = compute(&p, 4).expect("profile");
        // query m spreads 1/(m+1) over keys 0..=m
        let by_key0 = (1.0 + 0.5 + 1.0 / 3.0 + 0.25) / 4.0;
        assert!((b.mass_by_key[0] - by_key0).abs() < 1e-6);
        assert!((b.mass_by_key[3] - 0.25 / 4.0).abs() < 1e-6);
        for (m, h) in b.entropy_by_query.iter().enumerate() {
            assert!((h - ((m + 1) as f64).ln()).abs() < 1e-5);
        }
        let total: f64 = b.mass_by_distance.iter().sum();
        assert!((total - 1.0).abs() < 1e-6);
    }

    #[test]
    fn alibi_mass_decreases_with_distance() {
        let p = PreparedLogits::new(&Scheme::Alibi { slope: 0.5 }, &Content::Identical, 8, 64).expect("valid");
        let b = compute(&p, 64).expect("profile");
        assert!(b.mass_by_distance.windows(2).all(|w| w[0] >= w[1]));
        // Only query 63 sees key 63, while key 30 collects recency mass from many queries.
        assert!(b.mass_by_key[63] < b.mass_by_key[30]);
        let total: f64 = b.mass_by_key.iter().sum();
        assert!((total - 1.0).abs() < 1e-6);
    }
}
