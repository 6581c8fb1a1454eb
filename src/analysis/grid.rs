//! Grids of values and how they become pictures, independent of any widget: block aggregation
//! (mean / max) and colouring through a colormap's lookup table. Used by the heatmap widget,
//! the CPU and GPU engines and the export.

use egui::Color32;
use serde::{Deserialize, Serialize};

use crate::theme::Colormap;

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
}
