//! The Positions view's settings, URL keys and presets (one per paper).

use serde::{Deserialize, Serialize};

use crate::pe::id_attention::IdScheme;
use crate::pe::position_ids::{self, IdRule, Segment};
use crate::pe::{PeError, alibi, rope, scheme::HEADS};
use crate::views::clamp_noted;

/// The model panel's recall length N (the shipped recall models were trained at 32).
pub const MODEL_LEN_RANGE: std::ops::RangeInclusive<usize> = 16..=256;
pub const TRAIN_LEN_RANGE: std::ops::RangeInclusive<usize> = 4..=1024;
pub const HEAD_DIM_RANGE: std::ops::RangeInclusive<usize> = 8..=256;
/// Most tokens the view lays out (its attention map has `n²` cells, recomputed on every edit).
pub const MAX_VIEW_TOKENS: usize = 512;

/// Which scheme draws the attention map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MapScheme {
    #[default]
    Rope,
    Alibi,
    T5,
}

impl MapScheme {
    pub const ALL: [MapScheme; 3] = [Self::Rope, Self::Alibi, Self::T5];

    pub fn key(self) -> &'static str {
        match self {
            Self::Rope => "rope",
            Self::Alibi => "alibi",
            Self::T5 => "t5",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Rope => "RoPE",
            Self::Alibi => "ALiBi",
            Self::T5 => "T5 bias",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// A named starting point: segments, rule and training length, after a paper.
pub struct Preset {
    pub name: &'static str,
    pub segments: &'static str,
    pub rule: &'static str,
    pub train_len: usize,
}

/// The presets, in the order of the preset menu.
pub const PRESETS: [Preset; 7] = [
    Preset {
        name: "V2PE: visual tokens step by 1/4",
        segments: "text:4,image:96,text:4",
        rule: "v2pe:0.25",
        train_len: 32,
    },
    Preset {
        name: "MouSi: one id per image",
        segments: "text:6,image:24,text:4,image:24,text:6",
        rule: "shared",
        train_len: 32,
    },
    Preset {
        name: "Uni-Encoder: candidates restart",
        segments: "text:16,candidate:8,candidate:8,candidate:8",
        rule: "restart",
        train_len: 32,
    },
    Preset {
        name: "PINE: documents by importance",
        segments: "text:4,document:12,document:12,document:12,text:6",
        rule: "pine:0",
        train_len: 64,
    },
    Preset {
        name: "LongHeads: chunks per head",
        segments: "text:96",
        rule: "longheads:8:4:0",
        train_len: 32,
    },
    Preset {
        name: "Windowed RoPE (A²ATS)",
        segments: "text:96",
        rule: "windowed:16",
        train_len: 32,
    },
    Preset {
        name: "Plain ids (RoFormer)",
        segments: "text:4,image:96,text:4",
        rule: "plain",
        train_len: 32,
    },
];

/// The serialisable settings of the Positions view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PositionsState {
    /// Segments in the text form of `pe::position_ids::parse_segments`.
    pub segments: String,
    pub rule: IdRule,
    pub scheme: MapScheme,
    /// Training length of the angle-coverage panel.
    pub train_len: usize,
    pub head_dim: usize,
    pub base: f64,
    /// ALiBi slope / T5 strength of this head (of 8).
    pub head: usize,
    /// The model panel's recall length N.
    pub model_len: usize,
}

impl Default for PositionsState {
    fn default() -> Self {
        let p = &PRESETS[0];
        Self {
            segments: p.segments.into(),
            rule: position_ids::parse_rule(p.rule).unwrap_or(IdRule::Plain),
            scheme: MapScheme::Rope,
            train_len: p.train_len,
            head_dim: 64,
            base: 10_000.0,
            head: 0,
            model_len: 128,
        }
    }
}

impl PositionsState {
    /// The segments, parsed (the state keeps only valid text: see [`PositionsState::sanitize`]).
    pub fn parsed_segments(&self) -> Result<Vec<Segment>, PeError> {
        let segments = position_ids::parse_segments(&self.segments)?;
        let n: usize = segments.iter().map(|s| s.len).sum();
        if n > MAX_VIEW_TOKENS {
            return Err(PeError::invalid(
                "segments",
                format!("{n} tokens"),
                format!("at most {MAX_VIEW_TOKENS} tokens in this view"),
            ));
        }
        Ok(segments)
    }

    /// Apply a preset.
    pub fn apply_preset(&mut self, p: &Preset) {
        self.segments = p.segments.into();
        if let Ok(rule) = position_ids::parse_rule(p.rule) {
            self.rule = rule;
        }
        self.train_len = p.train_len;
    }

    /// The preset this state matches, if any.
    pub fn preset(&self) -> Option<&'static Preset> {
        PRESETS.iter().find(|p| {
            p.segments == self.segments
                && position_ids::parse_rule(p.rule).is_ok_and(|r| r == self.rule)
                && p.train_len == self.train_len
        })
    }

    /// The scheme of the attention map.
    pub fn id_scheme(&self) -> Result<IdScheme, PeError> {
        let head = self.head.min(HEADS - 1);
        Ok(match self.scheme {
            MapScheme::Rope => IdScheme::Rope {
                inv_freq: rope::default_inv_freq(self.head_dim, self.base)?,
            },
            MapScheme::Alibi => IdScheme::Alibi {
                slope: alibi::slopes(HEADS)?[head],
            },
            MapScheme::T5 => IdScheme::t5(0.5 * (head + 1) as f32)?,
        })
    }

    /// The rule the model panel compares with plain ids: the chosen rule if a trained model can
    /// run it (V2PE, shared ids, windowed RoPE), else V2PE with the largest `δ = 1/2^k` that
    /// brings N tokens inside the trained positions.
    pub fn model_rule(&self, train_len: usize) -> IdRule {
        if self.rule.ids_only() && self.rule != IdRule::Plain {
            return self.rule;
        }
        let mut delta = 1.0;
        while self.model_len as f64 * delta > train_len as f64 && delta > position_ids::MIN_DELTA {
            delta /= 2.0;
        }
        IdRule::V2pe { delta }
    }

    /// Clamp every field into its range; a note per change.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        clamp_noted(&mut self.model_len, MODEL_LEN_RANGE, "len", &mut notes);
        clamp_noted(&mut self.train_len, TRAIN_LEN_RANGE, "train", &mut notes);
        clamp_noted(&mut self.head_dim, HEAD_DIM_RANGE, "hd", &mut notes);
        crate::views::even_noted(&mut self.head_dim, "hd", &mut notes);
        clamp_noted(&mut self.head, 0..=HEADS - 1, "head", &mut notes);
        if !self.base.is_finite() || self.base <= 1.0 || self.base > 1e9 {
            notes.push(format!("base={} is outside 1…1e9; using 10000", self.base));
            self.base = 10_000.0;
        }
        if let Err(e) = self.parsed_segments() {
            notes.push(format!("seg: {e}; using {}", PRESETS[0].segments));
            self.segments = PRESETS[0].segments.into();
        }
        if let Err(e) = self.rule.validate() {
            notes.push(format!("rule: {e}; using plain ids"));
            self.rule = IdRule::Plain;
        }
        notes
    }

    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&len={}&seg={}&rule={}&scheme={}&train={}&hd={}&base={}&head={}",
            self.model_len,
            self.segments,
            position_ids::rule_to_string(&self.rule),
            self.scheme.key(),
            self.train_len,
            self.head_dim,
            self.base,
            self.head
        ));
    }

    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        let ok = match key {
            "len" => crate::views::parse_into(&mut self.model_len, value),
            "train" => crate::views::parse_into(&mut self.train_len, value),
            "hd" => crate::views::parse_into(&mut self.head_dim, value),
            "head" => crate::views::parse_into(&mut self.head, value),
            "base" => crate::views::parse_into(&mut self.base, value),
            "seg" => match position_ids::parse_segments(value) {
                Ok(s) => {
                    self.segments = position_ids::segments_to_string(&s);
                    true
                }
                Err(_) => false,
            },
            "rule" => position_ids::parse_rule(value).map(|r| self.rule = r).is_ok(),
            "scheme" => MapScheme::from_key(value).map(|s| self.scheme = s).is_some(),
            _ => return None,
        };
        Some(ok)
    }
}
