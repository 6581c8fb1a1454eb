//! Unit tests of the Model lab view.

use super::*;

#[test]
fn hash_keys_round_trip_and_bad_values_are_noted() {
    let s = ModelLabState {
        task: TaskKind::Recall,
        pe: PeKind::Rope,
        seq_len: 100,
        method: Some(ExtensionMethod::Yarn),
        factor: 4.0,
        sample: 3,
        token_metric: true,
    };
    let mut hash = String::new();
    s.write_hash(&mut hash);
    let kv: Vec<(&str, &str)> = hash.split('&').filter_map(|p| p.split_once('=')).collect();
    assert_eq!(kv.len(), 7, "{hash}");
    let mut back = ModelLabState::default();
    for (k, v) in &kv {
        assert_eq!(back.read_hash_key(k, v), Some(true), "{k}={v}");
    }
    assert_eq!(back, s);
    assert_eq!(back.read_hash_key("pe", "xpos2"), Some(false));
    assert_eq!(back.read_hash_key("task", "sort"), Some(false));
    assert_eq!(back.read_hash_key("scheme", "rope"), None);
    let mut wild = ModelLabState {
        seq_len: 100_000,
        factor: f64::NAN,
        ..Default::default()
    };
    let notes = wild.sanitize();
    assert_eq!(notes.len(), 2);
    assert_eq!(wild.seq_len, 256);
    assert_eq!(wild.factor, 4.0);
}

#[test]
fn extension_options_only_for_rope() {
    let mut s = ModelLabState {
        method: Some(ExtensionMethod::Pi),
        factor: 2.0,
        ..Default::default()
    };
    assert_eq!(
        s.rope_options(32, 16).scaling,
        crate::pe::RopeScaling::Linear { factor: 2.0 }
    );
    s.pe = PeKind::Alibi;
    assert!(s.rope_options(32, 16).is_plain());
}
