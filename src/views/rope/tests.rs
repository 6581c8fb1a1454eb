//! Unit tests of the RoPE view.

use super::plots::{envelope_points, pow10_label};
use super::*;
use crate::pe::MAX_LEN;

#[test]
fn sanitize_clamps_and_notes() {
    let mut s = RopeState {
        query_pos: 1_000_000,
        train_len: 3,
        head_dim: 255,
        base: f64::NAN,
        qk: QkContent::Random,
        decay_len: 0,
        playing: false,
        model_clocks: false,
        model_layer: 9,
    };
    let notes = s.sanitize();
    assert_eq!(s.query_pos, MAX_LEN);
    assert_eq!(s.train_len, 8);
    assert_eq!(s.head_dim, 256);
    assert_eq!(s.base, 10_000.0);
    assert_eq!(s.decay_len, 16);
    assert_eq!(s.model_layer, 2);
    assert_eq!(notes.len(), 6, "{notes:?}");
    for key in ["len=", "train=", "hd=", "dist=", "base=", "layer="] {
        assert!(notes.iter().any(|n| n.starts_with(key)), "no note for {key}: {notes:?}");
    }
    // Too-small base is clamped (not reset); a valid state is left alone with no notes.
    let mut s = RopeState {
        base: 2.0,
        head_dim: 1000,
        ..RopeState::default()
    };
    s.sanitize();
    assert_eq!((s.base, s.head_dim), (100.0, 256));
    let mut s = RopeState::default();
    assert!(s.sanitize().is_empty());
    assert_eq!(s, RopeState::default());
}

#[test]
fn hash_round_trip_and_bad_values() {
    let original = RopeState {
        query_pos: 12_345,
        train_len: 4096,
        head_dim: 128,
        base: 500_000.5,
        qk: QkContent::Random,
        decay_len: 777,
        playing: false,
        model_clocks: true,
        model_layer: 2,
    };
    let mut hash = String::new();
    original.write_hash(&mut hash);
    assert!(hash.starts_with("&len=12345&"), "{hash}");
    let mut read = RopeState::default();
    for pair in hash.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        assert_eq!(read.read_hash_key(k, v), Some(true), "{pair}");
    }
    assert_eq!(read, original);

    let mut s = RopeState::default();
    assert_eq!(s.read_hash_key("scheme", "rope"), None);
    assert_eq!(s.read_hash_key("qk", "zeros"), Some(false));
    assert_eq!(s.read_hash_key("len", "-3"), Some(false));
    assert_eq!(s.read_hash_key("base", "inf"), Some(false));
    assert_eq!(s.read_hash_key("hd", "abc"), Some(false));
    assert_eq!(s, RopeState::default(), "invalid values must leave the state unchanged");
}

#[test]
fn unseen_pairs_hand_derived() {
    // d = 8, base 10⁴: θ_i = 10^(−i) = 1, 0.1, 0.01, 0.001. L_train = 100 gives
    // L·θ = 100, 10, 1, 0.1: pairs 0 and 1 exceed 2π ≈ 6.28 (full turns), pairs 2 and 3 do not.
    let mut s = RopeState {
        query_pos: 1000,
        train_len: 100,
        head_dim: 8,
        base: 10_000.0,
        ..RopeState::default()
    };
    let f = s.inv_freq().unwrap_or_default();
    assert_eq!(s.never_turn_pairs(&f), [false, false, true, true]);
    assert_eq!(s.unseen_pairs(&f), [false, false, true, true]);
    assert!(
        s.summary()
            .starts_with("2 of 4 pairs never complete a turn within L_train = 100; at m = 1000, 2 pairs")
    );
    // At or below L_train every angle was seen.
    for m in [0, 50, 100] {
        s.query_pos = m;
        assert_eq!(s.unseen_pairs(&f), [false; 4], "m = {m}");
    }
    s.query_pos = 101;
    assert_eq!(s.unseen_pairs(&f), [false, false, true, true]);
}

#[test]
fn decay_curve_at_distance_zero_is_q_dot_k() {
    let mut s = RopeState {
        head_dim: 16,
        decay_len: 64,
        ..RopeState::default()
    };
    let ones = s.decay_curve().unwrap_or_default();
    assert_eq!(ones.len(), 65);
    // All-ones: ⟨q, k⟩ = d at distance 0, and every other distance scores less.
    assert!((ones[0] - 16.0).abs() < 1e-12, "{}", ones[0]);
    assert!(ones[1..].iter().all(|&v| v < 16.0));
    s.qk = QkContent::Random;
    let random = s.decay_curve().unwrap_or_default();
    let (q, k) = QkContent::Random.vectors(16).unwrap_or_default();
    assert_ne!(q, k);
    let dot: f64 = q.iter().zip(&k).map(|(a, b)| a * b).sum();
    assert!((random[0] - dot).abs() < 1e-9, "{} vs {dot}", random[0]);
    assert_ne!(random[1], ones[1]);
}

#[test]
fn envelope_keeps_extremes_and_bounds_point_count() {
    let values: Vec<f64> = (0..10_000)
        .map(|i| (i as f64 * 2.7).sin() * (1.0 + i as f64 / 1000.0))
        .collect();
    let pts = envelope_points(&values, 100);
    assert!(pts.len() <= 200, "{}", pts.len());
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    assert!(pts.iter().any(|p| p.y == max) && pts.iter().any(|p| p.y == min));
    assert!(pts.windows(2).all(|w| w[0].x < w[1].x));
    // Short series are kept as they are.
    assert_eq!(envelope_points(&values[..50], 100).len(), 50);
}

#[test]
fn pow10_labels() {
    assert_eq!(pow10_label(3.0), "10^3");
    assert_eq!(pow10_label(-0.0), "10^0");
    assert_eq!(pow10_label(2.5), "10^2.5");
}
