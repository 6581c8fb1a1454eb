//! The Context-extension view's plots: frequency ratio, wavelengths and angle coverage.

use egui::{RichText, Stroke, Ui};
use egui_plot::{
    Bar, BarChart, GridInput, GridMark, HLine, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoints, Points, VLine,
};

use crate::theme::ThemeChoice;

use super::*;

/// A window slider for an optional window (`None` = the default tied to L_train).
pub(super) fn window_slider(
    ui: &mut Ui,
    value: &mut Option<usize>,
    default_tokens: usize,
    label: &str,
    default_name: &str,
) {
    let mut v = value.unwrap_or(default_tokens);
    ui.horizontal(|ui| {
        let r = ui.add(egui::Slider::new(&mut v, WINDOW_RANGE).logarithmic(true).text(label));
        if r.changed() {
            *value = Some(v);
        }
        if value.is_some() {
            if ui
                .small_button("auto")
                .on_hover_text(format!("Back to the default, {default_name}"))
                .clicked()
            {
                *value = None;
            }
        } else {
            ui.label(RichText::new(format!("= {default_name}")).small());
        }
    });
}

pub(super) const PLOT_HEIGHT_PT: f32 = 200.0;

/// Marks at every integer (or every k-th) of a log10 axis.
pub(super) fn log10_spacer(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return Vec::new();
    }
    let step = ((hi - lo) / 8.0).ceil().max(1.0);
    let start = (lo / step).ceil() as i64;
    let end = (hi / step).floor() as i64;
    (start..=end)
        .map(|k| GridMark {
            value: k as f64 * step,
            step_size: step,
        })
        .collect()
}

/// `10^k` label for integer `k`, empty otherwise.
pub(super) fn pow10_label(v: f64) -> String {
    if (v - v.round()).abs() > 1e-9 {
        return String::new();
    }
    let k = v.round() as i64;
    let sup: String = k
        .to_string()
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            _ => '⁹',
        })
        .collect();
    format!("10{sup}")
}

/// θ'_i / θ_i per pair.
pub(super) fn ratio_plot(ui: &mut Ui, s: &ExtensionState, diag: &ExtensionDiagnostics, theme: ThemeChoice) {
    ui.label(RichText::new("Frequency ratio θ'_i / θ_i per pair").strong());
    let pts: Vec<[f64; 2]> = diag
        .freq_ratio
        .iter()
        .enumerate()
        .map(|(i, r)| [i as f64, *r])
        .collect();
    Plot::new("extension_ratio")
        .height(PLOT_HEIGHT_PT)
        .x_axis_label("pair i (fast → slow)")
        .y_axis_label("θ'/θ")
        .include_y(0.0)
        .include_y(1.05)
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.line(Line::new("θ'/θ", PlotPoints::from(pts.clone())).color(theme.accent_text()));
            plot.points(
                Points::new("θ'/θ", PlotPoints::from(pts))
                    .color(theme.accent_text())
                    .radius(2.0),
            );
            if !s.method.is_position_map() {
                plot.hline(
                    HLine::new("1/s", 1.0 / s.factor)
                        .color(theme.weak_text())
                        .style(LineStyle::dashed_loose()),
                );
            }
        });
    if s.method.is_position_map() {
        ui.label(
            RichText::new("A position map leaves every frequency unchanged (ratio 1); it changes distances instead.")
                .small()
                .color(theme.weak_text()),
        );
    }
}

/// Wavelengths before/after, log10 axis, with L_train and N marked.
pub(super) fn wavelength_plot(ui: &mut Ui, s: &ExtensionState, diag: &ExtensionDiagnostics, theme: ThemeChoice) {
    ui.label(RichText::new("Wavelength λ_i = 2π/θ_i per pair (tokens)").strong());
    // A zeroed frequency (Giraffe's truncated basis) has no wavelength: left out.
    let series = |v: &[f64]| -> Vec<[f64; 2]> {
        v.iter()
            .enumerate()
            .filter(|(_, w)| w.is_finite())
            .map(|(i, w)| [i as f64, w.log10()])
            .collect()
    };
    let before = series(&diag.wavelength_before_tokens);
    let after = series(&diag.wavelength_after_tokens);
    Plot::new("extension_wavelength")
        .height(PLOT_HEIGHT_PT)
        .x_axis_label("pair i")
        .y_axis_label("λ (tokens)")
        .y_grid_spacer(log10_spacer)
        .y_axis_formatter(|mark, _| pow10_label(mark.value))
        .label_formatter(|pos| {
            let (name, p) = match pos {
                HoverPosition::NearDataPoint {
                    plot_name, position, ..
                } => (*plot_name, position),
                HoverPosition::Elsewhere { position } => ("", position),
            };
            Some(format!("{name}\npair {:.0}\nλ = {:.4} tokens", p.x, 10f64.powf(p.y)))
        })
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.line(
                Line::new("plain RoPE", PlotPoints::from(before))
                    .color(theme.weak_text())
                    .style(LineStyle::dashed_dense()),
            );
            plot.line(Line::new(s.method.title(), PlotPoints::from(after)).color(theme.accent_text()));
            plot.hline(HLine::new("L_train", (s.train_len as f64).log10()).color(theme.warn()));
            plot.hline(
                HLine::new("N", (s.seq_len as f64).log10())
                    .color(theme.error())
                    .style(LineStyle::dashed_loose()),
            );
        });
}

/// Angle coverage per pair in turns (log10 axis, clipped at one full turn).
pub(super) fn coverage_plot(ui: &mut Ui, s: &ExtensionState, diag: &ExtensionDiagnostics, theme: ThemeChoice) {
    let reach = if s.method.is_position_map() {
        format!("max effective distance {} · θ_i", diag.max_effective_distance_tokens)
    } else {
        "N · θ'_i".to_owned()
    };
    ui.label(
        RichText::new(format!(
            "Angle coverage per pair, in turns: seen in training [0, L_train·θ_i] vs reached at N [0, {reach}]"
        ))
        .strong(),
    );
    let clip = |t: f64| t.min(1.0).log10();
    let floor = diag
        .seen_turns
        .iter()
        .chain(&diag.reached_turns_after)
        .chain(&diag.reached_turns_before)
        .map(|&t| clip(t))
        .fold(0.0_f64, f64::min)
        .floor()
        .max(-15.0)
        - 0.2;
    let y = |t: f64| clip(t).max(floor);
    let seen_fill = theme.ok().gamma_multiply(0.45);
    let ood_fill = theme.error().gamma_multiply(0.8);
    let seen: Vec<Bar> = diag
        .seen_turns
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            Bar::new(i as f64, y(t) - floor)
                .base_offset(floor)
                .width(0.7)
                .fill(seen_fill)
                .stroke(Stroke::new(1.0, theme.ok()))
        })
        .collect();
    let ood: Vec<Bar> = diag
        .seen_turns
        .iter()
        .zip(&diag.reached_turns_after)
        .enumerate()
        .filter(|(i, _)| diag.unseen_after.get(*i).copied().unwrap_or(false))
        .map(|(i, (&a, &b))| {
            Bar::new(i as f64, (y(b) - y(a)).max(0.0))
                .base_offset(y(a))
                .width(0.7)
                .fill(ood_fill)
                .stroke(Stroke::new(1.0, theme.error()))
        })
        .collect();
    let pts = |v: &[f64]| -> Vec<[f64; 2]> { v.iter().enumerate().map(|(i, &t)| [i as f64, y(t)]).collect() };
    let reached_before = pts(&diag.reached_turns_before);
    let reached_after = pts(&diag.reached_turns_after);
    Plot::new("extension_coverage")
        .height(PLOT_HEIGHT_PT + 20.0)
        .x_axis_label("pair i (fast → slow)")
        .y_axis_label("turns (angle / 2π)")
        .y_grid_spacer(log10_spacer)
        .y_axis_formatter(|mark, _| pow10_label(mark.value))
        .include_y(0.1)
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            plot.bar_chart(
                BarChart::new("seen in training", seen)
                    .color(theme.ok())
                    .element_formatter(Box::new(|bar, _| {
                        let top = bar.base_offset.unwrap_or(0.0) + bar.value;
                        format!("pair {:.0}: seen up to {:.3e} turns", bar.argument, 10f64.powf(top))
                    })),
            );
            plot.bar_chart(
                BarChart::new("unseen at N (out of distribution)", ood)
                    .color(theme.error())
                    .element_formatter(Box::new(|bar, _| {
                        let lo = bar.base_offset.unwrap_or(0.0);
                        format!(
                            "pair {:.0}: unseen {:.3e} … {:.3e} turns",
                            bar.argument,
                            10f64.powf(lo),
                            10f64.powf(lo + bar.value)
                        )
                    })),
            );
            plot.points(
                Points::new("reached by plain RoPE", PlotPoints::from(reached_before))
                    .color(theme.weak_text())
                    .filled(false)
                    .radius(3.0),
            );
            plot.points(
                Points::new(
                    format!("reached with {}", s.method.title()),
                    PlotPoints::from(reached_after),
                )
                .color(theme.accent_text())
                .radius(2.5),
            );
            plot.hline(
                HLine::new("one full turn: every angle seen", 0.0)
                    .color(theme.weak_text())
                    .style(LineStyle::dashed_loose()),
            );
        });
    ui.label(
        RichText::new(
            "Pairs that complete a full turn within L_train have seen every angle (bars reach the top line); the \
             red part is the angle range reached at N that training never showed.",
        )
        .small()
        .color(theme.weak_text()),
    );
}

/// Scale factors of the trajectory panel: 1 … 32, evenly in log s.
pub(super) fn trajectory_scales() -> Vec<f64> {
    (0..=40).map(|k| 2f64.powf(k as f64 / 8.0)).collect()
}

/// θ′_i(s)/θ_i for five pairs (fastest … slowest) as s sweeps 1 … 32: the method's trajectory,
/// on log₂ axes (PI is the diagonal −log₂ s for every pair).
pub(super) fn trajectory_plot(ui: &mut Ui, s: &ExtensionState, theme: ThemeChoice) {
    ui.label(RichText::new("Trajectory: θ′_i / θ_i as the scale factor s grows (CLEX's view)").strong());
    if s.method.is_position_map() {
        ui.label(
            RichText::new("A position map keeps every θ_i at every s: its trajectory is flat.")
                .small()
                .color(theme.weak_text()),
        );
        return;
    }
    let half = s.head_dim / 2;
    let pairs: Vec<usize> = [0, half / 4, half / 2, 3 * half / 4, half.saturating_sub(1)].to_vec();
    let scales = trajectory_scales();
    let rows = match s.trajectory(&pairs, &scales) {
        Ok(r) => r,
        Err(e) => {
            ui.colored_label(theme.error(), e.to_string());
            return;
        }
    };
    // log₂ of a zeroed frequency (Giraffe's truncated basis) is drawn at the floor.
    const FLOOR: f64 = -8.0;
    Plot::new("extension_trajectory")
        .height(PLOT_HEIGHT_PT)
        .x_axis_label("log₂ s")
        .y_axis_label("log₂ θ′/θ")
        .include_y(0.5)
        .include_y(-5.5)
        .allow_scroll(false)
        .legend(Legend::default().position(egui_plot::Corner::LeftBottom))
        .show(ui, |plot| {
            let pi: Vec<[f64; 2]> = scales.iter().map(|sc| [sc.log2(), -sc.log2()]).collect();
            plot.line(
                Line::new("PI: 1/s", PlotPoints::from(pi))
                    .color(theme.weak_text())
                    .style(LineStyle::dashed_loose()),
            );
            for (k, (row, &i)) in rows.iter().zip(&pairs).enumerate() {
                let pts: Vec<[f64; 2]> = scales
                    .iter()
                    .zip(row)
                    .map(|(sc, r)| [sc.log2(), if *r > 0.0 { r.log2().max(FLOOR) } else { FLOOR }])
                    .collect();
                plot.line(Line::new(format!("pair {i}"), PlotPoints::from(pts)).color(crate::theme::series_color(k)));
            }
            plot.vline(VLine::new("current s", s.factor.log2()).color(theme.warn()));
        });
    ui.label(
        RichText::new(
            "Each closed-form method is one fixed path through this plane; CLEX (Chen et al. 2023) learns the path as a continuous dynamic instead. Zeroed frequencies are drawn at the bottom.",
        )
        .small()
        .color(theme.weak_text()),
    );
}
