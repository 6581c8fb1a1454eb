//! View: RoPE as a grid of clocks (Su, Lu, Pan, Murtadha, Wen & Liu 2021, "RoFormer: Enhanced
//! Transformer with Rotary Position Embedding").
//!
//! Each rotation pair `i` of a query at position `m` is drawn as a phasor whose hand points at
//! `m·θ_i mod 2π`; the shaded arc is every angle the pair reached during training
//! (`0 … min(2π, L_train·θ_i)`). Pairs that never complete a turn within `L_train` show angles
//! never seen in training once `m > L_train` (the diagnosis of Chen et al. 2023 and Peng et al.
//! 2023, see [`crate::pe::diagnostics::unseen_angle_pairs`]). Below the clocks: the wavelength of
//! every pair against `L_train`, and RoFormer's long-term decay of `⟨R(m)q, R(n)k⟩` with `m − n`
//! (§3.4.3). All maths comes from `crate::pe`.

mod model_clocks;
mod plots;
mod state;
#[cfg(test)]
mod tests;

use std::f64::consts::TAU;

use egui::{RichText, Ui};
use egui_plot::PlotPoint;

use crate::pe::diagnostics::wavelengths;
use crate::theme::ThemeChoice;
use crate::widgets::log_slider::log_slider_ui;

use serde_json::json;

use crate::export::{ExportError, Exported};
use crate::views::{View, ViewEnv};
use plots::envelope_points;
pub use state::*;

const EXPLANATION: &str = "RoPE (Su et al. 2021, “RoFormer”) rotates each pair i of query and key coordinates by the angle \
                 m·θ_i with θ_i = base^(−2i/d); each clock shows that angle at position m, and its shaded arc is \
                 every angle the pair reached in training. Fast pairs sweep full circles within L_train, but slow \
                 pairs whose wavelength 2π/θ_i exceeds L_train only ever saw part of the circle, so past L_train \
                 their hands point at angles the model never saw (warning colour) — why plain RoPE fails to \
                 extrapolate. The score ⟨R(m)q, R(n)k⟩ depends only on m − n and, for aligned q and k, shrinks \
                 as that distance grows (RoFormer's long-term decay).";

/// Inputs of the per-pair data: `(head_dim, base, train_len)`.
type PairsKey = (usize, f64, usize);
/// Inputs of the decay curve: `(head_dim, base, qk, decay_len)`.
type DecayKey = (usize, f64, QkContent, usize);

/// The view: state plus caches (per-pair frequencies and plot series, the decay curve).
#[derive(Default)]
pub struct RopeView {
    pub state: RopeState,
    pairs_key: Option<PairsKey>,
    /// `θ_i`, radians per token.
    inv_freq: Vec<f64>,
    /// `λ_i = 2π/θ_i`, tokens.
    wavelength_len: Vec<f64>,
    /// `λ_i > L_train`.
    never_turn: Vec<bool>,
    /// `(i, log10 λ_i)` for all pairs, for those that turn, and for those that never turn.
    wavelength_line: Vec<PlotPoint>,
    turning_points: Vec<PlotPoint>,
    never_turn_points: Vec<PlotPoint>,
    pairs_error: Option<String>,
    decay_key: Option<DecayKey>,
    decay_points: Vec<PlotPoint>,
    decay_error: Option<String>,
    /// Fractional `m` while playing (the slider holds its rounded value).
    play_pos: f64,
    /// `prefers-reduced-motion`: the play button is off.
    reduced_motion: bool,
    /// The trained model's own clocks (loaded on demand).
    model: model_clocks::ModelClocks,
}

impl RopeView {
    pub fn new(state: RopeState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    /// Side-panel controls. Returns the response of the position (`m`) slider.
    fn controls(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Query position m").strong());
        let pos_response = ui
            .horizontal(|ui| {
                let (icon, hint) = if s.playing {
                    ("⏸", "Pause the animation")
                } else if self.reduced_motion {
                    ("▶", "Animation off: your system asks for reduced motion")
                } else {
                    ("▶", "Animate m upward (wraps around at the end)")
                };
                let play = ui.add_enabled(!self.reduced_motion, egui::Button::new(icon));
                if play.on_hover_text(hint).on_disabled_hover_text(hint).clicked() {
                    s.playing = !s.playing;
                }
                log_slider_ui(ui, &mut s.query_pos, POSITION_RANGE, "tokens")
            })
            .inner;
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut s.train_len, TRAIN_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        ui.label(RichText::new("Head dimension d").strong());
        ui.add(
            egui::Slider::new(&mut s.head_dim, HEAD_DIM_RANGE)
                .step_by(2.0)
                .text("dims"),
        );
        ui.label(RichText::new("RoPE base b").strong());
        ui.add(
            egui::Slider::new(&mut s.base, BASE_RANGE)
                .logarithmic(true)
                .text("base"),
        );
        ui.add_space(6.0);
        ui.label(RichText::new("Decay curve: q and k").strong());
        ui.horizontal(|ui| {
            ui.selectable_value(&mut s.qk, QkContent::Ones, "all-ones")
                .on_hover_text("q = k = (1, …, 1), as in RoFormer §3.4.3");
            ui.selectable_value(&mut s.qk, QkContent::Random, "random (seeded)")
                .on_hover_text("Seeded standard-normal q and k");
        });
        ui.label(RichText::new("Decay curve: largest distance m − n").strong());
        log_slider_ui(ui, &mut s.decay_len, DECAY_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        ui.label(RichText::new("A trained model's own clocks").strong());
        ui.checkbox(&mut s.model_clocks, format!("show {}'s q and k", model_clocks::MODEL))
            .on_hover_text("The Model lab's RoPE model on associative recall: its queries and keys per pair");
        if s.model_clocks {
            ui.add(egui::Slider::new(&mut s.model_layer, MODEL_LAYER_RANGE).text("layer"));
        }
        self.state.sanitize();
        pos_response
    }

    /// Advance the animation, then recompute what changed.
    fn recompute(&mut self, ctx: &egui::Context) {
        self.state.sanitize();
        self.advance_play(ctx);
        let s = &self.state;
        let pairs_key: PairsKey = (s.head_dim, s.base, s.train_len);
        if self.pairs_key != Some(pairs_key) {
            self.recompute_pairs();
            self.pairs_key = Some(pairs_key);
        }
        let s = &self.state;
        let decay_key: DecayKey = (s.head_dim, s.base, s.qk, s.decay_len);
        if self.decay_key != Some(decay_key) {
            match s.decay_curve() {
                Ok(curve) => {
                    self.decay_points = envelope_points(&curve, DECAY_PLOT_BUCKETS);
                    self.decay_error = None;
                }
                Err(e) => {
                    self.decay_points.clear();
                    self.decay_error = Some(e.to_string());
                }
            }
            self.decay_key = Some(decay_key);
        }
    }

    fn advance_play(&mut self, ctx: &egui::Context) {
        self.reduced_motion = crate::theme::reduced_motion(ctx);
        if self.reduced_motion {
            self.state.playing = false; // prefers-reduced-motion: no animation
        }
        if !self.state.playing {
            return;
        }
        // The user may have dragged the slider since the last frame.
        if self.play_pos.round() as usize != self.state.query_pos {
            self.play_pos = self.state.query_pos as f64;
        }
        let dt_s = f64::from(ctx.input(|i| i.stable_dt)).clamp(0.0, 0.1);
        let next = (self.play_pos + 1.0) * (dt_s / PLAY_DOUBLING_S).exp2() - 1.0;
        let max = *POSITION_RANGE.end() as f64;
        self.play_pos = if next > max {
            *POSITION_RANGE.start() as f64
        } else {
            next
        };
        self.state.query_pos = self.play_pos.round() as usize;
        ctx.request_repaint();
    }

    fn recompute_pairs(&mut self) {
        match self.state.inv_freq() {
            Ok(inv_freq) => {
                self.wavelength_len = wavelengths(&inv_freq);
                self.never_turn = self.state.never_turn_pairs(&inv_freq);
                self.inv_freq = inv_freq;
                let point = |(i, lambda): (usize, &f64)| PlotPoint::new(i as f64, lambda.log10());
                self.wavelength_line = self.wavelength_len.iter().enumerate().map(point).collect();
                let (never, turning): (Vec<_>, Vec<_>) = self
                    .wavelength_len
                    .iter()
                    .enumerate()
                    .partition(|(i, _)| self.never_turn.get(*i).copied().unwrap_or(false));
                self.never_turn_points = never.into_iter().map(point).collect();
                self.turning_points = turning.into_iter().map(point).collect();
                self.pairs_error = None;
            }
            Err(e) => {
                self.inv_freq.clear();
                self.wavelength_len.clear();
                self.never_turn.clear();
                self.wavelength_line.clear();
                self.turning_points.clear();
                self.never_turn_points.clear();
                self.pairs_error = Some(e.to_string());
            }
        }
    }

    /// The central area: explanation, summary, clocks, wavelength plot and decay curve.
    fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let s = self.state.clone();
        ui.heading("RoPE — every pair of dimensions is a clock");
        ui.label(RichText::new(EXPLANATION).color(theme.weak_text()));
        if let Some(err) = &self.pairs_error {
            ui.colored_label(theme.error(), format!("Cannot compute the RoPE frequencies: {err}"));
            return;
        }
        let unseen = s.unseen_pairs(&self.inv_freq);
        let any_unseen = unseen.iter().any(|&b| b);
        ui.add_space(4.0);
        ui.label(
            RichText::new(format_summary(&s, &self.never_turn, &unseen))
                .strong()
                .color(if any_unseen { theme.warn() } else { theme.ok() }),
        );
        ui.add_space(4.0);
        let clocks_h = (ui.available_height() - PLOT_HEIGHT_PT - 60.0).max(2.0 * CLOCK_CELL_MIN_PT);
        let clocks_h = if s.model_clocks {
            clocks_h.min(3.0 * CLOCK_CELL_MAX_PT)
        } else {
            clocks_h
        };
        self.clocks_ui(ui, theme, &unseen, clocks_h);
        if s.model_clocks {
            ui.add_space(6.0);
            ui.label(
                RichText::new(format!(
                    "…and the trained {} model's own queries and keys",
                    model_clocks::MODEL
                ))
                .strong(),
            );
            self.model.ui(ui, theme);
        }
        ui.add_space(6.0);
        ui.columns(2, |cols| {
            self.wavelength_plot_ui(&mut cols[0], theme);
            self.decay_plot_ui(&mut cols[1], theme);
        });
    }
}

impl View for RopeView {
    fn key(&self) -> &'static str {
        "rope"
    }
    fn title(&self) -> &'static str {
        "RoPE rotation"
    }
    fn explanation(&self) -> String {
        EXPLANATION.to_owned()
    }
    // The RoPE view's length is the query position m.
    delegate_state!(query_pos);
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        POSITION_RANGE
    }
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.controls(ui)
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        self.recompute(env.ctx);
        if self.state.model_clocks
            && let Some(compute) = env.compute
        {
            let (len, pos) = self.state.model_sample();
            if self.model.update(compute, self.state.model_layer, pos, len) {
                env.ctx.request_repaint_after(std::time::Duration::from_millis(50));
            }
        }
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn errors(&self) -> Vec<String> {
        let mut e: Vec<String> = self.pairs_error.iter().chain(&self.decay_error).cloned().collect();
        if self.state.model_clocks {
            e.extend(self.model.error());
        }
        e
    }
    fn status_extras(&self, extras: &mut serde_json::Map<String, serde_json::Value>) {
        extras.insert("playing".into(), self.state.playing.into());
        extras.insert("reduced_motion".into(), self.reduced_motion.into());
        if self.state.model_clocks {
            extras.insert("model_clocks".into(), self.model_clocks_status());
        }
    }
    fn export(&self) -> Result<Exported, ExportError> {
        let r = &self.state;
        let inv_freq = r.inv_freq()?;
        let never = r.never_turn_pairs(&inv_freq);
        let unseen = r.unseen_pairs(&inv_freq);
        let decay = r.decay_curve()?;
        let mut csv =
            String::from("pair,inv_freq,wavelength_tokens,angle_at_m_rad,never_turns_in_training,unseen_at_m\n");
        for (i, t) in inv_freq.iter().enumerate() {
            let angle = (r.query_pos as f64 * t).rem_euclid(TAU);
            csv += &format!("{i},{t},{},{angle},{},{}\n", TAU / t, never[i], unseen[i]);
        }
        let figure = rope_figure(r, &inv_freq, &unseen, &decay);
        Ok(Exported {
            json: json!({ "inv_freq": inv_freq, "never_turns_in_training": never, "unseen_at_m": unseen,
                          "decay_score_by_distance": decay, "summary": r.summary() }),
            csv,
            image: None,
            figure: Some(figure),
        })
    }
}

impl RopeView {
    /// `status().model_clocks`: what the model clocks show, and per head the pair with the
    /// longest query hand (the pair that head uses most).
    fn model_clocks_status(&self) -> serde_json::Value {
        let (len, pos) = self.state.model_sample();
        let ready = self.model.result().and_then(|r| r.as_ref().ok());
        let strongest: Option<Vec<usize>> = ready.map(|p| {
            (0..p.heads)
                .map(|h| {
                    let q = &p.query[h * p.head_dim..(h + 1) * p.head_dim];
                    let k = &p.keys[(h * p.len + p.pos) * p.head_dim..(h * p.len + p.pos + 1) * p.head_dim];
                    let pairs = model_clocks::pair_phasors(q, k);
                    (0..pairs.len())
                        .max_by(|&a, &b| pairs[a].q_mag.total_cmp(&pairs[b].q_mag))
                        .unwrap_or(0)
                })
                .collect()
        });
        json!({
            "model": model_clocks::MODEL, "layer": self.state.model_layer, "len": len, "pos": pos,
            "ready": ready.is_some(), "heads": ready.map(|p| p.heads), "pairs": ready.map(|p| p.head_dim / 2),
            "strongest_pair_by_head": strongest,
        })
    }
}

/// The view's plots as a vector figure: each pair's angle at m (the clocks, unrolled), the
/// wavelengths against `L_train` and m, and the decay of the score with distance.
fn rope_figure(r: &RopeState, inv_freq: &[f64], unseen: &[bool], decay: &[f64]) -> crate::export::figure::Figure {
    use crate::export::figure::{Figure, Panel, Series};
    let light = ThemeChoice::Light;
    let m = r.query_pos as f64;
    let angle = |i: usize, t: f64| [i as f64, (m * t).rem_euclid(TAU)];
    let (mut seen, mut new): (Vec<[f64; 2]>, Vec<[f64; 2]>) = (Vec::new(), Vec::new());
    for (i, t) in inv_freq.iter().enumerate() {
        if unseen[i] {
            new.push(angle(i, *t))
        } else {
            seen.push(angle(i, *t))
        }
    }
    let pairs = inv_freq.len() as f64;
    let flat = |y: f64| vec![[0.0, y], [pairs - 1.0, y]];
    let wavelengths = inv_freq
        .iter()
        .enumerate()
        .map(|(i, t)| [i as f64, (TAU / t).log10()])
        .collect();
    Figure {
        title: format!(
            "RoPE at query position m = {} (L_train = {}, d = {}, base {})",
            r.query_pos, r.train_len, r.head_dim, r.base
        ),
        caption: String::new(),
        panels: vec![
            Panel::plot(
                "each pair's angle at m (the clocks, unrolled)",
                "pair i",
                "angle m·θ_i mod 2π (rad)",
                vec![
                    Series::scatter("angle seen in training", light.accent_text(), seen),
                    Series::scatter("angle never seen in training", light.error(), new),
                ],
            )
            .with_y_range(0.0, TAU),
            Panel::plot(
                "wavelength of each pair",
                "pair i",
                "log10 λ_i (tokens)",
                vec![
                    Series::line("λ_i = 2π/θ_i", light.accent_text(), wavelengths),
                    Series::line("L_train", light.warn(), flat((r.train_len as f64).log10())).dashed(),
                    Series::line("m", light.error(), flat(m.max(1.0).log10())).dashed(),
                ],
            ),
            Panel::plot(
                "score vs distance",
                "relative distance m − n (tokens)",
                "score (no 1/√d)",
                vec![Series::line(
                    "⟨R(m)q, R(n)k⟩",
                    light.accent_text(),
                    decay.iter().enumerate().map(|(d, s)| [d as f64, *s]).collect(),
                )],
            )
            .with_marker("L_train", r.train_len as f64, light.warn()),
        ],
    }
}
