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

mod input;
mod insight;
mod jobs;
mod panels;
mod state;
#[cfg(test)]
mod tests;
mod yours;

use std::collections::BTreeMap;

use egui::{RichText, Ui};

use crate::compute::ComputeBackend;
use crate::compute::client::JobId;
use crate::model::catalog::ModelMeta;
use crate::model::{ModelError, PeKind, model_name};
use crate::pe::extension::ExtensionMethod;
use crate::tasks::TaskKind;
use crate::theme::ThemeChoice;
use crate::widgets::heatmap::Heatmap;
use crate::widgets::log_slider::log_slider_ui;

use serde_json::{Map, Value};

use crate::export::{ExportError, Exported};
use crate::views::{View, ViewEnv};
pub use jobs::*;
pub use state::*;
pub use yours::*;

/// The Model lab view.
pub struct ModelLabView {
    pub state: ModelLabState,
    /// Metadata requests still in flight.
    metas: Vec<(String, Slot<Result<ModelMeta, ModelError>>)>,
    metas_started: bool,
    /// Metadata by model name, once read (or failed).
    resolved: BTreeMap<String, Result<ModelMeta, ModelError>>,
    weights: Option<Weights>,
    /// The model the compute worker holds for this view.
    loaded: Option<String>,
    load_error: Option<(String, ModelError)>,
    job: Option<(JobKey, JobId)>,
    result: Option<(JobKey, Result<LabResult, ModelError>)>,
    heatmaps: Vec<Heatmap>,
    heatmaps_for: Option<JobKey>,
    /// The compute worker's backend, once it is ready.
    backend: Option<ComputeBackend>,
    /// A model the reader gave us (Train lab export), and whether it is shown instead of the
    /// shipped model of the same task and encoding.
    yours: Option<YourModel>,
    show_yours: bool,
    /// Files picked or dropped, still being read, and what became of the last ones.
    inboxes: Vec<crate::file_open::Inbox>,
    files: YourFiles,
    /// Where the "Open your model" button was drawn (for the browser test).
    open_rect: Option<egui::Rect>,
    /// Learned APE: the position table of the shown model and its similarity map.
    learned: insight::LearnedRows,
    input_rect: Option<egui::Rect>,
}

impl Default for ModelLabView {
    fn default() -> Self {
        Self::new(ModelLabState::default())
    }
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
            backend: None,
            yours: None,
            show_yours: false,
            inboxes: Vec::new(),
            files: YourFiles::default(),
            open_rect: None,
            learned: insight::LearnedRows::default(),
            input_rect: None,
        }
    }

    fn meta(&self, name: &str) -> Option<&ModelMeta> {
        match &self.yours {
            Some(y) if y.name == name => Some(&y.meta),
            _ => self.resolved.get(name).and_then(|m| m.as_ref().ok()),
        }
    }

    fn meta_cloned(&self, name: &str) -> Option<Result<ModelMeta, ModelError>> {
        match &self.yours {
            Some(y) if y.name == name => Some(Ok(y.meta.clone())),
            _ => self.resolved.get(name).cloned(),
        }
    }

    /// The reader's own model, when it is the one shown (its task and encoding are selected).
    pub fn shown_yours(&self) -> Option<&YourModel> {
        self.yours
            .as_ref()
            .filter(|y| self.show_yours && y.meta.task == self.state.task && y.meta.pe == self.state.pe)
    }

    /// The worker's name of the model shown: `<task>-<pe>`, or `yours/<task>-<pe>`.
    pub fn shown_name(&self) -> String {
        self.shown_yours().map_or_else(|| self.state.name(), |y| y.name.clone())
    }

    /// Take files the reader picked or dropped: a complete, consistent pair becomes the model
    /// shown (its task and encoding selected).
    pub fn receive_files(&mut self, files: Vec<crate::file_open::PickedFile>) {
        if let Some(model) = self.files.accept(files) {
            self.state.task = model.meta.task;
            self.state.pe = model.meta.pe;
            // The worker may hold an earlier model of the same name: build this one afresh.
            if self.loaded.as_deref() == Some(model.name.as_str()) {
                self.loaded = None;
            }
            if self.load_error.as_ref().is_some_and(|(n, _)| *n == model.name) {
                self.load_error = None;
            }
            self.result = None;
            self.heatmaps_for = None;
            self.yours = Some(model);
            self.show_yours = true;
        }
    }

    /// Metadata files loaded so far, and how many there are.
    pub fn metas_progress(&self) -> (usize, usize) {
        (self.resolved.len(), TaskKind::ALL.len() * PeKind::ALL.len())
    }

    /// Errors to report (missing / corrupt files, failed runs).
    fn load_errors(&self) -> Vec<String> {
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
            e.push(err.to_string());
        }
        e
    }

    /// The finished result for the current state, if any.
    pub fn result(&self) -> Option<&Result<LabResult, ModelError>> {
        let key = self.job_key()?;
        self.result.as_ref().filter(|(k, _)| *k == key).map(|(_, r)| r)
    }

    /// Whether anything is still loading or computing.
    pub fn busy(&self) -> bool {
        self.job.is_some() || self.weights.is_some() || !self.metas.is_empty()
    }

    pub fn loaded_model(&self) -> Option<&str> {
        self.loaded.as_deref()
    }

    fn job_key(&self) -> Option<JobKey> {
        let loaded = self.loaded.as_ref()?;
        (*loaded == self.shown_name()).then(|| JobKey {
            name: loaded.clone(),
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
            interp: self.state.pe == PeKind::Learned && self.state.interp,
            probe: self.state.probe,
            given: self
                .state
                .given()
                .is_some_and(|g| g.is_ok())
                .then(|| self.state.input.clone()),
        })
    }

    /// Starts loading what is missing and a new forward pass when the state changed.
    fn controls(&mut self, ui: &mut Ui) -> egui::Response {
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
        ui.add_enabled_ui(self.state.pe == PeKind::Learned, |ui| {
            ui.checkbox(&mut self.state.interp, "interpolate the position table (LongEmbed)")
                .on_hover_text(
                    "Past its table, position p reads rows ⌊p/s⌋ and ⌈p/s⌉ blended, s = N / L_train (Zhu et al. 2024)",
                );
        });
        self.insight_controls_ui(ui);
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
        ui.add_space(8.0);
        self.your_model_ui(ui);
        self.state.sanitize();
        len
    }

    /// Open a model exported by the Train lab: picker button, drop hint, shipped ↔ yours.
    fn your_model_ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new("Your model").strong());
        if let Some(y) = &self.yours {
            let (task, pe) = (y.meta.task, y.meta.pe);
            ui.horizontal(|ui| {
                ui.label("Show");
                let on = self.state.task == task && self.state.pe == pe;
                if ui.selectable_label(!(on && self.show_yours), "shipped").clicked() {
                    self.show_yours = false;
                }
                if ui
                    .selectable_label(on && self.show_yours, format!("yours ({})", y.meta.name))
                    .on_hover_text(y.files.clone())
                    .clicked()
                {
                    self.state.task = task;
                    self.state.pe = pe;
                    self.show_yours = true;
                }
            });
        }
        let label = if crate::file_open::HAS_PICKER {
            "Open .plw + .json…"
        } else {
            "Drop a .plw and its .json onto the window"
        };
        let button = ui
            .add_enabled(crate::file_open::HAS_PICKER, egui::Button::new(label))
            .on_hover_text("The two files the Train lab's ⬇ weights button (or poslens train) writes");
        self.open_rect = Some(button.rect);
        if button.clicked() {
            match crate::file_open::pick(ui.ctx(), ".plw,.json") {
                Ok(inbox) => self.inboxes.push(inbox),
                Err(e) => self.files.message = Some(FileMessage::Refused(e)),
            }
        }
        ui.label(
            RichText::new("…or drop both files onto the page. Train one in the Train lab and export it.")
                .small()
                .weak(),
        );
        if let Some(m) = &self.files.message {
            let color = match m {
                FileMessage::Waiting(_) => ui.visuals().text_color(),
                FileMessage::Refused(_) => ui.visuals().error_fg_color,
            };
            ui.label(RichText::new(m.text()).small().color(color));
        }
    }

    fn model_card_ui(&self, ui: &mut Ui) {
        let name = self.shown_name();
        ui.label(
            RichText::new(if self.shown_yours().is_some() {
                "Model card — yours"
            } else {
                "Model card"
            })
            .strong(),
        );
        match self.meta_cloned(&name) {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(format!("loading {name}.json"));
                });
            }
            Some(Err(e)) => {
                ui.label(RichText::new(e.to_string()).small().color(ui.visuals().error_fg_color));
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
    pub fn status(&self) -> ModelLabStatus {
        let result = self.result();
        let ok = result.and_then(|r| r.as_ref().ok());
        ModelLabStatus {
            task: self.state.task.key().into(),
            pe: self.state.pe.key().into(),
            seq_len: self.state.seq_len,
            source: if self.shown_yours().is_some() {
                "yours"
            } else {
                "shipped"
            }
            .into(),
            yours: self.yours.as_ref().map(|y| y.name.clone()),
            files_message: self.files.message.as_ref().map(|m| m.text().to_owned()),
            open_button: self.open_rect.map(|r| [r.min.x, r.min.y, r.width(), r.height()]),
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
                .map(|e| e.to_string()),
            extension_curve: ok
                .and_then(|r| r.extension_curve.as_ref())
                .map(|c| c.exact_match.clone()),
            by_depth: ok.map_or(Vec::new(), |r| r.by_depth.iter().map(|s| s.exact_match()).collect()),
            input_box: self.input_rect.map(|r| [r.min.x, r.min.y, r.width(), r.height()]),
            input_error: self.state.given().and_then(Result::err),
            trace_len: ok.map(|r| r.trace.len),
            trace_right: ok.map(|r| r.trace.right()),
            learned_similarity_side: (self.state.pe == PeKind::Learned)
                .then(|| self.learned.shown_side())
                .flatten(),
            probe_r2: ok.and_then(|r| r.probe.as_ref()).map(|p| {
                p.fits
                    .iter()
                    .map(|f| f.iter().map(|x| x.map(|x| x.r2)).collect())
                    .collect()
            }),
        }
    }
}

/// The view's numbers: the accuracy-vs-length table of every model of the task, and the live
/// read-out at the current length when there is one.
pub fn curves_export(
    state: &ModelLabState,
    metas: &BTreeMap<String, Result<ModelMeta, ModelError>>,
    current: Option<&LabResult>,
    yours: Option<&YourModel>,
) -> Result<crate::export::Exported, ExportError> {
    use crate::export::figure::{Figure, Panel, Series};
    let mut csv = String::from("task,pe,length,exact_match,token_accuracy\n");
    let mut models = Vec::new();
    let metric = |c: &crate::model::catalog::Curve| -> Vec<[f64; 2]> {
        let ys = if state.token_metric {
            &c.token_accuracy
        } else {
            &c.exact_match
        };
        c.length
            .iter()
            .zip(ys)
            .map(|(&l, a)| [l as f64, a.unwrap_or(f64::NAN)])
            .collect()
    };
    let mut series = Vec::new();
    let mut train_len = 32.0;
    for pe in PeKind::ALL {
        let name = model_name(state.task, pe);
        let m = match metas.get(&name) {
            Some(Ok(m)) => m,
            Some(Err(e)) => return Err(ExportError::Unavailable(format!("{name}: {e}"))),
            None => return Err(ExportError::Unavailable(format!("{name}: metadata not loaded yet"))),
        };
        let c = &m.curve;
        let mut line = Series::line(pe.label(), crate::theme::scheme_color(pe.scheme()), metric(c));
        line.dots = true;
        series.push(line);
        if pe == state.pe {
            train_len = m.train_len as f64;
        }
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
    if let Some(y) = yours.filter(|y| y.meta.task == state.task) {
        let mut line = Series::line(
            format!("yours: {} ({} steps)", y.meta.pe.label(), y.meta.steps),
            crate::theme::scheme_color(y.meta.pe.scheme()),
            metric(&y.meta.curve),
        )
        .dashed();
        line.dots = true;
        series.push(line);
    }
    if let (Some(c), Some(label)) = (
        current.and_then(|r| r.extension_curve.as_ref()),
        state.live_curve_label(),
    ) {
        series.push(Series::line(format!("{label} (live)"), egui::Color32::BLACK, metric(c)).dashed());
    }
    let light = ThemeChoice::Light;
    let figure = Figure {
        title: format!(
            "{} vs length — {} (all encodings)",
            if state.token_metric {
                "Token accuracy"
            } else {
                "Exact match"
            },
            state.task.label()
        ),
        caption: String::new(),
        panels: vec![
            Panel::plot(
                "trained models past their training length",
                "sequence length N (tokens)",
                if state.token_metric {
                    "token accuracy"
                } else {
                    "exact match"
                },
                series,
            )
            .with_y_range(0.0, 1.0)
            .with_x_range(0.0, *LEN_RANGE.end() as f64)
            .with_marker("L_train", train_len, light.warn())
            .with_marker("N", state.seq_len as f64, light.accent_text()),
        ],
    };
    Ok(crate::export::Exported {
        json: serde_json::json!({ "task": state.task.key(), "models": models, "current": live }),
        csv,
        image: None,
        figure: Some(figure),
    })
}

/// The learned position table has no row for this length: not a failure, a limit of the encoding.
fn is_past_table(e: &ModelError) -> bool {
    matches!(e, ModelError::Pe(crate::pe::PeError::PastLearnedTable { .. }))
}

impl View for ModelLabView {
    fn key(&self) -> &'static str {
        "model"
    }
    fn title(&self) -> &'static str {
        "Model lab"
    }
    fn explanation(&self) -> String {
        explanation(self.state.task, self.state.pe)
    }
    delegate_state!(seq_len);
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        LEN_RANGE
    }
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.controls(ui)
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        let arrived: Vec<_> = self.inboxes.iter().filter_map(|i| i.borrow_mut().take()).collect();
        self.inboxes.retain(|i| std::rc::Rc::strong_count(i) > 1);
        for files in arrived {
            self.receive_files(files);
        }
        self.run_jobs(env.ctx, env.compute);
    }
    fn opens_file(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        lower.ends_with(".plw") || lower.ends_with(".json")
    }
    fn open_files(&mut self, files: Vec<crate::file_open::PickedFile>) {
        self.receive_files(files);
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn scrolls(&self) -> bool {
        true
    }
    fn errors(&self) -> Vec<String> {
        self.load_errors()
    }
    /// The accuracy curves of every encoding for the task, plus the live read-out. Headless
    /// (`poslens export`), the metadata is read from disk first.
    fn export(&self) -> Result<Exported, ExportError> {
        #[cfg(not(target_arch = "wasm32"))]
        if self.resolved.is_empty() {
            return curves_export(&self.state, &load_metas_blocking(), None, None);
        }
        curves_export(
            &self.state,
            &self.resolved,
            self.result().and_then(|r| r.as_ref().ok()),
            self.yours.as_ref(),
        )
    }
    fn status_extras(&self, extras: &mut Map<String, Value>) {
        extras.insert("model_lab".into(), super::to_json(&self.status()));
    }
}
