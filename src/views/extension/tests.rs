//! Unit tests of the Context-extension view.

use super::plots::{log10_spacer, pow10_label};
use super::*;
use crate::pe::{Content, PreparedLogits};
use egui_plot::GridInput;

fn parse_into(hash: &str, state: &mut ExtensionState) {
    for pair in hash.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        assert_eq!(state.read_hash_key(k, v), Some(true), "key {k}={v}");
    }
}

#[test]
fn sanitize_clamps_with_notes() {
    let mut s = ExtensionState {
        seq_len: 100_000,
        train_len: 2,
        head_dim: 7,
        rope_base: f64::NAN,
        factor: 0.5,
        yarn_beta_slow: f64::INFINITY,
        self_extend_group: 0,
        rerope_window_tokens: Some(0),
        ..ExtensionState::default()
    };
    let notes = s.sanitize();
    assert_eq!(s.seq_len, 8192);
    assert_eq!(s.train_len, 8);
    assert_eq!(s.head_dim, 8);
    assert_eq!(s.rope_base, 10_000.0);
    assert_eq!(s.factor, 1.0);
    assert_eq!(s.yarn_beta_slow, 1.0);
    assert_eq!(s.self_extend_group, 1);
    assert_eq!(s.rerope_window_tokens, Some(1));
    for key in [
        "len=", "train=", "hd=", "base=", "factor=", "bslow=", "group=", "rrwin=",
    ] {
        assert!(notes.iter().any(|n| n.starts_with(key)), "no note for {key}: {notes:?}");
    }
    // A valid state is left alone, without notes.
    let mut ok = ExtensionState::default();
    assert!(ok.sanitize().is_empty());
    assert_eq!(ok, ExtensionState::default());
}

#[test]
fn hash_round_trips_for_every_method() {
    for method in ExtensionMethod::ALL {
        let state = ExtensionState {
            method,
            seq_len: 3000,
            train_len: 700,
            head_dim: 96,
            rope_base: 500_000.0,
            factor: 2.5,
            yarn_beta_fast: if method == ExtensionMethod::Yarn { 16.0 } else { 32.0 },
            yarn_beta_slow: if method == ExtensionMethod::Yarn { 0.5 } else { 1.0 },
            llama3_low_freq_factor: if method == ExtensionMethod::Llama3 { 2.0 } else { 1.0 },
            llama3_high_freq_factor: if method == ExtensionMethod::Llama3 { 8.0 } else { 4.0 },
            lm_n_global: if method == ExtensionMethod::LmInfinite { 9 } else { 4 },
            lm_local_window_tokens: (method == ExtensionMethod::LmInfinite).then_some(300),
            self_extend_group: if method == ExtensionMethod::SelfExtend { 4 } else { 8 },
            self_extend_window_tokens: (method == ExtensionMethod::SelfExtend).then_some(64),
            rerope_window_tokens: (method == ExtensionMethod::ReRope).then_some(200),
            giraffe_power: if method == ExtensionMethod::GiraffePower {
                2.5
            } else {
                1.0
            },
        };
        let mut hash = String::new();
        state.write_hash(&mut hash);
        assert!(hash.contains(&format!("&method={}", method.key())), "{hash}");
        let mut back = ExtensionState::default();
        parse_into(&hash, &mut back);
        assert_eq!(back, state, "{hash}");
    }
}

#[test]
fn hash_keys_reject_bad_values_and_ignore_foreign_keys() {
    let mut s = ExtensionState::default();
    assert_eq!(s.read_hash_key("method", "bogus"), Some(false));
    assert_eq!(s.read_hash_key("len", "abc"), Some(false));
    assert_eq!(s.read_hash_key("rrwin", "-1"), Some(false));
    assert_eq!(s.read_hash_key("scheme", "rope"), None);
    assert_eq!(s, ExtensionState::default());
    assert_eq!(s.read_hash_key("rrwin", "12"), Some(true));
    assert_eq!(s.read_hash_key("rrwin", "auto"), Some(true));
    assert_eq!(s.rerope_window_tokens, None);
}

#[test]
fn pi_with_factor_n_over_l_removes_every_unseen_pair() {
    // d = 64, b = 10⁴, L = 512: pair i never completes a turn iff 512·10^(−4i/32) < 2π,
    // i.e. i ≥ 16 (θ_16 = 0.01 → 5.12 rad; θ_15 ≈ 0.01334 → 6.83 rad). All 16 of them
    // reach further at N = 2048 unscaled; PI with s = 4 reaches exactly L·θ_i.
    let s = ExtensionState {
        method: ExtensionMethod::Pi,
        seq_len: 2048,
        train_len: 512,
        factor: 4.0,
        ..ExtensionState::default()
    };
    let d = s.diagnostics().expect("valid");
    assert_eq!(d.unseen_count_before(), 16);
    assert!(d.unseen_before[16..].iter().all(|u| *u) && d.unseen_before[..16].iter().all(|u| !*u));
    assert_eq!(d.unseen_count_after(), 0);
    assert!(d.freq_ratio.iter().all(|r| (r - 0.25).abs() < 1e-12));
    assert_eq!(d.attention_factor, 1.0);
    // A smaller factor leaves some pairs unseen again.
    let s2 = ExtensionState {
        factor: 2.0,
        ..s.clone()
    };
    assert_eq!(s2.diagnostics().expect("valid").unseen_count_after(), 16);
    let text = summary_text(&s, &d, Some(0.5), Some(0.25));
    assert!(text.contains("before 16, after 0 (of 32)"), "{text}");
    assert!(text.contains("before 50.0 %, after 25.0 %"), "{text}");
}

#[test]
fn lm_infinite_without_globals_puts_no_mass_beyond_l_train() {
    // Local window = L_train hides every key at distance ≥ L_train (no global tokens), so
    // the method's mass there is exactly 0, while plain RoPE puts some mass there.
    let s = ExtensionState {
        method: ExtensionMethod::LmInfinite,
        seq_len: 64,
        train_len: 16,
        head_dim: 16,
        lm_n_global: 0,
        ..ExtensionState::default()
    };
    let before = s.compute_before().expect("before");
    let after = s.compute_after().expect("after");
    let mb = before.mass_beyond_train.expect("N > L");
    assert!(mb > 0.01, "{mb}");
    assert_eq!(after.mass_beyond_train, Some(0.0));
    let d = s.diagnostics().expect("valid");
    assert_eq!(d.max_effective_distance_tokens, 15);
    assert_eq!(d.unseen_count_after(), 0);
    assert!(d.unseen_count_before() > 0);
    assert!(d.freq_ratio.iter().all(|r| *r == 1.0));
}

#[test]
fn position_map_distances_match_hand_values() {
    // ReRoPE w = L/2 = 8 at N = 64: largest distance 8. SelfExtend G = 8, W = L/4 = 4 at
    // N = 64: ⌊63/8⌋ + 4 − ⌊4/8⌋ − 0 = 11.
    let base = ExtensionState {
        seq_len: 64,
        train_len: 16,
        head_dim: 16,
        ..ExtensionState::default()
    };
    let rr = ExtensionState {
        method: ExtensionMethod::ReRope,
        ..base.clone()
    };
    assert_eq!(rr.diagnostics().expect("rerope").max_effective_distance_tokens, 8);
    let se = ExtensionState {
        method: ExtensionMethod::SelfExtend,
        ..base.clone()
    };
    assert_eq!(se.diagnostics().expect("self-extend").max_effective_distance_tokens, 11);
    let pi = ExtensionState {
        method: ExtensionMethod::Pi,
        ..base
    };
    assert_eq!(pi.diagnostics().expect("pi").max_effective_distance_tokens, 63);
}

#[test]
fn every_method_builds_for_default_parameters() {
    for head_dim in [8, 64, 256] {
        for train_len in [8, 512, 4096] {
            for method in ExtensionMethod::ALL {
                let mut s = ExtensionState {
                    method,
                    head_dim,
                    train_len,
                    seq_len: (4 * train_len).min(8192),
                    ..ExtensionState::default()
                };
                assert!(s.sanitize().is_empty(), "{method:?} d={head_dim} L={train_len}");
                let d = s
                    .diagnostics()
                    .unwrap_or_else(|e| panic!("{method:?} d={head_dim} L={train_len}: {e}"));
                assert_eq!(d.freq_ratio.len(), head_dim / 2);
                assert!(d.attention_factor.is_finite() && d.attention_factor >= 1.0);
                // No method speeds a pair up; only Giraffe's truncated basis stops one (ratio 0).
                let min = if method == ExtensionMethod::GiraffeTruncated {
                    0.0
                } else {
                    f64::MIN_POSITIVE
                };
                assert!(
                    d.freq_ratio.iter().all(|r| *r >= min && *r <= 1.0 + 1e-12),
                    "{method:?}"
                );
                // Building the prepared logits validates scaling and map (small N: speed).
                s.seq_len = (2 * train_len).min(512);
                PreparedLogits::new(&s.scheme_after(), &Content::Identical, head_dim, s.seq_len)
                    .unwrap_or_else(|e| panic!("{method:?} d={head_dim} L={train_len}: {e}"));
            }
        }
    }
}

#[test]
fn bad_combinations_are_reported_not_panicking() {
    let s = ExtensionState {
        method: ExtensionMethod::Yarn,
        yarn_beta_fast: 2.0,
        yarn_beta_slow: 4.0,
        ..ExtensionState::default()
    };
    assert!(s.diagnostics().is_err());
    let s = ExtensionState {
        method: ExtensionMethod::Llama3,
        llama3_low_freq_factor: 8.0,
        llama3_high_freq_factor: 2.0,
        ..ExtensionState::default()
    };
    assert!(s.diagnostics().is_err());
}

#[test]
fn view_draws_headless_for_every_method_and_reports_bad_combos() {
    let ctx = egui::Context::default();
    let engines = MapEngines::cpu_only();
    for method in ExtensionMethod::ALL {
        let mut view = ExtensionView::new(ExtensionState {
            method,
            seq_len: 96,
            train_len: 32,
            head_dim: 16,
            ..ExtensionState::default()
        });
        for theme in [ThemeChoice::Dark, ThemeChoice::Light] {
            let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
                let _ = view.controls_ui(ui);
                view.update(&ViewEnv {
                    ctx: ui.ctx(),
                    compute: None,
                    engines: &engines,
                    deadline: web_time::Instant::now() + std::time::Duration::from_secs(60),
                });
                view.ui(ui, theme);
            });
            // Headless: no renderer applies the texture uploads.
            out.textures_delta.clear();
        }
        assert!(view.errors().is_empty(), "{method:?}: {:?}", view.errors());
        assert!(
            view.summary().contains("pairs seeing unseen angles"),
            "{}",
            view.summary()
        );
    }
    let mut bad = ExtensionView::new(ExtensionState {
        method: ExtensionMethod::Yarn,
        yarn_beta_fast: 2.0,
        yarn_beta_slow: 4.0,
        seq_len: 64,
        ..ExtensionState::default()
    });
    let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
        bad.update(&ViewEnv {
            ctx: ui.ctx(),
            compute: None,
            engines: &engines,
            deadline: web_time::Instant::now() + std::time::Duration::from_secs(60),
        });
        bad.ui(ui, ThemeChoice::Dark);
    });
    // Headless: no renderer applies the texture uploads.
    out.textures_delta.clear();
    assert!(
        bad.errors().iter().any(|e| e.contains("beta_fast")),
        "{:?}",
        bad.errors()
    );
    assert!(bad.summary().contains("cannot compute"));
}

#[test]
fn longrope_factors_are_monotone_from_one_to_s() {
    let f = longrope_illustrative_factors(64, 4.0);
    assert_eq!(f.len(), 32);
    assert_eq!(f[0], 1.0);
    assert!((f[31] - 4.0).abs() < 1e-12);
    assert!(f.windows(2).all(|w| w[1] > w[0]));
}

#[test]
fn log_axis_labels() {
    assert_eq!(pow10_label(3.0), "10³");
    assert_eq!(pow10_label(-12.0), "10⁻¹²");
    assert_eq!(pow10_label(0.5), "");
    let marks = log10_spacer(GridInput {
        bounds: (-0.5, 3.2),
        base_step_size: 0.01,
    });
    assert_eq!(
        marks.iter().map(|m| m.value).collect::<Vec<_>>(),
        vec![0.0, 1.0, 2.0, 3.0]
    );
}

#[test]
fn trajectories_follow_each_methods_formula_as_s_grows() {
    let scales = [1.0, 2.0, 4.0, 16.0];
    let traj = |method, d: usize| {
        let s = ExtensionState {
            method,
            head_dim: d,
            ..ExtensionState::default()
        };
        s.trajectory(&[0, d / 2 - 1], &scales).expect("trajectory")
    };
    // PI: every pair follows 1/s.
    for row in traj(ExtensionMethod::Pi, 64) {
        for (r, sc) in row.iter().zip(scales) {
            assert!((r - 1.0 / sc).abs() < 1e-12);
        }
    }
    // ABF (b′ = s·b): the fastest pair is untouched, pair i follows s^(−2i/d).
    let abf = traj(ExtensionMethod::Abf, 64);
    assert!(abf[0].iter().all(|r| (r - 1.0).abs() < 1e-12));
    for (r, sc) in abf[1].iter().zip(scales) {
        assert!((r - sc.powf(-62.0 / 64.0)).abs() < 1e-12, "{r} at s = {sc}");
    }
    // Giraffe power scaling does not depend on s: a flat trajectory at (1 − 2i/d)^k.
    let gp = traj(ExtensionMethod::GiraffePower, 64);
    assert!(gp[1].iter().all(|r| (r - (2.0f64 / 64.0)).abs() < 1e-12), "{:?}", gp[1]);
    // Giraffe truncated: the slowest pair is zeroed once s·L_train outgrows its wavelength.
    let gt = traj(ExtensionMethod::GiraffeTruncated, 64);
    assert_eq!(gt[0], vec![1.0; 4], "the fastest pair is kept");
    assert_eq!(*gt[1].last().expect("s = 16"), 0.0);
}

#[test]
fn new_methods_round_trip_through_links() {
    for (method, extra) in [
        (ExtensionMethod::Abf, ""),
        (ExtensionMethod::GiraffePower, "&power=2.5"),
        (ExtensionMethod::GiraffeTruncated, ""),
    ] {
        let mut s = ExtensionState {
            method,
            ..ExtensionState::default()
        };
        if method == ExtensionMethod::GiraffePower {
            s.giraffe_power = 2.5;
        }
        let mut hash = String::new();
        s.write_hash(&mut hash);
        assert!(
            hash.contains(&format!("method={}", method.key())) && hash.contains(extra),
            "{hash}"
        );
        let mut back = ExtensionState::default();
        for pair in hash.trim_start_matches('&').split('&') {
            let (k, v) = pair.split_once('=').expect("key=value");
            assert_eq!(back.read_hash_key(k, v), Some(true), "{k}={v}");
        }
        assert_eq!(back, s);
        assert!(s.diagnostics().is_ok(), "{method:?}");
    }
    let mut s = ExtensionState {
        giraffe_power: 99.0,
        ..ExtensionState::default()
    };
    assert_eq!(s.sanitize().len(), 1);
    assert_eq!(s.giraffe_power, 8.0);
}
