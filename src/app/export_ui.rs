//! The side panel's export buttons (PNG, CSV, JSON of the active view) and the PNG screenshot
//! that completes a frame later.

use super::*;

impl PosLensApp {
    /// Export buttons: PNG of the view (a screenshot of the central area), CSV and JSON of its data
    /// (the same numbers as `poslens export`).
    pub(super) fn export_ui(&mut self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Export this view").strong());
        ui.horizontal(|ui| {
            let name = format!("poslens-{}", self.state.active().key());
            let png = ui.button("PNG").on_hover_text("Image of the view as shown");
            self.control_rects.insert("export_png".into(), png.rect);
            if png.clicked() && self.pending_png.is_none() {
                let slot: ScreenshotSlot = Default::default();
                let sink = slot.clone();
                let ctx = ui.ctx().clone();
                ui.ctx().request_screenshot(move |image| {
                    if let Ok(mut s) = sink.lock() {
                        *s = Some(image);
                    }
                    ctx.request_repaint();
                });
                self.pending_png = Some((self.central_rect, slot));
            }
            for (label, ext, mime, hover) in [
                (
                    "SVG",
                    "svg",
                    "image/svg+xml",
                    "The view's plots and maps as a vector figure",
                ),
                ("CSV", "csv", "text/csv", "The view's numbers as CSV"),
                ("JSON", "json", "application/json", "The view's numbers as JSON"),
            ] {
                let button = ui.button(label).on_hover_text(hover);
                self.control_rects.insert(format!("export_{ext}"), button.rect);
                if button.clicked() {
                    let format = match ext {
                        "svg" => crate::export::Format::Svg,
                        "csv" => crate::export::Format::Csv,
                        _ => crate::export::Format::Json,
                    };
                    let result = crate::url_state::export_active(&self.state)
                        .and_then(|e| e.bytes(format))
                        .map_err(|e| e.to_string())
                        .and_then(|bytes| crate::download::save(&format!("{name}.{ext}"), mime, &bytes));
                    self.export_note = Some(result);
                }
            }
        });
        let theme = self.state.theme;
        match &self.export_note {
            Some(Ok(msg)) => ui.label(RichText::new(msg).small().color(theme.ok())),
            Some(Err(e)) => ui.label(RichText::new(e).small().color(theme.error())),
            None => ui.label(
                RichText::new("CLI: poslens export --state '<link hash>' --out fig.svg")
                    .small()
                    .color(theme.weak_text()),
            ),
        };
    }

    /// Save a screenshot that arrived for the PNG export.
    pub(super) fn finish_png_export(&mut self, ctx: &egui::Context) {
        let Some((rect, slot)) = &self.pending_png else { return };
        let image = slot.lock().ok().and_then(|mut s| s.take());
        let Some(image) = image else { return };
        let crop = if rect.is_positive() {
            image.region(rect, Some(ctx.pixels_per_point()))
        } else {
            (*image).clone()
        };
        let rgba: Vec<u8> = crop.pixels.iter().flat_map(|c| c.to_array()).collect();
        let img = crate::export::Image {
            width: crop.size[0],
            height: crop.size[1],
            rgba,
        };
        let name = format!("poslens-{}.png", self.state.active().key());
        self.export_note = Some(
            crate::export::encode_png(&img)
                .map_err(|e| e.to_string())
                .and_then(|bytes| crate::download::save(&name, "image/png", &bytes)),
        );
        self.pending_png = None;
    }
}
