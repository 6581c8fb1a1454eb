//! One traced forward pass (plain host data): what the Model lab draws. Crosses the worker
//! boundary, so it is serde with the attention as packed f32 (see `crate::packed`).

use serde::{Deserialize, Serialize};

/// One traced forward pass for the Model lab.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TracedSample {
    pub tokens: Vec<u32>,
    pub answer_positions: Vec<usize>,
    /// The model's greedy prediction at each answer position.
    pub predicted: Vec<i64>,
    pub len: usize,
    pub heads: usize,
    /// Per layer, row-major `[heads, len, len]` attention weights.
    #[serde(with = "crate::packed::f32_rows")]
    pub attention: Vec<Vec<f32>>,
}

/// A layer's rotated queries and keys for one real sample (the RoPE view's model clocks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phasors {
    pub len: usize,
    /// The position whose query is returned.
    pub pos: usize,
    pub layer: usize,
    pub heads: usize,
    pub head_dim: usize,
    /// The token at `pos`.
    pub token: u32,
    /// Row-major `[heads, head_dim]`: the query at `pos`, after RoPE (rotate-half layout).
    #[serde(with = "crate::packed::f32s")]
    pub query: Vec<f32>,
    /// Row-major `[heads, len, head_dim]`: every position's key, after RoPE.
    #[serde(with = "crate::packed::f32s")]
    pub keys: Vec<f32>,
}

impl TracedSample {
    /// Attention row-major `[len, len]` of one layer and head.
    pub fn head(&self, layer: usize, head: usize) -> Option<&[f32]> {
        let l2 = self.len * self.len;
        self.attention.get(layer)?.get(head * l2..(head + 1) * l2)
    }

    /// How many answer tokens are right.
    pub fn right(&self) -> usize {
        self.answer_positions
            .iter()
            .zip(&self.predicted)
            .filter(|(t, p)| self.tokens[**t + 1] as i64 == **p)
            .count()
    }
}
