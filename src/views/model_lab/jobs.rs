//! The Model lab's asynchronous work: metadata and weights loading, and the forward-pass job
//! (traced sample, live score, live extension curve) on the burn device.

use std::cell::RefCell;
use std::rc::Rc;

use web_time::Instant;

use crate::analysis::grid::{Aggregate, Grid};
use crate::compute::{ComputeDevice, spawn};
use crate::model::catalog::{Curve, ModelMeta, load_model};
use crate::model::eval::{Evaluator, TracedSample};
use crate::model::{Model, ModelError, PeKind, model_name};
use crate::pe::extension::ExtensionMethod;
use crate::tasks::{Score, TaskKind};
use crate::theme::Colormap;
use crate::widgets::heatmap::Heatmap;

use super::*;

pub(super) type Slot<T> = Rc<RefCell<Option<T>>>;

/// What one forward-pass job produces.
#[derive(Debug, Clone)]
pub struct LabResult {
    pub trace: TracedSample,
    pub score: Score,
    /// Live curve of the chosen extension method (RoPE only).
    pub extension_curve: Option<Curve>,
    /// The whole job: traced sample, live score and (RoPE + method) live curve.
    pub compute_ms: f64,
    /// The traced forward pass of one sample alone, read-back included.
    pub trace_ms: f64,
}

/// Everything a job depends on (a change starts a new job).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct JobKey {
    pub(super) name: String,
    pub(super) len: usize,
    pub(super) method: Option<ExtensionMethod>,
    pub(super) factor_bits: u64,
    pub(super) sample: u64,
}

/// A model loaded on the compute device.
pub(super) struct Loaded {
    pub(super) name: String,
    pub(super) model: Rc<Model>,
}

impl ModelLabView {
    pub(super) fn run_jobs(&mut self, ctx: &egui::Context, compute: Option<&ComputeDevice>) {
        let Some(compute) = compute else { return };
        if self.device.is_none() {
            self.device = Some(compute.clone());
        }
        let device = compute.device.clone();
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
        // Weights of the selected model.
        let want = self.state.name();
        let have = self.loaded.as_ref().map(|l| l.name.clone());
        let loading = self.weights.as_ref().map(|(n, _)| n.clone());
        // A model whose weights failed to load is not retried every frame (a 404 would be fetched
        // again and again, and its message would flicker): choosing it again after another retries.
        let failed = self.load_error.as_ref().is_some_and(|(n, _)| *n == want);
        if have.as_deref() != Some(want.as_str()) && loading.as_deref() != Some(want.as_str()) && !failed {
            match self.meta_cloned(&want) {
                Some(Ok(meta)) => {
                    let slot: Slot<Result<Model, ModelError>> = Rc::default();
                    let dev = device.clone();
                    spawn(
                        async move {
                            let bytes = crate::assets::read_model_file(&meta.weights_file).await?;
                            load_model(&meta, &bytes, &dev)
                        },
                        slot.clone(),
                    );
                    self.weights = Some((want.clone(), slot));
                    self.load_error = None;
                }
                Some(Err(e)) => self.load_error = Some((want.clone(), e)),
                None => {}
            }
        }
        if let Some((name, slot)) = &self.weights {
            let done = slot.borrow_mut().take();
            if let Some(r) = done {
                match r {
                    Ok(model) => {
                        self.loaded = Some(Loaded {
                            name: name.clone(),
                            model: Rc::new(model),
                        });
                        self.load_error = None;
                    }
                    Err(e) => self.load_error = Some((name.clone(), e)),
                }
                self.weights = None;
            }
        }
        // Collect a finished job.
        if let Some((key, slot)) = &self.job {
            let done = slot.borrow_mut().take();
            if let Some(r) = done {
                self.result = Some((key.clone(), r));
                self.job = None;
            }
        }
        // Start the next one when idle and the state moved on.
        if self.job.is_none()
            && let Some(key) = self.job_key()
            && self.result.as_ref().map(|(k, _)| k) != Some(&key)
            && let (Some(loaded), Some(Ok(meta))) = (&self.loaded, self.meta_cloned(&key.name))
        {
            let slot: Slot<Result<LabResult, ModelError>> = Rc::default();
            let model = loaded.model.clone();
            let opts = self.state.rope_options(meta.train_len, meta.config.head_dim());
            let extension = self.state.pe == PeKind::Rope && self.state.method.is_some();
            let (len, sample) = (key.len, key.sample);
            spawn(
                async move {
                    let started = Instant::now();
                    let seed = EVAL_SEED.wrapping_add(sample);
                    let ev = Evaluator {
                        model: &model,
                        config: &meta.config,
                        task: meta.task,
                        rope: &opts,
                        device: &device,
                    };
                    let trace = ev.trace_sample(len, seed).await?;
                    let trace_ms = started.elapsed().as_secs_f64() * 1000.0;
                    let score = ev.score_at(len, LIVE_SAMPLES, EVAL_SEED).await?;
                    let extension_curve = if extension {
                        Some(ev.curve(&meta.curve.length, CURVE_SAMPLES, EVAL_SEED).await?)
                    } else {
                        None
                    };
                    Ok(LabResult {
                        trace,
                        score,
                        extension_curve,
                        compute_ms: started.elapsed().as_secs_f64() * 1000.0,
                        trace_ms,
                    })
                },
                slot.clone(),
            );
            self.job = Some((key, slot));
        }
        // Heatmaps of the shown result.
        if let Some((key, Ok(r))) = &self.result
            && self.heatmaps_for.as_ref() != Some(key)
        {
            let t = &r.trace;
            let panels = t.attention.len() * t.heads;
            self.heatmaps.resize_with(panels, Heatmap::default);
            for layer in 0..t.attention.len() {
                for head in 0..t.heads {
                    if let Some(values) = t.head(layer, head) {
                        let grid = Grid {
                            values,
                            rows: t.len,
                            cols: t.len,
                        };
                        let i = layer * t.heads + head;
                        self.heatmaps[i].set(
                            ctx,
                            &format!("model_att_{i}"),
                            grid,
                            (0.0, 1.0),
                            Colormap::Viridis,
                            Aggregate::Max,
                        );
                    }
                }
            }
            self.heatmaps_for = Some(key.clone());
        }
        if self.busy() {
            ctx.request_repaint();
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
