//! View: one scheme's query × key attention map, recomputed as the length is dragged, with the
//! training length `L_train` marked — the place where extrapolation failures begin.
//!
//! The map comes from the engine façade `crate::analysis::engine` (WGSL on the GPU where the
//! renderer allows, else the CPU path over `crate::pe`), aggregated to at most [`MAP_SIDE`]² cells.

use egui::{RichText, Stroke, Ui, pos2};

use serde_json::{Map, Value};

use crate::analysis::attention_map::AttentionMap;
use crate::analysis::engine::{LiveMap, MapEngines, Progress};
use crate::analysis::grid::{Aggregate, Grid};
use crate::export::{ExportError, Exported, map_export};
use crate::pe::scheme::{self, HEADS, SchemeKind};
use crate::theme::{Colormap, ThemeChoice};
use crate::views::{View, ViewEnv};
use crate::widgets::colorbar::colorbar_ui;
use crate::widgets::heatmap::{Axes, Heatmap};
use crate::widgets::log_slider::log_slider_ui;
use crate::widgets::train_marker::train_marker_ui;

mod state;
pub use state::*;

/// The view: state plus caches.
#[derive(Default)]
pub struct AttentionView {
    pub state: AttentionState,
    cached_for: Option<AttentionState>,
    /// Whether that state's map was asked of the GPU.
    cached_gpu: Option<bool>,
    /// The map on screen, computed through the engine façade.
    live: LiveMap,
    heatmap: Heatmap,
    /// Where the map was drawn last frame, in points (the browser test's pixel comparison).
    plot_rect: Option<egui::Rect>,
    /// Maps put on screen so far (the drag-rate bench counts them).
    maps_shown: u64,
    /// The length slider's handle, in points (the drag-rate bench drags it).
    len_handle: Option<egui::Pos2>,
    error: Option<String>,
}

impl AttentionView {
    pub fn new(state: AttentionState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    pub fn map(&self) -> &AttentionMap {
        self.live.map()
    }

    /// Side-panel controls. Returns the response of the length slider.
    fn controls(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Scheme").strong());
        ui.horizontal_wrapped(|ui| {
            for kind in SchemeKind::ANALYTIC {
                ui.selectable_value(&mut s.scheme, kind, kind.title());
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Sequence length N").strong());
        // Up to 65 536 for a map of k − q alone (both engines skip the N² cells), else 8192.
        let len_range = s.len_range();
        let len_response = log_slider_ui(ui, &mut s.seq_len, len_range.clone(), "tokens").on_hover_text(format!(
            "N; the orange tick marks L_train = {}. Up to {} tokens for a map of k − q alone \
                 (identical tokens, any scheme but sinusoidal APE), {} otherwise.",
            s.train_len, RELATIVE_MAX_LEN, ROW_MAX_LEN
        ));
        // Mark L_train on the length slider's rail (log scale, like the slider).
        let (lo, hi) = (*len_range.start() as f32, *len_range.end() as f32);
        let frac = ((s.train_len as f32).max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln());
        let rail = len_response.rect;
        let x = rail.left() + frac.clamp(0.0, 1.0) * ui.spacing().slider_width;
        let color = ui.visuals().warn_fg_color;
        ui.painter().line_segment(
            [pos2(x, rail.bottom() - 3.0), pos2(x, rail.bottom() + 2.0)],
            Stroke::new(2.0, color),
        );
        // Where the length's handle sits (the drag-rate bench presses there).
        let frac_n = ((s.seq_len as f32).max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln());
        self.len_handle = Some(pos2(
            rail.left() + frac_n.clamp(0.0, 1.0) * ui.spacing().slider_width,
            rail.center().y,
        ));
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut s.train_len, TRAIN_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        ui.label(RichText::new("Token content").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.content, ContentKind::Identical, "identical")
                .on_hover_text("Same token everywhere: pure positional effect");
            ui.selectable_value(&mut s.content, ContentKind::Random, "random")
                .on_hover_text("Seeded random tokens (entries of mean 0, variance 1)");
            ui.selectable_value(&mut s.content, ContentKind::Repeating, "repeating")
                .on_hover_text("A random pattern repeated with a period");
        });
        if s.content == ContentKind::Repeating {
            ui.add(egui::Slider::new(&mut s.period, PERIOD_RANGE).text("period"));
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.softmax, true, "softmax")
                .on_hover_text("Attention weights (rows sum to 1)");
            ui.selectable_value(&mut s.softmax, false, "logits")
                .on_hover_text("Raw scores before softmax");
            ui.separator();
            ui.checkbox(&mut s.causal, "causal");
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Head").strong());
        ui.add(egui::Slider::new(&mut s.head, 0..=HEADS - 1).text("head"));
        ui.label(RichText::new(scheme::head_note(s.scheme, s.head)).small());
        if matches!(s.scheme, SchemeKind::Rope | SchemeKind::Xpos) {
            ui.add_space(6.0);
            ui.label(RichText::new("RoPE base b").strong());
            ui.add(
                egui::Slider::new(&mut s.rope_base, BASE_RANGE)
                    .logarithmic(true)
                    .text("base"),
            );
        }
        ui.label(RichText::new("Head dimension d").strong());
        ui.add(
            egui::Slider::new(&mut s.head_dim, HEAD_DIM_RANGE)
                .step_by(2.0)
                .text("dims"),
        );
        ui.add_space(6.0);
        ui.label(RichText::new("When N exceeds the map").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.aggregate, Aggregate::Mean, "mean of block");
            ui.selectable_value(&mut s.aggregate, Aggregate::Max, "max of block");
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Heatmap engine").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.engine, EnginePref::Auto, "auto")
                .on_hover_text("The faster engine for this length, timed by the app at first use (see the status bar)");
            ui.selectable_value(&mut s.engine, EnginePref::Gpu, "GPU")
                .on_hover_text("The WGSL engine (WebGPU) for relative schemes with identical tokens; CPU otherwise");
            ui.selectable_value(&mut s.engine, EnginePref::Cpu, "CPU")
                .on_hover_text("The CPU engine (wasm), which every browser has");
        });
        self.state.sanitize();
        len_response
    }

    /// Recompute when the state changed, through the engine façade (GPU when allowed and
    /// preferred, else CPU); pick up a finished GPU map.
    fn recompute(&mut self, ctx: &egui::Context, engines: &MapEngines, deadline: web_time::Instant) {
        if self.live.poll(engines, deadline) {
            self.show(ctx, engines);
        }
        if let Some(e) = self.live.error() {
            self.error = Some(e.to_string());
        }
        if self.live.is_pending() {
            ctx.request_repaint();
        }
        // A CPU job is restarted when the state moves on; so is a GPU job when its picture is
        // drawn on the device (its statistics may lag) — else wait for its read-back.
        // The automatic engine choice may change once both engines are timed: recompute then.
        let wants_gpu = self.state.engine.prefers_gpu(engines, self.state.seq_len);
        if (self.live.is_gpu_pending() && !engines.draws_on_gpu())
            || (self.cached_for.as_ref() == Some(&self.state) && self.cached_gpu == Some(wants_gpu))
        {
            return;
        }
        self.cached_for = Some(self.state.clone());
        self.cached_gpu = Some(wants_gpu);
        let prepared = match self.state.prepare() {
            Ok(p) => p,
            Err(e) => {
                self.error = Some(e.to_string());
                return;
            }
        };
        match self.live.start(engines, prepared, self.state.request(), wants_gpu) {
            Ok(Progress::Ready) => {
                self.show(ctx, engines);
            }
            Ok(Progress::Pending) => {
                // A GPU map drawn on the device is on screen this frame.
                if self.live.gpu_picture().is_some() && engines.draws_on_gpu() && self.show(ctx, engines) {
                    self.error = None;
                }
                // Spend what is left of this frame's budget on it right away (none when the
                // preparation used it up: the next frame continues).
                if web_time::Instant::now() < deadline && self.live.poll(engines, deadline) {
                    self.show(ctx, engines);
                }
                ctx.request_repaint();
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Put the newest map on screen (drawn on the device, or as a texture); counts it.
    fn show(&mut self, ctx: &egui::Context, engines: &MapEngines) -> bool {
        let shown = self.heatmap.show_live(
            ctx,
            engines,
            &self.live,
            None,
            "attention",
            self.state.colormap(),
            self.state.aggregate,
        );
        if shown {
            self.maps_shown += 1;
            self.error = None;
        }
        shown
    }

    /// The central area.
    fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let s = self.state.clone();
        ui.heading(format!("Attention — {}", s.scheme.title()));
        ui.label(RichText::new(s.scheme.explanation()).color(theme.weak_text()));
        if let Some(err) = &self.error {
            ui.colored_label(theme.error(), format!("Cannot compute this map: {err}"));
            return;
        }
        if self.live.map().n == 0 && !self.heatmap.is_gpu_drawn() {
            // The first map of a large request is still being computed (over several frames).
            ui.horizontal(|ui| {
                ui.spinner();
                let done = self.live.progress().unwrap_or(0.0) * 100.0;
                ui.label(format!("computing the {0}×{0} map… {done:.0} %", s.seq_len));
            });
            return;
        }
        let avail = ui.available_size();
        let side = (avail.y - 40.0).min(avail.x - 90.0).max(160.0);
        let map = self.live.map();
        let grid = Grid {
            values: &map.values,
            rows: map.rows,
            cols: map.cols,
        };
        // A device-drawn picture can be newer than the read-back map.
        let n = match self.live.gpu_picture() {
            Some(p) if self.heatmap.is_gpu_drawn() => p.n,
            _ => map.n,
        };
        let mut hover = None;
        let mut plot_rect = None;
        let cmap = if s.softmax { Colormap::Viridis } else { Colormap::Magma };
        ui.horizontal(|ui| {
            let axes = Axes {
                row_label: "query m ↓",
                col_label: "key n →",
                rows: n,
                cols: n,
            };
            let (plot, h) = self.heatmap.ui(ui, egui::vec2(side, side), grid, &axes);
            plot_rect = Some(plot);
            hover = h;
            train_marker_ui(ui, plot, s.train_len, n, theme.warn());
            colorbar_ui(ui, side, map.range, cmap, if s.softmax { "weight" } else { "logit" });
        });
        self.plot_rect = plot_rect;
        ui.horizontal_wrapped(|ui| {
            match hover.and_then(|h| self.live.exact_value(h.row, h.col).map(|v| (h, v))) {
                Some((h, v)) => ui.monospace(format!("query {}, key {}: {}", h.row, h.col, fmt_value(v))),
                None => ui.label(RichText::new("Hover the map to read (query, key, value).").color(theme.weak_text())),
            };
            ui.separator();
            ui.label(format!("mean entropy {:.2} nats", map.mean_entropy_nats));
            if let Some(beyond) = map.mass_beyond_train {
                ui.separator();
                ui.label(format!("mass at distance ≥ L_train: {:.1} %", beyond * 100.0));
            }
            ui.separator();
            match self.live.progress() {
                Some(p) => {
                    ui.add(egui::ProgressBar::new(p).desired_width(140.0).text(format!(
                        "computing N = {} on the CPU… {:.0} %",
                        s.seq_len,
                        p * 100.0
                    )));
                }
                None if self.heatmap.is_gpu_drawn() => {
                    let ms = self.live.compute_ms();
                    ui.label(if ms > 0.0 {
                        format!("computed and drawn on the GPU; statistics read back in {ms:.1} ms")
                    } else {
                        "computed and drawn on the GPU; statistics on their way…".to_owned()
                    })
                    .on_hover_text(
                        "The picture is coloured on the GPU straight from the compute pass's buffers \
                         (no read-back); entropy and mass come back asynchronously and may lag a frame.",
                    );
                }
                None => {
                    ui.label(format!(
                        "computed on the {} in {:.1} ms",
                        self.live.engine().key().to_uppercase(),
                        self.live.compute_ms()
                    ));
                }
            }
            if map.n > map.rows {
                ui.separator();
                let how = if s.aggregate == Aggregate::Mean { "mean" } else { "max" };
                ui.label(
                    RichText::new(format!("{0}×{0} map shown as {1}×{1} blocks ({how})", map.n, map.rows))
                        .color(theme.warn()),
                );
            }
        });
    }
}

fn fmt_value(v: f32) -> String {
    if v == f32::NEG_INFINITY {
        "masked".to_owned()
    } else {
        format!("{v:.5}")
    }
}

impl View for AttentionView {
    fn key(&self) -> &'static str {
        "attention"
    }
    fn title(&self) -> &'static str {
        "Attention"
    }
    fn explanation(&self) -> String {
        self.state.scheme.explanation().to_owned()
    }
    delegate_state!(seq_len);
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        self.state.len_range()
    }
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.controls(ui)
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        self.recompute(env.ctx, env.engines, env.deadline);
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn errors(&self) -> Vec<String> {
        self.error.iter().cloned().collect()
    }
    fn export(&self) -> Result<Exported, ExportError> {
        let map = self.state.compute(&self.state.prepare()?)?;
        Ok(map_export(&map, self.state.scheme.title(), self.state.colormap()))
    }
    fn status_extras(&self, extras: &mut Map<String, Value>) {
        extras.insert("heatmap_engine".into(), self.live.engine().key().into());
        // "gpu": drawn from the device's buffers by a paint callback; "texture": CPU-coloured.
        extras.insert(
            "heatmap_drawn".into(),
            if self.heatmap.is_gpu_drawn() { "gpu" } else { "texture" }.into(),
        );
        extras.insert("heatmap_ms".into(), self.live.compute_ms().into());
        extras.insert("heatmap_busy_ms".into(), self.live.busy_ms().into());
        extras.insert("maps_shown".into(), self.maps_shown.into());
        extras.insert(
            "len_handle".into(),
            self.len_handle.map_or(Value::Null, |p| serde_json::json!([p.x, p.y])),
        );
        extras.insert(
            "heatmap_rect".into(),
            self.plot_rect.map_or(Value::Null, |r| {
                serde_json::json!([r.min.x, r.min.y, r.width(), r.height()])
            }),
        );
        extras.insert(
            "heatmap_progress".into(),
            self.live.progress().map_or(Value::Null, Value::from),
        );
        extras.insert(
            "gpu_cpu_max_diff".into(),
            self.live.gpu_cpu_max_diff().map_or(Value::Null, Value::from),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_has_the_same_numbers_as_the_view_computation() {
        let mut view = AttentionView::default();
        for (k, v) in [("len", "32"), ("scheme", "alibi"), ("head", "1")] {
            assert_eq!(view.read_hash_key(k, v), Some(true));
        }
        let e = view.export().expect("export");
        let map = view
            .state
            .compute(&view.state.prepare().expect("prepare"))
            .expect("map");
        let v = &e.json["map"]["values"];
        assert_eq!(v[5][3].as_f64().map(|x| x as f32), Some(map.values[5 * 32 + 3]));
        assert!(v[3][5].is_null(), "future key is masked");
        // CSV row 5 (after the header) holds the same value in column k3.
        let row5: Vec<&str> = e.csv.lines().nth(6).expect("row").split(',').collect();
        assert_eq!(row5[4].parse::<f32>().ok(), Some(map.values[5 * 32 + 3]));
    }

    #[test]
    fn the_view_draws_what_the_engine_computed_on_the_cpu() {
        let ctx = egui::Context::default();
        let engines = MapEngines::cpu_only();
        let mut view = AttentionView::default();
        view.state.seq_len = 64;
        view.update(&ViewEnv {
            ctx: &ctx,
            compute: None,
            engines: &engines,
            deadline: web_time::Instant::now() + std::time::Duration::from_secs(60),
        });
        assert!(view.errors().is_empty());
        let mut extras = Map::new();
        view.status_extras(&mut extras);
        assert_eq!(extras["heatmap_engine"], "cpu");
        let direct = view
            .state
            .compute(&view.state.prepare().expect("prepare"))
            .expect("map");
        assert_eq!(view.map().values.len(), direct.values.len());
        assert!(
            view.map()
                .values
                .iter()
                .zip(&direct.values)
                .all(|(a, b)| (a - b).abs() <= 2e-6 * (1.0 + b.abs()) || (a.is_nan() && b.is_nan()))
        );
    }
}
