//! Attention of identical tokens under edited position ids ([`super::position_ids::IdLayout`]):
//! what RoPE, ALiBi and T5 make of the ids and the mask a rule gives, before any content.
//!
//! With every token the all-ones vector (RoFormer's long-term-decay setting, Su et al. 2021),
//! the logit between query `m` and key `n` depends only on `Δ = p_m − p_n`:
//! * RoPE: `(1/√d) · Σ_i 2·cos(Δ·θ_i)` (each pair of ones rotated by `Δ·θ_i`);
//! * ALiBi (Press et al. 2022): `−slope·|Δ|` (the content term `d/√d` is the same for every key
//!   and cancels in the softmax);
//! * T5 (Raffel et al. 2020): the bucket of `round(−Δ)` (key − query), bidirectional buckets so
//!   that PINE's attention to later documents gets its own buckets; illustrative log-decay values.
//!
//! Real-valued ids are legal for RoPE and ALiBi; T5 rounds them (the spec's convention).

use super::PeError;
use super::position_ids::IdLayout;
use super::t5::{T5Bias, T5Buckets};

/// Largest layout whose full map is computed (`n²` cells).
pub const MAX_MAP_TOKENS: usize = 1024;

/// A scheme that consumes position ids.
#[derive(Clone, Debug, PartialEq)]
pub enum IdScheme {
    /// RoPE with inverse frequencies `θ_i` (one per pair).
    Rope { inv_freq: Vec<f64> },
    /// ALiBi with one head's slope.
    Alibi { slope: f64 },
    /// T5 with bidirectional buckets and illustrative per-bucket values.
    T5 { bias: T5Bias },
}

impl IdScheme {
    /// T5 with 32 bidirectional buckets up to distance 128 and log-decay strength `strength`.
    pub fn t5(strength: f32) -> Result<Self, PeError> {
        Ok(Self::T5 {
            bias: T5Bias::log_decay(T5Buckets::new(32, 128, true)?, strength)?,
        })
    }

    /// The logit for relative id `delta = p_m − p_n`.
    pub fn logit(&self, delta: f64) -> f64 {
        match self {
            Self::Rope { inv_freq } => {
                let d = (2 * inv_freq.len()).max(1) as f64;
                inv_freq.iter().map(|t| 2.0 * (delta * t).cos()).sum::<f64>() / d.sqrt()
            }
            Self::Alibi { slope } => -slope * delta.abs(),
            Self::T5 { bias } => {
                let rel = (-delta).round();
                let rel = rel.clamp(-(super::MAX_LEN as f64), super::MAX_LEN as f64) as i64;
                bias.values()[bias.buckets().bucket(rel)] as f64
            }
        }
    }
}

/// The attention rows (`n × n`, row-major): softmax of [`IdScheme::logit`] over each query's
/// visible keys, 0 where hidden. Every row sums to 1 (a query always sees at least itself in
/// every rule of `position_ids`; a row with no visible key is all zeros).
pub fn attention(layout: &IdLayout, scheme: &IdScheme) -> Result<Vec<f32>, PeError> {
    let n = layout.len();
    if n > MAX_MAP_TOKENS {
        return Err(PeError::invalid(
            "segments",
            format!("{n} tokens"),
            format!("at most {MAX_MAP_TOKENS} tokens for an attention map"),
        ));
    }
    if let IdScheme::Alibi { slope } = scheme
        && (!slope.is_finite() || *slope < 0.0)
    {
        return Err(PeError::invalid("slope", slope, "a finite number >= 0"));
    }
    let mut out = vec![0.0f32; n * n];
    let mut logits = vec![f64::NEG_INFINITY; n];
    // Logits depend only on the distance, and rules give few distinct distances (multiples of
    // δ, clipped windows): each is computed once.
    let mut by_distance: std::collections::HashMap<u64, f64> = std::collections::HashMap::new();
    for m in 0..n {
        let mut max = f64::NEG_INFINITY;
        for (k, l) in logits.iter_mut().enumerate() {
            *l = if layout.visible(m, k) {
                let d = layout.distance(m, k);
                *by_distance.entry(d.to_bits()).or_insert_with(|| scheme.logit(d))
            } else {
                f64::NEG_INFINITY
            };
            max = max.max(*l);
        }
        if !max.is_finite() {
            continue;
        }
        let sum: f64 = logits.iter().map(|l| (l - max).exp()).sum();
        for (o, l) in out[m * n..(m + 1) * n].iter_mut().zip(&logits) {
            *o = ((l - max).exp() / sum) as f32;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::position_ids::{IdRule, layout, parse_segments};
    use crate::pe::rope::default_inv_freq;

    fn rope() -> IdScheme {
        IdScheme::Rope {
            inv_freq: default_inv_freq(32, 10_000.0).expect("freqs"),
        }
    }

    #[test]
    fn rows_are_distributions_over_visible_keys() {
        let segs = parse_segments("text:4,cand:3,cand:3,text:2").expect("segments");
        let l = layout(&segs, &IdRule::Restart).expect("layout");
        for scheme in [rope(), IdScheme::Alibi { slope: 0.25 }, IdScheme::t5(1.0).expect("t5")] {
            let a = attention(&l, &scheme).expect("map");
            for m in 0..l.len() {
                let row = &a[m * l.len()..(m + 1) * l.len()];
                let sum: f32 = row.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "row {m} sums to {sum}");
                for (k, p) in row.iter().enumerate() {
                    assert!(p.is_finite());
                    if !l.visible(m, k) {
                        assert_eq!(*p, 0.0, "hidden cell ({m}, {k}) has weight");
                    }
                }
            }
        }
    }

    #[test]
    fn shared_ids_give_equal_attention_to_every_token_of_an_image() {
        let l = layout(
            &parse_segments("text:3,image:5,text:1").expect("segments"),
            &IdRule::Shared,
        )
        .expect("layout");
        let a = attention(&l, &rope()).expect("map");
        let n = l.len();
        let row = &a[(n - 1) * n..];
        for k in 4..8 {
            assert!(
                (row[k] - row[3]).abs() < 1e-7,
                "image tokens share an id, so the same weight"
            );
        }
        let plain = attention(
            &layout(&parse_segments("text:9").expect("s"), &IdRule::Plain).expect("l"),
            &rope(),
        )
        .expect("map");
        assert!(
            (plain[(n - 1) * n + 4] - plain[(n - 1) * n + 7]).abs() > 1e-4,
            "plain ids separate them"
        );
    }

    #[test]
    fn alibi_under_v2pe_penalises_images_less() {
        let segs = parse_segments("image:16,text:1").expect("segments");
        let plain = attention(
            &layout(&segs, &IdRule::Plain).expect("l"),
            &IdScheme::Alibi { slope: 0.5 },
        )
        .expect("map");
        let v2pe = attention(
            &layout(&segs, &IdRule::V2pe { delta: 0.125 }).expect("l"),
            &IdScheme::Alibi { slope: 0.5 },
        )
        .expect("map");
        let n = 17;
        // The first image token gets more of the last query's attention when images are compressed.
        assert!(
            v2pe[16 * n] > 10.0 * plain[16 * n],
            "{} vs {}",
            v2pe[16 * n],
            plain[16 * n]
        );
    }

    #[test]
    fn t5_rounds_fractional_distances_and_rope_logit_peaks_at_zero() {
        let t5 = IdScheme::t5(1.0).expect("t5");
        assert_eq!(t5.logit(2.4), t5.logit(2.0));
        assert_ne!(t5.logit(2.6), t5.logit(2.0));
        let r = rope();
        assert!(r.logit(0.0) > r.logit(0.5) && r.logit(0.5) > r.logit(3.0));
        assert!((r.logit(0.0) - 32f64.sqrt()).abs() < 1e-12, "d/√d at Δ = 0");
    }

    #[test]
    fn bad_slope_and_huge_layouts_are_errors() {
        let l = layout(&parse_segments("text:4").expect("s"), &IdRule::Plain).expect("l");
        assert!(attention(&l, &IdScheme::Alibi { slope: f64::NAN }).is_err());
        let big = layout(&parse_segments("text:1500").expect("s"), &IdRule::Plain).expect("l");
        assert!(attention(&big, &rope()).is_err());
    }
}
