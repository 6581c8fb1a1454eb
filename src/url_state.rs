//! The app state as a human-writable URL hash: `view=attention&len=512&scheme=rope`.
//!
//! Keys are short `key=value` pairs joined by `&`, always including `v` (format version), `view`
//! and `len` (the active view's length). Each view owns its keys (`write_hash` /
//! `read_hash_key` on its state); only the active view's keys are written, and a key is read
//! into the active view. Parsing never fails: unknown keys and invalid or out-of-range values
//! are reported as notes (shown to the user) and replaced by the nearest valid value.

use crate::app::AppState;
use crate::theme::ThemeChoice;
use crate::views::ViewId;

/// Version of the hash format, written as `v=`.
pub const FORMAT_VERSION: u32 = 1;

/// Serialise `state` to a hash (without the leading `#`).
pub fn to_hash(state: &AppState) -> String {
    let mut out = format!("v={FORMAT_VERSION}&view={}", state.view.key());
    match state.view {
        ViewId::Attention => state.attention.write_hash(&mut out),
        ViewId::Compare => state.compare.write_hash(&mut out),
        ViewId::Rope => crate::views::rope::write_hash(&state.rope, &mut out),
        ViewId::Extension => crate::views::extension::write_hash(&state.extension, &mut out),
        ViewId::Bias => state.bias.write_hash(&mut out),
        ViewId::Sinusoidal => state.sinusoidal.write_hash(&mut out),
        ViewId::Model => state.model.write_hash(&mut out),
    }
    if state.theme == ThemeChoice::Light {
        out.push_str("&theme=light");
    }
    if state.embed {
        out.push_str("&embed=1");
    }
    out
}

/// Parse a hash (with or without `#`) on top of the defaults. Returns the state and notes.
pub fn from_hash(hash: &str) -> (AppState, Vec<String>) {
    let mut state = AppState::default();
    let mut notes = Vec::new();
    let pairs: Vec<(&str, &str)> = hash
        .trim_start_matches('#')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    // The view first: every other key goes to the active view.
    if let Some((_, v)) = pairs.iter().rev().find(|(k, _)| *k == "view") {
        match ViewId::from_key(v) {
            Some(view) => state.view = view,
            None => notes.push(format!(
                "ignored view={v:?}: not a view (one of {})",
                ViewId::ALL.map(|v| v.key()).join(", ")
            )),
        }
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
            "theme" => match value {
                "dark" | "light" => {
                    state.theme = if value == "dark" {
                        ThemeChoice::Dark
                    } else {
                        ThemeChoice::Light
                    };
                    Some(true)
                }
                _ => Some(false),
            },
            "embed" => {
                state.embed = matches!(value, "1" | "true" | "");
                Some(true)
            }
            _ => match state.view {
                ViewId::Attention => state.attention.read_hash_key(key, value),
                ViewId::Compare => state.compare.read_hash_key(key, value),
                ViewId::Rope => crate::views::rope::read_hash_key(&mut state.rope, key, value),
                ViewId::Extension => crate::views::extension::read_hash_key(&mut state.extension, key, value),
                ViewId::Bias => state.bias.read_hash_key(key, value),
                ViewId::Sinusoidal => state.sinusoidal.read_hash_key(key, value),
                ViewId::Model => state.model.read_hash_key(key, value),
            },
        };
        match read {
            Some(true) => {}
            Some(false) => notes.push(format!("ignored {key}={value:?}: not a valid value")),
            None => notes.push(format!("ignored unknown key {key:?} for view {}", state.view.key())),
        }
    }
    notes.extend(state.sinusoidal.sanitize());
    notes.extend(state.attention.sanitize());
    notes.extend(state.compare.sanitize());
    notes.extend(state.rope.sanitize());
    notes.extend(state.extension.sanitize());
    notes.extend(state.bias.sanitize());
    notes.extend(state.model.sanitize());
    (state, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pe::sinusoidal::SinusoidalLayout;
    use crate::views::attention::ContentKind;
    use crate::views::scheme_choice::SchemeKind;

    #[test]
    fn sinusoidal_round_trip() {
        let mut state = AppState {
            view: ViewId::Sinusoidal,
            theme: ThemeChoice::Light,
            embed: true,
            ..Default::default()
        };
        state.sinusoidal.seq_len = 1000;
        state.sinusoidal.d_model = 64;
        state.sinusoidal.layout = SinusoidalLayout::Concat;
        let hash = to_hash(&state);
        assert!(hash.contains("view=sinusoidal") && hash.contains("len=1000"), "{hash}");
        let (back, notes) = from_hash(&format!("#{hash}"));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(back, state);
    }

    #[test]
    fn every_view_round_trips_with_view_and_len() {
        for view in ViewId::ALL {
            let state = AppState {
                view,
                ..Default::default()
            };
            let hash = to_hash(&state);
            assert!(
                hash.contains(&format!("view={}", view.key())) && hash.contains("&len="),
                "{hash}"
            );
            let (back, notes) = from_hash(&hash);
            assert!(notes.is_empty(), "{view:?}: {notes:?}");
            assert_eq!(back, state);
        }
    }

    #[test]
    fn out_of_range_and_unknown_values_are_clamped_with_notes() {
        let (state, notes) = from_hash("view=sinusoidal&len=999999&d=7&foo=bar&layout=zigzag&len=abc");
        assert_eq!(state.sinusoidal.seq_len, 4096);
        assert_eq!(state.sinusoidal.d_model, 8);
        assert_eq!(state.sinusoidal.layout, SinusoidalLayout::Interleaved);
        assert_eq!(notes.len(), 5, "{notes:?}");
    }

    #[test]
    fn attention_round_trip_and_len_goes_to_the_active_view() {
        let mut state = AppState {
            view: ViewId::Attention,
            ..Default::default()
        };
        let a = &mut state.attention;
        (a.scheme, a.seq_len, a.train_len, a.content, a.period) =
            (SchemeKind::Alibi, 3000, 512, ContentKind::Repeating, 12);
        (a.softmax, a.causal, a.head, a.rope_base, a.head_dim) = (false, false, 5, 500_000.0, 128);
        let hash = to_hash(&state);
        assert!(
            hash.contains("view=attention") && hash.contains("len=3000") && hash.contains("scheme=alibi"),
            "{hash}"
        );
        let (back, notes) = from_hash(&hash);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(back, state);
        // `len` before `view` still lands on the view named in the hash.
        let (s2, _) = from_hash("len=777&view=attention");
        assert_eq!(s2.attention.seq_len, 777);
        assert_eq!(s2.sinusoidal.seq_len, AppState::default().sinusoidal.seq_len);
    }

    #[test]
    fn attention_values_are_clamped() {
        let (s, notes) = from_hash("view=attention&len=100000&hd=7&head=42&base=-3&scheme=nope&scheme=bogus");
        assert_eq!(s.attention.seq_len, 8192);
        assert_eq!(s.attention.head_dim, 8);
        assert_eq!(s.attention.head, 7);
        assert_eq!(s.attention.rope_base, 100.0);
        assert_eq!(s.attention.scheme, SchemeKind::Nope);
        assert_eq!(notes.len(), 5, "{notes:?}");
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
            assert!(state.attention.seq_len >= 8);
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
                prop_assert_eq!(again.view, state.view);
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
