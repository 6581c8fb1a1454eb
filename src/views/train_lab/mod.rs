//! View: Train lab — train a tiny transformer live in the page (in the compute worker), watch
//! its loss fall and its attention form, then drag the length past `L_train` on the model just
//! trained. The trainer is `model::train::Trainer`, the same code as `poslens train`.
//! Science: Kazemnejad et al. 2023, "The Impact of Positional Encoding on Length Generalization
//! in Transformers".
//!
//! A run lives in the compute worker: switching views keeps it going; changing the task, the
//! encoding or the recipe does not touch it — the next "Train" replaces it with the new one.

mod panels;
mod state;
#[cfg(test)]
mod tests;

use egui::{RichText, Ui};
use serde_json::{Map, Value};

use crate::compute::client::{ComputeClient, JobId};
use crate::compute::protocol::{Reply, Request, TrainAction, TrainProgress, TrainState};
use crate::export::{ExportError, Exported};
use crate::model::catalog::{Curve, ModelMeta};
use crate::model::{ModelError, PeKind, TracedSample, model_name};
use crate::pe::extension::{ExtensionMethod, ExtensionParams};
use crate::tasks::TaskKind;
use crate::theme::ThemeChoice;
use crate::views::{View, ViewEnv};
use crate::widgets::heatmap::Heatmap;
use crate::widgets::log_slider::log_slider_ui;

pub use state::*;

/// In-distribution exact match is measured every this many steps (128 samples).
pub const EVAL_EVERY: usize = 50;
/// Seed of the probe sample (fixed, so its attention can be watched forming).
pub const PROBE_SEED: u64 = 7;
/// Samples per length of the after-training curves.
pub const CURVE_SAMPLES: usize = 32;

type Slot<T> = std::rc::Rc<std::cell::RefCell<Option<T>>>;

/// The Train lab view.
#[derive(Default)]
pub struct TrainLabView {
    pub state: TrainLabState,
    /// The training run's progress stream, and the spec it runs.
    run: Option<JobId>,
    run_spec: Option<crate::model::train_spec::TrainSpec>,
    progress: TrainProgress,
    losses: Vec<f64>,
    accuracy: Vec<(usize, f64)>,
    autostarted: bool,
    control: Option<JobId>,
    /// The probe: `(job, len, step)` in flight, and the last answer.
    probe_job: Option<(JobId, usize, usize)>,
    probe: Option<(usize, usize, Result<TracedSample, String>)>,
    heatmaps: Vec<Heatmap>,
    heatmaps_for: Option<(usize, usize)>,
    /// After-training curves `(job, key)` and results: plain, and with the extension method.
    curve_job: Option<(JobId, CurveKey)>,
    curve: Option<(CurveKey, Result<Curve, String>)>,
    ext_job: Option<(JobId, CurveKey)>,
    ext_curve: Option<(CurveKey, Result<Curve, String>)>,
    /// The shipped model of the same task and encoding (its curve is drawn beside).
    shipped: Option<(String, Slot<Result<ModelMeta, ModelError>>)>,
    shipped_meta: Option<(String, Result<ModelMeta, String>)>,
    /// The export in flight, and whether it goes to the Model lab (else: downloads).
    export_job: Option<(JobId, bool)>,
    /// Files handed to another view (the Model lab) once the export arrives.
    outbox: Option<Vec<crate::file_open::PickedFile>>,
    export_note: Option<Result<String, String>>,
    error: Option<String>,
    /// A button pressed this frame, acted on in `update` (where the compute client is).
    pending_action: Option<UiAction>,
    /// Where the weights and "open in the Model lab" buttons were drawn (reported in the status
    /// so a test can click them).
    export_rect: Option<egui::Rect>,
    open_rect: Option<egui::Rect>,
}

/// What an after-training curve was measured for: step, method, factor bits.
type CurveKey = (usize, Option<ExtensionMethod>, u64);

impl TrainLabView {
    fn start(&mut self, compute: &ComputeClient) {
        if let Some(old) = self.run.take() {
            compute.forget(old);
        }
        let spec = self.state.spec();
        self.run = Some(compute.submit(Request::TrainStart {
            spec: spec.clone(),
            eval_every: EVAL_EVERY,
        }));
        self.run_spec = Some(spec);
        self.progress = TrainProgress::default();
        self.losses.clear();
        self.accuracy.clear();
        self.probe = None;
        self.probe_job = None;
        self.curve = None;
        self.ext_curve = None;
        self.error = None;
        self.export_note = None;
    }

    fn control(&mut self, compute: &ComputeClient, action: TrainAction) {
        self.control = Some(compute.submit(Request::TrainControl { action }));
    }

    /// Back to no run (the worker's run is stopped).
    fn discard_run(&mut self, compute: Option<&ComputeClient>) {
        if let (Some(c), Some(job)) = (compute, self.run.take()) {
            c.forget(job);
            c.submit(Request::TrainControl {
                action: TrainAction::Stop,
            });
        }
        let state = self.state.clone();
        *self = Self {
            state,
            autostarted: true,
            ..Default::default()
        };
    }

    fn absorb(&mut self, p: TrainProgress) {
        if p.from <= self.losses.len() {
            self.losses.truncate(p.from);
            self.losses.extend_from_slice(&p.losses);
        }
        if let Some(a) = p.exact_match
            && self.accuracy.last() != Some(&a)
        {
            self.accuracy.push(a);
        }
        if let Some(e) = &p.error {
            self.error = Some(e.clone());
        }
        self.progress = TrainProgress {
            losses: Vec::new(),
            ..p
        };
    }

    fn collect(&mut self, compute: &ComputeClient) {
        if let Some(job) = self.run {
            while let Some(r) = compute.take(job) {
                match r {
                    Ok(Reply::TrainProgress(p)) => self.absorb(p),
                    Ok(Reply::Failed(e)) => self.error = Some(e.message),
                    Ok(other) => self.error = Some(format!("unexpected reply {other:?}")),
                    Err(e) => {
                        self.error = Some(e);
                        self.progress.state = TrainState::Error;
                    }
                }
            }
            if !compute.is_pending(job) {
                self.run = None;
            }
        }
        if let Some(job) = self.control
            && let Some(r) = compute.take(job)
        {
            if let Ok(Reply::TrainProgress(p)) = r {
                self.absorb(p);
            }
            self.control = None;
        }
        if let Some((job, len, step)) = self.probe_job
            && let Some(r) = compute.take(job)
        {
            let trace = match r {
                Ok(Reply::Trace(t)) => Ok(*t),
                Ok(Reply::Failed(e)) => Err(e.message),
                Ok(other) => Err(format!("unexpected reply {other:?}")),
                Err(e) => Err(e),
            };
            self.probe = Some((len, step, trace));
            self.probe_job = None;
        }
        for (job, slot) in [
            (&mut self.curve_job, &mut self.curve),
            (&mut self.ext_job, &mut self.ext_curve),
        ] {
            if let Some((id, key)) = *job
                && let Some(r) = compute.take(id)
            {
                *slot = Some((
                    key,
                    match r {
                        Ok(Reply::Curve(c)) => Ok(c),
                        Ok(Reply::Failed(e)) => Err(e.message),
                        Ok(other) => Err(format!("unexpected reply {other:?}")),
                        Err(e) => Err(e),
                    },
                ));
                *job = None;
            }
        }
        if let Some((job, to_lab)) = self.export_job
            && let Some(r) = compute.take(job)
        {
            self.export_note = Some(match r {
                Ok(Reply::TrainExported { meta, weights }) if to_lab => {
                    let files = vec![
                        crate::file_open::PickedFile {
                            name: format!("{}.json", meta.name),
                            bytes: Ok(meta.to_json().into_bytes()),
                        },
                        crate::file_open::PickedFile {
                            name: meta.weights_file.clone(),
                            bytes: Ok(weights),
                        },
                    ];
                    self.outbox = Some(files);
                    Ok(format!("{} opened in the Model lab", meta.name))
                }
                Ok(Reply::TrainExported { meta, weights }) => save_model(&meta, &weights),
                Ok(Reply::Failed(e)) => Err(e.message),
                Ok(other) => Err(format!("unexpected reply {other:?}")),
                Err(e) => Err(e),
            });
            self.export_job = None;
        }
    }

    /// Ask for what the picture needs: the probe at N, and after training the curves.
    fn request(&mut self, compute: &ComputeClient) {
        let Some(spec) = self.run_spec.clone() else { return };
        let step = self.progress.step;
        if step == 0 {
            return;
        }
        let len = self.state.seq_len.max(spec.task.min_len());
        let every = (spec.steps / 40).max(5);
        let stale = match &self.probe {
            None => true,
            Some((l, s, _)) => {
                *l != len || (step != *s && (step >= s + every || self.progress.state != TrainState::Running))
            }
        };
        if self.probe_job.is_none() && stale {
            self.probe_job = Some((compute.submit(Request::TrainTrace { len, seed: PROBE_SEED }), len, step));
        }
        if matches!(self.progress.state, TrainState::Paused | TrainState::Done) {
            let lengths: Vec<usize> = (1..=8)
                .map(|k| k * spec.train_len)
                .filter(|&l| l <= spec.task.max_len().min(*LEN_RANGE_END))
                .collect();
            let key: CurveKey = (step, None, 0);
            if self.curve_job.is_none() && self.curve.as_ref().map(|c| c.0) != Some(key) {
                let job = compute.submit(Request::TrainCurve {
                    lengths: lengths.clone(),
                    samples: CURVE_SAMPLES,
                    seed: crate::views::model_lab::EVAL_SEED,
                    rope: Default::default(),
                });
                self.curve_job = Some((job, key));
            }
            if spec.pe == PeKind::Rope
                && let Some(m) = self.state.method
            {
                let key: CurveKey = (step, Some(m), self.state.factor.to_bits());
                if self.ext_job.is_none() && self.ext_curve.as_ref().map(|c| c.0) != Some(key) {
                    let head_dim = crate::model::ModelConfig::tiny(spec.pe, spec.train_len).head_dim();
                    let p = ExtensionParams::new(m, self.state.factor, spec.train_len, head_dim);
                    let job = compute.submit(Request::TrainCurve {
                        lengths,
                        samples: CURVE_SAMPLES,
                        seed: crate::views::model_lab::EVAL_SEED,
                        rope: crate::model::RopeOptions {
                            scaling: p.scaling(),
                            map: p.position_map(),
                            ids: None,
                            interpolate_learned: false,
                        },
                    });
                    self.ext_job = Some((job, key));
                }
            }
        }
    }

    /// The shipped model of the same task and encoding: its metadata (and curve).
    fn load_shipped(&mut self) {
        let Some(spec) = &self.run_spec else { return };
        let name = model_name(spec.task, spec.pe);
        if self.shipped_meta.as_ref().map(|(n, _)| n) != Some(&name)
            && self.shipped.as_ref().map(|(n, _)| n) != Some(&name)
        {
            let slot: Slot<Result<ModelMeta, ModelError>> = Default::default();
            let file = format!("{name}.json");
            crate::compute::spawn(
                async move {
                    let bytes = crate::assets::read_model_file(&file).await?;
                    let text =
                        String::from_utf8(bytes).map_err(|_| ModelError::Meta(format!("{file} is not UTF-8")))?;
                    ModelMeta::from_json(&text)
                },
                slot.clone(),
            );
            self.shipped = Some((name, slot));
        }
        if let Some((name, slot)) = &self.shipped
            && let Some(r) = slot.borrow_mut().take()
        {
            self.shipped_meta = Some((name.clone(), r.map_err(|e| e.to_string())));
        }
    }

    fn update_heatmaps(&mut self, ctx: &egui::Context) {
        let Some((len, step, Ok(t))) = &self.probe else { return };
        if self.heatmaps_for == Some((*len, *step)) {
            return;
        }
        crate::widgets::attention_heads::set_attention_heads(ctx, "train_att", t, &mut self.heatmaps);
        self.heatmaps_for = Some((*len, *step));
    }

    /// The `train_lab` part of `window.poslens.status()`.
    pub fn status(&self) -> Value {
        let p = &self.progress;
        serde_json::json!({
            "state": p.state.key(),
            "step": p.step,
            "steps": p.steps,
            "loss": self.losses.last(),
            "first_loss": self.losses.first(),
            "exact_match": p.exact_match.map(|a| a.1),
            "steps_per_s": p.steps_per_s,
            "backend": if p.steps > 0 { p.backend.label() } else { "" },
            "probe_len": self.probe.as_ref().map(|p| p.0),
            "probe_right": self.probe.as_ref().and_then(|p| p.2.as_ref().ok()).map(|t| (t.right(), t.answer_positions.len())),
            "curve": self.curve.as_ref().and_then(|c| c.1.as_ref().ok()).map(|c| serde_json::json!({"length": c.length, "exact_match": c.exact_match})),
            "export": self.export_note.as_ref().map(|r| match r { Ok(m) | Err(m) => m.clone() }),
            "error": self.error,
            "export_button": self.export_rect.map(|r| [r.min.x, r.min.y, r.width(), r.height()]),
            "open_in_model_lab_button": self.open_rect.map(|r| [r.min.x, r.min.y, r.width(), r.height()]),
        })
    }
}

const LEN_RANGE_END: &usize = super::model_lab::LEN_RANGE.end();

/// Save the trained model as `<task>-<pe>.plw` + `.json` (what `poslens eval` reads).
fn save_model(meta: &ModelMeta, weights: &[u8]) -> Result<String, String> {
    let a = crate::download::save(&meta.weights_file, "application/octet-stream", weights)?;
    let b = crate::download::save(
        &format!("{}.json", meta.name),
        "application/json",
        meta.to_json().as_bytes(),
    )?;
    Ok(format!(
        "{a}; {b} — in-distribution exact match {:.1} % (f16 weights)",
        100.0 * meta.in_distribution_exact_match
    ))
}

impl View for TrainLabView {
    fn key(&self) -> &'static str {
        "train"
    }
    fn title(&self) -> &'static str {
        "Train lab"
    }
    fn explanation(&self) -> String {
        EXPLANATION.to_owned()
    }
    delegate_state!(seq_len);
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        super::model_lab::LEN_RANGE
    }
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.controls(ui)
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        let Some(compute) = env.compute else { return };
        if self.state.autostart && !self.autostarted {
            self.autostarted = true;
            self.start(compute);
        }
        if let Some(action) = self.pending_action.take() {
            match action {
                UiAction::Start => self.start(compute),
                UiAction::Control(a) => self.control(compute, a),
                UiAction::Reset => self.discard_run(Some(compute)),
                UiAction::Export { to_lab } => self.export_job = Some((compute.submit(Request::TrainExport), to_lab)),
            }
        }
        self.collect(compute);
        self.request(compute);
        self.load_shipped();
        self.update_heatmaps(env.ctx);
        if self.run.is_some() || self.probe_job.is_some() || self.curve_job.is_some() || self.ext_job.is_some() {
            env.ctx.request_repaint();
        }
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn scrolls(&self) -> bool {
        true
    }
    fn errors(&self) -> Vec<String> {
        self.error.iter().cloned().collect()
    }
    /// The run step by step (CSV: step, scheduled learning rate, loss, exact match); before a
    /// run, the planned schedule of the current settings with empty loss columns.
    fn export(&self) -> Result<Exported, ExportError> {
        let spec = self.run_spec.clone().unwrap_or_else(|| self.state.spec());
        let mut csv = String::from("step,learning_rate,loss,exact_match\n");
        for step in 1..=spec.steps {
            let lr = crate::model::train_spec::learning_rate(&spec, step - 1);
            let loss = self.losses.get(step - 1).map(|l| l.to_string()).unwrap_or_default();
            let em = self
                .accuracy
                .iter()
                .find(|a| a.0 == step)
                .map(|a| a.1.to_string())
                .unwrap_or_default();
            csv += &format!("{step},{lr},{loss},{em}\n");
        }
        use crate::export::figure::{Figure, Panel, Series};
        let light = crate::theme::ThemeChoice::Light;
        let losses: Vec<[f64; 2]> = self
            .losses
            .iter()
            .enumerate()
            .map(|(i, l)| [(i + 1) as f64, l.max(1e-12).log10()])
            .collect();
        let accuracy: Vec<[f64; 2]> = self.accuracy.iter().map(|a| [a.0 as f64, a.1]).collect();
        let schedule: Vec<[f64; 2]> = (1..=spec.steps)
            .step_by((spec.steps / 400).max(1))
            .map(|s| [s as f64, crate::model::train_spec::learning_rate(&spec, s - 1)])
            .collect();
        let mut acc = Series::line("exact match at L_train", light.ok(), accuracy);
        acc.dots = true;
        let figure = Figure {
            title: format!(
                "Training {} on {} ({} steps, L_train {})",
                spec.pe.label(),
                spec.task.label(),
                spec.steps,
                spec.train_len
            ),
            caption: String::new(),
            panels: vec![
                Panel::plot(
                    "training loss",
                    "step",
                    "log10 loss",
                    vec![Series::line("loss", light.accent_text(), losses)],
                ),
                Panel::plot("in-distribution accuracy", "step", "exact match", vec![acc]).with_y_range(0.0, 1.0),
                Panel::plot(
                    "learning-rate schedule",
                    "step",
                    "learning rate",
                    vec![Series::line("lr", light.warn(), schedule)],
                ),
            ],
        };
        Ok(Exported {
            json: serde_json::json!({
                "spec": spec,
                "losses": self.losses,
                "exact_match": self.accuracy,
                "status": self.status(),
            }),
            csv,
            image: None,
            figure: Some(figure),
        })
    }
    fn status_extras(&self, extras: &mut Map<String, Value>) {
        extras.insert("train_lab".into(), self.status());
    }
    fn take_outbox(&mut self) -> Option<Vec<crate::file_open::PickedFile>> {
        self.outbox.take()
    }
}

/// What a button asked for (done in `update`, where the compute client is).
#[derive(Clone, Copy, Debug, PartialEq)]
enum UiAction {
    Start,
    Control(TrainAction),
    Reset,
    /// Export the current weights: download them, or open them in the Model lab.
    Export {
        to_lab: bool,
    },
}

impl TrainLabView {
    fn controls(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Task").strong());
        ui.horizontal(|ui| {
            for t in TaskKind::ALL {
                ui.selectable_value(&mut s.task, t, t.label());
            }
        });
        ui.label(RichText::new("Positional encoding").strong());
        ui.horizontal_wrapped(|ui| {
            for p in PeKind::ALL {
                ui.selectable_value(&mut s.pe, p, p.label());
            }
        });
        ui.label(RichText::new("Recipe").strong());
        ui.horizontal(|ui| {
            for p in Preset::ALL {
                if ui.selectable_value(&mut s.preset, p, p.label()).clicked() {
                    s.apply_preset();
                }
            }
        });
        let range = s.train_len_range();
        ui.add(egui::Slider::new(&mut s.train_len, range).text("L_train"));
        ui.add(
            egui::Slider::new(&mut s.steps, STEPS_RANGE)
                .logarithmic(true)
                .text("steps"),
        );
        ui.add(
            egui::Slider::new(&mut s.lr, LR_RANGE)
                .logarithmic(true)
                .text("learning rate"),
        );
        ui.add(egui::DragValue::new(&mut s.seed).range(0..=SEED_MAX).prefix("seed "));
        ui.add_space(6.0);
        let state = self.progress.state;
        let running = self.run.is_some() && state == TrainState::Running;
        ui.horizontal(|ui| {
            if ui
                .button("▶ Train")
                .on_hover_text("Start a new run with these settings")
                .clicked()
            {
                self.pending_action = Some(UiAction::Start);
            }
            if running && ui.button("⏸ Pause").clicked() {
                self.pending_action = Some(UiAction::Control(TrainAction::Pause));
            }
            if state == TrainState::Paused && ui.button("▶ Resume").clicked() {
                self.pending_action = Some(UiAction::Control(TrainAction::Resume));
            }
            if matches!(state, TrainState::Running | TrainState::Paused) && ui.button("■ Stop").clicked() {
                self.pending_action = Some(UiAction::Control(TrainAction::Stop));
            }
            if ui.button("↺ Reset").clicked() {
                self.pending_action = Some(UiAction::Reset);
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Probe length N").strong());
        let len = log_slider_ui(ui, &mut self.state.seq_len, super::model_lab::LEN_RANGE, "tokens");
        if self.state.pe == PeKind::Rope {
            ui.label(RichText::new("After training: RoPE context extension").strong());
            let label = self.state.method.map_or("none (plain RoPE)", |m| m.title());
            egui::ComboBox::from_id_salt("train_method")
                .selected_text(label)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.state.method, None, "none (plain RoPE)");
                    for m in ExtensionMethod::ALL {
                        ui.selectable_value(&mut self.state.method, Some(m), m.title());
                    }
                });
            if self.state.method.is_some_and(|m| !m.is_position_map()) {
                ui.add(egui::Slider::new(&mut self.state.factor, super::model_lab::FACTOR_RANGE).text("factor s"));
            }
        }
        ui.add_space(6.0);
        let export = ui
            .add_enabled(self.progress.step > 0, egui::Button::new("⬇ Weights (.plw + .json)"))
            .on_hover_text("The current weights, loadable by `poslens eval --model <task>-<pe>`");
        self.export_rect = Some(export.rect);
        if export.clicked() {
            self.pending_action = Some(UiAction::Export { to_lab: false });
        }
        let open = ui
            .add_enabled(self.progress.step > 0, egui::Button::new("Open in the Model lab →"))
            .on_hover_text(
                "The current weights in the Model lab, beside the shipped models: drag N, try the extension methods",
            );
        self.open_rect = Some(open.rect);
        if open.clicked() {
            self.pending_action = Some(UiAction::Export { to_lab: true });
        }
        if let Some(note) = &self.export_note {
            let text = match note {
                Ok(m) | Err(m) => m.as_str(),
            };
            ui.label(RichText::new(text).small());
        }
        self.state.sanitize();
        len
    }
}
