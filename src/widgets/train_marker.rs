//! The training-length marker drawn over attention heatmaps: where extrapolation begins.

use egui::{Color32, Stroke, Ui, pos2};

/// Dashed lines at query = L_train and key = L_train (if inside the map).
pub fn train_marker_ui(ui: &Ui, plot: egui::Rect, train_len: usize, n: usize, color: Color32) {
    if train_len >= n || n == 0 {
        return;
    }
    let f = train_len as f32 / n as f32;
    let painter = ui.painter_at(plot.expand(2.0));
    let stroke = Stroke::new(1.5, color);
    let y = plot.top() + f * plot.height();
    let x = plot.left() + f * plot.width();
    painter.extend(egui::Shape::dashed_line(
        &[pos2(plot.left(), y), pos2(plot.right(), y)],
        stroke,
        6.0,
        4.0,
    ));
    painter.extend(egui::Shape::dashed_line(
        &[pos2(x, plot.top()), pos2(x, plot.bottom())],
        stroke,
        6.0,
        4.0,
    ));
    painter.text(
        pos2(plot.right() - 4.0, y - 2.0),
        egui::Align2::RIGHT_BOTTOM,
        "L_train",
        egui::FontId::proportional(11.0),
        color,
    );
}
