//! The network itself (burn): embeddings → pre-LN blocks → LM head, written out on one page.
//! Compiled with the `lab` feature only (native builds and the browser's compute worker).

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Int, Tensor};

use super::train_spec::InitScheme;
use super::{ModelConfig, PeKind, Positions, weights};

impl ModelConfig {
    /// A freshly initialised model whose weights depend on `seed` only.
    pub fn init_seeded(&self, device: &Device, seed: u64) -> Model {
        self.init_seeded_with(device, seed, InitScheme::Standard)
    }

    /// [`Self::init_seeded`] with an initialisation scheme other than the standard one.
    pub fn init_seeded_with(&self, device: &Device, seed: u64, init: InitScheme) -> Model {
        weights::seeded_init(self.init(device), seed, init, self.n_layers, device)
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
    /// `[batch, len, d_model]` the final layer-normed residual stream the LM head reads (an
    /// auxiliary training head reads it too, `train::Trainer`).
    pub features: Tensor<3>,
    /// Per layer, `[batch, heads, len, len]` attention weights (rows sum to 1); empty unless
    /// traced.
    pub attention: Vec<Tensor<4>>,
    /// The residual stream `[batch, len, d_model]` at the input (token embedding + absolute
    /// encoding) and after each block (`n_layers + 1` tensors); empty unless traced.
    pub hidden: Vec<Tensor<3>>,
}

impl Model {
    /// The learned position table `[max_len, d_model]` (learned-APE models only).
    pub fn learned_table(&self) -> Option<Tensor<2>> {
        self.pos.as_ref().map(|e| e.weight.val())
    }
}

impl Model {
    /// Next-token logits, and with `trace` the attention weights of every layer.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, len]` token ids, `len == positions.len`
    /// - `logits`: `[batch, len, vocab]`
    /// - `attention[layer]`: `[batch, heads, len, len]`
    /// - `hidden[layer]`: `[batch, len, d_model]` (0 = input, `l` = after block `l`)
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
        let mut hidden = Vec::new();
        if trace {
            hidden.push(x.clone());
        }
        for block in &self.blocks {
            let (y, att) = block.attention(block.ln1.forward(x.clone()), &bias, positions, self.n_heads);
            x = x + y;
            x = x.clone() + block.fc2.forward(gelu(block.fc1.forward(block.ln2.forward(x))));
            if trace {
                attention.push(att);
                hidden.push(x.clone());
            }
        }
        let features = self.ln_f.forward(x);
        Output {
            logits: self.head.forward(features.clone()),
            features,
            attention,
            hidden,
        }
    }
}

impl Model {
    /// The queries and keys of block `layer` as attention sees them (after RoPE at the true
    /// positions, when the model has RoPE), or `None` past the last layer.
    ///
    /// # Shapes
    /// - `tokens`: `[batch, len]` → `q`, `k`: `[batch, heads, len, d_head]`
    pub fn layer_qk(
        &self,
        tokens: Tensor<2, Int>,
        positions: &Positions,
        layer: usize,
    ) -> Option<(Tensor<4>, Tensor<4>)> {
        let block = self.blocks.get(layer)?;
        let mut x = self.tok.forward(tokens);
        if let Some(table) = &positions.absolute {
            x = x + table.clone().unsqueeze_dim::<3>(0);
        }
        if let (Some(pos), Some(ids)) = (&self.pos, &positions.position_ids) {
            x = x + pos.forward(ids.clone());
        }
        let mut bias = positions.bias.clone();
        if let (Some(t5), Some(buckets)) = (&self.t5, &positions.t5_buckets) {
            bias = bias + t5.forward(buckets.clone()).permute([2, 0, 1]);
        }
        let bias = bias.unsqueeze_dim::<4>(0);
        for earlier in &self.blocks[..layer] {
            let (y, _) = earlier.attention(earlier.ln1.forward(x.clone()), &bias, positions, self.n_heads);
            x = x + y;
            x = x.clone() + earlier.fc2.forward(gelu(earlier.fc1.forward(earlier.ln2.forward(x))));
        }
        let (q, k, _) = block.qkv_heads(block.ln1.forward(x), self.n_heads);
        Some(match &positions.rope {
            Some(rope) => (rope.rotate_exact(q), rope.rotate_exact(k)),
            None => (q, k),
        })
    }
}

impl Block {
    /// Queries, keys and values split into heads (before any rotation).
    ///
    /// # Shapes
    /// - `x`: `[batch, len, d_model]` (already layer-normed) → three `[batch, heads, len, d_head]`
    fn qkv_heads(&self, x: Tensor<3>, heads: usize) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let [b, l, d] = x.dims();
        let dh = d / heads;
        // [B, L, 3, H, Dh] → three [B, H, L, Dh]
        let qkv = self.qkv.forward(x).reshape([b, l, 3, heads, dh]);
        let split = |i: usize| qkv.clone().narrow(2, i, 1).reshape([b, l, heads, dh]).swap_dims(1, 2);
        (split(0), split(1), split(2))
    }

    /// Causal multi-head self-attention.
    ///
    /// # Shapes
    /// - `x`: `[batch, len, d_model]` (already layer-normed)
    /// - `bias`: `[1, heads, len, len]` additive (−1e9 on hidden cells)
    /// - returns (`[batch, len, d_model]`, attention `[batch, heads, len, len]`)
    fn attention(&self, x: Tensor<3>, bias: &Tensor<4>, positions: &Positions, heads: usize) -> (Tensor<3>, Tensor<4>) {
        let [b, l, d] = x.dims();
        let dh = d / heads;
        let (q, k, v) = self.qkv_heads(x, heads);
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

/// burn's ndarray CPU device (training, evaluation from the CLI, tests).
#[allow(deprecated)] // burn 0.22 deprecates ndarray in favour of `flex`; the brief fixes ndarray.
pub fn cpu_device() -> Device {
    Device::ndarray()
}
