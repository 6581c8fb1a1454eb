//! `poslens train` and `poslens eval`: the tiny models from the command line.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::model::catalog::{ModelMeta, load_model};
use crate::model::eval::Evaluator;
use crate::model::train::{EVAL_SEED, TrainSpec, train_and_save};
use crate::model::{PeKind, RopeOptions, model_name};
use crate::pe::extension::{ExtensionMethod, ExtensionParams};
use crate::pe::position_ids;
use crate::tasks::TaskKind;

/// Arguments of `poslens train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Task: copy or recall.
    #[arg(long, default_value = "copy")]
    task: String,
    /// Positional encoding: nope, learned, sinusoidal, t5, alibi, rope.
    #[arg(long, default_value = "rope")]
    pe: String,
    /// Recipe: paper (the shipped models' settings) or quick (the page's browser preset; then
    /// --train-len defaults to 16). Flags below override it.
    #[arg(long, default_value = "paper")]
    preset: String,
    /// Retrain every shipped task × encoding model (ignores --task / --pe).
    #[arg(long)]
    all: bool,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Optimiser steps (default: the shipped setting).
    #[arg(long)]
    steps: Option<usize>,
    /// Longest training sequence, in tokens (default: the preset's, 32 or 16).
    #[arg(long)]
    train_len: Option<usize>,
    /// Sequences per step (default: the shipped setting).
    #[arg(long)]
    batch: Option<usize>,
    /// Transformer blocks (default: the shipped setting).
    #[arg(long)]
    layers: Option<usize>,
    /// Peak learning rate (default: the shipped setting).
    #[arg(long)]
    lr: Option<f64>,
    /// How each step's length is drawn: uniform (min … train-len) or curriculum (sequence-length
    /// warm-up from train-len/2, then the upper half of the range; default: the shipped setting).
    #[arg(long)]
    lengths: Option<String>,
    /// How the weights start: standard (PyTorch defaults), zero-query (every head starts with
    /// uniform attention) or mup (zero queries and read-out, small residual outputs; default:
    /// the shipped setting).
    #[arg(long)]
    init: Option<String>,
    /// Recall: the most queries a training sequence asks after its separator (1 … 8; each
    /// sequence draws 1 … this; default: the shipped setting). Evaluation always asks one.
    #[arg(long)]
    queries: Option<usize>,
    /// Weight of the auxiliary previous-token loss (0 … 10; a separate head, not shipped,
    /// predicts each token's previous token; default: the shipped setting).
    #[arg(long)]
    aux_previous: Option<f64>,
    /// AdamW's ε (default: burn's 1e-5, what the shipped models used).
    #[arg(long)]
    adam_eps: Option<f64>,
    /// Output folder for `<task>-<pe>.plw` and `.json`.
    #[arg(long, default_value = "assets/models/")]
    out: PathBuf,
}

/// Arguments of `poslens eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// Model path without extension, e.g. assets/models/copy-rope (reads .json and .plw).
    #[arg(long)]
    model: PathBuf,
    /// Comma-separated sequence lengths (default: 1× … 8× the training length).
    #[arg(long)]
    lengths: Option<String>,
    /// Samples per length.
    #[arg(long, default_value_t = 256)]
    samples: usize,
    /// Seed of the evaluation samples (the app and the metadata use 1234).
    #[arg(long, default_value_t = EVAL_SEED)]
    seed: u64,
    /// RoPE models: extension method (pi, ntk, dynamic, yarn, llama3, longrope, lm-infinite,
    /// self-extend, rerope) or none; aliases: linear = pi, dynamic-ntk = dynamic (the same
    /// vocabulary as `poslens pe --scaling` and the URL's `method=`).
    #[arg(long, default_value = "none")]
    scaling: String,
    /// Scale factor s for the frequency-scaling methods.
    #[arg(long, default_value_t = 1.0)]
    factor: f64,
    /// Window (tokens) for lm-infinite / self-extend / rerope (default from the training length).
    #[arg(long)]
    window: Option<usize>,
    /// SelfExtend group size.
    #[arg(long)]
    group: Option<usize>,
    /// Giraffe power scaling exponent k (default 1).
    #[arg(long)]
    power: Option<f64>,
    /// Learned-APE models: run past the position table by interpolating its rows (LongEmbed).
    #[arg(long)]
    interpolate_learned: bool,
    /// Recall models: also report exact match by the depth of the queried key in this many
    /// equal buckets (1..=32; "lost in the middle").
    #[arg(long)]
    by_depth: Option<usize>,
    /// RoPE, ALiBi and T5 models: position ids from a rule applied to the task's segments
    /// (the long middle — copy's string, recall's key-value haystack — is the stretch V2PE
    /// steps by δ): plain, v2pe[:δ], shared, windowed[:w] (the Positions view's rules that
    /// keep the mask).
    #[arg(long)]
    positions: Option<String>,
    /// burn backend: ndarray (CPU) or wgpu.
    #[arg(long, default_value = "ndarray")]
    backend: String,
}

fn parse_task_pe(task: &str, pe: &str) -> Result<(TaskKind, PeKind), String> {
    let task = TaskKind::from_key(task).map_err(|e| format!("--task: {e}"))?;
    let pe = PeKind::from_key(pe).ok_or_else(|| {
        format!(
            "--pe: unknown encoding '{pe}' (expected one of {})",
            PeKind::ALL.map(|p| p.key()).join(", ")
        )
    })?;
    Ok((task, pe))
}

/// `poslens train`.
pub fn train(args: &TrainArgs) -> Result<String, String> {
    let jobs: Vec<(TaskKind, PeKind)> = if args.all {
        TaskKind::ALL
            .iter()
            .flat_map(|&t| PeKind::ALL.map(|p| (t, p)))
            .collect()
    } else {
        vec![parse_task_pe(&args.task, &args.pe)?]
    };
    if let Some(l) = args.train_len
        && !(8..=256).contains(&l)
    {
        return Err(format!("--train-len {l} must be in 8..=256"));
    }
    let mut summary = Vec::new();
    for (task, pe) in jobs {
        let mut spec = match args.preset.as_str() {
            "paper" => TrainSpec::shipped(task, pe),
            "quick" => TrainSpec::quick(task, pe),
            other => return Err(format!("--preset {other}: expected paper or quick")),
        };
        spec.seed = args.seed;
        if let Some(l) = args.train_len {
            spec.train_len = l;
        }
        if let Some(s) = args.steps {
            spec.steps = s.clamp(1, 1_000_000);
        }
        if let Some(l) = args.layers {
            spec.layers = l.clamp(1, 16);
        }
        if let Some(lr) = args.lr {
            if !(lr.is_finite() && lr > 0.0 && lr < 1.0) {
                return Err(format!("--lr {lr} must be in (0, 1)"));
            }
            spec.learning_rate = lr;
        }
        if let Some(b) = args.batch {
            spec.batch = b.clamp(1, 4096);
        }
        if let Some(l) = &args.lengths {
            spec.lengths = crate::model::train::LengthDraw::parse(l).map_err(|e| format!("--{e}"))?;
        }
        if let Some(q) = args.queries {
            if !(1..=8).contains(&q) {
                return Err(format!("--queries {q} must be in 1..=8"));
            }
            spec.queries = q;
        }
        if let Some(w) = args.aux_previous {
            if !(w.is_finite() && (0.0..=10.0).contains(&w)) {
                return Err(format!("--aux-previous {w} must be in 0..=10"));
            }
            spec.aux_previous = w;
        }
        if let Some(e) = args.adam_eps {
            if !(e > 0.0 && e < 1.0) {
                return Err(format!("--adam-eps {e} must be in (0, 1)"));
            }
            spec.adam_epsilon = e;
        }
        if let Some(i) = &args.init {
            spec.init = crate::model::train::InitScheme::parse(i).map_err(|e| format!("--{e}"))?;
        }
        let name = model_name(task, pe);
        eprintln!(
            "training {name}: {} steps, batch {}, lengths up to {} ({:?}), init {:?}, queries ≤ {}, aux previous-token loss × {}, AdamW ε {}",
            spec.steps,
            spec.batch,
            spec.train_len,
            spec.lengths,
            spec.init,
            spec.queries,
            spec.aux_previous,
            spec.adam_epsilon
        );
        let meta = train_and_save(&spec, &args.out, |line| eprintln!("  {name}: {line}")).map_err(|e| e.to_string())?;
        eprintln!(
            "  {name}: in-distribution exact match {:.1} % ({:.0} s), wrote {}",
            100.0 * meta.in_distribution_exact_match,
            meta.train_seconds,
            args.out.join(&meta.weights_file).display()
        );
        summary.push(json!({
            "name": meta.name,
            "in_distribution_exact_match": meta.in_distribution_exact_match,
            "final_loss": meta.final_loss,
            "train_seconds": meta.train_seconds,
            "curve": meta.curve,
        }));
    }
    Ok(serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n")
}

/// Reads `<path>.json` and `<path>.plw` (a given extension is ignored).
pub fn read_model_files(path: &Path) -> Result<(ModelMeta, Vec<u8>), String> {
    let base = path.with_extension("");
    let meta_path = base.with_extension("json");
    let text = std::fs::read_to_string(&meta_path).map_err(|e| format!("cannot read {}: {e}", meta_path.display()))?;
    let meta = ModelMeta::from_json(&text).map_err(|e| format!("{}: {e}", meta_path.display()))?;
    // `from_json` allows only `<name>.plw`: the file beside the metadata.
    let weights_path = base.with_file_name(&meta.weights_file);
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", weights_path.display());
    let file = std::fs::File::open(&weights_path).map_err(|e| cannot(&e))?;
    let info = file.metadata().map_err(|e| cannot(&e))?;
    if !info.is_file() || info.len() != meta.weights_bytes as u64 {
        return Err(cannot(&format!(
            "not a regular file of {} bytes (its metadata's weights_bytes)",
            meta.weights_bytes
        )));
    }
    let mut bytes = Vec::with_capacity(meta.weights_bytes);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, meta.weights_bytes as u64 + 1),
        &mut bytes,
    )
    .map_err(|e| cannot(&e))?;
    Ok((meta, bytes))
}

/// The RoPE options named by `--scaling` and friends.
fn rope_options(args: &EvalArgs, meta: &ModelMeta) -> Result<RopeOptions, String> {
    if args.scaling == "none" {
        return Ok(RopeOptions::default());
    }
    let method = ExtensionMethod::from_key(&args.scaling).ok_or_else(|| {
        format!(
            "--scaling: unknown method '{}' (expected none or one of {}; alias linear = pi)",
            args.scaling,
            ExtensionMethod::ALL.map(|m| m.key()).join(", ")
        )
    })?;
    if !args.factor.is_finite() || args.factor < 1.0 {
        return Err(format!("--factor {} must be a finite number >= 1", args.factor));
    }
    let mut p = ExtensionParams::new(method, args.factor, meta.train_len, meta.config.head_dim());
    p.lm_local_window = args.window;
    p.self_extend_window = args.window;
    p.rerope_window = args.window;
    if let Some(g) = args.group {
        p.self_extend_group = g;
    }
    if let Some(k) = args.power {
        p.giraffe_power = k;
    }
    Ok(RopeOptions {
        scaling: p.scaling(),
        map: p.position_map(),
        ids: None,
        interpolate_learned: false,
    })
}

/// A `--lengths` list (`32,64,128`); the error names the flag and the bad item.
pub fn parse_lengths(text: &str) -> Result<Vec<usize>, String> {
    text.split(',')
        .map(|x| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| format!("--lengths: '{x}' is not a length"))
        })
        .collect()
}

/// `poslens eval`'s flags checked against a model's metadata: the lengths, the sample count,
/// the RoPE options. Every bad value is an error naming its flag (no model is loaded here).
pub fn eval_plan(args: &EvalArgs, meta: &ModelMeta) -> Result<(Vec<usize>, RopeOptions), String> {
    let lengths: Vec<usize> = match &args.lengths {
        None => (1..=8).map(|k| k * meta.train_len).collect(),
        Some(s) => parse_lengths(s)?,
    };
    if lengths.len() > MAX_EVAL_LENGTHS {
        return Err(format!(
            "--lengths: {} lengths given, at most {MAX_EVAL_LENGTHS}",
            lengths.len()
        ));
    }
    for &l in &lengths {
        meta.task.check_len(l).map_err(|e| format!("--lengths: {e}"))?;
    }
    if !(1..=100_000).contains(&args.samples) {
        return Err(format!("--samples {} must be in 1..=100000", args.samples));
    }
    let mut opts = rope_options(args, meta)?;
    if meta.pe != PeKind::Rope && !opts.is_plain() {
        return Err(format!(
            "--scaling applies to RoPE models only; {} is {}",
            meta.name,
            meta.pe.label()
        ));
    }
    if let Some(b) = args.by_depth {
        if meta.task != TaskKind::Recall {
            return Err(format!(
                "--by-depth applies to recall models; {} is a {} model",
                meta.name,
                meta.task.key()
            ));
        }
        if !(1..=32).contains(&b) {
            return Err(format!("--by-depth {b} must be in 1..=32"));
        }
    }
    if args.interpolate_learned {
        if meta.pe != PeKind::Learned {
            return Err(format!(
                "--interpolate-learned applies to learned-APE models; {} is {}",
                meta.name,
                meta.pe.label()
            ));
        }
        opts.interpolate_learned = true;
    }
    if let Some(text) = &args.positions {
        let rule = position_ids::parse_rule(text).map_err(|e| format!("--positions: {e}"))?;
        if !rule.ids_only() {
            return Err(format!(
                "--positions: {} changes the mask from token content; a trained model runs with plain, v2pe, shared or windowed ids",
                rule.paper()
            ));
        }
        if !matches!(meta.pe, PeKind::Rope | PeKind::Alibi | PeKind::T5) {
            return Err(format!(
                "--positions applies to RoPE, ALiBi and T5 models; {} is {}",
                meta.name,
                meta.pe.label()
            ));
        }
        if !opts.map.is_identity() {
            return Err(format!(
                "--positions cannot be combined with --scaling {}",
                args.scaling
            ));
        }
        opts.ids = Some(rule);
    }
    Ok((lengths, opts))
}

/// Most lengths one `poslens eval` measures.
pub const MAX_EVAL_LENGTHS: usize = 64;

/// Parse a `poslens eval …` command line (without the program name) and check its flags against
/// `meta` without running anything: what the fuzz tests drive.
pub fn check_eval_command_line(argv: &[String], meta: &ModelMeta) -> Result<(Vec<usize>, RopeOptions), String> {
    let args = super::parse_command_line(argv).and_then(|c| match c {
        super::Parsed::Eval(a) => Ok(a),
        _ => Err("not an eval command line".to_string()),
    })?;
    eval_plan(&args, meta)
}

/// `poslens eval`: JSON `{ "length": [...], "exact_match": [...], "token_accuracy": [...] }`.
pub fn eval(args: &EvalArgs) -> Result<String, String> {
    let (meta, bytes) = read_model_files(&args.model)?;
    let (lengths, opts) = eval_plan(args, &meta)?;
    let compute = match args.backend.as_str() {
        "ndarray" => crate::compute::ndarray_device("--backend ndarray"),
        "wgpu" => crate::compute::native_wgpu_device(),
        other => {
            return Err(format!(
                "--backend: unknown backend '{other}' (expected ndarray or wgpu)"
            ));
        }
    };
    let model = load_model(&meta, &bytes, &compute.device).map_err(|e| e.to_string())?;
    let ev = Evaluator {
        model: &model,
        config: &meta.config,
        task: meta.task,
        rope: &opts,
        device: &compute.device,
    };
    let c = pollster::block_on(ev.curve(&lengths, args.samples, args.seed)).map_err(|e| e.to_string())?;
    let by_depth = match args.by_depth {
        Some(b) => {
            let mut rows = Vec::new();
            for &len in &lengths {
                // Learned APE past its table cannot run: nulls, as in the curve.
                let scores = match pollster::block_on(ev.score_by_depth(len, args.samples, args.seed, b)) {
                    Ok(s) => s,
                    Err(crate::model::ModelError::Pe(crate::pe::PeError::PastLearnedTable { .. })) => {
                        vec![crate::tasks::Score::default(); b]
                    }
                    Err(e) => return Err(format!("--by-depth: {e}")),
                };
                rows.push(json!({
                    "length": len,
                    "exact_match": scores.iter().map(|s| (s.samples > 0).then(|| s.exact_match())).collect::<Vec<_>>(),
                    "samples": scores.iter().map(|s| s.samples).collect::<Vec<_>>(),
                }));
            }
            Some(json!({ "buckets": b, "depth": "0 = first key-value pair … 1 = last", "by_length": rows }))
        }
        None => None,
    };
    let mut out = json!({
        "model": meta.name,
        "backend": compute.backend.label(),
        "scaling": args.scaling,
        "factor": args.factor,
        "rope_scaling": opts.scaling,
        "position_map": opts.map,
        "position_ids": opts.ids.as_ref().map(position_ids::rule_to_string),
        "interpolate_learned": opts.interpolate_learned,
        "samples": args.samples,
        "seed": args.seed,
        "train_len": meta.train_len,
        "length": c.length,
        "exact_match": c.exact_match,
        "token_accuracy": c.token_accuracy,
    });
    if let Some(d) = by_depth {
        out["by_depth"] = d;
    }
    Ok(serde_json::to_string_pretty(&out).unwrap_or_default() + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::extension::ExtensionState;
    use crate::views::model_lab::ModelLabState;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        eval: EvalArgs,
    }

    /// One default set for every method's parameters: the Extension view's defaults, the
    /// Model lab's options and `poslens eval`'s are all `ExtensionParams::new`.
    #[test]
    fn extension_view_model_lab_and_eval_agree_on_every_default() {
        let meta = ModelMeta::from_json(include_str!("../../assets/models/copy-rope.json")).expect("meta");
        let (train, hd) = (meta.train_len, meta.config.head_dim());
        for m in ExtensionMethod::ALL {
            let p = ExtensionParams::new(m, 4.0, train, hd);
            let view = ExtensionState {
                method: m,
                factor: 4.0,
                train_len: train,
                head_dim: hd,
                ..ExtensionState::default()
            };
            assert_eq!(view.params(), p, "Extension view defaults for {m:?}");
            let lab = ModelLabState {
                pe: PeKind::Rope,
                method: Some(m),
                factor: 4.0,
                ..ModelLabState::default()
            };
            let expected = RopeOptions {
                scaling: p.scaling(),
                map: p.position_map(),
                ids: None,
                interpolate_learned: false,
            };
            assert_eq!(lab.rope_options(train, hd), expected, "Model lab for {m:?}");
            let args = Wrap::try_parse_from(["eval", "--model", "x", "--scaling", m.key(), "--factor", "4"])
                .expect("args")
                .eval;
            assert_eq!(rope_options(&args, &meta), Ok(expected), "poslens eval for {m:?}");
        }
        // The README's documented SelfExtend group size.
        assert_eq!(ExtensionState::default().self_extend_group, 8);
        // The other spelling of PI is accepted and means the same.
        let linear = Wrap::try_parse_from(["eval", "--model", "x", "--scaling", "linear", "--factor", "4"])
            .expect("args")
            .eval;
        let pi = ExtensionParams::new(ExtensionMethod::Pi, 4.0, train, hd);
        assert_eq!(rope_options(&linear, &meta).map(|o| o.scaling), Ok(pi.scaling()));
    }
}
