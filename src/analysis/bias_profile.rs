//! Position-bias profiles of one scheme in a single pass over the attention map (causal or
//! bidirectional): attention mass by relative distance, entropy by query position, and mass by
//! absolute key position ("where does attention go": primacy, recency, lost in the middle — Liu
//! et al. 2023, "Lost in the Middle"; Wang et al. 2024, PINE, who trace the bias to two causes:
//! the causal mask, which lets early keys collect attention from every later query, and the
//! encoding's decay with distance — switching the mask off separates them).

use crate::pe::diagnostics::softmax_with_entropy;
use crate::pe::{PeError, PreparedLogits};

/// Curves over `0..n` (index = distance, query position, or key position).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BiasProfile {
    /// Mean over queries of the mass at distance `|m − n| = d`.
    pub mass_by_distance: Vec<f64>,
    /// Entropy (nats) of each query's attention row.
    pub entropy_by_query: Vec<f64>,
    /// Mean over queries of the mass on key position `n`.
    pub mass_by_key: Vec<f64>,
}

/// One pass over queries `0..n`, each attending to keys `0..=m` (causal) or `0..n`.
pub fn compute(prepared: &PreparedLogits, n: usize, causal: bool) -> Result<BiasProfile, PeError> {
    let mut acc = ProfileAccumulator::new(n, causal);
    acc.rows(prepared, n)?;
    Ok(acc.finish())
}

/// A profile being computed row by row (so the Position-bias view can spread large lengths over
/// frames within the work budget).
#[derive(Clone, Debug)]
pub struct ProfileAccumulator {
    n: usize,
    causal: bool,
    row: Vec<f32>,
    out: BiasProfile,
}

impl ProfileAccumulator {
    pub fn new(n: usize, causal: bool) -> Self {
        Self {
            n,
            causal,
            row: vec![0.0_f32; n],
            out: BiasProfile {
                mass_by_distance: vec![0.0; n],
                entropy_by_query: Vec::with_capacity(n),
                mass_by_key: vec![0.0; n],
            },
        }
    }

    /// Query rows done so far.
    pub fn rows_done(&self) -> usize {
        self.out.entropy_by_query.len()
    }

    pub fn is_done(&self) -> bool {
        self.rows_done() >= self.n
    }

    /// Compute up to `max_rows` more query rows.
    pub fn rows(&mut self, prepared: &PreparedLogits, max_rows: usize) -> Result<(), PeError> {
        let start = self.rows_done();
        let end = start.saturating_add(max_rows).min(self.n);
        for m in start..end {
            prepared.logits_row(m, self.n, self.causal, &mut self.row)?;
            let h = softmax_with_entropy(&mut self.row);
            self.out.entropy_by_query.push(h);
            let seen = if self.causal { m + 1 } else { self.n };
            for (key, &p) in self.row[..seen].iter().enumerate() {
                self.out.mass_by_distance[m.abs_diff(key)] += p as f64;
                self.out.mass_by_key[key] += p as f64;
            }
        }
        Ok(())
    }

    /// The profile (means over the `n` queries).
    pub fn finish(mut self) -> BiasProfile {
        let inv = 1.0 / self.n.max(1) as f64;
        self.out
            .mass_by_distance
            .iter_mut()
            .chain(self.out.mass_by_key.iter_mut())
            .for_each(|v| *v *= inv);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::{Content, Scheme};

    #[test]
    fn nope_is_uniform_over_the_prefix() {
        let p = PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 8, 4).expect("valid");
        let b = compute(&p, 4, true).expect("profile");
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
        let b = compute(&p, 64, true).expect("profile");
        assert!(b.mass_by_distance.windows(2).all(|w| w[0] >= w[1]));
        // Only query 63 sees key 63, while key 30 collects recency mass from many queries.
        assert!(b.mass_by_key[63] < b.mass_by_key[30]);
        let total: f64 = b.mass_by_key.iter().sum();
        assert!((total - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rows_in_chunks_give_the_same_profile() {
        let p = PreparedLogits::new(&Scheme::Alibi { slope: 0.2 }, &Content::Random { seed: 1 }, 8, 40).expect("p");
        let whole = compute(&p, 40, false).expect("profile");
        let mut acc = ProfileAccumulator::new(40, false);
        while !acc.is_done() {
            acc.rows(&p, 6).expect("rows");
        }
        assert_eq!(acc.finish(), whole);
    }

    /// PINE's two causes, separated: without the mask, NoPE spreads every query evenly over all
    /// keys (no primacy left), and ALiBi's decay alone is symmetric (the first key collects what
    /// the last does); with the mask, the first keys collect far more.
    #[test]
    fn bidirectional_profiles_drop_the_masks_primacy() {
        let n = 64;
        let nope = PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 8, n).expect("valid");
        let both = compute(&nope, n, false).expect("profile");
        assert!(both.mass_by_key.iter().all(|&v| (v - 1.0 / n as f64).abs() < 1e-6));
        assert!(
            both.entropy_by_query
                .iter()
                .all(|&h| (h - (n as f64).ln()).abs() < 1e-4)
        );
        let causal = compute(&nope, n, true).expect("profile");
        assert!(
            causal.mass_by_key.windows(2).all(|w| w[0] > w[1]),
            "primacy under the mask"
        );

        let alibi = PreparedLogits::new(&Scheme::Alibi { slope: 0.1 }, &Content::Identical, 8, n).expect("valid");
        let b = compute(&alibi, n, false).expect("profile");
        for k in 0..n {
            assert!(
                (b.mass_by_key[k] - b.mass_by_key[n - 1 - k]).abs() < 1e-6,
                "symmetric at {k}"
            );
        }
        let c = compute(&alibi, n, true).expect("profile");
        assert!(
            c.mass_by_key[0] > 2.0 * b.mass_by_key[0],
            "the mask hands the first key its primacy"
        );
        let total: f64 = b.mass_by_distance.iter().sum();
        assert!((total - 1.0).abs() < 1e-6);
        // Distances ≥ 1 occur on both sides of a query, so they fall off from d = 1 on.
        assert!(b.mass_by_distance[1..].windows(2).all(|w| w[0] >= w[1]));
    }
}
