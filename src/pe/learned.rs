//! Learned absolute position embeddings (a trained lookup table).
//!
//! Introduced for convolutional seq2seq by Gehring et al. 2017 ("Convolutional Sequence to
//! Sequence Learning") and used by BERT (Devlin et al. 2019) and GPT-2. The table has shape
//! `[max_len, d_model]`; a position `≥ max_len` has **no** embedding, so such a model cannot even
//! be run past its table. This module reports that as [`PeError::PastLearnedTable`] so the app
//! can show the failure mode instead of crashing.

use super::sinusoidal::{MAX_TABLE_CELLS, check_d_model};
use super::{PeError, check_len};
use crate::rng::SplitMix64;

/// `max_len` in 1..=65 536, `d_model` even in 2..=4096, and at most 2^24 cells in all.
fn check_sizes(max_len: usize, d_model: usize) -> Result<(), PeError> {
    check_len("max_len", max_len)?;
    check_d_model(d_model)?;
    if max_len * d_model > MAX_TABLE_CELLS {
        return Err(PeError::invalid(
            "max_len",
            max_len,
            format!("at most {} for d_model {d_model}", MAX_TABLE_CELLS / d_model),
        ));
    }
    Ok(())
}

/// A learned position table, row-major `[max_len][d_model]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LearnedTable {
    max_len: usize,
    d_model: usize,
    weights: Vec<f32>,
}

impl LearnedTable {
    /// Wraps trained weights (`weights.len()` must equal `max_len × d_model`).
    pub fn new(max_len: usize, d_model: usize, weights: Vec<f32>) -> Result<Self, PeError> {
        check_sizes(max_len, d_model)?;
        if weights.len() != max_len * d_model {
            return Err(PeError::invalid(
                "weights",
                format!("{} values", weights.len()),
                format!("exactly max_len × d_model = {} values", max_len * d_model),
            ));
        }
        Ok(Self {
            max_len,
            d_model,
            weights,
        })
    }

    /// A stand-in "trained" table for demos: i.i.d. `N(0, std²)` values from a seed
    /// (GPT-2 initialises its table with `std = 0.02`).
    pub fn seeded(max_len: usize, d_model: usize, std: f64, seed: u64) -> Result<Self, PeError> {
        check_sizes(max_len, d_model)?;
        if !std.is_finite() || std < 0.0 {
            return Err(PeError::invalid("std", std, "a finite number >= 0"));
        }
        let mut rng = SplitMix64::new(seed);
        let weights = (0..max_len * d_model)
            .map(|_| (rng.next_gaussian() * std) as f32)
            .collect();
        Self::new(max_len, d_model, weights)
    }

    /// Number of positions the table covers.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Embedding width.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    /// The embedding of `position`, or [`PeError::PastLearnedTable`] when `position ≥ max_len`.
    pub fn row(&self, position: usize) -> Result<&[f32], PeError> {
        if position >= self.max_len {
            return Err(PeError::PastLearnedTable {
                position,
                max_len: self.max_len,
            });
        }
        let start = position * self.d_model;
        Ok(&self.weights[start..start + self.d_model])
    }
}

impl LearnedTable {
    /// The table stretched to `len` positions by linear interpolation (LongEmbed, Zhu et al.
    /// 2024, "LongEmbed: Extending Embedding Models for Long Context Retrieval"): with
    /// `s = max(1, len / max_len)`, position `p` gets `(1 − w)·E[⌊p/s⌋] + w·E[⌈p/s⌉]`,
    /// `w = p/s − ⌊p/s⌋` (the last row where `⌈p/s⌉` would pass the table). Up to `max_len` the
    /// rows are returned unchanged. Row-major `[len][d_model]`; `len` in 1..=65 536.
    pub fn interpolated(&self, len: usize) -> Result<Vec<f32>, PeError> {
        check_sizes(len, self.d_model)?;
        let s = (len as f64 / self.max_len as f64).max(1.0);
        let d = self.d_model;
        let mut out = Vec::with_capacity(len * d);
        for p in 0..len {
            let x = p as f64 / s;
            let lo = (x.floor() as usize).min(self.max_len - 1);
            let hi = (lo + 1).min(self.max_len - 1);
            let w = (x - lo as f64).clamp(0.0, 1.0) as f32;
            let (a, b) = (&self.weights[lo * d..(lo + 1) * d], &self.weights[hi * d..(hi + 1) * d]);
            out.extend(a.iter().zip(b).map(|(a, b)| (1.0 - w) * a + w * b));
        }
        Ok(out)
    }
}

/// Cosine similarity of every pair of `rows` (row-major, `d` wide): `n × n`, row-major, in
/// `[−1, 1]`. A zero row is similar to nothing (0), never NaN. How a learned position table
/// organises itself: neighbouring positions similar, a band along the diagonal (Wang & Chen
/// 2020, "What Do Position Embeddings Learn?").
pub fn cosine_similarity(rows: &[f32], d: usize) -> Result<Vec<f32>, PeError> {
    if d == 0 || !rows.len().is_multiple_of(d) {
        return Err(PeError::invalid(
            "rows",
            rows.len(),
            format!("a multiple of d = {d} values"),
        ));
    }
    let n = rows.len() / d;
    check_sizes(n.max(1), d)?;
    if rows.iter().any(|v| !v.is_finite()) {
        return Err(PeError::NonFinite {
            what: "position table",
            detail: "an entry is NaN or infinite".into(),
        });
    }
    let norms: Vec<f64> = rows
        .chunks_exact(d)
        .map(|r| r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt())
        .collect();
    let mut out = vec![0.0f32; n * n];
    for i in 0..n {
        for j in i..n {
            let denom = norms[i] * norms[j];
            let c = if denom > 0.0 {
                let dot: f64 = rows[i * d..(i + 1) * d]
                    .iter()
                    .zip(&rows[j * d..(j + 1) * d])
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum();
                (dot / denom).clamp(-1.0, 1.0) as f32
            } else {
                0.0
            };
            out[i * n + j] = c;
            out[j * n + i] = c;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_keeps_the_table_inside_and_blends_neighbours_beyond() {
        let w: Vec<f32> = (0..8).map(|v| v as f32).collect(); // rows [0,1], [2,3], [4,5], [6,7]
        let t = LearnedTable::new(4, 2, w.clone()).unwrap();
        assert_eq!(t.interpolated(4).unwrap(), w, "inside the table: the rows themselves");
        assert_eq!(t.interpolated(3).unwrap(), w[..6].to_vec());
        // Twice as long: s = 2, position p reads row p/2; odd positions are midpoints.
        let x = t.interpolated(8).unwrap();
        assert_eq!(&x[..2], &[0.0, 1.0]);
        assert_eq!(&x[2..4], &[1.0, 2.0], "p = 1 is halfway between rows 0 and 1");
        assert_eq!(&x[12..14], &[6.0, 7.0], "p = 6 is row 3");
        assert_eq!(&x[14..16], &[6.0, 7.0], "p = 7 would read past the table: the last row");
        assert!(t.interpolated(0).is_err());
    }

    #[test]
    fn lookup_returns_the_stored_row() {
        let w: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let t = LearnedTable::new(3, 2, w).unwrap();
        assert_eq!(t.row(0).unwrap(), &[0.0, 1.0]);
        assert_eq!(t.row(2).unwrap(), &[4.0, 5.0]);
    }

    #[test]
    fn past_the_table_is_a_typed_error() {
        let t = LearnedTable::seeded(8, 4, 0.02, 1).unwrap();
        assert!(t.row(7).is_ok());
        assert_eq!(
            t.row(8).unwrap_err(),
            PeError::PastLearnedTable {
                position: 8,
                max_len: 8
            }
        );
    }

    #[test]
    fn rejects_wrong_weight_count_and_bad_sizes() {
        assert!(LearnedTable::new(3, 2, vec![0.0; 5]).is_err());
        assert!(LearnedTable::new(0, 2, vec![]).is_err());
        assert!(LearnedTable::seeded(4, 3, 0.02, 0).is_err());
        assert!(LearnedTable::seeded(4, 2, -1.0, 0).is_err());
        assert!(LearnedTable::seeded(65_536, 4096, 0.02, 0).is_err());
    }

    #[test]
    fn cosine_similarity_of_rows() {
        // Rows: e₀, 2·e₀, e₁, −e₀, 0.
        let rows = [1.0, 0.0, 2.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0];
        let s = cosine_similarity(&rows, 2).unwrap();
        let at = |i: usize, j: usize| s[i * 5 + j];
        assert_eq!(at(0, 1), 1.0, "parallel rows");
        assert_eq!(at(0, 2), 0.0, "orthogonal rows");
        assert_eq!(at(0, 3), -1.0, "opposite rows");
        assert_eq!(at(4, 4), 0.0, "a zero row is similar to nothing, not NaN");
        for i in 0..5 {
            for j in 0..5 {
                assert_eq!(at(i, j), at(j, i));
            }
        }
        assert!(cosine_similarity(&rows[..3], 2).is_err(), "ragged");
        assert!(cosine_similarity(&[f32::NAN, 1.0], 2).is_err(), "NaN entry");
        assert!(cosine_similarity(&rows, 0).is_err(), "zero width");
    }
}
