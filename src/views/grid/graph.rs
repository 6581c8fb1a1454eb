//! The Grid view's graph panel: Laplacian eigenvectors drawn on the nodes, and for the path and
//! the cycle the closed form beside them — the DCT basis, and the sinusoidal table's columns.

use egui::{Pos2, Sense, Stroke, Ui, pos2, vec2};
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};

use crate::pe::PeError;
use crate::pe::laplacian::{self, Eigen, Graph};
use crate::theme::{Colormap, ThemeChoice};

/// One graph's eigenpairs and, for path and cycle, the closed form of the shown vector.
#[derive(Clone, Debug)]
pub struct GraphSpectrum {
    pub graph: Graph,
    pub eigen: Eigen,
    /// The shown eigenvector's index.
    pub k: usize,
    /// The closed form the vector equals (path: the DCT-II vector; cycle: its least-squares
    /// fit by the sinusoidal columns cos(ωi), sin(ωi) of the same frequency).
    pub closed: Option<ClosedForm>,
}

/// The closed form beside an eigenvector.
#[derive(Clone, Debug)]
pub struct ClosedForm {
    /// Frequency index: ω = πk/n (path) or 2πk/n (cycle).
    pub frequency: usize,
    pub eigenvalue: f64,
    /// The closed-form vector (path) or the fit `a·cos + b·sin` (cycle).
    pub vector: Vec<f64>,
    /// The sinusoidal columns (unit norm) the cycle's vector is made of.
    pub columns: Vec<Vec<f64>>,
    /// `max_i |v_i − closed_i|`: the identity holds to rounding.
    pub max_diff: f64,
}

impl GraphSpectrum {
    pub fn compute(graph: Graph, normalized: bool, k: usize) -> Result<Self, PeError> {
        let n = graph.nodes();
        let eigen = laplacian::eigen(&graph, normalized, (k + 1).min(n))?;
        let k = k.min(eigen.vectors.len() - 1);
        let v = &eigen.vectors[k];
        let diff = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        let closed = match (graph, normalized) {
            (Graph::Path { n }, false) => {
                let (lambda, c) = laplacian::path_closed_form(n, k)?;
                Some(ClosedForm {
                    frequency: k,
                    eigenvalue: lambda,
                    max_diff: diff(v, &c),
                    columns: vec![c.clone()],
                    vector: c,
                })
            }
            (Graph::Cycle { n }, _) => {
                // Eigenvalues come in pairs: index 2f − 1 and 2f share frequency f. The
                // normalised Laplacian of a cycle is the combinatorial one over 2 (degree 2).
                let f = k.div_ceil(2);
                let (lambda, cos, sin) = laplacian::cycle_closed_form(n, f)?;
                let lambda = if normalized { lambda / 2.0 } else { lambda };
                let dot = |a: &[f64]| a.iter().zip(v).map(|(x, y)| x * y).sum::<f64>();
                let mut columns = vec![cos];
                columns.extend(sin);
                let coeffs: Vec<f64> = columns.iter().map(|c| dot(c)).collect();
                let fit: Vec<f64> = (0..n)
                    .map(|i| columns.iter().zip(&coeffs).map(|(c, a)| a * c[i]).sum())
                    .collect();
                Some(ClosedForm {
                    frequency: f,
                    eigenvalue: lambda,
                    max_diff: diff(v, &fit),
                    vector: fit,
                    columns,
                })
            }
            _ => None,
        };
        Ok(Self {
            graph,
            eigen,
            k,
            closed,
        })
    }

    pub fn vector(&self) -> &[f64] {
        &self.eigen.vectors[self.k]
    }

    pub fn eigenvalue(&self) -> f64 {
        self.eigen.values[self.k]
    }
}

/// The graph with every node coloured by the eigenvector's entry (blue − / red +).
pub fn graph_ui(ui: &mut Ui, spec: &GraphSpectrum, side: f32, theme: ThemeChoice) {
    let (rect, _) = ui.allocate_exact_size(vec2(side, side), Sense::hover());
    let painter = ui.painter_at(rect);
    let inner = rect.shrink(14.0);
    let layout = spec.graph.layout();
    let at = |p: [f64; 2]| -> Pos2 {
        pos2(
            inner.left() + p[0] as f32 * inner.width(),
            inner.top() + p[1] as f32 * inner.height(),
        )
    };
    for (a, b) in spec.graph.edges() {
        if let (Some(&pa), Some(&pb)) = (layout.get(a), layout.get(b)) {
            painter.line_segment([at(pa), at(pb)], Stroke::new(1.0, theme.weak_text()));
        }
    }
    let v = spec.vector();
    let scale = v.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-12);
    // Nodes no wider than 40 % of the shortest edge on screen.
    let shortest = spec
        .graph
        .edges()
        .iter()
        .filter_map(|&(a, b)| Some(at(*layout.get(a)?).distance(at(*layout.get(b)?))))
        .fold(f32::INFINITY, f32::min);
    let radius = (0.4 * shortest).clamp(2.5, 9.0);
    for (i, p) in layout.iter().enumerate() {
        let t = 0.5 + 0.5 * (v[i] / scale) as f32;
        painter.circle(
            at(*p),
            radius,
            Colormap::RdBu.eval(t),
            Stroke::new(0.8, theme.weak_text()),
        );
    }
}

/// The eigenvector against node index, with the closed form (path, cycle) as a line.
pub fn vector_plot_ui(ui: &mut Ui, spec: &GraphSpectrum, theme: ThemeChoice, width: f32, height: f32) {
    let v = spec.vector();
    // Room above the curves for the legend.
    let top = v.iter().fold(0.0f64, |m, x| m.max(x.abs())).max(1e-6);
    Plot::new("grid_graph_vector")
        .width(width)
        .height(height)
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .include_y(-1.05 * top)
        .include_y(1.9 * top)
        .x_axis_label("node i")
        .y_axis_label("entry")
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .show(ui, |plot| {
            if let Some(c) = &spec.closed {
                for (j, col) in c.columns.iter().enumerate().filter(|_| c.columns.len() == 2) {
                    let name = if j == 0 { "cos(ωi) column" } else { "sin(ωi) column" };
                    let pts: Vec<[f64; 2]> = col.iter().enumerate().map(|(i, &x)| [i as f64, x]).collect();
                    plot.line(
                        Line::new(name, PlotPoints::from(pts))
                            .color(theme.weak_text())
                            .style(egui_plot::LineStyle::dashed_loose()),
                    );
                }
                let pts: Vec<[f64; 2]> = c.vector.iter().enumerate().map(|(i, &x)| [i as f64, x]).collect();
                let name = match spec.graph {
                    Graph::Path { .. } => "cos(πk(i+½)/n), DCT-II",
                    _ => "a·cos(ωi) + b·sin(ωi)",
                };
                plot.line(Line::new(name, PlotPoints::from(pts)).color(theme.accent_text()));
            }
            let pts: Vec<[f64; 2]> = v.iter().enumerate().map(|(i, &x)| [i as f64, x]).collect();
            plot.points(
                Points::new(format!("eigenvector {}", spec.k), PlotPoints::from(pts))
                    .radius(3.0)
                    .color(theme.warn()),
            );
        });
}

/// A small colour key for the node colours.
pub fn node_key_ui(ui: &mut Ui) {
    ui.horizontal(|ui| {
        for (t, label) in [(0.0, "−"), (0.5, "0"), (1.0, "+")] {
            let (r, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
            ui.painter().circle_filled(r.center(), 5.0, Colormap::RdBu.eval(t));
            ui.small(label);
        }
    });
}
