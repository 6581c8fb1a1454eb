//! View: the sinusoidal positional encoding table (Vaswani et al. 2017, "Attention Is All You
//! Need", §3.5), and the attention a query pays to every key when only positions are present.

use std::cell::RefCell;
use std::rc::Rc;

use egui::{RichText, Ui};
use egui_plot::{Line, Plot, PlotPoints, VLine};
use serde::{Deserialize, Serialize};

use crate::compute::{self, ComputeDevice, softmax_check::SoftmaxCheck};
use crate::pe::sinusoidal::{self, SinusoidalLayout};
use crate::theme::{Colormap, ThemeChoice};
use crate::widgets::colorbar::colorbar_ui;
use crate::widgets::heatmap::{Aggregate, Axes, Grid, Heatmap};
use crate::widgets::log_slider::log_slider_ui;

pub const SEQ_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=4096;
pub const D_MODEL_RANGE: std::ops::RangeInclusive<usize> = 8..=1024;

/// The serialisable settings of this view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SinusoidalState {
    pub seq_len: usize,
    pub d_model: usize,
    pub layout: SinusoidalLayout,
    /// Query position whose attention row is computed by burn.
    pub query_pos: usize,
    pub aggregate: Aggregate,
}

impl Default for SinusoidalState {
    fn default() -> Self {
        Self {
            seq_len: 256,
            d_model: 128,
            layout: SinusoidalLayout::Interleaved,
            query_pos: 64,
            aggregate: Aggregate::Mean,
        }
    }
}

impl SinusoidalState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let clamp = |v: &mut usize, r: &std::ops::RangeInclusive<usize>, name: &str, notes: &mut Vec<String>| {
            let c = (*v).clamp(*r.start(), *r.end());
            if c != *v {
                notes.push(format!("{name}={v} is outside {}…{}; using {c}", r.start(), r.end()));
                *v = c;
            }
        };
        clamp(&mut self.seq_len, &SEQ_LEN_RANGE, "len", &mut notes);
        clamp(&mut self.d_model, &D_MODEL_RANGE, "d", &mut notes);
        if self.d_model % 2 == 1 {
            notes.push(format!("d={} must be even; using {}", self.d_model, self.d_model + 1));
            self.d_model += 1;
        }
        if self.query_pos >= self.seq_len {
            self.query_pos = self.seq_len - 1;
        }
        notes
    }
}

impl SinusoidalState {
    /// Append this view's keys to a URL hash.
    pub fn write_hash(&self, out: &mut String) {
        let layout = match self.layout {
            SinusoidalLayout::Interleaved => "interleaved",
            SinusoidalLayout::Concat => "concat",
        };
        out.push_str(&format!(
            "&len={}&d={}&layout={layout}&q={}&agg={}",
            self.seq_len,
            self.d_model,
            self.query_pos,
            self.aggregate.key()
        ));
    }

    /// Read one URL key: `None` if it is not this view's, else whether the value was valid.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        let num = |v: &str| v.parse::<usize>().ok();
        let ok = match key {
            "len" => num(value).map(|n| self.seq_len = n).is_some(),
            "d" => num(value).map(|n| self.d_model = n).is_some(),
            "q" => num(value).map(|n| self.query_pos = n).is_some(),
            "agg" => Aggregate::from_key(value).map(|a| self.aggregate = a).is_some(),
            "layout" => match value {
                "interleaved" => {
                    self.layout = SinusoidalLayout::Interleaved;
                    true
                }
                "concat" => {
                    self.layout = SinusoidalLayout::Concat;
                    true
                }
                _ => false,
            },
            _ => return None,
        };
        Some(ok)
    }
}

/// Inputs that the table depends on (recompute when they change).
type TableKey = (usize, usize, SinusoidalLayout, Aggregate);
/// Where a running burn job delivers its result.
type CheckSlot = Rc<RefCell<Option<Result<SoftmaxCheck, String>>>>;

/// The view: state plus caches (table, texture, burn job).
#[derive(Default)]
pub struct SinusoidalView {
    pub state: SinusoidalState,
    table: Vec<f32>,
    table_key: Option<TableKey>,
    heatmap: Heatmap,
    error: Option<String>,
    check: Option<Result<SoftmaxCheck, String>>,
    check_key: Option<(TableKey, usize)>,
    pending: Option<CheckSlot>,
}

impl SinusoidalView {
    pub fn new(state: SinusoidalState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    /// Latest burn check, `None` while one is running.
    pub fn check(&self) -> Option<&Result<SoftmaxCheck, String>> {
        if self.pending.is_some() {
            None
        } else {
            self.check.as_ref()
        }
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// Side-panel controls. Returns the response of the length slider (tests drag it).
    pub fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Sequence length N").strong());
        let len_response = log_slider_ui(ui, &mut s.seq_len, SEQ_LEN_RANGE, "positions");
        ui.add_space(6.0);
        ui.label(RichText::new("Model width d_model").strong());
        ui.add(
            egui::Slider::new(&mut s.d_model, D_MODEL_RANGE)
                .step_by(8.0)
                .text("dims"),
        );
        ui.add_space(6.0);
        ui.label(RichText::new("Layout").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.layout, SinusoidalLayout::Interleaved, "interleaved")
                .on_hover_text("PE[p,2i]=sin, PE[p,2i+1]=cos (the paper's layout)");
            ui.selectable_value(&mut s.layout, SinusoidalLayout::Concat, "concatenated")
                .on_hover_text("[sin half | cos half] (tensor2tensor / many libraries)");
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Query position p").strong());
        let max_q = s.seq_len.saturating_sub(1);
        ui.add(egui::Slider::new(&mut s.query_pos, 0..=max_q).text("row"));
        ui.add_space(6.0);
        ui.label(RichText::new("When N exceeds the screen").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.aggregate, Aggregate::Mean, "mean of block");
            ui.selectable_value(&mut s.aggregate, Aggregate::Max, "max of block");
        });
        self.state.sanitize();
        len_response
    }

    /// Recompute what changed: the table (CPU, `crate::pe`), its texture, and the burn job.
    pub fn update(&mut self, ctx: &egui::Context, compute: Option<&ComputeDevice>) {
        let s = &self.state;
        let key: TableKey = (s.seq_len, s.d_model, s.layout, s.aggregate);
        if self.table_key != Some(key) {
            match sinusoidal::table(s.d_model, s.seq_len, s.layout) {
                Ok(table) => {
                    self.table = table;
                    self.error = None;
                    let grid = Grid {
                        values: &self.table,
                        rows: s.seq_len,
                        cols: s.d_model,
                    };
                    self.heatmap
                        .set(ctx, "sinusoidal", grid, (-1.0, 1.0), Colormap::RdBu, s.aggregate);
                }
                Err(e) => {
                    self.table.clear();
                    self.error = Some(e.to_string());
                }
            }
            self.table_key = Some(key);
        }
        // Collect a finished burn job.
        let finished = self.pending.as_ref().and_then(|slot| slot.borrow_mut().take());
        if let Some(result) = finished {
            self.check = Some(result);
            self.pending = None;
        }
        // Start a new one when the inputs changed and none is running.
        let check_key = (key, s.query_pos);
        if self.pending.is_none()
            && self.check_key != Some(check_key)
            && !self.table.is_empty()
            && let Some(compute) = compute
        {
            let slot = Rc::new(RefCell::new(None));
            let job = compute::softmax_check::run(
                compute.device.clone(),
                self.table.clone(),
                s.seq_len,
                s.d_model,
                s.query_pos,
            );
            self.pending = Some(slot.clone());
            self.check_key = Some(check_key);
            compute::spawn(job, slot);
            ctx.request_repaint();
        }
        if self.pending.is_some() {
            ctx.request_repaint();
        }
    }

    /// The central area: explanation, heatmap with colour bar, and burn's attention row.
    pub fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let s = self.state.clone();
        ui.heading("Sinusoidal positional encoding");
        ui.label(
            RichText::new(
                "Each row is the vector added to the token at position p; each column is one dimension. \
                 Pair i oscillates with wavelength 2π·10000^(2i/d): the first columns flip every few tokens, \
                 the last barely move, so every position gets a unique pattern, like the digits of a clock. \
                 — Vaswani et al. 2017, “Attention Is All You Need”.",
            )
            .color(theme.weak_text()),
        );
        if let Some(err) = &self.error {
            ui.colored_label(theme.error(), format!("Cannot build the table: {err}"));
            return;
        }
        ui.add_space(4.0);
        let plot_h = 170.0;
        let avail = ui.available_size();
        let heat_h = (avail.y - plot_h - 40.0).max(160.0);
        let grid = Grid {
            values: &self.table,
            rows: s.seq_len,
            cols: s.d_model,
        };
        let mut hover = None;
        ui.horizontal(|ui| {
            let heat_w = (avail.x - 80.0).max(160.0);
            let axes = Axes {
                row_label: "position p ↓",
                col_label: "dimension →",
                rows: s.seq_len,
                cols: s.d_model,
            };
            hover = self.heatmap.ui(ui, egui::vec2(heat_w, heat_h), grid, &axes).1;
            colorbar_ui(ui, heat_h, (-1.0, 1.0), Colormap::RdBu, "PE value");
        });
        ui.horizontal(|ui| {
            match hover {
                Some(h) => ui.monospace(format!("position {}, dimension {}: {:+.4}", h.row, h.col, h.value)),
                None => ui.label(RichText::new("Hover the map to read a value.").color(theme.weak_text())),
            };
            if let Some((fr, fc)) = self.heatmap.aggregation_factor() {
                let how = match s.aggregate {
                    Aggregate::Mean => "mean",
                    Aggregate::Max => "max",
                };
                ui.label(RichText::new(format!("· display aggregates {fr}×{fc} cells ({how})")).color(theme.warn()));
            }
        });
        ui.add_space(4.0);
        self.attention_row_ui(ui, theme, plot_h);
    }

    fn attention_row_ui(&self, ui: &mut Ui, theme: ThemeChoice, height: f32) {
        let p = self.state.query_pos;
        let title = format!(
            "Attention of query p = {p} to every key from positions alone: softmax(E[p]·E[n]/√d), computed by burn"
        );
        ui.label(RichText::new(title).strong());
        match self.check() {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("computing on the device…");
                });
            }
            Some(Err(e)) => {
                ui.colored_label(theme.error(), e);
            }
            Some(Ok(check)) => {
                let points: PlotPoints = check
                    .row
                    .iter()
                    .enumerate()
                    .map(|(n, w)| [n as f64, *w as f64])
                    .collect();
                Plot::new("sinusoidal_attention_row")
                    .height(height)
                    .x_axis_label("key position n")
                    .y_axis_label("weight")
                    .allow_scroll(false)
                    .show(ui, |plot| {
                        plot.line(Line::new("attention weight", points).color(theme.accent_text()));
                        plot.vline(VLine::new("query", check.query_pos as f64).color(theme.warn()));
                    });
            }
        }
    }
}
