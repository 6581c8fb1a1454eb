//! Tiny deterministic random source (SplitMix64 + Box–Muller) for seeded content: demo tokens
//! and tables in `pe`, task samples in `tasks`.
//!
//! Plain `std` (no egui, no burn), so the maths core may use it; it keeps every "random" picture,
//! sample and evaluation reproducible from a seed without a random-number crate.

/// SplitMix64 generator (Steele, Lea & Flood 2014, "Fast splittable pseudorandom number
/// generators").
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in the open interval (0, 1).
    pub fn next_open01(&mut self) -> f64 {
        // 53 random bits, shifted by half an ulp so 0 is never returned.
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform integer in `0..n` (`n` ≥ 1; 0 is treated as 1). Lemire-style multiply-shift,
    /// whose bias (< n / 2⁶⁴) is irrelevant at the sizes used here.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n.max(1) as u128) >> 64) as usize
    }

    /// `k` distinct values from `0..n` in random order (partial Fisher–Yates); `k` is capped at `n`.
    pub fn distinct(&mut self, k: usize, n: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }

    /// Standard normal sample (Box–Muller, one of the pair).
    pub fn next_gaussian(&mut self) -> f64 {
        let u1 = self.next_open01();
        let u2 = self.next_open01();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_roughly_standard_normal() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut g = SplitMix64::new(42);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| g.next_gaussian()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
    }

    #[test]
    fn below_and_distinct_stay_in_range_and_cover_it() {
        let mut g = SplitMix64::new(3);
        let mut seen = [0usize; 7];
        for _ in 0..7000 {
            let v = g.below(7);
            seen[v] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
        assert_eq!(g.below(0), 0);
        for k in [0, 1, 5, 10, 12] {
            let d = g.distinct(k, 10);
            assert_eq!(d.len(), k.min(10));
            let mut s = d.clone();
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), d.len(), "distinct values: {d:?}");
            assert!(d.iter().all(|&v| v < 10));
        }
    }
}
