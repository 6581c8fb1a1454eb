//! Vector figures: a view's plots and heatmaps, described as data (export format `.svg`).
//!
//! Each view describes what it shows as a [`Figure`] — panels of line plots (series, markers
//! such as the `L_train` line) or heatmaps (an embedded PNG with vector axes and a colour bar) —
//! from the same numbers it draws and exports as CSV. `Figure::to_svg` (in `svg.rs`) lays the
//! panels out in a grid under the title and caption.

use egui::Color32;

use super::Image;
use crate::theme::Colormap;

/// A figure: a title, a caption (the view's explanation) and panels.
#[derive(Clone, Debug, Default)]
pub struct Figure {
    pub title: String,
    pub caption: String,
    pub panels: Vec<Panel>,
}

/// One plot or heatmap with its axis labels.
#[derive(Clone, Debug)]
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub kind: PanelKind,
    /// Vertical marker lines (e.g. `L_train`), in x units.
    pub markers: Vec<Marker>,
}

#[derive(Clone, Debug)]
pub enum PanelKind {
    Plot {
        series: Vec<Series>,
        /// Fixed x range (else the data's and the markers').
        x_range: Option<(f64, f64)>,
        /// Fixed y range (else the data's, padded).
        y_range: Option<(f64, f64)>,
        log_x: bool,
    },
    /// Row 0 of `image` is drawn at the top and is `y_range.0`; columns span `x_range`.
    Heatmap {
        image: Image,
        x_range: (f64, f64),
        y_range: (f64, f64),
        colorbar: Option<ColorBar>,
    },
}

/// A line (optionally with point markers); non-finite points break the line.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub color: Color32,
    pub points: Vec<[f64; 2]>,
    pub dashed: bool,
    pub dots: bool,
    /// Draw the line (false: dots only, a scatter).
    pub line: bool,
}

#[derive(Clone, Debug)]
pub struct Marker {
    pub label: String,
    pub x: f64,
    pub color: Color32,
}

#[derive(Clone, Debug)]
pub struct ColorBar {
    pub label: String,
    pub min: f64,
    pub max: f64,
    pub colormap: Colormap,
}

impl Series {
    pub fn line(name: impl Into<String>, color: Color32, points: Vec<[f64; 2]>) -> Self {
        Self {
            name: name.into(),
            color,
            points,
            dashed: false,
            dots: false,
            line: true,
        }
    }

    pub fn scatter(name: impl Into<String>, color: Color32, points: Vec<[f64; 2]>) -> Self {
        Self {
            dots: true,
            line: false,
            ..Self::line(name, color, points)
        }
    }

    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

impl Panel {
    pub fn plot(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        series: Vec<Series>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            kind: PanelKind::Plot {
                series,
                x_range: None,
                y_range: None,
                log_x: false,
            },
            markers: Vec::new(),
        }
    }

    pub fn heatmap(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        image: Image,
        x_range: (f64, f64),
        y_range: (f64, f64),
        colorbar: Option<ColorBar>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            kind: PanelKind::Heatmap {
                image,
                x_range,
                y_range,
                colorbar,
            },
            markers: Vec::new(),
        }
    }

    pub fn with_marker(mut self, label: impl Into<String>, x: f64, color: Color32) -> Self {
        self.markers.push(Marker {
            label: label.into(),
            x,
            color,
        });
        self
    }

    pub fn with_y_range(mut self, lo: f64, hi: f64) -> Self {
        if let PanelKind::Plot { y_range, .. } = &mut self.kind {
            *y_range = Some((lo, hi));
        }
        self
    }

    pub fn with_x_range(mut self, lo: f64, hi: f64) -> Self {
        if let PanelKind::Plot { x_range, .. } = &mut self.kind {
            *x_range = Some((lo, hi));
        }
        self
    }

    pub fn with_log_x(mut self) -> Self {
        if let PanelKind::Plot { log_x, .. } = &mut self.kind {
            *log_x = true;
        }
        self
    }
}
