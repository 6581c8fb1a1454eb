//! `poslens export`: the headless export writes real PNG / CSV / JSON files with the app's numbers,
//! and refuses bad requests with exit code 2.

use std::process::Command;

fn poslens(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_poslens"))
        .args(args)
        .output()
        .expect("run poslens")
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("poslens-cli-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    dir.join(name)
}

#[test]
fn exports_png_csv_and_json_of_a_heatmap_view() {
    let state = "view=attention&len=64&scheme=alibi&head=0&train=32";
    let png = tmp("att.png");
    let out = poslens(&["export", "--state", state, "--out", png.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).expect("png written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");

    let json_path = tmp("att.json");
    assert!(
        poslens(&["export", "--state", state, "--out", json_path.to_str().expect("utf8")])
            .status
            .success()
    );
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_path).expect("json")).expect("valid json");
    assert_eq!(v["view"], "attention");
    assert_eq!(v["map"]["n"], 64);
    // ALiBi head 0 (slope 1/2), identical tokens: query 1 attends to keys 0 and 1 with weights
    // 1/(1+e^{1/2})·(e^{-1/2}, 1) — computed by hand, not by the app.
    let w = 1.0 / (1.0 + (-0.5f64).exp());
    let row1 = &v["map"]["values"][1];
    assert!((row1[1].as_f64().expect("number") - w).abs() < 1e-5, "{row1}");
    assert!(((row1[0].as_f64().expect("number")) - (1.0 - w)).abs() < 1e-5);
    assert!(row1[2].is_null(), "future keys are masked");
    assert!((v["map"]["mass_beyond_train"].as_f64().expect("number")) < 0.01);

    let csv_path = tmp("att.csv");
    assert!(
        poslens(&["export", "--state", state, "--out", csv_path.to_str().expect("utf8")])
            .status
            .success()
    );
    let csv = std::fs::read_to_string(&csv_path).expect("csv");
    assert_eq!(csv.lines().count(), 65, "header + one row per query");
}

#[test]
fn plot_views_export_csv_but_not_png_and_bad_names_are_rejected() {
    let csv = tmp("bias.csv");
    let out = poslens(&[
        "export",
        "--state",
        "view=bias&len=32",
        "--out",
        csv.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&csv).expect("csv");
    assert!(text.starts_with("scheme,index,"));
    assert_eq!(text.lines().count(), 1 + 7 * 32);

    let png = tmp("bias.png");
    let out = poslens(&[
        "export",
        "--state",
        "view=bias&len=32",
        "--out",
        png.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".csv or .json"));

    let out = poslens(&["export", "--state", "view=attention", "--out", "fig.gif"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}
