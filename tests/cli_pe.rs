// Integration tests of `poslens pe …`: run the real binary, parse its JSON/CSV output, and check
// the error contract (one `error: …` line on stderr naming the flag, empty stdout, exit code 2).

use serde_json::Value;
use std::process::{Command, Output};

fn poslens(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poslens"))
        .arg("pe")
        .args(args)
        .output()
        .expect("the poslens binary runs")
}

fn ok_json(args: &[&str]) -> Value {
    let out = poslens(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    v.as_array().expect("array").iter().map(floats).collect()
}

/// Asserts the error contract and returns stderr.
fn fails(args: &[&str]) -> String {
    let out = poslens(args);
    assert_eq!(out.status.code(), Some(2), "{args:?} should exit with 2");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.starts_with("error:"), "{args:?}: {err}");
    err
}

/// Parses CSV output into (header, rows of fields) and checks every row has the header's width.
fn ok_csv(args: &[&str]) -> (Vec<String>, Vec<Vec<String>>) {
    let out = poslens(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header line")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows: Vec<Vec<String>> = lines.map(|l| l.split(',').map(str::to_string).collect()).collect();
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{args:?}: ragged CSV row {r:?}");
    }
    (header, rows)
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

#[test]
fn rope_freqs_unscaled_matches_the_definition() {
    let v = ok_json(&["rope-freqs", "--head-dim", "8", "--base", "10000"]);
    let f = floats(&v["inv_freq"]);
    assert_eq!(f.len(), 4);
    for (i, got) in f.iter().enumerate() {
        assert!(close(*got, 10_000f64.powf(-(2.0 * i as f64) / 8.0), 1e-12));
    }
    assert_eq!(v["attention_factor"].as_f64(), Some(1.0));
}

#[test]
fn rope_freqs_yarn_and_llama3_match_independent_python() {
    // Values derived with python3 (pure math, f64) from the spec formulas.
    let v = ok_json(&[
        "rope-freqs",
        "--head-dim",
        "128",
        "--base",
        "10000",
        "--scaling",
        "yarn",
        "--factor",
        "4",
        "--original-max-pos",
        "2048",
    ]);
    let f = floats(&v["inv_freq"]);
    assert!(close(f[30], 0.007734424306547279, 1e-12));
    assert!(close(f[41], 0.0006846049085660903, 1e-12));
    assert!(close(v["attention_factor"].as_f64().unwrap(), 1.138629436111989, 1e-12));
    let v = ok_json(&[
        "rope-freqs",
        "--head-dim",
        "128",
        "--base",
        "500000",
        "--scaling",
        "llama3",
        "--factor",
        "8",
        "--original-max-pos",
        "8192",
        "--low-freq-factor",
        "1",
        "--high-freq-factor",
        "4",
    ]);
    let f = floats(&v["inv_freq"]);
    assert!(close(f[31], 0.0008567514129196321, 1e-12));
    assert!(close(f[40], 3.428102195952591e-05, 1e-12));
}

#[test]
fn rope_freqs_dynamic_uses_seq_len_against_original_length() {
    let base = [
        "rope-freqs",
        "--head-dim",
        "8",
        "--scaling",
        "dynamic",
        "--factor",
        "4",
        "--original-max-pos",
        "1024",
    ];
    let plain = floats(&ok_json(&["rope-freqs", "--head-dim", "8"])["inv_freq"]);
    let mut short = base.to_vec();
    short.extend(["--seq-len", "1000"]);
    assert_eq!(floats(&ok_json(&short)["inv_freq"]), plain);
    let mut long = base.to_vec();
    long.extend(["--seq-len", "2048"]);
    let f = floats(&ok_json(&long)["inv_freq"]);
    // b' = 10000 · (4·2048/1024 − 3)^(8/6).
    let b = 10_000.0 * 5f64.powf(4.0 / 3.0);
    assert!(close(f[2], b.powf(-0.5), 1e-12));
}

#[test]
fn rope_freqs_yarn_flags_reach_the_attention_factor() {
    let mut args = vec![
        "rope-freqs",
        "--head-dim",
        "64",
        "--scaling",
        "yarn",
        "--factor",
        "40",
        "--original-max-pos",
        "4096",
        "--mscale",
        "1",
        "--mscale-all-dim",
        "0.707",
        "--no-truncate",
    ];
    let v = ok_json(&args);
    let want = (0.1 * 40f64.ln() + 1.0) / (0.1 * 0.707 * 40f64.ln() + 1.0);
    assert!(close(v["attention_factor"].as_f64().unwrap(), want, 1e-12));
    args.extend(["--attention-factor", "0.75"]);
    assert_eq!(ok_json(&args)["attention_factor"].as_f64(), Some(0.75));
}

#[test]
fn rope_freqs_longrope_picks_factor_set_by_length() {
    let common = [
        "rope-freqs",
        "--head-dim",
        "4",
        "--base",
        "100",
        "--scaling",
        "longrope",
        "--factor",
        "16",
        "--original-max-pos",
        "4096",
        "--short-factors",
        "1,2",
        "--long-factors",
        "4,8",
    ];
    // θ = [1, 0.1].
    let mut s = common.to_vec();
    s.extend(["--seq-len", "4096"]);
    let v = ok_json(&s);
    let f = floats(&v["inv_freq"]);
    assert!(close(f[0], 1.0, 1e-12) && close(f[1], 0.05, 1e-12));
    assert!(close(
        v["attention_factor"].as_f64().unwrap(),
        (4.0f64 / 3.0).sqrt(),
        1e-12
    ));
    let mut l = common.to_vec();
    l.extend(["--seq-len", "8192"]);
    let f = floats(&ok_json(&l)["inv_freq"]);
    assert!(close(f[0], 0.25, 1e-12) && close(f[1], 0.0125, 1e-12));
}

#[test]
fn t5_buckets_bidirectional_and_causal() {
    let v = ok_json(&[
        "t5-buckets",
        "--num-buckets",
        "32",
        "--max-distance",
        "128",
        "--bidirectional",
        "--from",
        "-200",
        "--to",
        "200",
    ]);
    let rel = floats(&v["relative_position"]);
    let b = floats(&v["bucket"]);
    assert_eq!(rel.len(), 401);
    assert_eq!((rel[0], rel[400]), (-200.0, 200.0));
    let at = |r: i64| b[(r + 200) as usize];
    assert_eq!(at(0), 0.0);
    assert_eq!(at(1), 17.0);
    assert_eq!(at(-7), 7.0);
    assert_eq!(at(-20), 10.0); // 8 + trunc(ln 2.5 / ln 16 · 8)
    for r in 128..=200 {
        assert_eq!(at(-r), 15.0);
        assert_eq!(at(r), 31.0);
    }
    let v = ok_json(&["t5-buckets", "--causal", "--from", "-200", "--to", "200"]);
    let b = floats(&v["bucket"]);
    assert!(b[201..].iter().all(|&x| x == 0.0), "future keys → bucket 0");
    assert_eq!(b[200 - 40], 23.0); // rel −40: 16 + trunc(ln 2.5 / ln 8 · 16)
    assert_eq!(b[0], 31.0);
}

#[test]
fn alibi_slopes_six_heads() {
    let v = ok_json(&["alibi-slopes", "--heads", "6"]);
    let want: Vec<f64> = [-2, -4, -6, -8, -1, -3].iter().map(|&e| 2f64.powi(e)).collect();
    let got = floats(&v["slopes"]);
    assert_eq!(got.len(), 6);
    for (g, w) in got.iter().zip(want) {
        assert!(close(*g, w, 1e-15));
    }
}

#[test]
fn sinusoidal_rows_are_positions_in_both_layouts() {
    let v = ok_json(&["sinusoidal", "--d-model", "4", "--len", "3"]);
    let t = matrix(&v["table"]);
    assert_eq!(t.len(), 3);
    let want = [2f64.sin(), 2f64.cos(), 0.02f64.sin(), 0.02f64.cos()];
    for (g, w) in t[2].iter().zip(want) {
        assert!((g - w).abs() < 1e-6);
    }
    let v = ok_json(&["sinusoidal", "--d-model", "4", "--len", "3", "--layout", "concat"]);
    let t = matrix(&v["table"]);
    let want = [2f64.sin(), 0.02f64.sin(), 2f64.cos(), 0.02f64.cos()];
    for (g, w) in t[2].iter().zip(want) {
        assert!((g - w).abs() < 1e-6);
    }
}

#[test]
fn rope_apply_rotates_both_layouts_and_applies_attention_factor() {
    // θ = [1, 0.1] for d = 4, base 100.
    let v = ok_json(&[
        "rope-apply",
        "--head-dim",
        "4",
        "--base",
        "100",
        "--positions",
        "0,1",
        "--vector",
        "1,2,3,4",
    ]);
    let r = matrix(&v["rotated"]);
    assert_eq!(r[0], vec![1.0, 2.0, 3.0, 4.0]);
    let (s1, c1) = 1f64.sin_cos();
    assert!((r[1][0] - (c1 - 3.0 * s1)).abs() < 1e-12);
    assert!((r[1][2] - (3.0 * c1 + s1)).abs() < 1e-12);
    let v = ok_json(&[
        "rope-apply",
        "--head-dim",
        "4",
        "--base",
        "100",
        "--layout",
        "interleaved",
        "--positions",
        "1",
        "--vector",
        "1,2,3,4",
    ]);
    let r = matrix(&v["rotated"]);
    assert!((r[0][1] - (2.0 * c1 + s1)).abs() < 1e-12);
    // Norm is preserved without an attention factor and doubled with factor 2.
    let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let v = ok_json(&[
        "rope-apply",
        "--head-dim",
        "4",
        "--positions",
        "-3.5,1000",
        "--vector",
        "1,2,3,4",
    ]);
    for row in matrix(&v["rotated"]) {
        assert!((norm(&row) - 30f64.sqrt()).abs() < 1e-12);
    }
    let v = ok_json(&[
        "rope-apply",
        "--head-dim",
        "4",
        "--positions",
        "5",
        "--vector",
        "1,2,3,4",
        "--scaling",
        "yarn",
        "--factor",
        "2",
        "--original-max-pos",
        "64",
        "--attention-factor",
        "2",
    ]);
    assert!((norm(&matrix(&v["rotated"])[0]) - 2.0 * 30f64.sqrt()).abs() < 1e-12);
}

#[test]
fn mask_methods_hand_derived() {
    let v = ok_json(&[
        "mask",
        "--method",
        "lm-infinite",
        "--n-global",
        "2",
        "--local-window",
        "3",
        "--len",
        "8",
    ]);
    let vis: Vec<bool> = v["mask"][7]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_bool().unwrap())
        .collect();
    assert_eq!(vis, [true, true, false, false, false, true, true, true]);
    assert_eq!(v["relative_position"][7][0].as_f64(), Some(3.0));
    assert!(v["relative_position"][7][3].is_null());
    assert!(v["mask"][2][5].as_bool() == Some(false), "causal");

    let v = ok_json(&[
        "mask",
        "--method",
        "self-extend",
        "--group-size",
        "2",
        "--neighbor-window",
        "4",
        "--len",
        "11",
    ]);
    assert_eq!(v["relative_position"][10][3].as_f64(), Some(6.0));
    assert_eq!(v["query_position"][10][3].as_f64(), Some(7.0));
    assert_eq!(v["key_position"][10][3].as_f64(), Some(1.0));
    assert_eq!(v["relative_position"][10][7].as_f64(), Some(3.0));

    let v = ok_json(&["mask", "--method", "rerope", "--window", "4", "--len", "11"]);
    assert_eq!(v["relative_position"][10][0].as_f64(), Some(4.0));
    let v = ok_json(&[
        "mask",
        "--method",
        "leaky-rerope",
        "--window",
        "4",
        "--leak-k",
        "2",
        "--len",
        "11",
    ]);
    assert_eq!(v["relative_position"][10][0].as_f64(), Some(7.0));
}

#[test]
fn csv_output_parses_for_every_command() {
    let (h, rows) = ok_csv(&["rope-freqs", "--head-dim", "8", "--format", "csv"]);
    assert_eq!(h, ["pair", "inv_freq", "wavelength", "attention_factor"]);
    assert_eq!(rows.len(), 4);
    let wl: f64 = rows[0][2].parse().unwrap();
    assert!((wl - std::f64::consts::TAU).abs() < 1e-12);

    let (h, rows) = ok_csv(&[
        "t5-buckets",
        "--bidirectional",
        "--from",
        "-3",
        "--to",
        "3",
        "--format",
        "csv",
    ]);
    assert_eq!(h, ["relative_position", "bucket"]);
    let parsed: Vec<(i64, usize)> = rows
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].parse().unwrap()))
        .collect();
    assert_eq!(parsed, [(-3, 3), (-2, 2), (-1, 1), (0, 0), (1, 17), (2, 18), (3, 19)]);

    let (h, rows) = ok_csv(&["alibi-slopes", "--heads", "3", "--format", "csv"]);
    assert_eq!(h, ["head", "slope"]);
    let s: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(s, [1.0 / 16.0, 1.0 / 256.0, 0.25]);

    let (h, rows) = ok_csv(&["sinusoidal", "--d-model", "6", "--len", "5", "--format", "csv"]);
    assert_eq!(h.len(), 7);
    assert_eq!(rows.len(), 5);
    assert!(rows.iter().flatten().all(|f| f.parse::<f64>().is_ok()));

    let (h, rows) = ok_csv(&[
        "rope-apply",
        "--head-dim",
        "2",
        "--positions",
        "0,1",
        "--vector",
        "1,0",
        "--format",
        "csv",
    ]);
    assert_eq!(h, ["position", "y0", "y1"]);
    let y: Vec<f64> = rows[1][1..].iter().map(|f| f.parse().unwrap()).collect();
    assert!((y[0] - 1f64.cos()).abs() < 1e-12 && (y[1] - 1f64.sin()).abs() < 1e-12);

    let (h, rows) = ok_csv(&[
        "mask", "--method", "rerope", "--window", "2", "--len", "4", "--format", "csv",
    ]);
    assert_eq!(h[..3], ["query", "key", "visible"]);
    assert_eq!(rows.len(), 16);
    let r30 = rows.iter().find(|r| r[0] == "3" && r[1] == "0").unwrap();
    assert_eq!(r30[2], "true");
    assert_eq!(r30[3].parse::<f64>().unwrap(), 2.0);
    let r03 = rows.iter().find(|r| r[0] == "0" && r[1] == "3").unwrap();
    assert_eq!((r03[2].as_str(), r03[3].as_str()), ("false", ""));
}

#[test]
fn bad_values_exit_2_and_name_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["rope-freqs", "--head-dim", "7"], "--head-dim"),
        (&["rope-freqs", "--head-dim", "0"], "--head-dim"),
        (&["rope-freqs", "--head-dim", "8", "--base", "1"], "--base"),
        (
            &[
                "rope-freqs",
                "--head-dim",
                "8",
                "--scaling",
                "linear",
                "--factor",
                "0.5",
            ],
            "--factor",
        ),
        (&["rope-freqs", "--head-dim", "8", "--scaling", "linear"], "--factor"),
        (
            &[
                "rope-freqs",
                "--head-dim",
                "8",
                "--scaling",
                "longrope",
                "--factor",
                "2",
                "--original-max-pos",
                "4096",
                "--short-factors",
                "1,1,1",
                "--long-factors",
                "1,1,1,1",
            ],
            "--short-factors",
        ),
        (
            &[
                "rope-freqs",
                "--head-dim",
                "8",
                "--scaling",
                "yarn",
                "--factor",
                "2",
                "--original-max-pos",
                "4096",
                "--beta-fast",
                "1",
                "--beta-slow",
                "2",
            ],
            "--beta-fast",
        ),
        (
            &[
                "rope-freqs",
                "--head-dim",
                "8",
                "--scaling",
                "llama3",
                "--factor",
                "8",
                "--original-max-pos",
                "8192",
                "--low-freq-factor",
                "4",
                "--high-freq-factor",
                "1",
            ],
            "--high-freq-factor",
        ),
        (&["alibi-slopes", "--heads", "0"], "--heads"),
        (&["sinusoidal", "--d-model", "5", "--len", "4"], "--d-model"),
        (&["sinusoidal", "--d-model", "4", "--len", "0"], "--len"),
        (&["sinusoidal", "--d-model", "4", "--len", "10000000"], "--len"),
        (
            &["t5-buckets", "--bidirectional", "--num-buckets", "2"],
            "--num-buckets",
        ),
        (
            &["rope-apply", "--head-dim", "4", "--positions", "1", "--vector", "1,2,3"],
            "--vector",
        ),
        (
            &[
                "mask",
                "--method",
                "self-extend",
                "--group-size",
                "0",
                "--neighbor-window",
                "4",
                "--len",
                "8",
            ],
            "--group-size",
        ),
        (
            &["mask", "--method", "rerope", "--window", "2", "--len", "100000"],
            "--len",
        ),
        (
            &[
                "mask",
                "--method",
                "leaky-rerope",
                "--window",
                "2",
                "--leak-k",
                "0.5",
                "--len",
                "8",
            ],
            "--leak-k",
        ),
    ];
    for (args, flag) in cases {
        let err = fails(args);
        assert!(err.contains(flag), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
    // Parse errors (unknown values, missing required flags) also exit 2 with nothing on stdout.
    fails(&["rope-freqs", "--head-dim", "8", "--scaling", "bogus"]);
    fails(&["t5-buckets", "--from", "0", "--to", "3"]);
    fails(&["t5-buckets", "--causal", "--bidirectional"]);
}
