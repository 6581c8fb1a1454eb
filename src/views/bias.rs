//! View: position bias of every scheme on shared axes — where attention goes, before any content.
//!
//! Three curves per scheme from one causal pass (`crate::compute::bias_profile`): attention mass
//! by relative distance, attention entropy by query position, and mass by absolute key position
//! (primacy / recency / "lost in the middle": Liu et al. 2023; Wang et al. 2024, PINE).

use egui::{RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};
use serde::{Deserialize, Serialize};

use crate::compute::bias_profile::{self, BiasProfile};
use crate::pe::{Content, PreparedLogits};
use crate::theme::{ThemeChoice, series_color};
use crate::views::attention::{ContentKind, HEAD_DIM_RANGE, TRAIN_LEN_RANGE};
use crate::views::scheme_choice::{self, HEADS, SchemeKind, SchemeParams};
use crate::widgets::log_slider::log_slider_ui;

/// Lengths offered here (every scheme is computed at once, N² each).
pub const SEQ_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=2048;

/// The serialisable settings of this view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BiasState {
    pub seq_len: usize,
    pub train_len: usize,
    pub content: ContentKind,
    pub head: usize,
    pub head_dim: usize,
}

impl Default for BiasState {
    fn default() -> Self {
        Self {
            seq_len: 512,
            train_len: 256,
            content: ContentKind::Identical,
            head: 2,
            head_dim: 64,
        }
    }
}

impl BiasState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let mut clamp = |v: &mut usize, r: std::ops::RangeInclusive<usize>, name: &str| {
            let c = (*v).clamp(*r.start(), *r.end());
            if c != *v {
                notes.push(format!("{name}={v} is outside {}…{}; using {c}", r.start(), r.end()));
                *v = c;
            }
        };
        clamp(&mut self.seq_len, SEQ_LEN_RANGE, "len");
        clamp(&mut self.train_len, TRAIN_LEN_RANGE, "train");
        clamp(&mut self.head_dim, HEAD_DIM_RANGE, "hd");
        clamp(&mut self.head, 0..=HEADS - 1, "head");
        if self.head_dim % 2 == 1 {
            self.head_dim += 1;
        }
        notes
    }

    /// Append this view's keys to a URL hash.
    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&len={}&train={}&content={}&head={}&hd={}",
            self.seq_len,
            self.train_len,
            self.content.key(),
            self.head,
            self.head_dim
        ));
    }

    /// Read one URL key: `None` if it is not this view's, else whether the value was valid.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        let num = |v: &str| v.parse::<usize>().ok();
        let ok = match key {
            "len" => num(value).map(|n| self.seq_len = n).is_some(),
            "train" => num(value).map(|n| self.train_len = n).is_some(),
            "head" => num(value).map(|n| self.head = n).is_some(),
            "hd" => num(value).map(|n| self.head_dim = n).is_some(),
            "content" => ContentKind::from_key(value).map(|c| self.content = c).is_some(),
            _ => return None,
        };
        Some(ok)
    }

    /// The profile of one scheme under this state.
    pub fn profile(&self, kind: SchemeKind) -> Result<BiasProfile, String> {
        let scheme = scheme_choice::build(
            kind,
            SchemeParams {
                head: self.head,
                rope_base: 10_000.0,
            },
        )
        .map_err(|e| e.to_string())?;
        let content = match self.content {
            ContentKind::Identical => Content::Identical,
            ContentKind::Random => Content::Random { seed: 7 },
            ContentKind::Repeating => Content::Repeating {
                period: 16.min(self.seq_len),
                seed: 7,
            },
        };
        let prepared =
            PreparedLogits::new(&scheme, &content, self.head_dim, self.seq_len).map_err(|e| e.to_string())?;
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
        let s = &mut self.state;
        ui.label(RichText::new("Sequence length N").strong());
        let len_response = log_slider_ui(ui, &mut s.seq_len, SEQ_LEN_RANGE, "tokens");
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut s.train_len, TRAIN_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        ui.label(RichText::new("Token content").strong());
        ui.horizontal(|ui| {
            for c in ContentKind::ALL {
                ui.selectable_value(&mut s.content, c, c.key());
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Head").strong());
        ui.add(egui::Slider::new(&mut s.head, 0..=HEADS - 1).text("head"));
        ui.label(RichText::new("Head dimension d").strong());
        ui.add(
            egui::Slider::new(&mut s.head_dim, HEAD_DIM_RANGE)
                .step_by(2.0)
                .text("dims"),
        );
        self.state.sanitize();
        len_response
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
