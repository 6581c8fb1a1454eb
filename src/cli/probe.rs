//! `poslens probe`: what each layer of a trained model knows about absolute position (a linear
//! ridge probe per layer, fitted at the training length, scored at longer lengths), for one or
//! more models, as a Markdown table or JSON.

use std::path::PathBuf;

use serde_json::json;

use super::model::{parse_lengths, read_model_files};
use crate::model::catalog::load_model;
use crate::model::eval::Evaluator;
use crate::model::probe::ProbeReport;
use crate::model::{PeKind, RopeOptions};

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// Model path(s) without extension, e.g. assets/models/recall-nope (repeat for a table of
    /// several models).
    #[arg(long, required = true)]
    model: Vec<PathBuf>,
    /// Comma-separated lengths to score the probes at (default: 1×, 2×, 4× the training length).
    #[arg(long)]
    lengths: Option<String>,
    /// Samples to fit on (at the training length) and to score on (per length, held out).
    #[arg(long, default_value_t = 64)]
    samples: usize,
    /// Seed of the fitting samples (scoring uses another stream).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Learned-APE models: run past the position table by interpolating its rows (LongEmbed).
    #[arg(long)]
    interpolate_learned: bool,
    /// Print JSON instead of a Markdown table.
    #[arg(long)]
    json: bool,
}

/// Most lengths one probe scores.
const MAX_PROBE_LENGTHS: usize = 8;

/// `poslens probe`.
pub fn run(args: &ProbeArgs) -> Result<String, String> {
    if !(2..=4096).contains(&args.samples) {
        return Err(format!("--samples {} must be in 2..=4096", args.samples));
    }
    let compute = crate::compute::ndarray_device("poslens probe");
    let mut reports = Vec::new();
    for path in &args.model {
        let (meta, bytes) = read_model_files(path)?;
        let lengths: Vec<usize> = match &args.lengths {
            None => vec![meta.train_len, 2 * meta.train_len, 4 * meta.train_len],
            Some(s) => parse_lengths(s)?,
        };
        if lengths.is_empty() || lengths.len() > MAX_PROBE_LENGTHS {
            return Err(format!("--lengths: 1 to {MAX_PROBE_LENGTHS} lengths"));
        }
        for &l in &lengths {
            meta.task.check_len(l).map_err(|e| format!("--lengths: {e}"))?;
        }
        let mut opts = RopeOptions::default();
        if args.interpolate_learned && meta.pe == PeKind::Learned {
            opts.interpolate_learned = true;
        }
        let model = load_model(&meta, &bytes, &compute.device).map_err(|e| e.to_string())?;
        let ev = Evaluator {
            model: &model,
            config: &meta.config,
            task: meta.task,
            rope: &opts,
            device: &compute.device,
        };
        let report = pollster::block_on(ev.position_probe(meta.train_len, &lengths, args.samples, args.seed))
            .map_err(|e| format!("{}: {e}", meta.name))?;
        reports.push((meta.name.clone(), report));
    }
    if args.json {
        let v: Vec<_> = reports
            .iter()
            .map(|(name, r)| json!({ "model": name, "probe": r }))
            .collect();
        return serde_json::to_string_pretty(&v).map_err(|e| e.to_string());
    }
    Ok(markdown(&reports))
}

/// One row per model and layer: R² and mean absolute error (positions) at each length.
fn markdown(reports: &[(String, ProbeReport)]) -> String {
    let mut out = String::new();
    let mut header_for: Option<Vec<usize>> = None;
    for (name, r) in reports {
        if header_for.as_ref() != Some(&r.lengths) {
            let cols: Vec<String> = r.lengths.iter().map(|l| format!("R² / MAE at {l}")).collect();
            out += &format!(
                "\n| model | layer | {} |\n|---|---|{}\n",
                cols.join(" | "),
                "---:|".repeat(cols.len())
            );
            header_for = Some(r.lengths.clone());
        }
        for (layer, fits) in r.fits.iter().enumerate() {
            let label = if layer == 0 {
                "input".to_owned()
            } else {
                format!("block {layer}")
            };
            let cells: Vec<String> = fits
                .iter()
                .map(|f| f.map_or("cannot run".to_owned(), |f| format!("{:.2} / {:.1}", f.r2, f.mae)))
                .collect();
            out += &format!("| {name} | {label} | {} |\n", cells.join(" | "));
        }
    }
    out
}
