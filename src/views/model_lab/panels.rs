//! The Model lab's central area: accuracy curves, read-out, the sample and the attention grid.

use std::collections::BTreeMap;

use egui::{RichText, Ui};
use egui_plot::{Line, LineStyle, Plot, PlotPoints, Points, VLine};

use crate::model::{PeKind, model_name};
use crate::tasks::token_label;
use crate::theme::{ThemeChoice, scheme_color};

use super::*;

impl ModelLabView {
    pub(super) fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Model lab — real tiny transformers past their training length");
        ui.label(RichText::new(explanation(self.state.task, self.state.pe)).color(theme.weak_text()));
        if let Some(y) = self.shown_yours() {
            ui.label(
                RichText::new(format!(
                    "Showing your model ({}): trained {} steps on lengths ≤ {}, next to the shipped curves. \
                     Drag N past its L_train to see where it breaks.",
                    y.files, y.meta.steps, y.meta.train_len
                ))
                .color(theme.accent_text()),
            );
        }
        ui.add_space(4.0);
        let (done, total) = self.metas_progress();
        if done < total {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("loading model metadata {done}/{total}…"));
            });
        }
        let loading = match &self.weights {
            Some(Weights::Fetching(name, _)) => Some(format!("downloading weights {name}.plw…")),
            Some(Weights::Loading(name, _)) => Some(match self.backend {
                Some(_) => format!("building {name} in the compute worker…"),
                None => format!("starting the compute worker (burn, a second download), then {name}…"),
            }),
            None => None,
        };
        if let Some(text) = loading {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(text);
            });
        }
        if let Some((name, e)) = &self.load_error {
            ui.colored_label(theme.error(), format!("Cannot load {name}: {e}"));
        }
        let width = ui.available_width();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width((width * 0.58).max(320.0));
                self.curve_ui(ui, theme);
            });
            ui.vertical(|ui| self.readout_ui(ui, theme));
        });
        ui.add_space(6.0);
        self.insight_ui(ui, theme);
        ui.add_space(6.0);
        self.input_ui(ui, theme);
        ui.add_space(4.0);
        self.sample_ui(ui, theme);
        ui.add_space(6.0);
        self.attention_ui(ui, theme);
    }

    fn readout_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let n = self.state.seq_len;
        let train = self.meta(&self.shown_name()).map_or(32, |m| m.train_len);
        ui.label(RichText::new(format!("At N = {n} ({:.1}× L_train)", n as f64 / train as f64)).strong());
        match self.result() {
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("running the model…");
                });
            }
            Some(Err(e)) if is_past_table(e) => {
                ui.colored_label(
                    theme.warn(),
                    format!("Cannot run past {train} positions: a learned position table has no row for them."),
                );
            }
            Some(Err(e)) => {
                ui.colored_label(theme.error(), e.to_string());
            }
            Some(Ok(r)) => {
                let em = r.score.exact_match();
                let color = if em >= 0.9 {
                    theme.ok()
                } else if em >= 0.5 {
                    theme.warn()
                } else {
                    theme.error()
                };
                ui.label(
                    RichText::new(format!("{:.0} % exact match", 100.0 * em))
                        .size(26.0)
                        .color(color),
                );
                ui.label(format!(
                    "{:.1} % of answer tokens right · {} samples",
                    100.0 * r.score.token_accuracy(),
                    r.score.samples
                ));
                let backend = self.backend.map_or("worker", |b| b.label());
                ui.label(
                    RichText::new(format!(
                        "burn {backend} · {:.0} ms for the sample, score and curve",
                        r.compute_ms
                    ))
                    .small()
                    .color(theme.weak_text()),
                );
            }
        }
        if self.state.pe == PeKind::Rope
            && let Some(m) = self.state.method
        {
            ui.add_space(6.0);
            ui.label(RichText::new(m.title()).strong());
            ui.label(RichText::new(m.explanation()).small().color(theme.weak_text()));
        }
        if self.state.pe == PeKind::Learned && self.state.interp {
            ui.add_space(6.0);
            ui.label(RichText::new("Interpolated position table (LongEmbed)").strong());
            ui.label(
                RichText::new(
                    "A learned table has no row past L_train. LongEmbed (Zhu et al. 2024) stretches it instead: at N = s·L_train, \
                     position p reads the blend of rows ⌊p/s⌋ and ⌈p/s⌉ — Position Interpolation for a learned table, no new weights.",
                )
                .small()
                .color(theme.weak_text()),
            );
        }
    }

    fn curve_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let task = self.state.task;
        let token = self.state.token_metric;
        let metric = if token { "Token accuracy" } else { "Exact match" };
        ui.label(RichText::new(format!("{metric} vs length — {} (all encodings)", task.label())).strong());
        let n = self.state.seq_len as f64;
        let train = self.meta(&self.shown_name()).map_or(32.0, |m| m.train_len as f64);
        let live = self
            .result()
            .and_then(|r| r.as_ref().ok())
            .and_then(|r| r.extension_curve.clone());
        let live_label = self.state.live_curve_label();
        let live_color = ui.visuals().strong_text_color();
        let yours = self.yours.as_ref().filter(|y| y.meta.task == task);
        Plot::new("model_curve")
            .height(220.0)
            .include_y(0.0)
            .include_y(1.0)
            .include_x(0.0)
            .x_axis_label("sequence length N (tokens)")
            .y_axis_label(if token { "token accuracy" } else { "exact match" })
            .allow_scroll(false)
            .allow_drag(false)
            .allow_zoom(false)
            .show(ui, |plot| {
                for pe in PeKind::ALL {
                    let Some(m) = self.meta(&model_name(task, pe)) else {
                        continue;
                    };
                    let ys = if token {
                        &m.curve.token_accuracy
                    } else {
                        &m.curve.exact_match
                    };
                    let pts: Vec<[f64; 2]> = m
                        .curve
                        .length
                        .iter()
                        .zip(ys)
                        .filter_map(|(&l, a)| a.map(|a| [l as f64, a]))
                        .collect();
                    let selected = pe == self.state.pe;
                    plot.line(
                        Line::new(pe.label(), PlotPoints::from(pts.clone()))
                            .color(scheme_color(pe.scheme()))
                            .width(if selected { 3.0 } else { 1.5 }),
                    );
                    plot.points(
                        Points::new(pe.label(), PlotPoints::from(pts))
                            .color(scheme_color(pe.scheme()))
                            .radius(if selected { 3.5 } else { 2.0 }),
                    );
                }
                if let Some(y) = yours {
                    let pts = curve_points(&y.meta.curve, token);
                    let color = scheme_color(y.meta.pe.scheme());
                    let name = format!("yours: {}", y.meta.pe.label());
                    plot.line(
                        Line::new(name.clone(), PlotPoints::from(pts.clone()))
                            .color(color)
                            .width(2.5)
                            .style(LineStyle::dashed_dense()),
                    );
                    plot.points(
                        Points::new(name, PlotPoints::from(pts))
                            .color(color)
                            .shape(egui_plot::MarkerShape::Diamond)
                            .radius(4.5),
                    );
                }
                if let (Some(c), Some(label)) = (&live, &live_label) {
                    let pts = curve_points(c, token);
                    let name = format!("{label} (live, {CURVE_SAMPLES}/length)");
                    plot.line(
                        Line::new(name, PlotPoints::from(pts))
                            .color(live_color)
                            .width(2.5)
                            .style(LineStyle::dashed_loose()),
                    );
                }
                plot.vline(
                    VLine::new("L_train", train)
                        .color(theme.warn())
                        .style(LineStyle::dashed_dense()),
                );
                plot.vline(VLine::new("current N", n).color(theme.accent_text()).width(1.5));
            });
        // The legend under the plot, so it never hides a curve.
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 10.0;
            for pe in PeKind::ALL {
                let text = RichText::new(format!("━ {}", pe.label())).color(scheme_color(pe.scheme()));
                ui.label(if pe == self.state.pe {
                    text.strong()
                } else {
                    text.small()
                });
            }
            if let Some(y) = yours {
                ui.label(
                    RichText::new(format!(
                        "◆╌ yours: {} ({} steps, L_train {})",
                        y.meta.pe.label(),
                        y.meta.steps,
                        y.meta.train_len
                    ))
                    .color(scheme_color(y.meta.pe.scheme()))
                    .strong(),
                );
            }
            if let (Some(_), Some(label)) = (&live, &live_label) {
                ui.label(RichText::new(format!("╍ {label} (live)")).color(live_color).strong());
            }
            ui.label(RichText::new("┆ L_train").small().color(theme.warn()));
            ui.label(RichText::new("│ current N").small().color(theme.accent_text()));
        });
    }

    fn sample_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let Some(Ok(r)) = self.result() else { return };
        let t = &r.trace;
        ui.label(
            RichText::new(format!(
                "{} at N = {}: {} of {} answer tokens right (green = right, red ✗expected→predicted = wrong)",
                match self.state.given() {
                    Some(Ok(_)) => "Your sample".to_owned(),
                    _ => format!("Sample {}", self.state.sample),
                },
                t.len,
                t.right(),
                t.answer_positions.len()
            ))
            .strong(),
        );
        let answers: BTreeMap<usize, i64> = t
            .answer_positions
            .iter()
            .zip(&t.predicted)
            .map(|(&p, &g)| (p + 1, g))
            .collect();
        egui::ScrollArea::vertical()
            .id_salt("model_sample")
            .max_height(90.0)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.spacing_mut().item_spacing = egui::vec2(3.0, 2.0);
                    for (i, &tok) in t.tokens.iter().enumerate() {
                        let label = token_label(tok);
                        match answers.get(&i) {
                            None => {
                                ui.label(RichText::new(label).monospace().small().color(theme.weak_text()));
                            }
                            Some(&g) if g == tok as i64 => {
                                ui.label(RichText::new(label).monospace().small().color(theme.ok()));
                            }
                            Some(&g) => {
                                ui.label(
                                    RichText::new(format!("✗{}→{}", label, token_label(g.max(0) as u32)))
                                        .monospace()
                                        .small()
                                        .color(theme.error()),
                                );
                            }
                        }
                    }
                });
            });
    }

    fn attention_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let Some(Ok(r)) = self.result() else { return };
        let t = &r.trace;
        let train = self.meta(&self.shown_name()).map_or(32, |m| m.train_len);
        ui.label(
            RichText::new("Attention of this sample, every layer and head (query ↓, key →; colour = weight 0…1)")
                .strong(),
        );
        crate::widgets::attention_heads::attention_heads_ui(ui, "model_heads", t, &self.heatmaps, train, theme);
    }
}

/// A model's accuracy curve as plot points (lengths it cannot run at are left out).
fn curve_points(c: &crate::model::catalog::Curve, token: bool) -> Vec<[f64; 2]> {
    let ys = if token { &c.token_accuracy } else { &c.exact_match };
    c.length
        .iter()
        .zip(ys)
        .filter_map(|(&l, a)| a.map(|a| [l as f64, a]))
        .collect()
}
