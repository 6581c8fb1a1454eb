//! The compact layout: an embedded view (`embed=1`, an iframe in a blog post) or a phone-sized
//! screen. One slim bar carries the title, the essential control (the view's length slider), a
//! drawer button for the full controls and, when embedded, an "open in PosLens" link to the full
//! app in the same state. The view keeps the rest of the screen.

use egui::{Align, Layout, RichText};

use super::PosLensApp;
use crate::widgets::log_slider::log_slider_ui;

/// Below this width (in points) the app switches to the compact layout.
pub const COMPACT_WIDTH_PT: f32 = 720.0;

/// Widest the controls drawer gets, as a share of the screen.
pub const DRAWER_SHARE: f32 = 0.88;

impl PosLensApp {
    /// Whether to lay out compactly this frame.
    pub(super) fn compact(&self, ctx: &egui::Context) -> bool {
        self.state.embed || ctx.content_rect().width() < COMPACT_WIDTH_PT
    }

    /// The full app's URL for the current state (the embed's "open in PosLens" link).
    pub(super) fn full_app_url(&self) -> Option<String> {
        let page = self.page_url.as_deref()?;
        let base = page.split('#').next().unwrap_or(page);
        let hash = crate::url_state::to_hash(&self.state).replace("&embed=1", "");
        Some(format!("{base}#{hash}"))
    }

    /// The controls drawer over the view, from the bar down to the bottom of the screen.
    pub(super) fn drawer_ui(&mut self, ctx: &egui::Context, top: f32) {
        let screen = ctx.content_rect();
        let width = (screen.width() * DRAWER_SHARE).min(crate::theme::SIDE_PANEL_WIDTH_PT);
        egui::Area::new(egui::Id::unique("controls_drawer"))
            .order(egui::Order::Foreground)
            .fixed_pos(egui::pos2(screen.left(), top))
            .show(ctx, |ui| {
                egui::Frame::side_top_panel(&ctx.global_style())
                    .shadow(ui.visuals().popup_shadow)
                    .show(ui, |ui| {
                        ui.set_width(width);
                        ui.set_height(screen.bottom() - top - 12.0);
                        self.controls_panel_ui(ui);
                    });
            });
    }

    /// The slim bar; returns the length slider's rectangle.
    pub(super) fn compact_bar_ui(&mut self, ui: &mut egui::Ui) -> egui::Rect {
        let theme = self.state.theme;
        ui.add_space(2.0);
        ui.horizontal(|ui| {
            let drawer = if self.drawer_open {
                "✕ Controls"
            } else {
                "☰ Controls"
            };
            let r = ui
                .selectable_label(self.drawer_open, drawer)
                .on_hover_text("Show or hide all the controls of this view");
            if r.clicked() {
                self.drawer_open = !self.drawer_open;
            }
            self.control_rects.insert("drawer".into(), r.rect);
            if self.state.embed {
                ui.label(
                    RichText::new(self.state.active().title())
                        .strong()
                        .color(theme.accent_text()),
                );
            } else {
                let mut chosen = self.state.active_index();
                let title = self.state.active().title();
                egui::ComboBox::from_id_salt("compact_views")
                    .selected_text(RichText::new(title).strong())
                    .show_ui(ui, |ui| {
                        for (i, v) in self.state.views().enumerate() {
                            ui.selectable_value(&mut chosen, i, v.title());
                        }
                    });
                self.state.set_view_index(chosen);
            }
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                if self.state.embed {
                    if let Some(url) = self.full_app_url() {
                        let r = ui
                            .link(RichText::new("Open in PosLens ↗").small())
                            .on_hover_text("The full app, in this state, in a new tab");
                        if r.clicked() {
                            ui.ctx().open_url(egui::OpenUrl::new_tab(url));
                        }
                        self.control_rects.insert("open_full".into(), r.rect);
                    }
                } else {
                    ui.label(RichText::new("PosLens").strong().color(theme.accent_text()));
                }
            });
        });
        let view = self.state.active_mut();
        let range = view.length_range();
        let rect = ui
            .horizontal(|ui| {
                // Big enough for a finger.
                ui.spacing_mut().interact_size.y = 30.0;
                ui.spacing_mut().slider_rail_height = 10.0;
                ui.label("N");
                ui.spacing_mut().slider_width = (ui.available_width() - 90.0).max(80.0);
                let r = log_slider_ui(ui, view.length_mut(), range, "");
                if r.changed() {
                    view.sanitize();
                }
                r.rect
            })
            .inner;
        ui.add_space(2.0);
        rect
    }
}
