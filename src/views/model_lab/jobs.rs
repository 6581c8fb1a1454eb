//! The Model lab's asynchronous work: metadata and weight files fetched by the page, models
//! loaded and forward passes (traced sample, live score, live extension curve) run by the
//! compute worker (`crate::compute`), so the page itself never links burn.

use std::cell::RefCell;
use std::rc::Rc;

use crate::compute::client::{ComputeClient, JobId};
use crate::compute::protocol::{GivenSample, LabJob, Reply, Request};
use crate::compute::spawn;
use crate::model::catalog::ModelMeta;
use crate::model::{ModelError, PeKind, model_name};
use crate::pe::extension::ExtensionMethod;
use crate::tasks::TaskKind;

pub use crate::compute::protocol::LabResult;

use super::*;

pub(super) type Slot<T> = Rc<RefCell<Option<T>>>;

/// Everything a job depends on (a change starts a new job).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct JobKey {
    pub(super) name: String,
    pub(super) len: usize,
    pub(super) method: Option<ExtensionMethod>,
    pub(super) factor_bits: u64,
    pub(super) sample: u64,
    pub(super) interp: bool,
    pub(super) probe: bool,
    /// The reader's own input, when it parses.
    pub(super) given: Option<String>,
}

/// Where the selected model's weights are.
pub(super) enum Weights {
    /// The page is downloading the weight file.
    Fetching(String, Slot<Result<Vec<u8>, ModelError>>),
    /// The compute worker is building the model from them.
    Loading(String, JobId),
}

/// A reply turned into the lab's error type.
fn model_reply(reply: Result<Reply, String>) -> Result<Reply, ModelError> {
    match reply {
        Ok(Reply::Failed(e)) => Err(e.into()),
        Ok(r) => Ok(r),
        Err(why) => Err(ModelError::Backend(why)),
    }
}

impl ModelLabView {
    pub(super) fn run_jobs(&mut self, ctx: &egui::Context, compute: Option<&ComputeClient>) {
        let Some(compute) = compute else { return };
        if !self.metas_started {
            self.metas_started = true;
            for task in TaskKind::ALL {
                for pe in PeKind::ALL {
                    let name = model_name(task, pe);
                    let slot: Slot<Result<ModelMeta, ModelError>> = Rc::default();
                    let file = format!("{name}.json");
                    spawn(
                        async move {
                            let bytes = crate::assets::read_model_file(&file).await?;
                            let text = String::from_utf8(bytes)
                                .map_err(|_| ModelError::Meta(format!("{file} is not UTF-8 text")))?;
                            ModelMeta::from_json(&text)
                        },
                        slot.clone(),
                    );
                    self.metas.push((name, slot));
                }
            }
        }
        let resolved = &mut self.resolved;
        self.metas.retain(|(name, slot)| match slot.borrow_mut().take() {
            Some(r) => {
                resolved.insert(name.clone(), r);
                false
            }
            None => true,
        });
        self.load_weights(compute);
        // Collect a finished job.
        if let Some((key, job)) = &self.job
            && let Some(reply) = compute.take(*job)
        {
            let result = match model_reply(reply) {
                Ok(Reply::Run(r)) => Ok(*r),
                Ok(other) => Err(ModelError::Backend(format!("unexpected reply {other:?}"))),
                Err(e) => Err(e),
            };
            self.result = Some((key.clone(), result));
            self.job = None;
        }
        // Start the next one when idle and the state moved on.
        if self.job.is_none()
            && let Some(key) = self.job_key()
            && self.result.as_ref().map(|(k, _)| k) != Some(&key)
            && let Some(Ok(meta)) = self.meta_cloned(&key.name)
        {
            let extension = self.state.live_curve_label().is_some();
            let job = LabJob {
                name: key.name.clone(),
                len: key.len,
                rope: self.state.rope_options(meta.train_len, meta.config.head_dim()),
                trace_seed: EVAL_SEED.wrapping_add(key.sample),
                samples: LIVE_SAMPLES,
                seed: EVAL_SEED,
                curve_lengths: extension.then(|| meta.curve.length.clone()),
                curve_samples: CURVE_SAMPLES,
                probe: key.probe,
                given: self.state.given().and_then(Result::ok).map(|s| GivenSample {
                    tokens: s.tokens,
                    answer_positions: s.answer_positions,
                }),
            };
            let id = compute.submit(Request::Run(job));
            self.job = Some((key, id));
            // Natively the reply is already there: show it this frame.
            return self.run_jobs(ctx, Some(compute));
        }
        self.backend = compute.backend();
        // Heatmaps of the shown result.
        if let Some((key, Ok(r))) = &self.result
            && self.heatmaps_for.as_ref() != Some(key)
        {
            crate::widgets::attention_heads::set_attention_heads(ctx, "model_att", &r.trace, &mut self.heatmaps);
            self.heatmaps_for = Some(key.clone());
        }
        if self.busy() {
            ctx.request_repaint();
        }
    }

    /// Fetch the selected model's weight file (or take the reader's own), then have the worker
    /// build the model.
    fn load_weights(&mut self, compute: &ComputeClient) {
        let want = self.shown_name();
        let in_flight = match &self.weights {
            Some(Weights::Fetching(n, _) | Weights::Loading(n, _)) => Some(n.clone()),
            None => None,
        };
        // A model whose weights failed to load is not retried every frame (a 404 would be fetched
        // again and again, and its message would flicker): choosing it again after another retries.
        let failed = self.load_error.as_ref().is_some_and(|(n, _)| *n == want);
        if self.loaded.as_deref() != Some(want.as_str()) && in_flight.as_deref() != Some(want.as_str()) && !failed {
            if let Some(y) = self.shown_yours() {
                let table = insight::learned_table(&y.meta, &y.weights);
                self.learned.set(&want, table);
                let Some(y) = self.shown_yours() else { return };
                let job = compute.submit(Request::LoadModel {
                    meta: y.meta.clone(),
                    weights: y.weights.clone(),
                    name: Some(y.name.clone()),
                });
                self.weights = Some(Weights::Loading(want.clone(), job));
                self.load_error = None;
            } else {
                match self.meta_cloned(&want) {
                    Some(Ok(meta)) => {
                        let slot: Slot<Result<Vec<u8>, ModelError>> = Rc::default();
                        spawn(
                            async move { Ok(crate::assets::read_model_file(&meta.weights_file).await?) },
                            slot.clone(),
                        );
                        self.weights = Some(Weights::Fetching(want.clone(), slot));
                        self.load_error = None;
                    }
                    Some(Err(e)) => self.load_error = Some((want.clone(), e)),
                    None => {}
                }
            }
        }
        if let Some(Weights::Fetching(name, slot)) = &self.weights {
            let done = slot.borrow_mut().take();
            let name = name.clone();
            match (done, self.meta_cloned(&name)) {
                (None, _) => {}
                (Some(Ok(bytes)), Some(Ok(meta))) => {
                    self.learned.set(&name, insight::learned_table(&meta, &bytes));
                    let job = compute.submit(Request::LoadModel {
                        meta,
                        weights: bytes,
                        name: None,
                    });
                    self.weights = Some(Weights::Loading(name, job));
                }
                (Some(Err(e)), _) => {
                    self.load_error = Some((name, e));
                    self.weights = None;
                }
                (Some(Ok(_)), _) => self.weights = None,
            }
        }
        if let Some(Weights::Loading(name, job)) = &self.weights
            && let Some(reply) = compute.take(*job)
        {
            match model_reply(reply) {
                Ok(Reply::Loaded { .. }) => {
                    self.loaded = Some(name.clone());
                    self.load_error = None;
                }
                Ok(other) => {
                    self.load_error = Some((name.clone(), ModelError::Backend(format!("unexpected reply {other:?}"))))
                }
                Err(e) => self.load_error = Some((name.clone(), e)),
            }
            self.weights = None;
        }
    }
}

/// Reads every shipped metadata file now (native export and tests; the app loads them async).
#[cfg(not(target_arch = "wasm32"))]
pub fn load_metas_blocking() -> std::collections::BTreeMap<String, Result<ModelMeta, ModelError>> {
    let mut out = std::collections::BTreeMap::new();
    for task in TaskKind::ALL {
        for pe in PeKind::ALL {
            let name = model_name(task, pe);
            let r = pollster::block_on(crate::assets::read_model_file(&format!("{name}.json")))
                .map_err(ModelError::from)
                .and_then(|b| String::from_utf8(b).map_err(|_| ModelError::Meta(format!("{name}.json is not UTF-8"))))
                .and_then(|t| ModelMeta::from_json(&t));
            out.insert(name, r);
        }
    }
    out
}
