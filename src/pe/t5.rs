//! T5 relative position buckets.
//!
//! Shaw et al. 2018, "Self-Attention with Relative Position Representations" introduced learned
//! relative positions; Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a
//! Unified Text-to-Text Transformer" (T5) simplified them to one learned scalar per head and per
//! *bucket* of the relative position `rel = n − m` (key minus query), added to the logits.
//!
//! Bucketing follows Hugging Face `modeling_t5.py::_relative_position_bucket` exactly, including
//! its `f32` logarithm and truncation toward zero:
//! * bidirectional: `N = num_buckets / 2`; offset `N` when `rel > 0`; `k = |rel|`;
//! * causal: `N = num_buckets`; `k = max(−rel, 0)` (every future key lands in bucket 0);
//! * with `e = N / 2`: `k < e` → `k`; else `min(N − 1, e + trunc(ln(k/e) / ln(max_distance/e) · (N − e)))`.
//!
//! Distances at or beyond `max_distance` all share the last bucket of their direction.

use super::PeError;
use serde::{Deserialize, Serialize};

/// Validated bucketing parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct T5Buckets {
    num_buckets: usize,
    max_distance: usize,
    bidirectional: bool,
}

impl T5Buckets {
    /// `num_buckets` must leave at least one exact bucket per direction (≥ 4 bidirectional,
    /// ≥ 2 causal, ≤ 1024), and `max_distance` must exceed the exact range `e`
    /// (`max_distance > e`, ≤ 1 000 000), otherwise HF's formula divides by `ln 1 = 0`.
    pub fn new(num_buckets: usize, max_distance: usize, bidirectional: bool) -> Result<Self, PeError> {
        let min_buckets = if bidirectional { 4 } else { 2 };
        if num_buckets < min_buckets || num_buckets > 1024 {
            return Err(PeError::invalid(
                "num_buckets",
                num_buckets,
                format!(
                    "an integer in {min_buckets}..=1024 ({})",
                    if bidirectional { "bidirectional" } else { "causal" }
                ),
            ));
        }
        let n = if bidirectional { num_buckets / 2 } else { num_buckets };
        let e = n / 2;
        if max_distance <= e || max_distance > 1_000_000 {
            return Err(PeError::invalid(
                "max_distance",
                max_distance,
                format!("an integer in {}..=1000000 (greater than the {e} exact buckets)", e + 1),
            ));
        }
        Ok(Self {
            num_buckets,
            max_distance,
            bidirectional,
        })
    }

    /// Total number of buckets (length of the per-head value table).
    pub fn num_buckets(&self) -> usize {
        self.num_buckets
    }

    /// Distance from which all keys share the last bucket.
    pub fn max_distance(&self) -> usize {
        self.max_distance
    }

    /// Whether future keys get their own buckets (encoder) or all map to bucket 0 (decoder).
    pub fn bidirectional(&self) -> bool {
        self.bidirectional
    }

    /// Bucket of the relative position `rel = key − query`.
    pub fn bucket(&self, rel: i64) -> usize {
        let (n, offset, k) = if self.bidirectional {
            let n = self.num_buckets / 2;
            (n, if rel > 0 { n } else { 0 }, rel.unsigned_abs())
        } else {
            (self.num_buckets, 0, if rel < 0 { rel.unsigned_abs() } else { 0 })
        };
        let e = n / 2;
        let within = if k < e as u64 {
            k as usize
        } else {
            // As HF: f32 log of (k / e), divided by the f64 log cast to f32, times (N − e) in f32,
            // truncated toward zero.
            let num = (k as f32 / e as f32).ln();
            let den = (self.max_distance as f64 / e as f64).ln() as f32;
            let large = e + (num / den * (n - e) as f32) as usize;
            large.min(n - 1)
        };
        offset + within
    }
}

/// T5 bias for one head: a learned scalar per bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct T5Bias {
    buckets: T5Buckets,
    values: Vec<f32>,
}

impl T5Bias {
    /// `values.len()` must equal `num_buckets`.
    pub fn new(buckets: T5Buckets, values: Vec<f32>) -> Result<Self, PeError> {
        if values.len() != buckets.num_buckets() {
            return Err(PeError::invalid(
                "bucket_values",
                format!("{} entries", values.len()),
                format!("exactly num_buckets = {} entries", buckets.num_buckets()),
            ));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(PeError::invalid(
                "bucket_values",
                "a non-finite entry",
                "finite numbers",
            ));
        }
        Ok(Self { buckets, values })
    }

    /// Illustrative (not trained) values: each bucket gets `−strength · ln(1 + d)`, with `d` the
    /// smallest distance that falls into it, so the bias decays with distance like trained T5
    /// heads often do.
    pub fn log_decay(buckets: T5Buckets, strength: f32) -> Result<Self, PeError> {
        if !strength.is_finite() {
            return Err(PeError::invalid("strength", strength, "a finite number"));
        }
        let mut values = vec![f32::NAN; buckets.num_buckets()];
        let reach = buckets.max_distance() as i64 + 1;
        for d in 0..=reach {
            for rel in [-d, d] {
                let b = buckets.bucket(rel);
                if values[b].is_nan() {
                    values[b] = -strength * (1.0 + d as f32).ln();
                }
            }
        }
        // Buckets no distance reaches (e.g. causal future side) get the zero-distance value.
        for v in &mut values {
            if v.is_nan() {
                *v = 0.0;
            }
        }
        Self::new(buckets, values)
    }

    /// The bucketing parameters.
    pub fn buckets(&self) -> &T5Buckets {
        &self.buckets
    }

    /// The per-bucket values.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Bias added to the logit of (query `m`, key `n`): `values[bucket(n − m)]`.
    pub fn bias(&self, query_pos: usize, key_pos: usize) -> f32 {
        self.values[self.buckets.bucket(key_pos as i64 - query_pos as i64)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bi() -> T5Buckets {
        T5Buckets::new(32, 128, true).unwrap()
    }
    fn causal() -> T5Buckets {
        T5Buckets::new(32, 128, false).unwrap()
    }

    #[test]
    fn exact_buckets_hand_derived() {
        // Bidirectional: N = 16, e = 8; positive rel gets offset 16.
        let b = bi();
        assert_eq!(b.bucket(0), 0);
        assert_eq!(b.bucket(-1), 1);
        assert_eq!(b.bucket(1), 17);
        assert_eq!(b.bucket(-7), 7);
        assert_eq!(b.bucket(7), 23);
        // k = e: ln(1) = 0 → bucket e.
        assert_eq!(b.bucket(-8), 8);
        assert_eq!(b.bucket(8), 24);
        // Causal: N = 32, e = 16; future keys → 0.
        let c = causal();
        assert_eq!(c.bucket(5), 0);
        assert_eq!(c.bucket(0), 0);
        assert_eq!(c.bucket(-5), 5);
        assert_eq!(c.bucket(-16), 16);
    }

    #[test]
    fn log_buckets_hand_derived() {
        // Bidirectional, k = 20: ln(2.5)/ln(16)·8 = 0.91629/2.77259·8 = 2.644 → 8 + 2 = 10.
        assert_eq!(bi().bucket(-20), 10);
        assert_eq!(bi().bucket(20), 26);
        // k = 100: ln(12.5)/ln(16)·8 = 2.52573/2.77259·8 = 7.288 → 15.
        assert_eq!(bi().bucket(-100), 15);
        // Causal, k = 40: ln(2.5)/ln(8)·16 = 0.91629/2.07944·16 = 7.050 → 16 + 7 = 23.
        assert_eq!(causal().bucket(-40), 23);
        // Causal, k = 100: ln(6.25)/ln(8)·16 = 1.83258/2.07944·16 = 14.10 → 30.
        assert_eq!(causal().bucket(-100), 30);
        // Exact bucket boundaries in real arithmetic (ln 2/ln 16 · 8 = 2, ln 4/ln 16 · 8 = 4,
        // ln 8/ln 16 · 8 = 6), where the f32 rounding decides; cross-checked with a numpy
        // float32 re-implementation of HF's formula.
        assert_eq!(bi().bucket(-16), 10);
        assert_eq!(bi().bucket(-32), 12);
        assert_eq!(bi().bucket(-64), 14);
        assert_eq!(causal().bucket(-32), 21);
        assert_eq!(causal().bucket(-64), 26);
    }

    #[test]
    fn saturates_at_last_bucket_beyond_max_distance() {
        for k in [128i64, 129, 500, 1_000_000, i64::MAX] {
            assert_eq!(bi().bucket(-k), 15, "k={k}");
            assert_eq!(bi().bucket(k), 31, "k={k}");
            assert_eq!(causal().bucket(-k), 31, "k={k}");
        }
        // Just below max_distance it is not yet forced by the clamp for the causal case.
        assert_eq!(causal().bucket(-127), 31); // 16 + trunc(15.99) = 31
        assert_eq!(causal().bucket(-120), 31); // ln(7.5)/ln 8·16 = 15.50 → 31
        assert_eq!(causal().bucket(-110), 30); // ln(6.875)/ln 8·16 = 14.84 → 30
    }

    #[test]
    fn rejects_degenerate_parameters() {
        assert!(T5Buckets::new(2, 128, true).is_err());
        assert!(T5Buckets::new(1, 128, false).is_err());
        assert!(T5Buckets::new(32, 8, true).is_err()); // max_distance must exceed e = 8
        assert!(T5Buckets::new(32, 9, true).is_ok());
        let b = bi();
        assert!(T5Bias::new(b, vec![0.0; 31]).is_err());
    }

    #[test]
    fn bias_looks_up_the_bucket_value() {
        let values: Vec<f32> = (0..32).map(|v| v as f32).collect();
        let t = T5Bias::new(bi(), values).unwrap();
        // Query 10, key 3: rel = −7 → bucket 7.
        assert_eq!(t.bias(10, 3), 7.0);
        // Query 3, key 10: rel = +7 → bucket 23.
        assert_eq!(t.bias(3, 10), 23.0);
        let d = T5Bias::log_decay(causal(), 1.0).unwrap();
        assert_eq!(d.bias(5, 5), 0.0);
        assert!((d.bias(5, 4) + 2f32.ln()).abs() < 1e-6);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn buckets_are_monotone_in_distance(k in 0i64..5000) {
            let (b, c) = (bi(), causal());
            prop_assert!(b.bucket(-(k + 1)) >= b.bucket(-k));
            prop_assert!(c.bucket(-(k + 1)) >= c.bucket(-k));
            prop_assert!(b.bucket(k + 1) >= b.bucket(k.max(1)));
            prop_assert!(b.bucket(k) < 32 && c.bucket(-k) < 32);
        }
    }
}
