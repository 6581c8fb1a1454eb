//! Export formats — JSON, CSV and PNG — and the helpers that turn maps and grids into them.
//!
//! Each view builds its own [`Exported`] (`View::export`) from its state with the same
//! functions it draws with, so the CLI (`poslens export --state '<hash>' --out fig.png|csv|json`)
//! and the app's export buttons give the same numbers as the screen. This module knows no view.

pub mod figure;
mod svg;
#[cfg(test)]
pub(crate) use svg::assert_valid_svg;

use serde_json::{Value, json};

use crate::analysis::attention_map::AttentionMap;
use crate::analysis::grid::{Aggregate, Grid, colorize, downsample};
use crate::theme::Colormap;

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("--out {0:?}: the file name must end in .png, .svg, .csv or .json")]
    UnknownFormat(String),
    #[error("this view has no vector figure")]
    NoFigure,
    #[error("this view is a set of plots: export it as .csv or .json (PNG is for heatmap views)")]
    NoImage,
    #[error(transparent)]
    Pe(#[from] crate::pe::PeError),
    #[error("{0}")]
    Model(#[from] crate::model::ModelError),
    #[error("{0}")]
    Unavailable(String),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("PNG: {0}")]
    Png(String),
    #[error("could not save {name}: {reason}")]
    Save { name: String, reason: String },
}

/// Output format, chosen from the file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    /// A vector figure (`figure`): axes, labels and legends as SVG, heatmaps embedded.
    Svg,
    Csv,
    Json,
}

impl Format {
    pub fn from_path(path: &str) -> Result<Self, ExportError> {
        let ext = path
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "png" => Ok(Self::Png),
            "svg" => Ok(Self::Svg),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            _ => Err(ExportError::UnknownFormat(path.to_owned())),
        }
    }
}

/// An RGBA image, row-major, 4 bytes per pixel.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub rgba: Vec<u8>,
}

/// Everything a view exports.
#[derive(Clone, Debug)]
pub struct Exported {
    pub json: Value,
    pub csv: String,
    /// `None` for views that are plots, not heatmaps.
    pub image: Option<Image>,
    /// The view's plots and heatmaps as a vector figure (`.svg`).
    pub figure: Option<crate::export::figure::Figure>,
}

impl Exported {
    /// The bytes to write for `format`.
    pub fn bytes(&self, format: Format) -> Result<Vec<u8>, ExportError> {
        match format {
            Format::Json => Ok(serde_json::to_vec_pretty(&self.json)?),
            Format::Csv => Ok(self.csv.clone().into_bytes()),
            Format::Png => match &self.image {
                Some(img) => encode_png(img),
                None => Err(ExportError::NoImage),
            },
            Format::Svg => match &self.figure {
                Some(f) => Ok(f.to_svg()?.into_bytes()),
                None => Err(ExportError::NoFigure),
            },
        }
    }
}

/// Smallest side of an exported heatmap, in pixels (small maps are scaled up, nearest-neighbour).
pub const MIN_IMAGE_SIDE_PX: usize = 512;

pub fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// JSON of an attention map: NaN (masked) cells become `null`.
pub fn map_json(map: &AttentionMap) -> Value {
    let rows: Vec<Vec<Option<f32>>> = map
        .values
        .chunks(map.cols.max(1))
        .map(|r| r.iter().map(|v| v.is_finite().then_some(*v)).collect())
        .collect();
    json!({ "n": map.n, "rows": map.rows, "cols": map.cols, "aggregated": map.n > map.rows, "range": [map.range.0, map.range.1],
            "mean_entropy_nats": map.mean_entropy_nats, "mass_beyond_train": map.mass_beyond_train, "values": rows })
}

pub fn map_export(map: &AttentionMap, title: &str, cmap: Colormap) -> Exported {
    let mut csv = String::new();
    if map.n > map.rows {
        csv += &format!(
            "# {title}: {0}x{0} map aggregated into {1}x{1} blocks\n",
            map.n, map.rows
        );
    }
    csv += "query_block";
    (0..map.cols).for_each(|c| csv += &format!(",k{c}"));
    csv.push('\n');
    for (r, row) in map.values.chunks(map.cols.max(1)).enumerate() {
        csv += &r.to_string();
        row.iter().for_each(|v| {
            if v.is_finite() {
                csv += &format!(",{v}")
            } else {
                csv.push(',')
            }
        });
        csv.push('\n');
    }
    Exported {
        json: json!({ "scheme": title, "map": map_json(map) }),
        csv,
        image: Some(map_image(map, cmap, MIN_IMAGE_SIDE_PX)),
        figure: Some(crate::export::figure::Figure {
            title: format!("Attention map — {title}, N = {}", map.n),
            caption: String::new(),
            panels: vec![map_panel(map, title, cmap)],
        }),
    }
}

/// An attention map as a figure panel: rows = queries (top = 0), columns = keys, in tokens.
pub fn map_panel(map: &AttentionMap, title: &str, cmap: Colormap) -> crate::export::figure::Panel {
    let n = map.n as f64;
    crate::export::figure::Panel::heatmap(
        title,
        "key position n",
        "query position m",
        map_image(map, cmap, 1),
        (0.0, n),
        (0.0, n),
        Some(crate::export::figure::ColorBar {
            label: "value".into(),
            min: map.range.0 as f64,
            max: map.range.1 as f64,
            colormap: cmap,
        }),
    )
}

pub fn map_image(map: &AttentionMap, cmap: Colormap, min_side: usize) -> Image {
    grid_image(
        Grid {
            values: &map.values,
            rows: map.rows,
            cols: map.cols,
        },
        map.range,
        cmap,
        min_side,
    )
}

/// Colour a grid (aggregated to ≤ 2048 per side), scaled up by an integer factor to `min_side`.
pub fn grid_image(grid: Grid<'_>, range: (f32, f32), cmap: Colormap, min_side: usize) -> Image {
    let (rows, cols) = (grid.rows.clamp(1, 2048), grid.cols.clamp(1, 2048));
    let small = downsample(grid, rows, cols, Aggregate::Mean);
    let px = colorize(&small, range, cmap);
    let scale = (min_side / rows.max(cols)).max(1);
    let (w, h) = (cols * scale, rows * scale);
    let mut rgba = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            let c = px[(y / scale) * cols + x / scale];
            // Masked cells are transparent on screen; white in a file.
            let c = if c.a() == 0 { crate::theme::MASKED_EXPORT } else { c };
            rgba.extend_from_slice(&[c.r(), c.g(), c.b(), 255]);
        }
    }
    Image {
        width: w,
        height: h,
        rgba,
    }
}

/// Tile equally sized images into a grid with `cols` columns and a white gutter.
pub fn tile(images: &[Image], cols: usize) -> Image {
    let gutter = 8;
    let (tw, th) = images
        .iter()
        .fold((1, 1), |(w, h), i| (w.max(i.width), h.max(i.height)));
    let rows = images.len().div_ceil(cols.max(1));
    let (w, h) = (cols * tw + (cols + 1) * gutter, rows * th + (rows + 1) * gutter);
    let mut rgba = vec![255_u8; w * h * 4];
    for (k, img) in images.iter().enumerate() {
        let (ox, oy) = (gutter + (k % cols) * (tw + gutter), gutter + (k / cols) * (th + gutter));
        for y in 0..img.height {
            let src = &img.rgba[y * img.width * 4..(y + 1) * img.width * 4];
            let dst = ((oy + y) * w + ox) * 4;
            rgba[dst..dst + src.len()].copy_from_slice(src);
        }
    }
    Image {
        width: w,
        height: h,
        rgba,
    }
}

/// Encode RGBA8 as PNG.
pub fn encode_png(img: &Image) -> Result<Vec<u8>, ExportError> {
    let png_err = |e: &dyn std::fmt::Display| ExportError::Png(e.to_string());
    let mut bytes = Vec::new();
    {
        let (w, h) = (
            u32::try_from(img.width).map_err(|e| png_err(&e))?,
            u32::try_from(img.height).map_err(|e| png_err(&e))?,
        );
        let mut enc = png::Encoder::new(&mut bytes, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(|e| png_err(&e))?;
        writer.write_image_data(&img.rgba).map_err(|e| png_err(&e))?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_path() {
        assert_eq!(Format::from_path("a/fig.PNG").ok(), Some(Format::Png));
        assert_eq!(Format::from_path("x.csv").ok(), Some(Format::Csv));
        assert!(Format::from_path("x.gif").is_err());
        assert!(Format::from_path("noext").is_err());
    }

    #[test]
    fn tiles_keep_every_image_and_png_encodes() {
        let red = Image {
            width: 2,
            height: 2,
            rgba: [255, 0, 0, 255].repeat(4),
        };
        let t = tile(&[red.clone(), red.clone(), red], 2);
        assert_eq!((t.width, t.height), (2 * 2 + 3 * 8, 2 * 2 + 3 * 8));
        let at = |x: usize, y: usize| &t.rgba[(y * t.width + x) * 4..(y * t.width + x) * 4 + 4];
        assert_eq!(at(8, 8), [255, 0, 0, 255]);
        assert_eq!(at(0, 0), [255, 255, 255, 255], "gutter is white");
        let bytes = encode_png(&t).expect("png");
        assert_eq!(&bytes[1..4], b"PNG");
        let plots = Exported {
            json: json!({}),
            csv: String::new(),
            image: None,
            figure: None,
        };
        assert!(matches!(plots.bytes(Format::Png), Err(ExportError::NoImage)));
    }
}
