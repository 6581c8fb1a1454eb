//! The trainer behind `poslens train`: AdamW on burn's ndarray CPU backend with autodiff,
//! deterministic for a seed (weights initialised from the seeded device RNG, samples from
//! [`SplitMix64`]). Sequence lengths are drawn uniformly from the task's minimum up to
//! `train_len` each step, as in Kazemnejad et al. 2023 (or with a length curriculum,
//! [`LengthDraw`]); the loss is cross-entropy on the answer
//! span only. `poslens train` natively and the page's Train lab (in the compute worker) run the
//! same [`Trainer`].

use std::collections::HashMap;
#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::eval::tokens_tensor;
pub use super::train_spec::{InitScheme, LengthDraw, TrainSpec, learning_rate};
use super::{Model, ModelConfig, ModelError, Positions, RopeOptions};
// `train` / `train_and_save` (native): files, evaluation of the saved model.
#[cfg(not(target_arch = "wasm32"))]
use super::{
    catalog::{FORMAT, ModelMeta},
    eval::Evaluator,
    model_name,
    weights::WeightFile,
};
use crate::rng::SplitMix64;

/// Result of a training run.
#[derive(Debug)]
pub struct Trained {
    /// The model on the plain (non-autodiff) CPU device.
    pub model: Model,
    pub config: ModelConfig,
    /// Loss after every step.
    pub losses: Vec<f64>,
}

/// A training run one step at a time: the loop behind `poslens train` and the page's Train lab
/// (in the compute worker, a few steps per slice so the page can pause, probe and resume).
/// Deterministic for a seed: the same spec on the same backend gives the same loss curve.
pub struct Trainer {
    pub spec: TrainSpec,
    pub config: ModelConfig,
    /// The plain device (evaluation, export) and its autodiff twin (training).
    plain: Device,
    device: Device,
    /// `None` only inside `step` (the optimiser consumes and returns the model).
    model: Option<Model>,
    /// The auxiliary previous-token head (`TrainSpec::aux_previous > 0`): `d_model → vocab`,
    /// zero-initialised, trained with the model and dropped at export.
    aux: Option<Linear>,
    optim: burn::optim::ModuleOptimizer,
    loss_fn: burn::nn::loss::CrossEntropyLoss,
    rng: SplitMix64,
    cache: HashMap<usize, Positions>,
    /// Loss after every step so far.
    pub losses: Vec<f64>,
}

impl Trainer {
    /// A fresh model (seeded initialisation) and optimiser on `plain` (+ autodiff).
    pub fn new(spec: &TrainSpec, plain: Device) -> Result<Self, ModelError> {
        spec.task.check_len(spec.train_len)?;
        if spec.steps == 0 || spec.batch == 0 || !(spec.learning_rate > 0.0 && spec.learning_rate.is_finite()) {
            return Err(ModelError::Options(format!(
                "a training run needs steps ≥ 1, batch ≥ 1 and a finite learning rate > 0 (got {}, {}, {})",
                spec.steps, spec.batch, spec.learning_rate
            )));
        }
        let device = plain.clone().autodiff();
        let config = ModelConfig {
            n_layers: spec.layers.clamp(1, 16),
            ..ModelConfig::tiny(spec.pe, spec.train_len)
        };
        let model = config.init_seeded_with(&device, spec.seed, spec.init);
        if !(spec.adam_epsilon > 0.0 && spec.adam_epsilon < 1.0) {
            return Err(ModelError::Options(format!(
                "AdamW's epsilon must be in (0, 1) (got {})",
                spec.adam_epsilon
            )));
        }
        let optim = AdamWConfig::new()
            .with_epsilon(spec.adam_epsilon as f32)
            .with_weight_decay(0.01)
            .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(1.0)))
            .init();
        let loss_fn = CrossEntropyLossConfig::new().init(&device);
        let aux = (spec.aux_previous > 0.0).then(|| {
            let head = LinearConfig::new(config.d_model, config.vocab).init(&device);
            head.map(&mut ZeroInit)
        });
        Ok(Self {
            spec: spec.clone(),
            config,
            plain,
            device,
            model: Some(model),
            aux,
            optim,
            loss_fn,
            rng: SplitMix64::new(spec.seed ^ 0x5EED),
            cache: HashMap::new(),
            losses: Vec::with_capacity(spec.steps),
        })
    }

    /// Steps taken so far.
    pub fn step_index(&self) -> usize {
        self.losses.len()
    }

    pub fn done(&self) -> bool {
        self.losses.len() >= self.spec.steps
    }

    /// One optimiser step on a fresh batch; returns its loss (read back asynchronously, so the
    /// browser's WebGPU path works). A NaN or infinite loss is an error: training stops there.
    pub async fn step(&mut self) -> Result<f64, ModelError> {
        let spec = &self.spec;
        let step = self.losses.len();
        let (lo, hi) = spec
            .lengths
            .window(step, spec.steps, spec.task.min_len(), spec.train_len);
        let len = lo + self.rng.below(hi - lo + 1);
        let batch = spec.task.training_batch(spec.batch, len, spec.queries, &mut self.rng)?;
        let positions = match self.cache.entry(len) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(Positions::new(
                &self.config,
                len,
                &RopeOptions::default(),
                &self.device,
            )?),
        };
        let model = self
            .model
            .take()
            .ok_or_else(|| ModelError::Backend("the trainer lost its model".into()))?;
        let out = model.forward(tokens_tensor(&batch, &self.device), positions, false);
        let [b, l, v] = out.logits.dims();
        let (idx, ans) = batch.answer_index();
        let n = idx.len();
        let rows = out
            .logits
            .reshape([b * l, v])
            .select(0, Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &self.device));
        let targets = Tensor::<1, Int>::from_data(TensorData::new(ans, [n]), &self.device);
        let mut loss = self.loss_fn.forward(rows, targets);
        if let Some(aux) = &self.aux {
            // Every position t ≥ 1 predicts token t − 1: dense supervision of the
            // previous-token binding an induction circuit needs.
            let tokens = batch.tokens_flat();
            let (mut rows_at, mut prev) = (Vec::new(), Vec::new());
            for s in 0..b {
                for t in 1..l {
                    rows_at.push((s * l + t) as i64);
                    prev.push(tokens[s * l + t - 1]);
                }
            }
            let n = rows_at.len();
            let feats = aux.forward(out.features).reshape([b * l, v]).select(
                0,
                Tensor::<1, Int>::from_data(TensorData::new(rows_at, [n]), &self.device),
            );
            let prev = Tensor::<1, Int>::from_data(TensorData::new(prev, [n]), &self.device);
            loss = loss + self.loss_fn.forward(feats, prev).mul_scalar(spec.aux_previous);
        }
        let mut grads = loss.backward();
        let aux_grads = self
            .aux
            .as_ref()
            .map(|aux| GradientsParams::from_module(&mut grads, aux));
        let grads = GradientsParams::from_grads(grads, &model);
        let value = super::eval::read_f32(loss)
            .await
            .ok()
            .and_then(|v| v.first().copied())
            .map_or(f64::NAN, f64::from);
        let lr = learning_rate(spec, step);
        self.model = Some(self.optim.step(lr, model, grads));
        if let (Some(aux), Some(g)) = (self.aux.take(), aux_grads) {
            self.aux = Some(self.optim.step(lr, aux, g));
        }
        self.losses.push(value);
        if !value.is_finite() {
            return Err(ModelError::Backend(format!(
                "the loss became {value} at step {}: training stopped (try a lower learning rate)",
                step + 1
            )));
        }
        Ok(value)
    }

    /// The current weights as a plain (inference) model on the plain device.
    pub fn model(&self) -> Result<Model, ModelError> {
        self.model
            .as_ref()
            .map(|m| m.clone().valid())
            .ok_or_else(|| ModelError::Backend("the trainer lost its model".into()))
    }

    /// The plain device the model of [`Self::model`] lives on.
    pub fn plain_device(&self) -> &Device {
        &self.plain
    }
}

/// Sets every parameter to zero (the auxiliary head starts silent and deterministic).
struct ZeroInit;

impl ModuleMapper for ZeroInit {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|t| t.zeros_like())
    }
}

/// Trains a model; `progress(step, loss)` is called every step.
#[cfg(not(target_arch = "wasm32"))]
pub fn train(spec: &TrainSpec, mut progress: impl FnMut(usize, f64)) -> Result<Trained, ModelError> {
    let mut trainer = Trainer::new(spec, super::cpu_device())?;
    while !trainer.done() {
        let step = trainer.step_index();
        // The shipped runs record a non-finite loss and go on; keep that behaviour here.
        let loss = match pollster::block_on(trainer.step()) {
            Ok(loss) => loss,
            Err(_) => trainer.losses.last().copied().unwrap_or(f64::NAN),
        };
        progress(step, loss);
    }
    Ok(Trained {
        model: trainer.model()?,
        config: trainer.config.clone(),
        losses: trainer.losses,
    })
}

/// Eval samples per length for the shipped metadata.
pub const EVAL_SAMPLES: usize = 512;
/// Seed of the shipped metadata's evaluation samples.
pub const EVAL_SEED: u64 = 1234;

/// Trains, writes `<out>/<task>-<pe>.plw` and `.json`, and returns the metadata. The recorded
/// accuracies are measured on the model re-loaded from the f16 file.
#[cfg(not(target_arch = "wasm32"))]
pub fn train_and_save(spec: &TrainSpec, out: &Path, mut log: impl FnMut(&str)) -> Result<ModelMeta, ModelError> {
    let start = std::time::Instant::now();
    let steps = spec.steps;
    let mut window = Vec::with_capacity(250);
    let trained = train(spec, |step, loss| {
        window.push(loss);
        if window.len() == 250 || step + 1 == steps {
            let mean = window.iter().sum::<f64>() / window.len() as f64;
            log(&format!(
                "step {:>5}/{steps}  mean loss of the last {} steps {mean:.4}",
                step + 1,
                window.len()
            ));
            window.clear();
        }
    })?;
    let train_seconds = start.elapsed().as_secs_f64();
    let name = model_name(spec.task, spec.pe);
    let bytes = WeightFile::from_model(&trained.model)?.encode();
    std::fs::create_dir_all(out).map_err(|e| ModelError::Io(format!("cannot create {}: {e}", out.display())))?;
    let weights_path = out.join(format!("{name}.plw"));
    std::fs::write(&weights_path, &bytes)
        .map_err(|e| ModelError::Io(format!("cannot write {}: {e}", weights_path.display())))?;

    // Re-load from the file just written: what ships is what is measured.
    let device = super::cpu_device();
    let model = WeightFile::decode(&bytes)?.apply(trained.config.init(&device), &device)?;
    let ev = Evaluator {
        model: &model,
        config: &trained.config,
        task: spec.task,
        rope: &RopeOptions::default(),
        device: &device,
    };
    let in_dist = pollster::block_on(ev.score_at(spec.train_len, EVAL_SAMPLES, EVAL_SEED))?;
    let lengths: Vec<usize> = (1..=8)
        .map(|k| k * spec.train_len)
        .filter(|&l| l <= spec.task.max_len())
        .collect();
    let curve = pollster::block_on(ev.curve(&lengths, EVAL_SAMPLES, EVAL_SEED))?;
    let tail = &trained.losses[trained.losses.len().saturating_sub(50)..];
    let meta = ModelMeta {
        format: FORMAT,
        name: name.clone(),
        task: spec.task,
        pe: spec.pe,
        config: trained.config.clone(),
        train_len: spec.train_len,
        seed: spec.seed,
        steps: spec.steps,
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
        params: model.num_params(),
        weights_file: format!("{name}.plw"),
        weights_bytes: bytes.len(),
        weights_fnv1a64: Some(super::weights::file_checksum(&bytes)),
        train_seconds,
        trained_on: "burn ndarray (CPU) + autodiff".into(),
    };
    let meta_path = out.join(format!("{name}.json"));
    std::fs::write(&meta_path, meta.to_json() + "\n")
        .map_err(|e| ModelError::Io(format!("cannot write {}: {e}", meta_path.display())))?;
    Ok(meta)
}

pub use super::cpu_device;
