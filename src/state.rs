//! [`AppState`]: the single source of truth of what the user has set — which view is shown,
//! the theme, embed mode, and every view (each owning its own serialisable state). The URL hash
//! (`crate::url_state`) is read into it and written from it; export and the status hook read it.

use crate::theme::ThemeChoice;
use crate::views::{View, registry};

/// Everything the user can set. The views are the registry's, in its order.
pub struct AppState {
    views: Vec<Box<dyn View>>,
    /// Index of the shown view in `views`.
    active: usize,
    pub theme: ThemeChoice,
    /// `embed=1`: only the view and its essential controls (for iframes).
    pub embed: bool,
    /// `scale=`: UI scale for presenting (1 = normal).
    pub scale: f32,
    /// The guided tour being followed, if any (`tour=…&step=…`).
    pub tour: Option<TourPos>,
}

/// Where the reader is in a guided tour.
#[derive(Clone, Debug, PartialEq)]
pub struct TourPos {
    /// The tour's name (a shipped tour, or the one opened from a file).
    pub name: String,
    /// 1-based step.
    pub step: usize,
    /// Opened from a local file: not written to links (a link cannot carry the file).
    pub custom: bool,
}

/// Presenter UI scale range (`scale=`).
pub const SCALE_RANGE: std::ops::RangeInclusive<f32> = 0.5..=3.0;

impl Default for AppState {
    fn default() -> Self {
        Self {
            views: registry(),
            active: 0,
            theme: ThemeChoice::default(),
            embed: false,
            scale: 1.0,
            tour: None,
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("view", &self.active().key())
            .field("theme", &self.theme)
            .field("embed", &self.embed)
            .field("state", &self.active().state_json())
            .finish()
    }
}

/// Two states are equal when they show the same view with the same settings everywhere.
impl PartialEq for AppState {
    fn eq(&self, other: &Self) -> bool {
        self.active == other.active
            && self.theme == other.theme
            && self.embed == other.embed
            && self.scale == other.scale
            && self.tour == other.tour
            && self.views.len() == other.views.len()
            && self
                .views
                .iter()
                .zip(&other.views)
                .all(|(a, b)| a.state_json() == b.state_json())
    }
}

impl AppState {
    /// The keys of every view, in registry order.
    pub fn view_keys(&self) -> Vec<&'static str> {
        self.views.iter().map(|v| v.key()).collect()
    }

    /// Every view (registry order).
    pub fn views(&self) -> impl Iterator<Item = &dyn View> {
        self.views.iter().map(|v| v.as_ref())
    }

    /// Every view, mutably.
    pub fn views_mut(&mut self) -> impl Iterator<Item = &mut Box<dyn View>> {
        self.views.iter_mut()
    }

    pub fn active(&self) -> &dyn View {
        self.views[self.active].as_ref()
    }

    pub fn active_mut(&mut self) -> &mut dyn View {
        self.views[self.active].as_mut()
    }

    pub fn active_index(&self) -> usize {
        self.active
    }

    /// Show the view with this key; `false` if there is none.
    pub fn set_view(&mut self, key: &str) -> bool {
        match self.views.iter().position(|v| v.key() == key) {
            Some(i) => {
                self.active = i;
                true
            }
            None => false,
        }
    }

    /// Show view `index` (registry order), if it exists.
    pub fn set_view_index(&mut self, index: usize) {
        if index < self.views.len() {
            self.active = index;
        }
    }

    /// The next (`step = 1`) or previous (`step = -1`) view, wrapping around.
    pub fn cycle_view(&mut self, step: isize) {
        let n = self.views.len() as isize;
        self.active = (self.active as isize + step).rem_euclid(n.max(1)) as usize;
    }

    /// The view with this key, if any.
    pub fn view(&self, key: &str) -> Option<&dyn View> {
        self.views().find(|v| v.key() == key)
    }

    /// Mutable access to the view with this key, if any.
    pub fn view_mut(&mut self, key: &str) -> Option<&mut (dyn View + 'static)> {
        self.views.iter_mut().find(|v| v.key() == key).map(|v| v.as_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycling_wraps_and_set_view_finds_every_key() {
        let mut s = AppState::default();
        let keys = s.view_keys();
        assert_eq!(s.active().key(), keys[0]);
        s.cycle_view(-1);
        assert_eq!(s.active().key(), keys[keys.len() - 1]);
        s.cycle_view(1);
        assert_eq!(s.active().key(), keys[0]);
        for k in &keys {
            assert!(s.set_view(k));
            assert_eq!(s.active().key(), *k);
        }
        assert!(!s.set_view("nosuch"));
    }
}
