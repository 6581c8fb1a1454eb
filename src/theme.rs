//! Design tokens: every colour and spacing constant PosLens uses lives here and nowhere else.
//!
//! Colormaps come from the maintained `colorous` crate (d3-scale-chromatic ports):
//! *viridis* (perceptually uniform, colour-blind safe) for non-negative quantities such as
//! attention weights, and the diverging *RdBu* (blue = negative, red = positive, safe for the
//! common red–green deficiencies) for signed quantities such as encoding values and logits.

use egui::{Color32, Visuals};
use serde::{Deserialize, Serialize};

/// Light, dark or high-contrast (projector) theme, part of the serialised app state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThemeChoice {
    #[default]
    Dark,
    Light,
    /// Presenter mode: pure black, white text, saturated accents, heavier strokes; every text
    /// token meets WCAG AAA (7:1) so it survives a washed-out projector.
    Contrast,
}

impl ThemeChoice {
    pub fn visuals(self) -> Visuals {
        let mut visuals = match self {
            Self::Dark | Self::Contrast => Visuals::dark(),
            Self::Light => Visuals::light(),
        };
        visuals.selection.bg_fill = self.accent();
        visuals.hyperlink_color = self.accent_text();
        match self {
            Self::Dark => {
                visuals.panel_fill = Color32::from_rgb(0x16, 0x18, 0x1d);
                visuals.window_fill = Color32::from_rgb(0x1c, 0x1f, 0x26);
                visuals.extreme_bg_color = Color32::from_rgb(0x0f, 0x11, 0x15);
            }
            Self::Light => {
                visuals.panel_fill = Color32::from_rgb(0xf6, 0xf6, 0xf3);
                visuals.extreme_bg_color = Color32::WHITE;
            }
            Self::Contrast => {
                visuals.panel_fill = Color32::BLACK;
                visuals.window_fill = Color32::BLACK;
                visuals.extreme_bg_color = Color32::BLACK;
                visuals.faint_bg_color = Color32::from_gray(0x1a);
                visuals.selection.stroke = egui::Stroke::new(2.0, Color32::BLACK);
                for w in [
                    &mut visuals.widgets.noninteractive,
                    &mut visuals.widgets.inactive,
                    &mut visuals.widgets.hovered,
                    &mut visuals.widgets.active,
                    &mut visuals.widgets.open,
                ] {
                    w.fg_stroke = egui::Stroke::new(w.fg_stroke.width.max(1.5), Color32::WHITE);
                    w.bg_stroke = egui::Stroke::new(w.bg_stroke.width.max(1.0), Color32::from_gray(0xc8));
                }
                visuals.widgets.inactive.weak_bg_fill = Color32::from_gray(0x24);
                visuals.widgets.inactive.bg_fill = Color32::from_gray(0x24);
                visuals.window_stroke = egui::Stroke::new(1.5, Color32::WHITE);
            }
        }
        visuals
    }

    /// Apply to a context: fixes egui's theme (overriding the OS preference) and its visuals.
    pub fn apply(self, ctx: &egui::Context) {
        let theme = match self {
            Self::Dark | Self::Contrast => egui::Theme::Dark,
            Self::Light => egui::Theme::Light,
        };
        ctx.set_theme(theme);
        ctx.set_visuals_of(theme, self.visuals());
    }

    /// Every theme, in menu order, with its link key (`theme=`) and label.
    pub const ALL: [Self; 3] = [Self::Dark, Self::Light, Self::Contrast];

    pub fn key(self) -> &'static str {
        match self {
            Self::Dark => "dark",
            Self::Light => "light",
            Self::Contrast => "contrast",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Dark => "Dark",
            Self::Light => "Light",
            Self::Contrast => "High contrast (projector)",
        }
    }

    /// Brand accent (selection fill).
    pub fn accent(self) -> Color32 {
        match self {
            Self::Dark => Color32::from_rgb(0x3b, 0x6e, 0xa8),
            Self::Light => Color32::from_rgb(0x9c, 0xc3, 0xea),
            Self::Contrast => Color32::from_rgb(0xff, 0xd4, 0x00),
        }
    }

    /// Accent used for text and links; readable on the panel fill.
    pub fn accent_text(self) -> Color32 {
        match self {
            Self::Dark => Color32::from_rgb(0x7f, 0xb8, 0xf0),
            Self::Light => Color32::from_rgb(0x1f, 0x5a, 0x96),
            Self::Contrast => Color32::from_rgb(0xff, 0xd4, 0x00),
        }
    }

    /// Secondary, explanatory text.
    pub fn weak_text(self) -> Color32 {
        match self {
            Self::Dark => Color32::from_gray(0xa8),
            Self::Light => Color32::from_gray(0x55),
            Self::Contrast => Color32::from_gray(0xdc),
        }
    }

    pub fn ok(self) -> Color32 {
        match self {
            Self::Dark => Color32::from_rgb(0x6c, 0xc6, 0x8a),
            Self::Light => Color32::from_rgb(0x1d, 0x7a, 0x3c),
            Self::Contrast => Color32::from_rgb(0x5c, 0xf0, 0x8c),
        }
    }

    pub fn warn(self) -> Color32 {
        match self {
            Self::Dark => Color32::from_rgb(0xf0, 0xb4, 0x5a),
            Self::Light => Color32::from_rgb(0x9a, 0x5b, 0x00),
            Self::Contrast => Color32::from_rgb(0xff, 0xb0, 0x30),
        }
    }

    pub fn error(self) -> Color32 {
        match self {
            Self::Dark => Color32::from_rgb(0xf2, 0x7a, 0x7a),
            Self::Light => Color32::from_rgb(0xb0, 0x1c, 0x1c),
            Self::Contrast => Color32::from_rgb(0xff, 0x8a, 0x8a),
        }
    }
}

/// Okabe–Ito colour-blind-safe palette (without black), for one line per scheme in plots.
const SERIES: [Color32; 8] = [
    Color32::from_rgb(0xe6, 0x9f, 0x00), // orange
    Color32::from_rgb(0x56, 0xb4, 0xe9), // sky blue
    Color32::from_rgb(0x00, 0x9e, 0x73), // bluish green
    Color32::from_rgb(0xf0, 0xe4, 0x42), // yellow
    Color32::from_rgb(0x00, 0x72, 0xb2), // blue
    Color32::from_rgb(0xd5, 0x5e, 0x00), // vermillion
    Color32::from_rgb(0xcc, 0x79, 0xa7), // reddish purple
    Color32::from_rgb(0x99, 0x99, 0x99), // grey
];

/// Colour of data series `i` (wraps around after eight).
pub fn series_color(i: usize) -> Color32 {
    SERIES[i % SERIES.len()]
}

/// The one colour of each positional-encoding scheme, the same in every plot (Position bias,
/// Model lab). Exhaustive: a new scheme does not compile until it has a colour.
pub fn scheme_color(kind: crate::pe::SchemeKind) -> Color32 {
    use crate::pe::SchemeKind;
    SERIES[match kind {
        SchemeKind::Nope => 0,       // orange
        SchemeKind::T5 => 1,         // sky blue
        SchemeKind::Sinusoidal => 2, // bluish green
        SchemeKind::Learned => 3,    // yellow
        SchemeKind::Alibi => 4,      // blue
        SchemeKind::Xpos => 5,       // vermillion
        SchemeKind::Rope => 6,       // reddish purple
        SchemeKind::Kerple => 7,     // grey
    }]
}

/// The colour of each kind of segment in the Positions view (id strip, legend).
pub fn segment_color(kind: crate::pe::position_ids::SegmentKind) -> Color32 {
    use crate::pe::position_ids::SegmentKind;
    match kind {
        SegmentKind::Text => SERIES[7],      // grey
        SegmentKind::Image => SERIES[0],     // orange
        SegmentKind::Document => SERIES[4],  // blue
        SegmentKind::Candidate => SERIES[2], // bluish green
    }
}

/// Outline of the hovered heatmap cell (drawn over any colormap).
pub const HOVER_MARKER: Color32 = Color32::WHITE;
/// Masked (hidden) cells in exported images.
pub const MASKED_EXPORT: Color32 = Color32::WHITE;
/// The veil over the window while files are dragged over it, and its text.
pub const DROP_SCRIM: Color32 = Color32::from_black_alpha(170);
pub const DROP_TEXT: Color32 = Color32::WHITE;

/// Width of the left control panel, in points.
pub const SIDE_PANEL_WIDTH_PT: f32 = 300.0;
/// Width of a colour bar, in points.
pub const COLORBAR_WIDTH_PT: f32 = 14.0;
/// Space reserved for axis labels around a heatmap, in points.
pub const AXIS_MARGIN_PT: f32 = 44.0;

/// A colormap from `colorous`, mapping `t ∈ [0, 1]` to a colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Colormap {
    /// Sequential, perceptually uniform: for weights in `[0, 1]`.
    Viridis,
    /// Sequential, perceptually uniform, darker low end.
    Magma,
    /// Diverging blue–white–red: for signed values centred on zero.
    RdBu,
}

impl Colormap {
    /// Colour at `t` (clamped to `[0, 1]`; NaN maps to the low end).
    pub fn eval(self, t: f32) -> Color32 {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) } as f64;
        let c = match self {
            Self::Viridis => colorous::VIRIDIS.eval_continuous(t),
            Self::Magma => colorous::MAGMA.eval_continuous(t),
            // colorous' RdBu runs red → blue; flip so that positive values are red.
            Self::RdBu => colorous::RED_BLUE.eval_continuous(1.0 - t),
        };
        Color32::from_rgb(c.r, c.g, c.b)
    }

    /// A 256-entry lookup table, so that per-cell colouring is an index, not a spline evaluation.
    pub fn lut(self) -> [Color32; 256] {
        std::array::from_fn(|i| self.eval(i as f32 / 255.0))
    }
}

/// Honour `prefers-reduced-motion`: egui's own animations off (animation time 0), which views
/// read back through [`reduced_motion`] to stop theirs (the RoPE view's play button).
pub fn set_reduced_motion(ctx: &egui::Context) {
    ctx.all_styles_mut(|s| s.animation_time = 0.0);
}

/// Whether the reader asked for reduced motion (see [`set_reduced_motion`]).
pub fn reduced_motion(ctx: &egui::Context) -> bool {
    ctx.global_style().animation_time == 0.0
}

/// WCAG 2.1 contrast ratio of two colours (1 … 21); AA asks ≥ 4.5 for body text.
pub fn contrast_ratio(a: Color32, b: Color32) -> f64 {
    fn luminance(c: Color32) -> f64 {
        let lin = |v: u8| {
            let v = v as f64 / 255.0;
            if v <= 0.040_45 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_token_meets_wcag_aa_on_every_background_in_every_theme() {
        assert!((contrast_ratio(Color32::BLACK, Color32::WHITE) - 21.0).abs() < 1e-9);
        for theme in ThemeChoice::ALL {
            // The projector theme aims higher: WCAG AAA.
            let target = if theme == ThemeChoice::Contrast { 7.0 } else { 4.5 };
            let v = theme.visuals();
            let texts = [
                ("body text", v.text_color()),
                ("weak text", theme.weak_text()),
                ("accent text", theme.accent_text()),
                ("ok", theme.ok()),
                ("warn", theme.warn()),
                ("error", theme.error()),
                ("link", v.hyperlink_color),
            ];
            for (bg_name, bg) in [
                ("panel", v.panel_fill),
                ("window", v.window_fill),
                ("extreme", v.extreme_bg_color),
            ] {
                for (name, fg) in texts {
                    let r = contrast_ratio(fg, bg);
                    assert!(
                        r >= target,
                        "{theme:?}: {name} {fg:?} on {bg_name} {bg:?} has contrast {r:.2} < {target}"
                    );
                }
            }
        }
    }

    #[test]
    fn rdbu_is_blue_for_negative_and_red_for_positive() {
        let low = Colormap::RdBu.eval(0.0);
        let high = Colormap::RdBu.eval(1.0);
        assert!(low.b() > low.r(), "low end should be blue, got {low:?}");
        assert!(high.r() > high.b(), "high end should be red, got {high:?}");
    }

    #[test]
    fn viridis_gets_brighter() {
        let lum = |c: Color32| 0.2126 * c.r() as f32 + 0.7152 * c.g() as f32 + 0.0722 * c.b() as f32;
        let lut = Colormap::Viridis.lut();
        assert!(lut.windows(32).all(|w| lum(w[31]) > lum(w[0])));
    }

    #[test]
    fn nan_and_out_of_range_inputs_are_clamped() {
        assert_eq!(Colormap::Magma.eval(f32::NAN), Colormap::Magma.eval(0.0));
        assert_eq!(Colormap::Magma.eval(7.0), Colormap::Magma.eval(1.0));
    }
}
