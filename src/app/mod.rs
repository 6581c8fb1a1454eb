//! The eframe app: top bar (name, view switcher, theme), side panel (controls + notes), central
//! view, and a status line naming the render and compute backends.
//!
//! Data flow per frame: controls mutate [`AppState`] → the active view recomputes what changed
//! (`crate::pe` on the CPU or WGSL, burn jobs on the compute worker) → textures → egui draws.

mod compact;
mod export_ui;
mod files;
mod status_bar;
mod tour;

use egui::{Align, Layout, RichText};
use web_time::Instant;

use crate::analysis::engine::MapEngines;
use crate::compute::client::{ComputeClient, WorkerState};
use crate::compute::softmax_check::RowJob;
use crate::state::AppState;
use crate::status::RenderBackend;
use crate::theme::{SIDE_PANEL_WIDTH_PT, ThemeChoice};
use crate::views::ViewEnv;

/// The app's readiness check: one softmax row of the sinusoidal table (N = 64, d = 128, p = 32)
/// on the burn device against the CPU, run once when the compute worker first becomes ready (the
/// first page load does not start the worker). `status().compute_check` reports it.
const READINESS_CHECK: (usize, usize, usize) = (64, 128, 32);
/// Width of the top bar's right-hand menus (Tour, Display), in points.
const TOP_MENUS_PT: f32 = 150.0;

pub struct PosLensApp {
    /// Everything the user set: the active view, theme, embed mode and every view's state.
    state: AppState,
    /// The compute worker (burn), started when a view first submits work.
    compute: ComputeClient,
    /// The attention-map engines lent to the views (WGSL where the renderer allows).
    engines: MapEngines,
    /// The burn readiness check (app-wide; not owned by a view).
    readiness: RowJob<()>,
    render_backend: RenderBackend,
    frames: u64,
    last_frame_ms: f32,
    /// When the previous frame started (the interval between frames feeds the engine choice).
    last_frame_start: Option<Instant>,
    /// The slowest frame since the state was last set from a link (the work budget's check).
    slowest_frame_ms: f32,
    /// Notes from reading the URL (clamped values etc.), shown until dismissed.
    notes: LinkNotes,
    /// Where the central view was drawn last frame (for the PNG export crop).
    central_rect: egui::Rect,
    /// A requested screenshot: the crop rectangle and where the image will arrive.
    pending_png: Option<(egui::Rect, ScreenshotSlot)>,
    /// Result of the last export, shown under the export buttons.
    export_note: Option<Result<String, String>>,
    /// Named control rectangles of this frame, reported in the status (tests drive them).
    control_rects: std::collections::BTreeMap<String, egui::Rect>,
    /// Compact layout (embed, phone): whether the controls drawer is open.
    drawer_open: bool,
    /// Whether the last frame used the compact layout.
    last_compact: bool,
    /// The page's URL in the browser (for the embed's "open in PosLens" link).
    page_url: Option<String>,
    /// Files dropped onto the window, still being read.
    dropped: Vec<crate::file_open::Inbox>,
    /// Something the reader must know that is not tied to a view: files dropped that no view
    /// opens, the GPU lost and the app restarted on WebGL2.
    notice: Option<String>,
    /// The shipped guided tours, and one opened from a file (and the file being read).
    tours: Vec<crate::tour::Tour>,
    custom_tour: Option<crate::tour::Tour>,
    tour_inbox: Option<crate::file_open::Inbox>,
}

type ScreenshotSlot = std::sync::Arc<std::sync::Mutex<Option<std::sync::Arc<egui::ColorImage>>>>;

/// Heavy work a view may do in one frame (the heatmap engines' cost model needs it too).
pub use crate::analysis::engine::WORK_BUDGET_MS;

/// The notes from reading a link, identical ones counted once (a link can repeat a bad key
/// thousands of times).
#[derive(Default)]
struct LinkNotes {
    /// Distinct notes in first-seen order, with how often each occurred.
    distinct: Vec<(String, usize)>,
    total: usize,
}

impl LinkNotes {
    fn new(notes: Vec<String>) -> Self {
        let total = notes.len();
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut distinct: Vec<(String, usize)> = Vec::new();
        for n in notes {
            match index.get(&n) {
                Some(&i) => distinct[i].1 += 1,
                None => {
                    index.insert(n.clone(), distinct.len());
                    distinct.push((n, 1));
                }
            }
        }
        Self { distinct, total }
    }
}

/// Distinct notes from a link shown at most.
pub const MAX_LINK_NOTES: usize = 20;

impl PosLensApp {
    /// Build the app from eframe's creation context and an initial URL hash.
    pub fn new(cc: &eframe::CreationContext<'_>, hash: &str) -> Self {
        let (state, notes) = crate::url_state::from_hash(hash);
        let render_state = cc.wgpu_render_state.as_ref();
        let render_backend = render_state
            .map(|rs| RenderBackend::from_wgpu(rs.adapter.get_info().backend))
            .unwrap_or_default();
        let compute = ComputeClient::for_app();
        let ctx = cc.egui_ctx.clone();
        compute.set_waker(move || ctx.request_repaint());
        log::info!("render backend {render_backend:?}; compute worker starts on first use");
        state.theme.apply(&cc.egui_ctx);
        let mut app = Self::from_parts(state, notes, compute, render_backend);
        if let Some(rs) =
            render_state.filter(|rs| rs.adapter.get_info().backend != eframe::egui_wgpu::wgpu::Backend::Gl)
        {
            // GPU maps are drawn in egui's render pass: egui-wgpu's default renderer options
            // (no multisampling, no depth buffer), which the app does not change.
            app.engines = MapEngines::with_gpu_drawing(
                crate::analysis::gpu_map::GpuAttentionMap::new(&rs.device, &rs.queue),
                crate::analysis::gpu_draw::DrawPipeline::new(&rs.device, rs.target_format, 1),
            );
            // `?heatmaps=gpu|cpu` in the page's address overrides the measured choice.
            #[cfg(target_arch = "wasm32")]
            {
                let forced = crate::assets::page_query("heatmaps").and_then(|v| match v.as_str() {
                    "gpu" => Some(true),
                    "cpu" => Some(false),
                    _ => None,
                });
                app.engines.force(forced);
            }
        }
        app
    }

    /// Build without a window (tests): `compute` may be [`ComputeClient::off`] to skip burn.
    pub fn from_parts(
        state: AppState,
        notes: Vec<String>,
        compute: ComputeClient,
        render_backend: RenderBackend,
    ) -> Self {
        Self {
            state,
            compute,
            engines: MapEngines::cpu_only(),
            readiness: RowJob::default(),
            render_backend,
            frames: 0,
            last_frame_ms: 0.0,
            last_frame_start: None,
            slowest_frame_ms: 0.0,
            notes: LinkNotes::new(notes),
            central_rect: egui::Rect::NOTHING,
            pending_png: None,
            export_note: None,
            control_rects: Default::default(),
            drawer_open: false,
            last_compact: false,
            page_url: None,
            dropped: Vec::new(),
            notice: None,
            tours: crate::tour::builtin_names()
                .into_iter()
                .filter_map(crate::tour::builtin)
                .collect(),
            custom_tour: None,
            tour_inbox: None,
        }
    }

    /// Re-read the whole state from an edited URL hash; each view keeps its caches and loaded
    /// data and recomputes what changed.
    pub fn apply_hash(&mut self, ctx: &egui::Context, hash: &str) {
        self.slowest_frame_ms = 0.0;
        let theme = self.state.theme;
        self.notes = LinkNotes::new(crate::url_state::apply_hash(&mut self.state, hash));
        if self.state.theme != theme {
            self.state.theme.apply(ctx);
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The URL hash of the current state (the web entry mirrors it into `location.hash`).
    pub fn hash(&self) -> String {
        crate::url_state::to_hash(&self.state)
    }

    fn top_bar_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let theme = self.state.theme;
            ui.label(RichText::new("PosLens").strong().size(18.0).color(theme.accent_text()));
            // The tagline gives way to the view tabs on narrower windows.
            if ui.available_width() > 1180.0 {
                ui.label(RichText::new("positional encodings, live").color(theme.weak_text()));
            }
            ui.separator();
            let mut chosen = self.state.active_index();
            // Tabs when they fit beside the menus; a picker when the UI is scaled up for
            // presenting or the window is narrow, so the menus stay on screen.
            let font = egui::TextStyle::Button.resolve(ui.style());
            let per_tab = ui.spacing().item_spacing.x + 2.0 * ui.spacing().button_padding.x;
            let tabs_pt: f32 = self
                .state
                .views()
                .map(|v| {
                    let title = v.title().to_owned();
                    ui.ctx()
                        .fonts_mut(|f| f.layout_no_wrap(title, font.clone(), egui::Color32::WHITE).size().x)
                        + per_tab
                })
                .sum();
            if ui.available_width() > tabs_pt + TOP_MENUS_PT {
                for (i, v) in self.state.views().enumerate() {
                    ui.selectable_value(&mut chosen, i, v.title());
                }
            } else {
                let titles: Vec<&str> = self.state.views().map(|v| v.title()).collect();
                egui::ComboBox::from_id_salt("view_picker")
                    .selected_text(RichText::new(titles.get(chosen).copied().unwrap_or_default()).strong())
                    .show_ui(ui, |ui| {
                        for (i, t) in titles.iter().enumerate() {
                            ui.selectable_value(&mut chosen, i, *t);
                        }
                    });
            }
            self.state.set_view_index(chosen);
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                self.display_menu_ui(ui);
                self.tour_menu_ui(ui);
            });
        });
    }

    /// Theme and UI scale (presenter mode: `theme=contrast`, `scale=1.5`).
    fn display_menu_ui(&mut self, ui: &mut egui::Ui) {
        let menu = ui.menu_button("Display ▾", |ui| {
            ui.label(RichText::new("Theme").strong());
            for t in ThemeChoice::ALL {
                if ui.radio(self.state.theme == t, t.label()).clicked() {
                    self.state.theme = t;
                    t.apply(ui.ctx());
                }
            }
            ui.separator();
            ui.label(RichText::new("UI scale (presenting)").strong());
            ui.add(egui::Slider::new(&mut self.state.scale, crate::state::SCALE_RANGE).step_by(0.05));
            ui.horizontal(|ui| {
                for s in [1.0, 1.5, 2.0] {
                    if ui.button(format!("{s}×")).clicked() {
                        self.state.scale = s;
                    }
                }
            });
            if ui.button("Presenter mode (high contrast, 1.5×)").clicked() {
                self.state.theme = ThemeChoice::Contrast;
                self.state.theme.apply(ui.ctx());
                self.state.scale = 1.5;
            }
        });
        self.control_rects.insert("display_menu".into(), menu.response.rect);
    }

    /// One frame of UI; returns the rectangle of the length slider.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) -> egui::Rect {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.handle_keys(&ctx);
        self.tour_keys(&ctx);
        self.poll_tour_inbox(&ctx);
        if (ctx.zoom_factor() - self.state.scale).abs() > 1e-3 {
            ctx.set_zoom_factor(self.state.scale);
        }
        self.finish_png_export(&ctx);
        let mut len_rect = egui::Rect::NOTHING;
        let compact = self.compact(&ctx);
        self.last_compact = compact;
        let mut bar_rect = egui::Rect::NOTHING;
        if compact {
            let bar = egui::Panel::top("compact_bar").show(ui, |ui| self.compact_bar_ui(ui));
            len_rect = bar.inner;
            bar_rect = bar.response.rect;
        } else {
            egui::Panel::top("top_bar").show(ui, |ui| self.top_bar_ui(ui));
            egui::Panel::bottom("status_line").show(ui, |ui| self.status_line_ui(ui));
            egui::Panel::left("controls")
                .resizable(false)
                .exact_size(SIDE_PANEL_WIDTH_PT)
                .show(ui, |ui| len_rect = self.controls_panel_ui(ui));
        }
        if self.state.tour.is_some() {
            egui::Panel::bottom("tour").show(ui, |ui| self.tour_panel_ui(ui));
        }
        if compact && self.drawer_open {
            // The drawer slides over the view (which keeps its layout) instead of squeezing it.
            self.drawer_ui(&ctx, bar_rect.bottom());
        }
        // In-process compute (native) gets its slice of a training run.
        if self.compute.poll() {
            ctx.request_repaint();
        }
        // The app-wide burn readiness check (once, when the worker is up; collected here).
        let (n, d, p) = READINESS_CHECK;
        let worker_up = matches!(self.compute.state(), WorkerState::Ready { .. });
        if worker_up
            && self.readiness.update(Some(&self.compute), (), || {
                let table =
                    crate::pe::sinusoidal::table(d, n, crate::pe::SinusoidalLayout::Interleaved).unwrap_or_default();
                (table, n, d, p)
            })
        {
            ctx.request_repaint();
        }
        self.route_dropped_files(&ctx);
        // Time both heatmap engines at first use (a few ms of CPU, then GPU probes in flight),
        // and how far apart frames come meanwhile.
        let interval_ms = self
            .last_frame_start
            .map_or(0.0, |t| started.duration_since(t).as_secs_f64() * 1000.0);
        self.last_frame_start = Some(started);
        if self.engines.calibrate(interval_ms) {
            ctx.request_repaint();
        }
        let env = ViewEnv {
            ctx: &ctx,
            compute: Some(&self.compute),
            engines: &self.engines,
            deadline: started + std::time::Duration::from_millis(WORK_BUDGET_MS),
        };
        self.state.active_mut().update(&env);
        if let Some(files) = self.state.active_mut().take_outbox() {
            self.open_files(&ctx, files);
        }
        let theme = self.state.theme;
        let view = self.state.active_mut();
        self.central_rect = egui::CentralPanel::default()
            .show(ui, |ui| {
                if view.scrolls() {
                    egui::ScrollArea::vertical().show(ui, |ui| view.ui(ui, theme));
                } else {
                    view.ui(ui, theme);
                }
            })
            .response
            .rect;
        self.frames += 1;
        self.last_frame_ms = started.elapsed().as_secs_f32() * 1000.0;
        self.slowest_frame_ms = self.slowest_frame_ms.max(self.last_frame_ms);
        len_rect
    }

    /// The side panel's contents (the drawer's in the compact layout); returns the rectangle of
    /// the view's length slider.
    fn controls_panel_ui(&mut self, ui: &mut egui::Ui) -> egui::Rect {
        let mut len_rect = egui::Rect::NOTHING;
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.add_space(6.0);
            len_rect = self.state.active_mut().controls_ui(ui).rect;
            ui.add_space(12.0);
            self.export_ui(ui);
            if let Some(note) = &self.notice {
                ui.add_space(6.0);
                ui.colored_label(self.state.theme.warn(), note);
            }
            self.notes_ui(ui);
            ui.add_space(10.0);
            ui.label(
                RichText::new("Keys: ← → halve / double the length, [ ] switch views.")
                    .small()
                    .color(self.state.theme.weak_text()),
            );
        });
        len_rect
    }

    /// Notes from reading the link: the first [`MAX_LINK_NOTES`], then "and N more".
    fn notes_ui(&mut self, ui: &mut egui::Ui) {
        if self.notes.total == 0 {
            return;
        }
        let warn = self.state.theme.warn();
        ui.add_space(10.0);
        ui.colored_label(warn, "Link adjusted:");
        for (n, count) in self.notes.distinct.iter().take(MAX_LINK_NOTES) {
            let text = if *count > 1 {
                format!("• {n} (×{count})")
            } else {
                format!("• {n}")
            };
            ui.label(RichText::new(text).small().color(warn));
        }
        if self.notes.distinct.len() > MAX_LINK_NOTES {
            ui.label(
                RichText::new(format!("… and {} more", self.notes.distinct.len() - MAX_LINK_NOTES))
                    .small()
                    .color(warn),
            );
        }
        if ui.small_button("dismiss").clicked() {
            self.notes = LinkNotes::default();
        }
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
            self.state.cycle_view(1);
        }
        if prev {
            self.state.cycle_view(-1);
        }
        let view = self.state.active_mut();
        let len = view.length_mut();
        if right {
            *len = (*len).max(1) * 2;
        }
        if left {
            *len /= 2;
        }
        // Clamp silently: the keys simply stop at the ends of the range.
        if right || left {
            view.sanitize();
        }
    }

    /// Show a notice (e.g. "the GPU was lost; running on WebGL2") until something replaces it.
    pub fn set_notice(&mut self, text: impl Into<String>) {
        self.notice = Some(text.into());
    }
}

impl eframe::App for PosLensApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        #[cfg(target_arch = "wasm32")]
        if self.page_url.is_none() {
            self.page_url = Some(_frame.info().web_info.location.url.clone());
        }
        let len_rect = self.frame_ui(ui);
        crate::status::publish(self.status(len_rect));
    }
}

#[cfg(test)]
mod tests {
    use super::LinkNotes;

    #[test]
    fn identical_link_notes_are_counted_once() {
        let notes = LinkNotes::new(
            ["a", "b", "a", "a"]
                .into_iter()
                .map(str::to_owned)
                .chain(std::iter::repeat_n("x".to_owned(), 20_000))
                .collect(),
        );
        assert_eq!(notes.total, 20_004);
        assert_eq!(
            notes.distinct,
            vec![("a".to_owned(), 3), ("b".to_owned(), 1), ("x".to_owned(), 20_000)]
        );
    }
}
