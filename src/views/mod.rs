//! The views: one file (or folder) each, each implementing [`View`], all listed once in
//! [`registry`]. The app, the URL state, export, the status hook, keyboard view switching and
//! the browser test all iterate that list; nothing outside this folder matches on a view.
//!
//! Modelled on egui's demo library (`Demo` / `View`: one file per view, `fn ui`) and rerun's
//! `ViewClass` (a view declares its identity, its state and how to draw it).

/// The [`View`] methods that only hand over to the view's `state` field (its URL keys, clamping,
/// defaults and main length): `delegate_state!(seq_len);` inside `impl View for …`. The state
/// type provides `write_hash`, `read_hash_key` and `sanitize`, and `Default` + `Serialize`.
macro_rules! delegate_state {
    ($len:ident) => {
        fn write_hash(&self, out: &mut String) {
            self.state.write_hash(out);
        }
        fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
            self.state.read_hash_key(key, value)
        }
        fn sanitize(&mut self) -> Vec<String> {
            self.state.sanitize()
        }
        fn reset(&mut self) {
            self.state = Default::default();
        }
        fn state_json(&self) -> serde_json::Value {
            $crate::views::to_json(&self.state)
        }
        fn length(&self) -> usize {
            self.state.$len
        }
        fn length_mut(&mut self) -> &mut usize {
            &mut self.state.$len
        }
    };
}

pub mod all_schemes_state;
pub mod attention;
pub mod bias;
pub mod compare;
pub mod extension;
pub mod grid;
pub mod model_lab;
pub mod positions;
pub mod rope;
pub mod shipped_model;
pub mod sinusoidal;
pub mod train_lab;

use serde_json::{Map, Value};

use crate::analysis::engine::MapEngines;
use crate::compute::client::ComputeClient;
use crate::export::{ExportError, Exported};
use crate::theme::ThemeChoice;

/// Every view, in the order of the view switcher and of `[` / `]`. The first is the default.
/// Adding a view: one file implementing [`View`], one line here.
pub fn registry() -> Vec<Box<dyn View>> {
    vec![
        Box::new(attention::AttentionView::default()),
        Box::new(compare::CompareView::default()),
        Box::new(rope::RopeView::default()),
        Box::new(extension::ExtensionView::default()),
        Box::new(bias::BiasView::default()),
        Box::new(sinusoidal::SinusoidalView::default()),
        Box::new(positions::PositionsView::default()),
        Box::new(grid::GridView::default()),
        Box::new(model_lab::ModelLabView::default()),
        Box::new(train_lab::TrainLabView::default()),
    ]
}

/// What the app lends a view for one frame's [`View::update`].
pub struct ViewEnv<'a> {
    pub ctx: &'a egui::Context,
    /// The compute worker (burn on WebGPU or ndarray); `None` in headless tests.
    pub compute: Option<&'a ComputeClient>,
    /// The attention-map engines (CPU always; the WGSL engine where the renderer allows).
    pub engines: &'a MapEngines,
    /// When this frame's heavy work must stop (the work budget): views spread larger jobs over
    /// frames (`analysis::engine::LiveMap::poll`) and show progress meanwhile.
    pub deadline: web_time::Instant,
}

/// One view: its identity, its URL keys, its controls and drawing, its errors, export and
/// status read-out. A view object owns its serialisable state and its caches.
pub trait View {
    /// The `view=` value of the URL hash.
    fn key(&self) -> &'static str;

    /// Name in the view switcher.
    fn title(&self) -> &'static str;

    /// Two or three plain sentences on what the reader sees and why, naming the paper.
    fn explanation(&self) -> String;

    /// Append this view's keys (`&len=…&…`) to a URL hash. `len` must always be written.
    fn write_hash(&self, out: &mut String);

    /// Read one URL key: `None` if it is not this view's, else whether the value was valid.
    fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool>;

    /// Clamp the state into its valid ranges; returns a note per changed value.
    fn sanitize(&mut self) -> Vec<String>;

    /// Back to the default state (caches may stay; they are keyed on the state).
    fn reset(&mut self);

    /// The serialisable state as JSON (equality in tests, debugging).
    fn state_json(&self) -> Value;

    /// The view's main length (what `←` / `→` halve and double, and `status().seq_len`).
    fn length(&self) -> usize;
    fn length_mut(&mut self) -> &mut usize;

    /// The range of the main length (the compact layout's slider).
    fn length_range(&self) -> std::ops::RangeInclusive<usize> {
        crate::views::all_schemes_state::SEQ_LEN_RANGE
    }

    /// Side-panel controls; returns the response of the main length slider (tests drag it).
    fn controls_ui(&mut self, ui: &mut egui::Ui) -> egui::Response;

    /// Recompute what the state changed (called every frame while the view is active).
    fn update(&mut self, env: &ViewEnv<'_>);

    /// The central area.
    fn ui(&mut self, ui: &mut egui::Ui, theme: ThemeChoice);

    /// Whether the central area needs a vertical scroll area.
    fn scrolls(&self) -> bool {
        false
    }

    /// Whether this view opens a file of this name when it is dropped onto the window (the app
    /// switches to the first view that does).
    fn opens_file(&self, _name: &str) -> bool {
        false
    }

    /// Files for this view (dropped onto the window, or handed over by another view); only
    /// called with files [`View::opens_file`] accepts.
    fn open_files(&mut self, _files: Vec<crate::file_open::PickedFile>) {}

    /// Files this view hands to another one (the app opens them in the first view that takes
    /// them, and switches to it): the Train lab's "Open in the Model lab".
    fn take_outbox(&mut self) -> Option<Vec<crate::file_open::PickedFile>> {
        None
    }

    /// Errors to show in the status and report to `status().errors`.
    fn errors(&self) -> Vec<String>;

    /// The view's numbers (CSV / JSON) and, for heatmap views, an image — the same whether
    /// asked by the app's buttons or by `poslens export`.
    fn export(&self) -> Result<Exported, ExportError>;

    /// Extra fields for `status()` (e.g. the heatmap engine, the Model lab's read-out).
    fn status_extras(&self, _extras: &mut Map<String, Value>) {}
}

/// Clamp `v` into `range`; if it changed, add a note naming the URL key `name`.
pub fn clamp_noted(v: &mut usize, range: std::ops::RangeInclusive<usize>, name: &str, notes: &mut Vec<String>) {
    let c = (*v).clamp(*range.start(), *range.end());
    if c != *v {
        notes.push(format!(
            "{name}={v} is outside {}…{}; using {c}",
            range.start(),
            range.end()
        ));
        *v = c;
    }
}

/// Round an odd `v` up to even; if it changed, add a note naming the URL key `name`. Call after
/// clamping to a range with an even upper end, so the result stays in range.
pub fn even_noted(v: &mut usize, name: &str, notes: &mut Vec<String>) {
    if *v % 2 == 1 {
        notes.push(format!("{name}={v} must be even; using {}", *v + 1));
        *v += 1;
    }
}

/// Parse `value` into `slot`; `false` (slot unchanged) if it does not parse. For `read_hash_key`.
pub fn parse_into<T: std::str::FromStr>(slot: &mut T, value: &str) -> bool {
    match value.parse() {
        Ok(v) => {
            *slot = v;
            true
        }
        Err(_) => false,
    }
}

/// The serialisable state of a view as JSON (for [`View::state_json`]).
pub fn to_json<T: serde::Serialize>(state: &T) -> Value {
    serde_json::to_value(state).unwrap_or_else(|e| Value::String(format!("unserialisable state: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_keys_are_unique_and_every_view_explains_itself_with_a_paper() {
        let views = registry();
        let keys: std::collections::BTreeSet<_> = views.iter().map(|v| v.key()).collect();
        assert_eq!(keys.len(), views.len());
        for v in &views {
            let text = v.explanation();
            let sentences = text.matches(['.', '!', '?']).count();
            assert!(sentences >= 2, "{}: {text}", v.key());
            assert!(
                text.contains(" 20") || text.contains(" 19"),
                "{} names a paper with its year: {text}",
                v.key()
            );
            assert!(!v.title().is_empty());
        }
    }

    #[test]
    fn every_view_writes_len_and_reads_back_its_own_keys() {
        for mut v in registry() {
            let mut hash = String::new();
            v.write_hash(&mut hash);
            assert!(hash.starts_with('&') && hash.contains("&len="), "{}: {hash}", v.key());
            let before = v.state_json();
            for pair in hash.trim_start_matches('&').split('&') {
                let (k, val) = pair.split_once('=').expect("key=value");
                assert_eq!(v.read_hash_key(k, val), Some(true), "{}: {k}={val}", v.key());
            }
            assert!(v.sanitize().is_empty(), "{}", v.key());
            assert_eq!(v.state_json(), before, "{}", v.key());
            assert_eq!(v.read_hash_key("no-such-key", "1"), None);
        }
    }

    #[test]
    fn len_mut_is_the_length_len_reports_and_reset_restores_defaults() {
        for mut v in registry() {
            let default = v.state_json();
            let len = v.length();
            *v.length_mut() = len + 1;
            assert_eq!(v.length(), len + 1, "{}", v.key());
            v.reset();
            assert_eq!(v.state_json(), default, "{}", v.key());
        }
    }
}
