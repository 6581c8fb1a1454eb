//! View: Model lab — tiny transformers that differ only in their positional encoding, trained on
//! copy and associative recall up to `L_train` = 32 tokens, run live past that length.
//!
//! Everything shown comes from a real forward pass of the shipped weights (`assets/models/`)
//! on the app's burn device (WebGPU in the browser, ndarray when only WebGL2 is there): a sample
//! with the model's answer, every layer's and head's attention, and the exact-match accuracy at
//! the chosen length. The accuracy-vs-length curves of all encodings come from each model's
//! metadata (measured by `poslens train` with the same evaluation code); for RoPE, a chosen
//! context-extension method's curve is measured live. Science: Kazemnejad et al. 2023, "The
//! Impact of Positional Encoding on Length Generalization in Transformers".

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use egui::{RichText, Ui};
use egui_plot::{Line, LineStyle, Plot, PlotPoints, Points, VLine};
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::compute::{ComputeDevice, spawn};
use crate::model::catalog::{Curve, ModelMeta, load_model};
use crate::model::eval::{Evaluator, TracedSample};
use crate::model::{Model, PeKind, RopeOptions, model_name};
use crate::pe::extension::{ExtensionMethod, ExtensionParams};
use crate::tasks::{Score, TaskKind, token_label};
use crate::theme::{Colormap, ThemeChoice, model_series_color};
use crate::widgets::heatmap::{Aggregate, Axes, Grid, Heatmap};
use crate::widgets::log_slider::log_slider_ui;
use crate::widgets::train_marker::train_marker_ui;

/// Evaluation length, in tokens (the tasks' limits and 8× the training length).
pub const LEN_RANGE: std::ops::RangeInclusive<usize> = 6..=256;
/// Extension factor `s`.
pub const FACTOR_RANGE: std::ops::RangeInclusive<f64> = 1.0..=16.0;
/// Sample index (which evaluation sample is shown).
pub const SAMPLE_RANGE: std::ops::RangeInclusive<u64> = 0..=9999;
/// Samples behind the live accuracy read-out.
pub const LIVE_SAMPLES: usize = 64;
/// Samples per length of the live extension curve.
pub const CURVE_SAMPLES: usize = 32;
/// Seed of the evaluation samples (same as the shipped metadata and `poslens eval`).
pub const EVAL_SEED: u64 = 1234;

/// The serialisable settings of this view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelLabState {
    pub task: TaskKind,
    pub pe: PeKind,
    /// Evaluation length `N`, in tokens.
    pub seq_len: usize,
    /// RoPE context-extension method (`None`: plain RoPE). Ignored for other encodings.
    pub method: Option<ExtensionMethod>,
    /// Scale factor `s` of the method.
    pub factor: f64,
    /// Which evaluation sample is shown (0 = the first of the stream the accuracy uses).
    pub sample: u64,
    /// Plot per-token accuracy instead of exact match.
    pub token_metric: bool,
}

impl Default for ModelLabState {
    fn default() -> Self {
        Self {
            task: TaskKind::Copy,
            pe: PeKind::Rope,
            seq_len: 32,
            method: None,
            factor: 4.0,
            sample: 0,
            token_metric: false,
        }
    }
}

impl ModelLabState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        crate::views::clamp_noted(&mut self.seq_len, LEN_RANGE, "len", &mut notes);
        if !self.factor.is_finite() || !FACTOR_RANGE.contains(&self.factor) {
            let c = if self.factor.is_finite() {
                self.factor.clamp(*FACTOR_RANGE.start(), *FACTOR_RANGE.end())
            } else {
                4.0
            };
            notes.push(format!("factor={} is outside 1…16; using {c}", self.factor));
            self.factor = c;
        }
        if self.sample > *SAMPLE_RANGE.end() {
            notes.push(format!("sample={} is outside 0…9999; using 0", self.sample));
            self.sample = 0;
        }
        notes
    }

    /// The RoPE options for a model trained at `train_len` with `head_dim`.
    pub fn rope_options(&self, train_len: usize, head_dim: usize) -> RopeOptions {
        match (self.pe, self.method) {
            (PeKind::Rope, Some(m)) => {
                let p = ExtensionParams::new(m, self.factor, train_len, head_dim);
                RopeOptions {
                    scaling: p.scaling(),
                    map: p.position_map(),
                }
            }
            _ => RopeOptions::default(),
        }
    }

    pub fn name(&self) -> String {
        model_name(self.task, self.pe)
    }

    /// Appends this view's URL keys (`&task=…&pe=…&len=…`, then the extension and sample).
    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&task={}&pe={}&len={}",
            self.task.key(),
            self.pe.key(),
            self.seq_len
        ));
        if let Some(m) = self.method {
            out.push_str(&format!("&method={}&factor={}", m.key(), self.factor));
        }
        if self.sample != 0 {
            out.push_str(&format!("&sample={}", self.sample));
        }
        if self.token_metric {
            out.push_str("&metric=token");
        }
    }

    /// Reads one URL key: `Some(true)` read, `Some(false)` bad value, `None` not this view's key.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        Some(match key {
            "task" => TaskKind::from_key(value).map(|t| self.task = t).is_ok(),
            "pe" => PeKind::from_key(value).map(|p| self.pe = p).is_some(),
            "len" => value.parse().map(|v| self.seq_len = v).is_ok(),
            "method" => match value {
                "none" => {
                    self.method = None;
                    true
                }
                v => ExtensionMethod::from_key(v).map(|m| self.method = Some(m)).is_some(),
            },
            "factor" => value.parse().map(|v| self.factor = v).is_ok(),
            "sample" => value.parse().map(|v| self.sample = v).is_ok(),
            "metric" => match value {
                "exact" | "token" => {
                    self.token_metric = value == "token";
                    true
                }
                _ => false,
            },
            _ => return None,
        })
    }
}

type Slot<T> = Rc<RefCell<Option<T>>>;

/// What one forward-pass job produces.
#[derive(Debug, Clone)]
pub struct LabResult {
    pub trace: TracedSample,
    pub score: Score,
    /// Live curve of the chosen extension method (RoPE only).
    pub extension_curve: Option<Curve>,
    /// The whole job: traced sample, live score and (RoPE + method) live curve.
    pub compute_ms: f64,
    /// The traced forward pass of one sample alone, read-back included.
    pub trace_ms: f64,
}

/// Everything a job depends on (a change starts a new job).
#[derive(Clone, Debug, PartialEq)]
struct JobKey {
    name: String,
    len: usize,
    method: Option<ExtensionMethod>,
    factor_bits: u64,
    sample: u64,
}

/// A model loaded on the compute device.
struct Loaded {
    name: String,
    model: Rc<Model>,
}

/// The Model lab view.
pub struct ModelLabView {
    pub state: ModelLabState,
    /// Metadata requests still in flight.
    metas: Vec<(String, Slot<Result<ModelMeta, String>>)>,
    metas_started: bool,
    /// Metadata by model name, once read (or failed).
    resolved: BTreeMap<String, Result<ModelMeta, String>>,
    weights: Option<(String, Slot<Result<Model, String>>)>,
    loaded: Option<Loaded>,
    load_error: Option<(String, String)>,
    job: Option<(JobKey, Slot<Result<LabResult, String>>)>,
    result: Option<(JobKey, Result<LabResult, String>)>,
    heatmaps: Vec<Heatmap>,
    heatmaps_for: Option<JobKey>,
    device: Option<ComputeDevice>,
}

impl ModelLabView {
    pub fn new(state: ModelLabState) -> Self {
        Self {
            state,
            metas: Vec::new(),
            metas_started: false,
            resolved: BTreeMap::new(),
            weights: None,
            loaded: None,
            load_error: None,
            job: None,
            result: None,
            heatmaps: Vec::new(),
            heatmaps_for: None,
            device: None,
        }
    }

    fn meta(&self, name: &str) -> Option<&ModelMeta> {
        self.resolved.get(name).and_then(|m| m.as_ref().ok())
    }

    fn meta_cloned(&self, name: &str) -> Option<Result<ModelMeta, String>> {
        self.resolved.get(name).cloned()
    }

    /// Metadata files loaded so far, and how many there are.
    pub fn metas_progress(&self) -> (usize, usize) {
        (self.resolved.len(), TaskKind::ALL.len() * PeKind::ALL.len())
    }

    /// Errors to report (missing / corrupt files, failed runs).
    pub fn errors(&self) -> Vec<String> {
        let mut e: Vec<String> = self
            .resolved
            .iter()
            .filter_map(|(n, r)| r.as_ref().err().map(|e| format!("{n}: {e}")))
            .collect();
        if let Some((n, err)) = &self.load_error {
            e.push(format!("{n}: {err}"));
        }
        if let Some((_, Err(err))) = &self.result
            && !is_past_table(err)
        {
            e.push(err.clone());
        }
        e
    }

    /// The finished result for the current state, if any.
    pub fn result(&self) -> Option<&Result<LabResult, String>> {
        let key = self.job_key()?;
        self.result.as_ref().filter(|(k, _)| *k == key).map(|(_, r)| r)
    }

    /// Whether anything is still loading or computing.
    pub fn busy(&self) -> bool {
        self.job.is_some() || self.weights.is_some() || !self.metas.is_empty()
    }

    pub fn loaded_model(&self) -> Option<&str> {
        self.loaded.as_ref().map(|l| l.name.as_str())
    }

    fn job_key(&self) -> Option<JobKey> {
        let loaded = self.loaded.as_ref()?;
        (loaded.name == self.state.name()).then(|| JobKey {
            name: loaded.name.clone(),
            len: self.state.seq_len,
            method: if self.state.pe == PeKind::Rope {
                self.state.method
            } else {
                None
            },
            factor_bits: if self.state.pe == PeKind::Rope && self.state.method.is_some() {
                self.state.factor.to_bits()
            } else {
                0
            },
            sample: self.state.sample,
        })
    }

    /// Starts loading what is missing and a new forward pass when the state changed.
    pub fn update(&mut self, ctx: &egui::Context, compute: Option<&ComputeDevice>) {
        let Some(compute) = compute else { return };
        if self.device.is_none() {
            self.device = Some(compute.clone());
        }
        let device = compute.device.clone();
        if !self.metas_started {
            self.metas_started = true;
            for task in TaskKind::ALL {
                for pe in PeKind::ALL {
                    let name = model_name(task, pe);
                    let slot: Slot<Result<ModelMeta, String>> = Rc::default();
                    let file = format!("{name}.json");
                    spawn(
                        async move {
                            let bytes = crate::assets::read_model_file(&file).await?;
                            let text = String::from_utf8(bytes).map_err(|_| format!("{file} is not UTF-8 text"))?;
                            ModelMeta::from_json(&text).map_err(|e| format!("{file}: {e}"))
                        },
                        slot.clone(),
                    );
                    self.metas.push((name, slot));
                }
            }
        }
        let resolved = &mut self.resolved;
        self.metas.retain(|(name, slot)| match slot.borrow_mut().take() {
            Some(r) => {
                resolved.insert(name.clone(), r);
                false
            }
            None => true,
        });
        // Weights of the selected model.
        let want = self.state.name();
        let have = self.loaded.as_ref().map(|l| l.name.clone());
        let loading = self.weights.as_ref().map(|(n, _)| n.clone());
        if have.as_deref() != Some(want.as_str()) && loading.as_deref() != Some(want.as_str()) {
            match self.meta_cloned(&want) {
                Some(Ok(meta)) => {
                    let slot: Slot<Result<Model, String>> = Rc::default();
                    let dev = device.clone();
                    spawn(
                        async move {
                            let bytes = crate::assets::read_model_file(&meta.weights_file).await?;
                            load_model(&meta, &bytes, &dev).map_err(|e| format!("{}: {e}", meta.weights_file))
                        },
                        slot.clone(),
                    );
                    self.weights = Some((want.clone(), slot));
                    self.load_error = None;
                }
                Some(Err(e)) => self.load_error = Some((want.clone(), e)),
                None => {}
            }
        }
        if let Some((name, slot)) = &self.weights {
            let done = slot.borrow_mut().take();
            if let Some(r) = done {
                match r {
                    Ok(model) => {
                        self.loaded = Some(Loaded {
                            name: name.clone(),
                            model: Rc::new(model),
                        });
                        self.load_error = None;
                    }
                    Err(e) => self.load_error = Some((name.clone(), e)),
                }
                self.weights = None;
            }
        }
        // Collect a finished job.
        if let Some((key, slot)) = &self.job {
            let done = slot.borrow_mut().take();
            if let Some(r) = done {
                self.result = Some((key.clone(), r));
                self.job = None;
            }
        }
        // Start the next one when idle and the state moved on.
        if self.job.is_none()
            && let Some(key) = self.job_key()
            && self.result.as_ref().map(|(k, _)| k) != Some(&key)
            && let (Some(loaded), Some(Ok(meta))) = (&self.loaded, self.meta_cloned(&key.name))
        {
            let slot: Slot<Result<LabResult, String>> = Rc::default();
            let model = loaded.model.clone();
            let opts = self.state.rope_options(meta.train_len, meta.config.head_dim());
            let extension = self.state.pe == PeKind::Rope && self.state.method.is_some();
            let (len, sample) = (key.len, key.sample);
            spawn(
                async move {
                    let started = Instant::now();
                    let seed = EVAL_SEED.wrapping_add(sample);
                    let ev = Evaluator {
                        model: &model,
                        config: &meta.config,
                        task: meta.task,
                        rope: &opts,
                        device: &device,
                    };
                    let trace = ev.trace_sample(len, seed).await.map_err(|e| e.to_string())?;
                    let trace_ms = started.elapsed().as_secs_f64() * 1000.0;
                    let score = ev
                        .score_at(len, LIVE_SAMPLES, EVAL_SEED)
                        .await
                        .map_err(|e| e.to_string())?;
                    let extension_curve = if extension {
                        Some(
                            ev.curve(&meta.curve.length, CURVE_SAMPLES, EVAL_SEED)
                                .await
                                .map_err(|e| e.to_string())?,
                        )
                    } else {
                        None
                    };
                    Ok(LabResult {
                        trace,
                        score,
                        extension_curve,
                        compute_ms: started.elapsed().as_secs_f64() * 1000.0,
                        trace_ms,
                    })
                },
                slot.clone(),
            );
            self.job = Some((key, slot));
        }
        // Heatmaps of the shown result.
        if let Some((key, Ok(r))) = &self.result
            && self.heatmaps_for.as_ref() != Some(key)
        {
            let t = &r.trace;
            let panels = t.attention.len() * t.heads;
            self.heatmaps.resize_with(panels, Heatmap::default);
            for layer in 0..t.attention.len() {
                for head in 0..t.heads {
                    if let Some(values) = t.head(layer, head) {
                        let grid = Grid {
                            values,
                            rows: t.len,
                            cols: t.len,
                        };
                        let i = layer * t.heads + head;
                        self.heatmaps[i].set(
                            ctx,
                            &format!("model_att_{i}"),
                            grid,
                            (0.0, 1.0),
                            Colormap::Viridis,
                            Aggregate::Max,
                        );
                    }
                }
            }
            self.heatmaps_for = Some(key.clone());
        }
        if self.busy() {
            ctx.request_repaint();
        }
    }

    pub fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        ui.label(RichText::new("Task").strong());
        ui.horizontal(|ui| {
            for t in TaskKind::ALL {
                ui.selectable_value(&mut self.state.task, t, t.label());
            }
        });
        ui.add_space(4.0);
        ui.label(RichText::new("Positional encoding").strong());
        ui.horizontal_wrapped(|ui| {
            for p in PeKind::ALL {
                ui.selectable_value(&mut self.state.pe, p, p.label());
            }
        });
        ui.add_space(4.0);
        ui.label(RichText::new("Sequence length N").strong());
        let len = log_slider_ui(ui, &mut self.state.seq_len, LEN_RANGE, "tokens");
        ui.add_space(4.0);
        ui.add_enabled_ui(self.state.pe == PeKind::Rope, |ui| {
            ui.label(RichText::new("RoPE context extension").strong());
            let label = self.state.method.map_or("none (plain RoPE)", |m| m.title());
            egui::ComboBox::from_id_salt("model_method")
                .selected_text(label)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.state.method, None, "none (plain RoPE)");
                    for m in ExtensionMethod::ALL {
                        ui.selectable_value(&mut self.state.method, Some(m), m.title());
                    }
                });
            if self.state.method.is_some_and(|m| !m.is_position_map()) {
                ui.add(egui::Slider::new(&mut self.state.factor, FACTOR_RANGE).text("factor s"));
            }
        });
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.label("Sample");
            ui.add(egui::DragValue::new(&mut self.state.sample).range(SAMPLE_RANGE));
            if ui.small_button("next").clicked() {
                self.state.sample = (self.state.sample + 1) % (*SAMPLE_RANGE.end() + 1);
            }
        });
        ui.add_space(4.0);
        ui.label(RichText::new("Curve shows").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.state.token_metric, false, "exact match");
            ui.selectable_value(&mut self.state.token_metric, true, "token accuracy");
        });
        ui.add_space(8.0);
        self.model_card_ui(ui);
        self.state.sanitize();
        len
    }

    fn model_card_ui(&self, ui: &mut Ui) {
        let name = self.state.name();
        ui.label(RichText::new("Model card").strong());
        match self.resolved.get(&name) {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("loading {name}.json"));
                });
            }
            Some(Err(e)) => {
                ui.label(RichText::new(e.as_str()).small().color(ui.visuals().error_fg_color));
            }
            Some(Ok(m)) => {
                let c = &m.config;
                ui.label(
                    RichText::new(format!(
                        "{} layers · {} heads · d_model {} · {} parameters ({} kB f16)\n\
                         trained on lengths ≤ {} for {} steps (seed {}), final loss {:.3}\n\
                         exact match at L_train: {:.1} %",
                        c.n_layers,
                        c.n_heads,
                        c.d_model,
                        m.params,
                        m.weights_bytes / 1000,
                        m.train_len,
                        m.steps,
                        m.seed,
                        m.final_loss,
                        100.0 * m.in_distribution_exact_match
                    ))
                    .small(),
                );
            }
        }
    }

    pub fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Model lab — real tiny transformers past their training length");
        ui.label(RichText::new(explanation(self.state.task, self.state.pe)).color(theme.weak_text()));
        ui.add_space(4.0);
        let (done, total) = self.metas_progress();
        if done < total {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("loading model metadata {done}/{total}…"));
            });
        }
        if let Some((name, _)) = &self.weights {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("loading weights {name}.plw…"));
            });
        }
        if let Some((name, e)) = &self.load_error {
            ui.colored_label(theme.error(), format!("Cannot load {name}: {e}"));
        }
        let width = ui.available_width();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width((width * 0.58).max(320.0));
                self.curve_ui(ui, theme);
            });
            ui.vertical(|ui| self.readout_ui(ui, theme));
        });
        ui.add_space(6.0);
        self.sample_ui(ui, theme);
        ui.add_space(6.0);
        self.attention_ui(ui, theme);
    }

    fn readout_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let n = self.state.seq_len;
        let train = self.meta(&self.state.name()).map_or(32, |m| m.train_len);
        ui.label(RichText::new(format!("At N = {n} ({:.1}× L_train)", n as f64 / train as f64)).strong());
        match self.result() {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("running the model…");
                });
            }
            Some(Err(e)) if is_past_table(e) => {
                ui.colored_label(
                    theme.warn(),
                    format!("Cannot run past {train} positions: a learned position table has no row for them."),
                );
            }
            Some(Err(e)) => {
                ui.colored_label(theme.error(), e);
            }
            Some(Ok(r)) => {
                let em = r.score.exact_match();
                let color = if em >= 0.9 {
                    theme.ok()
                } else if em >= 0.5 {
                    theme.warn()
                } else {
                    theme.error()
                };
                ui.label(
                    RichText::new(format!("{:.0} % exact match", 100.0 * em))
                        .size(26.0)
                        .color(color),
                );
                ui.label(format!(
                    "{:.1} % of answer tokens right · {} samples",
                    100.0 * r.score.token_accuracy(),
                    r.score.samples
                ));
                let backend = self.device.as_ref().map_or("cpu", |d| d.backend.label());
                ui.label(
                    RichText::new(format!(
                        "burn {backend} · {:.0} ms for the sample, score and curve",
                        r.compute_ms
                    ))
                    .small()
                    .color(theme.weak_text()),
                );
            }
        }
        if self.state.pe == PeKind::Rope
            && let Some(m) = self.state.method
        {
            ui.add_space(6.0);
            ui.label(RichText::new(m.title()).strong());
            ui.label(RichText::new(m.explanation()).small().color(theme.weak_text()));
        }
    }

    fn curve_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let task = self.state.task;
        let token = self.state.token_metric;
        let metric = if token { "Token accuracy" } else { "Exact match" };
        ui.label(RichText::new(format!("{metric} vs length — {} (all encodings)", task.label())).strong());
        let n = self.state.seq_len as f64;
        let train = self.meta(&self.state.name()).map_or(32.0, |m| m.train_len as f64);
        let live = self
            .result()
            .and_then(|r| r.as_ref().ok())
            .and_then(|r| r.extension_curve.clone());
        let method = self.state.method;
        let live_color = ui.visuals().strong_text_color();
        Plot::new("model_curve")
            .height(220.0)
            .include_y(0.0)
            .include_y(1.0)
            .include_x(0.0)
            .x_axis_label("sequence length N (tokens)")
            .y_axis_label(if token { "token accuracy" } else { "exact match" })
            .allow_scroll(false)
            .allow_drag(false)
            .allow_zoom(false)
            .show(ui, |plot| {
                for (i, pe) in PeKind::ALL.into_iter().enumerate() {
                    let Some(m) = self.meta(&model_name(task, pe)) else {
                        continue;
                    };
                    let ys = if token {
                        &m.curve.token_accuracy
                    } else {
                        &m.curve.exact_match
                    };
                    let pts: Vec<[f64; 2]> = m
                        .curve
                        .length
                        .iter()
                        .zip(ys)
                        .filter_map(|(&l, a)| a.map(|a| [l as f64, a]))
                        .collect();
                    let selected = pe == self.state.pe;
                    plot.line(
                        Line::new(pe.label(), PlotPoints::from(pts.clone()))
                            .color(model_series_color(i))
                            .width(if selected { 3.0 } else { 1.5 }),
                    );
                    plot.points(
                        Points::new(pe.label(), PlotPoints::from(pts))
                            .color(model_series_color(i))
                            .radius(if selected { 3.5 } else { 2.0 }),
                    );
                }
                if let (Some(c), Some(m)) = (&live, method) {
                    let ys = if token { &c.token_accuracy } else { &c.exact_match };
                    let pts: Vec<[f64; 2]> = c
                        .length
                        .iter()
                        .zip(ys)
                        .filter_map(|(&l, a)| a.map(|a| [l as f64, a]))
                        .collect();
                    let name = format!("RoPE + {} (live, {CURVE_SAMPLES}/length)", m.title());
                    plot.line(
                        Line::new(name, PlotPoints::from(pts))
                            .color(live_color)
                            .width(2.5)
                            .style(LineStyle::dashed_loose()),
                    );
                }
                plot.vline(
                    VLine::new("L_train", train)
                        .color(theme.warn())
                        .style(LineStyle::dashed_dense()),
                );
                plot.vline(VLine::new("current N", n).color(theme.accent_text()).width(1.5));
            });
        // The legend under the plot, so it never hides a curve.
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 10.0;
            for (i, pe) in PeKind::ALL.into_iter().enumerate() {
                let text = RichText::new(format!("━ {}", pe.label())).color(model_series_color(i));
                ui.label(if pe == self.state.pe {
                    text.strong()
                } else {
                    text.small()
                });
            }
            if let (Some(_), Some(m)) = (&live, method) {
                ui.label(
                    RichText::new(format!("╍ RoPE + {} (live)", m.title()))
                        .color(live_color)
                        .strong(),
                );
            }
            ui.label(RichText::new("┆ L_train").small().color(theme.warn()));
            ui.label(RichText::new("│ current N").small().color(theme.accent_text()));
        });
    }

    fn sample_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let Some(Ok(r)) = self.result() else { return };
        let t = &r.trace;
        ui.label(
            RichText::new(format!(
                "Sample {} at N = {}: {} of {} answer tokens right (green = right, red ✗expected→predicted = wrong)",
                self.state.sample,
                t.len,
                t.right(),
                t.answer_positions.len()
            ))
            .strong(),
        );
        let answers: BTreeMap<usize, i64> = t
            .answer_positions
            .iter()
            .zip(&t.predicted)
            .map(|(&p, &g)| (p + 1, g))
            .collect();
        egui::ScrollArea::vertical()
            .id_salt("model_sample")
            .max_height(90.0)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.spacing_mut().item_spacing = egui::vec2(3.0, 2.0);
                    for (i, &tok) in t.tokens.iter().enumerate() {
                        let label = token_label(tok);
                        match answers.get(&i) {
                            None => {
                                ui.label(RichText::new(label).monospace().small().color(theme.weak_text()));
                            }
                            Some(&g) if g == tok as i64 => {
                                ui.label(RichText::new(label).monospace().small().color(theme.ok()));
                            }
                            Some(&g) => {
                                ui.label(
                                    RichText::new(format!("✗{}→{}", label, token_label(g.max(0) as u32)))
                                        .monospace()
                                        .small()
                                        .color(theme.error()),
                                );
                            }
                        }
                    }
                });
            });
    }

    fn attention_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let Some(Ok(r)) = self.result() else { return };
        let t = &r.trace;
        let train = self.meta(&self.state.name()).map_or(32, |m| m.train_len);
        ui.label(
            RichText::new("Attention of this sample, every layer and head (query ↓, key →; colour = weight 0…1)")
                .strong(),
        );
        let cols = t.heads.max(1);
        let side = ((ui.available_width() - 20.0) / cols as f32 - 10.0).clamp(90.0, 170.0);
        egui::Grid::new("model_heads").spacing([10.0, 6.0]).show(ui, |ui| {
            for layer in 0..t.attention.len() {
                for head in 0..t.heads {
                    let i = layer * t.heads + head;
                    ui.vertical(|ui| {
                        ui.label(
                            RichText::new(format!("layer {layer} · head {head}"))
                                .small()
                                .color(theme.accent_text()),
                        );
                        if let (Some(h), Some(values)) = (self.heatmaps.get(i), t.head(layer, head)) {
                            let grid = Grid {
                                values,
                                rows: t.len,
                                cols: t.len,
                            };
                            let axes = Axes {
                                row_label: "",
                                col_label: "",
                                rows: t.len,
                                cols: t.len,
                            };
                            let (plot, hover) = h.ui(ui, egui::vec2(side, side), grid, &axes);
                            train_marker_ui(ui, plot, train, t.len, theme.warn());
                            if let Some(c) = hover {
                                let q = t.tokens.get(c.row).map_or(String::new(), |&x| token_label(x));
                                let k = t.tokens.get(c.col).map_or(String::new(), |&x| token_label(x));
                                ui.label(
                                    RichText::new(format!("q {} ({q}) → k {} ({k}): {:.3}", c.row, c.col, c.value))
                                        .small(),
                                );
                            }
                        }
                    });
                }
                ui.end_row();
            }
        });
    }

    /// For the status hook.
    pub fn status(&self) -> ModelLabStatus {
        let result = self.result();
        let ok = result.and_then(|r| r.as_ref().ok());
        ModelLabStatus {
            task: self.state.task.key().into(),
            pe: self.state.pe.key().into(),
            seq_len: self.state.seq_len,
            loaded_model: self.loaded_model().map(str::to_owned),
            metadata_loaded: self.metas_progress().0,
            busy: self.busy(),
            exact_match: ok.map(|r| r.score.exact_match()),
            token_accuracy: ok.map(|r| r.score.token_accuracy()),
            samples: ok.map(|r| r.score.samples),
            compute_ms: ok.map(|r| r.compute_ms),
            trace_ms: ok.map(|r| r.trace_ms),
            cannot_run: result
                .and_then(|r| r.as_ref().err())
                .filter(|e| is_past_table(e))
                .cloned(),
            extension_curve: ok
                .and_then(|r| r.extension_curve.as_ref())
                .map(|c| c.exact_match.clone()),
        }
    }
}

/// Reads every shipped metadata file now (native export and tests; the app loads them async).
#[cfg(not(target_arch = "wasm32"))]
pub fn load_metas_blocking() -> BTreeMap<String, Result<ModelMeta, String>> {
    let mut out = BTreeMap::new();
    for task in TaskKind::ALL {
        for pe in PeKind::ALL {
            let name = model_name(task, pe);
            let r = pollster::block_on(crate::assets::read_model_file(&format!("{name}.json")))
                .and_then(|b| String::from_utf8(b).map_err(|_| format!("{name}.json is not UTF-8")))
                .and_then(|t| ModelMeta::from_json(&t).map_err(|e| e.to_string()));
            out.insert(name, r);
        }
    }
    out
}

/// The view's numbers: the accuracy-vs-length table of every model of the task, and the live
/// read-out at the current length when there is one.
pub fn curves_export(
    state: &ModelLabState,
    metas: &BTreeMap<String, Result<ModelMeta, String>>,
    current: Option<&LabResult>,
) -> Result<crate::export::Exported, String> {
    let mut csv = String::from("task,pe,length,exact_match,token_accuracy\n");
    let mut models = Vec::new();
    for pe in PeKind::ALL {
        let name = model_name(state.task, pe);
        let m = match metas.get(&name) {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(format!("{name}: {e}")),
            None => return Err(format!("{name}: metadata not loaded yet")),
        };
        let c = &m.curve;
        for i in 0..c.length.len() {
            let f = |v: Option<&Option<f64>>| v.and_then(|x| *x).map(|x| x.to_string()).unwrap_or_default();
            csv += &format!(
                "{},{},{},{},{}\n",
                state.task.key(),
                pe.key(),
                c.length[i],
                f(c.exact_match.get(i)),
                f(c.token_accuracy.get(i))
            );
        }
        models.push(serde_json::json!({ "pe": pe.key(), "train_len": m.train_len, "curve": c }));
    }
    let live = current.map(|r| {
        serde_json::json!({
            "length": r.trace.len,
            "exact_match": r.score.exact_match(),
            "token_accuracy": r.score.token_accuracy(),
            "samples": r.score.samples,
            "extension_curve": r.extension_curve,
        })
    });
    Ok(crate::export::Exported {
        json: serde_json::json!({ "task": state.task.key(), "models": models, "current": live }),
        csv,
        image: None,
    })
}

impl ModelLabView {
    /// What the export buttons save.
    pub fn export(&self) -> Result<crate::export::Exported, String> {
        curves_export(&self.state, &self.resolved, self.result().and_then(|r| r.as_ref().ok()))
    }
}

/// The Model lab part of `window.poslens.status()`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModelLabStatus {
    pub task: String,
    pub pe: String,
    pub seq_len: usize,
    pub loaded_model: Option<String>,
    pub metadata_loaded: usize,
    pub busy: bool,
    pub exact_match: Option<f64>,
    pub token_accuracy: Option<f64>,
    pub samples: Option<usize>,
    pub compute_ms: Option<f64>,
    /// One traced forward pass (batch 1) with read-back, in ms.
    pub trace_ms: Option<f64>,
    /// Set when the model cannot run at this length (learned APE past its table).
    pub cannot_run: Option<String>,
    pub extension_curve: Option<Vec<Option<f64>>>,
}

fn is_past_table(e: &str) -> bool {
    e.contains("past the learned position table")
}

/// Two or three plain sentences per encoding, naming the paper.
pub fn explanation(task: TaskKind, pe: PeKind) -> String {
    let task_text = match task {
        TaskKind::Copy => "Each model reads a string of distinct symbols, a separator, and must copy the string.",
        TaskKind::Recall => {
            "Each model reads key–value pairs, a separator and one of the keys, and must answer its value."
        }
    };
    let pe_text = match pe {
        PeKind::Nope => {
            "NoPE has no positional encoding at all; the causal mask alone lets it infer order. Kazemnejad et al. \
             (2023) found it generalises past L_train better than the explicit encodings on tasks like these."
        }
        PeKind::Learned => {
            "Learned APE (Gehring et al. 2017; GPT-2) adds a trained vector per position, so it has nothing to add \
             beyond its table: the model simply cannot run past L_train."
        }
        PeKind::Sinusoidal => {
            "Sinusoidal APE (Vaswani et al. 2017) can be computed at any position, but positions past L_train were \
             never seen in training, and accuracy usually collapses right after it."
        }
        PeKind::T5 => {
            "T5's relative bias (Raffel et al. 2020) learns one scalar per head and log-spaced distance bucket; \
             distances beyond the last bucket share its value, which helps it degrade gracefully."
        }
        PeKind::Alibi => {
            "ALiBi (Press et al. 2022) penalises attention linearly with distance. It was designed to extrapolate \
             perplexity, but tasks that must reach far back (copying the start of a long string) suffer."
        }
        PeKind::Rope => {
            "RoPE (Su et al. 2021) rotates queries and keys by position; past L_train the slow pairs reach angles \
             never seen in training. Pick a context-extension method to see whether rescaling rescues it."
        }
    };
    format!(
        "{task_text} Six 3-layer models differ only in their positional encoding, all trained on lengths ≤ 32; drag N \
         past the dashed L_train line and watch accuracy and attention fall apart. {pe_text}"
    )
}

#[cfg(test)]
mod tests {
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
        };
        let mut hash = String::new();
        s.write_hash(&mut hash);
        let kv: Vec<(&str, &str)> = hash.split('&').filter_map(|p| p.split_once('=')).collect();
        assert_eq!(kv.len(), 7, "{hash}");
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
}
