//! A heatmap drawn as one GPU texture, with axes, hover read-out and block aggregation — or,
//! for a map the WGSL engine left on the device, drawn by a paint callback straight from its
//! buffers (`analysis::gpu_draw`; no read-back, no texture upload).
//!
//! Maps larger than [`MAX_TEXTURE_SIDE_PX`] in either direction are aggregated (mean or max of
//! each block) instead of dropping rows: every cell of the data contributes to the picture.
//! The limit is the WebGL2 downlevel texture limit, so the same picture appears on every backend.

use std::sync::Arc;

use crate::analysis::engine::{LiveMap, MapEngines};
use crate::analysis::gpu_draw::Drawable;
use crate::analysis::grid::{Aggregate, Grid, colorize, downsample};
use crate::theme::{AXIS_MARGIN_PT, Colormap};
use egui::{Align2, Color32, ColorImage, FontId, Rect, Sense, Stroke, TextureHandle, TextureOptions, Ui, pos2, vec2};

/// Largest texture side we upload (WebGL2's guaranteed minimum for `max_texture_dimension_2d`).
pub const MAX_TEXTURE_SIDE_PX: usize = 2048;

/// What the pointer is over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HoverCell {
    pub row: usize,
    pub col: usize,
    pub value: f32,
}

/// Axis captions and data extents for [`Heatmap::ui`]. The extents are the size of the data
/// *before* aggregation, so ticks and hover read-outs are in data coordinates.
pub struct Axes<'a> {
    pub row_label: &'a str,
    pub col_label: &'a str,
    pub rows: usize,
    pub cols: usize,
}

/// A heatmap texture plus the bookkeeping to redraw it only when its data changes.
#[derive(Default)]
pub struct Heatmap {
    texture: Option<TextureHandle>,
    texture_size: [usize; 2],
    data_size: [usize; 2],
    /// A map drawn on the device instead of the texture.
    gpu: Option<Arc<Drawable>>,
}

/// egui-wgpu's paint callback: one draw call into egui's render pass.
struct DrawCallback(Arc<Drawable>);

impl eframe::egui_wgpu::CallbackTrait for DrawCallback {
    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        render_pass: &mut eframe::egui_wgpu::wgpu::RenderPass<'static>,
        _resources: &eframe::egui_wgpu::CallbackResources,
    ) {
        self.0.draw(render_pass);
    }
}

impl Heatmap {
    /// Upload new data. Aggregates blocks if the grid exceeds [`MAX_TEXTURE_SIDE_PX`].
    pub fn set(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        grid: Grid<'_>,
        range: (f32, f32),
        cmap: Colormap,
        agg: Aggregate,
    ) {
        let out_rows = grid.rows.min(MAX_TEXTURE_SIDE_PX);
        let out_cols = grid.cols.min(MAX_TEXTURE_SIDE_PX);
        let small = downsample(grid, out_rows, out_cols, agg);
        let image = ColorImage::new([out_cols.max(1), out_rows.max(1)], colorize(&small, range, cmap));
        let options = TextureOptions::NEAREST;
        match &mut self.texture {
            Some(tex) => tex.set(image, options),
            None => self.texture = Some(ctx.load_texture(name, image, options)),
        }
        self.texture_size = [out_rows, out_cols];
        self.data_size = [grid.rows, grid.cols];
        self.gpu = None;
    }

    /// Put `live`'s newest map on screen through the engine façade: drawn on the device when
    /// the WGSL engine left it there and the app draws with wgpu (at once, before its
    /// read-back), else as a CPU-coloured texture of its finished map. `shared` puts it on one
    /// colour scale with another map (the union of both ranges; on the device only when both
    /// are there). Call it when a map was started or finished; returns whether a new picture
    /// went up.
    #[allow(clippy::too_many_arguments)]
    pub fn show_live(
        &mut self,
        ctx: &egui::Context,
        engines: &MapEngines,
        live: &LiveMap,
        shared: Option<&LiveMap>,
        name: &str,
        cmap: Colormap,
        agg: Aggregate,
    ) -> bool {
        if let Some(picture) = live.gpu_picture() {
            let other = shared.and_then(LiveMap::gpu_picture);
            if shared.is_none() || other.is_some() {
                let serials = (picture.serial, other.map(|p| p.serial));
                if self.gpu.as_ref().is_some_and(|d| d.serials == serials) {
                    return false;
                }
                if let Some(d) = engines.bind(picture, other, cmap) {
                    self.set_gpu(d);
                    return true;
                }
            }
        }
        let map = live.map();
        if map.n == 0 {
            return false;
        }
        let range = match shared.map(LiveMap::map) {
            Some(o) if o.n > 0 => {
                let (lo, hi) = (map.range.0.min(o.range.0), map.range.1.max(o.range.1));
                if hi > lo { (lo, hi) } else { (lo, lo + 1e-6) }
            }
            _ => map.range,
        };
        let grid = Grid {
            values: &map.values,
            rows: map.rows,
            cols: map.cols,
        };
        self.set(ctx, name, grid, range, cmap, agg);
        true
    }

    /// Show a map drawn on the device (see [`Drawable`]) until the next [`Self::set`].
    pub fn set_gpu(&mut self, drawable: Drawable) {
        self.texture_size = [drawable.side, drawable.side];
        self.data_size = [drawable.n, drawable.n];
        self.gpu = Some(Arc::new(drawable));
    }

    /// Is the picture on screen drawn on the device?
    pub fn is_gpu_drawn(&self) -> bool {
        self.gpu.is_some()
    }

    /// Rows/cols aggregated into one texel, if any aggregation happened.
    pub fn aggregation_factor(&self) -> Option<(usize, usize)> {
        let [tr, tc] = self.texture_size;
        let [dr, dc] = self.data_size;
        (tr > 0 && tc > 0 && (dr > tr || dc > tc)).then(|| (dr.div_ceil(tr), dc.div_ceil(tc)))
    }

    /// Draw into `size` taken from `ui`, with axes. `grid` is what was uploaded (possibly
    /// aggregated); returns the plot rectangle and the hovered cell in data coordinates.
    pub fn ui(&self, ui: &mut Ui, size: egui::Vec2, grid: Grid<'_>, axes: &Axes<'_>) -> (Rect, Option<HoverCell>) {
        let (outer, response) = ui.allocate_exact_size(size, Sense::hover());
        // On whole pixels: the texture's mesh and a paint callback's viewport (which egui-wgpu
        // rounds to pixels) then cover exactly the same pixels.
        let plot = egui::emath::GuiRounding::round_to_pixels(
            Rect::from_min_max(
                outer.min + vec2(AXIS_MARGIN_PT, 18.0),
                outer.max - vec2(4.0, AXIS_MARGIN_PT * 0.6),
            ),
            ui.pixels_per_point(),
        );
        let painter = ui.painter_at(outer);
        let text_color = ui.visuals().text_color();
        let weak = ui.visuals().weak_text_color();
        if let Some(drawable) = &self.gpu {
            painter.add(eframe::egui_wgpu::Callback::new_paint_callback(
                plot,
                DrawCallback(drawable.clone()),
            ));
        } else if let Some(tex) = &self.texture {
            painter.image(
                tex.id(),
                plot,
                Rect::from_min_max(pos2(0.0, 0.0), pos2(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        painter.rect_stroke(plot, 0.0, Stroke::new(1.0, weak), egui::StrokeKind::Outside);
        let font = FontId::proportional(11.0);
        // Row ticks (left) and column ticks (bottom), at "nice" data indices.
        for tick in nice_ticks(axes.rows) {
            let y = plot.top() + (tick as f32 + 0.5) / axes.rows.max(1) as f32 * plot.height();
            painter.line_segment(
                [pos2(plot.left() - 4.0, y), pos2(plot.left(), y)],
                Stroke::new(1.0, weak),
            );
            painter.text(
                pos2(plot.left() - 6.0, y),
                Align2::RIGHT_CENTER,
                tick.to_string(),
                font.clone(),
                weak,
            );
        }
        for tick in nice_ticks(axes.cols) {
            let x = plot.left() + (tick as f32 + 0.5) / axes.cols.max(1) as f32 * plot.width();
            painter.line_segment(
                [pos2(x, plot.bottom()), pos2(x, plot.bottom() + 4.0)],
                Stroke::new(1.0, weak),
            );
            painter.text(
                pos2(x, plot.bottom() + 6.0),
                Align2::CENTER_TOP,
                tick.to_string(),
                font.clone(),
                weak,
            );
        }
        painter.text(
            pos2(plot.center().x, outer.bottom()),
            Align2::CENTER_BOTTOM,
            axes.col_label,
            font.clone(),
            text_color,
        );
        painter.text(
            pos2(plot.left(), plot.top() - 3.0),
            Align2::LEFT_BOTTOM,
            axes.row_label,
            font,
            text_color,
        );

        let Some(pos) = response.hover_pos() else {
            return (plot, None);
        };
        if !plot.contains(pos)
            || axes.rows == 0
            || axes.cols == 0
            || (self.gpu.is_none() && (grid.rows == 0 || grid.cols == 0))
        {
            return (plot, None);
        }
        let fy = ((pos.y - plot.top()) / plot.height()).clamp(0.0, 0.999_999);
        let fx = ((pos.x - plot.left()) / plot.width()).clamp(0.0, 0.999_999);
        let (row, col) = ((fy * axes.rows as f32) as usize, (fx * axes.cols as f32) as usize);
        // A device-drawn picture may be newer than `grid` (its read-back lags): the caller
        // reads exact values itself; NaN stands for "not read back".
        let value = match grid.get((fy * grid.rows as f32) as usize, (fx * grid.cols as f32) as usize) {
            Some(v) => v,
            None if self.gpu.is_some() => f32::NAN,
            None => return (plot, None),
        };
        painter.rect_stroke(
            Rect::from_center_size(pos, vec2(6.0, 6.0)),
            1.0,
            Stroke::new(1.5, crate::theme::HOVER_MARKER),
            egui::StrokeKind::Middle,
        );
        (plot, Some(HoverCell { row, col, value }))
    }
}

/// About five round tick positions in `0..n` (multiples of 1, 2 or 5 × 10^k).
pub fn nice_ticks(n: usize) -> Vec<usize> {
    if n == 0 {
        return Vec::new();
    }
    let raw = (n as f64 / 5.0).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0) as usize;
    (0..n).step_by(step).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_are_round_and_in_range() {
        assert_eq!(nice_ticks(64), vec![0, 20, 40, 60]);
        assert_eq!(nice_ticks(4096), vec![0, 1000, 2000, 3000, 4000]);
        assert_eq!(nice_ticks(3), vec![0, 1, 2]);
        assert!(nice_ticks(0).is_empty());
    }
}
