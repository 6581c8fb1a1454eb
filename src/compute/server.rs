//! The compute side of the worker protocol: burn models and checks behind [`Request`]s.
//!
//! One [`LabServer`] runs in the browser's compute worker (`src/worker.rs`) and, natively, in
//! the app's own thread behind the same JSON ([`super::client::ComputeClient`]). It keeps the
//! models it was sent (a few, most recent first) and answers one request at a time.

use std::rc::Rc;

use web_time::Instant;

use super::device::ComputeDevice;
use super::protocol::{
    self, DEPTH_BUCKETS, FromWorker, LabJob, LabResult, PROBE_SAMPLES, PROTOCOL, Reply, Request, ToWorker, WireError,
};
use crate::model::catalog::{ModelMeta, load_model};
use crate::model::eval::Evaluator;
use crate::model::{Model, ModelError, param_count};

/// How many loaded models the server keeps (the Model lab flips between a few).
pub const KEEP_MODELS: usize = 4;

/// burn device + loaded models + at most one training run.
pub struct LabServer {
    pub(super) device: ComputeDevice,
    /// Most recently used first.
    pub(super) models: Vec<(String, ModelMeta, Rc<Model>)>,
    #[cfg(feature = "train")]
    pub(super) train: Option<super::train_session::TrainSession>,
}

impl LabServer {
    pub fn new(device: ComputeDevice) -> Self {
        Self {
            device,
            models: Vec::new(),
            #[cfg(feature = "train")]
            train: None,
        }
    }

    pub fn device(&self) -> &ComputeDevice {
        &self.device
    }

    /// The message announcing this server's device.
    pub fn ready(&self) -> FromWorker {
        FromWorker {
            job: 0,
            more: false,
            reply: Reply::Ready {
                protocol: PROTOCOL,
                backend: self.device.backend,
                note: self.device.note.clone(),
            },
        }
    }

    /// Answer one JSON request with one JSON reply (a malformed request gets a `Failed`).
    pub async fn handle_json(&mut self, text: &str) -> String {
        let reply = match protocol::decode::<ToWorker>(text) {
            Ok(msg) => {
                let job = msg.job;
                let starts_run = matches!(msg.request, Request::TrainStart { .. });
                let reply = self.handle(job, msg.request).await;
                // A started run streams its progress under this job (see `train_slice`).
                let more = starts_run
                    && matches!(&reply, Reply::TrainProgress(p) if p.state == super::protocol::TrainState::Running);
                FromWorker { job, reply, more }
            }
            // Answer the job the text names, if it names one (a NaN sent as JSON `null`, say),
            // so one bad request does not fail the others.
            Err(message) => FromWorker {
                job: serde_json::from_str::<serde_json::Value>(text)
                    .ok()
                    .and_then(|v| v.get("job").and_then(serde_json::Value::as_u64))
                    .unwrap_or(0),
                more: false,
                reply: Reply::Failed(WireError {
                    message,
                    past_table: None,
                }),
            },
        };
        protocol::encode(&reply)
    }

    pub async fn handle(&mut self, job: u64, request: Request) -> Reply {
        let failed = |e: &ModelError| Reply::Failed(WireError::from(e));
        match request {
            Request::SoftmaxRow {
                table,
                seq_len,
                d_model,
                query_pos,
            } => {
                match super::softmax_check::run(self.device.device.clone(), table, seq_len, d_model, query_pos).await {
                    Ok(mut check) => {
                        let row = std::mem::take(&mut check.row);
                        Reply::Softmax { check, row }
                    }
                    Err(e) => Reply::Failed(WireError {
                        message: e.to_string(),
                        past_table: None,
                    }),
                }
            }
            Request::LoadModel { meta, weights, name } => match load_model(&meta, &weights, &self.device.device) {
                Ok(model) => {
                    let name = name.unwrap_or_else(|| crate::model::model_name(meta.task, meta.config.pe));
                    let params = param_count(&model);
                    self.models.retain(|(n, _, _)| *n != name);
                    self.models.insert(0, (name.clone(), meta, Rc::new(model)));
                    self.models.truncate(KEEP_MODELS);
                    Reply::Loaded { name, params }
                }
                Err(e) => failed(&e),
            },
            Request::Run(lab_job) => match self.run(&lab_job).await {
                Ok(r) => Reply::Run(Box::new(r)),
                Err(e) => failed(&e),
            },
            Request::Phasors {
                name,
                len,
                pos,
                layer,
                seed,
            } => match self.phasors(&name, len, pos, layer, seed).await {
                Ok(p) => Reply::Phasors(Box::new(p)),
                Err(e) => failed(&e),
            },
            #[cfg(feature = "train")]
            other => self.handle_train(job, other).await,
            #[cfg(not(feature = "train"))]
            _ => {
                let _ = job;
                Reply::Failed(WireError {
                    message: "this build of the compute worker has no trainer".into(),
                    past_table: None,
                })
            }
        }
    }

    async fn phasors(
        &mut self,
        name: &str,
        len: usize,
        pos: usize,
        layer: usize,
        seed: u64,
    ) -> Result<crate::model::Phasors, ModelError> {
        let Some((_, meta, model)) = self.models.iter().find(|(n, _, _)| n == name) else {
            return Err(ModelError::Backend(format!(
                "model {name} is not loaded in the compute worker"
            )));
        };
        let rope = crate::model::RopeOptions::default();
        let ev = Evaluator {
            model,
            config: &meta.config,
            task: meta.task,
            rope: &rope,
            device: &self.device.device,
        };
        ev.phasors(len, seed, layer, pos).await
    }

    async fn run(&mut self, job: &LabJob) -> Result<LabResult, ModelError> {
        let Some(i) = self.models.iter().position(|(n, _, _)| *n == job.name) else {
            return Err(ModelError::Backend(format!(
                "model {} is not loaded in the compute worker",
                job.name
            )));
        };
        let entry = self.models.remove(i);
        self.models.insert(0, entry);
        let (_, meta, model) = &self.models[0];
        let started = Instant::now();
        let ev = Evaluator {
            model,
            config: &meta.config,
            task: meta.task,
            rope: &job.rope,
            device: &self.device.device,
        };
        let trace = match &job.given {
            Some(g) => {
                let sample = crate::tasks::Sample {
                    tokens: g.tokens.clone(),
                    answer_positions: g.answer_positions.clone(),
                };
                ev.trace_given(sample).await?
            }
            None => ev.trace_sample(job.len, job.trace_seed).await?,
        };
        let trace_ms = started.elapsed().as_secs_f64() * 1000.0;
        // Recall: the same samples scored by the depth of the queried pair; their sum is the score.
        let by_depth = if meta.task == crate::tasks::TaskKind::Recall {
            ev.score_by_depth(job.len, job.samples, job.seed, DEPTH_BUCKETS).await?
        } else {
            Vec::new()
        };
        let score = match by_depth.is_empty() {
            true => ev.score_at(job.len, job.samples, job.seed).await?,
            false => by_depth.iter().fold(crate::tasks::Score::default(), |mut total, s| {
                total.add(*s);
                total
            }),
        };
        let extension_curve = match &job.curve_lengths {
            Some(lengths) => Some(ev.curve(lengths, job.curve_samples, job.seed).await?),
            None => None,
        };
        let probe = if job.probe {
            let mut lengths = vec![meta.train_len];
            if job.len != meta.train_len {
                lengths.push(job.len);
            }
            Some(
                ev.position_probe(meta.train_len, &lengths, PROBE_SAMPLES, job.seed)
                    .await?,
            )
        } else {
            None
        };
        Ok(LabResult {
            trace,
            score,
            by_depth,
            probe,
            extension_curve,
            compute_ms: started.elapsed().as_secs_f64() * 1000.0,
            trace_ms,
        })
    }
}
