//! The Positions view's model panel: the shipped recall-rope and recall-alibi models at a long
//! recall length N, once with plain ids and once with remapped ids, in the compute worker
//! (`LabJob` with `RopeOptions::ids`, the same path as `poslens eval --positions`).

use crate::compute::client::{ComputeClient, JobId};
use crate::compute::protocol::{LabJob, Reply, Request};
use crate::model::RopeOptions;
use crate::pe::position_ids::{IdRule, rule_to_string};
use crate::views::shipped_model::ShippedModel;

/// The models compared, and the samples per score.
pub const MODELS: [&str; 2] = ["recall-rope", "recall-alibi"];
pub const SAMPLES: usize = 64;
/// The evaluation seed of the Model lab and `poslens eval`.
const SEED: u64 = 1234;

/// One score asked for: model, length, rule (text form).
pub type ScoreKey = (usize, usize, String);

/// Loading and scoring state.
pub struct ModelPanel {
    models: [ShippedModel; 2],
    job: Option<(ScoreKey, JobId)>,
    /// Exact match per (model, N, rule); `Err` with the worker's message.
    scores: Vec<(ScoreKey, Result<f64, String>)>,
}

impl Default for ModelPanel {
    fn default() -> Self {
        Self {
            models: MODELS.map(ShippedModel::new),
            job: None,
            scores: Vec::new(),
        }
    }
}

impl ModelPanel {
    /// The training length of the models, once their metadata is read.
    pub fn train_len(&self) -> Option<usize> {
        self.models[0].meta().map(|m| m.train_len)
    }

    /// Load the models and score both at `len` with plain ids and with `remap`; one job in
    /// flight at a time. Returns whether work is pending.
    pub fn update(&mut self, compute: &ComputeClient, len: usize, remap: IdRule) -> bool {
        let mut busy = false;
        for m in &mut self.models {
            busy |= m.poll(compute);
        }
        if let Some((key, job)) = self.job.clone()
            && let Some(reply) = compute.take(job)
        {
            self.job = None;
            let r = match reply {
                Ok(Reply::Run(r)) => Ok(r.score.exact_match()),
                Ok(Reply::Failed(e)) => {
                    self.models[key.0].note_failure(&e.message);
                    Err(e.message)
                }
                Ok(other) => Err(format!("unexpected reply {other:?}")),
                Err(e) => Err(e),
            };
            // An eviction is retried once the model is back, not shown as a result.
            if !r.as_ref().is_err_and(|e| e.contains("not loaded")) {
                self.scores.retain(|(k, _)| *k != key);
                self.scores.push((key, r));
            }
        }
        if self.job.is_none() {
            let wanted = [(0, IdRule::Plain), (0, remap), (1, IdRule::Plain), (1, remap)]
                .into_iter()
                .find(|(m, rule)| {
                    let key: ScoreKey = (*m, len, rule_to_string(rule));
                    self.models[*m].is_loaded() && !self.scores.iter().any(|(k, _)| *k == key)
                });
            if let Some((m, rule)) = wanted {
                let key: ScoreKey = (m, len, rule_to_string(&rule));
                let id = compute.submit(Request::Run(LabJob {
                    name: MODELS[m].into(),
                    len,
                    rope: RopeOptions {
                        ids: Some(rule),
                        ..RopeOptions::default()
                    },
                    trace_seed: SEED,
                    samples: SAMPLES,
                    seed: SEED,
                    curve_lengths: None,
                    curve_samples: 0,
                    probe: false,
                    given: None,
                }));
                self.job = Some((key, id));
            }
        }
        // Keep the cache small: the scores of the last few settings.
        if self.scores.len() > 64 {
            self.scores.drain(..self.scores.len() - 64);
        }
        busy || self.job.is_some()
    }

    /// Exact match of `model` at `len` with `rule`, when measured.
    pub fn score(&self, model: usize, len: usize, rule: &IdRule) -> Option<&Result<f64, String>> {
        let key: ScoreKey = (model, len, rule_to_string(rule));
        self.scores.iter().find(|(k, _)| *k == key).map(|(_, r)| r)
    }

    pub fn errors(&self) -> Vec<String> {
        self.models.iter().filter_map(ShippedModel::error).collect()
    }
}
