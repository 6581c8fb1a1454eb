//! The one attention-map engine façade every heatmap view goes through.
//!
//! A view owns a [`LiveMap`] per map it shows and hands it prepared logits and a request. The
//! façade computes on the GPU (the WGSL engine in [`super::gpu_map`], on eframe's wgpu device)
//! when the app has one, the view prefers it and the map is a function of `k − q` alone;
//! otherwise on the CPU ([`super::attention_map`]). GPU maps of `N ≤` [`GPU_CHECK_MAX_N`] are
//! cross-checked against the CPU path, and a failed GPU job falls back to the CPU in the same
//! frame, so a view never needs to know which engine ran.
//!
//! # Work budget
//! A CPU map costs about `N² × (cost_per_cell + 4)` operations (an 8192² map of random tokens
//! with head dimension 256 is ~17 G). Maps up to [`IMMEDIATE_WORK`] are computed at once; larger
//! ones row by row across frames, each frame stopping at the deadline the app passes in (see
//! `views::ViewEnv::deadline`), so no link or control can freeze the page. The previous map stays
//! on screen, with [`LiveMap::progress`], until the new one is complete.

use web_time::Instant;

use super::attention_map::{self, AttentionMap, MapAccumulator, MapRequest};
use super::engine_choice::{Calibration, Measured};
use super::gpu_draw::{DrawPipeline, Drawable};
use super::gpu_map::{GpuAttentionMap, GpuMap, GpuPicture, GpuRequest, PendingMap, relative_table};
use super::relative_map::RelativeJob;
use crate::pe::{PeError, PreparedLogits};

/// Heavy work a view may do in one frame, in milliseconds (the rest waits for the next frame):
/// with the UI itself this keeps every frame under ~100 ms whatever a link or control asks for.
/// (The app's frame deadline; the engine choice's cost model counts frames by it.)
pub const WORK_BUDGET_MS: u64 = 35;

/// Up to this N, every GPU map is also computed on the CPU and the difference reported.
pub const GPU_CHECK_MAX_N: usize = 512;

/// CPU maps up to this many operations are computed at once (a few ms in the browser).
pub const IMMEDIATE_WORK: usize = 1 << 22;

/// Operations per chunk of rows between two deadline checks.
const CHUNK_WORK: usize = 1 << 20;

/// Approximate operations of a CPU map (logits + softmax + entropy + aggregation per cell).
pub fn map_work(prepared: &PreparedLogits, n: usize) -> usize {
    n.saturating_mul(n).saturating_mul(prepared.cost_per_cell() + 4)
}

/// Rows per chunk for an `n`-key map between two deadline checks: at least one.
pub fn rows_per_chunk(prepared: &PreparedLogits, n: usize) -> usize {
    (CHUNK_WORK / n.max(1).saturating_mul(prepared.cost_per_cell() + 4)).max(1)
}

/// The engines the app has: always the CPU, the WGSL engine where the renderer is WebGPU or
/// native (not WebGL2, which has no compute shaders).
#[derive(Default)]
pub struct MapEngines {
    gpu: Option<GpuAttentionMap>,
    /// Draws GPU maps in egui's render pass (the app's renderer is wgpu).
    draw: Option<DrawPipeline>,
    /// Which engine serves which map size, by measurement (see `super::engine_choice`).
    calibration: Calibration,
    /// The page's `?heatmaps=gpu|cpu`: the automatic choice overridden for every view.
    forced: Option<bool>,
}

impl MapEngines {
    /// CPU only (WebGL2 pages, headless use, tests).
    pub fn cpu_only() -> Self {
        Self::default()
    }

    /// CPU plus the WGSL engine.
    pub fn with_gpu(gpu: GpuAttentionMap) -> Self {
        Self {
            gpu: Some(gpu),
            draw: None,
            calibration: Calibration::Idle,
            forced: None,
        }
    }

    /// CPU plus the WGSL engine, whose maps are drawn on the device by `draw` (no read-back
    /// before the picture).
    pub fn with_gpu_drawing(gpu: GpuAttentionMap, draw: DrawPipeline) -> Self {
        Self {
            gpu: Some(gpu),
            draw: Some(draw),
            calibration: Calibration::Idle,
            forced: None,
        }
    }

    /// Advance the first-use measurement of both engines (the app calls this every frame, with
    /// the milliseconds since the previous frame began); `true` while it runs. Without a GPU
    /// there is nothing to measure.
    pub fn calibrate(&mut self, frame_interval_ms: f64) -> bool {
        let draws = self.draw.is_some();
        match &self.gpu {
            Some(gpu) => self.calibration.advance(gpu, frame_interval_ms, draws),
            None => false,
        }
    }

    /// The measurement, once done.
    pub fn measured(&self) -> Option<&Measured> {
        match &self.calibration {
            Calibration::Done(m) => Some(m),
            _ => None,
        }
    }

    /// Does the automatic choice put a map of `n` keys on the GPU? Only once measured, and only
    /// where the GPU was faster; the CPU serves everything until then.
    pub fn auto_uses_gpu(&self, n: usize) -> bool {
        self.gpu.is_some()
            && match self.forced {
                Some(gpu) => gpu,
                None => self.measured().is_some_and(|m| m.uses_gpu(n)),
            }
    }

    /// Override the automatic choice for every view (`Some(true)`: the GPU wherever it can
    /// serve; `Some(false)`: the CPU): the page's `?heatmaps=gpu|cpu`.
    pub fn force(&mut self, gpu: Option<bool>) {
        self.forced = gpu;
    }

    /// The choice in one line (status bar), and why.
    pub fn choice_summary(&self) -> String {
        match (&self.gpu, &self.calibration) {
            (None, _) => "heatmaps: CPU (no WebGPU: WebGL2 has no compute shaders)".into(),
            (Some(_), _) if self.forced.is_some() => format!(
                "heatmaps: {} (forced by ?heatmaps= in the address)",
                if self.forced == Some(true) { "GPU" } else { "CPU" }
            ),
            (Some(_), Calibration::Done(m)) => m.summary(),
            (Some(_), Calibration::Failed(e)) => format!("heatmaps: CPU (the GPU probe failed: {e})"),
            (Some(_), _) => "heatmaps: CPU while both engines are being timed".into(),
        }
    }

    pub fn has_gpu(&self) -> bool {
        self.gpu.is_some()
    }

    /// Are GPU maps drawn on the device (then a view shows a map in the frame it asked for it,
    /// and may start the next before the previous one's statistics came back)?
    pub fn draws_on_gpu(&self) -> bool {
        self.gpu.is_some() && self.draw.is_some()
    }

    /// `picture` coloured by `cmap` (on the union of its range and `shared`'s, if given), ready
    /// for a paint callback (`None` without GPU drawing).
    pub fn bind(
        &self,
        picture: &GpuPicture,
        shared: Option<&GpuPicture>,
        cmap: crate::theme::Colormap,
    ) -> Option<Drawable> {
        Some(self.draw.as_ref()?.bind_shared(picture, shared, cmap))
    }
}

/// Which engine produced a map.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// Nothing computed yet.
    #[default]
    None,
    Cpu,
    Gpu,
}

impl EngineKind {
    /// `"cpu"`, `"gpu"` or `""` (the status hook's contract).
    pub fn key(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Cpu => "cpu",
            Self::Gpu => "gpu",
        }
    }
}

/// What [`LiveMap::start`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The new map is available now (CPU path).
    Ready,
    /// A GPU job is in flight; [`LiveMap::poll`] delivers it.
    Pending,
}

/// A map being computed.
enum Job {
    Gpu(PendingMap),
    /// Rows so far, spread over frames.
    Cpu(Box<MapAccumulator>),
    /// The CPU's fast path for a relative map, block rows spread over frames.
    Relative(Box<RelativeJob>),
}

/// One map on screen: the latest result, the logits it came from, and any job in flight.
#[derive(Default)]
pub struct LiveMap {
    map: AttentionMap,
    prepared: Option<PreparedLogits>,
    request: Option<MapRequest>,
    engine: EngineKind,
    compute_ms: f32,
    /// CPU time the latest map took, summed over the frames it was spread across.
    busy_ms: f32,
    /// The same for the job in flight, so far.
    job_busy_ms: f32,
    gpu_cpu_max_diff: Option<f32>,
    pending: Option<(Job, Instant)>,
    /// The newest GPU map on the device (drawable before its read-back), until a CPU map
    /// replaces it.
    picture: Option<GpuPicture>,
    /// Why the last GPU attempt fell back to the CPU, if it did.
    fallback: Option<String>,
    /// An error of a CPU job in flight (the old map stays on screen).
    error: Option<PeError>,
}

impl LiveMap {
    /// Compute `req` over `prepared`: on the GPU when `prefer_gpu`, `engines` has one and the
    /// logits are relative (then [`Progress::Pending`]); else on the CPU — at once up to
    /// [`IMMEDIATE_WORK`], otherwise row by row in [`Self::poll`] ([`Progress::Pending`]).
    /// A job still in flight is abandoned (a GPU job's read-back is dropped; its picture is
    /// replaced by the new one).
    pub fn start(
        &mut self,
        engines: &MapEngines,
        prepared: PreparedLogits,
        req: MapRequest,
        prefer_gpu: bool,
    ) -> Result<Progress, PeError> {
        let started = Instant::now();
        self.pending = None;
        self.error = None;
        self.job_busy_ms = 0.0;
        if let Some(gpu) = engines.gpu.as_ref().filter(|_| prefer_gpu)
            && let Some(rel) = relative_table(&prepared, req.n)
        {
            let gpu_req = GpuRequest {
                n: req.n,
                side: req.out_side,
                causal: req.causal,
                softmax: req.softmax,
                aggregate: req.aggregate,
                train_len: req.train_len,
            };
            match gpu.submit(&rel, gpu_req) {
                Ok(pending) => {
                    // 0 until this map's statistics come back (a bench waits for them).
                    self.compute_ms = 0.0;
                    self.picture = Some(pending.picture.clone());
                    self.pending = Some((Job::Gpu(pending), started));
                    self.prepared = Some(prepared);
                    self.request = Some(req);
                    return Ok(Progress::Pending);
                }
                Err(e) => self.fallback = Some(e),
            }
        }
        // Relative maps (identical tokens) take the CPU's fast path: no exponential per cell,
        // O(N·S) — at once, whatever N.
        // (Only a table-lookup kernel can be relative: dot-product content is never tried.)
        // Up to IMMEDIATE_WORK at once; beyond (N ≳ 8000 on 512² blocks), block rows over frames.
        if req.n <= prepared.n_max()
            && prepared.cost_per_cell() == 1
            && let Some(mut job) = relative_table(&prepared, req.n).and_then(|rel| RelativeJob::new(&rel, &req))
        {
            self.prepared = Some(prepared);
            self.request = Some(req);
            self.gpu_cpu_max_diff = None;
            self.picture = None;
            if job.work_per_block_row().saturating_mul(req.out_side.min(req.n)) <= IMMEDIATE_WORK {
                job.block_rows(usize::MAX);
                self.set(job.finish(), EngineKind::Cpu, started);
                return Ok(Progress::Ready);
            }
            self.job_busy_ms = started.elapsed().as_secs_f32() * 1000.0;
            self.pending = Some((Job::Relative(Box::new(job)), started));
            return Ok(Progress::Pending);
        }
        let mut acc = MapAccumulator::new(&req);
        let at_once = map_work(&prepared, req.n) <= IMMEDIATE_WORK;
        // A map spread over frames computes no row here: the caller's preparation may have
        // spent this frame's budget already. Its size is checked now, like a row would.
        let result = if at_once {
            acc.rows(&prepared, req.n)
        } else if req.n == 0 || req.n > prepared.n_max() {
            Err(PeError::invalid(
                "n_keys",
                req.n,
                format!("1..={} (the prepared positions)", prepared.n_max()),
            ))
        } else {
            Ok(())
        };
        self.prepared = Some(prepared);
        self.request = Some(req);
        result?;
        self.gpu_cpu_max_diff = None;
        self.picture = None;
        if at_once {
            self.set(acc.finish(), EngineKind::Cpu, started);
            Ok(Progress::Ready)
        } else {
            self.job_busy_ms = started.elapsed().as_secs_f32() * 1000.0;
            self.pending = Some((Job::Cpu(Box::new(acc)), started));
            Ok(Progress::Pending)
        }
    }

    /// Advance the job in flight: collect a finished GPU map (letting the device make progress
    /// meanwhile), or compute CPU rows until `deadline`. Returns `true` when a new map replaced
    /// the old one (from the GPU, or from the CPU, also after a GPU failure).
    pub fn poll(&mut self, engines: &MapEngines, deadline: Instant) -> bool {
        match self.pending.take() {
            None => false,
            Some((Job::Gpu(pending), started)) => self.poll_gpu(engines, pending, started),
            Some((Job::Relative(mut job), started)) => {
                let chunk = (CHUNK_WORK / job.work_per_block_row().max(1)).max(1);
                let frame_start = Instant::now();
                loop {
                    job.block_rows(chunk);
                    if job.is_done() {
                        let map = job.finish();
                        self.job_busy_ms += frame_start.elapsed().as_secs_f32() * 1000.0;
                        self.set(map, EngineKind::Cpu, started);
                        return true;
                    }
                    if Instant::now() >= deadline {
                        self.job_busy_ms += frame_start.elapsed().as_secs_f32() * 1000.0;
                        self.pending = Some((Job::Relative(job), started));
                        return false;
                    }
                }
            }
            Some((Job::Cpu(mut acc), started)) => {
                let Some(prepared) = self.prepared.as_ref() else {
                    return false;
                };
                let chunk = self.request.map_or(1, |r| rows_per_chunk(prepared, r.n));
                let frame_start = Instant::now();
                loop {
                    if let Err(e) = acc.rows(prepared, chunk) {
                        self.error = Some(e);
                        return false;
                    }
                    if acc.is_done() {
                        let map = acc.finish();
                        self.job_busy_ms += frame_start.elapsed().as_secs_f32() * 1000.0;
                        self.set(map, EngineKind::Cpu, started);
                        return true;
                    }
                    if Instant::now() >= deadline {
                        self.job_busy_ms += frame_start.elapsed().as_secs_f32() * 1000.0;
                        self.pending = Some((Job::Cpu(acc), started));
                        return false;
                    }
                }
            }
        }
    }

    fn poll_gpu(&mut self, engines: &MapEngines, pending: PendingMap, started: Instant) -> bool {
        let Some(result) = pending.try_take() else {
            if let Some(gpu) = &engines.gpu {
                gpu.poll();
            }
            self.pending = Some((Job::Gpu(pending), started));
            return false;
        };
        let req = pending.request;
        match result {
            Ok(GpuMap {
                cells,
                side,
                mean_entropy_nats,
                mass_beyond_train,
                range,
            }) => {
                let map = AttentionMap {
                    range,
                    values: cells,
                    rows: side,
                    cols: side,
                    n: req.n,
                    mean_entropy_nats,
                    mass_beyond_train,
                };
                self.gpu_cpu_max_diff = self.check_against_cpu(&map);
                self.set(map, EngineKind::Gpu, started);
                self.fallback = None;
                true
            }
            Err(e) => {
                log::warn!("{e}; falling back to the CPU");
                self.fallback = Some(e);
                // Continue on the CPU, within the frame budget.
                let restart = match (self.prepared.take(), self.request) {
                    (Some(p), Some(r)) => Some((p, r)),
                    _ => None,
                };
                if let Some((p, r)) = restart
                    && let Err(e) = self.start(&MapEngines::cpu_only(), p, r, false)
                {
                    self.error = Some(e);
                }
                true
            }
        }
    }

    fn set(&mut self, map: AttentionMap, engine: EngineKind, started: Instant) {
        self.map = map;
        self.engine = engine;
        self.compute_ms = started.elapsed().as_secs_f32() * 1000.0;
        // A map done at once (or on the GPU) took its wall time; one spread over frames, the
        // time its rows took.
        self.busy_ms = if self.job_busy_ms > 0.0 {
            self.job_busy_ms
        } else {
            self.compute_ms
        };
        self.job_busy_ms = 0.0;
    }

    /// For small maps, the largest |GPU − CPU| cell difference (a masking mismatch → `f32::MAX`).
    fn check_against_cpu(&self, gpu_map: &AttentionMap) -> Option<f32> {
        if gpu_map.n > GPU_CHECK_MAX_N {
            return None;
        }
        let cpu = attention_map::compute(self.prepared.as_ref()?, self.request.as_ref()?).ok()?;
        Some(max_abs_diff(&cpu.values, &gpu_map.values))
    }

    /// Is a job (GPU or CPU) in flight?
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Is a GPU job in flight? (Without GPU drawing, wait for it before starting another: the
    /// picture only comes with its read-back.)
    pub fn is_gpu_pending(&self) -> bool {
        matches!(self.pending, Some((Job::Gpu(_), _)))
    }

    /// The newest GPU map on the device, drawable at once (`None` once a CPU map replaced it).
    pub fn gpu_picture(&self) -> Option<&GpuPicture> {
        self.picture.as_ref()
    }

    /// Fraction of the CPU job in flight done so far (`None` when none is, or on the GPU).
    pub fn progress(&self) -> Option<f32> {
        match (&self.pending, &self.request) {
            (Some((Job::Cpu(acc), _)), Some(r)) => Some(acc.rows_done() as f32 / r.n.max(1) as f32),
            (Some((Job::Relative(job), _)), _) => Some(job.progress()),
            _ => None,
        }
    }

    /// An error of the job in flight, if it failed.
    pub fn error(&self) -> Option<&PeError> {
        self.error.as_ref()
    }

    /// The latest finished map (empty before the first).
    pub fn map(&self) -> &AttentionMap {
        &self.map
    }

    /// The logits behind the latest request (for exact hover values).
    pub fn prepared(&self) -> Option<&PreparedLogits> {
        self.prepared.as_ref()
    }

    pub fn engine(&self) -> EngineKind {
        self.engine
    }

    /// Submit → result time of the latest map, in milliseconds (0 while a GPU map's statistics are
    /// on their way).
    pub fn compute_ms(&self) -> f32 {
        self.compute_ms
    }

    /// Time the CPU spent on the latest map, in milliseconds: [`Self::compute_ms`] for a map done
    /// at once or on the GPU; for one spread over frames, only its rows' time (not the frames in
    /// between), i.e. what the map would take in one go.
    pub fn busy_ms(&self) -> f32 {
        self.busy_ms
    }

    /// Largest |GPU − CPU| cell difference of the latest GPU map, when it was checked.
    pub fn gpu_cpu_max_diff(&self) -> Option<f32> {
        self.gpu_cpu_max_diff
    }

    /// Why the GPU was not used for the latest map, if it was tried and failed.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The exact (unaggregated) value at (query, key) of the latest request, recomputed from
    /// the prepared logits: a probability when `softmax`, else a logit (`-inf` = masked).
    pub fn exact_value(&self, query: usize, key: usize) -> Option<f32> {
        let (p, req) = (self.prepared.as_ref()?, self.request.as_ref()?);
        let mut row = vec![0.0_f32; req.n];
        let ok = if req.softmax {
            p.probs_row(query, req.n, req.causal, &mut row)
        } else {
            p.logits_row(query, req.n, req.causal, &mut row)
        };
        ok.ok()?;
        row.get(key).copied()
    }
}

/// Largest |a − b| over cells; NaN (masked) must match NaN, else the result is `f32::MAX`.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return f32::MAX;
    }
    a.iter()
        .zip(b)
        .fold(0.0_f32, |m, (x, y)| match (x.is_nan(), y.is_nan()) {
            (true, true) => m,
            (false, false) => m.max((x - y).abs()),
            _ => f32::MAX,
        })
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
