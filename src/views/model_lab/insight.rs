//! Inside the shown model: where in the haystack recall fails ("lost in the middle", Liu et al.
//! 2023) and what each layer knows about absolute position (a linear probe; Kazemnejad et al.
//! 2023 prove a NoPE decoder can build its own position signal).

use egui::{RichText, Ui};
use egui_plot::{Bar, BarChart, Legend, Plot};

use crate::compute::protocol::{DEPTH_BUCKETS, PROBE_SAMPLES};
use crate::model::probe::ProbeReport;
use crate::tasks::Score;
use crate::theme::{ThemeChoice, series_color};

use super::*;

const DEPTH_TEXT: &str = "Recall exact match by where the queried key–value pair sits in the haystack, first quarter to last \
     (closest to the query). Past L_train the failures take a shape: recency (the last quarter survives), primacy \
     (the first), or a lost middle (Liu et al. 2023, “Lost in the Middle”).";

const PROBE_TEXT: &str = "A linear probe (ridge regression) reads each token's absolute position from the model's hidden state, \
     at the input and after every block: R² = 1 is a perfect read-out, 0 no better than guessing the middle. It is fitted at \
     L_train and tested on new samples at L_train and at N. NoPE has no position in its input, yet builds one in its first \
     block — the construction Kazemnejad et al. 2023 prove possible.";

impl ModelLabView {
    /// The two insight panels under the read-out: depth (recall) and the probe (when on).
    pub(super) fn insight_ui(&self, ui: &mut Ui, theme: ThemeChoice) {
        let Some(Ok(r)) = self.result() else { return };
        if r.by_depth.is_empty() && r.probe.is_none() {
            return;
        }
        let width = ui.available_width();
        let panel_w = if r.by_depth.is_empty() || r.probe.is_none() {
            width.min(560.0)
        } else {
            ((width - 16.0) / 2.0).max(260.0)
        };
        ui.horizontal_wrapped(|ui| {
            if !r.by_depth.is_empty() {
                ui.vertical(|ui| {
                    ui.set_width(panel_w);
                    depth_ui(ui, theme, &r.by_depth, self.state.seq_len);
                });
            }
            if let Some(p) = &r.probe {
                ui.vertical(|ui| {
                    ui.set_width(panel_w);
                    probe_ui(ui, theme, p);
                });
            }
        });
    }

    /// The side-panel switch of the probe.
    pub(super) fn insight_controls_ui(&mut self, ui: &mut Ui) {
        ui.checkbox(&mut self.state.probe, "probe position in every layer")
            .on_hover_text(format!(
                "Fit a linear read-out of absolute position per layer ({PROBE_SAMPLES} samples at L_train), \
                 tested at L_train and at N. Adds a second or so per run."
            ));
    }
}

fn depth_ui(ui: &mut Ui, theme: ThemeChoice, by_depth: &[Score], n: usize) {
    ui.label(RichText::new(format!("Lost in the middle? Recall by depth at N = {n}")).strong());
    ui.label(RichText::new(DEPTH_TEXT).small().color(theme.weak_text()));
    let names = ["first ¼", "second ¼", "third ¼", "last ¼"];
    let bars: Vec<Bar> = by_depth
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = names.get(i).copied().unwrap_or("");
            let em = if s.samples > 0 { 100.0 * s.exact_match() } else { 0.0 };
            Bar::new(i as f64, em)
                .width(0.7)
                .name(format!("{name}: {em:.0} % of {} samples", s.samples))
        })
        .collect();
    let x_names = names;
    Plot::new("model_depth")
        .height(170.0)
        .include_y(0.0)
        .include_y(100.0)
        .y_axis_label("exact match %")
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && (0.0..DEPTH_BUCKETS as f64).contains(&i) {
                x_names[i as usize].to_owned()
            } else {
                String::new()
            }
        })
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("exact match", bars).color(theme.accent()));
        });
}

fn probe_ui(ui: &mut Ui, theme: ThemeChoice, p: &ProbeReport) {
    ui.label(RichText::new("What each layer knows about position").strong());
    ui.label(RichText::new(PROBE_TEXT).small().color(theme.weak_text()));
    let layers = p.fits.len();
    let series = p.lengths.len().max(1);
    let width = 0.8 / series as f64;
    let mut charts = Vec::new();
    for (j, &len) in p.lengths.iter().enumerate() {
        let label = if len == p.fit_len {
            format!("R² at L_train = {len}")
        } else {
            format!("R² at N = {len}")
        };
        let bars: Vec<Bar> = (0..layers)
            .filter_map(|l| {
                let fit = p.fits[l].get(j).copied().flatten()?;
                let x = l as f64 + (j as f64 - (series as f64 - 1.0) / 2.0) * width;
                // Below −1 a read-out is just wrong; the bar stops there, the hover says how wrong.
                Some(Bar::new(x, fit.r2.max(-1.0)).width(width * 0.9).name(format!(
                    "{}: R² {:.2}, off by {:.1} positions on average",
                    layer_name(l),
                    fit.r2,
                    fit.mae
                )))
            })
            .collect();
        charts.push(BarChart::new(label, bars).color(series_color(j)));
    }
    Plot::new("model_probe")
        .height(170.0)
        .include_y(-1.0)
        .include_y(1.0)
        .y_axis_label("R²")
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && (0.0..layers as f64).contains(&i) {
                layer_name(i as usize)
            } else {
                String::new()
            }
        })
        .allow_scroll(false)
        .allow_drag(false)
        .allow_zoom(false)
        .show(ui, |plot| {
            for c in charts {
                plot.bar_chart(c);
            }
        });
    if p.fits.iter().all(|f| f.iter().skip(1).all(Option::is_none)) && p.lengths.len() > 1 {
        ui.label(
            RichText::new("The model cannot run at N (a learned table has no rows there): only L_train is shown.")
                .small()
                .color(theme.warn()),
        );
    }
}

fn layer_name(l: usize) -> String {
    if l == 0 {
        "input".to_owned()
    } else {
        format!("block {l}")
    }
}
