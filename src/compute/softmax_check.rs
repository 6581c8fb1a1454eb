//! The burn "proof of life": one attention row over the sinusoidal table, on the device.
//!
//! With `E` the sinusoidal table (`[N, d]`, Vaswani et al. 2017), the logits of query `p` are
//! `E[p]·E[n]/√d` for every key `n`, and the row is `softmax` of them. burn computes it on the
//! selected backend; the same row is computed on the CPU with `crate::pe` and the largest
//! absolute difference is reported. It is the smallest real end-to-end use of the tensor stack.

use burn::tensor::{Device, Tensor, TensorData, activation::softmax};
use serde::Serialize;

/// Result of comparing burn's softmax row to the CPU reference.
#[derive(Clone, Debug, Serialize)]
pub struct SoftmaxCheck {
    pub query_pos: usize,
    pub seq_len: usize,
    pub max_abs_diff: f32,
    /// Probability mass burn's row sums to (should be 1).
    pub row_sum: f32,
    pub passed: bool,
    /// burn's row itself, for plotting (not part of the status JSON).
    #[serde(skip)]
    pub row: Vec<f32>,
}

/// Tolerance for agreement between burn (f32 on GPU or CPU) and the f64-accumulated reference.
pub const TOLERANCE: f32 = 1e-4;

/// CPU reference: `softmax(E[p]·E[n]/√d)` over `n`.
pub fn reference_row(table: &[f32], seq_len: usize, d_model: usize, query_pos: usize) -> Vec<f32> {
    let q = &table[query_pos * d_model..(query_pos + 1) * d_model];
    let scale = 1.0 / (d_model as f64).sqrt();
    let mut row: Vec<f32> = (0..seq_len)
        .map(|n| {
            let k = &table[n * d_model..(n + 1) * d_model];
            (q.iter().zip(k).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>() * scale) as f32
        })
        .collect();
    crate::pe::diagnostics::softmax_in_place(&mut row);
    row
}

/// Compute the row with burn on `device` and compare with [`reference_row`].
///
/// # Shapes
/// - `table`: `[seq_len, d_model]` row-major
/// - burn: `E [N, d]`, `q = E[p] [1, d]`, `q·Eᵀ [1, N]` → softmax over dim 1
pub async fn run(
    device: Device,
    table: Vec<f32>,
    seq_len: usize,
    d_model: usize,
    query_pos: usize,
) -> Result<SoftmaxCheck, String> {
    if seq_len == 0 || d_model == 0 || table.len() != seq_len * d_model || query_pos >= seq_len {
        return Err(format!(
            "softmax check: inconsistent shapes (N={seq_len}, d={d_model}, p={query_pos})"
        ));
    }
    let reference = reference_row(&table, seq_len, d_model, query_pos);
    let e = Tensor::<2>::from_data(TensorData::new(table, [seq_len, d_model]), &device);
    let q = e.clone().slice([query_pos..query_pos + 1, 0..d_model]);
    let logits = q.matmul(e.transpose()).div_scalar((d_model as f32).sqrt());
    let probs = softmax(logits, 1);
    let data = probs
        .into_data_async()
        .await
        .map_err(|e| format!("burn readback failed: {e:?}"))?;
    let burn_row: Vec<f32> = data
        .try_to_vec::<f32>()
        .map_err(|e| format!("burn data conversion failed: {e:?}"))?;
    if burn_row.len() != seq_len {
        return Err(format!("burn returned {} values, expected {seq_len}", burn_row.len()));
    }
    let max_abs_diff = burn_row
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0_f32, f32::max);
    let row_sum = burn_row.iter().sum();
    let passed = max_abs_diff <= TOLERANCE && max_abs_diff.is_finite();
    Ok(SoftmaxCheck {
        query_pos,
        seq_len,
        max_abs_diff,
        row_sum,
        passed,
        row: burn_row,
    })
}
