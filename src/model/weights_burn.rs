//! Moving [`WeightFile`] values into and out of a burn [`Model`], and the seeded initialiser
//! (`lab` feature: native builds and the compute worker).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};

use super::train_spec::InitScheme;
use super::weights::WeightFile;
use super::{Model, ModelError};

impl WeightFile {
    /// Reads a model's parameters (blocking read-back: native / CPU only).
    pub fn from_model(model: &Model) -> Result<Self, ModelError> {
        let mut v = Collector::default();
        model.visit(&mut v);
        match v.error {
            Some(e) => Err(ModelError::Weights(e)),
            None => Ok(Self { tensors: v.tensors }),
        }
    }

    /// Reads a model's parameters with asynchronous read-back (any backend, the browser's WebGPU
    /// included). Same values and order as [`Self::from_model`].
    pub async fn from_model_async(model: &Model) -> Result<Self, ModelError> {
        let mut v = TensorCollector::default();
        model.visit(&mut v);
        let mut tensors = Vec::with_capacity(v.tensors.len());
        for (path, shape, t) in v.tensors {
            let values = super::eval::read_f32(t)
                .await
                .map_err(|e| ModelError::Weights(format!("{path}: {e}")))?;
            tensors.push((path, shape, values));
        }
        Ok(Self { tensors })
    }

    /// Loads these values into `model` (which fixes the architecture). Every parameter must be
    /// present with its shape, and nothing may be left over.
    pub fn apply(self, model: Model, device: &Device) -> Result<Model, ModelError> {
        let mut tensors: std::collections::HashMap<String, (Vec<usize>, Vec<f32>)> =
            self.tensors.into_iter().map(|(p, s, v)| (p, (s, v))).collect();
        let mut mapper = Loader {
            path: Vec::new(),
            tensors: &mut tensors,
            device: device.clone(),
            errors: Vec::new(),
        };
        let model = model.map(&mut mapper);
        let mut errors = mapper.errors;
        let mut extra: Vec<_> = tensors.keys().cloned().collect();
        extra.sort();
        if !extra.is_empty() {
            errors.push(format!("tensors the model does not have: {}", extra.join(", ")));
        }
        if errors.is_empty() {
            Ok(model)
        } else {
            Err(ModelError::Weights(format!(
                "weights do not fit the model: {}",
                errors.join("; ")
            )))
        }
    }
}

#[derive(Default)]
struct Collector {
    path: Vec<String>,
    tensors: Vec<(String, Vec<usize>, Vec<f32>)>,
    error: Option<String>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.transform_for_save().val().into_data();
        let shape = data.shape().to_vec();
        match data.try_to_vec_as::<f32>() {
            Ok(v) => self.tensors.push((self.path.join("."), shape, v)),
            Err(e) => self.error = Some(format!("{}: {e:?}", self.path.join("."))),
        }
    }
}

/// Collects the parameters as flat device tensors (read back afterwards, asynchronously).
#[derive(Default)]
struct TensorCollector {
    path: Vec<String>,
    tensors: Vec<(String, Vec<usize>, Tensor<1>)>,
}

impl ModuleVisitor for TensorCollector {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let t = param.transform_for_save().val();
        let shape = t.dims().to_vec();
        let n = shape.iter().product::<usize>();
        self.tensors.push((self.path.join("."), shape, t.reshape([n])));
    }
}

struct Loader<'a> {
    path: Vec<String>,
    tensors: &'a mut std::collections::HashMap<String, (Vec<usize>, Vec<f32>)>,
    device: Device,
    errors: Vec<String>,
}

impl ModuleMapper for Loader<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.path.join(".");
        let want = param.lazy_shape().to_vec();
        match self.tensors.remove(&path) {
            None => {
                self.errors.push(format!("{path} is missing"));
                param
            }
            Some((shape, _)) if shape != want => {
                self.errors
                    .push(format!("{path} has shape {shape:?}, the model needs {want:?}"));
                param
            }
            Some((shape, values)) => {
                let t = Tensor::<D>::from_data(TensorData::new(values, shape), &self.device);
                let id = param.id;
                param.transform_for_load(t, id)
            }
        }
    }
}

/// Re-initialises every parameter from a [`SplitMix64`](crate::rng::SplitMix64) stream, so a
/// training run depends on its seed only (not on a backend's global RNG): linear weights
/// uniform in `±1/√fan_in` (PyTorch's default), biases 0, token embeddings `N(0, 1)`,
/// learned positions `N(0, 0.02²)`, T5 bias table 0, LayerNorm γ = 1, β = 0 — then `init`
/// zeroes or scales the tensors its scheme names ([`InitScheme`]). `n_layers` sets GPT-2's
/// residual scale `1/√(2·n_layers)`.
pub fn seeded_init(model: Model, seed: u64, init: InitScheme, n_layers: usize, device: &Device) -> Model {
    let mut m = SeededInit {
        path: Vec::new(),
        rng: crate::rng::SplitMix64::new(seed),
        device: device.clone(),
        init,
        residual_scale: 1.0 / (2.0 * n_layers.max(1) as f32).sqrt(),
    };
    model.map(&mut m)
}

struct SeededInit {
    path: Vec<String>,
    rng: crate::rng::SplitMix64,
    device: Device,
    init: InitScheme,
    residual_scale: f32,
}

impl SeededInit {
    /// What the scheme does to a tensor after it is drawn (the stream is drawn in full either
    /// way, so the other tensors do not depend on the scheme).
    fn adjust(&self, module: &str, layer: &str, leaf: &str, shape: &[usize], values: &mut [f32]) {
        if leaf != "weight" || self.init == InitScheme::Standard {
            return;
        }
        match (module, layer) {
            // `qkv.weight` is `[d_in, 3·d]`: queries are the first `d` output columns.
            ("blocks", "qkv") => {
                let cols = shape.get(1).copied().unwrap_or(0);
                let d = cols / 3;
                for row in values.chunks_mut(cols.max(1)) {
                    row[..d].fill(0.0);
                }
            }
            ("blocks", "proj" | "fc2") if self.init == InitScheme::Mup => {
                values.iter_mut().for_each(|v| *v *= self.residual_scale);
            }
            ("head", _) if self.init == InitScheme::Mup => values.fill(0.0),
            _ => {}
        }
    }
}

impl ModuleMapper for SeededInit {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let shape = param.lazy_shape().to_vec();
        let n: usize = shape.iter().product();
        let leaf = self.path.last().map(String::as_str).unwrap_or("");
        let module = self.path.first().map(String::as_str).unwrap_or("");
        let layer = self.path.len().checked_sub(2).map_or("", |i| self.path[i].as_str());
        let mut values: Vec<f32> = match (module, leaf) {
            (_, "gamma") => vec![1.0; n],
            (_, "beta") | (_, "bias") | ("t5", _) => vec![0.0; n],
            ("tok", _) => (0..n).map(|_| self.rng.next_gaussian() as f32).collect(),
            // GPT-2 initialises its position table small (std 0.02); at N(0, 1) — the token
            // scale — positions drown the content the recall task must match.
            ("pos", _) => (0..n).map(|_| 0.02 * self.rng.next_gaussian() as f32).collect(),
            _ => {
                let a = 1.0 / (shape.first().copied().unwrap_or(1).max(1) as f64).sqrt();
                (0..n)
                    .map(|_| ((2.0 * self.rng.next_open01() - 1.0) * a) as f32)
                    .collect()
            }
        };
        self.adjust(module, layer, leaf, &shape, &mut values);
        let t = Tensor::<D>::from_data(TensorData::new(values, shape), &self.device);
        let id = param.id;
        param.transform_for_load(t, id)
    }
}
