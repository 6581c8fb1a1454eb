//! The app state as a human-writable URL hash: `view=attention&len=512&scheme=rope`.
//!
//! Keys are short `key=value` pairs joined by `&`, always including `view` and `len`, plus `v`
//! (format version). `len` is the active view's sequence length; every other key belongs to one
//! view (and is accepted whichever view is active). Only the active view's keys are written.
//! Parsing never fails: unknown keys and out-of-range values are reported as notes (shown to the
//! user) and replaced by the nearest valid value.

use crate::app::AppState;
use crate::pe::sinusoidal::SinusoidalLayout;
use crate::theme::ThemeChoice;
use crate::views::ViewId;
use crate::views::attention::ContentKind;
use crate::views::scheme_choice::SchemeKind;
use crate::widgets::heatmap::Aggregate;

/// Version of the hash format, written as `v=`.
pub const FORMAT_VERSION: u32 = 1;

/// Serialise `state` to a hash (without the leading `#`).
pub fn to_hash(state: &AppState) -> String {
    let theme = match state.theme {
        ThemeChoice::Dark => "dark",
        ThemeChoice::Light => "light",
    };
    let agg = |a: Aggregate| match a {
        Aggregate::Mean => "mean",
        Aggregate::Max => "max",
    };
    let mut out = format!("v={FORMAT_VERSION}&view={}", state.view.key());
    match state.view {
        ViewId::Sinusoidal => {
            let s = &state.sinusoidal;
            let layout = match s.layout {
                SinusoidalLayout::Interleaved => "interleaved",
                SinusoidalLayout::Concat => "concat",
            };
            out += &format!(
                "&len={}&d={}&layout={layout}&q={}&agg={}",
                s.seq_len,
                s.d_model,
                s.query_pos,
                agg(s.aggregate)
            );
        }
        ViewId::Attention => {
            let a = &state.attention;
            out += &format!(
                "&len={}&scheme={}&train={}&content={}&period={}&mode={}&causal={}&head={}&base={}&hd={}&agg={}",
                a.seq_len,
                a.scheme.key(),
                a.train_len,
                a.content.key(),
                a.period,
                if a.softmax { "softmax" } else { "logits" },
                u8::from(a.causal),
                a.head,
                a.rope_base,
                a.head_dim,
                agg(a.aggregate)
            );
        }
    }
    out += &format!("&theme={theme}");
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
    let pairs: Vec<(&str, &str)> = hash
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    // The view first: `len` goes to the active view.
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
        let s = &mut state.sinusoidal;
        let a = &mut state.attention;
        let mut bad = || notes.push(format!("ignored {key}={value:?}: not a valid value"));
        match key {
            "v" => {
                if value.parse::<u32>().ok() != Some(FORMAT_VERSION) {
                    notes.push(format!("link format v={value} read as v={FORMAT_VERSION}"));
                }
            }
            "view" => {}
            "len" => match (value.parse(), state.view) {
                (Ok(n), ViewId::Sinusoidal) => s.seq_len = n,
                (Ok(n), ViewId::Attention) => a.seq_len = n,
                (Err(_), _) => bad(),
            },
            "scheme" => match SchemeKind::from_key(value) {
                Some(k) => a.scheme = k,
                None => bad(),
            },
            "content" => match ContentKind::from_key(value) {
                Some(k) => a.content = k,
                None => bad(),
            },
            "mode" => match value {
                "softmax" => a.softmax = true,
                "logits" => a.softmax = false,
                _ => bad(),
            },
            "causal" => match value {
                "1" | "true" => a.causal = true,
                "0" | "false" => a.causal = false,
                _ => bad(),
            },
            "train" | "period" | "head" | "hd" => match value.parse() {
                Ok(n) => {
                    *match key {
                        "train" => &mut a.train_len,
                        "period" => &mut a.period,
                        "head" => &mut a.head,
                        _ => &mut a.head_dim,
                    } = n
                }
                Err(_) => bad(),
            },
            "base" => match value.parse() {
                Ok(b) => a.rope_base = b,
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
                "mean" => (s.aggregate, a.aggregate) = (Aggregate::Mean, Aggregate::Mean),
                "max" => (s.aggregate, a.aggregate) = (Aggregate::Max, Aggregate::Max),
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
    notes.extend(state.attention.sanitize());
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
        state.view = ViewId::Sinusoidal;
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
    fn empty_hash_gives_defaults() {
        let (state, notes) = from_hash("");
        assert_eq!(state, AppState::default());
        assert!(notes.is_empty());
    }
}
