//! Unit tests of `pe` (kept beside it so the maths stays on a few screens).

use super::*;
use clap::Parser;

#[derive(clap::Parser)]
struct Harness {
    #[command(subcommand)]
    cmd: Top,
}
#[derive(clap::Subcommand)]
enum Top {
    Pe(PeArgs),
}

fn go(args: &[&str]) -> Result<String, CliError> {
    let mut full = vec!["poslens", "pe"];
    full.extend_from_slice(args);
    let Top::Pe(a) = Harness::try_parse_from(full).expect("parses").cmd;
    run(&a)
}

#[test]
fn errors_name_the_flag() {
    let e = go(&["rope-freqs", "--head-dim", "7"]).unwrap_err().to_string();
    assert!(e.contains("--head-dim") && e.contains("even"), "{e}");
    let e = go(&["rope-freqs", "--head-dim", "8", "--scaling", "yarn", "--factor", "4"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--original-max-pos"), "{e}");
    let e = go(&["mask", "--method", "rerope", "--len", "4"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--window"), "{e}");
    let e = go(&["t5-buckets", "--causal", "--from", "5", "--to", "1"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--from"), "{e}");
}

#[test]
fn t5_and_alibi_csv_shapes() {
    let out = go(&["t5-buckets", "--causal", "--from", "-2", "--to", "1", "--format", "csv"]).unwrap();
    assert_eq!(out, "relative_position,bucket\n-2,2\n-1,1\n0,0\n1,0\n");
    let out = go(&["alibi-slopes", "--heads", "2", "--format", "csv"]).unwrap();
    assert_eq!(out, "head,slope\n0,0.0625\n1,0.00390625\n");
}
