use super::*;
use crate::analysis::engine::MapEngines;

fn update(view: &mut GridView) {
    let ctx = egui::Context::default();
    let engines = MapEngines::cpu_only();
    view.update(&ViewEnv {
        ctx: &ctx,
        compute: None,
        engines: &engines,
        deadline: web_time::Instant::now() + std::time::Duration::from_secs(60),
    });
}

fn status(view: &GridView) -> Value {
    let mut extras = Map::new();
    view.status_extras(&mut extras);
    extras["grid"].clone()
}

#[test]
fn every_encoding_peaks_at_the_query_patch() {
    for e in GridEncoding::ALL {
        let mut view = GridView::default();
        view.state.encoding = e;
        update(&mut view);
        assert!(view.errors().is_empty(), "{e:?}: {:?}", view.errors());
        let s = status(&view);
        assert_eq!(s["weight_at_query"], s["max_weight"], "{e:?}: {s}");
        let ex = view.export().expect("export");
        assert_eq!(ex.csv.lines().count(), 1 + 8 * 12);
        assert!(ex.figure.is_some() && ex.image.is_some());
    }
}

#[test]
fn axial_attention_is_a_cross_and_manhattan_a_diamond() {
    let mut view = GridView::default();
    view.state.query = (3, 4);
    let a = view.state.attention().expect("axial");
    let at = |a: &[f64], r: usize, c: usize| a[r * 12 + c];
    // Same row or column beats the diagonal at the same offset (the cross of axial RoPE).
    assert!(at(&a, 3, 6) > at(&a, 5, 6));
    view.state.encoding = GridEncoding::AlibiManhattan;
    let m = view.state.attention().expect("manhattan");
    assert!(
        (at(&m, 3, 6) - at(&m, 4, 5)).abs() < 1e-12,
        "equal Manhattan distance, equal weight"
    );
    view.state.encoding = GridEncoding::AlibiEuclidean;
    let e = view.state.attention().expect("euclidean");
    assert!(at(&e, 3, 6) < at(&e, 4, 5), "(1, 1) is nearer than (0, 2) in Euclid");
}

#[test]
fn the_cycle_eigenvector_is_a_pair_of_sinusoidal_columns_and_the_path_the_dct() {
    let mut view = GridView::default();
    for (graph, k) in [(GraphKind::Cycle, 1), (GraphKind::Cycle, 4), (GraphKind::Path, 3)] {
        view.state.graph = graph;
        view.state.eigen_k = k;
        update(&mut view);
        let s = status(&view);
        let diff = s["closed_form_max_diff"].as_f64().expect("closed form");
        assert!(diff < 1e-9, "{graph:?} k = {k}: {s}");
    }
    let n = view.state.graph_n as f64;
    view.state.graph = GraphKind::Cycle;
    view.state.eigen_k = 3;
    update(&mut view);
    let lambda = status(&view)["eigenvalue"].as_f64().expect("λ");
    assert!((lambda - (2.0 - 2.0 * (std::f64::consts::TAU * 2.0 / n).cos())).abs() < 1e-9);
    view.state.graph = GraphKind::Tree;
    update(&mut view);
    assert!(status(&view)["closed_form_max_diff"].is_null());
}

#[test]
fn links_round_trip_and_off_grid_queries_are_noted() {
    let mut view = GridView::default();
    for (k, v) in [
        ("enc", "m-rope"),
        ("rows", "5"),
        ("len", "7"),
        ("qr", "4"),
        ("qc", "6"),
        ("graph", "path"),
        ("n", "10"),
        ("k", "3"),
        ("norm", "1"),
    ] {
        assert_eq!(view.read_hash_key(k, v), Some(true), "{k}={v}");
    }
    let mut hash = String::new();
    view.write_hash(&mut hash);
    let mut other = GridView::default();
    for pair in hash.trim_start_matches('&').split('&') {
        let (k, v) = pair.split_once('=').expect("key=value");
        assert_eq!(other.read_hash_key(k, v), Some(true), "{k}={v}");
    }
    assert_eq!(other.state_json(), view.state_json());
    assert_eq!(view.read_hash_key("enc", "xpos"), Some(false));
    view.state.query = (40, 40);
    view.state.head_dim = 30;
    view.state.base = f64::NAN;
    let notes = view.sanitize();
    assert_eq!(notes.len(), 3, "{notes:?}");
    assert_eq!(view.state.query, (4, 6));
    assert_eq!(view.state.head_dim, 32);
}

#[test]
fn m_rope_spreads_the_query_over_the_text_around_the_image() {
    let mut view = GridView::default();
    view.state.encoding = GridEncoding::MRope;
    let patches = view.state.attention().expect("patches");
    let text = view.state.mrope_text_attention().expect("m-rope").expect("text");
    let total: f64 = patches.iter().sum::<f64>() + text.before.iter().sum::<f64>() + text.after.iter().sum::<f64>();
    assert!((total - 1.0).abs() < 1e-12, "one softmax over text and image: {total}");
    // Qwen2-VL's ids: text before at 0..4, the text after continues at 4 + max(H, W) = 16.
    assert_eq!(text.before_ids[3], [3.0; 3]);
    assert_eq!(text.after_ids[0], [16.0; 3]);
    view.state.encoding = GridEncoding::Axial;
    assert!(view.state.mrope_text_attention().is_none());
}
