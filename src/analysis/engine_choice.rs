//! Heatmap engines chosen by measurement, not by assumption: at first use the app times the CPU
//! engine and the WGSL engine on small maps (RoPE, identical tokens — the views' default, and
//! the only kind the GPU engine serves) and, from a cost model fitted to those times, serves each
//! map size with the engine predicted faster.
//!
//! Model: the CPU's fast path for relative maps (`super::relative_map`) does `O(N·S)` work for
//! an `S × S` picture (`S = min(N, 512)`), `t_cpu(N) = c·N·S`; the GPU pays a fixed latency
//! (submission, the browser's GPU process, the read-back) plus `O(N²)` work,
//! `t_gpu(N) = a + b·N²` — two sizes fix `a` and `b`. The GPU serves `N` where
//! `t_gpu(N) < t_cpu(N)`. A reader can override the choice (the Attention view's engine control,
//! `engine=` in the link; `?heatmaps=` in the page's address for every view).

use web_time::Instant;

use super::attention_map::MapRequest;
use super::gpu_map::{GpuAttentionMap, GpuRequest, PendingMap};
use super::grid::Aggregate;
use super::relative_map::{self, relative_table};
use crate::pe::{Content, PositionMap, PreparedLogits, Scheme, scaling::RopeScaling};

/// Map sizes the CPU is timed on (synchronously, twice each, a few ms together).
pub const CPU_PROBE_N: [usize; 2] = [256, 1024];
/// Map sizes the GPU is timed on (one after the other, submit → results back). The largest is
/// where a software GPU's `O(N²)` work already shows over its latency (SwiftShader: ~0.7 s at
/// 1024, ~1.6 s at 4096) while a real GPU still answers in a frame: without it a noisy pair of
/// small probes can fit `b ≈ 0` and predict a software GPU fast at 65 536 (minutes, in fact).
pub const GPU_PROBE_N: [usize; 3] = [256, 1024, 4096];
/// Output side of the maps (the Attention view's `MAP_SIDE`): the model's `S = min(N, 512)`.
pub const PROBE_SIDE: usize = 512;
/// The lengths the choice is reported over.
const LENGTHS: std::ops::RangeInclusive<usize> = 8..=65_536;

/// What the measurement found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Measured {
    /// (N, milliseconds) per probe.
    pub cpu_ms: Vec<(usize, f64)>,
    pub gpu_ms: Vec<(usize, f64)>,
    /// The fitted model: CPU ms per (N·S) cell, GPU latency ms and ms per N² cell.
    pub cpu_per_cell_ms: f64,
    pub gpu_latency_ms: f64,
    pub gpu_per_cell_ms: f64,
    /// The shortest length (8 … 65 536) the GPU is predicted faster at (`None`: the CPU at
    /// every length).
    pub gpu_from_n: Option<usize>,
}

/// `S·N` of the CPU fast path's work for N keys.
fn cpu_cells(n: usize) -> f64 {
    n as f64 * n.min(PROBE_SIDE) as f64
}

/// `N²` as a float: `n * n` in `usize` wraps to 0 at N = 65 536 on wasm32 (32-bit `usize`), which
/// once made the cost model call a software GPU free there.
fn gpu_cells(n: usize) -> f64 {
    let n = n as f64;
    n * n
}

impl Measured {
    /// Fit the cost model to the probes' times (see the module docs).
    pub fn fit(cpu_ms: Vec<(usize, f64)>, gpu_ms: Vec<(usize, f64)>) -> Self {
        let per_cell: Vec<f64> = cpu_ms
            .iter()
            .filter(|(n, t)| *n > 0 && t.is_finite())
            .map(|&(n, t)| t.max(0.0) / cpu_cells(n))
            .collect();
        let c = per_cell.iter().sum::<f64>() / per_cell.len().max(1) as f64;
        let cells = gpu_cells;
        // `b` from the two largest probes (where the N² work shows most), `a` from the smallest
        // (where the latency does); every probe must have come back.
        let mut gpu_sorted = gpu_ms.clone();
        gpu_sorted.sort_by_key(|&(n, _)| n);
        let all_finite = gpu_sorted.iter().all(|(_, t)| t.is_finite());
        let (a, b) = match gpu_sorted.as_slice() {
            [(n0, t0), .., (n1, t1), (n2, t2)] if all_finite && n2 > n1 && !per_cell.is_empty() => {
                let b = ((t2 - t1) / (cells(*n2) - cells(*n1))).max(0.0);
                ((t0 - b * cells(*n0)).max(0.0), b)
            }
            [(n1, t1), (n2, t2)] if all_finite && n2 > n1 && !per_cell.is_empty() => {
                let b = ((t2 - t1) / (cells(*n2) - cells(*n1))).max(0.0);
                ((t1 - b * cells(*n1)).max(0.0), b)
            }
            _ => (f64::INFINITY, f64::INFINITY),
        };
        let mut m = Self {
            cpu_ms,
            gpu_ms,
            cpu_per_cell_ms: c,
            gpu_latency_ms: a,
            gpu_per_cell_ms: b,
            gpu_from_n: None,
        };
        m.gpu_from_n = LENGTHS.clone().find(|&n| m.uses_gpu(n));
        m
    }

    /// Predicted milliseconds of a map of `n` keys on the CPU and on the GPU.
    pub fn predict_ms(&self, n: usize) -> (f64, f64) {
        (
            self.cpu_per_cell_ms * cpu_cells(n),
            self.gpu_latency_ms + self.gpu_per_cell_ms * gpu_cells(n),
        )
    }

    /// Does the GPU serve a map of `n` keys (predicted faster)?
    pub fn uses_gpu(&self, n: usize) -> bool {
        let (cpu, gpu) = self.predict_ms(n);
        gpu < cpu
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
            Some(n) if self.uses_gpu(*LENGTHS.end()) => format!("GPU from N = {n}, CPU below"),
            Some(n) => format!("GPU from N = {n} where predicted faster, else CPU"),
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
                    // What the CPU engine runs for such a map: the relative fast path. Twice,
                    // keeping the faster: the first run pays for warm-up (measured 7× slower at
                    // N = 256 on a page still loading).
                    let timed = || {
                        let t = Instant::now();
                        relative_table(&prepared, n)
                            .and_then(|rel| relative_map::compute(&rel, &req))
                            .map(|_| t.elapsed().as_secs_f64() * 1000.0)
                    };
                    if let (Some(a), Some(b)) = (timed(), timed()) {
                        cpu_ms.push((n, a.min(b)));
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

    /// Probe times of a machine with CPU `c` ms per N·S cell, GPU latency `a` ms and `b` ms per
    /// N² cell.
    fn machine(c: f64, a: f64, b: f64) -> Measured {
        let cpu = |n: usize| c * (n * n.min(512)) as f64;
        let gpu = |n: usize| a + b * (n * n) as f64;
        Measured::fit(
            vec![(256, cpu(256)), (1024, cpu(1024))],
            vec![(256, gpu(256)), (1024, gpu(1024)), (4096, gpu(4096))],
        )
    }

    #[test]
    fn a_software_gpu_whose_small_probes_look_flat_is_not_chosen_at_large_n() {
        // SwiftShader as measured here: 697 ms at 256, 507 ms at 1024 (noise: faster), 1618 ms
        // at 4096; CPU 4.9 ms at 256, 23.7 ms at 1024. The two small probes alone fit b = 0 and
        // a GPU "faster" from N ≈ 10 600 — 65 536 would take minutes. The 4096 probe shows the
        // N² growth: the CPU serves every length.
        let cpu = vec![(256, 4.9), (1024, 23.7)];
        let small = Measured::fit(cpu.clone(), vec![(256, 697.0), (1024, 507.0)]);
        assert!(small.uses_gpu(65_536), "the old two-probe fit's mistake");
        let m = Measured::fit(cpu, vec![(1024, 507.0), (4096, 1618.0), (256, 697.0)]);
        assert_eq!(m.gpu_from_n, None, "{m:?}");
        let (cpu_ms, gpu_ms) = m.predict_ms(65_536);
        assert!(gpu_ms > 100_000.0 && cpu_ms < 5_000.0, "{cpu_ms} vs {gpu_ms}");
    }

    #[test]
    fn the_fit_recovers_the_model_and_the_crossover() {
        // A real GPU: 2 ms latency, 1e-8 ms per N² cell; CPU 1e-5 ms per N·S cell. Above 512
        // the CPU costs 5.12e-3·N ms, the GPU 2 + 1e-8·N²: the GPU wins from N = 391 (where
        // 1e-5·N² = 2 + 1e-8·N²) on.
        let m = machine(1e-5, 2.0, 1e-8);
        assert!((m.cpu_per_cell_ms - 1e-5).abs() < 1e-12 && (m.gpu_latency_ms - 2.0).abs() < 1e-9);
        assert!((m.gpu_per_cell_ms - 1e-8).abs() < 1e-15);
        assert_eq!(m.gpu_from_n, Some(448));
        assert!(!m.uses_gpu(400) && m.uses_gpu(448) && m.uses_gpu(8192) && m.uses_gpu(65_536));
        assert!(m.summary().contains("GPU from N = 448, CPU below"), "{}", m.summary());
    }

    #[test]
    fn a_gpu_slower_per_cell_serves_only_a_window_or_nothing() {
        // SwiftShader-like: 400 ms latency, per-cell cost above the CPU's: never.
        let m = machine(2e-5, 400.0, 1e-6);
        assert_eq!(m.gpu_from_n, None);
        assert!(!m.uses_gpu(65_536));
        assert!(m.summary().contains("CPU at every N"));
        // Low latency but O(N²) work against the CPU's O(N·512): the GPU wins in a window only.
        let w = machine(1e-5, 0.5, 1e-6);
        let from = w.gpu_from_n.expect("a window");
        assert!(w.uses_gpu(from) && !w.uses_gpu(65_536), "{from}");
        assert!(w.summary().contains("where predicted faster"), "{}", w.summary());
    }

    #[test]
    fn missing_or_broken_probes_choose_the_cpu() {
        let none = Measured::fit(vec![(256, 6.5)], vec![(256, f64::NAN), (1024, 3.0)]);
        assert_eq!(none.gpu_from_n, None);
        let one = Measured::fit(vec![(256, 6.5)], vec![(256, 3.0)]);
        assert_eq!(one.gpu_from_n, None);
        let no_cpu = Measured::fit(vec![], vec![(256, 0.1), (1024, 0.2)]);
        assert_eq!(no_cpu.gpu_from_n, None);
    }
}
