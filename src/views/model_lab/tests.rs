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
        interp: false,
        probe: true,
        input: "s3=v1 s7=v4 ? s7".into(),
    };
    let mut hash = String::new();
    s.write_hash(&mut hash);
    assert!(hash.ends_with("&input=s3=v1+s7=v4+?+s7"), "{hash}");
    // Whatever is typed survives the link encoding; only a text that parses is written.
    for text in ["s1 & #% ü", "100%", "%zz", "a+b"] {
        assert_eq!(state::decode_input(&state::encode_input(text)), text);
    }
    let mut typing = s.clone();
    typing.input = "s3=v1 s7".into();
    let mut h = String::new();
    typing.write_hash(&mut h);
    assert!(
        !h.contains("input="),
        "an input that does not parse stays out of the link: {h}"
    );
    let kv: Vec<(&str, &str)> = hash.split('&').filter_map(|p| p.split_once('=')).collect();
    assert_eq!(kv.len(), 9, "{hash}");
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

/// The reader's own files (here: the shipped copy-rope pair, as the Train lab exports them) load
/// into the worker under `yours/…`, run, and can be swapped with the shipped model.
#[cfg(feature = "lab")]
#[test]
fn your_own_files_load_run_and_swap_with_the_shipped_model() {
    use crate::compute::client::ComputeClient;
    use crate::file_open::PickedFile;
    let dir = crate::assets::models_dir();
    let read = |f: &str| PickedFile {
        name: f.into(),
        bytes: std::fs::read(dir.join(f)).map_err(|e| e.to_string()),
    };
    let ctx = egui::Context::default();
    let compute = ComputeClient::in_process_on(crate::compute::ndarray_device("model lab test"));
    let mut lab = ModelLabView::new(ModelLabState {
        seq_len: 16,
        ..Default::default()
    });
    let run = |lab: &mut ModelLabView| {
        for _ in 0..20 {
            lab.run_jobs(&ctx, Some(&compute));
            if lab.result().is_some() {
                break;
            }
        }
    };
    run(&mut lab);
    let shipped = lab.status();
    assert_eq!(
        (shipped.source.as_str(), shipped.loaded_model.as_deref()),
        ("shipped", Some("copy-rope"))
    );
    // Half a pair: waiting, nothing changes.
    lab.receive_files(vec![read("recall-alibi.json")]);
    assert!(
        lab.status()
            .files_message
            .is_some_and(|m| m.contains("recall-alibi.plw"))
    );
    assert_eq!(lab.state.task, TaskKind::Copy);
    // The other half: the model's task and encoding are selected and it runs as "yours".
    lab.receive_files(vec![read("recall-alibi.plw")]);
    run(&mut lab);
    let s = lab.status();
    assert_eq!(
        (s.task.as_str(), s.pe.as_str(), s.source.as_str()),
        ("recall", "alibi", "yours")
    );
    assert_eq!(s.loaded_model.as_deref(), Some("yours/recall-alibi"));
    let yours_em = s.exact_match.expect("a live score");
    assert!(s.files_message.is_none());
    // Back to the shipped model of the same task and encoding: same weights, same score.
    lab.show_yours = false;
    run(&mut lab);
    let s = lab.status();
    assert_eq!(
        (s.source.as_str(), s.loaded_model.as_deref()),
        ("shipped", Some("recall-alibi"))
    );
    assert_eq!(s.exact_match, Some(yours_em));
    // Another task shows the shipped model even while "yours" is chosen.
    lab.show_yours = true;
    lab.state.task = TaskKind::Copy;
    assert_eq!(lab.shown_name(), "copy-alibi");
}

/// The learned table is read from the weight file in the page: the shipped learned-APE model's
/// 32 × 64 table, none for other encodings; and training left neighbouring positions more alike
/// than distant ones (the diagonal band of the similarity map).
#[test]
fn learned_table_comes_from_the_weight_file_and_neighbours_are_alike() {
    let read = |name: &str| {
        let dir = crate::assets::models_dir();
        let meta = ModelMeta::from_json(&std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("json"))
            .expect("meta");
        let bytes = std::fs::read(dir.join(&meta.weights_file)).expect("plw");
        (meta, bytes)
    };
    let (meta, bytes) = read("copy-learned");
    let table = insight::learned_table(&meta, &bytes).expect("a learned table");
    assert_eq!((table.max_len(), table.d_model()), (32, 64));
    let (rope, rope_bytes) = read("copy-rope");
    assert!(insight::learned_table(&rope, &rope_bytes).is_none());
    let sim = crate::pe::learned::cosine_similarity(&table.interpolated(32).expect("rows"), 64).expect("map");
    let mean_at = |gap: usize| (0..32 - gap).map(|p| sim[p * 32 + p + gap] as f64).sum::<f64>() / (32 - gap) as f64;
    assert!((mean_at(0) - 1.0).abs() < 1e-5);
    assert!(
        mean_at(1) > mean_at(16) + 0.1,
        "neighbours {} vs 16 apart {}",
        mean_at(1),
        mean_at(16)
    );
}
