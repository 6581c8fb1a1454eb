//! Unit tests of the Train lab's settings.

use super::*;
use crate::model::train_spec::TrainSpec;

#[test]
fn hash_keys_round_trip_and_presets_apply() {
    let s = TrainLabState {
        task: TaskKind::Recall,
        pe: PeKind::Alibi,
        preset: Preset::Paper,
        train_len: 24,
        steps: 1234,
        seed: 9,
        lr: 0.002,
        seq_len: 100,
        method: None,
        factor: 4.0,
        autostart: true,
    };
    let mut hash = String::new();
    s.write_hash(&mut hash);
    let mut back = TrainLabState::default();
    for (k, v) in hash.split('&').filter_map(|p| p.split_once('=')) {
        assert_eq!(back.read_hash_key(k, v), Some(true), "{k}={v}");
    }
    assert_eq!(back, s);
    // A preset sets the recipe; keys after it override.
    let mut p = TrainLabState::default();
    p.read_hash_key("preset", "paper");
    assert_eq!((p.train_len, p.steps), (32, TrainSpec::shipped(p.task, p.pe).steps));
    p.read_hash_key("steps", "50");
    assert_eq!(p.spec().steps, 50);
    assert_eq!(p.spec().layers, 3, "depth comes from the preset");
    assert_eq!(p.read_hash_key("preset", "turbo"), Some(false));
    assert_eq!(p.read_hash_key("run", "maybe"), Some(false));
}

#[test]
fn absurd_values_are_clamped_with_notes() {
    let mut s = TrainLabState {
        steps: 0,
        train_len: 10_000,
        lr: f64::NAN,
        seed: u64::MAX,
        seq_len: 1,
        factor: f64::INFINITY,
        ..Default::default()
    };
    let notes = s.sanitize();
    assert_eq!(notes.len(), 6, "{notes:?}");
    assert_eq!(s.steps, 1);
    assert_eq!(s.train_len, 64);
    assert!(s.lr.is_finite() && s.lr > 0.0);
    assert_eq!(s.seed, SEED_MAX);
    assert!(s.sanitize().is_empty(), "sanitised state is stable");
}
