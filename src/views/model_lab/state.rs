//! The Model lab's serialisable state, its URL keys and its explanation text.

use serde::{Deserialize, Serialize};

use crate::model::{PeKind, RopeOptions, model_name};
use crate::pe::extension::{ExtensionMethod, ExtensionParams};
use crate::tasks::TaskKind;

/// Evaluation length, in tokens (the tasks' limits and 8× the training length).
pub const LEN_RANGE: std::ops::RangeInclusive<usize> = 6..=256;
/// Extension factor `s`.
pub const FACTOR_RANGE: std::ops::RangeInclusive<f64> = 1.0..=16.0;
/// Sample index (which evaluation sample is shown).
pub const SAMPLE_RANGE: std::ops::RangeInclusive<u64> = 0..=9999;
/// Samples behind the live accuracy read-out.
pub const LIVE_SAMPLES: usize = 64;
/// Samples per length of the live extension curve.
pub const CURVE_SAMPLES: usize = 32;
/// Seed of the evaluation samples (same as the shipped metadata and `poslens eval`).
pub const EVAL_SEED: u64 = 1234;

/// The serialisable settings of this view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelLabState {
    pub task: TaskKind,
    pub pe: PeKind,
    /// Evaluation length `N`, in tokens.
    pub seq_len: usize,
    /// RoPE context-extension method (`None`: plain RoPE). Ignored for other encodings.
    pub method: Option<ExtensionMethod>,
    /// Scale factor `s` of the method.
    pub factor: f64,
    /// Which evaluation sample is shown (0 = the first of the stream the accuracy uses).
    pub sample: u64,
    /// Plot per-token accuracy instead of exact match.
    pub token_metric: bool,
    /// Learned APE: run past the table by interpolating its rows (LongEmbed).
    pub interp: bool,
    /// Fit the linear position probe of every layer with each job.
    pub probe: bool,
    /// The reader's own sample as text (`tasks::input`); empty: the seeded sample.
    pub input: String,
}

impl Default for ModelLabState {
    fn default() -> Self {
        Self {
            task: TaskKind::Copy,
            pe: PeKind::Rope,
            seq_len: 32,
            method: None,
            factor: 4.0,
            sample: 0,
            token_metric: false,
            interp: false,
            probe: false,
            input: String::new(),
        }
    }
}

impl ModelLabState {
    /// Clamp every field into its allowed range; returns notes about what was changed.
    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        crate::views::clamp_noted(&mut self.seq_len, LEN_RANGE, "len", &mut notes);
        if !self.factor.is_finite() || !FACTOR_RANGE.contains(&self.factor) {
            let c = if self.factor.is_finite() {
                self.factor.clamp(*FACTOR_RANGE.start(), *FACTOR_RANGE.end())
            } else {
                4.0
            };
            notes.push(format!("factor={} is outside 1…16; using {c}", self.factor));
            self.factor = c;
        }
        if self.sample > *SAMPLE_RANGE.end() {
            notes.push(format!("sample={} is outside 0…9999; using 0", self.sample));
            self.sample = 0;
        }
        notes
    }

    /// The RoPE options for a model trained at `train_len` with `head_dim`.
    pub fn rope_options(&self, train_len: usize, head_dim: usize) -> RopeOptions {
        match (self.pe, self.method) {
            (PeKind::Rope, Some(m)) => {
                let p = ExtensionParams::new(m, self.factor, train_len, head_dim);
                RopeOptions {
                    scaling: p.scaling(),
                    map: p.position_map(),
                    ids: None,
                    interpolate_learned: false,
                }
            }
            (PeKind::Learned, _) if self.interp => RopeOptions {
                interpolate_learned: true,
                ..RopeOptions::default()
            },
            _ => RopeOptions::default(),
        }
    }

    /// Whether the live curve is measured (a RoPE extension method, or an interpolated learned
    /// table), and its legend label.
    pub fn live_curve_label(&self) -> Option<String> {
        match (self.pe, self.method) {
            (PeKind::Rope, Some(m)) => Some(format!("RoPE + {}", m.title())),
            (PeKind::Learned, _) if self.interp => Some("learned APE, table interpolated (LongEmbed)".into()),
            _ => None,
        }
    }

    /// The reader's own sample, if one is typed: parsed, or what is wrong with it.
    pub fn given(&self) -> Option<Result<crate::tasks::Sample, String>> {
        let text = self.input.trim();
        (!text.is_empty()).then(|| crate::tasks::input::parse(self.task, text))
    }

    pub fn name(&self) -> String {
        model_name(self.task, self.pe)
    }

    /// Appends this view's URL keys (`&task=…&pe=…&len=…`, then the extension and sample).
    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&task={}&pe={}&len={}",
            self.task.key(),
            self.pe.key(),
            self.seq_len
        ));
        if let Some(m) = self.method {
            out.push_str(&format!("&method={}&factor={}", m.key(), self.factor));
        }
        if self.sample != 0 {
            out.push_str(&format!("&sample={}", self.sample));
        }
        if self.token_metric {
            out.push_str("&metric=token");
        }
        if self.interp {
            out.push_str("&interp=1");
        }
        if self.probe {
            out.push_str("&probe=1");
        }
        // Only an input that parses goes into the link (the box keeps what is being typed).
        if self.given().is_some_and(|g| g.is_ok()) {
            out.push_str(&format!("&input={}", encode_input(self.input.trim())));
        }
    }

    /// Reads one URL key: `Some(true)` read, `Some(false)` bad value, `None` not this view's key.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        Some(match key {
            "task" => TaskKind::from_key(value).map(|t| self.task = t).is_ok(),
            "pe" => PeKind::from_key(value).map(|p| self.pe = p).is_some(),
            "len" => value.parse().map(|v| self.seq_len = v).is_ok(),
            "method" => match value {
                "none" => {
                    self.method = None;
                    true
                }
                v => ExtensionMethod::from_key(v).map(|m| self.method = Some(m)).is_some(),
            },
            "factor" => value.parse().map(|v| self.factor = v).is_ok(),
            "sample" => value.parse().map(|v| self.sample = v).is_ok(),
            "interp" => match value {
                "0" | "1" => {
                    self.interp = value == "1";
                    true
                }
                _ => false,
            },
            "input" => {
                let text = decode_input(value);
                let max = crate::tasks::input::MAX_INPUT_CHARS;
                self.input = text.chars().take(max).collect();
                text.chars().count() <= max
            }
            "probe" => match value {
                "0" | "1" => {
                    self.probe = value == "1";
                    true
                }
                _ => false,
            },
            "metric" => match value {
                "exact" | "token" => {
                    self.token_metric = value == "token";
                    true
                }
                _ => false,
            },
            _ => return None,
        })
    }
}

/// The input text as a link value: spaces become `+`; anything but letters, digits and
/// `= ? , . _ -` is percent-encoded (UTF-8), so `&` or `#` typed in the box cannot break the link.
pub(super) fn encode_input(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' ' => out.push('+'),
            c if c.is_ascii_alphanumeric() || "=?,._-".contains(c) => out.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// The inverse of [`encode_input`]; malformed escapes are kept as typed, invalid UTF-8 replaced.
pub(super) fn decode_input(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Two or three plain sentences per encoding, naming the paper.
pub fn explanation(task: TaskKind, pe: PeKind) -> String {
    let task_text = match task {
        TaskKind::Copy => "Each model reads a string of distinct symbols, a separator, and must copy the string.",
        TaskKind::Recall => {
            "Each model reads key–value pairs, a separator and one of the keys, and must answer its value."
        }
    };
    let pe_text = match pe {
        PeKind::Nope => {
            "NoPE has no positional encoding at all; the causal mask alone lets it infer order. Kazemnejad et al. \
             (2023) found it generalises past L_train better than the explicit encodings on tasks like these."
        }
        PeKind::Learned => {
            "Learned APE (Gehring et al. 2017; GPT-2) adds a trained vector per position, so it has nothing to add \
             beyond its table: the model simply cannot run past L_train."
        }
        PeKind::Sinusoidal => {
            "Sinusoidal APE (Vaswani et al. 2017) can be computed at any position, but positions past L_train were \
             never seen in training, and accuracy usually collapses right after it."
        }
        PeKind::T5 => {
            "T5's relative bias (Raffel et al. 2020) learns one scalar per head and log-spaced distance bucket; \
             distances beyond the last bucket share its value, which helps it degrade gracefully."
        }
        PeKind::Alibi => {
            "ALiBi (Press et al. 2022) penalises attention linearly with distance. It was designed to extrapolate \
             perplexity, but tasks that must reach far back (copying the start of a long string) suffer."
        }
        PeKind::Rope => {
            "RoPE (Su et al. 2021) rotates queries and keys by position; past L_train the slow pairs reach angles \
             never seen in training. Pick a context-extension method to see whether rescaling rescues it."
        }
    };
    format!(
        "{task_text} Six 3-layer models differ only in their positional encoding, all trained on lengths ≤ 32; drag N \
         past the dashed L_train line and watch accuracy and attention fall apart. {pe_text}"
    )
}

/// The Model lab part of `window.poslens.status()`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ModelLabStatus {
    pub task: String,
    pub pe: String,
    pub seq_len: usize,
    /// "shipped" or "yours" (a model the reader opened from files).
    pub source: String,
    /// The reader's model, if one was opened (`yours/<task>-<pe>`).
    pub yours: Option<String>,
    /// What became of the last files picked or dropped (waiting for the other file, refused).
    pub files_message: Option<String>,
    /// The "Open your model" button, `[x, y, w, h]` in CSS px.
    pub open_button: Option<[f32; 4]>,
    pub loaded_model: Option<String>,
    pub metadata_loaded: usize,
    pub busy: bool,
    pub exact_match: Option<f64>,
    pub token_accuracy: Option<f64>,
    pub samples: Option<usize>,
    pub compute_ms: Option<f64>,
    /// One traced forward pass (batch 1) with read-back, in ms.
    pub trace_ms: Option<f64>,
    /// Set when the model cannot run at this length (learned APE past its table).
    pub cannot_run: Option<String>,
    pub extension_curve: Option<Vec<Option<f64>>>,
    /// Recall: exact match by depth of the queried pair, first … last quarter.
    pub by_depth: Vec<f64>,
    /// With the probe on: R² per layer (input, blocks) and length (L_train, N).
    pub probe_r2: Option<Vec<Vec<Option<f64>>>>,
    /// Learned APE: side of the position-similarity map on screen (the table's rows, or N
    /// interpolated rows with `interp`).
    pub learned_similarity_side: Option<usize>,
    /// The "your own input" text box `[x, y, w, h]` in CSS px, and why its text does not parse.
    pub input_box: Option<[f32; 4]>,
    pub input_error: Option<String>,
    /// Tokens of the traced sample on screen, and how many of its answer tokens are right.
    pub trace_len: Option<usize>,
    pub trace_right: Option<usize>,
}
