//! Evaluation: accuracy of a model at a length, the accuracy-vs-length curve, and one traced
//! sample for the Model lab. `async` so the browser reads tensors back with `into_data_async`;
//! natively the futures are simply blocked on. `poslens eval` and the app call the same code.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::catalog::Curve;
use super::{Model, ModelConfig, ModelError, PeKind, Positions, RopeOptions};
pub use super::{Phasors, TracedSample};
use crate::pe::PositionMap;
use crate::pe::learned::LearnedTable;
use crate::pe::position_ids::{self, IdRule};
use crate::rng::SplitMix64;
use crate::tasks::{Batch, Score, TaskKind};

/// Attention cells per evaluation chunk (batch × heads × len²), to bound memory.
const CHUNK_CELLS: usize = 1 << 22;

/// Samples per forward pass at `len` for `heads` heads.
pub fn chunk_size(heads: usize, len: usize) -> usize {
    (CHUNK_CELLS / (heads.max(1) * len * len).max(1)).clamp(1, 256)
}

/// The evaluation samples' seed at one length: the same samples whoever evaluates.
pub fn length_seed(seed: u64, len: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (len as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

async fn read_i64(t: Tensor<1, Int>) -> Result<Vec<i64>, ModelError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ModelError::Backend(format!("reading results back failed: {e:?}")))?;
    data.try_to_vec_as::<i64>()
        .map_err(|e| ModelError::Backend(format!("unexpected result type: {e:?}")))
}

pub(crate) async fn read_f32<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    let data = t
        .into_data_async()
        .await
        .map_err(|e| ModelError::Backend(format!("reading results back failed: {e:?}")))?;
    data.try_to_vec_as::<f32>()
        .map_err(|e| ModelError::Backend(format!("unexpected result type: {e:?}")))
}

/// Token tensor `[batch, len]` of a batch.
pub fn tokens_tensor(batch: &Batch, device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(
        TensorData::new(batch.tokens_flat(), [batch.samples.len(), batch.len]),
        device,
    )
}

/// Greedy predictions at a batch's scored positions, in [`Batch::answer_index`] order.
///
/// # Shapes
/// - logits `[batch, len, vocab]` → rows `[answers, vocab]` → argmax `[answers]`
pub async fn predict(
    model: &Model,
    batch: &Batch,
    positions: &Positions,
    device: &Device,
) -> Result<Vec<i64>, ModelError> {
    let out = model.forward(tokens_tensor(batch, device), positions, false);
    let [b, l, v] = out.logits.dims();
    let (idx, _) = batch.answer_index();
    let n = idx.len();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), device);
    let rows = out.logits.reshape([b * l, v]).select(0, idx);
    read_i64(rows.argmax(1).reshape([n])).await
}

/// A loaded model with what it is evaluated on: task, RoPE options and device.
#[derive(Clone, Copy)]
pub struct Evaluator<'a> {
    pub model: &'a Model,
    pub config: &'a ModelConfig,
    pub task: TaskKind,
    pub rope: &'a RopeOptions,
    pub device: &'a Device,
}

impl Evaluator<'_> {
    /// The inputs at `len`, with the options' position-id rule applied to the task's segments.
    /// Windowed RoPE on a RoPE model is ReRoPE's map (A²ATS's window is ReRoPE's); rules that
    /// change the mask from content (Uni-Encoder, PINE, LongHeads) are refused.
    pub async fn positions(&self, len: usize) -> Result<Positions, ModelError> {
        if self.rope.interpolate_learned && self.config.pe == PeKind::Learned {
            let table = self
                .model
                .learned_table()
                .ok_or_else(|| ModelError::Options("this model has no learned position table".into()))?;
            let values = read_f32(table).await?;
            let table = LearnedTable::new(self.config.max_len, self.config.d_model, values)?;
            let rows = table.interpolated(len)?;
            return Positions::with_learned_rows(self.config, len, self.rope, rows, self.device);
        }
        let Some(rule) = self.rope.ids else {
            return Positions::new(self.config, len, self.rope, self.device);
        };
        if !rule.ids_only() {
            return Err(ModelError::Options(format!(
                "{} changes which tokens see each other from their content; a trained model runs \
                 with plain, V2PE, shared or windowed ids",
                rule.paper()
            )));
        }
        if let (IdRule::Windowed { window }, PeKind::Rope) = (rule, self.config.pe) {
            if !self.rope.map.is_identity() {
                return Err(ModelError::Options(
                    "choose a position map (LM-Infinite, SelfExtend, ReRoPE) or position ids, not both".into(),
                ));
            }
            let opts = RopeOptions {
                map: PositionMap::ReRope { window },
                ids: None,
                ..self.rope.clone()
            };
            return Positions::new(self.config, len, &opts, self.device);
        }
        let layout = position_ids::layout(&self.task.segments(len)?, &rule)?;
        Positions::with_ids(self.config, len, self.rope, Some(&layout), self.device)
    }

    /// Accuracy at one length on `samples` seeded samples.
    pub async fn score_at(&self, len: usize, samples: usize, seed: u64) -> Result<Score, ModelError> {
        let mut groups = self.score_groups(len, samples, seed, 1, |_| 0).await?;
        Ok(groups.pop().unwrap_or_default())
    }

    /// Recall accuracy at `len` by the depth of the queried key ("lost in the middle": Liu et
    /// al. 2023), `buckets` equal slices of depth 0 (first pair) … 1 (last pair), on the same
    /// seeded samples as [`Evaluator::score_at`].
    pub async fn score_by_depth(
        &self,
        len: usize,
        samples: usize,
        seed: u64,
        buckets: usize,
    ) -> Result<Vec<Score>, ModelError> {
        if self.task != crate::tasks::TaskKind::Recall {
            return Err(ModelError::Options("depth buckets apply to the recall task".into()));
        }
        if !(1..=32).contains(&buckets) {
            return Err(ModelError::Options(format!("{buckets} depth buckets: must be 1..=32")));
        }
        let bucket = |s: &crate::tasks::Sample| crate::tasks::recall::depth_bucket(s, buckets).unwrap_or(0);
        self.score_groups(len, samples, seed, buckets, bucket).await
    }

    /// The seeded samples at `len`, scored into `groups` scores by `group_of(sample)`.
    async fn score_groups(
        &self,
        len: usize,
        samples: usize,
        seed: u64,
        groups: usize,
        group_of: impl Fn(&crate::tasks::Sample) -> usize,
    ) -> Result<Vec<Score>, ModelError> {
        self.task.check_len(len)?;
        let positions = self.positions(len).await?;
        let mut rng = SplitMix64::new(length_seed(seed, len));
        let mut out = vec![Score::default(); groups.max(1)];
        let chunk = chunk_size(self.config.n_heads, len);
        let mut left = samples.max(1);
        while left > 0 {
            let n = left.min(chunk);
            let batch = self.task.batch(n, len, &mut rng)?;
            let pred = predict(self.model, &batch, &positions, self.device).await?;
            let mut at = 0;
            for sample in &batch.samples {
                let k = sample.answer_positions.len();
                let one = Batch {
                    len,
                    samples: vec![sample.clone()],
                };
                let g = group_of(sample).min(out.len() - 1);
                if let Some(p) = pred.get(at..at + k) {
                    out[g].add(Score::of(&one, p));
                }
                at += k;
            }
            left -= n;
        }
        Ok(out)
    }

    /// Accuracy at each length; a length the model cannot run at (learned APE past its table)
    /// gets `None`.
    pub async fn curve(&self, lengths: &[usize], samples: usize, seed: u64) -> Result<Curve, ModelError> {
        let mut c = Curve {
            samples,
            seed,
            ..Curve::default()
        };
        for &len in lengths {
            let s = match self.score_at(len, samples, seed).await {
                Ok(s) => Some(s),
                Err(ModelError::Pe(crate::pe::PeError::PastLearnedTable { .. })) => None,
                Err(e) => return Err(e),
            };
            c.length.push(len);
            c.exact_match.push(s.map(|s| s.exact_match()));
            c.token_accuracy.push(s.map(|s| s.token_accuracy()));
        }
        Ok(c)
    }

    /// The first sample of the evaluation stream of `seed` at `len`: layer `layer`'s query at
    /// `pos` and every position's key, as attention sees them (after RoPE).
    pub async fn phasors(&self, len: usize, seed: u64, layer: usize, pos: usize) -> Result<Phasors, ModelError> {
        let (config, device) = (self.config, self.device);
        self.task.check_len(len)?;
        if pos >= len || layer >= config.n_layers {
            return Err(ModelError::Backend(format!(
                "position {pos} / layer {layer} outside a {len}-token sample of a {}-layer model",
                config.n_layers
            )));
        }
        let positions = self.positions(len).await?;
        let mut rng = SplitMix64::new(length_seed(seed, len));
        let batch = self.task.batch(1, len, &mut rng)?;
        let (q, k) = self
            .model
            .layer_qk(tokens_tensor(&batch, device), &positions, layer)
            .ok_or_else(|| ModelError::Backend(format!("no layer {layer}")))?;
        let [_, heads, _, head_dim] = q.dims();
        let query = read_f32(q.narrow(2, pos, 1)).await?;
        let keys = read_f32(k).await?;
        let token = batch
            .samples
            .first()
            .and_then(|s| s.tokens.get(pos))
            .copied()
            .unwrap_or(0);
        Ok(Phasors {
            len,
            pos,
            layer,
            heads,
            head_dim,
            token,
            query,
            keys,
        })
    }

    /// The first sample of the evaluation stream of `seed` at `len`, with its attention.
    pub async fn trace_sample(&self, len: usize, seed: u64) -> Result<TracedSample, ModelError> {
        self.task.check_len(len)?;
        let mut rng = SplitMix64::new(length_seed(seed, len));
        let batch = self.task.batch(1, len, &mut rng)?;
        self.trace_batch(batch).await
    }

    /// A given sample (a reader's own input, `tasks::input`), with its attention.
    pub async fn trace_given(&self, sample: crate::tasks::Sample) -> Result<TracedSample, ModelError> {
        let len = sample.tokens.len();
        self.task.check_len(len)?;
        if sample.tokens.iter().any(|&t| t as usize >= self.config.vocab)
            || sample.answer_positions.iter().any(|&a| a + 1 >= len)
        {
            return Err(ModelError::Options(
                "the sample has tokens or answers outside the model's vocabulary or length".into(),
            ));
        }
        self.trace_batch(Batch {
            len,
            samples: vec![sample],
        })
        .await
    }

    /// Forward pass of a one-sample batch with its attention and greedy answers.
    async fn trace_batch(&self, batch: Batch) -> Result<TracedSample, ModelError> {
        let (config, device) = (self.config, self.device);
        let len = batch.len;
        let positions = self.positions(len).await?;
        let out = self.model.forward(tokens_tensor(&batch, device), &positions, true);
        let [b, l, v] = out.logits.dims();
        let (idx, _) = batch.answer_index();
        let n = idx.len();
        let rows = out
            .logits
            .reshape([b * l, v])
            .select(0, Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), device));
        let predicted = read_i64(rows.argmax(1).reshape([n])).await?;
        let mut attention = Vec::new();
        for a in out.attention {
            attention.push(read_f32(a).await?);
        }
        let sample = batch
            .samples
            .into_iter()
            .next()
            .ok_or_else(|| ModelError::Backend("empty batch".into()))?;
        Ok(TracedSample {
            tokens: sample.tokens,
            answer_positions: sample.answer_positions,
            predicted,
            len,
            heads: config.n_heads,
            attention,
        })
    }
}
