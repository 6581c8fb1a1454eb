//! Drawing of the Positions view: the id strip, the RoPE angle coverage, and the model panel.

use egui::{Align2, Color32, FontId, RichText, Sense, Stroke, Ui, pos2, vec2};
use egui_plot::{HLine, Legend, Line, Plot, PlotPoints, Points};

use super::models::{MODELS, ModelPanel, SAMPLES};
use crate::pe::position_ids::{AngleCoverage, IdLayout, IdRule, SegmentKind};
use crate::theme::{ThemeChoice, segment_color};

/// Position id against token index, one colour per segment kind, with the last trained
/// position as a dashed line. LongHeads' tokens the last query does not keep are drawn at −1.
pub fn id_strip_ui(ui: &mut Ui, layout: &IdLayout, train_len: usize, theme: ThemeChoice, height: f32) {
    let n = layout.len();
    let radius = if n > 400 { 1.2 } else { 2.2 };
    Plot::new("positions_ids")
        .height(height)
        .legend(Legend::default().position(egui_plot::Corner::RightBottom))
        .x_axis_label("token")
        .y_axis_label("position id")
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .show(ui, |plot| {
            for kind in SegmentKind::ALL {
                let pts: Vec<[f64; 2]> = (0..n)
                    .filter(|&i| layout.kinds[i] == kind && layout.ids[i] >= 0.0)
                    .map(|i| [i as f64, layout.ids[i]])
                    .collect();
                if !pts.is_empty() {
                    plot.points(
                        Points::new(kind.key(), PlotPoints::from(pts))
                            .radius(radius)
                            .color(segment_color(kind)),
                    );
                }
            }
            let dropped: Vec<[f64; 2]> = (0..n)
                .filter(|&i| layout.ids[i] < 0.0)
                .map(|i| [i as f64, -1.0])
                .collect();
            if !dropped.is_empty() {
                plot.points(
                    Points::new("not kept (this head, last query)", PlotPoints::from(dropped))
                        .radius(radius)
                        .color(theme.weak_text()),
                );
            }
            plot.hline(
                HLine::new(
                    format!("last trained position ({})", train_len - 1),
                    (train_len - 1) as f64,
                )
                .color(theme.warn())
                .style(egui_plot::LineStyle::dashed_loose()),
            );
        });
}

/// The segments as a strip of coloured cells (what the tokens are), drawn under the id plot.
pub fn segment_band_ui(ui: &mut Ui, layout: &IdLayout) {
    let n = layout.len().max(1);
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), 10.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let w = rect.width() / n as f32;
    let mut i = 0;
    while i < layout.len() {
        let seg = layout.segment_of[i];
        let start = i;
        while i < layout.len() && layout.segment_of[i] == seg {
            i += 1;
        }
        let r = egui::Rect::from_min_max(
            pos2(rect.left() + start as f32 * w, rect.top()),
            pos2(rect.left() + i as f32 * w, rect.bottom()),
        );
        painter.rect_filled(r.shrink2(vec2(0.5, 0.0)), 1.0, segment_color(layout.kinds[start]));
    }
}

/// Per pair: the largest angle seen in training and in this input, in turns on a log scale;
/// pairs that meet angles never seen in training are marked.
pub fn coverage_ui(ui: &mut Ui, cov: &AngleCoverage, theme: ThemeChoice, height: f32) {
    let turns = |a: f64| (a / std::f64::consts::TAU).max(1e-6).log10();
    let trained: Vec<[f64; 2]> = cov
        .trained
        .iter()
        .enumerate()
        .map(|(i, &a)| [i as f64, turns(a)])
        .collect();
    let input: Vec<[f64; 2]> = cov
        .input
        .iter()
        .enumerate()
        .map(|(i, &a)| [i as f64, turns(a)])
        .collect();
    let unseen: Vec<[f64; 2]> = input
        .iter()
        .zip(&cov.unseen)
        .filter(|(_, u)| **u)
        .map(|(p, _)| *p)
        .collect();
    Plot::new("positions_coverage")
        .height(height)
        .legend(Legend::default().position(egui_plot::Corner::RightTop))
        .x_axis_label("RoPE pair i (fast → slow)")
        .y_axis_label("log₁₀ turns")
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .show(ui, |plot| {
            plot.line(Line::new("largest angle in training", PlotPoints::from(trained)).color(theme.weak_text()));
            plot.line(Line::new("largest angle in this input", PlotPoints::from(input)).color(theme.accent_text()));
            plot.points(
                Points::new("angle never seen in training", PlotPoints::from(unseen))
                    .radius(3.0)
                    .color(theme.error()),
            );
            plot.hline(HLine::new("one full turn", 0.0).color(theme.warn()));
        });
}

/// A label for a rule in the model panel.
pub fn rule_label(rule: &IdRule) -> String {
    match *rule {
        IdRule::Plain => "plain ids".into(),
        IdRule::V2pe { delta } => format!("V2PE, haystack step δ = 1/{}", (1.0 / delta).round()),
        IdRule::Shared => "one shared id for the haystack".into(),
        IdRule::Windowed { window } => format!("windowed RoPE, w = {window}"),
        _ => rule.key().into(),
    }
}

/// The two models' exact match at N with plain and remapped ids, as labelled bars.
pub fn model_panel_ui(ui: &mut Ui, panel: &ModelPanel, len: usize, remap: IdRule, theme: ThemeChoice) {
    let train = panel.train_len();
    ui.label(
        RichText::new(format!(
            "Trained recall models at N = {len}{}: exact match on {SAMPLES} samples",
            train.map_or(String::new(), |t| format!(
                " ({:.1}× their training length {t})",
                len as f64 / t as f64
            ))
        ))
        .strong(),
    );
    for (m, name) in MODELS.iter().enumerate() {
        for rule in [IdRule::Plain, remap] {
            let score = panel.score(m, len, &rule);
            ui.horizontal(|ui| {
                ui.add_sized(vec2(96.0, 16.0), egui::Label::new(RichText::new(*name).monospace()));
                let (rect, _) = ui.allocate_exact_size(vec2(150.0, 14.0), Sense::hover());
                let painter = ui.painter_at(rect);
                painter.rect_stroke(rect, 2.0, Stroke::new(1.0, theme.weak_text()), egui::StrokeKind::Inside);
                let text = match score {
                    Some(Ok(v)) => {
                        let fill = egui::Rect::from_min_size(rect.min, vec2(rect.width() * *v as f32, rect.height()));
                        let color = if rule == IdRule::Plain {
                            theme.weak_text()
                        } else {
                            theme.accent()
                        };
                        painter.rect_filled(fill, 2.0, color);
                        format!("{:.0} %", 100.0 * v)
                    }
                    Some(Err(e)) => {
                        painter.text(
                            rect.left_center(),
                            Align2::LEFT_CENTER,
                            "—",
                            FontId::proportional(11.0),
                            theme.error(),
                        );
                        format!("cannot run: {e}")
                    }
                    None => "…".into(),
                };
                let text_color = if matches!(score, Some(Err(_))) {
                    theme.error()
                } else {
                    ui.visuals().text_color()
                };
                ui.label(RichText::new(format!("{text}  {}", rule_label(&rule))).color(text_color));
            });
        }
    }
}

/// Colour key for the segment kinds.
pub fn kind_key_ui(ui: &mut Ui) {
    ui.horizontal_wrapped(|ui| {
        for kind in SegmentKind::ALL {
            let (rect, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
            ui.painter().rect_filled(rect, 2.0, segment_color(kind));
            ui.label(RichText::new(kind.key()).small());
        }
    });
}

/// Weak text colour helper for captions.
pub fn caption(ui: &mut Ui, text: impl Into<String>, color: Color32) {
    ui.label(RichText::new(text.into()).small().color(color));
}
