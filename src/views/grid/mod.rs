//! View: positions in two dimensions and on graphs.
//!
//! Top: an H×W grid of image patches under axial 2-D RoPE or RoPE-Mixed (Heo et al. 2024,
//! "Rotary Position Embedding for Vision Transformer"), M-RoPE (Wang et al. 2024, Qwen2-VL) or a
//! 2-D ALiBi-style distance bias; click a patch to see its attention to every patch as an
//! image (`pe::grid2d`). Bottom: a graph's Laplacian eigenvectors drawn on its nodes (Dwivedi &
//! Bresson 2020), and for the path and the cycle the closed form beside them: the DCT basis,
//! and the sinusoidal table's columns (`pe::laplacian`).

mod graph;
pub mod state;
#[cfg(test)]
mod tests;

use egui::{Rect, RichText, Sense, Stroke, Ui, vec2};
use serde_json::{Map, Value, json};

use crate::analysis::grid::Grid;
use crate::export::figure::{ColorBar, Figure, Panel, Series};
use crate::export::{ExportError, Exported, grid_image};
use crate::pe::PeError;
use crate::pe::laplacian::Graph;
use crate::theme::{Colormap, ThemeChoice};
use crate::views::{View, ViewEnv};
use crate::widgets::colorbar::colorbar_ui;
use graph::GraphSpectrum;
pub use state::{GraphKind, GridEncoding, GridState};

const EXPLANATION: &str = "Images and graphs have no single order, so their positions need more than one number. \
     Top: one patch's attention to every patch of the image under a 2-D encoding, from positions alone — \
     click a patch to move the query (Heo et al. 2024, RoPE for ViT; Wang et al. 2024, Qwen2-VL's M-RoPE). \
     Bottom: the Laplacian eigenvectors that graph transformers use as positions (Dwivedi & Bresson 2020); \
     on a cycle they are exactly the sinusoidal table's columns.";

/// One sentence on the chosen 2-D encoding.
fn encoding_sentence(e: GridEncoding) -> &'static str {
    match e {
        GridEncoding::Axial => {
            "Axial: half of the pairs turn with the row, half with the column; the logit is a row term plus a column term, so the picture is a row profile times a column profile (separable)."
        }
        GridEncoding::Mixed => {
            "RoPE-Mixed: every pair turns along its own direction in the plane (fixed here as at initialisation; learned in the paper), so diagonals are seen too."
        }
        GridEncoding::MRope => {
            "M-RoPE gives each token ids (t, h, w) in three sections of pairs; patches of one image share t, text tokens use t = h = w, so text is plain 1-D RoPE."
        }
        GridEncoding::AlibiEuclidean => {
            "A 2-D ALiBi penalises the straight-line distance between patches: circles of equal weight."
        }
        GridEncoding::AlibiManhattan => "A 2-D ALiBi on the Manhattan distance |Δr| + |Δc|: diamonds of equal weight.",
    }
}

/// The view: state and caches.
#[derive(Default)]
pub struct GridView {
    pub state: GridState,
    attention_for: Option<GridState>,
    attention: Option<Result<Vec<f64>, PeError>>,
    /// Under M-RoPE, the query's weights on the text around the image (with `attention`).
    mrope_text: Option<Result<state::MropeText, PeError>>,
    spectrum_for: Option<(GraphKind, usize, usize, bool)>,
    spectrum: Option<Result<GraphSpectrum, PeError>>,
    /// Where the patch grid was drawn (points), for the status hook and tests.
    grid_rect: Option<Rect>,
}

impl GridView {
    fn recompute(&mut self) {
        if self.attention_for.as_ref() != Some(&self.state) {
            self.attention = Some(self.state.attention());
            self.mrope_text = self.state.mrope_text_attention();
            self.attention_for = Some(self.state.clone());
        }
        let s = &self.state;
        let key = (s.graph, s.graph_n, s.eigen_k, s.normalized);
        if self.spectrum_for != Some(key) {
            self.spectrum = Some(GraphSpectrum::compute(s.graph(), s.normalized, s.eigen_k));
            self.spectrum_for = Some(key);
        }
    }

    fn controls(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Patch grid W × H").strong());
        let len = ui.add(egui::Slider::new(&mut s.cols, state::SIDE_RANGE).text("columns W"));
        ui.add(egui::Slider::new(&mut s.rows, state::SIDE_RANGE).text("rows H"));
        ui.add_space(6.0);
        ui.label(RichText::new("2-D encoding").strong());
        for e in GridEncoding::ALL {
            ui.radio_value(&mut s.encoding, e, e.label());
        }
        match s.encoding.rope() {
            Some(_) => {
                ui.add(
                    egui::Slider::new(&mut s.head_dim, state::HEAD_DIM_RANGE)
                        .step_by(4.0)
                        .text("head dim d"),
                );
                ui.add(
                    egui::Slider::new(&mut s.base, 2.0..=10_000.0)
                        .logarithmic(true)
                        .text("base"),
                );
            }
            None => {
                ui.add(egui::Slider::new(&mut s.slope, 0.0..=4.0).text("slope"));
            }
        }
        ui.label(
            RichText::new(format!(
                "query patch (row {}, column {}): click the grid",
                s.query.0, s.query.1
            ))
            .small()
            .color(ui.visuals().weak_text_color()),
        );
        ui.add_space(8.0);
        ui.label(RichText::new("Graph").strong());
        ui.horizontal(|ui| {
            for g in GraphKind::ALL {
                ui.selectable_value(&mut s.graph, g, g.key());
            }
        });
        if matches!(s.graph, GraphKind::Path | GraphKind::Cycle) {
            ui.add(egui::Slider::new(&mut s.graph_n, state::GRAPH_N_RANGE).text("nodes n"));
        }
        ui.add(egui::Slider::new(&mut s.eigen_k, state::EIGEN_K_RANGE).text("eigenvector k"));
        ui.checkbox(&mut s.normalized, "normalised Laplacian I − D^-½ A D^-½");
        self.state.sanitize();
        len
    }

    /// The patch grid coloured by attention; a click moves the query.
    fn patch_grid_ui(&mut self, ui: &mut Ui, attention: &[f64], side: f32, theme: ThemeChoice) {
        let s = &self.state;
        let (rows, cols) = (s.rows, s.cols);
        let cell = (side / rows.max(cols) as f32).floor().max(4.0);
        let size = vec2(cell * cols as f32, cell * rows as f32);
        let (rect, response) = ui.allocate_exact_size(size, Sense::click());
        self.grid_rect = Some(rect);
        let painter = ui.painter_at(rect.expand(2.0));
        let max = attention.iter().copied().fold(0.0f64, f64::max).max(1e-12);
        for (i, &w) in attention.iter().enumerate() {
            let (r, c) = (i / cols, i % cols);
            let min = rect.min + vec2(c as f32 * cell, r as f32 * cell);
            painter.rect_filled(
                Rect::from_min_size(min, vec2(cell, cell)).shrink(0.5),
                1.0,
                Colormap::Viridis.eval((w / max) as f32),
            );
        }
        let q = rect.min + vec2(s.query.1 as f32 * cell, s.query.0 as f32 * cell);
        painter.rect_stroke(
            Rect::from_min_size(q, vec2(cell, cell)),
            1.0,
            Stroke::new(2.0, crate::theme::HOVER_MARKER),
            egui::StrokeKind::Inside,
        );
        let at = |pos: egui::Pos2| {
            rect.contains(pos).then(|| {
                let r = (((pos.y - rect.top()) / cell) as usize).min(rows - 1);
                let c = (((pos.x - rect.left()) / cell) as usize).min(cols - 1);
                (r, c)
            })
        };
        if response.clicked()
            && let Some(cell) = response.interact_pointer_pos().and_then(at)
        {
            self.state.query = cell;
        }
        let hover = response.hover_pos().and_then(at);
        match hover {
            Some((r, c)) => ui.monospace(format!(
                "patch (row {r}, column {c}): weight {:.4}",
                attention[r * cols + c]
            )),
            None => ui.label(
                RichText::new("Hover a patch to read its weight; click to make it the query.")
                    .small()
                    .color(theme.weak_text()),
            ),
        };
    }

    fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Positions on grids and graphs");
        ui.label(RichText::new(EXPLANATION).color(theme.weak_text()));
        let width = ui.available_width();
        let side = (width * 0.42).clamp(200.0, 420.0);
        let attention = match &self.attention {
            Some(Ok(a)) => Some(a.clone()),
            Some(Err(e)) => {
                ui.colored_label(theme.error(), format!("Cannot compute the patch attention: {e}"));
                None
            }
            None => None,
        };
        if let Some(a) = attention {
            let s = self.state.clone();
            ui.add_space(4.0);
            ui.label(
                RichText::new(format!(
                    "{}: attention of patch ({}, {}) to every patch of a {}×{} image",
                    s.encoding.label(),
                    s.query.0,
                    s.query.1,
                    s.cols,
                    s.rows
                ))
                .strong(),
            );
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| self.patch_grid_ui(ui, &a, side, theme));
                let max = a.iter().copied().fold(0.0f64, f64::max) as f32;
                colorbar_ui(ui, side.min(240.0), (0.0, max), Colormap::Viridis, "weight");
                ui.vertical(|ui| {
                    ui.set_max_width((width - side - 120.0).max(160.0));
                    ui.label(RichText::new(encoding_sentence(s.encoding)).color(theme.weak_text()));
                    if let Some(Ok(text)) = &self.mrope_text {
                        ui.add_space(6.0);
                        mrope_text_ui(ui, &s, text, theme);
                    }
                });
            });
        }
        ui.add_space(10.0);
        ui.separator();
        match &self.spectrum {
            Some(Ok(spec)) => {
                let spec = spec.clone();
                self.graph_section_ui(ui, &spec, side, theme);
            }
            Some(Err(e)) => {
                ui.colored_label(theme.error(), format!("Cannot compute the Laplacian: {e}"));
            }
            None => {}
        }
    }

    fn graph_section_ui(&self, ui: &mut Ui, spec: &GraphSpectrum, side: f32, theme: ThemeChoice) {
        let s = &self.state;
        ui.label(
            RichText::new(format!(
                "{} graph, {} nodes: Laplacian eigenvector {} (λ = {:.4}){}",
                s.graph.key(),
                spec.graph.nodes(),
                spec.k,
                spec.eigenvalue(),
                if s.normalized { ", normalised" } else { "" }
            ))
            .strong(),
        );
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                graph::graph_ui(ui, spec, side.min(300.0), theme);
                graph::node_key_ui(ui);
            });
            ui.vertical(|ui| {
                let w = (ui.available_width() - 8.0).max(200.0);
                graph::vector_plot_ui(ui, spec, theme, w, side.min(300.0) - 40.0);
                let text = match (&spec.closed, spec.graph) {
                    (Some(c), Graph::Path { n }) => format!(
                        "The path's eigenvector k is the DCT-II vector cos(πk(i + ½)/n) with λ = 2 − 2cos(πk/{n}) = {:.4}; largest difference {:.1e}.",
                        c.eigenvalue, c.max_diff
                    ),
                    (Some(c), Graph::Cycle { n }) => format!(
                        "On the cycle, eigenvector {} is a·cos(ωi) + b·sin(ωi) with ω = 2π·{}/{n}: a pair of sinusoidal-PE columns (largest difference {:.1e}). The sinusoidal table is the Laplacian basis of a ring; only the frequencies differ.",
                        spec.k, c.frequency, c.max_diff
                    ),
                    (_, Graph::Grid { .. }) => {
                        "On a grid the eigenvectors are products of two path vectors (the 2-D DCT).".into()
                    }
                    (_, Graph::Tree { .. }) => {
                        "A tree has no closed form here: its eigenvectors separate branches, the coarse ones whole subtrees.".into()
                    }
                    _ => "With the normalised Laplacian the path's end points pull the vectors slightly off the DCT.".into(),
                };
                ui.label(RichText::new(text).small().color(theme.weak_text()));
                ui.label(
                    RichText::new("Signs are arbitrary (here: first non-zero entry positive); graph transformers flip them at random in training.")
                        .small()
                        .color(theme.weak_text()),
                );
            });
        });
    }

    fn figure(&self, attention: &[f64], spec: Option<&GraphSpectrum>) -> Figure {
        let s = &self.state;
        let values: Vec<f32> = attention.iter().map(|&x| x as f32).collect();
        let max = values.iter().copied().fold(0.0f32, f32::max);
        let grid = Grid {
            values: &values,
            rows: s.rows,
            cols: s.cols,
        };
        let mut panels = vec![Panel::heatmap(
            format!(
                "{}: attention of patch ({}, {})",
                s.encoding.label(),
                s.query.0,
                s.query.1
            ),
            "column",
            "row",
            grid_image(grid, (0.0, max), Colormap::Viridis, 1),
            (0.0, s.cols as f64),
            (0.0, s.rows as f64),
            Some(ColorBar {
                label: "weight".into(),
                min: 0.0,
                max: f64::from(max),
                colormap: Colormap::Viridis,
            }),
        )];
        if let Some(spec) = spec {
            let light = ThemeChoice::Light;
            let pts = |v: &[f64]| v.iter().enumerate().map(|(i, &x)| [i as f64, x]).collect::<Vec<_>>();
            let mut series = vec![Series::scatter(
                format!("eigenvector {}", spec.k),
                light.warn(),
                pts(spec.vector()),
            )];
            if let Some(c) = &spec.closed {
                series.push(Series::line("closed form", light.accent_text(), pts(&c.vector)));
            }
            panels.push(Panel::plot(
                format!("{} graph: Laplacian eigenvector {}", s.graph.key(), spec.k),
                "node",
                "entry",
                series,
            ));
        }
        Figure {
            title: "Positions on grids and graphs".into(),
            caption: encoding_sentence(s.encoding).into(),
            panels,
        }
    }
}

/// M-RoPE's text around the image: each text token's ids and the query patch's weight on it.
fn mrope_text_ui(ui: &mut Ui, s: &GridState, text: &state::MropeText, theme: ThemeChoice) {
    let t = state::MROPE_TEXT as f64;
    ui.label(
        RichText::new(format!(
            "The image sits between {} text tokens on each side. Patch ({}, {}) has ids (t, h, w) = ({t}, {}, {}); text uses t = h = w.",
            state::MROPE_TEXT,
            s.query.0,
            s.query.1,
            t + s.query.0 as f64,
            t + s.query.1 as f64
        ))
        .small()
        .color(theme.weak_text()),
    );
    let share = |w: &[f64]| 100.0 * w.iter().sum::<f64>();
    egui::Grid::new("mrope_text").striped(true).show(ui, |ui| {
        ui.small("token");
        ui.small("(t, h, w)");
        ui.small("weight");
        ui.end_row();
        let rows = text
            .before
            .iter()
            .zip(&text.before_ids)
            .map(|(w, id)| ("text before", w, id))
            .chain(
                text.after
                    .iter()
                    .zip(&text.after_ids)
                    .map(|(w, id)| ("text after", w, id)),
            );
        for (label, w, id) in rows {
            ui.small(label);
            ui.monospace(format!("({}, {}, {})", id[0], id[1], id[2]));
            ui.monospace(format!("{w:.4}"));
            ui.end_row();
        }
    });
    ui.label(
        RichText::new(format!(
            "The text gets {:.1} % before and {:.1} % after; the patches the rest.",
            share(&text.before),
            share(&text.after)
        ))
        .small()
        .color(theme.weak_text()),
    );
}

impl View for GridView {
    fn key(&self) -> &'static str {
        "grid"
    }
    fn title(&self) -> &'static str {
        "Grids & graphs"
    }
    fn explanation(&self) -> String {
        EXPLANATION.to_owned()
    }
    delegate_state!(cols);
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        state::SIDE_RANGE
    }
    fn scrolls(&self) -> bool {
        true
    }
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.controls(ui)
    }
    fn update(&mut self, _env: &ViewEnv<'_>) {
        self.recompute();
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn errors(&self) -> Vec<String> {
        let mut e = Vec::new();
        if let Some(Err(err)) = &self.attention {
            e.push(err.to_string());
        }
        if let Some(Err(err)) = &self.spectrum {
            e.push(err.to_string());
        }
        e
    }
    fn export(&self) -> Result<Exported, ExportError> {
        let s = &self.state;
        let attention = s.attention()?;
        let spec = GraphSpectrum::compute(s.graph(), s.normalized, s.eigen_k)?;
        let mut csv = String::from("row,col,attention\n");
        for (i, w) in attention.iter().enumerate() {
            csv += &format!("{},{},{w}\n", i / s.cols, i % s.cols);
        }
        let values: Vec<f32> = attention.iter().map(|&x| x as f32).collect();
        let max = values.iter().copied().fold(0.0f32, f32::max);
        let image = grid_image(
            Grid {
                values: &values,
                rows: s.rows,
                cols: s.cols,
            },
            (0.0, max),
            Colormap::Viridis,
            512,
        );
        let json = json!({
            "encoding": s.encoding.key(),
            "rows": s.rows,
            "cols": s.cols,
            "query": [s.query.0, s.query.1],
            "attention": attention.chunks(s.cols).collect::<Vec<_>>(),
            "graph": spec.graph,
            "normalized": s.normalized,
            "eigenvalues": spec.eigen.values,
            "eigenvector": spec.vector(),
            "k": spec.k,
        });
        Ok(Exported {
            json,
            csv,
            image: Some(image),
            figure: Some(self.figure(&attention, Some(&spec))),
        })
    }
    fn status_extras(&self, extras: &mut Map<String, Value>) {
        let s = &self.state;
        let mut v = json!({
            "encoding": s.encoding.key(),
            "rows": s.rows,
            "cols": s.cols,
            "query": [s.query.0, s.query.1],
            "graph": s.graph.key(),
            "k": s.eigen_k,
        });
        if let Some(Ok(a)) = &self.attention {
            let (qi, max) = (s.query.0 * s.cols + s.query.1, a.iter().copied().fold(0.0f64, f64::max));
            v["weight_at_query"] = a.get(qi).copied().into();
            v["max_weight"] = max.into();
        }
        if let Some(Ok(spec)) = &self.spectrum {
            v["eigenvalue"] = spec.eigenvalue().into();
            v["closed_form_max_diff"] = spec.closed.as_ref().map(|c| c.max_diff).into();
        }
        if let Some(r) = self.grid_rect {
            v["grid_rect"] = json!([r.min.x, r.min.y, r.width(), r.height()]);
        }
        extras.insert("grid".into(), v);
    }
}
