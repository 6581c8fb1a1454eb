//! Every layer's and head's attention of one traced sample, as a grid of small heatmaps with
//! the `L_train` marker and a hover read-out (query token → key token: weight). Shared by the
//! Model lab and the Train lab.

use egui::{RichText, Ui};

use crate::analysis::grid::{Aggregate, Grid};
use crate::model::TracedSample;
use crate::tasks::token_label;
use crate::theme::{Colormap, ThemeChoice};
use crate::widgets::heatmap::{Axes, Heatmap};
use crate::widgets::train_marker::train_marker_ui;

/// Upload one texture per layer × head (call when the sample changes; `prefix` names them).
pub fn set_attention_heads(ctx: &egui::Context, prefix: &str, t: &TracedSample, heatmaps: &mut Vec<Heatmap>) {
    heatmaps.resize_with(t.attention.len() * t.heads, Heatmap::default);
    for layer in 0..t.attention.len() {
        for head in 0..t.heads {
            if let Some(values) = t.head(layer, head) {
                let i = layer * t.heads + head;
                let grid = Grid {
                    values,
                    rows: t.len,
                    cols: t.len,
                };
                heatmaps[i].set(
                    ctx,
                    &format!("{prefix}_{i}"),
                    grid,
                    (0.0, 1.0),
                    Colormap::Viridis,
                    Aggregate::Max,
                );
            }
        }
    }
}

/// Draw the grid: one row per layer, one column per head.
pub fn attention_heads_ui(
    ui: &mut Ui,
    id_salt: &str,
    t: &TracedSample,
    heatmaps: &[Heatmap],
    train_len: usize,
    theme: ThemeChoice,
) {
    let cols = t.heads.max(1);
    let side = ((ui.available_width() - 20.0) / cols as f32 - 10.0).clamp(90.0, 170.0);
    egui::Grid::new(id_salt).spacing([10.0, 6.0]).show(ui, |ui| {
        for layer in 0..t.attention.len() {
            for head in 0..t.heads {
                let i = layer * t.heads + head;
                ui.vertical(|ui| {
                    ui.label(
                        RichText::new(format!("layer {layer} · head {head}"))
                            .small()
                            .color(theme.accent_text()),
                    );
                    if let (Some(h), Some(values)) = (heatmaps.get(i), t.head(layer, head)) {
                        let grid = Grid {
                            values,
                            rows: t.len,
                            cols: t.len,
                        };
                        let axes = Axes {
                            row_label: "",
                            col_label: "",
                            rows: t.len,
                            cols: t.len,
                        };
                        let (plot, hover) = h.ui(ui, egui::vec2(side, side), grid, &axes);
                        train_marker_ui(ui, plot, train_len, t.len, theme.warn());
                        if let Some(c) = hover {
                            let q = t.tokens.get(c.row).map_or(String::new(), |&x| token_label(x));
                            let k = t.tokens.get(c.col).map_or(String::new(), |&x| token_label(x));
                            ui.label(
                                RichText::new(format!("q {} ({q}) → k {} ({k}): {:.3}", c.row, c.col, c.value)).small(),
                            );
                        }
                    }
                });
            }
            ui.end_row();
        }
    });
}
