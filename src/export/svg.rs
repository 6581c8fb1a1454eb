//! SVG writer for [`Figure`]s: axes, ticks, labels and legends are SVG text and paths, so the
//! file opens in a browser and edits in a vector editor (Inkscape, Illustrator); heatmaps are
//! embedded PNGs with a vector colour bar.

use std::fmt::Write as _;

use egui::Color32;

#[cfg(test)]
use super::Image;
use super::figure::{ColorBar, Figure, Panel, PanelKind, Series};
use super::{ExportError, encode_png};
#[cfg(test)]
use crate::theme::Colormap;

// Layout, in SVG user units (px).
const PANEL_W: f64 = 460.0;
const PANEL_H: f64 = 280.0;
const MARGIN_L: f64 = 64.0;
const MARGIN_R: f64 = 24.0;
const MARGIN_T: f64 = 30.0;
const MARGIN_B: f64 = 46.0;
const COLORBAR_W: f64 = 70.0;
const LEGEND_ROW: f64 = 16.0;
const FONT: &str = "Helvetica, Arial, sans-serif";
const INK: &str = "#222222";
const GRID: &str = "#dddddd";

fn hex(c: Color32) -> String {
    format!("#{:02x}{:02x}{:02x}", c.r(), c.g(), c.b())
}

/// Text content escaped for XML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// A number for an SVG attribute (finite, 2 decimals).
fn n(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Four to seven "nice" ticks (1, 2, 5 × 10^k) covering `lo..=hi`.
pub fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    // The smallest 1-2-5 step that gives at most seven ticks.
    let range = hi - lo;
    let mag = 10f64.powf((range / 7.0).log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| range / s <= 7.0 + 1e-9)
        .unwrap_or(100.0 * mag);
    let first = (lo / step).ceil() * step;
    (0..)
        .map(|i| first + i as f64 * step)
        .take_while(|v| *v <= hi + step * 1e-9)
        .take(20)
        .collect()
}

fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e6).contains(&a) {
        format!("{v:.0e}")
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Wrap `text` into lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn new(lo: f64, hi: f64, log: bool) -> Self {
        let (lo, hi) = if log {
            (lo.max(1e-12).log10(), hi.max(1e-12).log10())
        } else {
            (lo, hi)
        };
        let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 0.5, lo + 0.5) };
        Self { lo, hi, log }
    }

    /// 0…1 along the axis.
    fn frac(&self, v: f64) -> f64 {
        let v = if self.log { v.max(1e-12).log10() } else { v };
        (v - self.lo) / (self.hi - self.lo)
    }

    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.lo.floor() as i32, self.hi.ceil() as i32);
            (a..=b)
                .map(|e| 10f64.powi(e))
                .filter(|v| (self.frac(*v)) >= -1e-9 && self.frac(*v) <= 1.0 + 1e-9)
                .collect()
        } else {
            nice_ticks(self.lo, self.hi)
        }
    }
}

fn data_range(series: &[Series], axis: usize) -> Option<(f64, f64)> {
    let vals = series
        .iter()
        .flat_map(|s| s.points.iter().map(move |p| p[axis]))
        .filter(|v| v.is_finite());
    vals.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((a, b)) => Some((a.min(v), b.max(v))),
    })
}

impl Figure {
    /// The figure as a standalone SVG document.
    pub fn to_svg(&self) -> Result<String, ExportError> {
        let cols = self.panels.len().clamp(1, 2);
        let legend_rows = |p: &Panel| legend_layout(&legend_entries(p)).last().map_or(0.0, |e| e.1 + 1.0);
        let cell_w = PANEL_W + MARGIN_L + MARGIN_R + COLORBAR_W;
        let cell_h = |p: &Panel| PANEL_H + MARGIN_T + MARGIN_B + legend_rows(p) * LEGEND_ROW + 8.0;
        let caption = wrap(&self.caption, ((cols as f64 * cell_w - 24.0) / 6.8) as usize);
        let header = 40.0 + caption.len() as f64 * 16.0 + 8.0;
        let rows: Vec<f64> = self
            .panels
            .chunks(cols)
            .map(|row| row.iter().map(cell_h).fold(0.0, f64::max))
            .collect();
        let width = cols as f64 * cell_w + 16.0;
        let height = header + rows.iter().sum::<f64>() + 8.0;
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}" fill="{INK}">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="30" font-size="18" font-weight="bold">{title}</text>
"##,
            w = n(width),
            h = n(height),
            title = esc(&self.title)
        );
        for (i, line) in caption.iter().enumerate() {
            let _ = writeln!(
                svg,
                r##"<text x="16" y="{}" font-size="12" fill="#555555">{}</text>"##,
                n(52.0 + i as f64 * 16.0),
                esc(line)
            );
        }
        let mut y = header;
        for (r, row) in self.panels.chunks(cols).enumerate() {
            for (c, panel) in row.iter().enumerate() {
                let x0 = 8.0 + c as f64 * cell_w;
                panel_svg(&mut svg, panel, x0 + MARGIN_L, y + MARGIN_T, r * cols + c)?;
            }
            y += rows[r];
        }
        svg.push_str("</svg>\n");
        Ok(svg)
    }
}

/// One panel with its plot area's top-left corner at (`x`, `y`).
fn panel_svg(svg: &mut String, p: &Panel, x: f64, y: f64, index: usize) -> Result<(), ExportError> {
    let (w, h) = (PANEL_W, PANEL_H);
    let _ = writeln!(
        svg,
        r#"<g id="panel-{index}"><text x="{}" y="{}" font-size="13" font-weight="bold">{}</text>"#,
        n(x),
        n(y - 10.0),
        esc(&p.title)
    );
    let (xa, ya) = match &p.kind {
        PanelKind::Plot {
            series,
            x_range,
            y_range,
            log_x,
        } => {
            let (x_lo, x_hi) = x_range.unwrap_or_else(|| {
                let (a, b) = data_range(series, 0).unwrap_or((0.0, 1.0));
                p.markers.iter().fold((a, b), |(a, b), m| (a.min(m.x), b.max(m.x)))
            });
            let (y_lo, y_hi) = y_range.unwrap_or_else(|| {
                let (a, b) = data_range(series, 1).unwrap_or((0.0, 1.0));
                let pad = (b - a).abs().max(1e-9) * 0.05;
                (a - pad, b + pad)
            });
            (Axis::new(x_lo, x_hi, *log_x), Axis::new(y_lo, y_hi, false))
        }
        PanelKind::Heatmap { x_range, y_range, .. } => (
            Axis::new(x_range.0, x_range.1, false),
            Axis::new(y_range.0, y_range.1, false),
        ),
    };
    let px = |v: f64| x + xa.frac(v) * w;
    // Plots: y grows upwards; heatmaps: row 0 (y_range.0) at the top.
    let heat = matches!(p.kind, PanelKind::Heatmap { .. });
    let py = |v: f64| {
        if heat {
            y + ya.frac(v) * h
        } else {
            y + (1.0 - ya.frac(v)) * h
        }
    };
    // Grid and ticks.
    for t in xa.ticks() {
        let tx = px(t);
        if !heat {
            let _ = writeln!(
                svg,
                r#"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{GRID}" stroke-width="1"/>"#,
                n(tx),
                n(y),
                n(y + h)
            );
        }
        let _ = writeln!(
            svg,
            r#"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{INK}"/><text x="{0}" y="{3}" font-size="11" text-anchor="middle">{4}</text>"#,
            n(tx),
            n(y + h),
            n(y + h + 4.0),
            n(y + h + 16.0),
            esc(&tick_label(t))
        );
    }
    for t in ya.ticks() {
        let ty = py(t);
        if !heat {
            let _ = writeln!(
                svg,
                r#"<line x1="{1}" y1="{0}" x2="{2}" y2="{0}" stroke="{GRID}" stroke-width="1"/>"#,
                n(ty),
                n(x),
                n(x + w)
            );
        }
        let _ = writeln!(
            svg,
            r#"<line x1="{1}" y1="{0}" x2="{2}" y2="{0}" stroke="{INK}"/><text x="{3}" y="{4}" font-size="11" text-anchor="end">{5}</text>"#,
            n(ty),
            n(x - 4.0),
            n(x),
            n(x - 7.0),
            n(ty + 4.0),
            esc(&tick_label(t))
        );
    }
    // Axis labels.
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">{}</text>"#,
        n(x + w / 2.0),
        n(y + h + 34.0),
        esc(&p.x_label)
    );
    let _ = writeln!(
        svg,
        r#"<text transform="translate({},{}) rotate(-90)" font-size="12" text-anchor="middle">{}</text>"#,
        n(x - 46.0),
        n(y + h / 2.0),
        esc(&p.y_label)
    );
    match &p.kind {
        PanelKind::Plot { series, .. } => {
            let _ = writeln!(
                svg,
                r#"<clipPath id="clip-{index}"><rect x="{}" y="{}" width="{}" height="{}"/></clipPath>"#,
                n(x),
                n(y),
                n(w),
                n(h)
            );
            let _ = writeln!(svg, r#"<g clip-path="url(#clip-{index})">"#);
            for s in series {
                // Non-finite points split the line into runs.
                let mut runs: Vec<Vec<[f64; 2]>> = vec![Vec::new()];
                for pt in &s.points {
                    if pt[0].is_finite() && pt[1].is_finite() && (!xa.log || pt[0] > 0.0) {
                        if let Some(r) = runs.last_mut() {
                            r.push(*pt);
                        }
                    } else if runs.last().is_some_and(|r| !r.is_empty()) {
                        runs.push(Vec::new());
                    }
                }
                for run in runs.iter().filter(|r| !r.is_empty()) {
                    let pts: Vec<String> = run.iter().map(|p| format!("{},{}", n(px(p[0])), n(py(p[1])))).collect();
                    let dash = if s.dashed { r#" stroke-dasharray="6 4""# } else { "" };
                    if s.line {
                        let _ = writeln!(
                            svg,
                            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}><title>{}</title></polyline>"#,
                            pts.join(" "),
                            hex(s.color),
                            esc(&s.name)
                        );
                    }
                    if s.dots {
                        for p in run {
                            let _ = writeln!(
                                svg,
                                r#"<circle cx="{}" cy="{}" r="3" fill="{}"/>"#,
                                n(px(p[0])),
                                n(py(p[1])),
                                hex(s.color)
                            );
                        }
                    }
                }
            }
            svg.push_str("</g>\n");
        }
        PanelKind::Heatmap { image, colorbar, .. } => {
            let png = encode_png(image)?;
            let _ = writeln!(
                svg,
                r#"<image x="{}" y="{}" width="{}" height="{}" preserveAspectRatio="none" style="image-rendering:pixelated" xlink:href="data:image/png;base64,{}"/>"#,
                n(x),
                n(y),
                n(w),
                n(h),
                crate::packed::encode(&png)
            );
            if let Some(cb) = colorbar {
                colorbar_svg(svg, cb, x + w + 14.0, y, h, index);
            }
        }
    }
    // Frame, markers, legend.
    let _ = writeln!(
        svg,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="{INK}"/>"#,
        n(x),
        n(y),
        n(w),
        n(h)
    );
    for m in &p.markers {
        let mx = px(m.x);
        if (x - 0.5..=x + w + 0.5).contains(&mx) {
            let _ = writeln!(
                svg,
                r#"<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="{3}" stroke-width="1.5" stroke-dasharray="4 3"/>"#,
                n(mx),
                n(y),
                n(y + h),
                hex(m.color)
            );
        }
    }
    let entries = legend_entries(p);
    for ((name, color, dashed), (col_x, row)) in entries.iter().zip(legend_layout(&entries)) {
        let lx = x + col_x;
        let ly = y + h + MARGIN_B + row * LEGEND_ROW;
        let dash = if *dashed { r#" stroke-dasharray="4 3""# } else { "" };
        let _ = writeln!(
            svg,
            r#"<line x1="{x1}" y1="{ly}" x2="{x2}" y2="{ly}" stroke="{color}" stroke-width="2.5"{dash}/><text x="{tx}" y="{ty}" font-size="11">{name}</text>"#,
            x1 = n(lx),
            x2 = n(lx + 18.0),
            ly = n(ly),
            color = hex(*color),
            tx = n(lx + 22.0),
            ty = n(ly + 4.0),
            name = esc(name),
        );
    }
    svg.push_str("</g>\n");
    Ok(())
}

/// The legend's entries: the series, then the markers with their values.
fn legend_entries(p: &Panel) -> Vec<(String, Color32, bool)> {
    let mut entries: Vec<(String, Color32, bool)> = match &p.kind {
        PanelKind::Plot { series, .. } => series.iter().map(|s| (s.name.clone(), s.color, s.dashed)).collect(),
        PanelKind::Heatmap { .. } => Vec::new(),
    };
    entries.extend(
        p.markers
            .iter()
            .map(|m| (format!("{} = {}", m.label, tick_label(m.x)), m.color, true)),
    );
    entries
}

/// Flow layout of legend entries under the plot: `(x offset, row)` of each, wrapping at the
/// plot's width (text width estimated at 6.2 px per character of 11 px Helvetica).
fn legend_layout(entries: &[(String, Color32, bool)]) -> Vec<(f64, f64)> {
    let (mut x, mut row) = (0.0, 0.0);
    entries
        .iter()
        .map(|(name, _, _)| {
            let w = 22.0 + name.chars().count() as f64 * 6.2 + 14.0;
            if x > 0.0 && x + w > PANEL_W {
                x = 0.0;
                row += 1.0;
            }
            let at = (x, row);
            x += w;
            at
        })
        .collect()
}

fn colorbar_svg(svg: &mut String, cb: &ColorBar, x: f64, y: f64, h: f64, index: usize) {
    let _ = writeln!(svg, r#"<linearGradient id="cb-{index}" x1="0" y1="1" x2="0" y2="0">"#);
    for i in 0..=10 {
        let t = i as f32 / 10.0;
        let _ = writeln!(
            svg,
            r#"<stop offset="{}" stop-color="{}"/>"#,
            n(t as f64),
            hex(cb.colormap.eval(t))
        );
    }
    svg.push_str("</linearGradient>\n");
    let _ = writeln!(
        svg,
        r#"<rect x="{}" y="{}" width="12" height="{}" fill="url(#cb-{index})" stroke="{INK}"/>"#,
        n(x),
        n(y),
        n(h)
    );
    for (v, ty) in [(cb.max, y + 4.0), (cb.min, y + h)] {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" font-size="11">{}</text>"#,
            n(x + 16.0),
            n(ty),
            esc(&tick_label(v))
        );
    }
    let _ = writeln!(
        svg,
        r#"<text transform="translate({},{}) rotate(-90)" font-size="11" text-anchor="middle">{}</text>"#,
        n(x + 50.0),
        n(y + h / 2.0),
        esc(&cb.label)
    );
}

#[cfg(test)]
/// Well-formed XML with an `<svg>` root (what browsers and vector editors need).
pub(crate) fn assert_valid_svg(svg: &str) {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut root = None;
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(e)) => {
                if root.is_none() {
                    root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                }
                depth += 1;
            }
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed XML at {}: {e}", reader.buffer_position()),
        }
    }
    assert_eq!(root.as_deref(), Some("svg"));
    assert_eq!(depth, 0, "unbalanced elements");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure() -> Figure {
        let series = vec![
            Series::line(
                "RoPE <rotary> & co",
                Color32::RED,
                vec![[1.0, 0.5], [2.0, f64::NAN], [4.0, 1.0], [8.0, 0.25]],
            ),
            Series {
                dashed: true,
                dots: true,
                ..Series::line("ALiBi", Color32::BLUE, vec![[1.0, 0.0], [8.0, 1.0]])
            },
        ];
        let image = Image {
            width: 2,
            height: 2,
            rgba: vec![255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 255, 255, 255, 255],
        };
        Figure {
            title: "A \"test\" figure".into(),
            caption: "Two panels: a plot and a heatmap. ".repeat(8),
            panels: vec![
                Panel::plot("plot", "N (tokens)", "exact match", series).with_marker("L_train", 4.0, Color32::GOLD),
                Panel::heatmap(
                    "map",
                    "key n",
                    "query m",
                    image,
                    (0.0, 2.0),
                    (0.0, 2.0),
                    Some(ColorBar {
                        label: "weight".into(),
                        min: 0.0,
                        max: 1.0,
                        colormap: Colormap::Viridis,
                    }),
                ),
            ],
        }
    }

    #[test]
    fn figures_are_well_formed_svg_with_vector_axes_and_legends() {
        let svg = figure().to_svg().expect("svg");
        assert_valid_svg(&svg);
        assert!(svg.contains("RoPE &lt;rotary&gt; &amp; co") && svg.contains("A &quot;test&quot; figure"));
        assert!(
            svg.contains("<polyline") && svg.contains("stroke-dasharray"),
            "vector lines"
        );
        assert_eq!(
            svg.matches("<polyline").count(),
            3,
            "the NaN point splits RoPE's line in two"
        );
        assert!(
            svg.contains(">exact match</text>") && svg.contains(">L_train = 4</text>"),
            "vector labels"
        );
        assert!(
            svg.contains("data:image/png;base64,iVBORw0KGgo"),
            "the heatmap is an embedded PNG"
        );
        assert!(svg.contains("<linearGradient"), "colour bar");
    }

    #[test]
    fn ticks_are_nice_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(nice_ticks(0.0, 256.0), vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]);
        assert_eq!(nice_ticks(3.0, 3.0), vec![3.0]);
        assert_eq!(tick_label(0.6000000000000001), "0.6");
        assert_eq!(tick_label(1e-5), "1e-5");
        assert!(Axis::new(1.0, 4096.0, true).ticks().len() >= 3);
    }
}
