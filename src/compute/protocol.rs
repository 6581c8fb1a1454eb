//! The messages between the page and its compute worker (`src/worker.rs`), as JSON text.
//!
//! The page never links burn: the Model lab, the burn softmax check and (later) the Train lab
//! send a [`Request`] and read a [`Reply`]. In the browser they travel to a Web Worker running
//! its own wasm; natively (and in tests) the same JSON goes through [`super::server::LabServer`]
//! in-process, so both front ends exercise the same encoding. Large arrays travel as base64
//! (see [`crate::packed`]).

use serde::{Deserialize, Serialize};

use super::ComputeBackend;
use super::softmax_check::SoftmaxCheck;
use crate::model::catalog::{Curve, ModelMeta};
use crate::model::train_spec::TrainSpec;
use crate::model::{ModelError, RopeOptions, TracedSample};
use crate::tasks::Score;

/// Bumped whenever a message changes shape; a worker of another version is refused.
pub const PROTOCOL: u32 = 1;

/// A request and the job id its reply will carry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ToWorker {
    pub job: u64,
    pub request: Request,
}

/// What the page asks the worker to do.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Request {
    /// One softmax attention row over a sinusoidal table, computed by burn and compared with the
    /// CPU reference (the burn readiness check and the Sinusoidal view's row).
    SoftmaxRow {
        #[serde(with = "crate::packed::f32s")]
        table: Vec<f32>,
        seq_len: usize,
        d_model: usize,
        query_pos: usize,
    },
    /// Build a model from its metadata and weight-file bytes (checked like a file on disk).
    LoadModel {
        meta: ModelMeta,
        #[serde(with = "crate::packed::bytes")]
        weights: Vec<u8>,
        /// The name to keep it under (default `<task>-<pe>`; a reader's own model is
        /// `yours/<task>-<pe>`, so it never replaces a shipped one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A traced sample, a live score and optionally a live curve of a loaded model.
    Run(LabJob),
    /// A loaded model's rotated queries and keys in one layer of a real sample (the RoPE view's
    /// model clocks): the evaluation stream's first sample at `len`, query at `pos`.
    Phasors {
        name: String,
        len: usize,
        pos: usize,
        layer: usize,
        seed: u64,
    },
    /// Start training (replacing any run): the reply is a stream of [`Reply::TrainProgress`]
    /// (`more` = true) ending when the run finishes, fails or is stopped.
    TrainStart {
        spec: TrainSpec,
        /// In-distribution exact match is measured every this many steps.
        eval_every: usize,
    },
    /// Pause, resume or stop the run; answered with one progress snapshot.
    TrainControl { action: TrainAction },
    /// The current weights on one sample at `len` (the probe: every layer's and head's attention).
    TrainTrace { len: usize, seed: u64 },
    /// The current weights' accuracy at each length (optionally with a RoPE extension method).
    TrainCurve {
        lengths: Vec<usize>,
        samples: usize,
        seed: u64,
        rope: RopeOptions,
    },
    /// The current weights as a `PLW1` file and the metadata that describes it (loadable by
    /// `poslens eval`).
    TrainExport,
}

/// What to do with a training run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainAction {
    Pause,
    Resume,
    Stop,
}

/// Where a training run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrainState {
    #[default]
    Idle,
    Running,
    Paused,
    Done,
    Error,
}

impl TrainState {
    pub fn key(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Done => "done",
            Self::Error => "error",
        }
    }
}

/// One progress report of a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainProgress {
    pub state: TrainState,
    /// Steps done, of `steps`.
    pub step: usize,
    pub steps: usize,
    /// The losses of the steps since the previous report (in order), starting at step `from`.
    pub from: usize,
    pub losses: Vec<f64>,
    /// Steps per second over the run so far (time spent training only).
    pub steps_per_s: f64,
    /// In-distribution exact match at `L_train` and the step it was measured at.
    pub exact_match: Option<(usize, f64)>,
    /// burn backend of the run.
    pub backend: ComputeBackend,
    pub error: Option<String>,
}

/// Depth slices of the Model lab's "lost in the middle" read-out (as `poslens eval --by-depth 4`).
pub const DEPTH_BUCKETS: usize = 4;

/// Samples the Model lab's position probe is fitted on and scored on per length.
pub const PROBE_SAMPLES: usize = 32;

/// One Model-lab forward-pass job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabJob {
    /// A model loaded with [`Request::LoadModel`].
    pub name: String,
    pub len: usize,
    pub rope: RopeOptions,
    /// Seed of the traced sample.
    pub trace_seed: u64,
    /// Samples and seed of the live score at `len`.
    pub samples: usize,
    pub seed: u64,
    /// Lengths of a live accuracy curve (RoPE extension methods), with its samples per length.
    pub curve_lengths: Option<Vec<usize>>,
    pub curve_samples: usize,
    /// Also fit the linear position probe (every layer; at the training length and at `len`).
    #[serde(default)]
    pub probe: bool,
    /// Trace this sample (a reader's own input) instead of the seeded one; the score and the
    /// curve are unchanged.
    #[serde(default)]
    pub given: Option<GivenSample>,
}

/// A sample crossing the worker boundary (`tasks::Sample` is not serde).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GivenSample {
    pub tokens: Vec<u32>,
    pub answer_positions: Vec<usize>,
}

/// What one forward-pass job produces.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabResult {
    pub trace: TracedSample,
    pub score: Score,
    /// Recall models: the live score split by the depth of the queried pair, in
    /// [`DEPTH_BUCKETS`] slices (first … last); empty for copy.
    #[serde(default)]
    pub by_depth: Vec<Score>,
    /// The position probe of every layer, when the job asked for it.
    #[serde(default)]
    pub probe: Option<crate::model::probe::ProbeReport>,
    /// Live curve of the chosen extension method (RoPE only).
    pub extension_curve: Option<Curve>,
    /// The whole job in the worker: traced sample, live score and live curve.
    pub compute_ms: f64,
    /// The traced forward pass of one sample alone, read-back included.
    pub trace_ms: f64,
}

/// A reply and the job it answers (0 for [`Reply::Ready`]).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FromWorker {
    pub job: u64,
    pub reply: Reply,
    /// More replies to this job follow (a stream, e.g. training progress).
    #[serde(default)]
    pub more: bool,
}

/// What the worker answers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// Sent once, when the worker has chosen its burn device.
    Ready {
        protocol: u32,
        backend: ComputeBackend,
        note: String,
    },
    Softmax {
        check: SoftmaxCheck,
        #[serde(with = "crate::packed::f32s")]
        row: Vec<f32>,
    },
    Loaded {
        name: String,
        params: usize,
    },
    Run(Box<LabResult>),
    Phasors(Box<crate::model::Phasors>),
    TrainProgress(TrainProgress),
    Trace(Box<TracedSample>),
    Curve(Curve),
    TrainExported {
        meta: Box<ModelMeta>,
        #[serde(with = "crate::packed::bytes")]
        weights: Vec<u8>,
    },
    Failed(WireError),
}

/// An error that crossed the worker boundary. The "past the learned table" case keeps its
/// meaning (the Model lab shows it as a limit of the encoding, not as a failure).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireError {
    pub message: String,
    pub past_table: Option<(usize, usize)>,
}

impl From<&ModelError> for WireError {
    fn from(e: &ModelError) -> Self {
        let past_table = match e {
            ModelError::Pe(crate::pe::PeError::PastLearnedTable { position, max_len }) => Some((*position, *max_len)),
            _ => None,
        };
        Self {
            message: e.to_string(),
            past_table,
        }
    }
}

impl From<WireError> for ModelError {
    fn from(e: WireError) -> Self {
        match e.past_table {
            Some((position, max_len)) => ModelError::Pe(crate::pe::PeError::PastLearnedTable { position, max_len }),
            None => ModelError::Backend(e.message),
        }
    }
}

/// Encode a message as JSON text (never fails for these types; a failure is reported as text).
pub fn encode<T: Serialize>(message: &T) -> String {
    serde_json::to_string(message).unwrap_or_else(|e| {
        let failed = FromWorker {
            job: 0,
            more: false,
            reply: Reply::Failed(WireError {
                message: format!("could not encode a worker message: {e}"),
                past_table: None,
            }),
        };
        serde_json::to_string(&failed).unwrap_or_default()
    })
}

/// Decode a message; the error says what was wrong with it.
pub fn decode<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("malformed worker message: {e}"))
}
