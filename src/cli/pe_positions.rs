//! `poslens pe position-ids`, `pe laplacian` and `pe patch-attention`: positions as data
//! (`pe::position_ids`), graph Laplacian eigenvectors (`pe::laplacian`) and 2-D positions on a
//! patch grid (`pe::grid2d`). Same JSON / CSV and exit-2 conventions as the other subcommands.

use serde_json::json;

use super::{CliError, Format, FormatArg, csv, json_line, strs};
use crate::pe::grid2d::{self, Distance2d, Rope2d};
use crate::pe::laplacian::{self, Graph};
use crate::pe::position_ids::{self, IdRule};
use crate::pe::{PeError, rope};

/// Arguments of `pe position-ids`.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct PositionIdsArgs {
    /// Segments, e.g. 'text:16,image:64@0.25,text:16' (kinds: text, image, document,
    /// candidate; `@δ` sets an image's V2PE step).
    #[arg(long)]
    segments: String,
    /// Id rule: plain, v2pe[:δ], shared, restart, pine[:seed], longheads[:chunk[:keep[:head]]],
    /// windowed[:w].
    #[arg(long, default_value = "plain")]
    rule: String,
    /// Also print every visible cell's relative position p_m − p_n (n² numbers).
    #[arg(long)]
    distances: bool,
    /// With --head-dim: RoPE angle coverage against this training length.
    #[arg(long)]
    train_len: Option<usize>,
    /// Rotary head dimension for the angle coverage.
    #[arg(long, default_value_t = 64)]
    head_dim: usize,
    /// RoPE base for the angle coverage.
    #[arg(long, default_value_t = 10_000.0)]
    base: f64,
    #[command(flatten)]
    out: FormatArg,
}

/// Graph family of `pe laplacian`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum GraphKind {
    Path,
    Cycle,
    Grid,
    Tree,
}

/// Arguments of `pe laplacian`.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct LaplacianArgs {
    #[arg(long, value_enum)]
    graph: GraphKind,
    /// Nodes of a path or cycle.
    #[arg(long)]
    n: Option<usize>,
    /// Grid rows.
    #[arg(long)]
    rows: Option<usize>,
    /// Grid columns.
    #[arg(long)]
    cols: Option<usize>,
    /// Tree depth (levels below the root).
    #[arg(long)]
    depth: Option<usize>,
    /// Children per tree node.
    #[arg(long, default_value_t = 2)]
    branching: usize,
    /// Eigenpairs to print, from the smallest eigenvalue (index 0 is the constant vector).
    #[arg(long)]
    k: usize,
    /// Normalised Laplacian I − D^{-1/2} A D^{-1/2} instead of D − A.
    #[arg(long)]
    normalized: bool,
    #[command(flatten)]
    out: FormatArg,
}

/// Encoding of `pe patch-attention`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum PatchEncoding {
    Axial,
    Mixed,
    MRope,
    AlibiEuclidean,
    AlibiManhattan,
}

/// Arguments of `pe patch-attention`.
#[derive(clap::Args, Debug, Clone)]
pub(super) struct PatchArgs {
    #[arg(long, value_enum)]
    encoding: PatchEncoding,
    #[arg(long)]
    rows: usize,
    #[arg(long)]
    cols: usize,
    /// The query patch, `row,col` (from 0).
    #[arg(long, default_value = "0,0")]
    query: String,
    /// Rotary head dimension (RoPE encodings; axial and mixed need a multiple of 4).
    #[arg(long, default_value_t = 64)]
    head_dim: usize,
    /// RoPE base.
    #[arg(long, default_value_t = 100.0)]
    base: f64,
    /// Slope of the 2-D ALiBi bias.
    #[arg(long, default_value_t = 0.5)]
    slope: f64,
    #[command(flatten)]
    out: FormatArg,
}

fn intervals_text(iv: &[[usize; 2]]) -> String {
    iv.iter()
        .map(|[a, b]| if a == b { a.to_string() } else { format!("{a}-{b}") })
        .collect::<Vec<_>>()
        .join(";")
}

pub(super) fn position_ids_cmd(a: &PositionIdsArgs) -> Result<String, CliError> {
    let segments = position_ids::parse_segments(&a.segments)?;
    let rule: IdRule = position_ids::parse_rule(&a.rule)?;
    let l = position_ids::layout(&segments, &rule)?;
    let n = l.len();
    let coverage = match a.train_len {
        Some(t) => {
            let inv = rope::default_inv_freq(a.head_dim, a.base)?;
            Some(position_ids::angle_coverage(&inv, t, l.max_distance())?)
        }
        None => None,
    };
    let kinds: Vec<&str> = l.kinds.iter().map(|k| k.key()).collect();
    Ok(match a.out.format {
        Format::Json => {
            let mut v = json!({
                "segments": position_ids::segments_to_string(&segments),
                "rule": position_ids::rule_to_string(&rule),
                "paper": rule.paper(),
                "tokens": n,
                "ids": l.ids,
                "kind": kinds,
                "segment": l.segment_of,
                "visible": (0..n).map(|m| l.visible_intervals(m)).collect::<Vec<_>>(),
                "max_id": l.max_id(),
                "max_distance": l.max_distance(),
            });
            if a.distances {
                let d: Vec<Vec<Option<f64>>> = (0..n)
                    .map(|m| (0..n).map(|k| l.visible(m, k).then(|| l.distance(m, k))).collect())
                    .collect();
                v["distance"] = json!(d);
            }
            if let Some(c) = &coverage {
                v["angle_coverage"] = json!({
                    "train_len": a.train_len,
                    "unseen_pairs": c.unseen_pairs(),
                    "pairs": c.unseen.len(),
                    "trained_angle": c.trained,
                    "input_angle": c.input,
                    "unseen": c.unseen,
                });
            }
            json_line(&v)
        }
        Format::Csv => csv(
            &strs(&["token", "segment", "kind", "id", "visible_keys"]),
            (0..n).map(|m| {
                vec![
                    m.to_string(),
                    l.segment_of[m].to_string(),
                    kinds[m].to_string(),
                    l.ids[m].to_string(),
                    intervals_text(&l.visible_intervals(m)),
                ]
            }),
        ),
    })
}

pub(super) fn laplacian_cmd(a: &LaplacianArgs) -> Result<String, CliError> {
    let need = |v: Option<usize>, name: &str| {
        v.ok_or_else(|| super::missing(name, &format!("--graph {}", graph_key(a.graph))))
    };
    let graph = match a.graph {
        GraphKind::Path => Graph::Path { n: need(a.n, "n")? },
        GraphKind::Cycle => Graph::Cycle { n: need(a.n, "n")? },
        GraphKind::Grid => Graph::Grid {
            rows: need(a.rows, "rows")?,
            cols: need(a.cols, "cols")?,
        },
        GraphKind::Tree => Graph::Tree {
            depth: need(a.depth, "depth")?,
            branching: a.branching,
        },
    };
    let e = laplacian::eigen(&graph, a.normalized, a.k)?;
    Ok(match a.out.format {
        Format::Json => json_line(&json!({
            "graph": graph,
            "nodes": graph.nodes(),
            "normalized": a.normalized,
            "eigenvalues": e.values,
            "eigenvectors": e.vectors,
            "sign": "first entry with |v| > 1e-9 is positive",
        })),
        Format::Csv => {
            let mut header = strs(&["index", "eigenvalue"]);
            header.extend((0..graph.nodes()).map(|i| format!("node{i}")));
            csv(
                &header,
                e.values.iter().zip(&e.vectors).enumerate().map(|(i, (lambda, v))| {
                    [i.to_string(), lambda.to_string()]
                        .into_iter()
                        .chain(v.iter().map(|x| x.to_string()))
                        .collect()
                }),
            )
        }
    })
}

fn graph_key(g: GraphKind) -> &'static str {
    match g {
        GraphKind::Path => "path",
        GraphKind::Cycle => "cycle",
        GraphKind::Grid => "grid",
        GraphKind::Tree => "tree",
    }
}

pub(super) fn patch_attention_cmd(a: &PatchArgs) -> Result<String, CliError> {
    let query = a
        .query
        .split_once(',')
        .and_then(|(r, c)| Some((r.trim().parse::<usize>().ok()?, c.trim().parse::<usize>().ok()?)))
        .ok_or_else(|| PeError::invalid("query", &a.query, "row,col (two integers)"))?;
    let rope = |kind: Rope2d| -> Result<(Vec<f64>, Vec<f64>), PeError> {
        Ok((
            grid2d::patch_logits(kind, a.rows, a.cols, a.head_dim, a.base, query)?,
            grid2d::patch_attention(kind, a.rows, a.cols, a.head_dim, a.base, query)?,
        ))
    };
    let bias = |d: Distance2d| -> Result<(Vec<f64>, Vec<f64>), PeError> {
        Ok((
            grid2d::patch_bias(a.slope, d, a.rows, a.cols, query)?,
            grid2d::patch_attention_bias(a.slope, d, a.rows, a.cols, query)?,
        ))
    };
    let (logits, attention) = match a.encoding {
        PatchEncoding::Axial => rope(Rope2d::Axial)?,
        PatchEncoding::Mixed => rope(Rope2d::Mixed)?,
        PatchEncoding::MRope => rope(Rope2d::MRope)?,
        PatchEncoding::AlibiEuclidean => bias(Distance2d::Euclidean)?,
        PatchEncoding::AlibiManhattan => bias(Distance2d::Manhattan)?,
    };
    let grid = |v: &[f64]| -> Vec<Vec<f64>> { v.chunks(a.cols).map(<[f64]>::to_vec).collect() };
    Ok(match a.out.format {
        Format::Json => json_line(&json!({
            "rows": a.rows,
            "cols": a.cols,
            "query": [query.0, query.1],
            "logits": grid(&logits),
            "attention": grid(&attention),
        })),
        Format::Csv => csv(
            &strs(&["row", "col", "logit", "attention"]),
            logits.iter().zip(&attention).enumerate().map(|(i, (l, p))| {
                vec![
                    (i / a.cols).to_string(),
                    (i % a.cols).to_string(),
                    l.to_string(),
                    p.to_string(),
                ]
            }),
        ),
    })
}

#[cfg(test)]
mod tests {
    fn run(args: &[&str]) -> Result<String, String> {
        let argv: Vec<String> = std::iter::once("pe")
            .chain(args.iter().copied())
            .map(String::from)
            .collect();
        crate::cli::run_pe_command_line(&argv)
    }

    fn json(args: &[&str]) -> serde_json::Value {
        let out = run(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        serde_json::from_str(&out).expect("JSON")
    }

    #[test]
    fn position_ids_print_v2pe_ids_masks_and_coverage() {
        let v = json(&[
            "position-ids",
            "--segments",
            "text:2,image:4@0.25,text:1",
            "--rule",
            "v2pe",
            "--train-len",
            "4",
            "--head-dim",
            "8",
        ]);
        assert_eq!(v["ids"], serde_json::json!([0.0, 1.0, 2.0, 2.25, 2.5, 2.75, 3.0]));
        assert_eq!(v["visible"][3], serde_json::json!([[0, 3]]));
        assert_eq!(v["max_distance"], 3.0);
        assert_eq!(v["angle_coverage"]["unseen_pairs"], 0, "span 3 = training span 3");
        let csv = run(&[
            "position-ids",
            "--segments",
            "text:4,cand:2,cand:2",
            "--rule",
            "restart",
            "--format",
            "csv",
        ])
        .expect("csv");
        let last = csv.lines().last().expect("rows");
        assert_eq!(last, "7,2,candidate,5,0-3;6-7");
    }

    #[test]
    fn laplacian_prints_the_path_dct_basis() {
        let v = json(&["laplacian", "--graph", "path", "--n", "6", "--k", "3"]);
        let lambda = v["eigenvalues"][1].as_f64().expect("number");
        assert!((lambda - (2.0 - 2.0 * (std::f64::consts::PI / 6.0).cos())).abs() < 1e-9);
        let v1: Vec<f64> = serde_json::from_value(v["eigenvectors"][1].clone()).expect("vector");
        let norm = (0..6)
            .map(|i| ((std::f64::consts::PI * (i as f64 + 0.5) / 6.0).cos()).powi(2))
            .sum::<f64>()
            .sqrt();
        for (i, x) in v1.iter().enumerate() {
            let want = (std::f64::consts::PI * (i as f64 + 0.5) / 6.0).cos() / norm;
            assert!((x - want).abs() < 1e-9, "node {i}: {x} vs {want}");
        }
        let csv = run(&[
            "laplacian",
            "--graph",
            "grid",
            "--rows",
            "2",
            "--cols",
            "3",
            "--k",
            "2",
            "--format",
            "csv",
        ])
        .expect("csv");
        assert_eq!(csv.lines().count(), 3);
        assert!(csv.starts_with("index,eigenvalue,node0,"));
    }

    #[test]
    fn patch_attention_peaks_at_the_query_and_sums_to_one() {
        for enc in ["axial", "mixed", "m-rope", "alibi-euclidean", "alibi-manhattan"] {
            let v = json(&[
                "patch-attention",
                "--encoding",
                enc,
                "--rows",
                "4",
                "--cols",
                "5",
                "--query",
                "1,2",
            ]);
            let a: Vec<Vec<f64>> = serde_json::from_value(v["attention"].clone()).expect("grid");
            let sum: f64 = a.iter().flatten().sum();
            assert!((sum - 1.0).abs() < 1e-9, "{enc}");
            let max = a.iter().flatten().copied().fold(0.0, f64::max);
            assert_eq!(a[1][2], max, "{enc}: the query patch attends most to itself");
        }
    }

    #[test]
    fn bad_flags_name_the_flag() {
        for (args, flag) in [
            (vec!["position-ids", "--segments", "text:0"], "--segments"),
            (
                vec!["position-ids", "--segments", "text:4", "--rule", "v2pe:0"],
                "--delta",
            ),
            (vec!["position-ids", "--segments", "text:4", "--rule", "nope"], "--rule"),
            (vec!["laplacian", "--graph", "path", "--k", "2"], "--n"),
            (vec!["laplacian", "--graph", "cycle", "--n", "2", "--k", "1"], "--n"),
            (vec!["laplacian", "--graph", "path", "--n", "4", "--k", "9"], "--k"),
            (
                vec!["patch-attention", "--encoding", "axial", "--rows", "0", "--cols", "3"],
                "--rows",
            ),
            (
                vec![
                    "patch-attention",
                    "--encoding",
                    "axial",
                    "--rows",
                    "3",
                    "--cols",
                    "3",
                    "--query",
                    "5,0",
                ],
                "--query",
            ),
            (
                vec![
                    "patch-attention",
                    "--encoding",
                    "axial",
                    "--rows",
                    "3",
                    "--cols",
                    "3",
                    "--head-dim",
                    "6",
                ],
                "--head-dim",
            ),
        ] {
            let e = run(&args).expect_err(&format!("{args:?}"));
            assert!(e.to_string().contains(flag), "{args:?}: {e}");
        }
    }
}
