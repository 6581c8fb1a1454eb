//! The app state as a human-writable URL hash: `view=sinusoidal&len=512&d=128`.
//!
//! Keys are short `key=value` pairs joined by `&`, always including `view` and `len`, plus `v`
//! (format version). Parsing never fails: unknown keys and out-of-range values are reported as
//! notes (shown to the user) and replaced by the nearest valid value.

use crate::app::AppState;
use crate::pe::sinusoidal::SinusoidalLayout;
use crate::theme::ThemeChoice;
use crate::views::ViewId;
use crate::widgets::heatmap::Aggregate;

/// Version of the hash format, written as `v=`.
pub const FORMAT_VERSION: u32 = 1;

/// Serialise `state` to a hash (without the leading `#`).
pub fn to_hash(state: &AppState) -> String {
    let s = &state.sinusoidal;
    let layout = match s.layout {
        SinusoidalLayout::Interleaved => "interleaved",
        SinusoidalLayout::Concat => "concat",
    };
    let agg = match s.aggregate {
        Aggregate::Mean => "mean",
        Aggregate::Max => "max",
    };
    let theme = match state.theme {
        ThemeChoice::Dark => "dark",
        ThemeChoice::Light => "light",
    };
    let mut out = format!(
        "v={FORMAT_VERSION}&view={}&len={}&d={}&layout={layout}&q={}&agg={agg}&theme={theme}",
        state.view.key(),
        s.seq_len,
        s.d_model,
        s.query_pos
    );
    if state.embed {
        out.push_str("&embed=1");
    }
    out
}

/// Parse a hash (with or without `#`) on top of the defaults. Returns the state and notes.
pub fn from_hash(hash: &str) -> (AppState, Vec<String>) {
    let mut state = AppState::default();
    let mut notes = Vec::new();
    let hash = hash.trim_start_matches('#');
    for pair in hash.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let s = &mut state.sinusoidal;
        let mut bad = || notes.push(format!("ignored {key}={value:?}: not a valid value"));
        match key {
            "v" => {
                if value.parse::<u32>().ok() != Some(FORMAT_VERSION) {
                    notes.push(format!("link format v={value} read as v={FORMAT_VERSION}"));
                }
            }
            "view" => match ViewId::from_key(value) {
                Some(v) => state.view = v,
                None => bad(),
            },
            "len" => match value.parse() {
                Ok(n) => s.seq_len = n,
                Err(_) => bad(),
            },
            "d" => match value.parse() {
                Ok(n) => s.d_model = n,
                Err(_) => bad(),
            },
            "q" => match value.parse() {
                Ok(n) => s.query_pos = n,
                Err(_) => bad(),
            },
            "layout" => match value {
                "interleaved" => s.layout = SinusoidalLayout::Interleaved,
                "concat" => s.layout = SinusoidalLayout::Concat,
                _ => bad(),
            },
            "agg" => match value {
                "mean" => s.aggregate = Aggregate::Mean,
                "max" => s.aggregate = Aggregate::Max,
                _ => bad(),
            },
            "theme" => match value {
                "dark" => state.theme = ThemeChoice::Dark,
                "light" => state.theme = ThemeChoice::Light,
                _ => bad(),
            },
            "embed" => state.embed = matches!(value, "1" | "true" | ""),
            _ => notes.push(format!("ignored unknown key {key:?}")),
        }
    }
    notes.extend(state.sinusoidal.sanitize());
    (state, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut state = AppState::default();
        state.sinusoidal.seq_len = 1000;
        state.sinusoidal.d_model = 64;
        state.sinusoidal.layout = SinusoidalLayout::Concat;
        state.theme = ThemeChoice::Light;
        state.embed = true;
        let hash = to_hash(&state);
        assert!(hash.contains("view=sinusoidal") && hash.contains("len=1000"), "{hash}");
        let (back, notes) = from_hash(&format!("#{hash}"));
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(back, state);
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
    fn empty_hash_gives_defaults() {
        let (state, notes) = from_hash("");
        assert_eq!(state, AppState::default());
        assert!(notes.is_empty());
    }
}
