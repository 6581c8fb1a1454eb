//! The shipped weight format: half-precision parameters keyed by module path.
//!
//! ```text
//! "PLW1" | u32 LE header length | header JSON | f16 LE values, tensor after tensor
//! ```
//! The header lists every tensor's module path (`blocks.0.qkv.weight`, …) and shape, and an
//! FNV-1a-64 checksum of the value bytes, so a truncated or corrupted download is reported as
//! such instead of silently producing a broken model. Values are stored as f16 (Micikevicius et
//! al. 2018 show inference accuracy survives this); each model's metadata records its accuracy
//! *after* this round trip.

use half::f16;
use serde::{Deserialize, Serialize};

use super::ModelError;
#[cfg(feature = "lab")]
pub use super::weights_burn::seeded_init;

const MAGIC: &[u8; 4] = b"PLW1";

/// Most values a weight file may hold (64 Mi values = 128 MiB of f16; the shipped models have
/// ~120 k). Anything larger is refused before allocating, on every target.
pub const MAX_VALUES: usize = 1 << 26;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    dtype: String,
    /// FNV-1a 64 of the value bytes, as 16 hex digits.
    checksum: String,
    tensors: Vec<TensorEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TensorEntry {
    path: String,
    shape: Vec<usize>,
}

/// Parameters as plain host vectors, in module order.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightFile {
    pub tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// FNV-1a 64 of a whole weight file, as 16 hex digits (what the metadata records).
pub fn file_checksum(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64(bytes))
}

fn corrupt(why: impl std::fmt::Display) -> ModelError {
    ModelError::Weights(format!("corrupt weight file: {why}"))
}

impl WeightFile {
    /// Encodes as `PLW1` (values rounded to f16).
    pub fn encode(&self) -> Vec<u8> {
        let mut values = Vec::new();
        for (_, _, v) in &self.tensors {
            for &x in v {
                values.extend_from_slice(&f16::from_f32(x).to_le_bytes());
            }
        }
        let header = Header {
            dtype: "f16".into(),
            checksum: format!("{:016x}", fnv1a64(&values)),
            tensors: self
                .tensors
                .iter()
                .map(|(path, shape, _)| TensorEntry {
                    path: path.clone(),
                    shape: shape.clone(),
                })
                .collect(),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out = Vec::with_capacity(8 + json.len() + values.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&values);
        out
    }

    /// Decodes and verifies a `PLW1` file.
    pub fn decode(bytes: &[u8]) -> Result<Self, ModelError> {
        if bytes.len() < 8 || &bytes[..4] != MAGIC {
            return Err(corrupt("not a PosLens weight file (bad magic)"));
        }
        let hlen = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        let body = bytes.get(8..).unwrap_or_default();
        let json = body.get(..hlen).ok_or_else(|| corrupt("truncated header"))?;
        let header: Header = serde_json::from_slice(json).map_err(|e| corrupt(format!("header: {e}")))?;
        if header.dtype != "f16" {
            return Err(corrupt(format!("unsupported dtype {}", header.dtype)));
        }
        let values = &body[hlen..];
        let expected: usize = header
            .tensors
            .iter()
            .try_fold(0usize, |acc, t| {
                t.shape
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d))
                    .and_then(|n| acc.checked_add(n))
            })
            .filter(|&n| n <= MAX_VALUES)
            .ok_or_else(|| corrupt(format!("absurd tensor shapes (more than {MAX_VALUES} values)")))?;
        // `expected ≤ 2^26`, so doubling cannot overflow even on 32-bit targets.
        let expected_bytes = expected * 2;
        if values.len() != expected_bytes {
            return Err(corrupt(format!(
                "{} value bytes, header describes {expected_bytes} (truncated download?)",
                values.len(),
            )));
        }
        if format!("{:016x}", fnv1a64(values)) != header.checksum {
            return Err(corrupt("checksum mismatch"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = header.tensors.iter().find(|t| !seen.insert(t.path.as_str())) {
            return Err(corrupt(format!("tensor {} is listed twice", dup.path)));
        }
        let mut at = 0;
        let mut tensors = Vec::with_capacity(header.tensors.len());
        for t in header.tensors {
            // Every shape was multiplied with checks above, and the sizes add up to `expected`.
            let n: usize = t.shape.iter().product();
            let bytes = values
                .get(at..at + 2 * n)
                .ok_or_else(|| corrupt("tensor sizes do not add up"))?;
            let v: Vec<f32> = bytes
                .chunks_exact(2)
                .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect();
            if v.iter().any(|x| !x.is_finite()) {
                return Err(corrupt(format!("tensor {} holds NaN or infinite values", t.path)));
            }
            at += 2 * n;
            tensors.push((t.path, t.shape, v));
        }
        Ok(Self { tensors })
    }

    /// Total number of values.
    pub fn len(&self) -> usize {
        self.tensors.iter().map(|t| t.2.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
