//! The guided tour (`crate::tour`) in the app: a panel under the view with the step's title,
//! narrative and one thing to try, Back / Next buttons, a progress strip, and keys (Page Down /
//! `N` next, Page Up / `P` back, Escape ends). Each step applies its state as a link would; the
//! step is in the URL (`tour=intro&step=3`). Tours opened from a local file work the same way
//! but cannot travel in a link.

use egui::{RichText, Ui};

use super::PosLensApp;
use crate::file_open::PickedFile;
use crate::state::TourPos;
use crate::tour::Tour;

/// The `status().tour` read-out.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TourStatus {
    pub name: String,
    pub title: String,
    /// 1-based.
    pub step: usize,
    pub steps: usize,
    pub step_title: String,
    pub custom: bool,
}

impl PosLensApp {
    /// The tour the state names (a shipped one, or the one opened from a file).
    pub(super) fn current_tour(&self) -> Option<(&TourPos, &Tour)> {
        let pos = self.state.tour.as_ref()?;
        let tour = if pos.custom {
            self.custom_tour.as_ref().filter(|t| t.name == pos.name)?
        } else {
            self.tours.iter().find(|t| t.name == pos.name)?
        };
        Some((pos, tour))
    }

    pub(super) fn tour_status(&self) -> Option<TourStatus> {
        let (pos, tour) = self.current_tour()?;
        Some(TourStatus {
            name: tour.name.clone(),
            title: tour.title.clone(),
            step: pos.step,
            steps: tour.steps.len(),
            step_title: tour
                .steps
                .get(pos.step - 1)
                .map(|s| s.title.clone())
                .unwrap_or_default(),
            custom: pos.custom,
        })
    }

    /// Start a shipped tour (`custom` = false) or the opened file's at step 1.
    pub(super) fn start_tour(&mut self, ctx: &egui::Context, name: &str, custom: bool) {
        self.state.tour = Some(TourPos {
            name: name.to_owned(),
            step: 1,
            custom,
        });
        self.go_to_step(ctx, 1);
    }

    /// Show step `step` (1-based, clamped): its state is applied as a link would be.
    pub(super) fn go_to_step(&mut self, ctx: &egui::Context, step: usize) {
        let Some((pos, tour)) = self.current_tour() else {
            self.state.tour = None;
            return;
        };
        let step = step.clamp(1, tour.steps.len());
        let state = tour.steps[step - 1].state.clone();
        let pos = TourPos { step, ..pos.clone() };
        // The presenter's theme, scale and embed mode carry over unless the step sets them.
        let (theme, scale, embed) = (self.state.theme, self.state.scale, self.state.embed);
        self.apply_hash(ctx, &state);
        let sets = |key: &str| state.split('&').any(|kv| kv.starts_with(key));
        if !sets("theme=") && self.state.theme != theme {
            self.state.theme = theme;
            theme.apply(ctx);
        }
        if !sets("scale=") {
            self.state.scale = scale;
        }
        if !sets("embed=") {
            self.state.embed = embed;
        }
        self.state.tour = Some(pos);
    }

    /// Page Down / N: next step; Page Up / P: back; Escape: end the tour.
    pub(super) fn tour_keys(&mut self, ctx: &egui::Context) {
        let Some((pos, _)) = self.current_tour() else { return };
        let step = pos.step;
        if ctx.memory(|m| m.focused().is_some()) {
            return;
        }
        let (next, back, end) = ctx.input(|i| {
            (
                i.key_pressed(egui::Key::PageDown) || i.key_pressed(egui::Key::N),
                i.key_pressed(egui::Key::PageUp) || i.key_pressed(egui::Key::P),
                i.key_pressed(egui::Key::Escape),
            )
        });
        if next {
            self.go_to_step(ctx, step + 1);
        } else if back && step > 1 {
            self.go_to_step(ctx, step - 1);
        } else if end {
            self.state.tour = None;
        }
    }

    /// The tour panel (under the view); nothing when no tour is followed.
    pub(super) fn tour_panel_ui(&mut self, ui: &mut Ui) {
        let Some((pos, tour)) = self.current_tour() else { return };
        let theme = self.state.theme;
        let (step, steps) = (pos.step, tour.steps.len());
        let s = tour.steps[step - 1].clone();
        let title = tour.title.clone();
        let mut go: Option<usize> = None;
        let mut end = false;
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("{step}. {}", s.title)).strong().size(17.0));
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("✕").on_hover_text("End the tour (Esc)").clicked() {
                    end = true;
                }
                let next = ui
                    .add_enabled(step < steps, egui::Button::new(RichText::new("Next ›").strong()))
                    .on_hover_text("Next step (Page Down or N)");
                self.control_rects.insert("tour_next".into(), next.rect);
                if next.clicked() {
                    go = Some(step + 1);
                }
                let back = ui
                    .add_enabled(step > 1, egui::Button::new("‹ Back"))
                    .on_hover_text("Previous step (Page Up or P)");
                if back.clicked() {
                    go = Some(step - 1);
                }
                ui.label(RichText::new(format!("{step} / {steps}")).color(theme.weak_text()));
                // The progress strip: one dot per step, the current one filled; click to jump.
                for i in (1..=steps).rev() {
                    let dot = if i == step { "●" } else { "○" };
                    let color = if i <= step {
                        theme.accent_text()
                    } else {
                        theme.weak_text()
                    };
                    let r = ui.add(egui::Label::new(RichText::new(dot).color(color)).sense(egui::Sense::click()));
                    if r.on_hover_text(format!("step {i}")).clicked() {
                        go = Some(i);
                    }
                }
            });
        });
        ui.label(&s.text);
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(format!("Try: {}", s.try_this)).color(theme.accent_text()));
            ui.label(
                RichText::new(format!("· tour: {title}"))
                    .small()
                    .color(theme.weak_text()),
            );
        });
        ui.add_space(4.0);
        if end {
            self.state.tour = None;
        } else if let Some(i) = go {
            let ctx = ui.ctx().clone();
            self.go_to_step(&ctx, i);
        }
    }

    /// Read a tour file the reader opened: check it, check every step's state, and start it.
    pub(super) fn open_tour_file(&mut self, ctx: &egui::Context, file: PickedFile) {
        let result = file
            .bytes
            .and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8 text".to_owned()))
            .and_then(|t| Tour::from_json(&t))
            .and_then(|t| check_states(&t).map(|()| t));
        match result {
            Ok(tour) => {
                let name = tour.name.clone();
                self.custom_tour = Some(tour);
                self.notice = None;
                self.start_tour(ctx, &name, true);
            }
            Err(e) => self.notice = Some(format!("{}: {e}", file.name)),
        }
    }

    /// The tour menu of the top bar: the shipped tours and "open a tour file".
    pub(super) fn tour_menu_ui(&mut self, ui: &mut Ui) {
        let label = if self.state.tour.is_some() {
            "Tour ▾"
        } else {
            "▶ Tour"
        };
        let menu = ui.menu_button(label, |ui| {
            let tours: Vec<(String, String)> = self.tours.iter().map(|t| (t.name.clone(), t.title.clone())).collect();
            for (name, title) in tours {
                if ui.button(format!("Start: {title}")).clicked() {
                    let ctx = ui.ctx().clone();
                    self.start_tour(&ctx, &name, false);
                    ui.close();
                }
            }
            if crate::file_open::HAS_PICKER
                && ui
                    .button("Open a tour file…")
                    .on_hover_text("A .json tour in the format of assets/tours/intro.json (see the README)")
                    .clicked()
            {
                match crate::file_open::pick(ui.ctx(), ".json") {
                    Ok(inbox) => self.tour_inbox = Some(inbox),
                    Err(e) => self.notice = Some(e),
                }
                ui.close();
            }
            if self.state.tour.is_some() && ui.button("End the tour").clicked() {
                self.state.tour = None;
                ui.close();
            }
        });
        self.control_rects.insert("tour_menu".into(), menu.response.rect);
    }

    /// A picked tour file, once read.
    pub(super) fn poll_tour_inbox(&mut self, ctx: &egui::Context) {
        let files = self.tour_inbox.as_ref().and_then(|i| i.borrow_mut().take());
        if let Some(mut files) = files {
            self.tour_inbox = None;
            if let Some(f) = files.pop() {
                self.open_tour_file(ctx, f);
            }
        }
    }
}

/// Every step's state must read as a link without notes.
pub fn check_states(tour: &Tour) -> Result<(), String> {
    for (i, s) in tour.steps.iter().enumerate() {
        let (_, notes) = crate::url_state::from_hash(&s.state);
        if let Some(n) = notes.first() {
            return Err(format!("step {}: state {:?}: {n}", i + 1, s.state));
        }
    }
    Ok(())
}

/// Whether a file looks like a tour (a JSON object with `steps`), so that the app opens it as
/// one instead of handing it to a view.
pub fn looks_like_tour(file: &PickedFile) -> bool {
    file.name.to_ascii_lowercase().ends_with(".json")
        && file.bytes.as_ref().is_ok_and(|b| {
            serde_json::from_slice::<serde_json::Value>(b).is_ok_and(|v| v.get("steps").is_some_and(|s| s.is_array()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::client::ComputeClient;
    use crate::status::RenderBackend;

    fn app(hash: &str) -> (PosLensApp, egui::Context) {
        let (state, notes) = crate::url_state::from_hash(hash);
        let app = PosLensApp::from_parts(state, notes, ComputeClient::off(), RenderBackend::default());
        (app, egui::Context::default())
    }

    /// One frame with `keys` pressed.
    fn frame(app: &mut PosLensApp, ctx: &egui::Context, keys: &[egui::Key]) {
        let events = keys
            .iter()
            .map(|&key| egui::Event::Key {
                key,
                physical_key: None,
                pressed: true,
                repeat: false,
                modifiers: egui::Modifiers::NONE,
            })
            .collect();
        let input = egui::RawInput {
            events,
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0))),
            ..Default::default()
        };
        let mut out = ctx.run_ui(input, |ui| {
            app.frame_ui(ui);
        });
        out.textures_delta.clear();
    }

    #[test]
    fn every_shipped_step_opens_cleanly_and_names_a_paper() {
        for name in crate::tour::builtin_names() {
            let tour = crate::tour::builtin(name).expect("ships");
            check_states(&tour).expect("every step's state reads without notes");
            let papers = tour
                .steps
                .iter()
                .filter(|s| s.text.contains("20") || s.text.contains("19"))
                .count();
            assert!(papers * 2 >= tour.steps.len(), "most steps cite their paper");
        }
    }

    #[test]
    fn a_tour_link_opens_its_step_and_the_keys_walk_the_tour() {
        let (mut app, ctx) = app("tour=intro&step=3");
        let tour = crate::tour::builtin("intro").expect("ships");
        let t = app.tour_status().expect("a tour is followed");
        assert_eq!((t.name.as_str(), t.step, t.steps), ("intro", 3, tour.steps.len()));
        let (expected, _) = crate::url_state::from_hash(&tour.steps[2].state);
        assert_eq!(app.state.active().key(), expected.active().key());
        assert_eq!(app.state.active().length(), expected.active().length());
        // The link the app writes carries the step and reopens the same state.
        let link = app.hash();
        assert!(link.contains("&tour=intro&step=3"), "{link}");
        let (again, notes) = crate::url_state::from_hash(&link);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(again, app.state);
        // Page Down / N forward, Page Up / P back, Escape ends.
        frame(&mut app, &ctx, &[egui::Key::PageDown]);
        assert_eq!(app.tour_status().map(|t| t.step), Some(4));
        let (expected, _) = crate::url_state::from_hash(&tour.steps[3].state);
        assert_eq!(app.state.active().key(), expected.active().key());
        frame(&mut app, &ctx, &[egui::Key::N]);
        frame(&mut app, &ctx, &[egui::Key::P]);
        frame(&mut app, &ctx, &[egui::Key::PageUp]);
        assert_eq!(app.tour_status().map(|t| t.step), Some(3));
        for _ in 0..20 {
            frame(&mut app, &ctx, &[egui::Key::PageDown]);
        }
        assert_eq!(
            app.tour_status().map(|t| t.step),
            Some(tour.steps.len()),
            "stops at the end"
        );
        // Presenting: theme and scale survive the steps.
        app.state.theme = crate::theme::ThemeChoice::Contrast;
        app.state.scale = 1.5;
        frame(&mut app, &ctx, &[egui::Key::PageUp]);
        assert_eq!(
            (app.state.theme, app.state.scale),
            (crate::theme::ThemeChoice::Contrast, 1.5)
        );
        assert!(app.hash().contains("theme=contrast&scale=1.5"), "{}", app.hash());
        frame(&mut app, &ctx, &[egui::Key::Escape]);
        assert!(app.tour_status().is_none() && !app.hash().contains("tour="));
    }

    #[test]
    fn bad_tour_links_are_noted_and_clamped() {
        let (s, notes) = crate::url_state::from_hash("tour=intro&step=99");
        assert_eq!(s.tour.as_ref().map(|t| t.step), Some(10));
        assert!(notes.iter().any(|n| n.contains("step=99")), "{notes:?}");
        let (s, notes) = crate::url_state::from_hash("view=rope&tour=bogus&step=2");
        assert!(s.tour.is_none());
        assert!(notes.iter().any(|n| n.contains("bogus")), "{notes:?}");
        let (_, notes) = crate::url_state::from_hash("view=rope&step=2");
        assert!(notes.iter().any(|n| n.contains("without tour")), "{notes:?}");
        let (s, notes) = crate::url_state::from_hash("view=rope&scale=9&theme=contrast");
        assert_eq!((s.scale, s.theme), (3.0, crate::theme::ThemeChoice::Contrast));
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn a_tour_file_opens_or_says_why_not() {
        let (mut app, ctx) = app("view=attention");
        let file = |text: &str| PickedFile {
            name: "lecture.json".into(),
            bytes: Ok(text.as_bytes().to_vec()),
        };
        let good = r#"{"format": 1, "name": "lecture", "title": "My lecture", "steps": [
            {"title": "ALiBi", "state": "view=attention&scheme=alibi&len=512", "text": "Press et al. 2022.", "try": "Drag N."},
            {"title": "RoPE", "state": "view=rope&len=300", "text": "Su et al. 2021.", "try": "Press play."}]}"#;
        assert!(looks_like_tour(&file(good)));
        app.open_tour_file(&ctx, file(good));
        let t = app.tour_status().expect("started");
        assert_eq!((t.name.as_str(), t.step, t.steps, t.custom), ("lecture", 1, 2, true));
        assert_eq!(app.state.active().length(), 512);
        assert!(!app.hash().contains("tour="), "a local tour is not written into links");
        app.go_to_step(&ctx, 2);
        assert_eq!(app.state.active().key(), "rope");
        // A step whose state a link would adjust is refused, with the step named.
        let bad = good.replace("len=300", "len=abc");
        app.open_tour_file(&ctx, file(&bad));
        assert!(
            app.notice.as_deref().is_some_and(|n| n.contains("step 2")),
            "{:?}",
            app.notice
        );
        app.open_tour_file(&ctx, file("{\"steps\": [], \"format\": 1}"));
        assert!(
            app.notice.as_deref().is_some_and(|n| n.contains("lecture.json")),
            "{:?}",
            app.notice
        );
        // Model metadata (with a numeric "steps") is not a tour.
        let meta = std::fs::read(crate::assets::models_dir().join("copy-rope.json")).unwrap_or_default();
        assert!(!looks_like_tour(&PickedFile {
            name: "copy-rope.json".into(),
            bytes: Ok(meta)
        }));
    }
}
