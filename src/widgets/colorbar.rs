//! A vertical colour bar with numeric labels, for heatmap legends.

use egui::{Align2, FontId, Mesh, Rect, Sense, Stroke, Ui, pos2, vec2};

use crate::theme::{COLORBAR_WIDTH_PT, Colormap};

/// Draw a colour bar of `height_pt` for values in `range`, top = high. `caption` names the unit.
pub fn colorbar_ui(ui: &mut Ui, height_pt: f32, range: (f32, f32), cmap: Colormap, caption: &str) {
    let label_w = 46.0;
    let (outer, _) = ui.allocate_exact_size(vec2(COLORBAR_WIDTH_PT + label_w, height_pt), Sense::hover());
    let bar = Rect::from_min_size(
        outer.min + vec2(0.0, 18.0),
        vec2(COLORBAR_WIDTH_PT, (height_pt - 44.0).max(20.0)),
    );
    let painter = ui.painter_at(outer);
    let mut mesh = Mesh::default();
    let steps = 64;
    for s in 0..steps {
        let t0 = s as f32 / steps as f32;
        let t1 = (s + 1) as f32 / steps as f32;
        // top of bar = high end
        let y0 = bar.bottom() - t1 * bar.height();
        let y1 = bar.bottom() - t0 * bar.height();
        mesh.add_colored_rect(
            Rect::from_x_y_ranges(bar.x_range(), y0..=y1),
            cmap.eval((t0 + t1) * 0.5),
        );
    }
    painter.add(mesh);
    let weak = ui.visuals().weak_text_color();
    painter.rect_stroke(bar, 0.0, Stroke::new(1.0, weak), egui::StrokeKind::Outside);
    let font = FontId::proportional(11.0);
    let (lo, hi) = range;
    for (t, v) in [(0.0, lo), (0.5, 0.5 * (lo + hi)), (1.0, hi)] {
        let y = bar.bottom() - t * bar.height();
        painter.line_segment(
            [pos2(bar.right(), y), pos2(bar.right() + 3.0, y)],
            Stroke::new(1.0, weak),
        );
        painter.text(
            pos2(bar.right() + 5.0, y),
            Align2::LEFT_CENTER,
            format_tick(v),
            font.clone(),
            weak,
        );
    }
    painter.text(
        pos2(bar.left(), bar.top() - 3.0),
        Align2::LEFT_BOTTOM,
        caption,
        font,
        ui.visuals().text_color(),
    );
}

/// Compact number formatting for axis labels.
pub fn format_tick(v: f32) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_owned()
    } else if !(1e-3..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::format_tick;

    #[test]
    fn tick_formatting_is_compact() {
        assert_eq!(format_tick(0.0), "0");
        assert_eq!(format_tick(-1.0), "-1.00");
        assert_eq!(format_tick(0.0625), "0.062");
        assert_eq!(format_tick(512.0), "512");
        assert_eq!(format_tick(1e-6), "1.0e-6");
    }
}
