//! The RoPE view's drawings: the grid of clocks, the wavelength plot and the decay curve.

use std::f64::consts::TAU;

use egui::{Align2, FontId, Mesh, Pos2, Rect, RichText, Sense, Shape, Stroke, Ui, pos2, vec2};
use egui_plot::{HLine, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoint, PlotPoints, Points, VLine};

use crate::theme::ThemeChoice;

use super::*;

/// At most `2 · max_buckets` points that keep each bucket's minimum and maximum (in order), so
/// that a fast oscillation drawn as a line still shows its full envelope instead of aliasing.
pub(super) fn envelope_points(values: &[f64], max_buckets: usize) -> Vec<PlotPoint> {
    if values.len() <= 2 * max_buckets.max(1) {
        return values
            .iter()
            .enumerate()
            .map(|(x, &y)| PlotPoint::new(x as f64, y))
            .collect();
    }
    let bucket_len = values.len().div_ceil(max_buckets.max(1));
    let mut out = Vec::with_capacity(2 * max_buckets);
    for (b, chunk) in values.chunks(bucket_len).enumerate() {
        let (mut lo, mut hi) = (0, 0);
        for (j, &v) in chunk.iter().enumerate() {
            if v < chunk[lo] {
                lo = j;
            }
            if v > chunk[hi] {
                hi = j;
            }
        }
        let start = b * bucket_len;
        let (first, second) = (lo.min(hi), lo.max(hi));
        out.push(PlotPoint::new((start + first) as f64, chunk[first]));
        if second != first {
            out.push(PlotPoint::new((start + second) as f64, chunk[second]));
        }
    }
    out
}

impl RopeView {
    /// The grid of `d/2` clocks, sized to fit `height_pt` where possible; hover one for details.
    pub(super) fn clocks_ui(&self, ui: &mut Ui, theme: ThemeChoice, unseen: &[bool], height_pt: f32) {
        let n = self.inv_freq.len();
        if n == 0 {
            return;
        }
        let width = ui.available_width().max(CLOCK_CELL_MIN_PT);
        let cell = clock_cell_pt(n, width, height_pt);
        let cols = ((width / cell).floor() as usize).max(1);
        let rows = n.div_ceil(cols);
        let (rect, response) = ui.allocate_exact_size(vec2(width, rows as f32 * cell), Sense::hover());
        let painter = ui.painter_at(rect);
        let s = &self.state;
        for (i, &theta) in self.inv_freq.iter().enumerate() {
            let cell_rect = Rect::from_min_size(
                rect.min + vec2((i % cols) as f32 * cell, (i / cols) as f32 * cell),
                vec2(cell, cell),
            );
            let clock = Clock {
                angle_rad: (s.query_pos as f64 * theta) % TAU,
                seen_rad: (s.train_len as f64 * theta).min(TAU),
                unseen: unseen.get(i).copied().unwrap_or(false),
            };
            paint_clock(&painter, cell_rect, i, &clock, theme);
        }
        if let Some(pointer) = response.hover_pos() {
            let col = ((pointer.x - rect.left()) / cell).floor().max(0.0) as usize;
            let row = ((pointer.y - rect.top()) / cell).floor().max(0.0) as usize;
            let i = row * cols + col;
            if col < cols
                && let (Some(&theta), Some(&lambda)) = (self.inv_freq.get(i), self.wavelength_len.get(i))
            {
                let angle = (s.query_pos as f64 * theta) % TAU;
                let seen = s.train_len as f64 * theta;
                let status = if unseen.get(i).copied().unwrap_or(false) {
                    "angle never seen in training"
                } else {
                    "angle seen in training"
                };
                response.on_hover_ui_at_pointer(|ui| {
                    ui.label(RichText::new(format!("pair {i}")).strong());
                    ui.monospace(format!(
                        "θ = {theta:.3e} rad/token\nλ = {lambda:.1} tokens\nturns in L_train: {:.3}\n\
                         angle at m: {angle:.3} rad\nmax angle in training: {:.3} rad",
                        seen / TAU,
                        seen.min(TAU)
                    ));
                    ui.label(status);
                });
            }
        }
    }

    pub(super) fn wavelength_plot_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let s = &self.state;
        ui.label(RichText::new("Wavelength λ_i = 2π/θ_i of each pair").strong());
        Plot::new("rope_wavelengths")
            .height(PLOT_HEIGHT_PT)
            .x_axis_label("pair i")
            .y_axis_label("log10 λ_i (tokens)")
            .y_axis_formatter(|mark, _range| pow10_label(mark.value))
            .label_formatter(|hover| {
                let p = hover_point(hover);
                Some(format!("pair {:.0}\nλ ≈ {:.1} tokens", p.x, 10f64.powf(p.y)))
            })
            .legend(Legend::default())
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(
                    Line::new("log10 λ_i", PlotPoints::Borrowed(&self.wavelength_line)).color(theme.accent_text()),
                );
                plot.points(
                    Points::new(
                        "completes a turn in L_train",
                        PlotPoints::Borrowed(&self.turning_points),
                    )
                    .color(theme.ok())
                    .radius(2.5),
                );
                plot.points(
                    Points::new(
                        "never completes a turn (λ > L_train)",
                        PlotPoints::Borrowed(&self.never_turn_points),
                    )
                    .color(theme.warn())
                    .radius(3.5),
                );
                plot.hline(
                    HLine::new(format!("L_train = {}", s.train_len), (s.train_len as f64).log10())
                        .color(theme.weak_text())
                        .style(LineStyle::dashed_loose()),
                );
            });
    }

    pub(super) fn decay_plot_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let s = &self.state;
        let qk = match s.qk {
            QkContent::Ones => "q = k = all-ones",
            QkContent::Random => "random q, k",
        };
        ui.label(RichText::new(format!("Long-term decay: ⟨R(m)q, R(n)k⟩ vs m − n ({qk})")).strong());
        if let Some(err) = &self.decay_error {
            ui.colored_label(theme.error(), format!("Cannot compute the decay curve: {err}"));
            return;
        }
        Plot::new("rope_decay")
            .height(PLOT_HEIGHT_PT)
            .x_axis_label("relative distance m − n (tokens)")
            .y_axis_label("score (no 1/√d)")
            .legend(Legend::default())
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.line(Line::new("score", PlotPoints::Borrowed(&self.decay_points)).color(theme.accent_text()));
                if s.train_len <= s.decay_len {
                    plot.vline(
                        VLine::new(format!("L_train = {}", s.train_len), s.train_len as f64)
                            .color(theme.weak_text())
                            .style(LineStyle::dashed_loose()),
                    );
                }
                if s.query_pos <= s.decay_len {
                    let color = if s.query_pos > s.train_len {
                        theme.warn()
                    } else {
                        theme.ok()
                    };
                    plot.vline(
                        VLine::new(format!("m = {} (key at n = 0)", s.query_pos), s.query_pos as f64).color(color),
                    );
                }
            });
        if s.train_len > s.decay_len {
            ui.label(
                RichText::new(format!("L_train = {} lies beyond the distances shown.", s.train_len))
                    .small()
                    .color(theme.weak_text()),
            );
        }
    }
}

/// What one clock shows.
pub(super) struct Clock {
    /// Current angle `m·θ_i mod 2π`, radians.
    angle_rad: f64,
    /// Arc reached in training, `min(2π, L_train·θ_i)`, radians.
    seen_rad: f64,
    /// Whether the current angle was never reached in training.
    unseen: bool,
}

/// Largest cell side (within the clamp) at which `n` clocks fit `width_pt × height_pt`.
pub(super) fn clock_cell_pt(n: usize, width_pt: f32, height_pt: f32) -> f32 {
    let mut cell = CLOCK_CELL_MAX_PT;
    while cell > CLOCK_CELL_MIN_PT {
        let cols = ((width_pt / cell).floor() as usize).max(1);
        if n.div_ceil(cols) as f32 * cell <= height_pt {
            break;
        }
        cell -= 2.0;
    }
    cell.max(CLOCK_CELL_MIN_PT)
}

/// Point on a circle at `angle_rad`, counter-clockwise from "3 o'clock" (screen y points down).
pub(super) fn on_circle(center: Pos2, radius: f32, angle_rad: f64) -> Pos2 {
    let (sin, cos) = angle_rad.sin_cos();
    center + vec2(radius * cos as f32, -radius * sin as f32)
}

/// Paints one clock: the seen arc as a filled sector, the dial, a zero tick, the hand and the label.
pub(super) fn paint_clock(painter: &egui::Painter, cell: Rect, pair: usize, clock: &Clock, theme: ThemeChoice) {
    let status = if clock.unseen { theme.warn() } else { theme.ok() };
    let label_h = (cell.height() * 0.2).clamp(9.0, 12.0);
    let radius = ((cell.height() - label_h) * 0.5 - 3.0).max(4.0);
    let center = pos2(cell.center().x, cell.top() + 2.0 + radius);
    // Seen arc: a triangle fan from the centre (a sector over π is not convex).
    let steps = ((clock.seen_rad / TAU * 48.0).ceil() as u32).max(2);
    let mut mesh = Mesh::default();
    let fill = theme.ok().gamma_multiply(0.3);
    mesh.colored_vertex(center, fill);
    for k in 0..=steps {
        let a = clock.seen_rad * f64::from(k) / f64::from(steps);
        mesh.colored_vertex(on_circle(center, radius, a), fill);
        if k > 0 {
            mesh.add_triangle(0, k, k + 1);
        }
    }
    painter.add(Shape::mesh(mesh));
    painter.circle_stroke(center, radius, Stroke::new(1.0, status));
    painter.line_segment(
        [
            on_circle(center, radius - 3.0, 0.0),
            on_circle(center, radius + 1.0, 0.0),
        ],
        Stroke::new(1.0, theme.weak_text()),
    );
    painter.line_segment(
        [center, on_circle(center, radius * 0.9, clock.angle_rad)],
        Stroke::new(2.0, status),
    );
    painter.circle_filled(center, 1.5, status);
    painter.text(
        pos2(center.x, cell.bottom()),
        Align2::CENTER_BOTTOM,
        pair.to_string(),
        FontId::proportional(label_h),
        theme.weak_text(),
    );
}

/// Axis label for a `log10` value: `10^k` (one decimal when not an integer).
pub(super) fn pow10_label(log10_value: f64) -> String {
    if (log10_value - log10_value.round()).abs() < 1e-9 {
        format!("10^{}", log10_value.round() as i64)
    } else {
        format!("10^{log10_value:.1}")
    }
}

pub(super) fn hover_point(hover: &HoverPosition<'_>) -> PlotPoint {
    match hover {
        HoverPosition::NearDataPoint { position, .. } | HoverPosition::Elsewhere { position } => *position,
    }
}
