//! The app's self-report, read by `window.poslens.status()` in the browser (tests, benchmarks).
//!
//! One `Status` value is rewritten at the end of every frame. It is plain data: the JS hook
//! serialises it to JSON on demand, it never mutates the app.

use std::cell::RefCell;

use serde::Serialize;

/// Which wgpu backend eframe renders with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderBackend {
    Webgpu,
    Webgl2,
    #[default]
    Native,
}

impl RenderBackend {
    pub fn from_wgpu(backend: eframe::egui_wgpu::wgpu::Backend) -> Self {
        use eframe::egui_wgpu::wgpu::Backend;
        match backend {
            Backend::BrowserWebGpu => Self::Webgpu,
            Backend::Gl if cfg!(target_arch = "wasm32") => Self::Webgl2,
            _ => Self::Native,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Webgpu => "WebGPU",
            Self::Webgl2 => "WebGL2",
            Self::Native => "native",
        }
    }
}

/// A rectangle in CSS pixels (`[x, y, width, height]`), for tests that drive real pointer input.
pub type CssRect = [f32; 4];

/// Everything `window.poslens.status()` reports. Field names are a public contract (README).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Status {
    /// The first frame is drawn (the compute worker is not needed for it; see `compute_backend`).
    pub ready: bool,
    /// `"full"` (top bar, side panel, status line) or `"compact"` (embed or phone: one bar,
    /// controls in a drawer).
    pub layout: String,
    /// Compact layout: whether the controls drawer is open.
    pub drawer_open: bool,
    pub view: String,
    /// Keys of every view the app offers (for `#view=<key>` links).
    pub views: Vec<String>,
    pub render_backend: RenderBackend,
    /// The compute worker's burn backend (`wgpu`, `ndarray`) once it runs, else `not loaded`,
    /// `loading` or `failed`.
    pub compute_backend: String,
    /// Why that compute backend (e.g. "WebGPU unavailable … CPU fallback").
    pub compute_note: String,
    pub seq_len: usize,
    /// The active view's two or three sentences of explanation (naming its paper).
    pub explanation: String,
    /// CPU time of the app's last frame (compute + UI), in milliseconds.
    pub frame_ms: f32,
    /// The slowest frame since the state was last read from a link (page load or an edited
    /// hash), in milliseconds: the work budget keeps it near 50 ms whatever the link asks for.
    pub slowest_frame_ms: f32,
    pub frames: u64,
    pub errors: Vec<String>,
    /// The app's burn readiness check (a softmax row on the burn device vs the CPU), when done.
    pub compute_check: Option<crate::compute::softmax_check::SoftmaxCheck>,
    /// Screen rectangles of named controls (CSS px), so a test can drag them for real.
    pub controls: std::collections::BTreeMap<String, CssRect>,
    /// The URL-hash form of the current state.
    pub state_hash: String,
    /// Notes from reading the link (values clamped, keys ignored); the page lists the first 20.
    pub link_notes: usize,
    /// A notice not tied to a view (files no view opens; the GPU lost and the app restarted on
    /// WebGL2), also shown in the side panel.
    pub notice: Option<String>,
    /// The last export's message (`downloaded poslens-attention.png`, or why it failed), and
    /// whether a PNG export is waiting for its screenshot.
    pub export_note: Option<String>,
    pub export_pending: bool,
    /// The guided tour being followed: `{name, title, step, steps, step_title, custom}`.
    pub tour: Option<serde_json::Value>,
    /// UI scale (`scale=`).
    pub scale: f32,
    /// Which heatmap engine serves which length, and why (one line, also in the status bar).
    pub heatmap_choice: String,
    /// The first-use timing of both heatmap engines and the crossover it gives, once measured.
    pub heatmap_measured: Option<crate::analysis::engine_choice::Measured>,
    /// Fields the active view adds (`View::status_extras`): e.g. `heatmap_engine`,
    /// `heatmap_ms`, `gpu_cpu_max_diff` (heatmap views), `d_model` and `burn_row`
    /// (Sinusoidal), `model_lab` (Model lab). Serialised at the top level.
    #[serde(flatten)]
    pub extras: serde_json::Map<String, serde_json::Value>,
}

thread_local! {
    static STATUS: RefCell<Status> = RefCell::new(Status::default());
}

/// Replace the published status.
pub fn publish(status: Status) {
    STATUS.with(|s| *s.borrow_mut() = status);
}

/// Add an error that happened outside a frame (e.g. start-up).
pub fn push_error(message: impl Into<String>) {
    STATUS.with(|s| s.borrow_mut().errors.push(message.into()));
}

/// The current status as a JSON string.
pub fn to_json() -> String {
    STATUS.with(|s| {
        serde_json::to_string(&*s.borrow())
            .unwrap_or_else(|e| format!("{{\"errors\":[\"status serialisation: {e}\"]}}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_json_has_the_documented_fields() {
        let mut extras = serde_json::Map::new();
        extras.insert("d_model".into(), 128.into());
        publish(Status {
            ready: true,
            view: "sinusoidal".into(),
            seq_len: 64,
            frames: 3,
            extras,
            ..Default::default()
        });
        let v: serde_json::Value = serde_json::from_str(&to_json()).expect("valid JSON");
        for key in [
            "ready",
            "view",
            "render_backend",
            "compute_backend",
            "seq_len",
            "frame_ms",
            "frames",
            "errors",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {v}");
        }
        assert_eq!(v["render_backend"], "native");
        assert_eq!(v["seq_len"], 64);
        assert_eq!(v["d_model"], 128, "extras are flattened to the top level");
    }
}
