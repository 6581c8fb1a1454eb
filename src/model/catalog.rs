//! Shipped-model metadata: one `<task>-<pe>.json` beside each `<task>-<pe>.plw` weight file in
//! `assets/models/`, written by `poslens train` and read by `poslens eval` and the Model lab.

use serde::{Deserialize, Serialize};

use super::{ModelConfig, ModelError, PeKind};
use crate::tasks::TaskKind;

/// Current metadata format.
pub const FORMAT: u32 = 1;

/// Largest weight file accepted, in bytes (the shipped ones are ~0.24 MB).
pub const MAX_WEIGHT_BYTES: usize = 16 << 20;

/// Base file name (no extension) of a task × encoding model.
pub fn model_name(task: TaskKind, pe: PeKind) -> String {
    format!("{}-{}", task.key(), pe.key())
}

/// Accuracy at several lengths; `None` where the model cannot run (learned APE past its table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Curve {
    pub length: Vec<usize>,
    pub exact_match: Vec<Option<f64>>,
    pub token_accuracy: Vec<Option<f64>>,
    /// Samples per length.
    pub samples: usize,
    /// Seed of the evaluation samples.
    pub seed: u64,
}

/// Everything recorded about one trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelMeta {
    pub format: u32,
    pub name: String,
    pub task: TaskKind,
    pub pe: PeKind,
    pub config: ModelConfig,
    /// Longest training sequence (samples were drawn at every length `min..=train_len`).
    pub train_len: usize,
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// How the training lengths were drawn (files written before it existed: uniform).
    #[serde(default)]
    pub lengths: super::train_spec::LengthDraw,
    /// How the weights started (older metadata without it: standard).
    #[serde(default)]
    pub init: super::train_spec::InitScheme,
    /// Recall: the most queries a training sequence asked (older metadata without it: 1).
    #[serde(default = "one")]
    pub queries: usize,
    /// Weight of the auxiliary previous-token loss in training (older metadata: 0, none).
    #[serde(default)]
    pub aux_previous: f64,
    /// AdamW's ε in training (older metadata: burn's default, 1e-5).
    #[serde(default = "burn_adam_epsilon")]
    pub adam_epsilon: f64,
    /// Mean training loss over the last 50 steps.
    pub final_loss: f64,
    /// Exact match at `train_len` on held-out samples, measured after the f16 round trip.
    pub in_distribution_exact_match: f64,
    pub in_distribution_token_accuracy: f64,
    /// Accuracy at 1× … 8× `train_len`.
    pub curve: Curve,
    pub params: usize,
    pub weights_file: String,
    pub weights_bytes: usize,
    /// FNV-1a 64 of the whole weight file, as 16 hex digits: ties the weights to this metadata
    /// (another model's file of the same size and shape is refused). Optional for files written
    /// before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights_fnv1a64: Option<String>,
    pub train_seconds: f64,
    /// burn backend the model was trained on.
    pub trained_on: String,
}

impl ModelMeta {
    /// Parses and checks a metadata file.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let meta: ModelMeta =
            serde_json::from_str(text).map_err(|e| ModelError::Meta(format!("model metadata is not valid: {e}")))?;
        if meta.format != FORMAT {
            return Err(ModelError::Meta(format!(
                "model metadata format {} (this build reads {FORMAT})",
                meta.format
            )));
        }
        meta.config.validate().map_err(ModelError::Meta)?;
        if meta.config.pe != meta.pe {
            return Err(ModelError::Meta("metadata pe and config.pe disagree".into()));
        }
        // The name, the task × encoding and the weight file name must all agree, and the weight
        // file must sit beside the metadata: no paths, no `..`, nothing but `<name>.plw`.
        let expected = model_name(meta.task, meta.pe);
        if meta.name != expected {
            return Err(ModelError::Meta(format!(
                "metadata name {:?} does not match its task and encoding ({expected})",
                meta.name
            )));
        }
        if meta.weights_file != format!("{expected}.plw") {
            return Err(ModelError::Meta(format!(
                "weights_file {:?} must be {expected}.plw, beside the metadata",
                meta.weights_file
            )));
        }
        if meta.weights_bytes > MAX_WEIGHT_BYTES {
            return Err(ModelError::Meta(format!(
                "weights_bytes {} is larger than any model this build loads ({MAX_WEIGHT_BYTES})",
                meta.weights_bytes
            )));
        }
        Ok(meta)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(feature = "lab")]
/// Builds the model a metadata file describes and loads its weights (`PLW1` bytes) into it.
/// The byte count must be the one the metadata records (a truncated or swapped file fails here).
pub fn load_model(meta: &ModelMeta, weights: &[u8], device: &burn::tensor::Device) -> Result<super::Model, ModelError> {
    if weights.len() != meta.weights_bytes {
        return Err(ModelError::Weights(format!(
            "{} is {} bytes, its metadata says {} (truncated or replaced?)",
            meta.weights_file,
            weights.len(),
            meta.weights_bytes
        )));
    }
    if let Some(expected) = &meta.weights_fnv1a64 {
        let actual = super::weights::file_checksum(weights);
        if actual != *expected {
            return Err(ModelError::Weights(format!(
                "{} is not the weight file its metadata describes (FNV-1a {actual}, expected {expected})",
                meta.weights_file
            )));
        }
    }
    super::weights::WeightFile::decode(weights)?.apply(meta.config.init(device), device)
}

fn one() -> usize {
    1
}

fn burn_adam_epsilon() -> f64 {
    super::train_spec::BURN_ADAM_EPSILON
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> serde_json::Value {
        serde_json::from_str(include_str!("../../assets/models/copy-rope.json")).expect("json")
    }

    #[test]
    fn shipped_metadata_is_tied_to_its_weight_file() {
        let device = crate::model::cpu_device();
        let rope = ModelMeta::from_json(include_str!("../../assets/models/copy-rope.json")).expect("meta");
        let own: &[u8] = include_bytes!("../../assets/models/copy-rope.plw");
        let other: &[u8] = include_bytes!("../../assets/models/copy-alibi.plw");
        assert_eq!(
            own.len(),
            other.len(),
            "same size and shapes: only the checksum tells them apart"
        );
        assert!(load_model(&rope, own, &device).is_ok());
        let e = load_model(&rope, other, &device)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not the weight file"), "{e}");
    }

    #[test]
    fn metadata_must_name_its_own_weight_file_and_agree_with_itself() {
        assert!(ModelMeta::from_json(&shipped().to_string()).is_ok());
        for (field, value) in [
            ("weights_file", serde_json::json!("/dev/zero")),
            ("weights_file", serde_json::json!("../copy-rope.plw")),
            ("weights_file", serde_json::json!("copy-alibi.plw")),
            ("weights_bytes", serde_json::json!(1u64 << 40)),
            ("pe", serde_json::json!("alibi")),
            ("task", serde_json::json!("recall")),
            ("name", serde_json::json!("copy-alibi")),
        ] {
            let mut m = shipped();
            m[field] = value.clone();
            let r = ModelMeta::from_json(&m.to_string());
            assert!(r.is_err(), "{field} = {value} was accepted");
        }
    }
}
