//! Guided tours as data: a story through PosLens, one app state per step.
//!
//! A tour is a JSON file (`assets/tours/<name>.json`, or any local `*.json` a teacher opens):
//!
//! ```json
//! { "format": 1, "name": "intro", "title": "…",
//!   "steps": [ { "title": "…", "state": "view=attention&len=64&scheme=nope",
//!                "text": "two to four sentences", "try": "one thing to do" } ] }
//! ```
//!
//! `state` is a PosLens link hash (any keys a link may carry); the app applies it when the step
//! is shown. This module checks the format and the limits; the app additionally checks that
//! every step's state reads without notes. No egui, no burn.

use serde::{Deserialize, Serialize};

/// Version of the tour format.
pub const FORMAT: u32 = 1;
/// Largest tour file read.
pub const MAX_TOUR_BYTES: usize = 256 * 1024;
/// Most steps in a tour.
pub const MAX_STEPS: usize = 50;
const MAX_TITLE: usize = 120;
const MAX_TEXT: usize = 1000;
const MAX_TRY: usize = 300;
const MAX_STATE: usize = 2000;

/// A guided tour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tour {
    pub format: u32,
    /// Short identifier (`a-z`, `0-9`, `-`; 1…32 characters), used in links as `tour=<name>`.
    pub name: String,
    pub title: String,
    pub steps: Vec<TourStep>,
}

/// One step: an app state, what it shows and one thing to try.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TourStep {
    pub title: String,
    /// The app state as a link hash (`view=…&len=…`).
    pub state: String,
    /// Two to four sentences of narrative.
    pub text: String,
    /// One thing to try ("drag N past the dashed line").
    #[serde(rename = "try")]
    pub try_this: String,
}

/// The tours shipped with PosLens: `(name, file text)`.
const BUILTIN: &[(&str, &str)] = &[("intro", include_str!("../assets/tours/intro.json"))];

/// The default tour's name.
pub const DEFAULT_TOUR: &str = "intro";

/// Names of the shipped tours.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// A shipped tour by name.
pub fn builtin(name: &str) -> Option<Tour> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, text)| Tour::from_json(text).ok())
}

/// Whether `name` can be a tour's name.
pub fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Tour {
    /// Parse and check a tour file; the message names what is wrong (and in which step).
    pub fn from_json(text: &str) -> Result<Self, String> {
        if text.len() > MAX_TOUR_BYTES {
            return Err(format!(
                "the tour file is {} kB; tours are at most {} kB",
                text.len() / 1024,
                MAX_TOUR_BYTES / 1024
            ));
        }
        let tour: Tour = serde_json::from_str(text).map_err(|e| format!("not a PosLens tour: {e}"))?;
        tour.check()?;
        Ok(tour)
    }

    fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "tour format {} (this PosLens reads format {FORMAT})",
                self.format
            ));
        }
        if !valid_name(&self.name) {
            return Err(format!(
                "tour name {:?} must be 1…32 characters of a-z, 0-9 and -",
                self.name
            ));
        }
        let text_ok = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
        if !text_ok(&self.title, MAX_TITLE) {
            return Err(format!("the tour title must be 1…{MAX_TITLE} characters"));
        }
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(format!("a tour has 1…{MAX_STEPS} steps, this one {}", self.steps.len()));
        }
        for (i, s) in self.steps.iter().enumerate() {
            let at = |what: String| format!("step {}: {what}", i + 1);
            if !text_ok(&s.title, MAX_TITLE) {
                return Err(at(format!("title must be 1…{MAX_TITLE} characters")));
            }
            if !text_ok(&s.text, MAX_TEXT) {
                return Err(at(format!("text must be 1…{MAX_TEXT} characters")));
            }
            if !text_ok(&s.try_this, MAX_TRY) {
                return Err(at(format!("\"try\" must be 1…{MAX_TRY} characters")));
            }
            let state = s.state.trim_start_matches('#');
            if state.len() > MAX_STATE || !state.split('&').any(|kv| kv.starts_with("view=")) {
                return Err(at(format!(
                    "state must be a PosLens link hash with view=… (at most {MAX_STATE} characters)"
                )));
            }
            if state
                .split('&')
                .any(|kv| kv.starts_with("tour=") || kv.starts_with("step="))
            {
                return Err(at("state must not itself start a tour (tour= / step=)".into()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_tours_parse() {
        for name in builtin_names() {
            let t = builtin(name).unwrap_or_else(|| panic!("tour {name} does not parse"));
            assert_eq!(t.name, name);
            assert!((8..=12).contains(&t.steps.len()), "about ten steps");
        }
        assert_eq!(builtin("nope"), None);
    }

    fn good() -> serde_json::Value {
        serde_json::json!({
            "format": 1, "name": "lecture-3", "title": "Lecture 3",
            "steps": [{ "title": "One", "state": "view=rope&len=10", "text": "Look.", "try": "Drag." }]
        })
    }

    #[test]
    fn bad_tours_get_a_message_that_names_the_problem() {
        assert!(Tour::from_json(&good().to_string()).is_ok());
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (serde_json::json!({"format": 2}), "format"),
            (serde_json::json!({"name": "Lecture 3"}), "name"),
            (serde_json::json!({"name": ""}), "name"),
            (serde_json::json!({"title": "  "}), "title"),
            (serde_json::json!({"steps": []}), "1…50 steps"),
            (
                serde_json::json!({"steps": [{"title": "a", "state": "len=3", "text": "b", "try": "c"}]}),
                "step 1: state",
            ),
            (
                serde_json::json!({"steps": [{"title": "a", "state": "view=rope&tour=intro", "text": "b", "try": "c"}]}),
                "step 1: state must not",
            ),
            (
                serde_json::json!({"steps": [{"title": "a", "state": "view=rope", "text": "", "try": "c"}]}),
                "step 1: text",
            ),
            (
                serde_json::json!({"steps": [{"title": "a", "state": "view=rope", "text": "b"}]}),
                "try",
            ),
            (
                serde_json::json!({"steps": [{"title": "a", "state": "view=rope", "text": "b", "try": "c", "x": 1}]}),
                "unknown field",
            ),
            (serde_json::json!({"extra": true}), "unknown field"),
        ];
        for (patch, expected) in cases {
            let mut v = good();
            for (k, x) in patch.as_object().into_iter().flatten() {
                v[k] = x.clone();
            }
            let err = Tour::from_json(&v.to_string()).expect_err(&format!("{patch} must be refused"));
            assert!(err.contains(expected), "{patch}: {err:?} should mention {expected:?}");
        }
        let mut many = good();
        many["steps"] = serde_json::Value::Array(vec![good()["steps"][0].clone(); MAX_STEPS + 1]);
        assert!(Tour::from_json(&many.to_string()).is_err());
        assert!(Tour::from_json("not json").is_err_and(|e| e.contains("not a PosLens tour")));
        assert!(Tour::from_json(&" ".repeat(MAX_TOUR_BYTES + 1)).is_err_and(|e| e.contains("kB")));
    }
}
