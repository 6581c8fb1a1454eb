//! The Train lab's central area: progress, loss and accuracy, the probe's attention, and the
//! accuracy-vs-length curves after training.

use egui::{RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

use super::*;
use crate::tasks::token_label;

impl TrainLabView {
    pub(super) fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Train lab — train short, test long");
        ui.label(RichText::new(EXPLANATION).color(theme.weak_text()));
        ui.add_space(6.0);
        if let Some(e) = &self.error {
            ui.colored_label(theme.error(), e);
        }
        let Some(spec) = self.run_spec.clone() else {
            ui.label("Choose a task, an encoding and a recipe on the left, then press ▶ Train. The quick recipe learns copy in about a minute on a laptop CPU.");
            return;
        };
        self.progress_ui(ui, theme, &spec);
        ui.add_space(6.0);
        let width = ui.available_width();
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width((width * 0.5 - 8.0).max(260.0));
                self.loss_ui(ui, theme);
            });
            ui.vertical(|ui| self.curve_ui(ui, theme, &spec));
        });
        ui.add_space(8.0);
        self.probe_ui(ui, theme, &spec);
    }

    fn progress_ui(&self, ui: &mut Ui, theme: ThemeChoice, spec: &crate::model::train_spec::TrainSpec) {
        let p = &self.progress;
        let frac = if p.steps > 0 {
            p.step as f32 / p.steps as f32
        } else {
            0.0
        };
        let eta = if p.steps_per_s > 0.0 && p.state == TrainState::Running {
            format!(" · ETA {:.0} s", (p.steps - p.step) as f64 / p.steps_per_s)
        } else {
            String::new()
        };
        ui.add(
            egui::ProgressBar::new(frac)
                .text(format!("{} · step {} / {}{eta}", p.state.key(), p.step, p.steps))
                .desired_height(22.0),
        );
        let loss = self.losses.last().map_or("—".into(), |l| format!("{l:.3}"));
        let em = p
            .exact_match
            .map_or("—".into(), |(s, a)| format!("{:.0} % (step {s})", 100.0 * a));
        ui.label(
            RichText::new(format!(
                "{} · {} · L_train {} · batch {} · {} layers · lr {} · seed {}   |   loss {loss} · exact match at L_train {em} · {:.1} steps/s on burn {}",
                spec.task.label(),
                spec.pe.label(),
                spec.train_len,
                spec.batch,
                spec.layers,
                spec.learning_rate,
                spec.seed,
                p.steps_per_s,
                p.backend.label(),
            ))
            .small()
            .color(theme.weak_text()),
        );
    }

    fn loss_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        ui.label(RichText::new("Training loss (cross-entropy on the answer tokens, nats)").strong());
        let loss: PlotPoints = self
            .losses
            .iter()
            .enumerate()
            .map(|(i, l)| [(i + 1) as f64, *l])
            .collect();
        let link = egui::Id::unique("train_x");
        Plot::new("train_loss")
            .height(150.0)
            .link_axis(link, [true, false])
            .include_y(0.0)
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(Line::new("loss", loss).color(theme.accent_text()));
            });
        ui.label(RichText::new("Exact match at L_train (128 samples every 50 steps)").strong());
        let acc: PlotPoints = self.accuracy.iter().map(|(s, a)| [*s as f64, *a]).collect();
        Plot::new("train_accuracy")
            .height(90.0)
            .link_axis(link, [true, false])
            .x_axis_label("step")
            .include_y(0.0)
            .include_y(1.0)
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(Line::new("exact match", acc).color(theme.ok()));
            });
    }

    fn curve_ui(&self, ui: &mut Ui, theme: ThemeChoice, spec: &crate::model::train_spec::TrainSpec) {
        ui.label(RichText::new("Exact match against length (after training or when paused)").strong());
        let to_points = |c: &Curve| -> PlotPoints {
            c.length
                .iter()
                .zip(&c.exact_match)
                .filter_map(|(l, a)| a.map(|a| [*l as f64, a]))
                .collect()
        };
        Plot::new("train_curve")
            .height(220.0)
            .legend(Legend::default())
            .x_axis_label("length N")
            .include_y(0.0)
            .include_y(1.0)
            .allow_scroll(false)
            .show(ui, |plot| {
                if let Some((_, Ok(c))) = &self.curve {
                    plot.line(
                        Line::new("this run", to_points(c))
                            .color(theme.accent_text())
                            .width(2.5),
                    );
                }
                if let Some((_, Ok(c))) = &self.ext_curve
                    && let Some(m) = self.state.method
                {
                    plot.line(Line::new(format!("this run + {}", m.title()), to_points(c)).color(theme.warn()));
                }
                if let Some((_, Ok(m))) = &self.shipped_meta {
                    plot.line(
                        Line::new(
                            format!("shipped {} (L_train {})", m.name, m.train_len),
                            to_points(&m.curve),
                        )
                        .color(theme.weak_text())
                        .style(egui_plot::LineStyle::dashed_loose()),
                    );
                }
                plot.vline(VLine::new("L_train", spec.train_len as f64).color(theme.warn()));
            });
        if self.curve.is_none() && self.curve_job.is_none() {
            ui.label(
                RichText::new("Pause or let the run finish to measure it at 1×…8× L_train.")
                    .small()
                    .color(theme.weak_text()),
            );
        }
        if let Some((_, Err(e))) = &self.curve {
            ui.colored_label(theme.error(), e);
        }
    }

    fn probe_ui(&self, ui: &mut Ui, theme: ThemeChoice, spec: &crate::model::train_spec::TrainSpec) {
        let Some((len, step, trace)) = &self.probe else {
            return;
        };
        let t = match trace {
            Ok(t) => t,
            Err(e) => {
                ui.colored_label(theme.error(), format!("Probe at N = {len}: {e}"));
                return;
            }
        };
        ui.label(
            RichText::new(format!(
                "Probe sample at N = {len} (step {step}): {} of {} answer tokens right — attention of every layer and head (query ↓, key →)",
                t.right(),
                t.answer_positions.len()
            ))
            .strong(),
        );
        let text: Vec<String> = t.tokens.iter().map(|&x| token_label(x)).collect();
        ui.label(
            RichText::new(text.join(" "))
                .monospace()
                .small()
                .color(theme.weak_text()),
        );
        crate::widgets::attention_heads::attention_heads_ui(
            ui,
            "train_heads",
            t,
            &self.heatmaps,
            spec.train_len,
            theme,
        );
    }
}
