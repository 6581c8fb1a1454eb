//! Heatmap engines chosen by measurement, not by assumption: at first use the app times the CPU
//! engine and the WGSL engine on small maps (RoPE, identical tokens — the views' default) and,
//! from a cost model fitted to those times, serves each map size with the faster engine.
//!
//! Model: the CPU's time grows with the cells, `t_cpu(N) = c·N²`; the GPU pays a fixed latency
//! (submission, the browser's GPU process, the read-back) plus a per-cell cost,
//! `t_gpu(N) = a + b·N²` — two sizes fix `a` and `b`. The GPU serves `N` from the crossover
//! `N* = √(a / (c − b))` up, and never when its per-cell cost is not below the CPU's. A reader
//! can override the choice (the Attention view's engine control, `engine=` in the link).

use web_time::Instant;

use super::attention_map::{self, MapRequest};
use super::gpu_map::{GpuAttentionMap, GpuRequest, PendingMap, relative_table};
use super::grid::Aggregate;
use crate::pe::{Content, PositionMap, PreparedLogits, Scheme, scaling::RopeScaling};

/// Map sizes the CPU is timed on (synchronously, a few ms together).
pub const CPU_PROBE_N: [usize; 2] = [256, 512];
/// Map sizes the GPU is timed on (one after the other, submit → results back).
pub const GPU_PROBE_N: [usize; 2] = [256, 1024];
/// Output side of the probe maps (the Attention view's).
const PROBE_SIDE: usize = 256;

/// What the measurement found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Measured {
    /// (N, milliseconds) per probe.
    pub cpu_ms: Vec<(usize, f64)>,
    pub gpu_ms: Vec<(usize, f64)>,
    /// The GPU serves maps of at least this many keys (`None`: the CPU serves every size).
    pub gpu_from_n: Option<usize>,
}

impl Measured {
    /// Fit the cost model to the probes' times (see the module docs).
    pub fn fit(cpu_ms: Vec<(usize, f64)>, gpu_ms: Vec<(usize, f64)>) -> Self {
        let cells = |n: usize| (n * n) as f64;
        let per_cell: Vec<f64> = cpu_ms
            .iter()
            .filter(|(n, t)| *n > 0 && t.is_finite())
            .map(|&(n, t)| t.max(0.0) / cells(n))
            .collect();
        let c = per_cell.iter().sum::<f64>() / per_cell.len().max(1) as f64;
        let gpu_from_n = match gpu_ms.as_slice() {
            [(n0, t0), (n1, t1), ..] if n1 > n0 && t0.is_finite() && t1.is_finite() => {
                let b = ((t1 - t0) / (cells(*n1) - cells(*n0))).max(0.0);
                let a = (t0 - b * cells(*n0)).max(0.0);
                (c > b).then(|| ((a / (c - b)).sqrt().ceil() as usize).max(1))
            }
            _ => None,
        };
        Self {
            cpu_ms,
            gpu_ms,
            gpu_from_n,
        }
    }

    /// Does the GPU serve a map of `n` keys?
    pub fn uses_gpu(&self, n: usize) -> bool {
        self.gpu_from_n.is_some_and(|from| n >= from)
    }

    /// One line for the status bar.
    pub fn summary(&self) -> String {
        let at = |v: &[(usize, f64)]| {
            v.iter()
                .map(|(n, t)| format!("{t:.1} ms at N = {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let choice = match self.gpu_from_n {
            Some(n) => format!("GPU from N = {n}, CPU below"),
            None => "CPU at every N".into(),
        };
        format!(
            "heatmaps: {choice} (measured: CPU {}; GPU {})",
            at(&self.cpu_ms),
            at(&self.gpu_ms)
        )
    }
}

/// The measurement, advanced once per frame by the app.
#[derive(Default)]
pub enum Calibration {
    /// Not started (or no GPU to measure).
    #[default]
    Idle,
    Running {
        cpu_ms: Vec<(usize, f64)>,
        gpu_ms: Vec<(usize, f64)>,
        job: Option<(PendingMap, Instant)>,
    },
    Done(Measured),
    /// The GPU probe failed: the CPU serves every map.
    Failed(String),
}

/// The probe map of `n` keys: RoPE (b = 10 000, d = 64), identical tokens, causal softmax.
fn probe(n: usize) -> Option<(PreparedLogits, MapRequest)> {
    let scheme = Scheme::Rope {
        base: 10_000.0,
        scaling: RopeScaling::None,
        map: PositionMap::Identity,
    };
    let prepared = PreparedLogits::new(&scheme, &Content::Identical, 64, n).ok()?;
    let req = MapRequest {
        n,
        causal: true,
        softmax: true,
        out_side: PROBE_SIDE.min(n),
        aggregate: Aggregate::Mean,
        train_len: 0,
    };
    Some((prepared, req))
}

impl Calibration {
    /// Advance: time the CPU probes (first call), then submit the GPU probes one at a time and
    /// collect them as they come back. Returns `true` while the measurement is still running.
    pub fn advance(&mut self, gpu: &GpuAttentionMap) -> bool {
        match self {
            Self::Idle => {
                let mut cpu_ms = Vec::new();
                for n in CPU_PROBE_N {
                    let Some((prepared, req)) = probe(n) else { continue };
                    let t = Instant::now();
                    if attention_map::compute(&prepared, &req).is_ok() {
                        cpu_ms.push((n, t.elapsed().as_secs_f64() * 1000.0));
                    }
                }
                *self = Self::Running {
                    cpu_ms,
                    gpu_ms: Vec::new(),
                    job: None,
                };
                self.advance(gpu)
            }
            Self::Running { cpu_ms, gpu_ms, job } => {
                if let Some((pending, started)) = job.as_ref() {
                    match pending.try_take() {
                        None => {
                            gpu.poll();
                            return true;
                        }
                        Some(Err(e)) => {
                            *self = Self::Failed(e);
                            return false;
                        }
                        Some(Ok(_)) => {
                            gpu_ms.push((pending.request.n, started.elapsed().as_secs_f64() * 1000.0));
                            *job = None;
                        }
                    }
                }
                let Some(&n) = GPU_PROBE_N.get(gpu_ms.len()) else {
                    *self = Self::Done(Measured::fit(std::mem::take(cpu_ms), std::mem::take(gpu_ms)));
                    return false;
                };
                let submitted = probe(n)
                    .and_then(|(prepared, req)| relative_table(&prepared, n).map(|rel| (rel, req)))
                    .ok_or_else(|| format!("no probe map at N = {n}"))
                    .and_then(|(rel, req)| {
                        gpu.submit(
                            &rel,
                            GpuRequest {
                                n,
                                side: req.out_side,
                                causal: req.causal,
                                softmax: req.softmax,
                                aggregate: req.aggregate,
                                train_len: 0,
                            },
                        )
                    });
                match submitted {
                    Ok(pending) => {
                        *job = Some((pending, Instant::now()));
                        true
                    }
                    Err(e) => {
                        *self = Self::Failed(e);
                        false
                    }
                }
            }
            Self::Done(_) | Self::Failed(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Measured;

    #[test]
    fn a_fast_cpu_and_a_slow_latency_put_the_crossover_where_the_costs_meet() {
        // CPU 1e-4 ms per cell; GPU 50 ms latency + 1e-5 ms per cell:
        // N* = √(50 / 9e-5) ≈ 745.4.
        let m = Measured::fit(
            vec![(256, 1e-4 * 65_536.0), (512, 1e-4 * 262_144.0)],
            vec![(256, 50.0 + 1e-5 * 65_536.0), (1024, 50.0 + 1e-5 * 1_048_576.0)],
        );
        assert_eq!(m.gpu_from_n, Some(746));
        assert!(!m.uses_gpu(745) && m.uses_gpu(746) && m.uses_gpu(8192));
        assert!(m.summary().contains("GPU from N = 746"), "{}", m.summary());
    }

    #[test]
    fn a_gpu_whose_cells_cost_more_never_serves() {
        // SwiftShader-like: the GPU's per-cell cost above the CPU's.
        let m = Measured::fit(vec![(256, 2.0), (512, 8.0)], vec![(256, 400.0), (1024, 2400.0)]);
        assert_eq!(m.gpu_from_n, None);
        assert!(!m.uses_gpu(65_536));
        assert!(m.summary().contains("CPU at every N"));
    }

    #[test]
    fn a_gpu_without_latency_serves_every_size_and_bad_probes_choose_the_cpu() {
        let m = Measured::fit(vec![(256, 6.5), (512, 26.0)], vec![(256, 0.02), (1024, 0.32)]);
        assert_eq!(m.gpu_from_n, Some(1));
        let none = Measured::fit(vec![(256, 6.5)], vec![(256, f64::NAN), (1024, 3.0)]);
        assert_eq!(none.gpu_from_n, None);
        let one = Measured::fit(vec![(256, 6.5)], vec![(256, 3.0)]);
        assert_eq!(one.gpu_from_n, None);
    }
}
