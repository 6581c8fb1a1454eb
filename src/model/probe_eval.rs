//! The linear position probe run on a loaded model (the maths is in [`super::probe`]): hidden
//! states of seeded samples, one ridge probe per layer fitted at the training length, scored on
//! held-out samples at every length.

use super::ModelError;
use super::eval::{Evaluator, chunk_size, length_seed, read_f32, tokens_tensor};
use super::probe::{self, ProbeReport};
use crate::pe::PeError;
use crate::rng::SplitMix64;

/// Evaluation samples come from another stream than the fitting ones (held out).
const HELD_OUT: u64 = 0x9E37_79B9_7F4A_7C15;

/// Most tokens (samples × length) one probe reads, to bound memory and time.
pub const MAX_PROBE_TOKENS: usize = 1 << 16;

impl Evaluator<'_> {
    /// The residual stream of `samples` seeded samples at `len`: per layer (0 = input, `l` =
    /// after block `l`) row-major `[samples · len, d_model]`, and each row's position.
    pub async fn hidden_states(
        &self,
        len: usize,
        samples: usize,
        seed: u64,
    ) -> Result<(Vec<Vec<f32>>, Vec<f64>), ModelError> {
        self.task.check_len(len)?;
        if samples.saturating_mul(len) > MAX_PROBE_TOKENS {
            return Err(ModelError::Options(format!(
                "{samples} samples × {len} tokens: a probe reads at most {MAX_PROBE_TOKENS} tokens"
            )));
        }
        let positions = self.positions(len).await?;
        let mut rng = SplitMix64::new(length_seed(seed, len));
        let mut layers: Vec<Vec<f32>> = Vec::new();
        let mut y = Vec::with_capacity(samples * len);
        let chunk = chunk_size(self.config.n_heads, len);
        let mut left = samples.max(1);
        while left > 0 {
            let n = left.min(chunk);
            let batch = self.task.batch(n, len, &mut rng)?;
            let out = self.model.forward(tokens_tensor(&batch, self.device), &positions, true);
            layers.resize(out.hidden.len(), Vec::new());
            for (l, h) in out.hidden.into_iter().enumerate() {
                layers[l].extend(read_f32(h).await?);
            }
            for _ in 0..n {
                y.extend((0..len).map(|m| m as f64));
            }
            left -= n;
        }
        Ok((layers, y))
    }

    /// One probe per layer, fitted on `samples` samples at `fit_len` and scored on `samples`
    /// held-out samples at each of `lengths`. A length the model cannot run at (learned APE
    /// past its table) scores `None`.
    pub async fn position_probe(
        &self,
        fit_len: usize,
        lengths: &[usize],
        samples: usize,
        seed: u64,
    ) -> Result<ProbeReport, ModelError> {
        let (train, y) = self.hidden_states(fit_len, samples, seed).await?;
        let dims = self.config.d_model;
        let probes = train
            .iter()
            .map(|x| probe::fit(x, dims, &y).map_err(ModelError::Backend))
            .collect::<Result<Vec<_>, _>>()?;
        let mut fits = vec![Vec::with_capacity(lengths.len()); probes.len()];
        for &len in lengths {
            match self.hidden_states(len, samples, seed ^ HELD_OUT).await {
                Ok((layers, y)) => {
                    for ((out, p), x) in fits.iter_mut().zip(&probes).zip(&layers) {
                        out.push(Some(p.score(x, &y)));
                    }
                }
                Err(ModelError::Pe(PeError::PastLearnedTable { .. })) => fits.iter_mut().for_each(|f| f.push(None)),
                Err(e) => return Err(e),
            }
        }
        Ok(ProbeReport {
            fit_len,
            samples,
            lengths: lengths.to_vec(),
            fits,
        })
    }
}
