//! View: one scheme's query × key attention map, recomputed as the length is dragged, with the
//! training length `L_train` marked — the place where extrapolation failures begin.
//!
//! The map comes from `crate::compute::attention_map` (the CPU path of the heatmap engine over
//! `crate::pe`), aggregated to at most [`MAP_SIDE`]² cells.

use egui::{RichText, Stroke, Ui, pos2};
use serde::{Deserialize, Serialize};

use crate::compute::attention_map::{self, AttentionMap, MapRequest, robust_range};
use crate::gpu::attention_map::{GpuAttentionMap, GpuMap, GpuRequest, PendingMap, relative_table};
use crate::pe::{Content, PreparedLogits};
use crate::theme::{Colormap, ThemeChoice};
use crate::views::clamp_noted;
use crate::views::scheme_choice::{self, HEADS, SchemeKind, SchemeParams};
use crate::widgets::colorbar::colorbar_ui;
use crate::widgets::heatmap::{Aggregate, Axes, Grid, Heatmap};
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
    /// Seeded Gaussian tokens.
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
        if self.head_dim % 2 == 1 {
            notes.push(format!(
                "hd={} must be even; using {}",
                self.head_dim,
                self.head_dim + 1
            ));
            self.head_dim += 1;
        }
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
            "scheme" => SchemeKind::from_key(value).map(|k| self.scheme = k).is_some(),
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
    pub fn prepare(&self) -> Result<PreparedLogits, String> {
        let scheme = scheme_choice::build(
            self.scheme,
            SchemeParams {
                head: self.head,
                rope_base: self.rope_base,
            },
        )
        .map_err(|e| e.to_string())?;
        PreparedLogits::new(
            &scheme,
            &self.content.content(self.period, self.seq_len),
            self.head_dim,
            self.seq_len,
        )
        .map_err(|e| e.to_string())
    }

    /// Compute the (aggregated) map for this state.
    pub fn compute(&self, prepared: &PreparedLogits) -> Result<AttentionMap, String> {
        let req = MapRequest {
            n: self.seq_len,
            causal: self.causal,
            softmax: self.softmax,
            out_side: MAP_SIDE,
            aggregate: self.aggregate,
            train_len: self.train_len,
        };
        attention_map::compute(prepared, &req).map_err(|e| e.to_string())
    }
}

/// The view: state plus caches.
#[derive(Default)]
pub struct AttentionView {
    pub state: AttentionState,
    cached_for: Option<AttentionState>,
    prepared: Option<PreparedLogits>,
    map: AttentionMap,
    heatmap: Heatmap,
    error: Option<String>,
    /// Time of the last recompute (submit → result for the GPU path), in ms.
    pub compute_ms: f32,
    /// A GPU job in flight and when it was submitted.
    pending_gpu: Option<(PendingMap, web_time::Instant)>,
    /// Which engine produced the map on screen ("gpu" or "cpu").
    engine: &'static str,
    /// Largest |GPU − CPU| over the cells, checked for maps with N ≤ [`GPU_CHECK_MAX_N`].
    pub gpu_cpu_max_diff: Option<f32>,
}

/// Up to this N, every GPU map is also computed on the CPU and the difference reported.
pub const GPU_CHECK_MAX_N: usize = 512;

impl AttentionView {
    pub fn new(state: AttentionState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn map(&self) -> &AttentionMap {
        &self.map
    }

    /// "gpu" or "cpu": the engine behind the map on screen.
    pub fn engine(&self) -> &'static str {
        self.engine
    }

    /// Side-panel controls. Returns the response of the length slider.
    pub fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Scheme").strong());
        ui.horizontal_wrapped(|ui| {
            for kind in SchemeKind::ALL {
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
                .on_hover_text("Seeded Gaussian tokens");
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
        ui.label(RichText::new(scheme_choice::head_note(s.scheme, s.head)).small());
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

    /// Recompute when the state changed: on the GPU (WGSL engine) when `gpu` is given, the
    /// state allows it and the scheme is relative; otherwise on the CPU.
    pub fn update(&mut self, ctx: &egui::Context, gpu: Option<&GpuAttentionMap>) {
        self.collect_gpu(ctx, gpu);
        if self.cached_for.as_ref() == Some(&self.state) || self.pending_gpu.is_some() {
            return;
        }
        let started = web_time::Instant::now();
        self.cached_for = Some(self.state.clone());
        let prepared = match self.state.prepare() {
            Ok(p) => p,
            Err(e) => {
                self.prepared = None;
                self.error = Some(e);
                return;
            }
        };
        let s = &self.state;
        if let Some(gpu) = gpu.filter(|_| s.use_gpu)
            && let Some(rel) = relative_table(&prepared, s.seq_len)
        {
            let req = GpuRequest {
                n: s.seq_len,
                side: MAP_SIDE,
                causal: s.causal,
                softmax: s.softmax,
                aggregate: s.aggregate,
                train_len: s.train_len,
            };
            match gpu.submit(&rel, req) {
                Ok(pending) => {
                    self.pending_gpu = Some((pending, started));
                    self.prepared = Some(prepared);
                    ctx.request_repaint();
                    return;
                }
                Err(e) => log::warn!("GPU path unavailable, using the CPU: {e}"),
            }
        }
        match self.state.compute(&prepared) {
            Ok(map) => self.show(ctx, map, "cpu"),
            Err(e) => self.error = Some(e),
        }
        self.prepared = Some(prepared);
        self.compute_ms = started.elapsed().as_secs_f32() * 1000.0;
    }

    /// Pick up a finished GPU job (polling the device meanwhile).
    fn collect_gpu(&mut self, ctx: &egui::Context, gpu: Option<&GpuAttentionMap>) {
        let Some((pending, started)) = &self.pending_gpu else {
            return;
        };
        let result = match pending.try_take() {
            Some(r) => r,
            None => {
                if let Some(gpu) = gpu {
                    gpu.poll();
                }
                ctx.request_repaint();
                return;
            }
        };
        let (req, started) = (pending.request, *started);
        self.pending_gpu = None;
        match result {
            Ok(GpuMap {
                cells,
                side,
                mean_entropy_nats,
                mass_beyond_train,
            }) => {
                let map = AttentionMap {
                    range: robust_range(&cells),
                    values: cells,
                    rows: side,
                    cols: side,
                    n: req.n,
                    mean_entropy_nats,
                    mass_beyond_train,
                };
                self.compute_ms = started.elapsed().as_secs_f32() * 1000.0;
                self.gpu_cpu_max_diff = self.check_against_cpu(&map);
                self.show(ctx, map, "gpu");
            }
            Err(e) => {
                log::warn!("{e}; falling back to the CPU");
                // Recompute this state on the CPU.
                self.state.use_gpu = false;
                self.cached_for = None;
                ctx.request_repaint();
            }
        }
    }

    /// For small maps, the largest |GPU − CPU| cell difference (or a mismatch in masking → f32::MAX).
    fn check_against_cpu(&self, gpu_map: &AttentionMap) -> Option<f32> {
        if gpu_map.n > GPU_CHECK_MAX_N {
            return None;
        }
        let cpu = self.state.compute(self.prepared.as_ref()?).ok()?;
        Some(
            cpu.values
                .iter()
                .zip(&gpu_map.values)
                .fold(0.0_f32, |m, (c, g)| match (c.is_nan(), g.is_nan()) {
                    (true, true) => m,
                    (false, false) => m.max((c - g).abs()),
                    _ => f32::MAX,
                }),
        )
    }

    fn show(&mut self, ctx: &egui::Context, map: AttentionMap, engine: &'static str) {
        let cmap = if self.state.softmax {
            Colormap::Viridis
        } else {
            Colormap::Magma
        };
        let grid = Grid {
            values: &map.values,
            rows: map.rows,
            cols: map.cols,
        };
        self.heatmap
            .set(ctx, "attention", grid, map.range, cmap, self.state.aggregate);
        self.map = map;
        self.engine = engine;
        self.error = None;
    }

    /// The central area.
    pub fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let s = self.state.clone();
        ui.heading(format!("Attention — {}", s.scheme.title()));
        ui.label(RichText::new(s.scheme.explanation()).color(theme.weak_text()));
        if let Some(err) = &self.error {
            ui.colored_label(theme.error(), format!("Cannot compute this map: {err}"));
            return;
        }
        let avail = ui.available_size();
        let side = (avail.y - 40.0).min(avail.x - 90.0).max(160.0);
        let map = &self.map;
        let grid = Grid {
            values: &map.values,
            rows: map.rows,
            cols: map.cols,
        };
        let mut hover = None;
        let cmap = if s.softmax { Colormap::Viridis } else { Colormap::Magma };
        ui.horizontal(|ui| {
            let axes = Axes {
                row_label: "query m ↓",
                col_label: "key n →",
                rows: map.n,
                cols: map.n,
            };
            let (plot, h) = self.heatmap.ui(ui, egui::vec2(side, side), grid, &axes);
            hover = h;
            train_marker_ui(ui, plot, s.train_len, map.n, theme.warn());
            colorbar_ui(ui, side, map.range, cmap, if s.softmax { "weight" } else { "logit" });
        });
        ui.horizontal_wrapped(|ui| {
            match hover.and_then(|h| self.exact_value(h.row, h.col).map(|v| (h, v))) {
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
            ui.label(format!(
                "computed on the {} in {:.1} ms",
                self.engine.to_uppercase(),
                self.compute_ms
            ));
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

    /// The exact (unaggregated) value at (query, key), recomputed from the prepared logits.
    fn exact_value(&self, query: usize, key: usize) -> Option<f32> {
        let p = self.prepared.as_ref()?;
        let n = self.state.seq_len;
        let mut row = vec![0.0_f32; n];
        let ok = if self.state.softmax {
            p.probs_row(query, n, self.state.causal, &mut row)
        } else {
            p.logits_row(query, n, self.state.causal, &mut row)
        };
        ok.ok()?;
        row.get(key).copied()
    }
}

fn fmt_value(v: f32) -> String {
    if v == f32::NEG_INFINITY {
        "masked".to_owned()
    } else {
        format!("{v:.5}")
    }
}
