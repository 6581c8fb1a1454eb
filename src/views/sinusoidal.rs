//! View: the sinusoidal positional encoding table (Vaswani et al. 2017, "Attention Is All You
//! Need", §3.5), and the attention a query pays to every key when only positions are present.

use egui::{RichText, Ui};
use egui_plot::{Line, Plot, PlotPoints, VLine};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::analysis::grid::{Aggregate, Grid};
use crate::compute::softmax_check::RowJob;
use crate::export::{ExportError, Exported, grid_image};
use crate::pe::sinusoidal::{self, SinusoidalLayout};
use crate::theme::{Colormap, ThemeChoice};
use crate::views::{View, ViewEnv, clamp_noted};
use crate::widgets::colorbar::colorbar_ui;
use crate::widgets::heatmap::{Axes, Heatmap};
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
        clamp_noted(&mut self.seq_len, SEQ_LEN_RANGE, "len", &mut notes);
        clamp_noted(&mut self.d_model, D_MODEL_RANGE, "d", &mut notes);
        crate::views::even_noted(&mut self.d_model, "d", &mut notes);
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

/// The view: state plus caches (table, texture, burn job).
#[derive(Default)]
pub struct SinusoidalView {
    pub state: SinusoidalState,
    table: Vec<f32>,
    table_key: Option<TableKey>,
    heatmap: Heatmap,
    error: Option<String>,
    /// burn's attention row for the query (re-run when the table or query change).
    burn_row: RowJob<(TableKey, usize)>,
}

const EXPLANATION: &str = "Each row is the vector added to the token at position p; each column is one dimension. \
     Pair i oscillates with wavelength 2π·10000^(2i/d): the first columns flip every few tokens, \
     the last barely move, so every position gets a unique pattern, like the digits of a clock. \
     — Vaswani et al. 2017, “Attention Is All You Need”.";

impl SinusoidalView {
    /// Side-panel controls. Returns the response of the length slider (tests drag it).
    fn controls(&mut self, ui: &mut Ui) -> egui::Response {
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
    fn recompute(&mut self, ctx: &egui::Context, compute: Option<&crate::compute::client::ComputeClient>) {
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
        // burn's row for this table and query (collected when done; re-run when they change).
        let (table, s) = (&self.table, &self.state);
        if !table.is_empty() {
            let running = self.burn_row.update(compute, (key, s.query_pos), || {
                (table.clone(), s.seq_len, s.d_model, s.query_pos)
            });
            if running {
                ctx.request_repaint();
            }
        }
    }

    /// The central area: explanation, heatmap with colour bar, and burn's attention row.
    fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let s = self.state.clone();
        ui.heading("Sinusoidal positional encoding");
        ui.label(RichText::new(EXPLANATION).color(theme.weak_text()));
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
        match self.burn_row.result() {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("computing on the device…");
                });
            }
            Some(Err(e)) => {
                ui.colored_label(theme.error(), e.to_string());
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

impl View for SinusoidalView {
    fn key(&self) -> &'static str {
        "sinusoidal"
    }
    fn title(&self) -> &'static str {
        "Sinusoidal"
    }
    fn explanation(&self) -> String {
        EXPLANATION.to_owned()
    }
    delegate_state!(seq_len);
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        SEQ_LEN_RANGE
    }
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.controls(ui)
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        self.recompute(env.ctx, env.compute);
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn errors(&self) -> Vec<String> {
        let mut errors: Vec<String> = self.error.iter().cloned().collect();
        match self.burn_row.result() {
            Some(Err(e)) => errors.push(e.to_string()),
            Some(Ok(c)) if !c.passed => errors.push(format!("burn/CPU mismatch: max |Δ| = {}", c.max_abs_diff)),
            _ => {}
        }
        errors
    }
    fn export(&self) -> Result<Exported, ExportError> {
        let s = &self.state;
        let table = sinusoidal::table(s.d_model, s.seq_len, s.layout)?;
        let mut csv = String::from("position");
        (0..s.d_model).for_each(|i| csv += &format!(",d{i}"));
        csv.push('\n');
        let rows: Vec<&[f32]> = table.chunks(s.d_model).collect();
        for (p, row) in rows.iter().enumerate() {
            csv += &p.to_string();
            row.iter().for_each(|v| csv += &format!(",{v}"));
            csv.push('\n');
        }
        let grid = Grid {
            values: &table,
            rows: s.seq_len,
            cols: s.d_model,
        };
        let image = grid_image(grid, (-1.0, 1.0), Colormap::RdBu, 1024);
        // The attention row from positions alone, on the CPU (the view's burn row equals it).
        let q = s.query_pos.min(s.seq_len.saturating_sub(1));
        let row = crate::compute::softmax_check::reference_row(&table, s.seq_len, s.d_model, q);
        let row_points = row.iter().enumerate().map(|(n, w)| [n as f64, *w as f64]).collect();
        let light = ThemeChoice::Light;
        let figure = crate::export::figure::Figure {
            title: format!("Sinusoidal encoding, N = {}, d_model = {}", s.seq_len, s.d_model),
            caption: String::new(),
            panels: vec![
                crate::export::figure::Panel::heatmap(
                    "the table E[position, dimension]",
                    "dimension",
                    "position",
                    grid_image(grid, (-1.0, 1.0), Colormap::RdBu, 1),
                    (0.0, s.d_model as f64),
                    (0.0, s.seq_len as f64),
                    Some(crate::export::figure::ColorBar {
                        label: "value".into(),
                        min: -1.0,
                        max: 1.0,
                        colormap: Colormap::RdBu,
                    }),
                ),
                crate::export::figure::Panel::plot(
                    format!("softmax(E[{q}]·E[n]/√d): attention from positions alone"),
                    "key position n",
                    "weight",
                    vec![crate::export::figure::Series::line(
                        "attention weight",
                        light.accent_text(),
                        row_points,
                    )],
                )
                .with_marker("query", q as f64, light.warn()),
            ],
        };
        Ok(Exported {
            json: json!({ "table": rows }),
            csv,
            image: Some(image),
            figure: Some(figure),
        })
    }
    fn status_extras(&self, extras: &mut Map<String, Value>) {
        extras.insert("d_model".into(), self.state.d_model.into());
        if let Some(Ok(c)) = self.burn_row.result() {
            extras.insert("burn_row".into(), super::to_json(c));
        }
    }
}
