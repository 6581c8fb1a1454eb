//! View: position bias of every scheme on shared axes — where attention goes, before any content.
//!
//! Three curves per scheme from one causal pass (`crate::compute::bias_profile`): attention mass
//! by relative distance, attention entropy by query position, and mass by absolute key position
//! (primacy / recency / "lost in the middle": Liu et al. 2023; Wang et al. 2024, PINE).

use egui::{RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

use crate::compute::bias_profile::{self, BiasProfile};
use crate::theme::{ThemeChoice, series_color};
pub use crate::views::all_schemes_state::AllSchemesState;
use crate::views::scheme_choice::SchemeKind;

/// The settings of this view (shared with the Compare view).
pub type BiasState = AllSchemesState;

impl AllSchemesState {
    /// The profile of one scheme under this state.
    pub fn profile(&self, kind: SchemeKind) -> Result<BiasProfile, String> {
        let prepared = self.prepare(kind)?;
        bias_profile::compute(&prepared, self.seq_len).map_err(|e| e.to_string())
    }
}

/// The view: state plus one cached profile per scheme.
#[derive(Default)]
pub struct BiasView {
    pub state: BiasState,
    cached_for: Option<BiasState>,
    profiles: Vec<(SchemeKind, Result<BiasProfile, String>)>,
}

impl BiasView {
    pub fn new(state: BiasState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    pub fn errors(&self) -> Vec<String> {
        self.profiles
            .iter()
            .filter_map(|(k, p)| p.as_ref().err().map(|e| format!("{}: {e}", k.title())))
            .collect()
    }

    /// The computed curves, for export.
    pub fn profiles(&self) -> &[(SchemeKind, Result<BiasProfile, String>)] {
        &self.profiles
    }

    pub fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.state.controls_ui(ui, "Sequence length N")
    }

    pub fn update(&mut self) {
        if self.cached_for.as_ref() == Some(&self.state) {
            return;
        }
        self.profiles = SchemeKind::ALL
            .into_iter()
            .map(|k| (k, self.state.profile(k)))
            .collect();
        self.cached_for = Some(self.state.clone());
    }

    pub fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Position bias — where attention goes before any content");
        ui.label(
            RichText::new(
                "With identical tokens, all that steers attention is the positional encoding. Left: how much attention \
                 lands at each distance (recency bias). Middle: how spread out each query's attention is. Right: which \
                 absolute positions collect attention — the first tokens (primacy), the last (recency), and the \
                 neglected middle (Liu et al. 2023, “Lost in the Middle”; Wang et al. 2024, PINE).",
            )
            .color(theme.weak_text()),
        );
        let avail = ui.available_size();
        let w = (avail.x - 24.0) / 3.0;
        let h = (avail.y - 30.0).clamp(160.0, 520.0);
        let train = self.state.train_len as f64;
        let curves = |f: fn(&BiasProfile) -> &Vec<f64>| {
            self.profiles
                .iter()
                .enumerate()
                .filter_map(|(i, (k, p))| p.as_ref().ok().map(|p| (i, *k, f(p))))
                .collect::<Vec<_>>()
        };
        ui.horizontal(|ui| {
            for (id, title, x_label, y_label, pick, legend) in [
                (
                    "bias_dist",
                    "mass vs distance m − n",
                    "distance m − n",
                    "mean attention mass",
                    by_distance as fn(&BiasProfile) -> &Vec<f64>,
                    true,
                ),
                (
                    "bias_entropy",
                    "entropy vs query position",
                    "query position m",
                    "entropy (nats)",
                    by_query,
                    false,
                ),
                (
                    "bias_key",
                    "where does attention go",
                    "key position n",
                    "mean attention mass",
                    by_key,
                    false,
                ),
            ] {
                ui.vertical(|ui| {
                    ui.label(RichText::new(title).strong());
                    let mut plot = Plot::new(id)
                        .width(w)
                        .height(h)
                        .x_axis_label(x_label)
                        .y_axis_label(y_label)
                        .allow_scroll(false);
                    if legend {
                        plot = plot.legend(Legend::default());
                    }
                    plot.show(ui, |plot| {
                        for (i, kind, ys) in curves(pick) {
                            let pts: PlotPoints = ys.iter().enumerate().map(|(x, y)| [x as f64, *y]).collect();
                            plot.line(Line::new(kind.title(), pts).color(series_color(i)).width(1.5));
                        }
                        plot.vline(
                            VLine::new("L_train", train)
                                .color(theme.weak_text())
                                .style(egui_plot::LineStyle::dashed_loose()),
                        );
                    });
                });
            }
        });
        for e in self.errors() {
            ui.colored_label(theme.error(), e);
        }
    }
}

fn by_distance(p: &BiasProfile) -> &Vec<f64> {
    &p.mass_by_distance
}
fn by_query(p: &BiasProfile) -> &Vec<f64> {
    &p.entropy_by_query
}
fn by_key(p: &BiasProfile) -> &Vec<f64> {
    &p.mass_by_key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_profiles_and_nope_has_the_highest_entropy() {
        let state = BiasState {
            seq_len: 48,
            ..Default::default()
        };
        let mut view = BiasView::new(state);
        view.update();
        assert!(view.errors().is_empty(), "{:?}", view.errors());
        let last_entropy = |k: SchemeKind| {
            view.profiles()
                .iter()
                .find(|(s, _)| *s == k)
                .and_then(|(_, p)| p.as_ref().ok())
                .map(|p| p.entropy_by_query[47])
        };
        let nope = last_entropy(SchemeKind::Nope).expect("nope");
        assert!((nope - 48f64.ln()).abs() < 1e-5, "NoPE attends uniformly");
        for k in SchemeKind::ALL {
            assert!(
                last_entropy(k).expect("profile") <= nope + 1e-6,
                "{k:?} exceeds the uniform entropy"
            );
        }
    }
}
