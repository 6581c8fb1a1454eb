//! `poslens eval` reproduces the shipped curves and refuses bad requests with exit code 2;
//! `poslens train` writes a loadable model.

use std::process::Command;

fn poslens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_poslens"))
        .args(args)
        .output()
        .expect("run poslens")
}

fn model(name: &str) -> String {
    format!("{}/assets/models/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn eval_reproduces_the_metadata_curve() {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model("copy-alibi.json")).expect("metadata")).expect("json");
    let out = json(&poslens(&[
        "eval",
        "--model",
        &model("copy-alibi"),
        "--lengths",
        "32,64",
        "--samples",
        "512",
    ]));
    assert_eq!(out["length"], serde_json::json!([32, 64]));
    assert_eq!(out["exact_match"][0], meta["curve"]["exact_match"][0]);
    assert_eq!(out["exact_match"][1], meta["curve"]["exact_match"][1]);
    assert_eq!(out["token_accuracy"][1], meta["curve"]["token_accuracy"][1]);
}

#[test]
fn eval_applies_rope_extension_and_reports_learned_limits() {
    let plain = json(&poslens(&[
        "eval",
        "--model",
        &model("recall-rope"),
        "--lengths",
        "128",
        "--samples",
        "64",
    ]));
    let pi = json(&poslens(&[
        "eval",
        "--model",
        &model("recall-rope"),
        "--lengths",
        "128",
        "--samples",
        "64",
        "--scaling",
        "pi",
        "--factor",
        "4",
    ]));
    assert_eq!(pi["rope_scaling"]["rope_type"], "linear");
    assert_ne!(
        plain["exact_match"], pi["exact_match"],
        "scaling must change the model's answers"
    );
    let learned = json(&poslens(&[
        "eval",
        "--model",
        &model("copy-learned"),
        "--lengths",
        "32,64",
        "--samples",
        "16",
    ]));
    assert!(learned["exact_match"][0].is_number());
    assert!(
        learned["exact_match"][1].is_null(),
        "learned APE cannot run past its table"
    );
}

#[test]
fn eval_refuses_bad_requests() {
    for (args, needle) in [
        (vec!["eval", "--model", "/nonexistent/model"], "cannot read"),
        (vec!["eval", "--model", &model("copy-rope"), "--lengths", "3"], "length"),
        (
            vec!["eval", "--model", &model("copy-rope"), "--lengths", "x"],
            "--lengths",
        ),
        (
            vec!["eval", "--model", &model("copy-rope"), "--scaling", "warp"],
            "--scaling",
        ),
        (
            vec![
                "eval",
                "--model",
                &model("copy-rope"),
                "--scaling",
                "pi",
                "--factor",
                "0.5",
            ],
            "--factor",
        ),
        (
            vec![
                "eval",
                "--model",
                &model("copy-alibi"),
                "--scaling",
                "yarn",
                "--factor",
                "2",
            ],
            "RoPE models only",
        ),
    ] {
        let out = poslens(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn train_writes_a_model_that_eval_can_read() {
    let dir = std::env::temp_dir().join(format!("poslens-train-{}", std::process::id()));
    let out = poslens(&[
        "train",
        "--task",
        "recall",
        "--pe",
        "alibi",
        "--steps",
        "3",
        "--batch",
        "2",
        "--train-len",
        "12",
        "--out",
        dir.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let e = json(&poslens(&[
        "eval",
        "--model",
        dir.join("recall-alibi").to_str().expect("utf8"),
        "--lengths",
        "12",
        "--samples",
        "4",
    ]));
    assert_eq!(e["length"], serde_json::json!([12]));
    let bad = poslens(&["train", "--task", "sort"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// The linear position probe: the input of a sinusoidal-APE model carries its positions
/// linearly; NoPE's input does not (tokens only) but its first block builds a position signal
/// (Kazemnejad et al. 2023); and bad requests are refused with a message.
#[test]
fn probe_reads_positions_where_the_encoding_or_the_model_put_them() {
    let out = poslens(&[
        "probe",
        "--model",
        &model("recall-sinusoidal"),
        "--model",
        &model("recall-nope"),
        "--samples",
        "32",
        "--lengths",
        "32,64",
        "--json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    let r2 = |m: usize, layer: usize| v[m]["probe"]["fits"][layer][0]["r2"].as_f64().expect("r2");
    assert!(r2(0, 0) > 0.8, "sinusoidal input R² {}", r2(0, 0));
    assert!(r2(1, 0) < 0.3, "NoPE input R² {}", r2(1, 0));
    assert!(r2(1, 1) > r2(1, 0) + 0.3, "NoPE block 1 R² {}", r2(1, 1));
    assert_eq!(
        v[1]["probe"]["fits"].as_array().map(Vec::len),
        Some(4),
        "input + 3 blocks"
    );
    for bad in [vec!["--samples", "1"], vec!["--lengths", "0"], vec!["--lengths", "x"]] {
        let mut args = vec!["probe", "--model", "assets/models/recall-nope"];
        args.extend(bad.iter().copied());
        let out = poslens(&args);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
}
