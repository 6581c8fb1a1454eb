//! The app's status: the status bar at the bottom of the page (render backend, heatmap engine
//! choice, compute worker, frame time, errors) and the `status()` object the JS hook reports.

use egui::RichText;

use super::PosLensApp;
use crate::compute::ComputeBackend;
use crate::compute::client::WorkerState;
use crate::status::Status;

impl PosLensApp {
    /// What the status reports as the compute backend: the worker's once ready, else its state.
    pub(super) fn compute_label(&self) -> (String, String) {
        match self.compute.state() {
            WorkerState::Idle => (
                "not loaded".into(),
                "burn loads with the first view that needs it".into(),
            ),
            WorkerState::Starting => ("loading".into(), "downloading the compute worker".into()),
            WorkerState::Ready { backend, note } => (backend.label().into(), note),
            WorkerState::Failed(why) => ("failed".into(), why),
        }
    }

    pub(super) fn status_line_ui(&self, ui: &mut egui::Ui) {
        let theme = self.state.theme;
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("render: {}", self.render_backend.label()));
            if let Some(n) = &self.notice {
                ui.colored_label(theme.warn(), "⚠").on_hover_text(n);
            }
            ui.separator();
            // Which heatmap engine serves which length, and the times it was chosen by.
            let summary = self.engines.choice_summary();
            let short = match self.engines.measured() {
                Some(m) => match m.gpu_from_n {
                    // The CPU first: most links stay below the crossover.
                    Some(n) => format!("heatmaps: CPU below N = {n}, GPU from it (measured)"),
                    None => "heatmaps: CPU (measured faster)".into(),
                },
                None => summary.split(" (").next().unwrap_or("heatmaps").to_owned(),
            };
            ui.label(short).on_hover_text(&summary);
            ui.separator();
            let (label, note) = self.compute_label();
            // Chosen by timing both backends (`compute::backend_choice`): the times on hover.
            let measured = note.contains(", measured: ");
            let color = match self.compute.state() {
                WorkerState::Ready {
                    backend: ComputeBackend::Wgpu,
                    ..
                } => theme.ok(),
                WorkerState::Ready { .. } if measured => theme.ok(),
                WorkerState::Idle => theme.weak_text(),
                WorkerState::Failed(_) => theme.error(),
                _ => theme.warn(),
            };
            ui.colored_label(color, format!("compute: burn {label}"))
                .on_hover_text(&note);
            if matches!(self.compute.state(), WorkerState::Ready { backend, .. } if backend != ComputeBackend::Wgpu) {
                let inline = if measured {
                    "(measured faster)"
                } else if note.contains("software renderer") {
                    "(the WebGPU adapter is a software renderer)"
                } else {
                    note.as_str()
                };
                ui.label(RichText::new(inline).color(theme.weak_text()))
                    .on_hover_text(&note);
            }
            match (self.readiness.result(), self.compute.state()) {
                (_, WorkerState::Idle) => {}
                (None, _) => {
                    ui.separator();
                    ui.spinner();
                }
                (Some(Ok(c)), _) if c.passed => {
                    ui.separator();
                    ui.colored_label(
                        theme.ok(),
                        format!("✔ burn softmax row matches CPU (max |Δ| = {:.1e})", c.max_abs_diff),
                    );
                }
                (Some(Ok(c)), _) => {
                    ui.separator();
                    ui.colored_label(
                        theme.error(),
                        format!("✘ burn softmax row differs from CPU (max |Δ| = {:.1e})", c.max_abs_diff),
                    );
                }
                (Some(Err(e)), _) => {
                    ui.separator();
                    ui.colored_label(theme.error(), format!("✘ {e}"));
                }
            }
            ui.separator();
            ui.label(RichText::new(format!("frame {:.1} ms", self.last_frame_ms)).color(theme.weak_text()));
        });
    }

    pub(super) fn errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        match self.readiness.result() {
            Some(Err(e)) => errors.push(e.to_string()),
            Some(Ok(c)) if !c.passed => errors.push(format!("burn/CPU mismatch: max |Δ| = {}", c.max_abs_diff)),
            _ => {}
        }
        errors.extend(self.state.active().errors());
        errors
    }

    /// The status that `window.poslens.status()` reports.
    pub fn status(&self, len_rect: egui::Rect) -> Status {
        let mut rects = self.control_rects.clone();
        rects.insert("seq_len".to_owned(), len_rect);
        let controls = rects
            .into_iter()
            .filter(|(_, r)| r.is_positive())
            .map(|(k, r)| (k, [r.min.x, r.min.y, r.width(), r.height()]))
            .collect();
        let view = self.state.active();
        let mut extras = serde_json::Map::new();
        view.status_extras(&mut extras);
        let check = self.readiness.result();
        let (compute_backend, compute_note) = self.compute_label();
        Status {
            ready: self.frames > 0,
            layout: if self.last_compact { "compact" } else { "full" }.into(),
            drawer_open: self.drawer_open,
            view: view.key().to_owned(),
            views: self.state.view_keys().into_iter().map(str::to_owned).collect(),
            render_backend: self.render_backend,
            compute_backend,
            compute_note,
            seq_len: view.length(),
            explanation: view.explanation(),
            frame_ms: self.last_frame_ms,
            slowest_frame_ms: self.slowest_frame_ms,
            frames: self.frames,
            errors: self.errors(),
            compute_check: check.and_then(|c| c.as_ref().ok()).cloned(),
            controls,
            state_hash: self.hash(),
            link_notes: self.notes.total,
            notice: self.notice.clone(),
            export_note: self.export_note.clone().map(|r| r.unwrap_or_else(|e| e)),
            export_pending: self.pending_png.is_some(),
            tour: self.tour_status().and_then(|t| serde_json::to_value(t).ok()),
            scale: self.state.scale,
            heatmap_choice: self.engines.choice_summary(),
            heatmap_measured: self.engines.measured().cloned(),
            extras,
        }
    }
}
