//! One of the twelve shipped models, brought into the compute worker on demand: its metadata and
//! weights are read from `assets/models/` (fetched on the web) and sent with `LoadModel`. Views
//! that run a shipped model outside the Model lab (the RoPE view's model clocks, the Positions
//! view's remapped-id accuracies) poll one of these each frame and submit their own jobs once
//! it is loaded.

use std::cell::RefCell;
use std::rc::Rc;

use crate::compute::client::{ComputeClient, JobId};
use crate::compute::protocol::{Reply, Request};
use crate::model::ModelError;
use crate::model::catalog::ModelMeta;

type Slot<T> = Rc<RefCell<Option<T>>>;

/// Loading state of one shipped model.
pub struct ShippedModel {
    name: &'static str,
    meta: Option<Result<ModelMeta, String>>,
    meta_slot: Option<Slot<Result<ModelMeta, ModelError>>>,
    weights_slot: Option<Slot<Result<Vec<u8>, ModelError>>>,
    load_job: Option<JobId>,
    loaded: bool,
}

impl ShippedModel {
    /// `name` as in `assets/models/<name>.json`, e.g. `recall-rope`.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            meta: None,
            meta_slot: None,
            weights_slot: None,
            load_job: None,
            loaded: false,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Advance loading (metadata → weights → `LoadModel`); returns whether it is still busy.
    pub fn poll(&mut self, compute: &ComputeClient) -> bool {
        if self.meta.is_none() && self.meta_slot.is_none() {
            let slot: Slot<Result<ModelMeta, ModelError>> = Rc::default();
            let file = format!("{}.json", self.name);
            crate::compute::spawn(
                async move {
                    let bytes = crate::assets::read_model_file(&file).await?;
                    let text = String::from_utf8(bytes).map_err(|_| ModelError::Meta("not UTF-8".into()))?;
                    ModelMeta::from_json(&text)
                },
                slot.clone(),
            );
            self.meta_slot = Some(slot);
        }
        let meta = self.meta_slot.as_ref().and_then(|slot| slot.borrow_mut().take());
        if let Some(r) = meta {
            self.meta = Some(r.map_err(|e| e.to_string()));
            self.meta_slot = None;
        }
        let Some(Ok(meta)) = self.meta.clone() else {
            return self.meta_slot.is_some();
        };
        if !self.loaded && self.weights_slot.is_none() && self.load_job.is_none() {
            let slot: Slot<Result<Vec<u8>, ModelError>> = Rc::default();
            let file = meta.weights_file.clone();
            crate::compute::spawn(
                async move { Ok(crate::assets::read_model_file(&file).await?) },
                slot.clone(),
            );
            self.weights_slot = Some(slot);
        }
        let weights = self.weights_slot.as_ref().and_then(|slot| slot.borrow_mut().take());
        if let Some(r) = weights {
            self.weights_slot = None;
            match r {
                Ok(weights) => {
                    self.load_job = Some(compute.submit(Request::LoadModel {
                        meta: meta.clone(),
                        weights,
                        name: None,
                    }))
                }
                Err(e) => self.meta = Some(Err(e.to_string())),
            }
        }
        if let Some(job) = self.load_job
            && let Some(reply) = compute.take(job)
        {
            self.load_job = None;
            match reply {
                Ok(Reply::Loaded { .. }) => self.loaded = true,
                Ok(Reply::Failed(e)) => self.meta = Some(Err(e.message)),
                Ok(other) => self.meta = Some(Err(format!("unexpected reply {other:?}"))),
                Err(e) => self.meta = Some(Err(e)),
            }
        }
        self.load_job.is_some() || self.weights_slot.is_some() || self.meta_slot.is_some()
    }

    /// Loaded in the worker: jobs naming [`ShippedModel::name`] can be submitted.
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// A job failed because the worker evicted the model (it keeps the four most recent): the
    /// next [`ShippedModel::poll`] loads it again.
    pub fn note_failure(&mut self, message: &str) {
        if message.contains("not loaded") {
            self.loaded = false;
        }
    }

    pub fn meta(&self) -> Option<&ModelMeta> {
        self.meta.as_ref().and_then(|m| m.as_ref().ok())
    }

    /// Why the model cannot be used (missing or corrupt files, a failed load).
    pub fn error(&self) -> Option<String> {
        match &self.meta {
            Some(Err(e)) => Some(format!("{}: {e}", self.name)),
            _ => None,
        }
    }
}
