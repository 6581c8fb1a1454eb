//! Files the reader gives the app: dropped onto the window (routed to the first view that opens
//! them, which is then shown) or handed from one view to another (`View::take_outbox`).

use super::PosLensApp;

impl PosLensApp {
    /// Files dropped onto the window go to the first view that opens them (the app switches to
    /// it once they are read); while files hover over the window, say where they will go.
    pub(super) fn route_dropped_files(&mut self, ctx: &egui::Context) {
        let (hovered, dropped) = ctx.input(|i| {
            let names = |paths: Vec<Option<std::path::PathBuf>>| -> Vec<String> {
                paths
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect()
            };
            (
                names(i.raw.hovered_files.iter().map(|f| f.path.clone()).collect()),
                names(
                    i.raw
                        .dropped_files
                        .iter()
                        .map(|f| Some(f.path().to_path_buf()))
                        .collect(),
                ),
            )
        });
        let target = |state: &crate::state::AppState, names: &[String]| -> Option<(&'static str, &'static str)> {
            state
                .views()
                .find(|v| names.iter().any(|n| v.opens_file(n)))
                .map(|v| (v.key(), v.title()))
        };
        if !dropped.is_empty()
            && let Some(inbox) = crate::file_open::take_dropped(ctx)
        {
            self.dropped.push(inbox);
        }
        let arrived: Vec<_> = self.dropped.iter().filter_map(|i| i.borrow_mut().take()).collect();
        self.dropped.retain(|i| std::rc::Rc::strong_count(i) > 1);
        for files in arrived {
            self.open_files(ctx, files);
        }
        let hovering = ctx.input(|i| !i.raw.hovered_files.is_empty());
        if hovering {
            let text = match target(&self.state, &hovered) {
                Some((_, title)) => format!("Drop to open in the {title}"),
                // Browsers hide the names while dragging: say what is expected.
                None if hovered.is_empty() => "Drop a model's .plw and .json to open it in the Model lab".into(),
                None => "PosLens opens a model's .plw weights and .json metadata".into(),
            };
            let screen = ctx.content_rect();
            let painter = ctx.layer_painter(egui::LayerId::new(
                egui::Order::Foreground,
                egui::Id::unique("drop_overlay"),
            ));
            painter.rect_filled(screen, 0.0, crate::theme::DROP_SCRIM);
            painter.text(
                screen.center(),
                egui::Align2::CENTER_CENTER,
                text,
                egui::FontId::proportional(22.0),
                crate::theme::DROP_TEXT,
            );
        }
    }

    /// Hand files to the first view that opens them and show it; files nobody opens get a note.
    pub(super) fn open_files(&mut self, ctx: &egui::Context, files: Vec<crate::file_open::PickedFile>) {
        // A tour file is the app's, not a view's.
        let (tours, files): (Vec<_>, Vec<_>) = files.into_iter().partition(super::tour::looks_like_tour);
        if let Some(t) = tours.into_iter().next() {
            self.open_tour_file(ctx, t);
        }
        if files.is_empty() {
            return;
        }
        let key = self
            .state
            .views()
            .find(|v| files.iter().any(|f| v.opens_file(&f.name)))
            .map(|v| v.key());
        match key {
            Some(key) => {
                self.notice = None;
                self.state.set_view(key);
                self.state.active_mut().open_files(files);
            }
            None => {
                let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
                self.notice = Some(format!(
                    "{}: PosLens opens a model's .plw weights and .json metadata (Model lab)",
                    names.join(", ")
                ));
            }
        }
    }
}
