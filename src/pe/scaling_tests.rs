//! Unit tests of `scaling` (kept beside it so the maths stays on a few screens).

use super::*;
use proptest::prelude::*;

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

fn unscaled(d: usize, base: f64) -> Vec<f64> {
    rope_inv_freq(d, base, &RopeScaling::None, 0).unwrap().inv_freq
}

fn yarn_p(factor: f64, lo: usize) -> YarnParams {
    YarnParams {
        factor,
        original_max_pos: lo,
        ..YarnParams::default()
    }
}

fn all_methods(factor: f64, d: usize) -> Vec<RopeScaling> {
    vec![
        RopeScaling::Linear { factor },
        RopeScaling::Ntk { factor },
        RopeScaling::Dynamic {
            factor,
            original_max_pos: 2048,
        },
        RopeScaling::Yarn(yarn_p(factor, 2048)),
        RopeScaling::Llama3 {
            factor,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_pos: 2048,
        },
        RopeScaling::LongRope {
            short_factors: vec![factor; d / 2],
            long_factors: vec![factor; d / 2],
            factor,
            original_max_pos: 2048,
            attention_factor: None,
        },
    ]
}

#[test]
fn every_method_reduces_to_unscaled_at_factor_one() {
    for d in [2, 8, 64, 128] {
        let want = unscaled(d, 10_000.0);
        for m in all_methods(1.0, d) {
            // seq_len = L_o: dynamic NTK only rescales beyond the training length.
            let got = rope_inv_freq(d, 10_000.0, &m, 2048).unwrap();
            assert_eq!(got.attention_factor, 1.0, "{m:?}");
            for (g, w) in got.inv_freq.iter().zip(&want) {
                assert!(rel_close(*g, *w, 1e-12), "{m:?}: {g} vs {w}");
            }
        }
    }
}

#[test]
fn linear_and_ntk_hand_derived() {
    // d = 4, base 100: θ = [1, 0.1].
    let lin = rope_inv_freq(4, 100.0, &RopeScaling::Linear { factor: 4.0 }, 0).unwrap();
    assert!(rel_close(lin.inv_freq[1], 0.025, 1e-12));
    // NTK, d = 4: b' = 100 · 4^(4/2) = 1600, θ_1 = 1600^(-1/2) = 0.025. θ_0 stays 1.
    let ntk = rope_inv_freq(4, 100.0, &RopeScaling::Ntk { factor: 4.0 }, 0).unwrap();
    assert_eq!(ntk.inv_freq[0], 1.0);
    assert!(rel_close(ntk.inv_freq[1], 0.025, 1e-12));
    // d = 2 (infinite exponent) stays finite.
    let ntk2 = rope_inv_freq(2, 100.0, &RopeScaling::Ntk { factor: 4.0 }, 0).unwrap();
    assert_eq!(ntk2.inv_freq, vec![1.0]);
}

#[test]
fn dynamic_ntk_follows_the_spec_formula() {
    let m = RopeScaling::Dynamic {
        factor: 4.0,
        original_max_pos: 1024,
    };
    let d = 8;
    let plain = unscaled(d, 10_000.0);
    for seq_len in [0, 1, 512, 1024] {
        assert_eq!(rope_inv_freq(d, 10_000.0, &m, seq_len).unwrap().inv_freq, plain);
    }
    // seq_len = 2048 = 2 L_o: b' = 10000 · (4·2 − 3)^(8/6) = 10000 · 5^(4/3).
    let got = rope_inv_freq(d, 10_000.0, &m, 2048).unwrap().inv_freq;
    let b = 10_000.0 * 5f64.powf(4.0 / 3.0);
    for (i, g) in got.iter().enumerate() {
        assert!(rel_close(*g, b.powf(-(2.0 * i as f64) / 8.0), 1e-12));
    }
    // … which is not the static NTK base 10000 · 4^(4/3).
    let wrong = 10_000.0 * 4f64.powf(4.0 / 3.0);
    assert!(!rel_close(got[3], wrong.powf(-6.0 / 8.0), 1e-3));
}

// Expected values below were derived independently in Python (plain `math`, f64) from the
// spec formulas (`python3`, pure `math`), not copied from this implementation.
#[test]
fn yarn_head128_base1e4_factor4_lo2048() {
    let p = yarn_p(4.0, 2048);
    let (low, high) = yarn_correction_range(128, 10_000.0, 2048, 32.0, 1.0, true);
    // corr(32) = 16.13… → 16, corr(1) = 40.21… → 41.
    assert_eq!((low, high), (16.0, 41.0));
    let got = rope_inv_freq(128, 10_000.0, &RopeScaling::Yarn(p), 0).unwrap();
    assert!(rel_close(got.attention_factor, 1.138629436111989, 1e-12));
    let expect = [
        (0, 1.0),
        (16, 0.1), // ramp 0: θ_16 = 10000^(-1/4) untouched
        (20, 0.04948603661675072),
        (30, 0.007734424306547279),
        (41, 0.0006846049085660903), // ramp 1: θ_41 / 4
        (63, 2.8869549617236455e-05),
    ];
    for (i, want) in expect {
        assert!(rel_close(got.inv_freq[i], want, 1e-12), "pair {i}: {}", got.inv_freq[i]);
    }
}

#[test]
fn yarn_without_truncation_and_with_mscale() {
    let p = YarnParams {
        truncate: false,
        mscale: Some(1.0),
        mscale_all_dim: Some(0.707),
        ..yarn_p(40.0, 4096)
    };
    let (low, high) = yarn_correction_range(64, 10_000.0, 4096, 32.0, 1.0, false);
    assert!(low.fract() != 0.0 && high.fract() != 0.0);
    let got = rope_inv_freq(64, 10_000.0, &RopeScaling::Yarn(p.clone()), 0).unwrap();
    let want = (0.1 * 40f64.ln() + 1.0) / (0.1 * 0.707 * 40f64.ln() + 1.0);
    assert!(rel_close(got.attention_factor, want, 1e-12));
    // mscale alone is ignored (HF needs both).
    let alone = YarnParams {
        mscale_all_dim: None,
        ..p.clone()
    };
    let got = rope_inv_freq(64, 10_000.0, &RopeScaling::Yarn(alone), 0).unwrap();
    assert!(rel_close(got.attention_factor, 0.1 * 40f64.ln() + 1.0, 1e-12));
    // Explicit override wins.
    let forced = YarnParams {
        attention_factor: Some(0.5),
        ..p
    };
    let got = rope_inv_freq(64, 10_000.0, &RopeScaling::Yarn(forced), 0).unwrap();
    assert_eq!(got.attention_factor, 0.5);
}

#[test]
fn llama3_head128_base5e5_factor8_lo8192() {
    let m = RopeScaling::Llama3 {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 4.0,
        original_max_pos: 8192,
    };
    let got = rope_inv_freq(128, 500_000.0, &m, 0).unwrap();
    let plain = unscaled(128, 500_000.0);
    assert_eq!(got.attention_factor, 1.0);
    let expect = [
        (0, 1.0),
        (20, 0.016560440080994446),  // λ ≈ 379 < 2048: kept
        (31, 0.0008567514129196321), // λ ≈ 3619: blended
        (40, 3.428102195952591e-05), // λ ≈ 22911 > 8192: θ / 8
        (63, 3.068925988914511e-07),
    ];
    for (i, want) in expect {
        assert!(rel_close(got.inv_freq[i], want, 1e-12), "pair {i}: {}", got.inv_freq[i]);
    }
    // High frequencies (wavelength < 8192/4 = 2048) are bit-for-bit untouched.
    for (g, p) in got.inv_freq.iter().zip(&plain) {
        if 2.0 * PI / p < 2048.0 {
            assert_eq!(g, p);
        } else {
            assert!(g < p);
        }
    }
}

#[test]
fn longrope_short_long_and_attention_factor() {
    let d = 8;
    let short = vec![1.0, 1.0, 2.0, 2.0];
    let long = vec![1.0, 2.0, 4.0, 8.0];
    let m = RopeScaling::LongRope {
        short_factors: short.clone(),
        long_factors: long.clone(),
        factor: 16.0,
        original_max_pos: 4096,
        attention_factor: None,
    };
    let plain = unscaled(d, 10_000.0);
    let s = rope_inv_freq(d, 10_000.0, &m, 4096).unwrap();
    let l = rope_inv_freq(d, 10_000.0, &m, 4097).unwrap();
    for i in 0..4 {
        assert!(rel_close(s.inv_freq[i], plain[i] / short[i], 1e-15));
        assert!(rel_close(l.inv_freq[i], plain[i] / long[i], 1e-15));
    }
    // sqrt(1 + ln 16 / ln 4096) = sqrt(1 + 4/12).
    assert!(rel_close(s.attention_factor, (4.0f64 / 3.0).sqrt(), 1e-12));
}

#[test]
fn validation_errors_name_the_parameter() {
    let cases: Vec<(RopeScaling, &str)> = vec![
        (RopeScaling::Linear { factor: 0.5 }, "factor"),
        (RopeScaling::Ntk { factor: f64::NAN }, "factor"),
        (
            RopeScaling::Dynamic {
                factor: 2.0,
                original_max_pos: 0,
            },
            "original_max_pos",
        ),
        (
            RopeScaling::Yarn(YarnParams {
                beta_fast: 0.5,
                ..yarn_p(2.0, 2048)
            }),
            "beta_fast",
        ),
        (
            RopeScaling::Yarn(YarnParams {
                beta_slow: 0.0,
                ..yarn_p(2.0, 2048)
            }),
            "beta_slow",
        ),
        (
            RopeScaling::Yarn(YarnParams {
                attention_factor: Some(-1.0),
                ..yarn_p(2.0, 2048)
            }),
            "attention_factor",
        ),
        (
            RopeScaling::Llama3 {
                factor: 8.0,
                low_freq_factor: 4.0,
                high_freq_factor: 1.0,
                original_max_pos: 8192,
            },
            "high_freq_factor",
        ),
        (
            RopeScaling::LongRope {
                short_factors: vec![1.0; 3],
                long_factors: vec![1.0; 4],
                factor: 2.0,
                original_max_pos: 4096,
                attention_factor: None,
            },
            "short_factors",
        ),
        (
            RopeScaling::LongRope {
                short_factors: vec![1.0; 4],
                long_factors: vec![],
                factor: 2.0,
                original_max_pos: 4096,
                attention_factor: None,
            },
            "long_factors",
        ),
    ];
    for (m, name) in cases {
        let e = rope_inv_freq(8, 10_000.0, &m, 0).unwrap_err();
        assert_eq!(e.parameter(), Some(name), "{m:?}");
    }
    assert_eq!(
        rope_inv_freq(7, 10_000.0, &RopeScaling::None, 0)
            .unwrap_err()
            .parameter(),
        Some("head_dim")
    );
}

#[test]
fn serde_round_trip_uses_rope_type_tag() {
    let m = RopeScaling::Yarn(yarn_p(4.0, 2048));
    let json = serde_json::to_string(&m).unwrap();
    assert!(json.contains("\"rope_type\":\"yarn\""), "{json}");
    let back: RopeScaling = serde_json::from_str(&json).unwrap();
    assert_eq!(back, m);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn yarn_ramp_is_monotone_and_bounded(low in -10.0f64..80.0, width in 0.0f64..60.0, n in 1usize..128) {
        let r = yarn_ramp(low, low + width, n);
        prop_assert!(r.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(r.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn scaled_frequencies_never_exceed_unscaled(factor in 1.0f64..64.0, half in 1usize..64) {
        let d = 2 * half;
        let plain = unscaled(d, 10_000.0);
        for m in all_methods(factor, d) {
            let got = rope_inv_freq(d, 10_000.0, &m, 2048).unwrap();
            for (g, p) in got.inv_freq.iter().zip(&plain) {
                prop_assert!(*g <= *p * (1.0 + 1e-12) && *g > 0.0, "{:?}", m);
            }
            prop_assert!(got.attention_factor >= 1.0);
        }
    }
}

#[test]
fn non_finite_results_are_errors_not_nulls() {
    // LongRoPE with subnormal factors: θ_i / f_i overflows to infinity.
    let longrope = RopeScaling::LongRope {
        short_factors: vec![1.0; 4],
        long_factors: vec![5e-324; 4],
        factor: 4.0,
        original_max_pos: 64,
        attention_factor: None,
    };
    match rope_inv_freq(8, 10_000.0, &longrope, 256) {
        Err(PeError::NonFinite { what, .. }) => assert_eq!(what, "scaled inverse frequency"),
        other => panic!("expected NonFinite, got {other:?}"),
    }
    // YaRN whose mscale_all_dim zeroes the denominator of the attention-factor ratio: either
    // refused or finite, never NaN / infinity.
    let m = -10.0 / 4f64.ln();
    let yarn = RopeScaling::Yarn(YarnParams {
        factor: 4.0,
        original_max_pos: 64,
        mscale: Some(m),
        mscale_all_dim: Some(m),
        ..YarnParams::default()
    });
    if let Ok(f) = rope_inv_freq(8, 10_000.0, &yarn, 64) {
        assert!(f.attention_factor.is_finite() && f.attention_factor > 0.0);
    }
    // Plain RoPE is never affected.
    assert!(rope_inv_freq(8, 10_000.0, &RopeScaling::None, 64).is_ok());
}

#[test]
fn abf_is_plain_rope_at_the_larger_base() {
    let abf = rope_inv_freq(64, 10_000.0, &RopeScaling::Abf { base_ratio: 50.0 }, 0).unwrap();
    let plain = rope_inv_freq(64, 500_000.0, &RopeScaling::None, 0).unwrap();
    for (a, b) in abf.inv_freq.iter().zip(&plain.inv_freq) {
        assert!((a - b).abs() <= 1e-15 * b.abs().max(1e-300), "{a} vs {b}");
    }
    assert_eq!(abf.attention_factor, 1.0);
    assert!(rope_inv_freq(64, 10_000.0, &RopeScaling::Abf { base_ratio: 0.5 }, 0).is_err());
    assert!(rope_inv_freq(64, 10_000.0, &RopeScaling::Abf { base_ratio: f64::NAN }, 0).is_err());
}

#[test]
fn giraffe_power_scales_pair_i_by_one_minus_2i_over_d_to_the_k() {
    let base = rope_inv_freq(16, 10_000.0, &RopeScaling::None, 0).unwrap().inv_freq;
    let p = rope_inv_freq(16, 10_000.0, &RopeScaling::GiraffePower { power: 2.0 }, 0)
        .unwrap()
        .inv_freq;
    assert_eq!(p[0], base[0], "the fastest pair is kept");
    for i in 0..8 {
        let want = base[i] * (1.0 - 2.0 * i as f64 / 16.0).powi(2);
        assert!((p[i] - want).abs() < 1e-15, "pair {i}");
    }
    let k0 = rope_inv_freq(16, 10_000.0, &RopeScaling::GiraffePower { power: 0.0 }, 0)
        .unwrap()
        .inv_freq;
    assert_eq!(k0, base, "k = 0 is plain RoPE");
    assert!(rope_inv_freq(16, 10_000.0, &RopeScaling::GiraffePower { power: -1.0 }, 0).is_err());
}

#[test]
fn giraffe_truncated_keeps_fast_pairs_clamps_the_middle_and_zeroes_the_slowest() {
    let (lo, s) = (32usize, 4.0);
    let (a, b, rho) = giraffe_truncation(s, lo);
    assert!((b - 8.0 * PI / 32.0).abs() < 1e-15 && (a - 2.0 * PI / 128.0).abs() < 1e-15 && rho == a);
    let base = rope_inv_freq(64, 10_000.0, &RopeScaling::None, 0).unwrap().inv_freq;
    let t = rope_inv_freq(
        64,
        10_000.0,
        &RopeScaling::GiraffeTruncated {
            factor: s,
            original_max_pos: lo,
        },
        0,
    )
    .unwrap()
    .inv_freq;
    let (mut kept, mut clamped, mut zeroed) = (0, 0, 0);
    for (th, tr) in base.iter().zip(&t) {
        if *th >= b {
            assert_eq!(tr, th);
            kept += 1;
        } else if *th > a {
            assert_eq!(*tr, rho);
            clamped += 1;
        } else {
            assert_eq!(*tr, 0.0);
            zeroed += 1;
        }
    }
    assert!(kept > 0 && clamped > 0 && zeroed > 0, "{kept} {clamped} {zeroed}");
    // Every pair's angle at the extended length s·L_o stays within what the kept pairs or one
    // turn cover: the clamped band turns exactly once there.
    assert!((rho * s * lo as f64 - 2.0 * PI).abs() < 1e-12);
}
