//! The Train lab's settings (serde, URL keys) and its presets.

use serde::{Deserialize, Serialize};

use crate::model::PeKind;
use crate::model::train_spec::TrainSpec;
use crate::pe::extension::ExtensionMethod;
use crate::tasks::TaskKind;

use super::super::model_lab::{FACTOR_RANGE, LEN_RANGE};
use crate::views::{clamp_noted, parse_into};

pub const STEPS_RANGE: std::ops::RangeInclusive<usize> = 1..=50_000;
pub const LR_RANGE: std::ops::RangeInclusive<f64> = 1e-5..=0.1;
pub const SEED_MAX: u64 = 1_000_000;

/// A named recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Sized for a browser tab: copy to ≥ 95 % in about a minute on the CPU path.
    #[default]
    Quick,
    /// The shipped models' recipe (`poslens train`): slower, 3 layers, L_train 32.
    Paper,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::Quick, Preset::Paper];
    pub fn key(self) -> &'static str {
        match self {
            Self::Quick => "quick",
            Self::Paper => "paper",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Quick => "quick (browser)",
            Self::Paper => "paper-like (shipped recipe)",
        }
    }
    pub fn spec(self, task: TaskKind, pe: PeKind) -> TrainSpec {
        match self {
            Self::Quick => TrainSpec::quick(task, pe),
            Self::Paper => TrainSpec::shipped(task, pe),
        }
    }
}

/// Everything the user sets in the Train lab.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainLabState {
    pub task: TaskKind,
    pub pe: PeKind,
    pub preset: Preset,
    pub train_len: usize,
    pub steps: usize,
    pub seed: u64,
    pub lr: f64,
    /// Probe length N: the attention and the answer of the current weights at this length.
    pub seq_len: usize,
    /// RoPE only: a context-extension method for the after-training curve.
    pub method: Option<ExtensionMethod>,
    pub factor: f64,
    /// `run=1`: start training as soon as the page has loaded.
    pub autostart: bool,
}

impl Default for TrainLabState {
    fn default() -> Self {
        let spec = Preset::Quick.spec(TaskKind::Copy, PeKind::Rope);
        Self {
            task: TaskKind::Copy,
            pe: PeKind::Rope,
            preset: Preset::Quick,
            train_len: spec.train_len,
            steps: spec.steps,
            seed: spec.seed,
            lr: spec.learning_rate,
            seq_len: spec.train_len,
            method: None,
            factor: 4.0,
            autostart: false,
        }
    }
}

impl TrainLabState {
    /// Set the steps, L_train and learning rate from the preset.
    pub fn apply_preset(&mut self) {
        let s = self.preset.spec(self.task, self.pe);
        self.train_len = s.train_len;
        self.steps = s.steps;
        self.lr = s.learning_rate;
    }

    /// The run these settings describe (batch and depth come from the preset).
    pub fn spec(&self) -> TrainSpec {
        TrainSpec {
            seed: self.seed,
            steps: self.steps,
            train_len: self.train_len,
            learning_rate: self.lr,
            ..self.preset.spec(self.task, self.pe)
        }
    }

    pub fn train_len_range(&self) -> std::ops::RangeInclusive<usize> {
        self.task.min_len()..=64.min(self.task.max_len())
    }

    pub fn sanitize(&mut self) -> Vec<String> {
        let mut notes = Vec::new();
        let train_range = self.train_len_range();
        clamp_noted(&mut self.train_len, train_range, "train", &mut notes);
        clamp_noted(&mut self.steps, STEPS_RANGE, "steps", &mut notes);
        clamp_noted(&mut self.seq_len, LEN_RANGE, "len", &mut notes);
        if self.seed > SEED_MAX {
            notes.push(format!("seed={} is outside 0…{SEED_MAX}; using {SEED_MAX}", self.seed));
            self.seed = SEED_MAX;
        }
        if !(self.lr.is_finite() && LR_RANGE.contains(&self.lr)) {
            let c = if self.lr.is_finite() {
                self.lr.clamp(*LR_RANGE.start(), *LR_RANGE.end())
            } else {
                Preset::Quick.spec(self.task, self.pe).learning_rate
            };
            notes.push(format!(
                "lr={} is outside {:e}…{}; using {c}",
                self.lr,
                LR_RANGE.start(),
                LR_RANGE.end()
            ));
            self.lr = c;
        }
        if !(self.factor.is_finite() && FACTOR_RANGE.contains(&self.factor)) {
            notes.push(format!("factor={} is outside 1…16; using 4", self.factor));
            self.factor = 4.0;
        }
        notes
    }

    pub fn write_hash(&self, out: &mut String) {
        out.push_str(&format!(
            "&task={}&pe={}&preset={}&train={}&steps={}&seed={}&lr={}&len={}",
            self.task.key(),
            self.pe.key(),
            self.preset.key(),
            self.train_len,
            self.steps,
            self.seed,
            self.lr,
            self.seq_len
        ));
        if let Some(m) = self.method {
            out.push_str(&format!("&method={}&factor={}", m.key(), self.factor));
        }
        if self.autostart {
            out.push_str("&run=1");
        }
    }

    /// `preset=` sets the steps, L_train and learning rate; keys after it override them.
    pub fn read_hash_key(&mut self, key: &str, value: &str) -> Option<bool> {
        Some(match key {
            "task" => TaskKind::from_key(value).map(|t| self.task = t).is_ok(),
            "pe" => PeKind::from_key(value).map(|p| self.pe = p).is_some(),
            "preset" => match Preset::ALL.into_iter().find(|p| p.key() == value) {
                Some(p) => {
                    self.preset = p;
                    self.apply_preset();
                    true
                }
                None => false,
            },
            "train" => parse_into(&mut self.train_len, value),
            "steps" => parse_into(&mut self.steps, value),
            "seed" => parse_into(&mut self.seed, value),
            "lr" => parse_into(&mut self.lr, value),
            "len" => parse_into(&mut self.seq_len, value),
            "method" => match value {
                "none" => {
                    self.method = None;
                    true
                }
                v => ExtensionMethod::from_key(v).map(|m| self.method = Some(m)).is_some(),
            },
            "factor" => parse_into(&mut self.factor, value),
            "run" => match value {
                "1" | "true" => {
                    self.autostart = true;
                    true
                }
                "0" | "false" => {
                    self.autostart = false;
                    true
                }
                _ => false,
            },
            _ => return None,
        })
    }
}

/// Two or three plain sentences, naming the paper.
pub const EXPLANATION: &str = "Train a tiny transformer here, in your browser, then drag N past the \
    length it was trained on. The loss falls, the attention of a fixed probe sample forms the copy \
    (or induction) pattern, and after training the accuracy-vs-length curve shows whether this \
    positional encoding generalises — the experiment of Kazemnejad et al. 2023, \"The Impact of \
    Positional Encoding on Length Generalization in Transformers\".";
