//! The burn "proof of life": one attention row over the sinusoidal table, on the device.
//!
//! With `E` the sinusoidal table (`[N, d]`, Vaswani et al. 2017), the logits of query `p` are
//! `E[p]·E[n]/√d` for every key `n`, and the row is `softmax` of them. burn computes it on the
//! selected backend; the same row is computed on the CPU with `crate::pe` and the largest
//! absolute difference is reported. It is the smallest real end-to-end use of the tensor stack.

#[cfg(feature = "lab")]
use burn::tensor::{Device, Tensor, TensorData, activation::softmax};
use serde::{Deserialize, Serialize};

use super::client::{ComputeClient, JobId};
use super::protocol::{Reply, Request};

/// Why a check could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CheckError {
    #[error("softmax check: inconsistent shapes (N={seq_len}, d={d_model}, p={query_pos})")]
    Shapes {
        seq_len: usize,
        d_model: usize,
        query_pos: usize,
    },
    #[error("burn readback failed: {0}")]
    Readback(String),
    #[error("burn returned {got} values, expected {expected}")]
    Length { got: usize, expected: usize },
}

/// Result of comparing burn's softmax row to the CPU reference.
#[derive(Clone, Debug, Serialize, Deserialize)]
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

#[cfg(feature = "lab")]
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
) -> Result<SoftmaxCheck, CheckError> {
    if seq_len == 0 || d_model == 0 || table.len() != seq_len * d_model || query_pos >= seq_len {
        return Err(CheckError::Shapes {
            seq_len,
            d_model,
            query_pos,
        });
    }
    let reference = reference_row(&table, seq_len, d_model, query_pos);
    let e = Tensor::<2>::from_data(TensorData::new(table, [seq_len, d_model]), &device);
    let q = e.clone().slice([query_pos..query_pos + 1, 0..d_model]);
    let logits = q.matmul(e.transpose()).div_scalar((d_model as f32).sqrt());
    let probs = softmax(logits, 1);
    let data = probs
        .into_data_async()
        .await
        .map_err(|e| CheckError::Readback(format!("{e:?}")))?;
    let burn_row: Vec<f32> = data
        .try_to_vec::<f32>()
        .map_err(|e| CheckError::Readback(format!("data conversion: {e:?}")))?;
    if burn_row.len() != seq_len {
        return Err(CheckError::Length {
            got: burn_row.len(),
            expected: seq_len,
        });
    }
    Ok(compare(query_pos, burn_row, &reference))
}

/// Compare a device row with the reference. A NaN or infinity anywhere fails the check
/// (`f32::max` would silently skip a NaN), and so does a row that does not sum to 1.
pub fn compare(query_pos: usize, row: Vec<f32>, reference: &[f32]) -> SoftmaxCheck {
    let max_abs_diff = if row.len() != reference.len() || row.iter().chain(reference).any(|v| !v.is_finite()) {
        f32::INFINITY
    } else {
        row.iter()
            .zip(reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0_f32, f32::max)
    };
    let row_sum: f32 = row.iter().sum();
    let passed = max_abs_diff <= TOLERANCE && (row_sum - 1.0).abs() <= 1e-3;
    SoftmaxCheck {
        query_pos,
        seq_len: reference.len(),
        // JSON has no infinity: report the largest finite value instead.
        max_abs_diff: if max_abs_diff.is_finite() {
            max_abs_diff
        } else {
            f32::MAX
        },
        row_sum: if row_sum.is_finite() { row_sum } else { f32::MAX },
        passed,
        row,
    }
}

/// A softmax-row check on the compute worker that re-runs when its inputs (`K`) change: the
/// app's readiness signal, and the Sinusoidal view's burn-computed row.
pub struct RowJob<K> {
    result: Option<Result<SoftmaxCheck, String>>,
    key: Option<K>,
    pending: Option<JobId>,
}

impl<K> Default for RowJob<K> {
    fn default() -> Self {
        Self {
            result: None,
            key: None,
            pending: None,
        }
    }
}

impl<K: PartialEq> RowJob<K> {
    /// Collect a finished run; submit one for `key` when it differs from the last run's and none
    /// is in flight (`inputs` gives the table, N, d and p). Returns whether a run is in flight.
    pub fn update(
        &mut self,
        compute: Option<&ComputeClient>,
        key: K,
        inputs: impl FnOnce() -> (Vec<f32>, usize, usize, usize),
    ) -> bool {
        let Some(compute) = compute else { return false };
        if let Some(job) = self.pending
            && let Some(reply) = compute.take(job)
        {
            self.result = Some(match reply {
                Ok(Reply::Softmax { mut check, row }) => {
                    check.row = row;
                    Ok(check)
                }
                Ok(Reply::Failed(e)) => Err(e.message),
                Ok(other) => Err(format!("unexpected reply to a softmax check: {other:?}")),
                Err(e) => Err(e),
            });
            self.pending = None;
        }
        if self.pending.is_none() && self.key.as_ref() != Some(&key) {
            let (table, seq_len, d_model, query_pos) = inputs();
            self.key = Some(key);
            let job = compute.submit(Request::SoftmaxRow {
                table,
                seq_len,
                d_model,
                query_pos,
            });
            self.pending = Some(job);
            // Natively the reply is already there: collect it now rather than next frame.
            if let Some(Ok(Reply::Softmax { mut check, row })) = compute.take(job) {
                check.row = row;
                self.result = Some(Ok(check));
                self.pending = None;
            }
        }
        self.pending.is_some()
    }

    /// The latest finished result; `None` while a run is in flight or before the first.
    pub fn result(&self) -> Option<&Result<SoftmaxCheck, String>> {
        if self.pending.is_some() {
            None
        } else {
            self.result.as_ref()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_or_infinite_rows_fail_the_check() {
        let reference = vec![0.25_f32; 4];
        assert!(compare(0, reference.clone(), &reference).passed);
        let mut nan = reference.clone();
        nan[2] = f32::NAN;
        let c = compare(0, nan, &reference);
        assert!(!c.passed, "a NaN cell must fail");
        assert_eq!(c.max_abs_diff, f32::MAX);
        let mut inf = reference.clone();
        inf[0] = f32::INFINITY;
        assert!(!compare(0, inf, &reference).passed);
        // Close to the reference cell by cell but not a distribution.
        assert!(!compare(0, vec![0.0; 4], &[0.0; 4]).passed);
        assert!(!compare(0, vec![0.25; 3], &reference).passed, "length mismatch");
    }
}
