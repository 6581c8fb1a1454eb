//! The app state as a human-writable URL hash: `view=attention&len=512&scheme=rope`.
//!
//! Keys are short `key=value` pairs joined by `&`, always including `v` (format version), `view`
//! and `len` (the active view's length). Each view owns its keys (`write_hash` /
//! `read_hash_key` on its state); only the active view's keys are written, and a key is read
//! into the active view. Parsing never fails: unknown keys and invalid or out-of-range values
//! are reported as notes (shown to the user) and replaced by the nearest valid value.

use serde_json::Value;

use crate::export::{ExportError, Exported};
use crate::state::{AppState, SCALE_RANGE, TourPos};
use crate::theme::ThemeChoice;

/// Version of the hash format, written as `v=`.
pub const FORMAT_VERSION: u32 = 1;

/// Serialise `state` to a hash (without the leading `#`): only the active view's keys.
pub fn to_hash(state: &AppState) -> String {
    let view = state.active();
    let mut out = format!("v={FORMAT_VERSION}&view={}", view.key());
    view.write_hash(&mut out);
    if state.theme != ThemeChoice::default() {
        out.push_str(&format!("&theme={}", state.theme.key()));
    }
    if state.scale != 1.0 {
        out.push_str(&format!("&scale={}", state.scale));
    }
    if state.embed {
        out.push_str("&embed=1");
    }
    if let Some(t) = state.tour.as_ref().filter(|t| !t.custom) {
        out.push_str(&format!("&tour={}&step={}", t.name, t.step));
    }
    out
}

/// Parse a hash (with or without `#`) on top of the defaults. Returns the state and notes.
pub fn from_hash(hash: &str) -> (AppState, Vec<String>) {
    let mut state = AppState::default();
    let notes = apply_hash(&mut state, hash);
    (state, notes)
}

/// Reset `state` to the defaults and read `hash` into it, keeping each view's caches (a view's
/// loaded data survives an edited link). Returns notes on what was ignored or clamped.
pub fn apply_hash(state: &mut AppState, hash: &str) -> Vec<String> {
    // A tour link without a view (`tour=intro&step=3`) opens that step's state; the link's other
    // keys apply on top of it.
    let raw = hash.trim_start_matches('#');
    let value_of = |key: &str| {
        raw.split('&')
            .filter_map(|p| p.split_once('='))
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .next_back()
    };
    if !raw.split('&').any(|p| p.starts_with("view="))
        && let Some(tour) = value_of("tour").and_then(crate::tour::builtin)
    {
        let step = value_of("step")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(1)
            .clamp(1, tour.steps.len());
        return apply_hash(state, &format!("{}&{raw}", tour.steps[step - 1].state));
    }
    let mut notes = Vec::new();
    state.theme = ThemeChoice::default();
    state.embed = false;
    state.scale = 1.0;
    state.tour = None;
    let mut step: Option<&str> = None;
    state.set_view_index(0);
    for view in state.views_mut() {
        view.reset();
    }
    let pairs: Vec<(&str, &str)> = hash
        .trim_start_matches('#')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    // The view first: every other key goes to the active view.
    if let Some((_, v)) = pairs.iter().rev().find(|(k, _)| *k == "view")
        && !state.set_view(v)
    {
        notes.push(format!(
            "ignored view={v:?}: not a view (one of {})",
            state.view_keys().join(", ")
        ));
    }
    for &(key, value) in &pairs {
        let read = match key {
            "view" => Some(true),
            "v" => {
                if value.parse::<u32>().ok() != Some(FORMAT_VERSION) {
                    notes.push(format!("link format v={value} read as v={FORMAT_VERSION}"));
                }
                Some(true)
            }
            "theme" => ThemeChoice::from_key(value)
                .map(|t| state.theme = t)
                .map(|_| true)
                .or(Some(false)),
            "scale" => match value.parse::<f32>() {
                Ok(v) if v.is_finite() => {
                    let c = v.clamp(*SCALE_RANGE.start(), *SCALE_RANGE.end());
                    if c != v {
                        notes.push(format!("scale={value} is outside 0.5…3; using {c}"));
                    }
                    state.scale = c;
                    Some(true)
                }
                _ => Some(false),
            },
            "tour" => Some(match crate::tour::builtin(value) {
                Some(_) => {
                    state.tour = Some(TourPos {
                        name: value.to_owned(),
                        step: 1,
                        custom: false,
                    });
                    true
                }
                None => {
                    notes.push(format!(
                        "ignored tour={value:?}: not a tour (one of {})",
                        crate::tour::builtin_names().join(", ")
                    ));
                    true
                }
            }),
            "step" => {
                step = Some(value);
                Some(true)
            }
            "embed" => {
                state.embed = matches!(value, "1" | "true" | "");
                Some(true)
            }
            _ => state.active_mut().read_hash_key(key, value),
        };
        match read {
            Some(true) => {}
            Some(false) => notes.push(format!("ignored {key}={value:?}: not a valid value")),
            None => notes.push(format!("ignored unknown key {key:?} for view {}", state.active().key())),
        }
    }
    if let Some(value) = step {
        match (&mut state.tour, value.parse::<usize>()) {
            (Some(t), Ok(k)) => {
                let steps = crate::tour::builtin(&t.name).map_or(1, |tour| tour.steps.len());
                t.step = k.clamp(1, steps);
                if t.step != k {
                    notes.push(format!("step={k} is outside 1…{steps}; using {}", t.step));
                }
            }
            (Some(_), Err(_)) => notes.push(format!("ignored step={value:?}: not a step number")),
            (None, _) => notes.push("ignored step= without tour=".to_owned()),
        }
    }
    for view in state.views_mut() {
        notes.extend(view.sanitize());
    }
    notes
}

/// Export the active view: its numbers plus `view` and `state` (its link) in the JSON.
pub fn export_active(state: &AppState) -> Result<Exported, ExportError> {
    let mut out = state.active().export()?;
    if let Some(f) = &mut out.figure {
        f.caption = state.active().explanation();
    }
    if let Value::Object(m) = &mut out.json {
        m.insert("view".into(), Value::from(state.active().key()));
        m.insert("state".into(), Value::from(to_hash(state)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Format;

    /// One field of a view's serialised state.
    fn field(state: &AppState, view: &str, name: &str) -> Value {
        state
            .view(view)
            .map(|v| v.state_json()[name].clone())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn sinusoidal_round_trip() {
        let (state, notes) = from_hash("view=sinusoidal&len=1000&d=64&layout=concat&theme=light&embed=1");
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(field(&state, "sinusoidal", "seq_len"), 1000);
        assert_eq!(field(&state, "sinusoidal", "d_model"), 64);
        assert_eq!(field(&state, "sinusoidal", "layout"), "concat");
        assert!(state.embed && state.theme == ThemeChoice::Light);
        let hash = to_hash(&state);
        assert!(hash.contains("view=sinusoidal") && hash.contains("len=1000"), "{hash}");
        let (back, notes) = from_hash(&format!("#{hash}"));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(back, state);
    }

    #[test]
    fn every_view_round_trips_with_view_and_len() {
        for key in AppState::default().view_keys() {
            let mut state = AppState::default();
            assert!(state.set_view(key));
            let hash = to_hash(&state);
            assert!(
                hash.contains(&format!("view={key}")) && hash.contains("&len="),
                "{hash}"
            );
            let (back, notes) = from_hash(&hash);
            assert!(notes.is_empty(), "{key}: {notes:?}");
            assert_eq!(back, state);
        }
    }

    #[test]
    fn out_of_range_and_unknown_values_are_clamped_with_notes() {
        let (state, notes) = from_hash("view=sinusoidal&len=999999&d=7&foo=bar&layout=zigzag&len=abc");
        assert_eq!(field(&state, "sinusoidal", "seq_len"), 4096);
        assert_eq!(field(&state, "sinusoidal", "d_model"), 8);
        assert_eq!(field(&state, "sinusoidal", "layout"), "interleaved");
        assert_eq!(notes.len(), 5, "{notes:?}");
    }

    #[test]
    fn attention_round_trip_and_len_goes_to_the_active_view() {
        let hash = "view=attention&len=3000&scheme=alibi&train=512&content=repeating&period=12&mode=logits&causal=0&head=5&base=500000&hd=128";
        let (state, notes) = from_hash(hash);
        assert!(notes.is_empty(), "{notes:?}");
        for (name, value) in [
            ("seq_len", Value::from(3000)),
            ("scheme", Value::from("alibi")),
            ("train_len", Value::from(512)),
            ("content", Value::from("repeating")),
            ("period", Value::from(12)),
            ("softmax", Value::from(false)),
            ("causal", Value::from(false)),
            ("head", Value::from(5)),
            ("rope_base", Value::from(500_000.0)),
            ("head_dim", Value::from(128)),
        ] {
            assert_eq!(field(&state, "attention", name), value, "{name}");
        }
        let written = to_hash(&state);
        assert!(
            written.contains("view=attention") && written.contains("len=3000") && written.contains("scheme=alibi"),
            "{written}"
        );
        let (back, notes) = from_hash(&written);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(back, state);
        // `len` before `view` still lands on the view named in the hash.
        let (s2, _) = from_hash("len=777&view=attention");
        assert_eq!(field(&s2, "attention", "seq_len"), 777);
        assert_eq!(
            field(&s2, "sinusoidal", "seq_len"),
            field(&AppState::default(), "sinusoidal", "seq_len")
        );
    }

    #[test]
    fn attention_values_are_clamped() {
        let (s, notes) = from_hash("view=attention&len=100000&hd=7&head=42&base=-3&scheme=nope&scheme=bogus");
        // NoPE with identical tokens is a map of k − q alone: up to 65 536.
        assert_eq!(field(&s, "attention", "seq_len"), 65_536);
        assert_eq!(field(&s, "attention", "head_dim"), 8);
        assert_eq!(field(&s, "attention", "head"), 7);
        assert_eq!(field(&s, "attention", "rope_base"), 100.0);
        assert_eq!(field(&s, "attention", "scheme"), "nope");
        assert_eq!(notes.len(), 5, "{notes:?}");
        // Maps computed row by row stop at 8192: random tokens, or sinusoidal APE (absolute).
        for link in [
            "view=attention&len=100000&content=random",
            "view=attention&len=100000&scheme=sinusoidal",
            "view=attention&len=100000&content=repeating&scheme=alibi",
        ] {
            let (s, notes) = from_hash(link);
            assert_eq!(field(&s, "attention", "seq_len"), 8192, "{link}");
            assert!(notes.iter().any(|n| n.contains("len=100000")), "{link}: {notes:?}");
        }
        let (s, _) = from_hash("view=attention&len=20000&scheme=alibi");
        assert_eq!(field(&s, "attention", "seq_len"), 20_000);
        // The learned table has no formula: not a scheme the Attention view can draw.
        let (s, notes) = from_hash("view=attention&scheme=learned");
        assert_eq!(field(&s, "attention", "scheme"), "rope");
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn applying_a_hash_resets_what_it_does_not_name() {
        let (mut state, _) = from_hash("view=attention&len=3000&theme=light");
        let notes = apply_hash(&mut state, "view=rope");
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(state.active().key(), "rope");
        assert_eq!(state.theme, ThemeChoice::Dark);
        assert_eq!(field(&state, "attention", "seq_len"), 256);
    }

    #[test]
    fn bad_view_and_garbage_never_panic() {
        for h in [
            "view=nosuch",
            "&&&",
            "=",
            "view=",
            "len=-1",
            "view=compare&len=99999999999999999999",
            "%%%=%%%",
        ] {
            let (state, _) = from_hash(h);
            assert!(state.active().length() >= 6, "{h}");
        }
        let (_, notes) = from_hash("view=nosuch");
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn empty_hash_gives_defaults() {
        let (state, notes) = from_hash("");
        assert_eq!(state, AppState::default());
        assert!(notes.is_empty());
    }

    #[test]
    fn every_view_exports_json_csv_svg_and_heatmap_views_png() {
        for view in crate::views::registry() {
            let key = view.key();
            let len = 40.clamp(*view.length_range().start(), *view.length_range().end());
            let (state, notes) = from_hash(&format!("view={key}&len={len}"));
            assert!(notes.is_empty(), "{key}: {notes:?}");
            let e = export_active(&state).unwrap_or_else(|err| panic!("{key}: {err}"));
            assert_eq!(e.json["view"], key);
            assert!(
                e.json["state"]
                    .as_str()
                    .is_some_and(|s| s.contains(&format!("view={key}")))
            );
            assert!(e.csv.lines().count() > 2, "{key} csv too short");
            let png = e.bytes(Format::Png);
            assert_eq!(png.is_ok(), e.image.is_some(), "{key}");
            if let Ok(bytes) = png {
                assert_eq!(&bytes[1..4], b"PNG");
            }
            // Every view has a vector figure: well-formed SVG, captioned with its explanation,
            // with at least one vector axis label and one plotted line or embedded map.
            let svg =
                String::from_utf8(e.bytes(Format::Svg).unwrap_or_else(|err| panic!("{key}: {err}"))).expect("UTF-8");
            crate::export::assert_valid_svg(&svg);
            let first_words: String = state
                .active()
                .explanation()
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                svg.contains(&first_words),
                "{key}: the caption is the view's explanation"
            );
            assert!(svg.contains("text-anchor=\"middle\""), "{key}: vector axis labels");
            assert!(
                svg.contains("<polyline") || svg.contains("<image"),
                "{key}: no data drawn"
            );
            assert_eq!(
                svg.contains("<image"),
                e.image.is_some(),
                "{key}: maps embedded exactly for heatmap views"
            );
        }
        // The heatmap views export pictures, the plot views do not.
        for (key, image) in [
            ("attention", true),
            ("compare", true),
            ("extension", true),
            ("sinusoidal", true),
            ("rope", false),
            ("bias", false),
        ] {
            let (state, _) = from_hash(&format!("view={key}&len=40"));
            assert_eq!(export_active(&state).expect("export").image.is_some(), image, "{key}");
        }
    }

    /// Every link written in the README opens without a note, and its keys survive the round
    /// trip (the same state as before the View registry).
    #[test]
    fn every_readme_link_opens_cleanly() {
        let readme = include_str!("../README.md");
        let links: Vec<&str> = readme
            .match_indices("#view=")
            .map(|(i, _)| {
                let rest = &readme[i + 1..];
                let end = rest.find([' ', ')', '`', '\'', '"', '\n']).unwrap_or(rest.len());
                &rest[..end]
            })
            .collect();
        assert!(links.len() >= 4, "{links:?}");
        for link in links {
            let (state, notes) = from_hash(link);
            assert!(notes.is_empty(), "{link}: {notes:?}");
            let written = to_hash(&state);
            for pair in link.split('&') {
                assert!(
                    written.split('&').any(|p| p == pair),
                    "{link}: {pair} lost in {written}"
                );
            }
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn key() -> impl Strategy<Value = String> {
            prop::sample::select(vec![
                "v", "view", "len", "train", "scheme", "content", "period", "mode", "causal", "head", "base", "hd",
                "agg", "engine", "d", "layout", "q", "qk", "dist", "method", "factor", "bfast", "bslow", "lowff",
                "highff", "global", "lmwin", "group", "sewin", "rrwin", "theme", "embed", "zzz",
            ])
            .prop_map(str::to_owned)
        }

        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<i64>().prop_map(|v| v.to_string()),
                any::<f64>().prop_map(|v| v.to_string()),
                prop::sample::select(vec![
                    "attention",
                    "compare",
                    "rope",
                    "extension",
                    "bias",
                    "sinusoidal",
                    "alibi",
                    "nope",
                    "yarn",
                    "llama3",
                    "rerope",
                    "self-extend",
                    "lm-infinite",
                    "auto",
                    "max",
                    "logits",
                    "cpu",
                    "1",
                    "0",
                    "",
                    "NaN",
                    "inf",
                    "-0",
                ])
                .prop_map(str::to_owned),
                "[ -~]{0,12}",
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            /// Any hash a person might type parses without panicking into a valid state whose
            /// link is stable: reading the written link gives no notes and writes the same link
            /// (settings of inactive methods, which links do not carry, may differ).
            #[test]
            fn any_hash_parses_to_a_stable_valid_state(pairs in prop::collection::vec((key(), value()), 0..12)) {
                let hash: String = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
                let (state, _notes) = from_hash(&hash);
                let written = to_hash(&state);
                let (again, notes) = from_hash(&written);
                prop_assert!(notes.is_empty(), "{written}: {notes:?}");
                prop_assert_eq!(to_hash(&again), written.clone());
                prop_assert_eq!(again.active().key(), state.active().key());
                prop_assert!(written.contains("view=") && written.contains("&len="));
            }

            /// Raw garbage never panics.
            #[test]
            fn garbage_never_panics(raw in "\\PC{0,64}") {
                let _ = from_hash(&raw);
            }
        }
    }
}
