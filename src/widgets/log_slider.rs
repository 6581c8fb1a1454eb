//! An integer slider on a logarithmic scale (sequence lengths span three orders of magnitude).

use egui::{Slider, Ui};

/// A log-scale integer slider with an accessible label. Returns the response.
pub fn log_slider_ui(
    ui: &mut Ui,
    value: &mut usize,
    range: std::ops::RangeInclusive<usize>,
    label: &str,
) -> egui::Response {
    let (lo, hi) = (*range.start(), *range.end());
    *value = (*value).clamp(lo, hi);
    ui.add(Slider::new(value, lo..=hi).logarithmic(true).text(label))
}
