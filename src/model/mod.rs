//! The tiny decoder-only transformers, one per positional encoding — the whole model on one page.
//!
//! Token embedding (+ absolute position for APE models) → `n_layers` pre-LN blocks (causal
//! multi-head attention written out, then a GELU MLP) → final LayerNorm → LM head. The
//! positional encoding is a parameter ([`PeKind`]); everything it needs at a given length
//! (tables, biases, masks, RoPE rotations, inference-time scaling and position maps) is built
//! once per length by [`Positions`] from the same `pe` functions the analytic views use.
//!
//! Architecture after GPT-2 (Radford et al. 2019) / nanoGPT, pre-LN as in Xiong et al. 2020,
//! "On Layer Normalization in the Transformer Architecture". Encodings: NoPE (Kazemnejad et al.
//! 2023), learned APE (Gehring et al. 2017; Devlin et al. 2019), sinusoidal APE (Vaswani et al.
//! 2017), T5 relative bias (Raffel et al. 2020), ALiBi (Press, Smith & Lewis 2022), RoPE (Su et
//! al. 2021).

pub mod catalog;
#[cfg(feature = "lab")]
pub mod eval;
#[cfg(feature = "lab")]
mod net;
mod options;
#[cfg(feature = "lab")]
pub mod positions;
pub mod probe;
#[cfg(feature = "lab")]
mod probe_eval;
mod trace;
#[cfg(feature = "train")]
pub mod train;
pub mod train_spec;
pub mod weights;
#[cfg(feature = "lab")]
mod weights_burn;

use serde::{Deserialize, Serialize};

pub use catalog::{ModelMeta, model_name};
#[cfg(feature = "lab")]
pub use net::*;
pub use options::RopeOptions;
#[cfg(feature = "lab")]
pub use positions::Positions;
pub use trace::{Phasors, TracedSample};

/// Everything that can go wrong loading, building or running a model (shown to the user once).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Pe(#[from] crate::pe::PeError),
    #[error(transparent)]
    Task(#[from] crate::tasks::TaskError),
    #[error("{0}")]
    Options(String),
    #[error("{0}")]
    Weights(String),
    #[error("{0}")]
    Meta(String),
    #[error("{0}")]
    Backend(String),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Asset(#[from] crate::assets::AssetError),
}

/// Which positional encoding a model was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PeKind {
    /// No positional encoding: only the causal mask orders the tokens.
    Nope,
    /// Learned absolute position embeddings (a table of `max_len` rows).
    Learned,
    /// Fixed sinusoidal absolute encodings added to the token embeddings.
    Sinusoidal,
    /// T5 learned relative bias per head and log-bucket of distance.
    T5,
    /// ALiBi fixed linear distance penalties per head.
    Alibi,
    /// Rotary position embedding of queries and keys.
    #[default]
    Rope,
}

impl PeKind {
    pub const ALL: [PeKind; 6] = [
        PeKind::Nope,
        PeKind::Learned,
        PeKind::Sinusoidal,
        PeKind::T5,
        PeKind::Alibi,
        PeKind::Rope,
    ];

    /// The registry entry of this encoding (`crate::pe::scheme::SCHEMES`): one list of schemes
    /// for the maths, the views, the CLI and the model. Exhaustive, so a new `PeKind` must name
    /// its scheme.
    pub fn scheme(self) -> crate::pe::SchemeKind {
        use crate::pe::SchemeKind;
        match self {
            PeKind::Nope => SchemeKind::Nope,
            PeKind::Learned => SchemeKind::Learned,
            PeKind::Sinusoidal => SchemeKind::Sinusoidal,
            PeKind::T5 => SchemeKind::T5,
            PeKind::Alibi => SchemeKind::Alibi,
            PeKind::Rope => SchemeKind::Rope,
        }
    }

    /// Key used in file names, URLs and CLI flags (the registry's key).
    pub fn key(self) -> &'static str {
        self.scheme().key()
    }

    /// Display name (the registry's title).
    pub fn label(self) -> &'static str {
        self.scheme().title()
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.key() == key)
    }
}

/// Sizes and encoding of one model (stored in its metadata JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub vocab: usize,
    pub d_model: usize,
    pub n_heads: usize,
    pub n_layers: usize,
    /// Hidden width of the MLP.
    pub d_ff: usize,
    pub pe: PeKind,
    /// Rows of the learned position table (= the training length); unused by other encodings.
    pub max_len: usize,
    /// RoPE base `b` in `θ_i = b^(−2i/d)`.
    pub rope_base: f64,
    /// T5 buckets (causal: all of them for the past).
    pub t5_buckets: usize,
    /// T5 distance at which the last bucket starts.
    pub t5_max_distance: usize,
}

impl ModelConfig {
    /// The shipped size: 3 layers, 4 heads of 16, `d_model` 64, MLP 128.
    pub fn tiny(pe: PeKind, train_len: usize) -> Self {
        Self {
            vocab: crate::tasks::VOCAB,
            d_model: 64,
            n_heads: 4,
            n_layers: 3,
            d_ff: 128,
            pe,
            max_len: train_len,
            rope_base: 10_000.0,
            t5_buckets: 32,
            t5_max_distance: 128,
        }
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads.max(1)
    }

    /// Checks the sizes (a metadata file is user input).
    pub fn validate(&self) -> Result<(), String> {
        // Every task token id must have an embedding row (`crate::tasks::VOCAB`).
        let ok = self.vocab >= crate::tasks::VOCAB
            && self.d_model >= 2
            && self.n_heads >= 1
            && self.d_model.is_multiple_of(self.n_heads)
            && self.head_dim().is_multiple_of(2)
            && (1..=16).contains(&self.n_layers)
            && self.d_ff >= 1
            && self.d_model <= 4096
            && self.d_ff <= 16384
            && self.vocab <= 1 << 20
            && self.max_len >= 1
            && self.t5_buckets >= 2
            && self.rope_base > 1.0;
        if ok {
            Ok(())
        } else {
            Err(format!("inconsistent model config {self:?}"))
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_positions;
