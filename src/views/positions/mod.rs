//! View: positions are data — which position id each token gets, and what that does.
//!
//! A sequence of segments (text, image, document, candidate) under an id rule from the
//! literature (`pe::position_ids`: V2PE, Ge et al. 2024; MouSi, Fan et al. 2024; Uni-Encoder,
//! Song et al. 2023; PINE, Wang et al. 2024; LongHeads, Lu et al. 2024; windowed RoPE, A²ATS,
//! He et al. 2025). It shows the ids, the attention of identical tokens under RoPE, ALiBi or T5
//! with those ids and the rule's mask (`pe::id_attention`), the RoPE angle coverage against
//! the training length (V2PE's argument), and the shipped recall models run with plain and
//! remapped ids.

mod models;
mod panels;
pub mod state;
#[cfg(test)]
mod tests;

use egui::{RichText, Ui};
use serde_json::{Map, Value, json};

use crate::analysis::grid::{Aggregate, Grid};
use crate::export::figure::{ColorBar, Figure, Panel, Series};
use crate::export::{ExportError, Exported, grid_image};
use crate::pe::PeError;
use crate::pe::id_attention;
use crate::pe::position_ids::{self, AngleCoverage, IdLayout, IdRule, SegmentKind};
use crate::theme::{Colormap, ThemeChoice, segment_color};
use crate::views::{View, ViewEnv};
use crate::widgets::colorbar::colorbar_ui;
use crate::widgets::heatmap::{Axes, Heatmap};
use crate::widgets::log_slider::log_slider_ui;
use models::ModelPanel;
pub use state::{MapScheme, PRESETS, PositionsState};

/// What the drawing is computed from (everything but the model panel's length).
type Key = (String, IdRule, MapScheme, usize, usize, u64, usize);

/// The computed picture of a state.
struct Computed {
    layout: IdLayout,
    attention: Vec<f32>,
    /// Each row divided by its largest weight (what the map shows: where each query looks
    /// most, whatever the number of keys it spreads over).
    row_scaled: Vec<f32>,
    coverage: AngleCoverage,
}

/// The view: state, the segments being edited, and caches.
#[derive(Default)]
pub struct PositionsView {
    pub state: PositionsState,
    /// The segments text field (applied when it parses).
    seg_edit: Option<String>,
    seg_error: Option<String>,
    key: Option<Key>,
    computed: Option<Result<Computed, PeError>>,
    heatmap: Heatmap,
    models: ModelPanel,
    /// Where each rule's button was drawn (points), for the status hook and the browser test.
    rule_rects: std::collections::BTreeMap<&'static str, egui::Rect>,
}

const EXPLANATION: &str = "Relative encodings only ever read the position ids, so choosing the ids is a lever of its own. \
     Top: the id each token gets under the rule; left: where identical tokens attend with those ids and the \
     rule's mask; right: which RoPE pairs meet angles they never saw in training (the argument of V2PE, \
     Ge et al. 2024), and what the trained recall models make of remapped ids.";

/// One or two sentences on the chosen rule.
fn rule_sentence(rule: &IdRule) -> &'static str {
    match rule {
        IdRule::Plain => {
            "Plain ids count every token; past the training length RoPE's slow pairs turn further than they ever did."
        }
        IdRule::V2pe { .. } => {
            "V2PE (Ge et al. 2024) steps visual tokens by δ < 1, so a long image fits inside the trained ids; the model must see such steps in training."
        }
        IdRule::Shared => {
            "MouSi (Fan et al. 2024) gives all tokens of one image a single id: inside an image, order is invisible."
        }
        IdRule::Restart => {
            "Uni-Encoder (Song et al. 2023) restarts every candidate at the same id after the context and hides candidates from each other, so none is favoured by its place."
        }
        IdRule::Pine { .. } => {
            "PINE (Wang et al. 2024) opens attention between documents and gives them ids by importance (here a seeded stand-in score), so their order in the prompt no longer matters."
        }
        IdRule::LongHeads { .. } => {
            "LongHeads (Lu et al. 2024): each head keeps the first chunk, the local chunk and its best-scoring chunks (a seeded stand-in for q·mean(K)), renumbered 0…k·l−1, so no head leaves its trained range."
        }
        IdRule::Windowed { .. } => {
            "Windowed RoPE (A²ATS, He et al. 2025) keeps exact distances inside the window and pins longer ones at w — ReRoPE's map, chosen so cached keys no longer depend on position."
        }
    }
}

impl PositionsView {
    fn key_of(s: &PositionsState) -> Key {
        (
            s.segments.clone(),
            s.rule,
            s.scheme,
            s.train_len,
            s.head_dim,
            s.base.to_bits(),
            s.head,
        )
    }

    fn compute(s: &PositionsState) -> Result<Computed, PeError> {
        let segments = s.parsed_segments()?;
        let layout = position_ids::layout(&segments, &s.rule)?;
        let attention = id_attention::attention(&layout, &s.id_scheme()?)?;
        let n = layout.len().max(1);
        let mut row_scaled = attention.clone();
        for row in row_scaled.chunks_mut(n) {
            let max = row.iter().copied().fold(0.0f32, f32::max);
            if max > 0.0 {
                row.iter_mut().for_each(|w| *w /= max);
            }
        }
        let inv = crate::pe::rope::default_inv_freq(s.head_dim, s.base)?;
        let coverage = position_ids::angle_coverage(&inv, s.train_len, layout.max_distance())?;
        Ok(Computed {
            layout,
            attention,
            row_scaled,
            coverage,
        })
    }

    fn recompute(&mut self, ctx: &egui::Context) {
        let key = Self::key_of(&self.state);
        if self.key.as_ref() == Some(&key) {
            return;
        }
        self.key = Some(key);
        let computed = Self::compute(&self.state);
        if let Ok(c) = &computed {
            let n = c.layout.len();
            let grid = Grid {
                values: &c.row_scaled,
                rows: n,
                cols: n,
            };
            self.heatmap.set(
                ctx,
                "positions_attention",
                grid,
                (0.0, 1.0),
                Colormap::Viridis,
                Aggregate::Max,
            );
        }
        self.computed = Some(computed);
    }

    fn rule_controls_ui(&mut self, ui: &mut Ui) {
        let rule = &mut self.state.rule;
        let rects = &mut self.rule_rects;
        ui.label(RichText::new("Id rule").strong());
        ui.horizontal_wrapped(|ui| {
            let options = [
                (IdRule::Plain, "plain"),
                (IdRule::V2pe { delta: 0.25 }, "V2PE"),
                (IdRule::Shared, "MouSi shared"),
                (IdRule::Restart, "Uni-Encoder"),
                (IdRule::Pine { seed: 0 }, "PINE"),
                (
                    IdRule::LongHeads {
                        chunk: 8,
                        keep: 4,
                        head: 0,
                        seed: 0,
                    },
                    "LongHeads",
                ),
                (IdRule::Windowed { window: 16 }, "windowed"),
            ];
            for (r, label) in options {
                let selected = r.key() == rule.key();
                let button = ui.selectable_label(selected, label).on_hover_text(r.paper());
                rects.insert(r.key(), button.rect);
                if button.clicked() && !selected {
                    *rule = r;
                }
            }
        });
        match rule {
            IdRule::V2pe { delta } => {
                let mut k = (1.0 / *delta).log2().round().clamp(0.0, 8.0) as u32;
                let label = format!("δ = 1/{}", 1u32 << k);
                ui.add(egui::Slider::new(&mut k, 0..=8).text(label).show_value(false));
                *delta = 1.0 / f64::from(1u32 << k);
            }
            IdRule::Pine { seed } => {
                ui.add(egui::Slider::new(seed, 0..=99).text("importance seed"));
            }
            IdRule::LongHeads { chunk, keep, head, .. } => {
                ui.add(egui::Slider::new(chunk, 1..=64).text("chunk l"));
                ui.add(egui::Slider::new(keep, 2..=16).text("chunks kept k"));
                ui.add(egui::Slider::new(head, 0..=7).text("head"));
            }
            IdRule::Windowed { window } => {
                ui.add(egui::Slider::new(window, 1..=256).logarithmic(true).text("window w"));
            }
            IdRule::Plain | IdRule::Shared | IdRule::Restart => {}
        }
    }

    fn controls(&mut self, ui: &mut Ui) -> egui::Response {
        ui.label(RichText::new("Preset").strong());
        let current = self.state.preset().map_or("custom", |p| p.name);
        egui::ComboBox::from_id_salt("positions_preset")
            .selected_text(current)
            .width(260.0)
            .show_ui(ui, |ui| {
                for p in &PRESETS {
                    if ui.selectable_label(current == p.name, p.name).clicked() {
                        self.state.apply_preset(p);
                        self.seg_edit = None;
                        self.seg_error = None;
                    }
                }
            });
        ui.add_space(6.0);
        ui.label(RichText::new("Segments").strong())
            .on_hover_text("kind:length[@step], kinds text, image, document, candidate; @δ is an image's V2PE step");
        let edit = self.seg_edit.get_or_insert_with(|| self.state.segments.clone());
        let response = ui.add(
            egui::TextEdit::singleline(edit)
                .desired_width(270.0)
                .font(egui::TextStyle::Monospace),
        );
        if response.changed() {
            match position_ids::parse_segments(edit) {
                Ok(segs) => {
                    let text = position_ids::segments_to_string(&segs);
                    let mut probe = self.state.clone();
                    probe.segments = text.clone();
                    match probe.parsed_segments() {
                        Ok(_) => {
                            self.state.segments = text;
                            self.seg_error = None;
                        }
                        Err(e) => self.seg_error = Some(e.to_string()),
                    }
                }
                Err(e) => self.seg_error = Some(e.to_string()),
            }
        }
        if !response.has_focus() && self.seg_error.is_none() {
            self.seg_edit = None;
        }
        if let Some(e) = &self.seg_error {
            ui.label(RichText::new(e).small().color(ui.visuals().error_fg_color));
        }
        ui.add_space(6.0);
        self.rule_controls_ui(ui);
        ui.add_space(6.0);
        ui.label(RichText::new("Attention map").strong());
        ui.horizontal(|ui| {
            for s in MapScheme::ALL {
                ui.selectable_value(&mut self.state.scheme, s, s.label());
            }
        });
        match self.state.scheme {
            MapScheme::Rope => {
                ui.add(
                    egui::Slider::new(&mut self.state.head_dim, 8..=256)
                        .step_by(2.0)
                        .text("head dim d"),
                );
            }
            MapScheme::Alibi | MapScheme::T5 => {
                ui.add(egui::Slider::new(&mut self.state.head, 0..=7).text("head"));
            }
        }
        ui.add_space(6.0);
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut self.state.train_len, state::TRAIN_LEN_RANGE, "positions");
        ui.add_space(6.0);
        ui.label(RichText::new("Recall length N (trained models)").strong());
        let len = log_slider_ui(ui, &mut self.state.model_len, state::MODEL_LEN_RANGE, "tokens");
        self.state.sanitize();
        len
    }

    fn central_ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Positions are data");
        ui.label(RichText::new(EXPLANATION).color(theme.weak_text()));
        ui.label(RichText::new(rule_sentence(&self.state.rule)).color(theme.weak_text()));
        let c = match &self.computed {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                ui.colored_label(theme.error(), format!("Cannot lay out these segments: {e}"));
                return;
            }
            None => return,
        };
        let s = &self.state;
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.label(
                RichText::new(format!(
                    "{} tokens · largest id {:.2} · largest distance a query uses {:.2}",
                    c.layout.len(),
                    c.layout.max_id(),
                    c.layout.max_distance()
                ))
                .strong(),
            );
            panels::kind_key_ui(ui);
        });
        panels::id_strip_ui(ui, &c.layout, s.train_len, theme, 150.0);
        panels::segment_band_ui(ui, &c.layout);
        ui.add_space(8.0);
        let width = ui.available_width();
        let side = (width * 0.48).clamp(220.0, 440.0);
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(side + 60.0);
                ui.label(RichText::new(format!("{} attention, identical tokens, this rule's ids and mask", s.scheme.label())).strong());
                let n = c.layout.len();
                let grid = Grid {
                    values: &c.row_scaled,
                    rows: n,
                    cols: n,
                };
                let axes = Axes {
                    row_label: "query ↓",
                    col_label: "key →",
                    rows: n,
                    cols: n,
                };
                let mut hover = None;
                ui.horizontal(|ui| {
                    hover = self.heatmap.ui(ui, egui::vec2(side, side), grid, &axes).1;
                    colorbar_ui(ui, side, (0.0, 1.0), Colormap::Viridis, "÷ row max");
                });
                match hover {
                    Some(h) => ui.monospace(format!(
                        "query {} (id {:.2}) → key {} (id {:.2}): {}",
                        h.row,
                        c.layout.ids[h.row],
                        h.col,
                        c.layout.ids[h.col],
                        if c.layout.visible(h.row, h.col) {
                            let w = c.attention[h.row * c.layout.len() + h.col];
                            format!("distance {:.2}, weight {w:.4}", c.layout.distance(h.row, h.col))
                        } else {
                            "hidden by the mask".into()
                        }
                    )),
                    None => ui.label(
                        RichText::new("Each row scaled to its largest weight: where each query looks most. Hover for ids, distance and weight.")
                            .small()
                            .color(theme.weak_text()),
                    ),
                };
            });
            ui.vertical(|ui| {
                let unseen = c.coverage.unseen_pairs();
                ui.label(
                    RichText::new(format!(
                        "RoPE angle coverage (d = {}): {unseen} of {} pairs meet angles never seen within L_train = {}",
                        s.head_dim,
                        c.coverage.unseen.len(),
                        s.train_len
                    ))
                    .strong(),
                );
                panels::coverage_ui(ui, &c.coverage, theme, 170.0);
                panels::caption(
                    ui,
                    "Fast pairs wrapped the circle in training, so a longer input shows them nothing new; slow pairs turn further than ever — unless the ids are compressed.",
                    theme.weak_text(),
                );
                ui.add_space(8.0);
                let remap = s.model_rule(self.models.train_len().unwrap_or(32));
                panels::model_panel_ui(ui, &self.models, s.model_len, remap, theme);
                if !s.rule.ids_only() {
                    panels::caption(
                        ui,
                        format!(
                            "{} also changes the mask from content, so the models run V2PE instead.",
                            s.rule.paper()
                        ),
                        theme.weak_text(),
                    );
                }
                panels::caption(
                    ui,
                    "The key–value haystack plays the part of V2PE's image. Our models never saw fractional steps in training; V2PE trains with them.",
                    theme.weak_text(),
                );
            });
        });
    }

    fn figure(&self, c: &Computed) -> Figure {
        let s = &self.state;
        let light = ThemeChoice::Light;
        let n = c.layout.len();
        let series = SegmentKind::ALL
            .into_iter()
            .filter_map(|kind| {
                let pts: Vec<[f64; 2]> = (0..n)
                    .filter(|&i| c.layout.kinds[i] == kind && c.layout.ids[i] >= 0.0)
                    .map(|i| [i as f64, c.layout.ids[i]])
                    .collect();
                (!pts.is_empty()).then(|| Series::scatter(kind.key(), segment_color(kind), pts))
            })
            .collect();
        let grid = Grid {
            values: &c.row_scaled,
            rows: n,
            cols: n,
        };
        let turns = |a: f64| (a / std::f64::consts::TAU).max(1e-6).log10();
        let line = |v: &[f64]| {
            v.iter()
                .enumerate()
                .map(|(i, &a)| [i as f64, turns(a)])
                .collect::<Vec<_>>()
        };
        Figure {
            title: format!("Position ids: {} on {}", s.rule.paper(), s.segments),
            caption: rule_sentence(&s.rule).into(),
            panels: vec![
                Panel::plot("position id of every token", "token", "position id", series),
                Panel::heatmap(
                    format!("{} attention of identical tokens (rows ÷ row max)", s.scheme.label()),
                    "key",
                    "query",
                    grid_image(grid, (0.0, 1.0), Colormap::Viridis, 1),
                    (0.0, n as f64),
                    (0.0, n as f64),
                    Some(ColorBar {
                        label: "weight ÷ row max".into(),
                        min: 0.0,
                        max: 1.0,
                        colormap: Colormap::Viridis,
                    }),
                ),
                Panel::plot(
                    format!("RoPE angle coverage, L_train = {}", s.train_len),
                    "pair i",
                    "log10 turns",
                    vec![
                        Series::line("training", light.weak_text(), line(&c.coverage.trained)),
                        Series::line("this input", light.accent_text(), line(&c.coverage.input)),
                    ],
                ),
            ],
        }
    }
}

impl View for PositionsView {
    fn key(&self) -> &'static str {
        "positions"
    }
    fn title(&self) -> &'static str {
        "Positions"
    }
    fn explanation(&self) -> String {
        format!("{EXPLANATION} {}", rule_sentence(&self.state.rule))
    }
    delegate_state!(model_len);
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        state::MODEL_LEN_RANGE
    }
    fn scrolls(&self) -> bool {
        true
    }
    fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        self.controls(ui)
    }
    fn update(&mut self, env: &ViewEnv<'_>) {
        self.recompute(env.ctx);
        if let Some(compute) = env.compute {
            let remap = self.state.model_rule(self.models.train_len().unwrap_or(32));
            if self.models.update(compute, self.state.model_len, remap) {
                env.ctx.request_repaint();
            }
        }
    }
    fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        self.central_ui(ui, theme);
    }
    fn errors(&self) -> Vec<String> {
        let mut e = self.models.errors();
        if let Some(Err(err)) = &self.computed {
            e.push(err.to_string());
        }
        e
    }
    fn export(&self) -> Result<Exported, ExportError> {
        let c = Self::compute(&self.state)?;
        let n = c.layout.len();
        let mut csv = String::from("token,segment,kind,id,visible_keys,last_query_weight\n");
        for m in 0..n {
            let vis: Vec<String> = c
                .layout
                .visible_intervals(m)
                .iter()
                .map(|[a, b]| if a == b { a.to_string() } else { format!("{a}-{b}") })
                .collect();
            csv += &format!(
                "{m},{},{},{},{},{}\n",
                c.layout.segment_of[m],
                c.layout.kinds[m].key(),
                c.layout.ids[m],
                vis.join(";"),
                c.attention[(n - 1) * n + m]
            );
        }
        let rows: Vec<&[f32]> = c.attention.chunks(n.max(1)).collect();
        let json = json!({
            "segments": self.state.segments,
            "rule": position_ids::rule_to_string(&self.state.rule),
            "paper": self.state.rule.paper(),
            "scheme": self.state.scheme.key(),
            "ids": c.layout.ids,
            "kind": c.layout.kinds.iter().map(|k| k.key()).collect::<Vec<_>>(),
            "attention": rows,
            "max_distance": c.layout.max_distance(),
            "angle_coverage": {
                "train_len": self.state.train_len,
                "unseen_pairs": c.coverage.unseen_pairs(),
                "trained_angle": c.coverage.trained,
                "input_angle": c.coverage.input,
            },
        });
        let grid = Grid {
            values: &c.row_scaled,
            rows: n,
            cols: n,
        };
        let image = grid_image(grid, (0.0, 1.0), Colormap::Viridis, 1024);
        let figure = self.figure(&c);
        Ok(Exported {
            json,
            csv,
            image: Some(image),
            figure: Some(figure),
        })
    }
    fn status_extras(&self, extras: &mut Map<String, Value>) {
        let s = &self.state;
        let mut v = json!({
            "rule": position_ids::rule_to_string(&s.rule),
            "segments": s.segments,
            "scheme": s.scheme.key(),
            "seg_error": self.seg_error,
        });
        if let Some(Ok(c)) = &self.computed {
            v["tokens"] = c.layout.len().into();
            v["max_id"] = c.layout.max_id().into();
            v["max_distance"] = c.layout.max_distance().into();
            v["unseen_pairs"] = c.coverage.unseen_pairs().into();
            v["pairs"] = c.coverage.unseen.len().into();
        }
        let remap = s.model_rule(self.models.train_len().unwrap_or(32));
        let mut scores = Vec::new();
        for (m, name) in models::MODELS.iter().enumerate() {
            for rule in [IdRule::Plain, remap] {
                if let Some(r) = self.models.score(m, s.model_len, &rule) {
                    scores.push(json!({
                        "model": name,
                        "rule": position_ids::rule_to_string(&rule),
                        "len": s.model_len,
                        "exact_match": r.as_ref().ok(),
                        "error": r.as_ref().err(),
                    }));
                }
            }
        }
        v["model_scores"] = scores.into();
        v["rule_rects"] = self
            .rule_rects
            .iter()
            .map(|(k, r)| (k.to_string(), json!([r.min.x, r.min.y, r.width(), r.height()])))
            .collect::<Map<String, Value>>()
            .into();
        extras.insert("positions".into(), v);
    }
}
