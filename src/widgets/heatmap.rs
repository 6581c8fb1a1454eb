//! A heatmap drawn as one GPU texture, with axes, hover read-out and block aggregation.
//!
//! Maps larger than [`MAX_TEXTURE_SIDE_PX`] in either direction are aggregated (mean or max of
//! each block) instead of dropping rows: every cell of the data contributes to the picture.
//! The limit is the WebGL2 downlevel texture limit, so the same picture appears on every backend.

use egui::{Align2, Color32, ColorImage, FontId, Rect, Sense, Stroke, TextureHandle, TextureOptions, Ui, pos2, vec2};
use serde::{Deserialize, Serialize};

use crate::theme::{AXIS_MARGIN_PT, Colormap};

/// Largest texture side we upload (WebGL2's guaranteed minimum for `max_texture_dimension_2d`).
pub const MAX_TEXTURE_SIDE_PX: usize = 2048;

/// How cells are combined when the map has more cells than texture pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregate {
    #[default]
    Mean,
    Max,
}

impl Aggregate {
    pub fn key(self) -> &'static str {
        match self {
            Self::Mean => "mean",
            Self::Max => "max",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        [Self::Mean, Self::Max].into_iter().find(|a| a.key() == key)
    }
}

/// Row-major matrix of values, `rows × cols`.
#[derive(Clone, Copy, Debug)]
pub struct Grid<'a> {
    pub values: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

impl Grid<'_> {
    pub fn get(&self, row: usize, col: usize) -> Option<f32> {
        (row < self.rows && col < self.cols)
            .then(|| self.values.get(row * self.cols + col).copied())
            .flatten()
    }
}

/// Combine `grid` into at most `out_rows × out_cols` blocks. Each output cell covers the
/// contiguous block `[r·rows/out_rows, (r+1)·rows/out_rows)` (likewise for columns), so blocks
/// differ in size by at most one cell and every input cell lands in exactly one block.
pub fn downsample(grid: Grid<'_>, out_rows: usize, out_cols: usize, agg: Aggregate) -> Vec<f32> {
    let out_rows = out_rows.clamp(1, grid.rows.max(1));
    let out_cols = out_cols.clamp(1, grid.cols.max(1));
    if out_rows == grid.rows && out_cols == grid.cols {
        return grid.values.to_vec();
    }
    let mut out = vec![0.0_f32; out_rows * out_cols];
    for r in 0..out_rows {
        let (r0, r1) = (r * grid.rows / out_rows, (r + 1) * grid.rows / out_rows);
        for c in 0..out_cols {
            let (c0, c1) = (c * grid.cols / out_cols, (c + 1) * grid.cols / out_cols);
            let mut acc = match agg {
                Aggregate::Mean => 0.0_f64,
                Aggregate::Max => f64::NEG_INFINITY,
            };
            for rr in r0..r1 {
                let row = &grid.values[rr * grid.cols + c0..rr * grid.cols + c1];
                for &v in row {
                    match agg {
                        Aggregate::Mean => acc += v as f64,
                        Aggregate::Max => acc = acc.max(v as f64),
                    }
                }
            }
            let count = ((r1 - r0) * (c1 - c0)).max(1) as f64;
            out[r * out_cols + c] = match agg {
                Aggregate::Mean => (acc / count) as f32,
                Aggregate::Max => acc as f32,
            };
        }
    }
    out
}

/// Colour values into pixels: `t = (v − lo)/(hi − lo)` through the colormap's lookup table;
/// NaN (masked) becomes transparent.
pub fn colorize(values: &[f32], range: (f32, f32), cmap: Colormap) -> Vec<Color32> {
    let lut = cmap.lut();
    let (lo, hi) = range;
    let span = if (hi - lo).abs() > f32::EPSILON { hi - lo } else { 1.0 };
    values
        .iter()
        .map(|&v| {
            if v.is_nan() {
                return Color32::TRANSPARENT; // masked: the panel shows through
            }
            let t = ((v - lo) / span).clamp(0.0, 1.0);
            lut[(t * 255.0).round() as usize]
        })
        .collect()
}

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
        let plot = Rect::from_min_max(
            outer.min + vec2(AXIS_MARGIN_PT, 18.0),
            outer.max - vec2(4.0, AXIS_MARGIN_PT * 0.6),
        );
        let painter = ui.painter_at(outer);
        let text_color = ui.visuals().text_color();
        let weak = ui.visuals().weak_text_color();
        if let Some(tex) = &self.texture {
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
        if !plot.contains(pos) || axes.rows == 0 || axes.cols == 0 || grid.rows == 0 || grid.cols == 0 {
            return (plot, None);
        }
        let fy = ((pos.y - plot.top()) / plot.height()).clamp(0.0, 0.999_999);
        let fx = ((pos.x - plot.left()) / plot.width()).clamp(0.0, 0.999_999);
        let (row, col) = ((fy * axes.rows as f32) as usize, (fx * axes.cols as f32) as usize);
        let Some(value) = grid.get((fy * grid.rows as f32) as usize, (fx * grid.cols as f32) as usize) else {
            return (plot, None);
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
    fn downsample_mean_and_max_of_blocks() {
        // 4×4 → 2×2
        let v: Vec<f32> = (0..16).map(|x| x as f32).collect();
        let g = Grid {
            values: &v,
            rows: 4,
            cols: 4,
        };
        assert_eq!(downsample(g, 2, 2, Aggregate::Mean), vec![2.5, 4.5, 10.5, 12.5]);
        assert_eq!(downsample(g, 2, 2, Aggregate::Max), vec![5.0, 7.0, 13.0, 15.0]);
    }

    #[test]
    fn downsample_uneven_blocks_cover_every_cell() {
        let v = vec![1.0_f32; 7 * 5];
        let g = Grid {
            values: &v,
            rows: 7,
            cols: 5,
        };
        let out = downsample(g, 3, 2, Aggregate::Mean);
        assert_eq!(out.len(), 6);
        assert!(out.iter().all(|&x| (x - 1.0).abs() < 1e-6));
        // A single spike survives "max" aggregation wherever it is.
        let mut spiky = vec![0.0_f32; 7 * 5];
        spiky[6 * 5 + 4] = 9.0;
        let g = Grid {
            values: &spiky,
            rows: 7,
            cols: 5,
        };
        assert_eq!(downsample(g, 3, 2, Aggregate::Max)[5], 9.0);
    }

    #[test]
    fn downsample_is_identity_when_it_fits() {
        let v = vec![0.5_f32, -1.0, 2.0, 3.0];
        let g = Grid {
            values: &v,
            rows: 2,
            cols: 2,
        };
        assert_eq!(downsample(g, 8, 8, Aggregate::Max), v);
    }

    #[test]
    fn colorize_maps_ends_of_range_to_ends_of_colormap() {
        let px = colorize(&[-1.0, 1.0, f32::NAN, 5.0], (-1.0, 1.0), Colormap::RdBu);
        let lut = Colormap::RdBu.lut();
        assert_eq!(px[0], lut[0]);
        assert_eq!(px[1], lut[255]);
        assert_eq!(px[2], Color32::TRANSPARENT);
        assert_eq!(px[3], lut[255]);
    }

    #[test]
    fn nice_ticks_are_round_and_in_range() {
        assert_eq!(nice_ticks(64), vec![0, 20, 40, 60]);
        assert_eq!(nice_ticks(4096), vec![0, 1000, 2000, 3000, 4000]);
        assert_eq!(nice_ticks(3), vec![0, 1, 2]);
        assert!(nice_ticks(0).is_empty());
    }
}
