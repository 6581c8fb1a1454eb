//! Fuzzing of everything a hostile user can hand PosLens: the URL state parser (links), the
//! weight-file and metadata parsers (files), and the command line's number and list parsers.
//!
//! Each target runs `POSLENS_FUZZ_CASES` cases (default 100 000, the CI figure) from a seeded
//! generator of hostile values: out of range, non-numeric, NaN, `1e309`, huge, unicode,
//! percent-encoded, duplicate keys, long values, arbitrary and mutated bytes. A longer run:
//!
//! ```text
//! POSLENS_FUZZ_CASES=10000000 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! (`POSLENS_FUZZ_SEED` picks another stream.) The properties: nothing panics; a link always
//! gives a valid, stable state (reading its own link back gives no notes); a file either fails
//! with a message or gives finite values; a command line either fails with a one-line message
//! or prints only finite numbers.

use poslens::cli::{model::check_eval_command_line, run_pe_command_line};
use poslens::model::catalog::ModelMeta;
use poslens::model::weights::WeightFile;
use poslens::rng::SplitMix64;
use poslens::url_state::{from_hash, to_hash};

fn cases() -> u64 {
    std::env::var("POSLENS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

fn rng(target: u64) -> SplitMix64 {
    let seed: u64 = std::env::var("POSLENS_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261130);
    SplitMix64::new(seed ^ target.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn pick<'a>(r: &mut SplitMix64, items: &[&'a str]) -> &'a str {
    items[(r.next_u64() % items.len() as u64) as usize]
}

/// A hostile value: numbers in and out of range, non-numbers, unicode, encodings, long strings.
fn hostile_value(r: &mut SplitMix64) -> String {
    #[rustfmt::skip]
    const WORDS: &[&str] = &[
        "0", "1", "-1", "2", "7", "16", "32", "64", "100", "512", "2048", "4096", "8192", "65536", "65537",
        "1e9", "4294967296", "18446744073709551616", "-9223372036854775809", "NaN", "nan", "inf", "-inf",
        "infinity", "1e309", "-1e309", "1e-320", "4.9e-324", "-0", "0.0", "0.5", "1.5", "2.5", "1e3", "0x10",
        "+5", " 7", "7 ", "", "٣", "１６", "½", "∞", "%20", "%41", "%ZZ", "%", "%00", "a%3Db", "é", "🦀",
        "\u{202e}", "rope", "alibi", "t5", "nope", "yarn", "pi", "ntk", "dynamic", "llama3", "longrope",
        "self-extend", "rerope", "lm-infinite", "linear", "none", "copy", "recall", "attention", "compare",
        "extension", "bias", "sinusoidal", "model", "train", "dark", "light", "1,2,3", ",", ",,", "1,,2",
        "1;2", "true", "false", "null", "[1]", "{}", "intro", "contrast", "1.5",
    ];
    match r.next_u64() % 10 {
        0 => (r.next_u64() as i64).to_string(),
        1 => f64::from_bits(r.next_u64()).to_string(),
        2 => {
            // A long value (up to 10 kB).
            let n = (r.next_u64() % 10_240) as usize;
            pick(r, &["9", "a", "%", "é", ","]).repeat(n)
        }
        3 => {
            // A short run of arbitrary characters.
            let n = (r.next_u64() % 12) as usize;
            (0..n)
                .filter_map(|_| char::from_u32((r.next_u64() % 0x3_0000) as u32))
                .collect()
        }
        _ => pick(r, WORDS).to_string(),
    }
}

#[test]
fn links_always_give_a_valid_stable_state() {
    #[rustfmt::skip]
    const KEYS: &[&str] = &[
        "view", "v", "len", "train", "scheme", "content", "period", "mode", "causal", "head", "base", "hd",
        "agg", "engine", "d", "layout", "q", "qk", "dist", "method", "factor", "bfast", "bslow", "lowff",
        "highff", "global", "lmwin", "group", "sewin", "rrwin", "theme", "embed", "task", "pe", "sample",
        "metric", "preset", "steps", "seed", "lr", "run", "input", "probe", "interp", "x", "", "%76iew", "len%3D", "view=view", "tour", "step", "scale",
    ];
    let mut r = rng(1);
    let n = cases();
    for case in 0..n {
        let pairs = (r.next_u64() % 8) as usize;
        let mut hash = String::new();
        if r.next_u64().is_multiple_of(4) {
            hash.push('#');
        }
        for i in 0..pairs {
            if i > 0 {
                hash.push(
                    pick(&mut r, &["&", "&", "&", "&&", ";", "#"])
                        .chars()
                        .next()
                        .unwrap_or('&'),
                );
            }
            let key = pick(&mut r, KEYS);
            hash.push_str(key);
            if !r.next_u64().is_multiple_of(16) {
                hash.push('=');
                hash.push_str(&hostile_value(&mut r));
            }
        }
        let (state, _notes) = from_hash(&hash);
        let written = to_hash(&state);
        let (again, notes) = from_hash(&written);
        assert!(
            notes.is_empty(),
            "case {case}: {hash:?} wrote {written:?}, which reads with notes {notes:?}"
        );
        assert_eq!(to_hash(&again), written, "case {case}: {hash:?}");
        assert!(written.contains("view=") && written.contains("&len="), "{written}");
        assert!(
            written.len() < 1024,
            "case {case}: a written link stays short ({} bytes)",
            written.len()
        );
    }
    eprintln!("links: {n} cases");
}

fn valid_weight_file(r: &mut SplitMix64) -> Vec<u8> {
    let tensors = (0..1 + r.next_u64() % 3)
        .map(|t| {
            let shape: Vec<usize> = (0..1 + r.next_u64() % 2)
                .map(|_| 1 + (r.next_u64() % 4) as usize)
                .collect();
            let n: usize = shape.iter().product();
            let values = (0..n).map(|i| (i as f32 - 2.0) * 0.25).collect();
            (format!("layer{t}.weight"), shape, values)
        })
        .collect();
    WeightFile { tensors }.encode()
}

#[test]
fn weight_files_decode_to_an_error_or_finite_values() {
    let mut r = rng(2);
    let n = cases();
    for case in 0..n {
        let mut bytes = valid_weight_file(&mut r);
        match case % 4 {
            // Flip, set or insert bytes.
            0 => {
                for _ in 0..1 + r.next_u64() % 4 {
                    let i = (r.next_u64() % bytes.len() as u64) as usize;
                    bytes[i] = r.next_u64() as u8;
                }
            }
            1 => {
                let cut = (r.next_u64() % bytes.len() as u64) as usize;
                bytes.truncate(cut);
                assert!(
                    WeightFile::decode(&bytes).is_err(),
                    "case {case}: a truncated file must fail"
                );
                continue;
            }
            2 => {
                let i = (r.next_u64() % bytes.len() as u64) as usize;
                let junk: Vec<u8> = (0..1 + r.next_u64() % 16).map(|_| r.next_u64() as u8).collect();
                bytes.splice(i..i, junk);
            }
            _ => {
                // Arbitrary bytes after the magic.
                bytes.truncate(4);
                bytes.extend((0..r.next_u64() % 256).map(|_| r.next_u64() as u8));
            }
        }
        if let Ok(w) = WeightFile::decode(&bytes) {
            assert!(
                w.tensors
                    .iter()
                    .all(|(_, shape, v)| shape.iter().product::<usize>() == v.len() && v.iter().all(|x| x.is_finite())),
                "case {case}: decoded tensors must be finite and match their shapes"
            );
        }
    }
    eprintln!("weight files: {n} cases");
}

#[test]
fn metadata_text_gives_an_error_or_a_consistent_model() {
    let dir = poslens::assets::models_dir();
    let good = std::fs::read_to_string(dir.join("copy-rope.json")).expect("shipped metadata");
    let fields: Vec<&str> = good
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
        .collect();
    let mut r = rng(3);
    let n = cases() / 10; // each case parses a whole metadata file
    for case in 0..n {
        let mut v: serde_json::Value = serde_json::from_str(&good).expect("shipped metadata is JSON");
        // Replace one or two fields (possibly nested config ones) with hostile values.
        for _ in 0..1 + r.next_u64() % 2 {
            let field = pick(&mut r, &fields);
            let raw = hostile_value(&mut r);
            let value = serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw));
            if let Some(obj) = v.as_object_mut()
                && obj.contains_key(field)
            {
                obj.insert(field.to_string(), value);
            } else if let Some(cfg) = v.get_mut("config").and_then(|c| c.as_object_mut()) {
                cfg.insert(field.to_string(), value);
            }
        }
        if let Ok(meta) = ModelMeta::from_json(&v.to_string()) {
            assert_eq!(
                meta.name,
                format!("{}-{}", meta.task.key(), meta.pe.key()),
                "case {case}"
            );
            assert_eq!(meta.weights_file, format!("{}.plw", meta.name), "case {case}");
            assert!(meta.config.validate().is_ok(), "case {case}");
        }
    }
    eprintln!("metadata: {n} cases");
}

/// Numbers in a command's output: none may be NaN, infinite or a JSON null.
fn assert_finite_output(case: u64, argv: &[String], out: &str) {
    for bad in ["null", "inf", "NaN"] {
        assert!(
            !out.contains(bad),
            "case {case}: `poslens {}` printed {bad}: {out:.200}",
            argv.join(" ")
        );
    }
}

#[test]
fn pe_command_lines_fail_cleanly_or_print_finite_numbers() {
    let mut r = rng(4);
    let n = cases();
    let mut ok = 0;
    for case in 0..n {
        let mut argv: Vec<String> = vec!["pe".into()];
        let flags: &[&str] = match r.next_u64() % 4 {
            0 => {
                argv.push("rope-freqs".into());
                &[
                    "--head-dim",
                    "--base",
                    "--scaling",
                    "--factor",
                    "--original-max-pos",
                    "--seq-len",
                    "--beta-fast",
                    "--beta-slow",
                    "--mscale",
                    "--mscale-all-dim",
                    "--attention-factor",
                    "--low-freq-factor",
                    "--high-freq-factor",
                    "--short-factors",
                    "--long-factors",
                    "--format",
                ]
            }
            1 => {
                argv.push("rope-apply".into());
                &[
                    "--head-dim",
                    "--base",
                    "--scaling",
                    "--factor",
                    "--original-max-pos",
                    "--positions",
                    "--vector",
                    "--format",
                ]
            }
            2 => {
                argv.push("t5-buckets".into());
                &[
                    "--num-buckets",
                    "--max-distance",
                    "--bidirectional",
                    "--causal",
                    "--from",
                    "--to",
                    "--format",
                ]
            }
            _ => {
                argv.push("alibi-slopes".into());
                &["--heads", "--format"]
            }
        };
        // Mostly plausible values so that many lines get past clap and reach the maths.
        for _ in 0..1 + r.next_u64() % 6 {
            let flag = pick(&mut r, flags);
            argv.push(flag.into());
            let value = match (flag, r.next_u64() % 3) {
                ("--bidirectional" | "--causal", _) => continue,
                ("--format", _) => pick(&mut r, &["json", "csv", "xml"]).to_string(),
                ("--scaling", _) => pick(
                    &mut r,
                    &[
                        "none", "pi", "ntk", "dynamic", "yarn", "llama3", "longrope", "rerope", "x",
                    ],
                )
                .to_string(),
                ("--short-factors" | "--long-factors" | "--positions" | "--vector", 0) => (0..r.next_u64() % 9)
                    .map(|_| hostile_value(&mut r).replace(',', ""))
                    .collect::<Vec<_>>()
                    .join(","),
                ("--short-factors" | "--long-factors" | "--positions" | "--vector", _) => (0..r.next_u64() % 9)
                    .map(|_| pick(&mut r, &["1", "0.5", "-3", "2", "1e308", "1e-310", "0", "7"]))
                    .collect::<Vec<_>>()
                    .join(","),
                (_, 0) => hostile_value(&mut r),
                _ => pick(
                    &mut r,
                    &[
                        "0", "1", "2", "4", "8", "16", "32", "64", "128", "1000", "10000", "1e6", "-5", "0.5", "1e309",
                        "NaN",
                    ],
                )
                .to_string(),
            };
            argv.push(value);
        }
        if argv[1] == "rope-freqs" || argv[1] == "rope-apply" {
            // The required flag, so that most lines reach the maths.
            if !argv.iter().any(|a| a == "--head-dim") {
                argv.push("--head-dim".into());
                argv.push(pick(&mut r, &["2", "8", "16", "64", "128", "4096", "4097", "0", "7"]).into());
            }
        }
        match run_pe_command_line(&argv) {
            Ok(out) => {
                ok += 1;
                assert_finite_output(case, &argv, &out);
            }
            Err(e) => assert!(!e.trim().is_empty(), "case {case}: an empty error"),
        }
    }
    eprintln!("pe command lines: {n} cases, {ok} printed numbers");
    assert!(ok > n / 20, "the generator must reach the maths often ({ok} of {n})");
}

#[test]
fn eval_flags_fail_cleanly_or_give_a_runnable_plan() {
    let dir = poslens::assets::models_dir();
    let metas: Vec<ModelMeta> = ["copy-rope", "recall-alibi", "copy-learned"]
        .iter()
        .map(|n| ModelMeta::from_json(&std::fs::read_to_string(dir.join(format!("{n}.json"))).unwrap_or_default()))
        .collect::<Result<_, _>>()
        .expect("shipped metadata");
    let mut r = rng(5);
    let n = cases();
    let mut ok = 0;
    for case in 0..n {
        let meta = &metas[(case % metas.len() as u64) as usize];
        let mut argv: Vec<String> = vec!["eval".into(), "--model".into(), "assets/models/x".into()];
        for _ in 0..r.next_u64() % 6 {
            let flag = pick(
                &mut r,
                &[
                    "--lengths",
                    "--samples",
                    "--seed",
                    "--scaling",
                    "--factor",
                    "--window",
                    "--group",
                    "--backend",
                ],
            );
            argv.push(flag.into());
            argv.push(match (flag, r.next_u64() % 2) {
                ("--lengths", 0) => (0..1 + r.next_u64() % 5)
                    .map(|_| {
                        pick(
                            &mut r,
                            &[
                                "6", "16", "32", "64", "128", "256", "257", "5", "0", "-1", " 32", "1e2", "", "٣٢",
                            ],
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                ("--scaling", 0) => pick(
                    &mut r,
                    &[
                        "none",
                        "pi",
                        "ntk",
                        "yarn",
                        "self-extend",
                        "rerope",
                        "lm-infinite",
                        "linear",
                        "PI",
                        "bogus",
                    ],
                )
                .into(),
                ("--factor", 0) => pick(&mut r, &["1", "2", "4", "0.5", "0", "-2", "NaN", "inf", "1e309", "16"]).into(),
                _ => hostile_value(&mut r),
            });
        }
        match check_eval_command_line(&argv, meta) {
            Ok((lengths, opts)) => {
                ok += 1;
                assert!(
                    !lengths.is_empty() && lengths.len() <= poslens::cli::model::MAX_EVAL_LENGTHS,
                    "case {case}"
                );
                assert!(
                    lengths.iter().all(|&l| meta.task.check_len(l).is_ok()),
                    "case {case}: {lengths:?}"
                );
                assert!(
                    meta.pe == poslens::model::PeKind::Rope || opts.is_plain(),
                    "case {case}"
                );
            }
            Err(e) => assert!(!e.trim().is_empty(), "case {case}: an empty error"),
        }
    }
    eprintln!("eval command lines: {n} cases, {ok} valid");
    assert!(
        ok > n / 20,
        "the generator must produce valid lines often ({ok} of {n})"
    );
}

/// `pe position-ids`, `pe laplacian` and `pe patch-attention` with hostile segments, rules and
/// sizes. Sizes come from a pool that stays cheap when valid (the Jacobi eigensolver is O(n³)
/// per sweep) and is otherwise far out of range; a twentieth of the cases of the other targets.
#[test]
fn position_command_lines_fail_cleanly_or_print_finite_numbers() {
    let mut r = rng(6);
    let n = (cases() / 20).max(100);
    let mut ok = 0;
    #[rustfmt::skip]
    const SIZES: &[&str] = &[
        "0", "1", "2", "3", "4", "5", "8", "13", "24", "-1", "2049", "513", "65", "4294967296", "NaN", "1e9", "",
    ];
    #[rustfmt::skip]
    const SEGMENTS: &[&str] = &[
        "text:16,image:64@0.25,text:16", "text:4,cand:3,cand:3,text:2", "doc:5,doc:5,doc:5,text:3", "image:8@1/256",
        "text:0", "text", "video:3", "image:4@0", "image:4@2", "image:4@NaN", "text:2049", "text:1,,image:2", ",",
        "text:-1", "image:3@1e-320", "text:3@0.5", "candidate:2,candidate:2",
    ];
    #[rustfmt::skip]
    const RULES: &[&str] = &[
        "plain", "v2pe", "v2pe:0.125", "v2pe:1/256", "v2pe:0", "v2pe:1/0", "v2pe:NaN", "shared", "restart", "pine",
        "pine:18446744073709551615", "longheads", "longheads:1:2:63", "longheads:4:64:0", "longheads:0", "longheads:4:1",
        "windowed", "windowed:1", "windowed:0", "windowed:2049", "plain:1", "x", "",
    ];
    for case in 0..n {
        let mut argv: Vec<String> = vec!["pe".into()];
        let pool: &[(&str, &[&str])] = match r.next_u64() % 3 {
            0 => {
                argv.push("position-ids".into());
                &[
                    ("--segments", SEGMENTS),
                    ("--rule", RULES),
                    ("--train-len", SIZES),
                    ("--head-dim", &["2", "4", "8", "64", "4097", "7", "0"]),
                    ("--base", &["10000", "1", "0.5", "NaN", "1e308", "inf"]),
                    ("--format", &["json", "csv", "xml"]),
                ]
            }
            1 => {
                argv.push("laplacian".into());
                &[
                    ("--graph", &["path", "cycle", "grid", "tree", "star"]),
                    ("--n", SIZES),
                    ("--rows", SIZES),
                    ("--cols", SIZES),
                    ("--depth", &["0", "1", "2", "3", "9", "-1", "x"]),
                    ("--branching", &["0", "1", "2", "3", "5", "1e9"]),
                    ("--k", SIZES),
                    ("--format", &["json", "csv"]),
                ]
            }
            _ => {
                argv.push("patch-attention".into());
                &[
                    (
                        "--encoding",
                        &["axial", "mixed", "m-rope", "alibi-euclidean", "alibi-manhattan", "x"],
                    ),
                    ("--rows", SIZES),
                    ("--cols", SIZES),
                    (
                        "--query",
                        &["0,0", "1,2", "3,3", "64,0", "-1,0", "1", "a,b", "1,2,3", ""],
                    ),
                    ("--head-dim", &["4", "6", "8", "64", "4096", "4100", "0"]),
                    ("--base", &["100", "10000", "1", "NaN", "1e308"]),
                    ("--slope", &["0", "0.5", "-1", "NaN", "1e308", "inf"]),
                    ("--format", &["json", "csv"]),
                ]
            }
        };
        for _ in 0..1 + r.next_u64() % 6 {
            let (flag, values) = pool[(r.next_u64() % pool.len() as u64) as usize];
            argv.push(flag.into());
            argv.push(if r.next_u64().is_multiple_of(8) {
                hostile_value(&mut r)
            } else {
                pick(&mut r, values).to_string()
            });
        }
        if r.next_u64().is_multiple_of(4) && argv[1] == "laplacian" {
            argv.push("--normalized".into());
        }
        // The required flags, so that most lines reach the maths.
        let required: &[(&str, &[&str])] = match argv[1].as_str() {
            "position-ids" => &[("--segments", &SEGMENTS[..4])],
            "laplacian" => &[
                ("--graph", &["path", "cycle", "grid", "tree"]),
                ("--k", &["1", "2", "3"]),
                ("--n", &["3", "8", "24"]),
                ("--rows", &["2", "5"]),
                ("--cols", &["3", "4"]),
                ("--depth", &["2", "3"]),
            ],
            _ => &[
                (
                    "--encoding",
                    &["axial", "mixed", "m-rope", "alibi-euclidean", "alibi-manhattan"],
                ),
                ("--rows", &["3", "8"]),
                ("--cols", &["4", "8"]),
            ],
        };
        for (flag, values) in required {
            if !argv.iter().any(|a| a == flag) {
                argv.push((*flag).into());
                argv.push(pick(&mut r, values).into());
            }
        }
        match run_pe_command_line(&argv) {
            Ok(out) => {
                ok += 1;
                assert_finite_output(case, &argv, &out);
            }
            Err(e) => assert!(!e.trim().is_empty(), "case {case}: an empty error"),
        }
    }
    eprintln!("position command lines: {n} cases, {ok} printed numbers");
    assert!(ok > n / 10, "the generator must reach the maths often ({ok} of {n})");
}
