//! View: every scheme side by side as small multiples at one shared length — the quickest way to
//! see how differently NoPE, APE, T5, ALiBi, RoPE, xPos and KERPLE spend their attention, and what
//! happens to each past the training length.

use egui::{RichText, Ui};

use crate::compute::attention_map::{self, AttentionMap, MapRequest};
use crate::theme::{Colormap, ThemeChoice};
pub use crate::views::all_schemes_state::AllSchemesState;
use crate::views::scheme_choice::SchemeKind;
use crate::widgets::heatmap::{Aggregate, Axes, Grid, Heatmap};

/// Side of each panel's aggregated map, in cells.
pub const PANEL_SIDE: usize = 128;

/// The settings of this view (shared with the Position-bias view).
pub type CompareState = AllSchemesState;

impl AllSchemesState {
    /// The softmax map of one scheme under this state.
    pub fn compute_panel(&self, kind: SchemeKind) -> Result<AttentionMap, String> {
        let prepared = self.prepare(kind)?;
        let req = MapRequest {
            n: self.seq_len,
            causal: true,
            softmax: true,
            out_side: PANEL_SIDE,
            aggregate: Aggregate::Mean,
            train_len: self.train_len,
        };
        attention_map::compute(&prepared, &req).map_err(|e| e.to_string())
    }
}

struct Panel {
    kind: SchemeKind,
    map: Result<AttentionMap, String>,
    heatmap: Heatmap,
}

/// The view: state plus one cached map per scheme.
#[derive(Default)]
pub struct CompareView {
    pub state: CompareState,
    cached_for: Option<CompareState>,
    panels: Vec<Panel>,
}

impl CompareView {
    pub fn new(state: CompareState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    /// Errors of any panel.
    pub fn errors(&self) -> Vec<String> {
        self.panels
            .iter()
            .filter_map(|p| p.map.as_ref().err().map(|e| format!("{}: {e}", p.kind.title())))
            .collect()
    }

    /// One line per scheme: title and its summary statistics.
    pub fn summaries(&self) -> Vec<(SchemeKind, String)> {
        self.panels.iter().map(|p| (p.kind, summary(&p.map))).collect()
    }

    pub fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.state.controls_ui(ui, "Sequence length N (all panels)")
    }

    pub fn update(&mut self, ctx: &egui::Context) {
        if self.cached_for.as_ref() == Some(&self.state) {
            return;
        }
        let old = std::mem::take(&mut self.panels);
        let mut old: Vec<Option<Panel>> = old.into_iter().map(Some).collect();
        for kind in SchemeKind::ALL {
            let map = self.state.compute_panel(kind);
            // Reuse the panel's texture when there is one.
            let mut heatmap = old
                .iter_mut()
                .find_map(|p| p.take_if(|p| p.kind == kind))
                .map(|p| p.heatmap)
                .unwrap_or_default();
            if let Ok(m) = &map {
                let grid = Grid {
                    values: &m.values,
                    rows: m.rows,
                    cols: m.cols,
                };
                heatmap.set(ctx, kind.key(), grid, m.range, Colormap::Viridis, Aggregate::Mean);
            }
            self.panels.push(Panel { kind, map, heatmap });
        }
        self.cached_for = Some(self.state.clone());
    }

    pub fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Compare — every scheme at the same length");
        ui.label(
            RichText::new(
                "Each panel is the causal softmax attention (query ↓, key →) of one scheme with the same tokens and \
                 length; the dashed lines mark L_train. Schemes with a built-in distance penalty (ALiBi, T5, KERPLE, \
                 xPos) stay local past L_train; NoPE spreads evenly, and RoPE ripples (Kazemnejad et al. 2023).",
            )
            .color(theme.weak_text()),
        );
        let cols = 4;
        let avail = ui.available_size();
        let side = ((avail.x - 16.0) / cols as f32 - 12.0)
            .min((avail.y - 20.0) / 2.0 - 60.0)
            .max(90.0);
        let n = self.state.seq_len;
        let train = self.state.train_len;
        egui::Grid::new("compare_grid").spacing([12.0, 8.0]).show(ui, |ui| {
            for (i, p) in self.panels.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.label(RichText::new(p.kind.title()).strong().color(theme.accent_text()));
                    match &p.map {
                        Ok(m) => {
                            let grid = Grid {
                                values: &m.values,
                                rows: m.rows,
                                cols: m.cols,
                            };
                            let axes = Axes {
                                row_label: "",
                                col_label: "",
                                rows: n,
                                cols: n,
                            };
                            let (plot, _) = p.heatmap.ui(ui, egui::vec2(side, side), grid, &axes);
                            crate::widgets::train_marker::train_marker_ui(ui, plot, train, n, theme.warn());
                            ui.label(RichText::new(summary(&p.map)).small());
                        }
                        Err(e) => {
                            ui.colored_label(theme.error(), e);
                        }
                    }
                });
                if i % cols == cols - 1 {
                    ui.end_row();
                }
            }
        });
    }
}

/// "H̄ 3.1 nats · 12 % beyond L_train" for one panel.
fn summary(map: &Result<AttentionMap, String>) -> String {
    match map {
        Ok(m) => match m.mass_beyond_train {
            Some(b) => format!(
                "mean entropy {:.2} nats · {:.1} % at distance ≥ L_train",
                m.mean_entropy_nats,
                b * 100.0
            ),
            None => format!("mean entropy {:.2} nats · N ≤ L_train", m.mean_entropy_nats),
        },
        Err(e) => format!("error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_schemes_compute_and_alibi_is_more_local_than_nope() {
        let state = CompareState {
            seq_len: 64,
            train_len: 16,
            ..Default::default()
        };
        let nope = state.compute_panel(SchemeKind::Nope).expect("nope");
        let alibi = state.compute_panel(SchemeKind::Alibi).expect("alibi");
        for kind in SchemeKind::ALL {
            assert!(state.compute_panel(kind).is_ok(), "{kind:?}");
        }
        assert!(alibi.mean_entropy_nats < nope.mean_entropy_nats);
        let (a, b) = (
            alibi.mass_beyond_train.expect("N > L"),
            nope.mass_beyond_train.expect("N > L"),
        );
        assert!(a < b, "ALiBi {a} should put less mass beyond L_train than NoPE {b}");
    }
}
