//! Unit tests of `pe::logits` (kept beside it to keep the kernels on one screen).
use super::*;
use crate::pe::SinusoidalLayout;
use crate::pe::diagnostics::softmax_in_place;
use crate::pe::kerple::KerpleLog;
use crate::pe::rope::{default_inv_freq, score};
use crate::pe::scheme::{Content, Scheme};
use crate::pe::t5::T5Bias;
use crate::pe::t5::T5Buckets;
use crate::pe::{PositionMap, RopeScaling};
use proptest::prelude::*;

fn row(p: &PreparedLogits, m: usize, n: usize, causal: bool) -> Vec<f32> {
    let mut out = vec![0.0; n];
    p.logits_row(m, n, causal, &mut out).unwrap();
    out
}

fn rope(scaling: RopeScaling, map: PositionMap) -> Scheme {
    Scheme::Rope {
        base: 10_000.0,
        scaling,
        map,
    }
}

#[test]
fn nope_identical_tokens_attend_uniformly_to_the_prefix() {
    let p = PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 8, 16).unwrap();
    let h = p.entropy_by_query(16, true).unwrap();
    for (m, e) in h.iter().enumerate() {
        assert!((e - ((m + 1) as f64).ln()).abs() < 1e-5);
    }
    let r = row(&p, 3, 6, true);
    // q·k/√d = 8/√8 = √8.
    assert!((r[0] - 8f32.sqrt()).abs() < 1e-5);
    assert_eq!(r[4], f32::NEG_INFINITY);
    assert_eq!(r[5], f32::NEG_INFINITY);
    assert!(row(&p, 3, 6, false).iter().all(|v| v.is_finite()));
}

#[test]
fn alibi_and_kerple_rows_hand_derived() {
    let p = PreparedLogits::new(&Scheme::Alibi { slope: 0.5 }, &Content::Identical, 2, 8).unwrap();
    // content = (1 + 1)/√2 = √2; bias −0.5·(m − n).
    let r = row(&p, 4, 5, true);
    for (n, v) in r.iter().enumerate() {
        let want = 2f32.sqrt() - 0.5 * (4 - n) as f32;
        assert!((v - want).abs() < 1e-6, "{n}: {v}");
    }
    let k = KerpleLog::new(1.0, 1.0).unwrap();
    let p = PreparedLogits::new(&Scheme::Kerple(k), &Content::Random { seed: 3 }, 4, 8).unwrap();
    let nope = PreparedLogits::new(&Scheme::NoPe, &Content::Random { seed: 3 }, 4, 8).unwrap();
    let (a, b) = (row(&p, 5, 6, true), row(&nope, 5, 6, true));
    for n in 0..6 {
        let want = b[n] - (1.0 + (5 - n) as f32).ln();
        assert!((a[n] - want).abs() < 1e-5);
    }
}

#[test]
fn t5_row_uses_key_minus_query_buckets() {
    let b = T5Buckets::new(8, 16, true).unwrap();
    let values: Vec<f32> = (0..8).map(|v| v as f32 * 10.0).collect();
    let t5 = T5Bias::new(b, values).unwrap();
    let p = PreparedLogits::new(&Scheme::T5(t5.clone()), &Content::Identical, 2, 40).unwrap();
    let r = row(&p, 20, 40, false);
    for (n, v) in r.iter().enumerate() {
        let want = 2f32.sqrt() + t5.bias(20, n);
        assert!((v - want).abs() < 1e-5, "{n}");
    }
    // Bidirectional, 8 buckets: N = 4, e = 2; key 21 (rel +1) → bucket 4 + 1 = 5.
    assert!((r[21] - (2f32.sqrt() + 50.0)).abs() < 1e-5);
}

#[test]
fn sinusoidal_ape_is_not_translation_invariant() {
    let s = Scheme::Sinusoidal {
        layout: SinusoidalLayout::Interleaved,
    };
    let p = PreparedLogits::new(&s, &Content::Identical, 8, 64).unwrap();
    let (a, b) = (row(&p, 10, 11, true), row(&p, 40, 41, true));
    // Same distance 3, different absolute positions → different logits.
    assert!((a[7] - b[37]).abs() > 1e-3);
}

#[test]
fn rope_logits_match_the_closed_form_for_all_content_paths() {
    let d = 16;
    let f = default_inv_freq(d, 10_000.0).unwrap();
    let scale = 1.0 / (d as f64).sqrt();
    for content in [
        Content::Identical,
        Content::Random { seed: 9 },
        Content::Repeating { period: 3, seed: 1 },
    ] {
        for map in [PositionMap::Identity, PositionMap::ReRope { window: 1_000_000 }] {
            let p = PreparedLogits::new(&rope(RopeScaling::None, map), &content, d, 64).unwrap();
            let x = TokenRows::new(&content, d, 64).unwrap();
            for m in [0, 7, 63] {
                let r = row(&p, m, 64, true);
                for (n, got) in r.iter().enumerate().take(m + 1) {
                    let want =
                        score(x.query(m), x.key(n), m as f64, n as f64, &f, RopeLayout::RotateHalf).unwrap() * scale;
                    assert!(
                        (*got as f64 - want).abs() < 1e-4 * (1.0 + want.abs()),
                        "{content:?} {map:?} {m} {n}"
                    );
                }
            }
        }
    }
}

#[test]
fn rope_attention_factor_scales_logits_by_its_square() {
    let yarn = RopeScaling::Yarn(crate::pe::YarnParams {
        factor: 4.0,
        original_max_pos: 16,
        beta_fast: 32.0,
        beta_slow: 1.0,
        mscale: None,
        mscale_all_dim: None,
        attention_factor: Some(2.0),
        truncate: true,
    });
    let p = PreparedLogits::new(&rope(yarn, PositionMap::Identity), &Content::Identical, 8, 16).unwrap();
    // At distance 0 the logit is |x|²/√d · af² = 8/√8 · 4.
    assert!((row(&p, 5, 6, true)[5] - 4.0 * 8f32.sqrt()).abs() < 1e-4);
}

#[test]
fn position_maps_mask_and_remap_rope_logits() {
    let map = PositionMap::LmInfinite {
        n_global: 1,
        local_window: 4,
        distance_cap: 4,
    };
    for content in [Content::Identical, Content::Random { seed: 5 }] {
        let p = PreparedLogits::new(&rope(RopeScaling::None, map), &content, 8, 32).unwrap();
        let plain = PreparedLogits::new(&rope(RopeScaling::None, PositionMap::Identity), &content, 8, 32).unwrap();
        let r = row(&p, 20, 32, false);
        let base = row(&plain, 20, 32, true);
        for n in 0..32 {
            let e = map.entry(20, n);
            assert_eq!(r[n].is_finite(), e.visible, "{n}");
            if (17..=20).contains(&n) {
                assert!((r[n] - base[n]).abs() < 1e-4);
            }
        }
        if matches!(content, Content::Identical) {
            // Global key 0 is seen at the capped distance 4, like key 16 without a map.
            assert!((r[0] - base[16]).abs() < 1e-4);
        }
    }
}

#[test]
fn xpos_identical_tokens_decay_with_distance_envelope() {
    let s = Scheme::XPos {
        base: 10_000.0,
        scale_base: 512.0,
    };
    let p = PreparedLogits::new(&s, &Content::Identical, 8, 2048).unwrap();
    let r = row(&p, 2047, 2048, true);
    let xp = XPos::new(8, 10_000.0, 512.0).unwrap();
    for n in [0usize, 1000, 2040, 2047] {
        let dist = (2047 - n) as f64;
        let want: f64 = (0..4)
            .map(|i| 2.0 * xp.decay(i, dist) * (dist * xp.inv_freq()[i]).cos())
            .sum::<f64>()
            / 8f64.sqrt();
        assert!((r[n] as f64 - want).abs() < 1e-4, "{n}");
    }
    let random = PreparedLogits::new(&s, &Content::Random { seed: 2 }, 8, 64).unwrap();
    let x = TokenRows::new(&Content::Random { seed: 2 }, 8, 64).unwrap();
    let q = xp.query(x.query(40), 40.0, 32.0).unwrap();
    let k = xp.key(x.key(9), 9.0, 32.0).unwrap();
    let want = dot_f64(&q, &k) / 8f64.sqrt();
    assert!((row(&random, 40, 64, true)[9] as f64 - want).abs() < 1e-4);
}

#[test]
fn rejects_bad_sizes_and_rows() {
    assert!(PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 7, 8).is_err());
    assert!(PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 8, 0).is_err());
    assert!(PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 512, 65_536).is_err());
    assert!(PreparedLogits::new(&Scheme::NoPe, &Content::Repeating { period: 0, seed: 0 }, 8, 8).is_err());
    assert!(PreparedLogits::new(&Scheme::Alibi { slope: -1.0 }, &Content::Identical, 8, 8).is_err());
    let bad = Content::Explicit {
        q: vec![0.0; 8],
        k: vec![0.0; 16],
    };
    assert!(PreparedLogits::new(&Scheme::NoPe, &bad, 2, 8).is_err());
    let p = PreparedLogits::new(&Scheme::NoPe, &Content::Identical, 2, 8).unwrap();
    let mut buf = vec![0.0; 8];
    assert!(p.logits_row(8, 8, true, &mut buf).is_err());
    assert!(p.logits_row(0, 9, true, &mut buf).is_err());
    assert!(p.logits_row(0, 8, true, &mut buf[..4]).is_err());
}

#[test]
fn explicit_content_uses_separate_q_and_k() {
    // head_dim 2, 2 positions: q_1 = (1, 0), k_0 = (0, 3) → NoPE logit 0; k_1 = (2, 0) → 2/√2.
    let c = Content::Explicit {
        q: vec![0.0, 0.0, 1.0, 0.0],
        k: vec![0.0, 3.0, 2.0, 0.0],
    };
    let p = PreparedLogits::new(&Scheme::NoPe, &c, 2, 2).unwrap();
    let r = row(&p, 1, 2, true);
    assert!(r[0].abs() < 1e-7 && (r[1] - 2f32.sqrt()).abs() < 1e-6);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn softmax_rows_sum_to_one_and_stay_finite(
        logits in prop::collection::vec(prop_oneof![-1e30f32..1e30, -50f32..50f32], 1..4096),
        masked in prop::collection::vec(any::<bool>(), 1..4096),
    ) {
        let mut r = logits.clone();
        for (v, m) in r.iter_mut().zip(&masked) {
            if *m { *v = f32::NEG_INFINITY; }
        }
        let any_visible = r.iter().any(|v| v.is_finite());
        softmax_in_place(&mut r);
        prop_assert!(r.iter().all(|v| v.is_finite() && *v >= 0.0));
        let sum: f64 = r.iter().map(|&v| v as f64).sum();
        if any_visible {
            prop_assert!((sum - 1.0).abs() < 1e-4, "sum {}", sum);
        } else {
            prop_assert_eq!(sum, 0.0);
        }
    }

    #[test]
    fn rope_identical_rows_depend_only_on_distance(m in 0usize..256, shift in 0usize..256, d in 0usize..256) {
        let p = PreparedLogits::new(&rope(RopeScaling::None, PositionMap::Identity), &Content::Identical, 16, 512).unwrap();
        let (m, d) = (m.max(d), d.min(m.max(d)));
        let a = row(&p, m, m + 1, true)[m - d];
        let b = row(&p, m + shift, m + shift + 1, true)[m + shift - d];
        prop_assert_eq!(a, b);
    }
}

/// RoPE with random tokens rotates by recurrence (no sin/cos per position): its logits must
/// equal the direct rotation `rotate(q, m)·rotate(k, n)` far out, with and without scaling.
#[test]
fn rope_random_content_matches_direct_rotation_at_large_positions() {
    use crate::pe::rope::rotate;
    for scaling in [RopeScaling::None, RopeScaling::Linear { factor: 4.0 }] {
        let scheme = Scheme::Rope {
            base: 10_000.0,
            scaling: scaling.clone(),
            map: PositionMap::Identity,
        };
        let (d, n) = (16, 8192);
        let p = PreparedLogits::new(&scheme, &Content::Random { seed: 11 }, d, n).unwrap();
        let x = TokenRows::new(&Content::Random { seed: 11 }, d, n).unwrap();
        let freqs = crate::pe::scaling::rope_inv_freq(d, 10_000.0, &scaling, n).unwrap();
        for (m, key) in [(8191, 8000), (5000, 17), (1, 0)] {
            let af = freqs.attention_factor;
            let q = rotate(x.query(m), m as f64, &freqs.inv_freq, af, RopeLayout::RotateHalf).unwrap();
            let k = rotate(x.key(key), key as f64, &freqs.inv_freq, af, RopeLayout::RotateHalf).unwrap();
            let want = dot_f64(&q, &k) / (d as f64).sqrt();
            let got = row(&p, m, n, true)[key] as f64;
            assert!(
                (got - want).abs() < 1e-4 * want.abs().max(1.0),
                "{scaling:?} m {m} n {key}: {got} vs {want}"
            );
        }
    }
}
