//! Inside the shown model: where in the haystack recall fails ("lost in the middle", Liu et al.
//! 2023) and what each layer knows about absolute position (a linear probe; Kazemnejad et al.
//! 2023 prove a NoPE decoder can build its own position signal).

use egui::{RichText, Ui};
use egui_plot::{Bar, BarChart, Legend, Plot};

use crate::analysis::grid::{Aggregate, Grid};
use crate::compute::protocol::{DEPTH_BUCKETS, PROBE_SAMPLES};
use crate::model::probe::ProbeReport;
use crate::model::weights::WeightFile;
use crate::pe::learned::{LearnedTable, cosine_similarity};
use crate::tasks::Score;
use crate::theme::{Colormap, ThemeChoice, series_color};
use crate::widgets::heatmap::{Axes, Heatmap};

use super::*;

const DEPTH_TEXT: &str = "Recall exact match by where the queried key–value pair sits in the haystack, first quarter to last \
     (closest to the query). Past L_train the failures take a shape: recency (the last quarter survives), primacy \
     (the first), or a lost middle (Liu et al. 2023, “Lost in the Middle”).";

const PROBE_TEXT: &str = "A linear probe (ridge regression) reads each token's absolute position from the model's hidden state, \
     at the input and after every block: R² = 1 is a perfect read-out, 0 no better than guessing the middle. It is fitted at \
     L_train and tested on new samples at L_train and at N. NoPE has no position in its input, yet builds one in its first \
     block — the construction Kazemnejad et al. 2023 prove possible.";

const SIMILARITY_TEXT: &str = "Cosine similarity of the learned position vectors, position against position (red = alike, \
     blue = opposite). Training alone made neighbouring positions alike: the band along the diagonal (Wang & Chen 2020, \
     “What Do Position Embeddings Learn?”). With the table interpolated (LongEmbed), positions past L_train are blends of \
     neighbouring rows, so the band widens by the stretch factor.";

/// The shown learned-APE model's position table (read from its weight file in the page) and
/// its similarity map at the current length.
#[derive(Default)]
pub(super) struct LearnedRows {
    table: Option<(String, LearnedTable)>,
    /// `(model, length)` the map below was computed for, the map's side, and its texture.
    map_for: Option<(String, usize)>,
    side: usize,
    map: Vec<f32>,
    heatmap: Heatmap,
    error: Option<String>,
}

impl LearnedRows {
    /// The table of model `name` (`None`: not a learned-APE model, or unreadable).
    pub(super) fn set(&mut self, name: &str, table: Option<LearnedTable>) {
        self.table = table.map(|t| (name.to_owned(), t));
        self.map_for = None;
    }

    /// Side of the similarity map on screen, if any (for `status()`).
    pub(super) fn shown_side(&self) -> Option<usize> {
        (self.map_for.is_some() && self.error.is_none() && self.table.is_some()).then_some(self.side)
    }

    /// The table's similarity map for model `name` at `len` positions (interpolated past the
    /// table when `interp`), computed once per change; `None` when there is no table.
    fn ensure(&mut self, ctx: &egui::Context, name: &str, len: usize, interp: bool) -> Option<usize> {
        let (owner, table) = self.table.as_ref()?;
        if owner != name {
            return None;
        }
        let len = if interp {
            len.max(table.max_len())
        } else {
            table.max_len()
        };
        let key = (name.to_owned(), len);
        if self.map_for.as_ref() != Some(&key) {
            self.map_for = Some(key);
            let map = table
                .interpolated(len)
                .and_then(|rows| cosine_similarity(&rows, table.d_model()));
            match map {
                Ok(map) => {
                    let grid = Grid {
                        values: &map,
                        rows: len,
                        cols: len,
                    };
                    self.heatmap.set(
                        ctx,
                        "learned_similarity",
                        grid,
                        (-1.0, 1.0),
                        Colormap::RdBu,
                        Aggregate::Mean,
                    );
                    self.side = len;
                    self.map = map;
                    self.error = None;
                }
                Err(e) => self.error = Some(e.to_string()),
            }
        }
        Some(self.side)
    }
}

/// The learned position table inside a learned-APE model's weight file (`pos.weight`).
pub(super) fn learned_table(meta: &ModelMeta, bytes: &[u8]) -> Option<LearnedTable> {
    if meta.pe != PeKind::Learned {
        return None;
    }
    let file = WeightFile::decode(bytes).ok()?;
    let (_, shape, values) = file.tensors.into_iter().find(|(path, _, _)| path == "pos.weight")?;
    match shape[..] {
        [rows, d] => LearnedTable::new(rows, d, values).ok(),
        _ => None,
    }
}

impl ModelLabView {
    /// The insight panels under the read-out: depth (recall), the probe (when on) and the
    /// learned table's similarity map (learned APE).
    pub(super) fn insight_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let name = self.shown_name();
        let similarity = self.state.pe == PeKind::Learned
            && self
                .learned
                .ensure(ui.ctx(), &name, self.state.seq_len, self.state.interp)
                .is_some();
        let Some(Ok(r)) = self.result() else {
            if similarity {
                ui.vertical(|ui| similarity_ui(ui, theme, &self.learned));
            }
            return;
        };
        let panels = usize::from(!r.by_depth.is_empty()) + usize::from(r.probe.is_some()) + usize::from(similarity);
        if panels == 0 {
            return;
        }
        let width = ui.available_width();
        let panel_w = if panels == 1 {
            width.min(560.0)
        } else {
            ((width - 16.0 * (panels - 1) as f32) / panels as f32).max(260.0)
        };
        ui.horizontal_wrapped(|ui| {
            if similarity {
                ui.vertical(|ui| {
                    ui.set_width(panel_w);
                    similarity_ui(ui, theme, &self.learned);
                });
            }
            if !r.by_depth.is_empty() {
                ui.vertical(|ui| {
                    ui.set_width(panel_w);
                    depth_ui(ui, theme, &r.by_depth, self.state.seq_len);
                });
            }
            if let Some(p) = &r.probe {
                ui.vertical(|ui| {
                    ui.set_width(panel_w);
                    probe_ui(ui, theme, p);
                });
            }
        });
    }

    /// The side-panel switch of the probe.
    pub(super) fn insight_controls_ui(&mut self, ui: &mut Ui) {
        ui.checkbox(&mut self.state.probe, "probe position in every layer")
            .on_hover_text(format!(
                "Fit a linear read-out of absolute position per layer ({PROBE_SAMPLES} samples at L_train), \
                 tested at L_train and at N. Adds a second or so per run."
            ));
    }
}

fn depth_ui(ui: &mut Ui, theme: ThemeChoice, by_depth: &[Score], n: usize) {
    ui.label(RichText::new(format!("Lost in the middle? Recall by depth at N = {n}")).strong());
    ui.label(RichText::new(DEPTH_TEXT).small().color(theme.weak_text()));
    let names = ["first ¼", "second ¼", "third ¼", "last ¼"];
    let bars: Vec<Bar> = by_depth
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = names.get(i).copied().unwrap_or("");
            let em = if s.samples > 0 { 100.0 * s.exact_match() } else { 0.0 };
            Bar::new(i as f64, em)
                .width(0.7)
                .name(format!("{name}: {em:.0} % of {} samples", s.samples))
        })
        .collect();
    category_plot("model_depth", DEPTH_BUCKETS, move |i| names[i].to_owned())
        .include_y(0.0)
        .include_y(100.0)
        .y_axis_label("exact match %")
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("exact match", bars).color(theme.accent()));
        });
}

fn probe_ui(ui: &mut Ui, theme: ThemeChoice, p: &ProbeReport) {
    ui.label(RichText::new("What each layer knows about position").strong());
    ui.label(RichText::new(PROBE_TEXT).small().color(theme.weak_text()));
    let layers = p.fits.len();
    let series = p.lengths.len().max(1);
    let width = 0.8 / series as f64;
    let mut charts = Vec::new();
    for (j, &len) in p.lengths.iter().enumerate() {
        let label = if len == p.fit_len {
            format!("R² at L_train = {len}")
        } else {
            format!("R² at N = {len}")
        };
        let bars: Vec<Bar> = (0..layers)
            .filter_map(|l| {
                let fit = p.fits[l].get(j).copied().flatten()?;
                let x = l as f64 + (j as f64 - (series as f64 - 1.0) / 2.0) * width;
                // Below −1 a read-out is just wrong; the bar stops there, the hover says how wrong.
                Some(Bar::new(x, fit.r2.max(-1.0)).width(width * 0.9).name(format!(
                    "{}: R² {:.2}, off by {:.1} positions on average",
                    layer_name(l),
                    fit.r2,
                    fit.mae
                )))
            })
            .collect();
        charts.push(BarChart::new(label, bars).color(series_color(j)));
    }
    category_plot("model_probe", layers, layer_name)
        .include_y(-1.0)
        .include_y(1.0)
        .y_axis_label("R²")
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .show(ui, |plot| {
            for c in charts {
                plot.bar_chart(c);
            }
        });
    if p.fits.iter().all(|f| f.iter().skip(1).all(Option::is_none)) && p.lengths.len() > 1 {
        ui.label(
            RichText::new("The model cannot run at N (a learned table has no rows there): only L_train is shown.")
                .small()
                .color(theme.warn()),
        );
    }
}

fn similarity_ui(ui: &mut Ui, theme: ThemeChoice, rows: &LearnedRows) {
    ui.label(
        RichText::new(format!(
            "Learned position rows: similarity over {} positions",
            rows.side
        ))
        .strong(),
    );
    ui.label(RichText::new(SIMILARITY_TEXT).small().color(theme.weak_text()));
    if let Some(e) = &rows.error {
        ui.colored_label(theme.error(), e);
        return;
    }
    let side = (ui.available_width() - 60.0).clamp(120.0, 240.0);
    let grid = Grid {
        values: &rows.map,
        rows: rows.side,
        cols: rows.side,
    };
    let axes = Axes {
        row_label: "position",
        col_label: "position",
        rows: rows.side,
        cols: rows.side,
    };
    let (_, hover) = rows.heatmap.ui(ui, egui::vec2(side, side), grid, &axes);
    if let Some(h) = hover {
        ui.label(RichText::new(format!("positions {} and {}: cosine {:.2}", h.row, h.col, h.value)).small());
    }
}

/// A fixed bar plot over `count` named categories at x = 0, 1, …: the names label the ticks.
fn category_plot(id: &str, count: usize, name: impl Fn(usize) -> String + 'static) -> Plot<'static> {
    Plot::new(id)
        .height(170.0)
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && (0.0..count as f64).contains(&i) {
                name(i as usize)
            } else {
                String::new()
            }
        })
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
}

fn layer_name(l: usize) -> String {
    if l == 0 {
        "input".to_owned()
    } else {
        format!("block {l}")
    }
}
