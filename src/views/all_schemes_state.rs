//! The settings shared by the views that show every scheme at once (Compare, Position bias):
//! one length, one training length, one token content, one head, one head dimension, one mask.

use serde::{Deserialize, Serialize};

use crate::pe::scheme::{self, HEADS, SchemeKind, SchemeParams};
use crate::pe::{PeError, PreparedLogits};
use crate::views::attention::{ContentKind, HEAD_DIM_RANGE, TRAIN_LEN_RANGE};
use crate::views::clamp_noted;

/// Lengths offered: all seven schemes are recomputed (N² cells each, CPU) on every change.
pub const SEQ_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=2048;

/// The serialisable settings of an all-schemes view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllSchemesState {
    pub seq_len: usize,
    pub train_len: usize,
    pub content: ContentKind,
    pub head: usize,
    pub head_dim: usize,
    /// Causal (each query sees keys `0..=m`) or bidirectional (all keys).
    #[serde(default = "causal_default")]
    pub causal: bool,
}

fn causal_default() -> bool {
    true
}

impl Default for AllSchemesState {
    fn default() -> Self {
        Self {
            seq_len: 512,
            train_len: 256,
            content: ContentKind::Identical,
            head: 2,
            head_dim: 64,
            causal: true,
        }
    }
}

impl AllSchemesState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        clamp_noted(&mut self.seq_len, SEQ_LEN_RANGE, "len", &mut notes);
        clamp_noted(&mut self.train_len, TRAIN_LEN_RANGE, "train", &mut notes);
        clamp_noted(&mut self.head_dim, HEAD_DIM_RANGE, "hd", &mut notes);
        clamp_noted(&mut self.head, 0..=HEADS - 1, "head", &mut notes);
        if self.head_dim % 2 == 1 {
            self.head_dim += 1;
        }
        notes
    }

    /// Append this view's keys to a URL hash.
    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&len={}&train={}&content={}&head={}&hd={}&causal={}",
            self.seq_len,
            self.train_len,
            self.content.key(),
            self.head,
            self.head_dim,
            u8::from(self.causal)
        ));
    }

    /// Read one URL key: `None` if it is not this view's, else whether the value was valid.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        let num = |v: &str| v.parse::<usize>().ok();
        let ok = match key {
            "len" => num(value).map(|n| self.seq_len = n).is_some(),
            "train" => num(value).map(|n| self.train_len = n).is_some(),
            "head" => num(value).map(|n| self.head = n).is_some(),
            "hd" => num(value).map(|n| self.head_dim = n).is_some(),
            "content" => ContentKind::from_key(value).map(|c| self.content = c).is_some(),
            "causal" => match value {
                "1" | "true" | "0" | "false" => {
                    self.causal = matches!(value, "1" | "true");
                    true
                }
                _ => false,
            },
            _ => return None,
        };
        Some(ok)
    }

    /// Prepared logits of one scheme under these settings (repeating pattern: period 16).
    pub fn prepare(&self, kind: SchemeKind) -> Result<PreparedLogits, PeError> {
        let scheme = scheme::build(
            kind,
            SchemeParams {
                head: self.head,
                rope_base: 10_000.0,
            },
        )?;
        let content = self.content.content(16, self.seq_len);
        PreparedLogits::new(&scheme, &content, self.head_dim, self.seq_len)
    }

    /// Side-panel controls shared by the all-schemes views; returns the length slider's response.
    pub fn controls_ui(&mut self, ui: &mut egui::Ui, len_label: &str) -> egui::Response {
        use crate::widgets::log_slider::log_slider_ui;
        use egui::RichText;
        ui.label(RichText::new(len_label).strong());
        let len_response = log_slider_ui(ui, &mut self.seq_len, SEQ_LEN_RANGE, "tokens");
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut self.train_len, TRAIN_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        ui.label(RichText::new("Token content").strong());
        ui.horizontal(|ui| {
            for c in ContentKind::ALL {
                ui.selectable_value(&mut self.content, c, c.key());
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Mask").strong())
            .on_hover_text("Causal: each query sees the keys up to itself. Bidirectional: every key.");
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.causal, true, "causal");
            ui.selectable_value(&mut self.causal, false, "bidirectional");
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Head").strong());
        ui.add(egui::Slider::new(&mut self.head, 0..=HEADS - 1).text("head"));
        ui.label(RichText::new("Head dimension d").strong());
        ui.add(
            egui::Slider::new(&mut self.head_dim, HEAD_DIM_RANGE)
                .step_by(2.0)
                .text("dims"),
        );
        self.sanitize();
        len_response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_keys_round_trip_and_clamp() {
        let s = AllSchemesState {
            seq_len: 900,
            train_len: 100,
            content: ContentKind::Random,
            head: 3,
            head_dim: 32,
            causal: false,
        };
        let mut h = String::new();
        s.write_hash(&mut h);
        let mut back = AllSchemesState::default();
        for pair in h.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').expect("key=value");
            assert_eq!(back.read_hash_key(k, v), Some(true), "{k}={v}");
        }
        assert_eq!(back, s);
        assert_eq!(back.read_hash_key("len", "x"), Some(false));
        assert_eq!(back.read_hash_key("zzz", "1"), None);
        assert_eq!(back.read_hash_key("causal", "maybe"), Some(false));
        assert!(!back.causal, "an invalid mask value keeps the mask");
        back.seq_len = 99_999;
        back.head_dim = 33;
        assert_eq!(back.sanitize().len(), 1);
        assert_eq!((back.seq_len, back.head_dim), (2048, 34));
    }
}
