//! The reader's own sample: a text box under the read-out where a copy string or recall pairs
//! are typed (`tasks::input`); the model then shows its answer and attention for that sample.

use egui::{RichText, Ui};

use crate::tasks::input::{example, to_text};
use crate::theme::ThemeChoice;

use super::*;

impl ModelLabView {
    pub(super) fn input_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let task = self.state.task;
        let shown = match self.result() {
            Some(Ok(r)) => Some(crate::tasks::Sample {
                tokens: r.trace.tokens.clone(),
                answer_positions: r.trace.answer_positions.clone(),
            }),
            _ => None,
        };
        ui.horizontal(|ui| {
            ui.label(RichText::new("Your own input").strong());
            let edit = egui::TextEdit::singleline(&mut self.state.input)
                .hint_text(format!("e.g. {}", example(task)))
                .desired_width((ui.available_width() - 220.0).clamp(160.0, 640.0))
                .font(egui::TextStyle::Monospace);
            self.input_rect = Some(ui.add(edit).rect);
            if let Some(s) = &shown
                && ui
                    .small_button("edit the shown sample")
                    .on_hover_text("Copy the sample below into the box as text")
                    .clicked()
            {
                self.state.input = to_text(task, s);
            }
            if !self.state.input.is_empty() && ui.small_button("clear").clicked() {
                self.state.input.clear();
            }
        });
        let help = match task {
            crate::tasks::TaskKind::Copy => {
                "distinct symbols s0 … s127, separated by spaces; the model must copy them after the separator"
            }
            crate::tasks::TaskKind::Recall => {
                "pairs key=value (keys s0 … s127, distinct; values v0 … v15), then ? and the key to look up"
            }
        };
        match self.state.given() {
            Some(Err(e)) => {
                ui.colored_label(theme.error(), format!("Cannot read your input: {e}"));
            }
            Some(Ok(s)) => {
                ui.label(
                    RichText::new(format!(
                        "Showing your sample ({} tokens) and its attention below; the accuracy above is still over the drawn samples at N.",
                        s.tokens.len()
                    ))
                    .small()
                    .color(theme.accent_text()),
                );
            }
            None => {
                ui.label(RichText::new(format!("Type {help}.")).small().color(theme.weak_text()));
            }
        }
    }
}
