//! View: RoPE context extension. Past the training length `L_train` an unscaled RoPE model meets
//! rotation angles it never saw in training (pairs that had not completed one turn within
//! `L_train`); every extension method trades that off differently.
//!
//! The view shows, per rotation pair `i`: the frequency ratio `θ'_i / θ_i`, the wavelengths
//! before and after, and the "angle coverage" — the angle range seen in training
//! `[0, L_train·θ_i]` against the range reached at the current length — plus the attention maps
//! of plain RoPE and of the method side by side.
//!
//! All maths comes from `crate::pe` (`scaling::rope_inv_freq`, `position_maps::PositionMap`,
//! `diagnostics::{wavelengths, turns_within, unseen_angle_pairs}`) and the maps from the engine
//! façade `crate::analysis::engine` (aggregated to at most [`MAP_SIDE`]² cells). Papers:
//! Chen et al. 2023 (Position Interpolation); bloc97 2023 (NTK-aware); emozilla 2023 (Dynamic
//! NTK); Peng et al. 2023 (YaRN); Meta 2024 (Llama 3); Ding et al. 2024 (LongRoPE); Han et al.
//! 2023 (LM-Infinite); Jin et al. 2024 (SelfExtend); Su 2023 (ReRoPE).

mod plots;
mod state;
#[cfg(test)]
mod tests;

use egui::{RichText, Ui};

use crate::analysis::attention_map::AttentionMap;
use crate::analysis::grid::{Aggregate, Grid};
use crate::theme::{Colormap, ThemeChoice};
use crate::widgets::colorbar::colorbar_ui;
use crate::widgets::heatmap::{Axes, Heatmap};
use crate::widgets::log_slider::log_slider_ui;
use crate::widgets::train_marker::train_marker_ui;

use serde_json::json;

use crate::analysis::engine::{LiveMap, MapEngines};
use crate::export::{ExportError, Exported, map_image, map_json, tile};
use crate::views::{View, ViewEnv};
use plots::{coverage_plot, ratio_plot, trajectory_plot, wavelength_plot, window_slider};
pub use state::*;

/// The view: state plus caches.
#[derive(Default)]
pub struct ExtensionView {
    pub state: ExtensionState,
    cached_for: Option<ExtensionState>,
    /// `(N, L_train, d, base bits)` the "before" map was computed for.
    before_key: Option<(usize, usize, usize, u64)>,
    diag: Option<ExtensionDiagnostics>,
    /// Plain RoPE and the method, through the engine façade.
    before: LiveMap,
    after: LiveMap,
    before_ok: bool,
    after_ok: bool,
    /// Shared colour range of both maps.
    range: (f32, f32),
    heat_before: Heatmap,
    heat_after: Heatmap,
    /// The current maps are on screen, drawn on the device (their statistics may still come).
    gpu_shown: bool,
    error: Option<String>,
    /// Time of the last recompute (state change → both maps shown), in ms.
    pub compute_ms: f32,
    /// When the recompute in flight started.
    started: Option<web_time::Instant>,
    /// Whether the textures show the current maps.
    shown: bool,
}

const INTRO: &str = "Past the training length, plain RoPE rotates its slow pairs further than they ever turned in \
     training: those pairs meet unseen angles. Each method below trades that off differently.";

impl ExtensionView {
    pub fn new(state: ExtensionState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    fn maps(&self) -> Option<(&AttentionMap, &AttentionMap)> {
        let ready = self.before_ok
            && self.after_ok
            && !self.before.is_pending()
            && !self.after.is_pending()
            && self.before.map().n > 0
            && self.after.map().n > 0;
        ready.then(|| (self.before.map(), self.after.map()))
    }

    /// The one-line summary of the last computed state (or why it cannot be computed).
    pub fn summary(&self) -> String {
        if let Some(e) = &self.error {
            return format!("{}: cannot compute: {e}", self.state.method.title());
        }
        match &self.diag {
            Some(diag) => summary_text(
                &self.state,
                diag,
                self.before_ok.then(|| self.before.map().mass_beyond_train).flatten(),
                self.after_ok.then(|| self.after.map().mass_beyond_train).flatten(),
            ),
            None => format!("{}: not computed yet", self.state.method.title()),
        }
    }

    /// Side-panel controls. Returns the response of the length (N) slider.
    fn controls(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Method").strong());
        ui.label(RichText::new("Frequency scaling").small());
        ui.horizontal_wrapped(|ui| {
            for m in ExtensionMethod::ALL.into_iter().filter(|m| !m.is_position_map()) {
                ui.selectable_value(&mut s.method, m, m.title());
            }
        });
        ui.label(RichText::new("Position maps (frequencies unchanged)").small());
        ui.horizontal_wrapped(|ui| {
            for m in ExtensionMethod::ALL.into_iter().filter(|m| m.is_position_map()) {
                ui.selectable_value(&mut s.method, m, m.title());
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Sequence length N").strong());
        let len_response = log_slider_ui(ui, &mut s.seq_len, SEQ_LEN_RANGE, "tokens");
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut s.train_len, TRAIN_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        // Giraffe's power scaling has no scale factor.
        if !s.method.is_position_map() && s.method != ExtensionMethod::GiraffePower {
            ui.label(RichText::new("Scale factor s").strong());
            ui.horizontal(|ui| {
                ui.add(
                    egui::Slider::new(&mut s.factor, FACTOR_RANGE)
                        .logarithmic(true)
                        .text("s"),
                );
                let fit =
                    (s.seq_len as f64 / s.train_len.max(1) as f64).clamp(*FACTOR_RANGE.start(), *FACTOR_RANGE.end());
                if ui
                    .small_button("N / L_train")
                    .on_hover_text("Set s to the extension ratio N / L_train")
                    .clicked()
                {
                    s.factor = fit;
                }
            });
        }
        match s.method {
            ExtensionMethod::Yarn => {
                ui.add(
                    egui::Slider::new(&mut s.yarn_beta_fast, BETA_FAST_RANGE)
                        .logarithmic(true)
                        .text("β_fast (turns)"),
                );
                ui.add(
                    egui::Slider::new(&mut s.yarn_beta_slow, BETA_SLOW_RANGE)
                        .logarithmic(true)
                        .text("β_slow (turns)"),
                );
            }
            ExtensionMethod::Llama3 => {
                ui.add(
                    egui::Slider::new(&mut s.llama3_low_freq_factor, LOW_FREQ_FACTOR_RANGE)
                        .logarithmic(true)
                        .text("low_freq_factor"),
                );
                ui.add(
                    egui::Slider::new(&mut s.llama3_high_freq_factor, HIGH_FREQ_FACTOR_RANGE)
                        .logarithmic(true)
                        .text("high_freq_factor"),
                );
            }
            ExtensionMethod::LongRope => {
                ui.label(
                    RichText::new("Illustrative factors f_i = 1 + (s − 1)·i/(d/2 − 1), not a searched set.").small(),
                );
            }
            ExtensionMethod::LmInfinite => {
                ui.add(egui::Slider::new(&mut s.lm_n_global, N_GLOBAL_RANGE).text("global tokens"));
                let default = s.train_len;
                window_slider(ui, &mut s.lm_local_window_tokens, default, "local window", "L_train");
            }
            ExtensionMethod::SelfExtend => {
                ui.add(egui::Slider::new(&mut s.self_extend_group, GROUP_RANGE).text("group size G"));
                let default = (s.train_len / 4).max(1);
                window_slider(
                    ui,
                    &mut s.self_extend_window_tokens,
                    default,
                    "neighbour window W",
                    "L_train / 4",
                );
            }
            ExtensionMethod::ReRope => {
                let default = (s.train_len / 2).max(1);
                window_slider(ui, &mut s.rerope_window_tokens, default, "window w", "L_train / 2");
            }
            ExtensionMethod::Abf => {
                ui.label(RichText::new(format!("New base b′ = s·b = {:.0}", s.factor * s.rope_base)).small());
            }
            ExtensionMethod::GiraffePower => {
                ui.add(egui::Slider::new(&mut s.giraffe_power, state::POWER_RANGE).text("power k"));
            }
            ExtensionMethod::GiraffeTruncated => {
                let (a, b, rho) = crate::pe::scaling::giraffe_truncation(s.factor, s.train_len);
                ui.label(
                    RichText::new(format!(
                        "Approximate thresholds: keep θ ≥ b = {b:.4}, set a < θ < b to ρ = {rho:.5}, zero θ ≤ a = {a:.5}"
                    ))
                    .small(),
                );
            }
            ExtensionMethod::Pi | ExtensionMethod::Ntk | ExtensionMethod::DynamicNtk => {}
        }
        ui.add_space(6.0);
        ui.label(RichText::new("RoPE base b").strong());
        ui.add(
            egui::Slider::new(&mut s.rope_base, BASE_RANGE)
                .logarithmic(true)
                .text("base"),
        );
        ui.label(RichText::new("Head dimension d").strong());
        ui.add(
            egui::Slider::new(&mut s.head_dim, HEAD_DIM_RANGE)
                .step_by(2.0)
                .text("dims"),
        );
        self.state.sanitize();
        len_response
    }

    /// Recompute when the state changed. The plain-RoPE map is only recomputed when N, L_train,
    /// d or b changed. Both maps go through the engine façade (CPU path; large maps over several
    /// frames within the work budget); the pictures update when both are complete.
    fn recompute(&mut self, ctx: &egui::Context, engines: &MapEngines, deadline: web_time::Instant) {
        if self.cached_for.as_ref() != Some(&self.state) {
            self.started = Some(web_time::Instant::now());
            let s = self.state.clone();
            let key = (s.seq_len, s.train_len, s.head_dim, s.rope_base.to_bits());
            let mut errors = Vec::new();
            let req = s.map_request();
            if self.before_key != Some(key) || !self.before_ok {
                let started = s
                    .prepare(&s.scheme_before())
                    .and_then(|p| self.before.start(engines, p, req, engines.auto_uses_gpu(req.n)));
                self.before_ok = started.is_ok();
                if let Err(e) = started {
                    errors.push(format!("plain RoPE: {e}"));
                }
                self.before_key = Some(key);
            }
            match s.diagnostics() {
                Ok(d) => self.diag = Some(d),
                Err(e) => {
                    self.diag = None;
                    errors.push(e.to_string());
                }
            }
            self.after_ok = false;
            if self.diag.is_some() {
                let started = s
                    .prepare(&s.scheme_after())
                    .and_then(|p| self.after.start(engines, p, req, engines.auto_uses_gpu(req.n)));
                self.after_ok = started.is_ok();
                if let Err(e) = started {
                    errors.push(e.to_string());
                }
            }
            self.error = (!errors.is_empty()).then(|| errors.join("; "));
            self.shown = false;
            self.gpu_shown = false;
            self.cached_for = Some(s);
        }
        let started_now = !self.shown && !self.gpu_shown;
        self.before.poll(engines, deadline);
        self.after.poll(engines, deadline);
        for e in [self.before.error(), self.after.error()].into_iter().flatten() {
            self.error = Some(e.to_string());
        }
        // Maps drawn on the device go up at once, on one colour scale (the union of both
        // ranges, computed on the device); textures once both maps are complete.
        if started_now && self.before.gpu_picture().is_some() && self.after.gpu_picture().is_some() {
            self.show_both(ctx, engines);
            self.gpu_shown = true;
        }
        if self.before.is_pending() || self.after.is_pending() {
            ctx.request_repaint();
            return;
        }
        if self.shown {
            return;
        }
        if let Some((b, a)) = self.maps() {
            let lo = b.range.0.min(a.range.0);
            let hi = b.range.1.max(a.range.1);
            self.range = if hi > lo { (lo, hi) } else { (lo, lo + 1e-6) };
            self.show_both(ctx, engines);
        }
        self.compute_ms = self.started.map_or(0.0, |t| t.elapsed().as_secs_f32() * 1000.0);
        self.shown = true;
    }

    /// Both maps on screen, on one colour scale (drawn on the device, or as textures).
    fn show_both(&mut self, ctx: &egui::Context, engines: &MapEngines) {
        self.heat_before.show_live(
            ctx,
            engines,
            &self.before,
            Some(&self.after),
            "extension_before",
            Colormap::Viridis,
            Aggregate::Mean,
        );
        self.heat_after.show_live(
            ctx,
            engines,
            &self.after,
            Some(&self.before),
            "extension_after",
            Colormap::Viridis,
            Aggregate::Mean,
        );
    }

    /// Fraction done of the maps being computed, when any is.
    fn progress(&self) -> Option<f32> {
        match (self.before.progress(), self.after.progress()) {
            (None, None) => None,
            (b, a) => Some(0.5 * (b.unwrap_or(1.0) + a.unwrap_or(1.0))),
        }
    }

    /// The central area.
    fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        let s = self.state.clone();
        ui.heading(format!("Context extension — {}", s.method.title()));
        ui.label(RichText::new(INTRO).color(theme.weak_text()));
        ui.label(RichText::new(s.method.explanation()).color(theme.weak_text()));
        if let Some(err) = &self.error {
            ui.colored_label(theme.error(), format!("Cannot compute these settings: {err}"));
            return;
        }
        let Some(diag) = self.diag.clone() else {
            return;
        };
        ui.label(RichText::new(self.summary()).strong());
        egui::ScrollArea::vertical().auto_shrink(false).show(ui, |ui| {
            let width = ui.available_width();
            let half = ((width - 16.0) / 2.0).max(200.0);
            ui.horizontal(|ui| {
                ui.vertical(|ui| {
                    ui.set_width(half);
                    ratio_plot(ui, &s, &diag, theme);
                });
                ui.vertical(|ui| {
                    ui.set_width(half);
                    wavelength_plot(ui, &s, &diag, theme);
                });
            });
            ui.add_space(6.0);
            coverage_plot(ui, &s, &diag, theme);
            ui.add_space(6.0);
            trajectory_plot(ui, &s, theme);
            ui.add_space(6.0);
            self.maps_ui(ui, &s, theme);
        });
    }

    fn maps_ui(&self, ui: &mut Ui, s: &ExtensionState, theme: ThemeChoice) {
        // Pictures drawn on the device are on screen before their read-back (`maps`).
        let gpu_n = self.after.gpu_picture().filter(|_| self.gpu_shown).map(|p| p.n);
        let maps = self.maps();
        let n = match (gpu_n, maps) {
            (Some(n), _) => n,
            (None, Some((b, _))) => b.n,
            (None, None) => {
                if let Some(done) = self.progress() {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!(
                            "computing the attention maps at N = {}… {:.0} %",
                            s.seq_len,
                            done * 100.0
                        ));
                    });
                }
                return;
            }
        };
        let empty = AttentionMap::default();
        let (before, after) = maps.unwrap_or((&empty, &empty));
        ui.label(
            RichText::new(format!(
                "Attention at N = {} (softmax, causal, identical tokens): plain RoPE | {}",
                s.seq_len,
                s.method.title()
            ))
            .strong(),
        );
        let avail = ui.available_width();
        let side = ((avail - 90.0) / 2.0).clamp(160.0, 420.0);
        let mut hover = None;
        ui.horizontal(|ui| {
            for (heat, map, label) in [
                (&self.heat_before, before, "plain RoPE"),
                (&self.heat_after, after, "method"),
            ] {
                let grid = Grid {
                    values: &map.values,
                    rows: map.rows,
                    cols: map.cols,
                };
                let axes = Axes {
                    row_label: "query m ↓",
                    col_label: "key n →",
                    rows: n,
                    cols: n,
                };
                let (plot, h) = heat.ui(ui, egui::vec2(side, side), grid, &axes);
                if let Some(h) = h {
                    hover = Some((label, h));
                }
                train_marker_ui(ui, plot, s.train_len, n, theme.warn());
            }
            colorbar_ui(ui, side, self.range, Colormap::Viridis, "weight");
        });
        ui.horizontal_wrapped(|ui| {
            match hover {
                Some((label, h)) => {
                    // The exact weight of that (query, key), from the logits behind the picture.
                    let live = if label == "plain RoPE" {
                        &self.before
                    } else {
                        &self.after
                    };
                    let v = live.exact_value(h.row, h.col).unwrap_or(h.value);
                    ui.monospace(format!("{label}: query {}, key {}: {v:.5}", h.row, h.col));
                }
                None => {
                    ui.label(RichText::new("Hover a map to read (query, key, weight).").color(theme.weak_text()));
                }
            }
            if before.n > before.rows {
                ui.separator();
                ui.label(
                    RichText::new(format!(
                        "{0}×{0} maps shown as {1}×{1} block means",
                        before.n, before.rows
                    ))
                    .color(theme.warn()),
                );
            }
            ui.separator();
            ui.label(RichText::new(format!("computed in {:.0} ms", self.compute_ms)).color(theme.weak_text()));
        });
    }
}

impl View for ExtensionView {
    fn key(&self) -> &'static str {
        "extension"
    }
    fn status_extras(&self, extras: &mut serde_json::Map<String, serde_json::Value>) {
        // "gpu": both maps drawn from the GPU's buffers on one shared scale; else textures.
        let drawn = if self.heat_before.is_gpu_drawn() && self.heat_after.is_gpu_drawn() {
            "gpu"
        } else {
            "texture"
        };
        extras.insert("maps_drawn".into(), drawn.into());
    }
    fn title(&self) -> &'static str {
        "Extension"
    }
    fn explanation(&self) -> String {
        format!("{INTRO} {}", self.state.method.explanation())
    }
    delegate_state!(seq_len);
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        SEQ_LEN_RANGE
    }
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.controls(ui)
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        self.recompute(env.ctx, env.engines, env.deadline);
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn scrolls(&self) -> bool {
        true
    }
    fn errors(&self) -> Vec<String> {
        self.error.iter().cloned().collect()
    }
    fn export(&self) -> Result<Exported, ExportError> {
        let e = &self.state;
        let d = e.diagnostics()?;
        let (before, after) = (e.compute_before()?, e.compute_after()?);
        let mut csv = String::from(
            "pair,inv_freq_before,inv_freq_after,ratio,wavelength_before,wavelength_after,seen_turns,reached_turns_before,reached_turns_after,unseen_before,unseen_after\n",
        );
        for i in 0..d.inv_freq_before.len() {
            csv += &format!(
                "{i},{},{},{},{},{},{},{},{},{},{}\n",
                d.inv_freq_before[i],
                d.inv_freq_after[i],
                d.freq_ratio[i],
                d.wavelength_before_tokens[i],
                d.wavelength_after_tokens[i],
                d.seen_turns[i],
                d.reached_turns_before[i],
                d.reached_turns_after[i],
                d.unseen_before[i],
                d.unseen_after[i]
            );
        }
        let json = json!({
            "method": e.method.key(), "attention_factor": d.attention_factor,
            "inv_freq_before": d.inv_freq_before, "inv_freq_after": d.inv_freq_after,
            "unseen_pairs_before": d.unseen_count_before(), "unseen_pairs_after": d.unseen_count_after(),
            "max_effective_distance_tokens": d.max_effective_distance_tokens,
            "before": map_json(&before), "after": map_json(&after),
        });
        let images = [
            map_image(&before, Colormap::Viridis, 512),
            map_image(&after, Colormap::Viridis, 512),
        ];
        let light = ThemeChoice::Light;
        let pair = |v: &[f64]| -> Vec<[f64; 2]> { v.iter().enumerate().map(|(i, x)| [i as f64, *x]).collect() };
        // Zeroed frequencies (Giraffe's truncated basis) turn 0 times: drawn at 10⁻⁶.
        let log = |v: &[f64]| -> Vec<f64> { v.iter().map(|x| x.max(1e-6).log10()).collect() };
        let train = e.train_len as f64;
        let figure = crate::export::figure::Figure {
            title: format!(
                "{} at s = {}: N = {}, L_train = {}",
                e.method.title(),
                e.factor,
                e.seq_len,
                e.train_len
            ),
            caption: String::new(),
            panels: vec![
                crate::export::figure::Panel::plot(
                    "how far each pair turns by N (turns)",
                    "pair i",
                    "log10 turns",
                    vec![
                        crate::export::figure::Series::line(
                            "seen in training (L_train)",
                            light.ok(),
                            pair(&log(&d.seen_turns)),
                        ),
                        crate::export::figure::Series::line(
                            "plain RoPE at N",
                            light.error(),
                            pair(&log(&d.reached_turns_before)),
                        )
                        .dashed(),
                        crate::export::figure::Series::line(
                            format!("{} at N", e.method.title()),
                            light.accent_text(),
                            pair(&log(&d.reached_turns_after)),
                        ),
                    ],
                ),
                crate::export::figure::Panel::plot(
                    "frequency ratio θ'_i / θ_i",
                    "pair i",
                    "ratio",
                    vec![crate::export::figure::Series::line(
                        "θ'/θ",
                        light.accent_text(),
                        pair(&d.freq_ratio),
                    )],
                ),
                crate::export::map_panel(&before, "attention, plain RoPE", Colormap::Viridis).with_marker(
                    "L_train",
                    train,
                    light.warn(),
                ),
                crate::export::map_panel(&after, &format!("attention, {}", e.method.title()), Colormap::Viridis)
                    .with_marker("L_train", train, light.warn()),
            ],
        };
        Ok(Exported {
            json,
            csv,
            image: Some(tile(&images, 2)),
            figure: Some(figure),
        })
    }
}
