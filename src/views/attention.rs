//! View: one scheme's query × key attention map, recomputed as the length is dragged, with the
//! training length `L_train` marked — the place where extrapolation failures begin.
//!
//! The map comes from the engine façade `crate::analysis::engine` (WGSL on the GPU where the
//! renderer allows, else the CPU path over `crate::pe`), aggregated to at most [`MAP_SIDE`]² cells.

use egui::{RichText, Stroke, Ui, pos2};
use serde::{Deserialize, Serialize};

use serde_json::{Map, Value};

use crate::analysis::attention_map::{self, AttentionMap, MapRequest};
use crate::analysis::engine::{LiveMap, MapEngines, Progress};
use crate::analysis::grid::{Aggregate, Grid};
use crate::export::{ExportError, Exported, map_export};
use crate::pe::scheme::{self, HEADS, SchemeKind, SchemeParams};
use crate::pe::{Content, PeError, PreparedLogits};
use crate::theme::{Colormap, ThemeChoice};
use crate::views::{View, ViewEnv, clamp_noted};
use crate::widgets::colorbar::colorbar_ui;
use crate::widgets::heatmap::{Axes, Heatmap};
use crate::widgets::log_slider::log_slider_ui;
use crate::widgets::train_marker::train_marker_ui;

pub const SEQ_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=8192;
pub const TRAIN_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=4096;
pub const HEAD_DIM_RANGE: std::ops::RangeInclusive<usize> = 8..=256;
pub const BASE_RANGE: std::ops::RangeInclusive<f64> = 100.0..=1.0e7;
pub const PERIOD_RANGE: std::ops::RangeInclusive<usize> = 2..=256;
/// Largest side of the computed (aggregated) map, in cells.
pub const MAP_SIDE: usize = 512;

/// What the q/k vectors hold besides position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentKind {
    /// The same token everywhere: the pure positional effect.
    #[default]
    Identical,
    /// Seeded random tokens (unit-variance entries).
    Random,
    /// A random pattern of `period` tokens, repeated.
    Repeating,
}

impl ContentKind {
    pub const ALL: [ContentKind; 3] = [Self::Identical, Self::Random, Self::Repeating];
    pub fn key(self) -> &'static str {
        match self {
            Self::Identical => "identical",
            Self::Random => "random",
            Self::Repeating => "repeating",
        }
    }
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.key() == key)
    }

    /// The `pe` content for a length, with `period` for the repeating pattern (seed 7).
    pub fn content(self, period: usize, seq_len: usize) -> Content {
        match self {
            Self::Identical => Content::Identical,
            Self::Random => Content::Random { seed: 7 },
            Self::Repeating => Content::Repeating {
                period: period.min(seq_len).max(1),
                seed: 7,
            },
        }
    }
}

/// The serialisable settings of this view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionState {
    pub scheme: SchemeKind,
    pub seq_len: usize,
    pub train_len: usize,
    pub content: ContentKind,
    pub period: usize,
    pub softmax: bool,
    pub causal: bool,
    pub head: usize,
    pub rope_base: f64,
    pub head_dim: usize,
    pub aggregate: Aggregate,
    /// Compute on the GPU (WGSL engine) when the device and the scheme allow it.
    pub use_gpu: bool,
}

impl Default for AttentionState {
    fn default() -> Self {
        Self {
            scheme: SchemeKind::Rope,
            seq_len: 256,
            train_len: 128,
            content: ContentKind::Identical,
            period: 16,
            softmax: true,
            causal: true,
            head: 0,
            rope_base: 10_000.0,
            head_dim: 64,
            aggregate: Aggregate::Mean,
            use_gpu: true,
        }
    }
}

impl AttentionState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        clamp_noted(&mut self.seq_len, SEQ_LEN_RANGE, "len", &mut notes);
        clamp_noted(&mut self.train_len, TRAIN_LEN_RANGE, "train", &mut notes);
        clamp_noted(&mut self.head_dim, HEAD_DIM_RANGE, "hd", &mut notes);
        clamp_noted(&mut self.period, PERIOD_RANGE, "period", &mut notes);
        clamp_noted(&mut self.head, 0..=HEADS - 1, "head", &mut notes);
        crate::views::even_noted(&mut self.head_dim, "hd", &mut notes);
        if !self.rope_base.is_finite() || !BASE_RANGE.contains(&self.rope_base) {
            let c = if self.rope_base.is_finite() {
                self.rope_base.clamp(*BASE_RANGE.start(), *BASE_RANGE.end())
            } else {
                10_000.0
            };
            notes.push(format!("base={} is outside 100…1e7; using {c}", self.rope_base));
            self.rope_base = c;
        }
        notes
    }

    /// Append this view's keys to a URL hash.
    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&len={}&scheme={}&train={}&content={}&period={}&mode={}&causal={}&head={}&base={}&hd={}&agg={}&engine={}",
            self.seq_len,
            self.scheme.key(),
            self.train_len,
            self.content.key(),
            self.period,
            if self.softmax { "softmax" } else { "logits" },
            u8::from(self.causal),
            self.head,
            self.rope_base,
            self.head_dim,
            self.aggregate.key(),
            if self.use_gpu { "gpu" } else { "cpu" }
        ));
    }

    /// Read one URL key: `None` if it is not this view's, else whether the value was valid.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        let num = |v: &str| v.parse::<usize>().ok();
        let ok = match key {
            "len" => num(value).map(|n| self.seq_len = n).is_some(),
            "train" => num(value).map(|n| self.train_len = n).is_some(),
            "period" => num(value).map(|n| self.period = n).is_some(),
            "head" => num(value).map(|n| self.head = n).is_some(),
            "hd" => num(value).map(|n| self.head_dim = n).is_some(),
            "base" => value.parse::<f64>().ok().map(|b| self.rope_base = b).is_some(),
            "scheme" => SchemeKind::analytic_from_key(value).map(|k| self.scheme = k).is_some(),
            "content" => ContentKind::from_key(value).map(|c| self.content = c).is_some(),
            "agg" => Aggregate::from_key(value).map(|a| self.aggregate = a).is_some(),
            "mode" => match value {
                "softmax" | "logits" => {
                    self.softmax = value == "softmax";
                    true
                }
                _ => false,
            },
            "engine" => match value {
                "gpu" | "cpu" => {
                    self.use_gpu = value == "gpu";
                    true
                }
                _ => false,
            },
            "causal" => match value {
                "1" | "true" | "0" | "false" => {
                    self.causal = matches!(value, "1" | "true");
                    true
                }
                _ => false,
            },
            _ => return None,
        };
        Some(ok)
    }

    /// Prepare the scheme's logits for this state.
    pub fn prepare(&self) -> Result<PreparedLogits, PeError> {
        let scheme = scheme::build(
            self.scheme,
            SchemeParams {
                head: self.head,
                rope_base: self.rope_base,
            },
        )?;
        PreparedLogits::new(
            &scheme,
            &self.content.content(self.period, self.seq_len),
            self.head_dim,
            self.seq_len,
        )
    }

    /// What to compute for this state.
    pub fn request(&self) -> MapRequest {
        MapRequest {
            n: self.seq_len,
            causal: self.causal,
            softmax: self.softmax,
            out_side: MAP_SIDE,
            aggregate: self.aggregate,
            train_len: self.train_len,
        }
    }

    /// Compute the (aggregated) map for this state on the CPU (export, tests).
    pub fn compute(&self, prepared: &PreparedLogits) -> Result<AttentionMap, PeError> {
        attention_map::compute(prepared, &self.request())
    }

    fn colormap(&self) -> Colormap {
        if self.softmax {
            Colormap::Viridis
        } else {
            Colormap::Magma
        }
    }
}

/// The view: state plus caches.
#[derive(Default)]
pub struct AttentionView {
    pub state: AttentionState,
    cached_for: Option<AttentionState>,
    /// The map on screen, computed through the engine façade.
    live: LiveMap,
    heatmap: Heatmap,
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
        let len_response = log_slider_ui(ui, &mut s.seq_len, SEQ_LEN_RANGE, "tokens")
            .on_hover_text(format!("N; the orange tick marks L_train = {}", s.train_len));
        // Mark L_train on the length slider's rail (log scale, like the slider).
        let (lo, hi) = (*SEQ_LEN_RANGE.start() as f32, *SEQ_LEN_RANGE.end() as f32);
        let frac = ((s.train_len as f32).max(lo).ln() - lo.ln()) / (hi.ln() - lo.ln());
        let rail = len_response.rect;
        let x = rail.left() + frac.clamp(0.0, 1.0) * ui.spacing().slider_width;
        let color = ui.visuals().warn_fg_color;
        ui.painter().line_segment(
            [pos2(x, rail.bottom() - 3.0), pos2(x, rail.bottom() + 2.0)],
            Stroke::new(2.0, color),
        );
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
        ui.checkbox(&mut s.use_gpu, "compute on the GPU when possible")
            .on_hover_text("WGSL engine for relative schemes with identical tokens; CPU otherwise");
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
        if (self.live.is_gpu_pending() && !engines.draws_on_gpu()) || self.cached_for.as_ref() == Some(&self.state) {
            return;
        }
        self.cached_for = Some(self.state.clone());
        let prepared = match self.state.prepare() {
            Ok(p) => p,
            Err(e) => {
                self.error = Some(e.to_string());
                return;
            }
        };
        match self
            .live
            .start(engines, prepared, self.state.request(), self.state.use_gpu)
        {
            Ok(Progress::Ready) => self.show(ctx, engines),
            Ok(Progress::Pending) => {
                // A GPU map drawn on the device is on screen this frame.
                if let Some(d) = self
                    .live
                    .gpu_picture()
                    .and_then(|p| engines.bind(p, self.state.colormap()))
                {
                    self.heatmap.set_gpu(d);
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

    fn show(&mut self, ctx: &egui::Context, engines: &MapEngines) {
        // The device already draws this map (bound when it was submitted).
        if self.live.gpu_picture().is_some() && self.heatmap.is_gpu_drawn() && engines.draws_on_gpu() {
            self.error = None;
            return;
        }
        let map = self.live.map();
        let grid = Grid {
            values: &map.values,
            rows: map.rows,
            cols: map.cols,
        };
        self.heatmap.set(
            ctx,
            "attention",
            grid,
            map.range,
            self.state.colormap(),
            self.state.aggregate,
        );
        self.error = None;
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
        let cmap = if s.softmax { Colormap::Viridis } else { Colormap::Magma };
        ui.horizontal(|ui| {
            let axes = Axes {
                row_label: "query m ↓",
                col_label: "key n →",
                rows: n,
                cols: n,
            };
            let (plot, h) = self.heatmap.ui(ui, egui::vec2(side, side), grid, &axes);
            hover = h;
            train_marker_ui(ui, plot, s.train_len, n, theme.warn());
            colorbar_ui(ui, side, map.range, cmap, if s.softmax { "weight" } else { "logit" });
        });
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
        SEQ_LEN_RANGE
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
                .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()))
        );
    }
}
