//! View: every scheme side by side as small multiples at one shared length — the quickest way to
//! see how differently NoPE, APE, T5, ALiBi, RoPE, xPos and KERPLE spend their attention, and what
//! happens to each past the training length.

use egui::{RichText, Ui};

use serde_json::json;

use crate::analysis::attention_map::{self, AttentionMap, MapRequest};
use crate::analysis::engine::{LiveMap, MapEngines, Progress};
use crate::analysis::grid::{Aggregate, Grid};
use crate::export::{ExportError, Exported, map_image, map_json, opt, tile};
use crate::pe::{PeError, SchemeKind};
use crate::theme::{Colormap, ThemeChoice};
pub use crate::views::all_schemes_state::AllSchemesState;
use crate::views::{View, ViewEnv};
use crate::widgets::heatmap::{Axes, Heatmap};

/// Side of each panel's aggregated map, in cells.
pub const PANEL_SIDE: usize = 128;

/// The settings of this view (shared with the Position-bias view).
pub type CompareState = AllSchemesState;

impl AllSchemesState {
    /// The softmax map of one scheme under this state.
    pub fn compute_panel(&self, kind: SchemeKind) -> Result<AttentionMap, PeError> {
        attention_map::compute(&self.prepare(kind)?, &self.panel_request())
    }

    /// What each panel computes.
    pub fn panel_request(&self) -> MapRequest {
        MapRequest {
            n: self.seq_len,
            causal: self.causal,
            softmax: true,
            out_side: PANEL_SIDE,
            aggregate: Aggregate::Mean,
            train_len: self.train_len,
        }
    }
}

struct Panel {
    kind: SchemeKind,
    /// The panel's map through the engine façade (large maps arrive over several frames).
    live: LiveMap,
    /// Why the scheme could not be computed under these settings.
    error: Option<String>,
    heatmap: Heatmap,
    /// The state changed and this panel's map has not been started yet.
    needs_start: bool,
}

impl Panel {
    fn new(kind: SchemeKind) -> Self {
        Self {
            kind,
            live: LiveMap::default(),
            error: None,
            heatmap: Heatmap::default(),
            needs_start: true,
        }
    }

    /// The latest map, `Ok(None)` before the first one arrives.
    fn map(&self) -> Result<Option<&AttentionMap>, &str> {
        match &self.error {
            Some(e) => Err(e.as_str()),
            None => Ok(Some(self.live.map()).filter(|m| m.n > 0)),
        }
    }

    /// Put the panel's newest map on screen (drawn on the device, or as a texture).
    fn show(&mut self, ctx: &egui::Context, engines: &MapEngines) {
        self.heatmap.show_live(
            ctx,
            engines,
            &self.live,
            None,
            self.kind.key(),
            Colormap::Viridis,
            Aggregate::Mean,
        );
    }
}

const EXPLANATION: &str = "Each panel is the softmax attention (query ↓, key →; causal unless the Mask says otherwise) of one scheme with the same tokens and \
     length; the dashed lines mark L_train. Schemes with a built-in distance penalty (ALiBi, T5, KERPLE, \
     xPos) stay local past L_train; NoPE spreads evenly, and RoPE ripples (Kazemnejad et al. 2023).";

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
    fn panel_errors(&self) -> Vec<String> {
        self.panels
            .iter()
            .filter_map(|p| p.map().err().map(|e| format!("{}: {e}", p.kind.title())))
            .collect()
    }

    /// Recompute every panel through the engine façade when the state changed (CPU path, each
    /// panel at once or over frames within the work budget), and advance panels in flight.
    fn recompute(&mut self, ctx: &egui::Context, engines: &MapEngines, deadline: web_time::Instant) {
        if self.panels.is_empty() {
            self.panels = SchemeKind::ANALYTIC.into_iter().map(Panel::new).collect();
        }
        if self.cached_for.as_ref() != Some(&self.state) {
            for p in &mut self.panels {
                p.needs_start = true;
            }
            self.cached_for = Some(self.state.clone());
        }
        // Preparing random tokens at large N × d takes tens of milliseconds per scheme: start
        // at least one panel per frame, more while the work budget lasts.
        let req = self.state.panel_request();
        let mut started_any = false;
        for p in self.panels.iter_mut().filter(|p| p.needs_start) {
            if started_any && web_time::Instant::now() >= deadline {
                break;
            }
            started_any = true;
            p.needs_start = false;
            p.error = None;
            let started = self
                .state
                .prepare(p.kind)
                .and_then(|prepared| p.live.start(engines, prepared, req, engines.auto_uses_gpu(req.n)));
            match started {
                Ok(Progress::Ready) => p.show(ctx, engines),
                // A GPU map drawn on the device goes up at once.
                Ok(Progress::Pending) => p.show(ctx, engines),
                Err(e) => p.error = Some(e.to_string()),
            }
        }
        // A frame that prepared a scheme has spent its budget: the rows wait for the next one.
        let deadline = if started_any {
            web_time::Instant::now()
        } else {
            deadline
        };
        for p in &mut self.panels {
            if p.live.poll(engines, deadline) {
                p.show(ctx, engines);
            }
            if let Some(e) = p.live.error() {
                p.error = Some(e.to_string());
            }
        }
        if self.panels.iter().any(|p| p.live.is_pending() || p.needs_start) {
            ctx.request_repaint();
        }
    }

    fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Compare — every scheme at the same length");
        ui.label(RichText::new(EXPLANATION).color(theme.weak_text()));
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
                    match p.map() {
                        Ok(None) if !p.heatmap.is_gpu_drawn() => {
                            ui.allocate_ui(egui::vec2(side, side), |ui| {
                                ui.horizontal(|ui| {
                                    ui.spinner();
                                    let done = p.live.progress().unwrap_or(0.0) * 100.0;
                                    ui.label(format!("computing… {done:.0} %"));
                                });
                            });
                        }
                        Ok(m) => {
                            // A device-drawn picture may come before its statistics.
                            let grid = m.map_or(
                                Grid {
                                    values: &[],
                                    rows: 0,
                                    cols: 0,
                                },
                                |m| Grid {
                                    values: &m.values,
                                    rows: m.rows,
                                    cols: m.cols,
                                },
                            );
                            let axes = Axes {
                                row_label: "",
                                col_label: "",
                                rows: n,
                                cols: n,
                            };
                            let (plot, _) = p.heatmap.ui(ui, egui::vec2(side, side), grid, &axes);
                            crate::widgets::train_marker::train_marker_ui(ui, plot, train, n, theme.warn());
                            match p.live.progress() {
                                Some(done) => ui.label(
                                    RichText::new(format!("updating… {:.0} %", done * 100.0))
                                        .small()
                                        .color(theme.warn()),
                                ),
                                None => ui.label(RichText::new(m.map_or_else(|| "…".to_owned(), summary)).small()),
                            };
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

/// "mean entropy 3.1 nats · 12 % at distance ≥ L_train" for one panel.
fn summary(m: &AttentionMap) -> String {
    match m.mass_beyond_train {
        Some(b) => format!(
            "mean entropy {:.2} nats · {:.1} % at distance ≥ L_train",
            m.mean_entropy_nats,
            b * 100.0
        ),
        None => format!("mean entropy {:.2} nats · N ≤ L_train", m.mean_entropy_nats),
    }
}

impl View for CompareView {
    fn key(&self) -> &'static str {
        "compare"
    }
    fn status_extras(&self, extras: &mut serde_json::Map<String, serde_json::Value>) {
        // How many panels are drawn from the GPU's buffers (the rest are CPU textures).
        let on_gpu = self.panels.iter().filter(|p| p.heatmap.is_gpu_drawn()).count();
        extras.insert("panels_drawn_on_gpu".into(), on_gpu.into());
    }
    fn title(&self) -> &'static str {
        "Compare"
    }
    fn explanation(&self) -> String {
        EXPLANATION.to_owned()
    }
    delegate_state!(seq_len);
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.state.controls_ui(ui, "Sequence length N (all panels)")
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        self.recompute(env.ctx, env.engines, env.deadline);
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn errors(&self) -> Vec<String> {
        self.panel_errors()
    }
    fn export(&self) -> Result<Exported, ExportError> {
        let mut panels = Vec::new();
        let mut csv = String::from("scheme,mean_entropy_nats,mass_beyond_train\n");
        let mut images = Vec::new();
        let mut figure_panels = Vec::new();
        for kind in SchemeKind::ANALYTIC {
            let map = self.state.compute_panel(kind)?;
            figure_panels.push(
                crate::export::map_panel(&map, kind.title(), Colormap::Viridis).with_marker(
                    "L_train",
                    self.state.train_len as f64,
                    crate::theme::ThemeChoice::Light.warn(),
                ),
            );
            csv += &format!(
                "{},{},{}\n",
                kind.key(),
                map.mean_entropy_nats,
                opt(map.mass_beyond_train)
            );
            panels.push(json!({ "scheme": kind.key(), "map": map_json(&map) }));
            images.push(map_image(&map, Colormap::Viridis, 256));
        }
        Ok(Exported {
            json: json!({ "panels": panels }),
            csv,
            image: Some(tile(&images, 4)),
            figure: Some(crate::export::figure::Figure {
                title: format!(
                    "Every scheme at N = {} (L_train = {})",
                    self.state.seq_len, self.state.train_len
                ),
                caption: String::new(),
                panels: figure_panels,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panels_start_one_per_frame_when_the_budget_is_spent() {
        let mut view = CompareView::default();
        view.state.seq_len = 64;
        let ctx = egui::Context::default();
        let engines = MapEngines::cpu_only();
        let spent = web_time::Instant::now();
        let schemes = SchemeKind::ANALYTIC.len();
        for frame in 1..=schemes {
            view.recompute(&ctx, &engines, spent);
            let waiting = view.panels.iter().filter(|p| p.needs_start).count();
            assert_eq!(waiting, schemes - frame, "frame {frame}");
        }
        assert!(view.panels.iter().all(|p| p.map().is_ok_and(|m| m.is_some())));
    }

    #[test]
    fn all_schemes_compute_and_alibi_is_more_local_than_nope() {
        let state = CompareState {
            seq_len: 64,
            train_len: 16,
            ..Default::default()
        };
        let nope = state.compute_panel(SchemeKind::Nope).expect("nope");
        let alibi = state.compute_panel(SchemeKind::Alibi).expect("alibi");
        for kind in SchemeKind::ANALYTIC {
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
