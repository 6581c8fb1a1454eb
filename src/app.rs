//! The eframe app: top bar (name, view switcher, theme), side panel (controls + notes), central
//! view, and a status line naming the render and compute backends.
//!
//! Data flow per frame: controls mutate [`AppState`] → the active view recomputes what changed
//! (`crate::pe` on the CPU, burn jobs on the compute device) → textures → egui draws.

use egui::{Align, Layout, RichText};
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::compute::{ComputeBackend, ComputeDevice};
use crate::status::{RenderBackend, Status};
use crate::theme::{SIDE_PANEL_WIDTH_PT, ThemeChoice};
use crate::views::ViewId;
use crate::views::attention::{AttentionState, AttentionView};
use crate::views::bias::{BiasState, BiasView};
use crate::views::compare::{CompareState, CompareView};
use crate::views::extension::{ExtensionState, ExtensionView};
use crate::views::model_lab::{ModelLabState, ModelLabView};
use crate::views::rope::{RopeState, RopeView};
use crate::views::sinusoidal::{SinusoidalState, SinusoidalView};

/// Everything the user can set; serialised into the URL hash.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppState {
    pub view: ViewId,
    pub theme: ThemeChoice,
    pub sinusoidal: SinusoidalState,
    pub attention: AttentionState,
    pub compare: CompareState,
    pub rope: RopeState,
    pub extension: ExtensionState,
    pub bias: BiasState,
    pub model: ModelLabState,
    /// `embed=1`: only the view and its essential controls (for iframes).
    pub embed: bool,
}

pub struct PosLensApp {
    theme: ThemeChoice,
    view: ViewId,
    embed: bool,
    sinusoidal: SinusoidalView,
    attention: AttentionView,
    compare: CompareView,
    rope: RopeView,
    extension: ExtensionView,
    bias: BiasView,
    model: ModelLabView,
    compute: Option<ComputeDevice>,
    /// The WGSL heatmap engine on eframe's device (WebGPU or native; not WebGL2).
    gpu: Option<crate::gpu::attention_map::GpuAttentionMap>,
    render_backend: RenderBackend,
    frames: u64,
    last_frame_ms: f32,
    /// Notes from reading the URL (clamped values etc.), shown until dismissed.
    notes: Vec<String>,
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    last_hash: String,
    /// Where the central view was drawn last frame (for the PNG export crop).
    central_rect: egui::Rect,
    /// A requested screenshot: the crop rectangle and where the image will arrive.
    pending_png: Option<(egui::Rect, ScreenshotSlot)>,
    /// Result of the last export, shown under the export buttons.
    export_note: Option<Result<String, String>>,
    /// Named control rectangles of this frame, reported in the status (tests drive them).
    control_rects: std::collections::BTreeMap<String, egui::Rect>,
}

type ScreenshotSlot = std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<egui::ColorImage>>>>;

impl PosLensApp {
    /// Build the app from eframe's creation context and an initial URL hash.
    pub fn new(cc: &eframe::CreationContext<'_>, hash: &str) -> Self {
        let (state, notes) = crate::url_state::from_hash(hash);
        let render_state = cc.wgpu_render_state.as_ref();
        let render_backend = render_state
            .map(|rs| RenderBackend::from_wgpu(rs.adapter.get_info().backend))
            .unwrap_or_default();
        let compute = crate::compute::select_device(render_state);
        log::info!(
            "render backend {render_backend:?}; compute {:?} ({})",
            compute.backend,
            compute.note
        );
        state.theme.apply(&cc.egui_ctx);
        #[cfg(target_arch = "wasm32")]
        crate::web::register_context(&cc.egui_ctx);
        let mut app = Self::from_parts(state, notes, Some(compute), render_backend);
        app.gpu = render_state
            .filter(|rs| rs.adapter.get_info().backend != eframe::egui_wgpu::wgpu::Backend::Gl)
            .map(|rs| crate::gpu::attention_map::GpuAttentionMap::new(&rs.device, &rs.queue));
        app
    }

    /// Build without a window (tests): `compute` may be `None` to skip burn entirely.
    pub fn from_parts(
        state: AppState,
        notes: Vec<String>,
        compute: Option<ComputeDevice>,
        render_backend: RenderBackend,
    ) -> Self {
        Self {
            theme: state.theme,
            view: state.view,
            embed: state.embed,
            sinusoidal: SinusoidalView::new(state.sinusoidal),
            attention: AttentionView::new(state.attention),
            compare: CompareView::new(state.compare),
            rope: RopeView::new(state.rope),
            extension: ExtensionView::new(state.extension),
            bias: BiasView::new(state.bias),
            model: ModelLabView::new(state.model),
            compute,
            gpu: None,
            render_backend,
            frames: 0,
            last_frame_ms: 0.0,
            notes,
            last_hash: String::new(),
            central_rect: egui::Rect::NOTHING,
            pending_png: None,
            export_note: None,
            control_rects: Default::default(),
        }
    }

    /// Replace the whole state (e.g. from an edited URL hash); views recompute what changed.
    pub fn apply_state(&mut self, ctx: &egui::Context, state: AppState, notes: Vec<String>) {
        if state.theme != self.theme {
            state.theme.apply(ctx);
        }
        self.theme = state.theme;
        self.view = state.view;
        self.embed = state.embed;
        self.sinusoidal.state = state.sinusoidal;
        self.attention.state = state.attention;
        self.compare.state = state.compare;
        self.rope.state = state.rope;
        self.extension.state = state.extension;
        self.bias.state = state.bias;
        self.model.state = state.model;
        self.notes = notes;
    }

    pub fn state(&self) -> AppState {
        AppState {
            view: self.view,
            theme: self.theme,
            sinusoidal: self.sinusoidal.state.clone(),
            attention: self.attention.state.clone(),
            compare: self.compare.state.clone(),
            rope: self.rope.state.clone(),
            extension: self.extension.state.clone(),
            bias: self.bias.state.clone(),
            model: self.model.state.clone(),
            embed: self.embed,
        }
    }

    /// The URL hash of the current state (the web entry mirrors it into `location.hash`).
    pub fn hash(&self) -> String {
        crate::url_state::to_hash(&self.state())
    }

    fn compute_backend(&self) -> ComputeBackend {
        self.compute.as_ref().map_or(ComputeBackend::Cpu, |c| c.backend)
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(
                RichText::new("PosLens")
                    .strong()
                    .size(18.0)
                    .color(self.theme.accent_text()),
            );
            ui.label(RichText::new("positional encodings, live").color(self.theme.weak_text()));
            ui.separator();
            for v in ViewId::ALL {
                ui.selectable_value(&mut self.view, v, v.title());
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                let label = match self.theme {
                    ThemeChoice::Dark => "☀ light",
                    ThemeChoice::Light => "🌙 dark",
                };
                if ui.button(label).on_hover_text("Switch colour theme").clicked() {
                    self.theme = self.theme.toggled();
                    self.theme.apply(ui.ctx());
                }
            });
        });
    }

    fn status_line_ui(&self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("render: {}", self.render_backend.label()));
            ui.separator();
            let compute = self.compute.as_ref();
            let color = match self.compute_backend() {
                ComputeBackend::Wgpu => self.theme.ok(),
                _ => self.theme.warn(),
            };
            ui.colored_label(color, format!("compute: burn {}", self.compute_backend().label()))
                .on_hover_text(compute.map_or("no burn device", |c| c.note.as_str()));
            if let Some(c) = compute
                && c.backend != ComputeBackend::Wgpu
            {
                ui.label(RichText::new(&c.note).color(self.theme.weak_text()));
            }
            ui.separator();
            match self.sinusoidal.check() {
                None => {
                    ui.spinner();
                }
                Some(Ok(c)) if c.passed => {
                    ui.colored_label(
                        self.theme.ok(),
                        format!("✔ burn softmax row matches CPU (max |Δ| = {:.1e})", c.max_abs_diff),
                    );
                }
                Some(Ok(c)) => {
                    ui.colored_label(
                        self.theme.error(),
                        format!("✘ burn softmax row differs from CPU (max |Δ| = {:.1e})", c.max_abs_diff),
                    );
                }
                Some(Err(e)) => {
                    ui.colored_label(self.theme.error(), format!("✘ {e}"));
                }
            }
            ui.separator();
            ui.label(RichText::new(format!("frame {:.1} ms", self.last_frame_ms)).color(self.theme.weak_text()));
        });
    }

    fn errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(Err(e)) = self.sinusoidal.check() {
            errors.push(e.clone());
        }
        if let Some(Ok(c)) = self.sinusoidal.check()
            && !c.passed
        {
            errors.push(format!("burn/CPU mismatch: max |Δ| = {}", c.max_abs_diff));
        }
        if let Some(e) = self.sinusoidal.error() {
            errors.push(e.to_owned());
        }
        if let Some(e) = self.attention.error() {
            errors.push(e.to_owned());
        }
        errors.extend(self.compare.errors());
        errors.extend(self.rope.error().map(str::to_owned));
        errors.extend(self.extension.error().map(str::to_owned));
        errors.extend(self.bias.errors());
        errors.extend(self.model.errors());
        errors
    }

    /// One frame of UI; returns the rectangle of the length slider.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) -> egui::Rect {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.handle_keys(&ctx);
        self.finish_png_export(&ctx);
        let mut len_rect = egui::Rect::NOTHING;
        if !self.embed {
            egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
            egui::Panel::bottom("status_line").show(ui, |ui| self.status_line_ui(ui));
        }
        egui::Panel::left("controls")
            .resizable(false)
            .exact_size(SIDE_PANEL_WIDTH_PT)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    ui.add_space(6.0);
                    len_rect = match self.view {
                        ViewId::Attention => self.attention.controls_ui(ui).rect,
                        ViewId::Compare => self.compare.controls_ui(ui).rect,
                        ViewId::Rope => self.rope.controls_ui(ui).rect,
                        ViewId::Extension => self.extension.controls_ui(ui).rect,
                        ViewId::Bias => self.bias.controls_ui(ui).rect,
                        ViewId::Sinusoidal => self.sinusoidal.controls_ui(ui).rect,
                        ViewId::Model => self.model.controls_ui(ui).rect,
                    };
                    ui.add_space(12.0);
                    self.export_ui(ui);
                    if !self.notes.is_empty() {
                        ui.add_space(10.0);
                        ui.colored_label(self.theme.warn(), "Link adjusted:");
                        for n in &self.notes {
                            ui.label(RichText::new(format!("• {n}")).small().color(self.theme.warn()));
                        }
                        if ui.small_button("dismiss").clicked() {
                            self.notes.clear();
                        }
                    }
                    ui.add_space(10.0);
                    ui.label(
                        RichText::new("Keys: ← → halve / double the length, [ ] switch views.")
                            .small()
                            .color(self.theme.weak_text()),
                    );
                });
            });
        // The sinusoidal view also runs the burn check the status line reports.
        self.sinusoidal.update(&ctx, self.compute.as_ref());
        match self.view {
            ViewId::Attention => self.attention.update(&ctx, self.gpu.as_ref()),
            ViewId::Compare => self.compare.update(&ctx),
            ViewId::Rope => self.rope.update(&ctx),
            ViewId::Extension => self.extension.update(&ctx),
            ViewId::Bias => self.bias.update(),
            ViewId::Sinusoidal => {}
            ViewId::Model => self.model.update(&ctx, self.compute.as_ref()),
        }
        self.central_rect = egui::CentralPanel::default()
            .show(ui, |ui| match self.view {
                ViewId::Attention => self.attention.ui(ui, self.theme),
                ViewId::Compare => self.compare.ui(ui, self.theme),
                ViewId::Rope => self.rope.ui(ui, self.theme),
                ViewId::Extension => {
                    egui::ScrollArea::vertical().show(ui, |ui| self.extension.ui(ui, self.theme));
                }
                ViewId::Bias => self.bias.ui(ui, self.theme),
                ViewId::Sinusoidal => self.sinusoidal.ui(ui, self.theme),
                ViewId::Model => {
                    egui::ScrollArea::vertical().show(ui, |ui| self.model.ui(ui, self.theme));
                }
            })
            .response
            .rect;
        self.frames += 1;
        self.last_frame_ms = started.elapsed().as_secs_f32() * 1000.0;
        len_rect
    }

    /// Export buttons: PNG of the view (a screenshot of the central area), CSV and JSON of its data
    /// (the same numbers as `poslens export`).
    fn export_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Export this view").strong());
        ui.horizontal(|ui| {
            let name = format!("poslens-{}", self.view.key());
            let png = ui.button("PNG").on_hover_text("Image of the view as shown");
            self.control_rects.insert("export_png".into(), png.rect);
            if png.clicked() && self.pending_png.is_none() {
                let slot: ScreenshotSlot = Default::default();
                let sink = slot.clone();
                let ctx = ui.ctx().clone();
                ui.ctx().request_screenshot(move |image| {
                    if let Ok(mut s) = sink.lock() {
                        *s = Some(image);
                    }
                    ctx.request_repaint();
                });
                self.pending_png = Some((self.central_rect, slot));
            }
            for (label, ext, mime) in [("CSV", "csv", "text/csv"), ("JSON", "json", "application/json")] {
                let button = ui.button(label).on_hover_text(format!("The view's numbers as {label}"));
                self.control_rects.insert(format!("export_{ext}"), button.rect);
                if button.clicked() {
                    let format = if ext == "csv" {
                        crate::export::Format::Csv
                    } else {
                        crate::export::Format::Json
                    };
                    let exported = match self.view {
                        ViewId::Model => self.model.export(),
                        _ => crate::export::export(&self.state()),
                    };
                    let result = exported
                        .and_then(|e| e.bytes(format))
                        .and_then(|bytes| crate::download::save(&format!("{name}.{ext}"), mime, &bytes));
                    self.export_note = Some(result);
                }
            }
        });
        match &self.export_note {
            Some(Ok(msg)) => ui.label(RichText::new(msg).small().color(self.theme.ok())),
            Some(Err(e)) => ui.label(RichText::new(e).small().color(self.theme.error())),
            None => ui.label(
                RichText::new("CLI: poslens export --state '<link hash>' --out fig.png")
                    .small()
                    .color(self.theme.weak_text()),
            ),
        };
    }

    /// Save a screenshot that arrived for the PNG export.
    fn finish_png_export(&mut self, ctx: &egui::Context) {
        let Some((rect, slot)) = &self.pending_png else { return };
        let image = slot.lock().ok().and_then(|mut s| s.take());
        let Some(image) = image else { return };
        let crop = if rect.is_positive() {
            image.region(rect, Some(ctx.pixels_per_point()))
        } else {
            (*image).clone()
        };
        let rgba: Vec<u8> = crop.pixels.iter().flat_map(|c| c.to_array()).collect();
        let img = crate::export::Image {
            width: crop.size[0],
            height: crop.size[1],
            rgba,
        };
        let name = format!("poslens-{}.png", self.view.key());
        self.export_note =
            Some(crate::export::encode_png(&img).and_then(|bytes| crate::download::save(&name, "image/png", &bytes)));
        self.pending_png = None;
    }

    fn handle_keys(&mut self, ctx: &egui::Context) {
        if ctx.memory(|m| m.focused().is_some()) {
            return; // a focused widget (e.g. a slider) owns the keys
        }
        let (right, left, next, prev) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::ArrowRight),
                i.key_pressed(egui::Key::ArrowLeft),
                i.key_pressed(egui::Key::CloseBracket),
                i.key_pressed(egui::Key::OpenBracket),
            )
        });
        if next {
            self.view = self.view.cycle(1);
        }
        if prev {
            self.view = self.view.cycle(-1);
        }
        let len = self.active_len_mut();
        if right {
            *len = (*len).max(1) * 2;
        }
        if left {
            *len /= 2;
        }
        // Clamp silently: the keys simply stop at the ends of the range.
        self.attention.state.sanitize();
        self.compare.state.sanitize();
        self.rope.state.sanitize();
        self.extension.state.sanitize();
        self.bias.state.sanitize();
        self.sinusoidal.state.sanitize();
        self.model.state.sanitize();
    }

    /// The active view's sequence length.
    fn active_len_mut(&mut self) -> &mut usize {
        match self.view {
            ViewId::Attention => &mut self.attention.state.seq_len,
            ViewId::Compare => &mut self.compare.state.seq_len,
            ViewId::Rope => &mut self.rope.state.query_pos,
            ViewId::Extension => &mut self.extension.state.seq_len,
            ViewId::Bias => &mut self.bias.state.seq_len,
            ViewId::Sinusoidal => &mut self.sinusoidal.state.seq_len,
            ViewId::Model => &mut self.model.state.seq_len,
        }
    }

    /// The status that `window.poslens.status()` reports.
    pub fn status(&self, len_rect: egui::Rect) -> Status {
        let mut rects = self.control_rects.clone();
        rects.insert("seq_len".to_owned(), len_rect);
        let controls = rects
            .into_iter()
            .filter(|(_, r)| r.is_positive())
            .map(|(k, r)| (k, [r.min.x, r.min.y, r.width(), r.height()]))
            .collect();
        let check = self.sinusoidal.check();
        Status {
            ready: self.frames > 0 && (check.is_some() || self.compute.is_none()),
            view: self.view.key().to_owned(),
            views: ViewId::ALL.iter().map(|v| v.key().to_owned()).collect(),
            render_backend: self.render_backend,
            compute_backend: self.compute_backend().label().to_owned(),
            compute_note: self.compute.as_ref().map(|c| c.note.clone()).unwrap_or_default(),
            seq_len: match self.view {
                ViewId::Attention => self.attention.state.seq_len,
                ViewId::Compare => self.compare.state.seq_len,
                ViewId::Rope => self.rope.state.query_pos,
                ViewId::Extension => self.extension.state.seq_len,
                ViewId::Bias => self.bias.state.seq_len,
                ViewId::Sinusoidal => self.sinusoidal.state.seq_len,
                ViewId::Model => self.model.state.seq_len,
            },
            d_model: self.sinusoidal.state.d_model,
            frame_ms: self.last_frame_ms,
            heatmap_engine: self.attention.engine().to_owned(),
            heatmap_ms: self.attention.compute_ms,
            gpu_cpu_max_diff: self.attention.gpu_cpu_max_diff,
            frames: self.frames,
            errors: self.errors(),
            compute_check: check.and_then(|c| c.as_ref().ok()).cloned(),
            controls,
            state_hash: self.hash(),
            model_lab: (self.view == ViewId::Model).then(|| self.model.status()),
        }
    }
}

impl eframe::App for PosLensApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        #[cfg(target_arch = "wasm32")]
        if let Some(hash) = crate::web::take_pending_hash()
            && hash.trim_start_matches('#') != self.last_hash
        {
            let (state, notes) = crate::url_state::from_hash(&hash);
            self.apply_state(ui.ctx(), state, notes);
        }
        let len_rect = self.frame_ui(ui);
        crate::status::publish(self.status(len_rect));
        #[cfg(target_arch = "wasm32")]
        {
            let hash = self.hash();
            if hash != self.last_hash {
                crate::web::set_location_hash(&hash);
                self.last_hash = hash;
            }
        }
    }
}
