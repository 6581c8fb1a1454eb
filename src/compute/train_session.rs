//! The compute worker's training run (`train` feature): one [`Trainer`] advanced in slices of a
//! few tens of milliseconds, so that between slices the worker answers pause/resume/stop, probes
//! the current weights at any length and measures them, and the page keeps receiving progress.

use web_time::Instant;

use super::protocol::{FromWorker, Reply, Request, TrainAction, TrainProgress, TrainState, WireError};
use super::server::LabServer;
use crate::model::ModelError;
use crate::model::catalog::{Curve, FORMAT, ModelMeta};
use crate::model::eval::Evaluator;
use crate::model::train::Trainer;
use crate::model::weights::{WeightFile, file_checksum};
use crate::model::{RopeOptions, model_name};

/// Samples of each in-distribution measurement during training.
pub const EVAL_SAMPLES: usize = 128;
/// Seed of those samples (fixed: the curve of accuracies is comparable step to step).
pub const EVAL_SEED: u64 = 4321;

/// One training run and its bookkeeping.
pub struct TrainSession {
    trainer: Trainer,
    /// The job whose reply stream carries the progress.
    job: u64,
    state: TrainState,
    eval_every: usize,
    /// Losses already reported.
    reported: usize,
    /// Time spent in steps, seconds.
    train_s: f64,
    exact_match: Option<(usize, f64)>,
    error: Option<String>,
}

impl LabServer {
    /// Whether a run wants more slices.
    pub fn training_active(&self) -> bool {
        self.train.as_ref().is_some_and(|t| t.state == TrainState::Running)
    }

    fn progress(&mut self) -> TrainProgress {
        let backend = self.device.backend;
        match &mut self.train {
            None => TrainProgress {
                backend,
                ..Default::default()
            },
            Some(t) => {
                let from = t.reported;
                let losses = t.trainer.losses[from..].to_vec();
                t.reported = t.trainer.losses.len();
                let step = t.trainer.step_index();
                TrainProgress {
                    state: t.state,
                    step,
                    steps: t.trainer.spec.steps,
                    from,
                    losses,
                    steps_per_s: if t.train_s > 0.0 { step as f64 / t.train_s } else { 0.0 },
                    exact_match: t.exact_match,
                    backend,
                    error: t.error.clone(),
                }
            }
        }
    }

    /// Run training steps for about `budget_ms`, then report (`None` when no run is active).
    pub async fn train_slice(&mut self, budget_ms: f64) -> Option<FromWorker> {
        if !self.training_active() {
            return None;
        }
        let started = Instant::now();
        let t = self.train.as_mut()?;
        loop {
            let step_start = Instant::now();
            let r = t.trainer.step().await;
            t.train_s += step_start.elapsed().as_secs_f64();
            if let Err(e) = r {
                t.state = TrainState::Error;
                t.error = Some(e.to_string());
                break;
            }
            let step = t.trainer.step_index();
            if step % t.eval_every.max(1) == 0 || t.trainer.done() {
                match measure(&t.trainer, t.trainer.spec.train_len, EVAL_SAMPLES, EVAL_SEED).await {
                    Ok(em) => t.exact_match = Some((step, em)),
                    Err(e) => {
                        t.state = TrainState::Error;
                        t.error = Some(e.to_string());
                        break;
                    }
                }
            }
            if t.trainer.done() {
                t.state = TrainState::Done;
                break;
            }
            if started.elapsed().as_secs_f64() * 1000.0 >= budget_ms {
                break;
            }
        }
        let job = t.job;
        let progress = self.progress();
        let more = progress.state == TrainState::Running;
        Some(FromWorker {
            job,
            reply: Reply::TrainProgress(progress),
            more,
        })
    }

    pub(super) async fn handle_train(&mut self, job: u64, request: Request) -> Reply {
        let failed = |e: &ModelError| Reply::Failed(WireError::from(e));
        match request {
            Request::TrainStart { spec, eval_every } => match Trainer::new(&spec, self.device.device.clone()) {
                Ok(trainer) => {
                    self.train = Some(TrainSession {
                        trainer,
                        job,
                        state: TrainState::Running,
                        eval_every: eval_every.max(1),
                        reported: 0,
                        train_s: 0.0,
                        exact_match: None,
                        error: None,
                    });
                    Reply::TrainProgress(self.progress())
                }
                Err(e) => failed(&e),
            },
            Request::TrainControl { action } => {
                if let Some(t) = &mut self.train {
                    t.state = match (action, t.state) {
                        (TrainAction::Pause, TrainState::Running) => TrainState::Paused,
                        (TrainAction::Resume, TrainState::Paused) => TrainState::Running,
                        (TrainAction::Stop, TrainState::Running | TrainState::Paused) => TrainState::Done,
                        (_, s) => s,
                    };
                }
                Reply::TrainProgress(self.progress())
            }
            Request::TrainTrace { len, seed } => match self.trained() {
                Ok(trainer) => {
                    let result = async {
                        let model = trainer.model()?;
                        let rope = RopeOptions::default();
                        let ev = Evaluator {
                            model: &model,
                            config: &trainer.config,
                            task: trainer.spec.task,
                            rope: &rope,
                            device: trainer.plain_device(),
                        };
                        ev.trace_sample(len, seed).await
                    }
                    .await;
                    result.map_or_else(|e| failed(&e), |t| Reply::Trace(Box::new(t)))
                }
                Err(e) => failed(&e),
            },
            Request::TrainCurve {
                lengths,
                samples,
                seed,
                rope,
            } => match self.trained() {
                Ok(trainer) => {
                    let result = async {
                        let model = trainer.model()?;
                        let ev = Evaluator {
                            model: &model,
                            config: &trainer.config,
                            task: trainer.spec.task,
                            rope: &rope,
                            device: trainer.plain_device(),
                        };
                        ev.curve(&lengths, samples, seed).await
                    }
                    .await;
                    result.map_or_else(|e| failed(&e), Reply::Curve)
                }
                Err(e) => failed(&e),
            },
            Request::TrainExport => match self.trained() {
                Ok(trainer) => match export(trainer).await {
                    Ok((meta, weights)) => Reply::TrainExported {
                        meta: Box::new(meta),
                        weights,
                    },
                    Err(e) => failed(&e),
                },
                Err(e) => failed(&e),
            },
            _ => Reply::Failed(WireError {
                message: "not a training request".into(),
                past_table: None,
            }),
        }
    }

    fn trained(&self) -> Result<&Trainer, ModelError> {
        self.train
            .as_ref()
            .map(|t| &t.trainer)
            .ok_or_else(|| ModelError::Options("no training run yet: start one first".into()))
    }
}

/// Exact match of the trainer's current weights at `len`.
async fn measure(trainer: &Trainer, len: usize, samples: usize, seed: u64) -> Result<f64, ModelError> {
    let model = trainer.model()?;
    let ev = Evaluator {
        model: &model,
        config: &trainer.config,
        task: trainer.spec.task,
        rope: &RopeOptions::default(),
        device: trainer.plain_device(),
    };
    Ok(ev.score_at(len, samples, seed).await?.exact_match())
}

/// The current weights as a `PLW1` file and metadata that `poslens eval` and the Model lab read
/// (measured on the model re-loaded from the f16 bytes, like `poslens train` does).
async fn export(trainer: &Trainer) -> Result<(ModelMeta, Vec<u8>), ModelError> {
    let spec = &trainer.spec;
    let model = trainer.model()?;
    let bytes = WeightFile::from_model_async(&model).await?.encode();
    let device = trainer.plain_device();
    let reloaded = WeightFile::decode(&bytes)?.apply(trainer.config.init(device), device)?;
    let ev = Evaluator {
        model: &reloaded,
        config: &trainer.config,
        task: spec.task,
        rope: &RopeOptions::default(),
        device,
    };
    let in_dist = ev.score_at(spec.train_len, EVAL_SAMPLES, EVAL_SEED).await?;
    let lengths: Vec<usize> = (1..=8)
        .map(|k| k * spec.train_len)
        .filter(|&l| l <= spec.task.max_len())
        .collect();
    let curve: Curve = ev.curve(&lengths, EVAL_SAMPLES, EVAL_SEED).await?;
    let losses = &trainer.losses;
    let tail = &losses[losses.len().saturating_sub(50)..];
    let name = model_name(spec.task, spec.pe);
    let meta = ModelMeta {
        format: FORMAT,
        name: name.clone(),
        task: spec.task,
        pe: spec.pe,
        config: trainer.config.clone(),
        train_len: spec.train_len,
        seed: spec.seed,
        steps: trainer.step_index(),
        batch: spec.batch,
        learning_rate: spec.learning_rate,
        lengths: spec.lengths,
        init: spec.init,
        queries: spec.queries,
        aux_previous: spec.aux_previous,
        adam_epsilon: spec.adam_epsilon,
        final_loss: tail.iter().sum::<f64>() / tail.len().max(1) as f64,
        in_distribution_exact_match: in_dist.exact_match(),
        in_distribution_token_accuracy: in_dist.token_accuracy(),
        curve,
        params: crate::model::param_count(&reloaded),
        weights_file: format!("{name}.plw"),
        weights_bytes: bytes.len(),
        weights_fnv1a64: Some(file_checksum(&bytes)),
        train_seconds: 0.0,
        trained_on: "PosLens Train lab (compute worker)".into(),
    };
    Ok((meta, bytes))
}
