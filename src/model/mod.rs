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
pub mod eval;
pub mod positions;
#[cfg(not(target_arch = "wasm32"))]
pub mod train;
pub mod weights;

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

pub use catalog::{ModelMeta, model_name};
pub use positions::{Positions, RopeOptions};

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

    /// A freshly initialised model whose weights depend on `seed` only.
    pub fn init_seeded(&self, device: &Device, seed: u64) -> Model {
        weights::seeded_init(self.init(device), seed, device)
    }

    /// A model with burn's default initialisers (the device RNG); weights are about to be
    /// loaded or re-initialised.
    pub fn init(&self, device: &Device) -> Model {
        let d = self.d_model;
        Model {
            tok: EmbeddingConfig::new(self.vocab, d).init(device),
            pos: (self.pe == PeKind::Learned).then(|| EmbeddingConfig::new(self.max_len, d).init(device)),
            t5: (self.pe == PeKind::T5).then(|| EmbeddingConfig::new(self.t5_buckets, self.n_heads).init(device)),
            blocks: (0..self.n_layers)
                .map(|_| Block {
                    ln1: LayerNormConfig::new(d).init(device),
                    qkv: LinearConfig::new(d, 3 * d).init(device),
                    proj: LinearConfig::new(d, d).init(device),
                    ln2: LayerNormConfig::new(d).init(device),
                    fc1: LinearConfig::new(d, self.d_ff).init(device),
                    fc2: LinearConfig::new(self.d_ff, d).init(device),
                })
                .collect(),
            ln_f: LayerNormConfig::new(d).init(device),
            head: LinearConfig::new(d, self.vocab).init(device),
            n_heads: self.n_heads,
        }
    }
}

/// The model. `n_heads` is a constant (not a parameter).
#[derive(Module, Debug)]
pub struct Model {
    tok: Embedding,
    /// Learned APE table (`max_len × d_model`), learned models only.
    pos: Option<Embedding>,
    /// T5 bias (`buckets × heads`), shared by all layers as in T5; T5 models only.
    t5: Option<Embedding>,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    head: Linear,
    n_heads: usize,
}

/// One pre-LN block: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
#[derive(Module, Debug)]
pub struct Block {
    ln1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// What a forward pass returns.
#[derive(Debug)]
pub struct Output {
    /// `[batch, len, vocab]` next-token logits.
    pub logits: Tensor<3>,
    /// Per layer, `[batch, heads, len, len]` attention weights (rows sum to 1); empty unless
    /// traced.
    pub attention: Vec<Tensor<4>>,
}

impl Model {
    /// Next-token logits, and with `trace` the attention weights of every layer.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, len]` token ids, `len == positions.len`
    /// - `logits`: `[batch, len, vocab]`
    /// - `attention[layer]`: `[batch, heads, len, len]`
    pub fn forward(&self, tokens: Tensor<2, Int>, positions: &Positions, trace: bool) -> Output {
        let mut x = self.tok.forward(tokens); // [B, L, D]
        if let Some(table) = &positions.absolute {
            x = x + table.clone().unsqueeze_dim::<3>(0); // sinusoidal [1, L, D]
        }
        if let (Some(pos), Some(ids)) = (&self.pos, &positions.position_ids) {
            x = x + pos.forward(ids.clone()); // learned [1, L, D]
        }
        // Static additive bias [H, L, L] (causal / visibility mask, ALiBi), plus T5's learned one.
        let mut bias = positions.bias.clone();
        if let (Some(t5), Some(buckets)) = (&self.t5, &positions.t5_buckets) {
            bias = bias + t5.forward(buckets.clone()).permute([2, 0, 1]); // [L, L, H] → [H, L, L]
        }
        let bias = bias.unsqueeze_dim::<4>(0); // [1, H, L, L]
        let mut attention = Vec::new();
        for block in &self.blocks {
            let (y, att) = block.attention(block.ln1.forward(x.clone()), &bias, positions, self.n_heads);
            x = x + y;
            x = x.clone() + block.fc2.forward(gelu(block.fc1.forward(block.ln2.forward(x))));
            if trace {
                attention.push(att);
            }
        }
        Output {
            logits: self.head.forward(self.ln_f.forward(x)),
            attention,
        }
    }
}

impl Block {
    /// Causal multi-head self-attention.
    ///
    /// # Shapes
    /// - `x`: `[batch, len, d_model]` (already layer-normed)
    /// - `bias`: `[1, heads, len, len]` additive (−1e9 on hidden cells)
    /// - returns (`[batch, len, d_model]`, attention `[batch, heads, len, len]`)
    fn attention(&self, x: Tensor<3>, bias: &Tensor<4>, positions: &Positions, heads: usize) -> (Tensor<3>, Tensor<4>) {
        let [b, l, d] = x.dims();
        let dh = d / heads;
        // [B, L, 3, H, Dh] → three [B, H, L, Dh]
        let qkv = self.qkv.forward(x).reshape([b, l, 3, heads, dh]);
        let split = |i: usize| qkv.clone().narrow(2, i, 1).reshape([b, l, heads, dh]).swap_dims(1, 2);
        let (q, k, v) = (split(0), split(1), split(2));
        let scale = 1.0 / (dh as f64).sqrt();
        let scores = match &positions.rope {
            Some(rope) => rope.scores(q, k),
            None => q.matmul(k.swap_dims(2, 3)),
        };
        let att = softmax(scores.mul_scalar(scale) + bias.clone(), 3); // [B, H, L, L]
        let y = att.clone().matmul(v).swap_dims(1, 2).reshape([b, l, d]);
        (self.proj.forward(y), att)
    }
}

/// Number of scalar parameters of a module.
pub fn param_count(model: &Model) -> usize {
    model.num_params()
}

#[cfg(test)]
mod tests;
