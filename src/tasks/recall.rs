//! Associative recall: `BOS k₁ v₁ k₂ v₂ … kₙ vₙ SEP k_q v_q` — after the separator a key is
//! repeated and the model must produce the value stored under it.
//!
//! Keys are distinct symbols, values come from a separate 16-token vocabulary (and repeat).
//! This is the "associative recall" probe of Ba et al. 2016 and of the Zoology / H3 line of work
//! (Fu et al. 2023, "Hungry Hungry Hippos"; Arora et al. 2023, "Zoology"), a small cousin of the
//! passkey-retrieval test used for long-context models (Mohtashami & Jaggi 2023, "Landmark
//! Attention"). The queried key is uniformly placed, so long inputs test retrieval from every
//! depth.
//!
//! Length `L = 2n + 4`; for odd `L` a second `SEP` is inserted after `BOS`.

use super::{BOS, SEP, SYMBOLS, Sample, VALUE0, VALUES, symbol};
use crate::rng::SplitMix64;

/// `BOS k v SEP k v`.
pub const MIN_LEN: usize = 6;
/// `n ≤ SYMBOLS` distinct keys, plus one for odd lengths.
pub const MAX_LEN: usize = 2 * SYMBOLS + 5;

/// `n` distinct keys and their values, drawn in that order, and the tokens up to and including
/// the `SEP` before the query: `BOS [SEP] k₁ v₁ … kₙ vₙ SEP`.
fn haystack(len: usize, n: usize, rng: &mut SplitMix64) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let keys: Vec<u32> = rng.distinct(n, SYMBOLS).into_iter().map(symbol).collect();
    let values: Vec<u32> = (0..n).map(|_| VALUE0 + rng.below(VALUES) as u32).collect();
    let mut tokens = Vec::with_capacity(len);
    tokens.push(BOS);
    if len % 2 == 1 {
        tokens.push(SEP);
    }
    for (k, v) in keys.iter().zip(&values) {
        tokens.push(*k);
        tokens.push(*v);
    }
    tokens.push(SEP);
    (keys, values, tokens)
}

/// A recall sample of length `len` (assumed in `MIN_LEN..=MAX_LEN`).
pub fn sample(len: usize, rng: &mut SplitMix64) -> Sample {
    let n = (len - 4) / 2;
    let (keys, values, mut tokens) = haystack(len, n, rng);
    let q = rng.below(n);
    tokens.push(keys[q]);
    let answer_at = tokens.len() - 1;
    tokens.push(values[q]);
    Sample {
        tokens,
        answer_positions: vec![answer_at],
    }
}

/// A training variant with several queries after the separator (multi-query associative
/// recall, "MQAR", Arora et al. 2023, "Zoology"): `BOS k₁ v₁ … kₙ vₙ SEP k_a v_a k_b v_b …`,
/// `queries` distinct keys of the `n = (len − 2)/2 − queries` pairs, every answer scored. The
/// first query follows `SEP` exactly as in [`sample`]; the others give the same retrieval more
/// scored tokens per sequence. `queries` is clamped to `1 ..= (len − 2)/4` (no more queries
/// than pairs); for 1 this is a sample of [`sample`]'s format (drawn from a different stream).
pub fn sample_queries(len: usize, queries: usize, rng: &mut SplitMix64) -> Sample {
    let queries = queries.clamp(1, ((len - 2) / 4).max(1));
    let n = (len - 2) / 2 - queries;
    let (keys, values, mut tokens) = haystack(len, n, rng);
    let asked = rng.distinct(queries, n);
    let mut answer_positions = Vec::with_capacity(queries);
    for q in asked {
        tokens.push(keys[q]);
        answer_positions.push(tokens.len() - 1);
        tokens.push(values[q]);
    }
    Sample {
        tokens,
        answer_positions,
    }
}

/// Where in the input the queried pair sits, as a fraction 0 (first pair) … 1 (last pair).
pub fn query_depth(sample: &Sample) -> Option<f64> {
    let &at = sample.answer_positions.first()?;
    let key = sample.tokens[at];
    let pos = sample.tokens[..at - 1].iter().position(|&t| t == key)?;
    let first = if sample.tokens.get(1) == Some(&SEP) { 2 } else { 1 };
    let pairs = (at - 1 - first) / 2;
    Some(if pairs <= 1 {
        0.0
    } else {
        ((pos - first) / 2) as f64 / (pairs - 1) as f64
    })
}

/// The depth bucket `0..buckets` of the queried pair ([`query_depth`] × buckets, the last
/// bucket closed), for "lost in the middle" curves (Liu et al. 2023).
pub fn depth_bucket(sample: &Sample, buckets: usize) -> Option<usize> {
    let d = query_depth(sample)?;
    Some(((d * buckets as f64) as usize).min(buckets.saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_buckets_split_the_pairs_evenly() {
        let mut rng = SplitMix64::new(9);
        let mut counts = [0usize; 4];
        for _ in 0..400 {
            let s = sample(40, &mut rng);
            let b = depth_bucket(&s, 4).expect("a recall sample has a queried pair");
            assert_eq!(b, ((query_depth(&s).expect("depth") * 4.0) as usize).min(3));
            counts[b] += 1;
        }
        assert!(counts.iter().all(|&c| c > 60), "{counts:?}");
    }

    #[test]
    fn every_query_of_a_multi_query_sample_asks_for_its_stored_value() {
        let mut rng = SplitMix64::new(10);
        for (len, queries) in [(32, 1), (32, 4), (33, 3), (12, 9), (6, 1), (MAX_LEN, 5)] {
            let s = sample_queries(len, queries, &mut rng);
            assert_eq!(s.tokens.len(), len, "{len}, {queries}");
            let sep = s.tokens.iter().rposition(|&t| t == SEP).unwrap();
            let asked = queries.clamp(1, ((len - 2) / 4).max(1));
            assert_eq!(s.answer_positions.len(), asked);
            assert_eq!(s.answer_positions[0], sep + 1, "the first query follows SEP");
            let mut keys: Vec<u32> = Vec::new();
            for &at in &s.answer_positions {
                let key = s.tokens[at];
                assert!(!keys.contains(&key), "queried keys are distinct");
                keys.push(key);
                let pos = s.tokens[..sep].iter().position(|&t| t == key).unwrap();
                assert_eq!(s.tokens[pos + 1], s.tokens[at + 1], "{len}, {queries}");
                assert!(s.tokens[at + 1] >= VALUE0);
            }
        }
    }

    #[test]
    fn answer_is_the_value_after_the_queried_key() {
        let mut rng = SplitMix64::new(8);
        for len in [6, 7, 12, 32, 257, MAX_LEN] {
            let s = sample(len, &mut rng);
            assert_eq!(s.tokens.len(), len);
            let at = s.answer_positions[0];
            let key = s.tokens[at];
            let pos = s.tokens[..at - 1].iter().position(|&t| t == key).unwrap();
            assert_eq!(s.tokens[pos + 1], s.tokens[at + 1]);
            assert!(s.tokens[at + 1] >= VALUE0);
            let d = query_depth(&s).unwrap();
            assert!((0.0..=1.0).contains(&d));
        }
    }
}
