//! View: every scheme side by side as small multiples at one shared length — the quickest way to
//! see how differently NoPE, APE, T5, ALiBi, RoPE, xPos and KERPLE spend their attention, and what
//! happens to each past the training length.

use egui::{RichText, Ui};
use serde::{Deserialize, Serialize};

use crate::compute::attention_map::{self, AttentionMap, MapRequest};
use crate::pe::{Content, PreparedLogits};
use crate::theme::{Colormap, ThemeChoice};
use crate::views::attention::{ContentKind, HEAD_DIM_RANGE, TRAIN_LEN_RANGE};
use crate::views::scheme_choice::{self, HEADS, SchemeKind, SchemeParams};
use crate::widgets::heatmap::{Aggregate, Axes, Grid, Heatmap};
use crate::widgets::log_slider::log_slider_ui;

/// Lengths offered here: all seven schemes are recomputed (N² cells each, CPU) on every change.
pub const SEQ_LEN_RANGE: std::ops::RangeInclusive<usize> = 8..=2048;

/// Side of each panel's aggregated map, in cells.
pub const PANEL_SIDE: usize = 128;

/// The serialisable settings of this view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompareState {
    pub seq_len: usize,
    pub train_len: usize,
    pub content: ContentKind,
    pub head: usize,
    pub head_dim: usize,
}

impl Default for CompareState {
    fn default() -> Self {
        Self {
            seq_len: 512,
            train_len: 256,
            content: ContentKind::Identical,
            head: 2,
            head_dim: 64,
        }
    }
}

impl CompareState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let mut clamp = |v: &mut usize, r: std::ops::RangeInclusive<usize>, name: &str| {
            let c = (*v).clamp(*r.start(), *r.end());
            if c != *v {
                notes.push(format!("{name}={v} is outside {}…{}; using {c}", r.start(), r.end()));
                *v = c;
            }
        };
        clamp(&mut self.seq_len, SEQ_LEN_RANGE, "len");
        clamp(&mut self.train_len, TRAIN_LEN_RANGE, "train");
        clamp(&mut self.head_dim, HEAD_DIM_RANGE, "hd");
        clamp(&mut self.head, 0..=HEADS - 1, "head");
        if self.head_dim % 2 == 1 {
            self.head_dim += 1;
        }
        notes
    }

    /// Append this view's keys to a URL hash.
    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&len={}&train={}&content={}&head={}&hd={}",
            self.seq_len,
            self.train_len,
            self.content.key(),
            self.head,
            self.head_dim
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
            _ => return None,
        };
        Some(ok)
    }

    fn content(&self) -> Content {
        match self.content {
            ContentKind::Identical => Content::Identical,
            ContentKind::Random => Content::Random { seed: 7 },
            ContentKind::Repeating => Content::Repeating {
                period: 16.min(self.seq_len),
                seed: 7,
            },
        }
    }

    /// The softmax map of one scheme under this state.
    pub fn compute_panel(&self, kind: SchemeKind) -> Result<AttentionMap, String> {
        let scheme = scheme_choice::build(
            kind,
            SchemeParams {
                head: self.head,
                rope_base: 10_000.0,
            },
        )
        .map_err(|e| e.to_string())?;
        let prepared =
            PreparedLogits::new(&scheme, &self.content(), self.head_dim, self.seq_len).map_err(|e| e.to_string())?;
        let req = MapRequest {
            n: self.seq_len,
            causal: true,
            softmax: true,
            out_side: PANEL_SIDE,
            aggregate: Aggregate::Mean,
            train_len: self.train_len,
        };
        attention_map::compute(&prepared, &req).map_err(|e| e.to_string())
    }
}

struct Panel {
    kind: SchemeKind,
    map: Result<AttentionMap, String>,
    heatmap: Heatmap,
}

/// The view: state plus one cached map per scheme.
#[derive(Default)]
pub struct CompareView {
    pub state: CompareState,
    cached_for: Option<CompareState>,
    panels: Vec<Panel>,
}

impl CompareView {
    pub fn new(state: CompareState) -> Self {
        Self {
            state,
            ..Default::default()
        }
    }

    /// Errors of any panel.
    pub fn errors(&self) -> Vec<String> {
        self.panels
            .iter()
            .filter_map(|p| p.map.as_ref().err().map(|e| format!("{}: {e}", p.kind.title())))
            .collect()
    }

    /// One line per scheme: title and its summary statistics.
    pub fn summaries(&self) -> Vec<(SchemeKind, String)> {
        self.panels.iter().map(|p| (p.kind, summary(&p.map))).collect()
    }

    pub fn controls_ui(&mut self, ui: &mut Ui) -> egui::Response {
        let s = &mut self.state;
        ui.label(RichText::new("Sequence length N (all panels)").strong());
        let len_response = log_slider_ui(ui, &mut s.seq_len, SEQ_LEN_RANGE, "tokens");
        ui.label(RichText::new("Training length L_train").strong());
        log_slider_ui(ui, &mut s.train_len, TRAIN_LEN_RANGE, "tokens");
        ui.add_space(6.0);
        ui.label(RichText::new("Token content").strong());
        ui.horizontal(|ui| {
            for c in ContentKind::ALL {
                ui.selectable_value(&mut s.content, c, c.key());
            }
        });
        ui.add_space(6.0);
        ui.label(RichText::new("Head").strong());
        ui.add(egui::Slider::new(&mut s.head, 0..=HEADS - 1).text("head"));
        ui.label(RichText::new("Head dimension d").strong());
        ui.add(
            egui::Slider::new(&mut s.head_dim, HEAD_DIM_RANGE)
                .step_by(2.0)
                .text("dims"),
        );
        self.state.sanitize();
        len_response
    }

    pub fn update(&mut self, ctx: &egui::Context) {
        if self.cached_for.as_ref() == Some(&self.state) {
            return;
        }
        let old = std::mem::take(&mut self.panels);
        let mut old: Vec<Option<Panel>> = old.into_iter().map(Some).collect();
        for kind in SchemeKind::ALL {
            let map = self.state.compute_panel(kind);
            // Reuse the panel's texture when there is one.
            let mut heatmap = old
                .iter_mut()
                .find_map(|p| p.take_if(|p| p.kind == kind))
                .map(|p| p.heatmap)
                .unwrap_or_default();
            if let Ok(m) = &map {
                let grid = Grid {
                    values: &m.values,
                    rows: m.rows,
                    cols: m.cols,
                };
                heatmap.set(ctx, kind.key(), grid, m.range, Colormap::Viridis, Aggregate::Mean);
            }
            self.panels.push(Panel { kind, map, heatmap });
        }
        self.cached_for = Some(self.state.clone());
    }

    pub fn ui(&mut self, ui: &mut Ui, theme: ThemeChoice) {
        ui.heading("Compare — every scheme at the same length");
        ui.label(
            RichText::new(
                "Each panel is the causal softmax attention (query ↓, key →) of one scheme with the same tokens and \
                 length; the dashed lines mark L_train. Schemes with a built-in distance penalty (ALiBi, T5, KERPLE, \
                 xPos) stay local past L_train; NoPE spreads evenly, and RoPE ripples (Kazemnejad et al. 2023).",
            )
            .color(theme.weak_text()),
        );
        let cols = 4;
        let avail = ui.available_size();
        let side = ((avail.x - 16.0) / cols as f32 - 12.0)
            .min((avail.y - 20.0) / 2.0 - 60.0)
            .max(90.0);
        let n = self.state.seq_len;
        let train = self.state.train_len;
        egui::Grid::new("compare_grid").spacing([12.0, 8.0]).show(ui, |ui| {
            for (i, p) in self.panels.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.label(RichText::new(p.kind.title()).strong().color(theme.accent_text()));
                    match &p.map {
                        Ok(m) => {
                            let grid = Grid {
                                values: &m.values,
                                rows: m.rows,
                                cols: m.cols,
                            };
                            let axes = Axes {
                                row_label: "",
                                col_label: "",
                                rows: n,
                                cols: n,
                            };
                            let (plot, _) = p.heatmap.ui(ui, egui::vec2(side, side), grid, &axes);
                            crate::views::attention::train_marker(ui, plot, train, n, theme.warn());
                            ui.label(RichText::new(summary(&p.map)).small());
                        }
                        Err(e) => {
                            ui.colored_label(theme.error(), e);
                        }
                    }
                });
                if i % cols == cols - 1 {
                    ui.end_row();
                }
            }
        });
    }
}

/// "H̄ 3.1 nats · 12 % beyond L_train" for one panel.
fn summary(map: &Result<AttentionMap, String>) -> String {
    match map {
        Ok(m) => match m.mass_beyond_train {
            Some(b) => format!(
                "mean entropy {:.2} nats · {:.1} % at distance ≥ L_train",
                m.mean_entropy_nats,
                b * 100.0
            ),
            None => format!("mean entropy {:.2} nats · N ≤ L_train", m.mean_entropy_nats),
        },
        Err(e) => format!("error: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_schemes_compute_and_alibi_is_more_local_than_nope() {
        let state = CompareState {
            seq_len: 64,
            train_len: 16,
            ..Default::default()
        };
        let nope = state.compute_panel(SchemeKind::Nope).expect("nope");
        let alibi = state.compute_panel(SchemeKind::Alibi).expect("alibi");
        for kind in SchemeKind::ALL {
            assert!(state.compute_panel(kind).is_ok(), "{kind:?}");
        }
        assert!(alibi.mean_entropy_nats < nope.mean_entropy_nats);
        let (a, b) = (
            alibi.mass_beyond_train.expect("N > L"),
            nope.mass_beyond_train.expect("N > L"),
        );
        assert!(a < b, "ALiBi {a} should put less mass beyond L_train than NoPE {b}");
    }

    #[test]
    fn hash_keys_round_trip() {
        let mut s = CompareState {
            seq_len: 900,
            train_len: 100,
            content: ContentKind::Random,
            head: 3,
            head_dim: 32,
        };
        let mut h = String::new();
        s.write_hash(&mut h);
        let mut back = CompareState::default();
        for pair in h.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').expect("key=value");
            assert_eq!(back.read_hash_key(k, v), Some(true), "{k}={v}");
        }
        assert_eq!(back, s);
        assert_eq!(s.read_hash_key("len", "x"), Some(false));
        assert_eq!(s.read_hash_key("zzz", "1"), None);
    }
}
