//! View: position bias of every scheme on shared axes — where attention goes, before any content.
//!
//! Three curves per scheme from one causal pass (`crate::analysis::bias_profile`): attention mass
//! by relative distance, attention entropy by query position, and mass by absolute key position
//! (primacy / recency / "lost in the middle": Liu et al. 2023; Wang et al. 2024, PINE).

use egui::{RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};

use serde_json::{Value, json};

use crate::analysis::bias_profile::{self, BiasProfile, ProfileAccumulator};
use crate::analysis::engine::rows_per_chunk;
use crate::export::{ExportError, Exported};
use crate::pe::{PeError, PreparedLogits, SchemeKind};
use crate::theme::{ThemeChoice, scheme_color};
pub use crate::views::all_schemes_state::AllSchemesState;
use crate::views::{View, ViewEnv};

/// The settings of this view (shared with the Compare view).
pub type BiasState = AllSchemesState;

impl AllSchemesState {
    /// The profile of one scheme under this state.
    pub fn profile(&self, kind: SchemeKind) -> Result<BiasProfile, PeError> {
        let prepared = self.prepare(kind)?;
        bias_profile::compute(&prepared, self.seq_len, self.causal)
    }
}

const EXPLANATION: &str = "With identical tokens, only the positional encoding steers attention. Left to right: attention mass \
     by distance (recency), how spread out each query's attention is, and which positions collect it — the \
     first (primacy), the last (recency), the neglected middle (Liu et al. 2023, “Lost in the Middle”). PINE \
     (Wang et al. 2024) traces this to two causes, the causal mask and the encoding's decay with distance: \
     switch the mask to bidirectional and only the encoding's part remains.";

/// The view: state plus one cached profile per scheme.
#[derive(Default)]
pub struct BiasView {
    pub state: BiasState,
    cached_for: Option<BiasState>,
    /// The curves on screen.
    profiles: Vec<(SchemeKind, Result<BiasProfile, PeError>)>,
    /// Profiles being computed for the current state, row by row within the work budget.
    job: Option<Vec<(SchemeKind, Part)>>,
    /// Schemes of the job not prepared yet (preparing random tokens at large N × d takes tens
    /// of milliseconds each, so they are prepared one by one within the work budget).
    pending: Vec<SchemeKind>,
}

/// One scheme's profile in flight: its logits and the rows so far, or why it cannot run.
type Part = Result<(PreparedLogits, ProfileAccumulator), PeError>;

impl BiasView {
    pub fn new(state: BiasState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    fn profile_errors(&self) -> Vec<String> {
        self.profiles
            .iter()
            .filter_map(|(k, p)| p.as_ref().err().map(|e| format!("{}: {e}", k.title())))
            .collect()
    }

    /// Start the profiles of a changed state, then advance them until `deadline`; the curves
    /// switch over when every scheme is done.
    fn recompute(&mut self, deadline: web_time::Instant) {
        let n = self.state.seq_len;
        if self.cached_for.as_ref() != Some(&self.state) {
            self.job = Some(Vec::new());
            self.pending = SchemeKind::ANALYTIC.to_vec();
            self.cached_for = Some(self.state.clone());
        }
        let Some(parts) = &mut self.job else { return };
        // At least one preparation per frame, more while the budget lasts.
        let mut prepared = 0;
        while !self.pending.is_empty() && (prepared == 0 || web_time::Instant::now() < deadline) {
            let k = self.pending.remove(0);
            parts.push((
                k,
                self.state
                    .prepare(k)
                    .map(|p| (p, ProfileAccumulator::new(n, self.state.causal))),
            ));
            prepared += 1;
        }
        // A frame that prepared a scheme has spent its budget: the rows wait for the next one.
        let deadline = if prepared > 0 {
            web_time::Instant::now()
        } else {
            deadline
        };
        loop {
            let mut advanced = false;
            for (_, part) in parts.iter_mut() {
                let failed = match part {
                    Ok((p, acc)) if !acc.is_done() => {
                        advanced = true;
                        acc.rows(p, rows_per_chunk(p, n)).err()
                    }
                    _ => None,
                };
                if let Some(e) = failed {
                    *part = Err(e);
                }
                if web_time::Instant::now() >= deadline {
                    break;
                }
            }
            if !advanced || web_time::Instant::now() >= deadline {
                break;
            }
        }
        let done = self.pending.is_empty()
            && parts
                .iter()
                .all(|(_, p)| p.as_ref().map_or(true, |(_, acc)| acc.is_done()));
        if done && let Some(parts) = self.job.take() {
            self.profiles = parts
                .into_iter()
                .map(|(k, part)| (k, part.map(|(_, acc)| acc.finish())))
                .collect();
        }
    }

    /// Fraction of the profiles in flight done so far.
    fn progress(&self) -> Option<f32> {
        let parts = self.job.as_ref()?;
        let n = self.state.seq_len.max(1) * (parts.len() + self.pending.len()).max(1);
        let done: usize = parts
            .iter()
            .map(|(_, p)| p.as_ref().map_or(self.state.seq_len, |(_, acc)| acc.rows_done()))
            .sum();
        Some(done as f32 / n as f32)
    }

    fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Position bias — where attention goes before any content");
        ui.label(RichText::new(EXPLANATION).color(theme.weak_text()));
        if let Some(done) = self.progress() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!(
                    "computing the profiles at N = {}… {:.0} %",
                    self.state.seq_len,
                    done * 100.0
                ));
            });
        }
        if !self.state.causal {
            ui.label(
                RichText::new(
                    "Mask off. T5 uses a decoder's one-directional buckets (Raffel et al. 2020): every future key falls in \
                     bucket 0, the bias of distance 0, so without the mask T5 reaches forward to the last keys.",
                )
                .small()
                .color(theme.weak_text()),
            );
        }
        let avail = ui.available_size();
        let w = (avail.x - 24.0) / 3.0;
        let h = (avail.y - 30.0).clamp(160.0, 520.0);
        let train = self.state.train_len as f64;
        let curves = |f: fn(&BiasProfile) -> &Vec<f64>| {
            self.profiles
                .iter()
                .filter_map(|(k, p)| p.as_ref().ok().map(|p| (*k, f(p))))
                .collect::<Vec<_>>()
        };
        ui.horizontal(|ui| {
            for (id, title, x_label, y_label, pick, legend) in [
                (
                    "bias_dist",
                    "mass vs distance |m − n|",
                    "distance |m − n|",
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
                        for (kind, ys) in curves(pick) {
                            let pts: PlotPoints = ys.iter().enumerate().map(|(x, y)| [x as f64, *y]).collect();
                            plot.line(Line::new(kind.title(), pts).color(scheme_color(kind)).width(1.5));
                        }
                        plot.vline(
                            VLine::new("L_train", train)
                                .color(theme.warn())
                                .style(egui_plot::LineStyle::dashed_loose()),
                        );
                    });
                });
            }
        });
        for e in self.profile_errors() {
            ui.colored_label(theme.error(), e);
        }
    }
}

impl View for BiasView {
    fn key(&self) -> &'static str {
        "bias"
    }
    fn title(&self) -> &'static str {
        "Position bias"
    }
    fn explanation(&self) -> String {
        EXPLANATION.to_owned()
    }
    delegate_state!(seq_len);
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.state.controls_ui(ui, "Sequence length N")
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        self.recompute(env.deadline);
        if self.job.is_some() {
            env.ctx.request_repaint();
        }
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn errors(&self) -> Vec<String> {
        self.profile_errors()
    }
    fn export(&self) -> Result<Exported, ExportError> {
        use crate::export::figure::{Figure, Panel, Series};
        let mut curves = serde_json::Map::new();
        let mut csv = String::from("scheme,index,mass_by_distance,entropy_by_query_nats,mass_by_key\n");
        let mut series: [Vec<Series>; 3] = Default::default();
        for kind in SchemeKind::ANALYTIC {
            let p = self.state.profile(kind)?;
            for (out, ys) in series
                .iter_mut()
                .zip([&p.mass_by_distance, &p.entropy_by_query, &p.mass_by_key])
            {
                let pts = ys.iter().enumerate().map(|(i, &y)| [i as f64, y]).collect();
                out.push(Series::line(kind.title(), crate::theme::scheme_color(kind), pts));
            }
            for i in 0..p.mass_by_key.len() {
                csv += &format!(
                    "{},{i},{},{},{}\n",
                    kind.key(),
                    p.mass_by_distance[i],
                    p.entropy_by_query[i],
                    p.mass_by_key[i]
                );
            }
            curves.insert(
                kind.key().to_owned(),
                json!({ "mass_by_distance": p.mass_by_distance, "entropy_by_query_nats": p.entropy_by_query,
                        "mass_by_key": p.mass_by_key }),
            );
        }
        let [by_distance, by_query, by_key] = series;
        let train = self.state.train_len as f64;
        let warn = crate::theme::ThemeChoice::Light.warn();
        Ok(Exported {
            json: Value::Object(curves),
            csv,
            image: None,
            figure: Some(Figure {
                title: format!(
                    "Position bias at N = {} (L_train = {}, {})",
                    self.state.seq_len,
                    self.state.train_len,
                    if self.state.causal { "causal" } else { "bidirectional" }
                ),
                caption: String::new(),
                panels: vec![
                    Panel::plot(
                        "mass vs distance |m − n|",
                        "distance |m − n|",
                        "mean attention mass",
                        by_distance,
                    )
                    .with_marker("L_train", train, warn),
                    Panel::plot(
                        "entropy vs query position",
                        "query position m",
                        "entropy (nats)",
                        by_query,
                    )
                    .with_marker("L_train", train, warn),
                    Panel::plot(
                        "where does attention go",
                        "key position n",
                        "mean attention mass",
                        by_key,
                    )
                    .with_marker("L_train", train, warn),
                ],
            }),
        })
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
    fn schemes_are_prepared_one_per_frame_when_the_budget_is_spent() {
        let mut view = BiasView::new(BiasState {
            seq_len: 64,
            ..Default::default()
        });
        let spent = web_time::Instant::now();
        let schemes = SchemeKind::ANALYTIC.len();
        for frame in 1..=schemes {
            view.recompute(spent);
            assert_eq!(view.pending.len(), schemes - frame, "frame {frame}");
            assert!(view.progress().is_some(), "progress is shown while preparing");
        }
        view.recompute(web_time::Instant::now() + std::time::Duration::from_secs(60));
        assert!(view.job.is_none() && view.profiles.len() == schemes);
    }

    #[test]
    fn every_scheme_profiles_and_nope_has_the_highest_entropy() {
        let state = BiasState {
            seq_len: 48,
            ..Default::default()
        };
        let mut view = BiasView::new(state);
        // The first frame prepares; the next ones compute (all at once with a generous budget).
        for _ in 0..3 {
            view.recompute(web_time::Instant::now() + std::time::Duration::from_secs(60));
        }
        assert!(view.job.is_none(), "done within three frames");
        assert!(view.errors().is_empty(), "{:?}", view.errors());
        let last_entropy = |k: SchemeKind| {
            view.profiles
                .iter()
                .find(|(s, _)| *s == k)
                .and_then(|(_, p)| p.as_ref().ok())
                .map(|p| p.entropy_by_query[47])
        };
        let nope = last_entropy(SchemeKind::Nope).expect("nope");
        assert!((nope - 48f64.ln()).abs() < 1e-5, "NoPE attends uniformly");
        for k in SchemeKind::ANALYTIC {
            assert!(
                last_entropy(k).expect("profile") <= nope + 1e-6,
                "{k:?} exceeds the uniform entropy"
            );
        }
    }
}
