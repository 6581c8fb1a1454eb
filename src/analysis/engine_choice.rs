//! Heatmap engines chosen by measurement, not by assumption: at first use the app times the CPU
//! engine and the WGSL engine on small maps (RoPE, identical tokens — the views' default, and
//! the only kind the GPU engine serves) and, from a cost model fitted to those times, serves each
//! map size with the engine predicted faster.
//!
//! Model: both engines sum an `S × S` picture (`S = min(N, 512)`) from prefix sums over
//! distance in `O(N·S)` — the CPU's fast path (`super::relative_map`) and the GPU's prefix kernel
//! (`relative_blocks` in `shaders/attention_map.wgsl`), so `t_cpu(N) = c·N·S`, and the GPU pays
//! a fixed latency on top (upload, submission, the browser's GPU process, the read-back):
//! `t_gpu(N) = a + b·N·S`. Three probes fix `c`, `a` and `b`.
//!
//! What a reader waits for is the *picture*, so the choice compares the time until a map is on
//! screen:
//! - a GPU map drawn on the device (the paint callback) is on screen once the device has done
//!   its work, `b·N·S`; the read-back latency `a` only delays its statistics. This counts only
//!   for maps the CPU would spread over frames: below, `a` also holds fixed costs no probe can
//!   separate, and the whole `a + b·N·S` counts, as it does without device drawing.
//! - a CPU map over the frame budget is spread over frames ([`super::engine::IMMEDIATE_WORK`]):
//!   `c·N·S / budget` frames (a continuous count, so the choice stays monotone in N), each at
//!   least as long as the frame interval measured while the probes ran. On a page whose frames come slowly (a software compositor: ~200 ms here) that
//!   dominates, and there the GPU, working in its own process, wins.
//!
//! The GPU serves `N` where its picture time is shorter. A reader can override the choice (the Attention view's engine control,
//! `engine=` in the link; `?heatmaps=` in the page's address for every view).

use web_time::Instant;

use super::attention_map::MapRequest;
use super::engine::{IMMEDIATE_WORK, WORK_BUDGET_MS};
use super::gpu_map::{GpuAttentionMap, GpuRequest, PendingMap};
use super::grid::Aggregate;
use super::relative_map::{self, relative_table};
use crate::pe::{Content, PositionMap, PreparedLogits, Scheme, scaling::RopeScaling};

/// Map sizes the CPU is timed on (synchronously, twice each, a few ms together).
pub const CPU_PROBE_N: [usize; 2] = [256, 1024];
/// Map sizes the GPU is timed on (one probe after the other, submit → results back), and how
/// many maps each probe submits at once ([`probe_maps`]). `b` comes from the two largest, where
/// the work shows over a software GPU's read-back latency: the last probe submits four 8192-token
/// maps together (17 M block steps; SwiftShader: ~0.3 s of work against ±0.1 s of latency
/// noise). With single maps up to 4096, SwiftShader's work hid in that noise (a 4096 map came
/// back faster than a 1024 one), `b` fitted 0, and the GPU looked free.
pub const GPU_PROBE_N: [usize; 3] = [256, 1024, 8192];

/// Maps a GPU probe of `n` keys submits at once (four for the largest, see [`GPU_PROBE_N`]).
pub fn probe_maps(n: usize) -> usize {
    if n == GPU_PROBE_N[2] { 4 } else { 1 }
}
/// Output side of the maps (the Attention view's `MAP_SIDE`): the model's `S = min(N, 512)`.
pub const PROBE_SIDE: usize = 512;
/// The lengths the choice is reported over.
const LENGTHS: std::ops::RangeInclusive<usize> = 8..=65_536;

/// What the measurement found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Measured {
    /// Median milliseconds between frames while the probes ran.
    pub frame_interval_ms: f64,
    /// GPU maps are drawn on the device (no read-back before the picture).
    pub gpu_draws: bool,
    /// (N, milliseconds) per probe.
    pub cpu_ms: Vec<(usize, f64)>,
    pub gpu_ms: Vec<(usize, f64)>,
    /// The fitted model: CPU ms per (N·S) cell, GPU latency ms and ms per (N·S) cell.
    pub cpu_per_cell_ms: f64,
    pub gpu_latency_ms: f64,
    pub gpu_per_cell_ms: f64,
    /// The shortest length (8 … 65 536) the GPU is predicted faster at (`None`: the CPU at
    /// every length).
    pub gpu_from_n: Option<usize>,
}

/// `N·S`, both engines' work for N keys, as a float: in `usize` it wrapped to 0 at N = 65 536
/// on wasm32 (32-bit `usize`, when the GPU's model was `N²`), which once made the cost model
/// call a software GPU free there.
fn cells(n: usize) -> f64 {
    n as f64 * n.min(PROBE_SIDE) as f64
}

/// A GPU probe's work: `N·S` for each of the maps it submits.
fn work(n: usize) -> f64 {
    cells(n) * probe_maps(n) as f64
}

impl Measured {
    /// Fit the cost model to the probes' times (see the module docs).
    pub fn fit(cpu_ms: Vec<(usize, f64)>, gpu_ms: Vec<(usize, f64)>, frame_interval_ms: f64, gpu_draws: bool) -> Self {
        let per_cell: Vec<f64> = cpu_ms
            .iter()
            .filter(|(n, t)| *n > 0 && t.is_finite())
            .map(|&(n, t)| t.max(0.0) / cells(n))
            .collect();
        let c = per_cell.iter().sum::<f64>() / per_cell.len().max(1) as f64;
        // `b` from the two largest probes (where the N² work shows most), `a` from the smallest
        // (where the latency does); every probe must have come back.
        let mut gpu_sorted = gpu_ms.clone();
        gpu_sorted.sort_by_key(|&(n, _)| n);
        let all_finite = gpu_sorted.iter().all(|(_, t)| t.is_finite());
        let (a, b) = match gpu_sorted.as_slice() {
            [(n0, t0), .., (n1, t1), (n2, t2)] if all_finite && n2 > n1 && !per_cell.is_empty() => {
                let b = ((t2 - t1) / (work(*n2) - work(*n1))).max(0.0);
                ((t0 - b * work(*n0)).max(0.0), b)
            }
            [(n1, t1), (n2, t2)] if all_finite && n2 > n1 && !per_cell.is_empty() => {
                let b = ((t2 - t1) / (work(*n2) - work(*n1))).max(0.0);
                ((t1 - b * work(*n1)).max(0.0), b)
            }
            _ => (f64::INFINITY, f64::INFINITY),
        };
        let mut m = Self {
            frame_interval_ms: if frame_interval_ms.is_finite() {
                frame_interval_ms.max(0.0)
            } else {
                0.0
            },
            gpu_draws,
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
            self.cpu_per_cell_ms * cells(n),
            self.gpu_latency_ms + self.gpu_per_cell_ms * cells(n),
        )
    }

    /// Predicted milliseconds until a map of `n` keys is on screen, (CPU, GPU).
    pub fn picture_ms(&self, n: usize) -> (f64, f64) {
        let (cpu, gpu) = self.predict_ms(n);
        let budget = WORK_BUDGET_MS as f64;
        let spread = cells(n) > IMMEDIATE_WORK as f64;
        let cpu = if spread {
            cpu / budget * self.frame_interval_ms.max(budget)
        } else {
            cpu
        };
        // Only where the CPU would spread the map over frames does the device-drawn picture
        // count its work alone: below, the CPU's picture comes in the frame that asked for it,
        // and the GPU's fixed costs (submission, dispatches) cannot be told apart from its
        // read-back latency, so the whole measured time counts — as it does when a fitted b of 0
        // cannot tell the device's work from that latency either. (The browser test once saw
        // noisy probes fit b below c and send 8-token maps to SwiftShader.)
        let gpu = if self.gpu_draws && spread && gpu.is_finite() && self.gpu_per_cell_ms > 0.0 {
            self.gpu_per_cell_ms * cells(n)
        } else {
            gpu
        };
        (cpu, gpu)
    }

    /// Does the GPU serve a map of `n` keys (its picture predicted sooner)?
    pub fn uses_gpu(&self, n: usize) -> bool {
        let (cpu, gpu) = self.picture_ms(n);
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
        /// The probe in flight: its maps, and when they were submitted.
        job: Option<(Vec<PendingMap>, Instant)>,
        /// Milliseconds between frames while the probes run.
        intervals: Vec<f64>,
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
    /// collect them as they come back, noting the interval since the previous frame
    /// (`frame_interval_ms`) each time. `gpu_draws`: the app draws GPU maps on the device.
    /// Returns `true` while the measurement is still running.
    pub fn advance(&mut self, gpu: &GpuAttentionMap, frame_interval_ms: f64, gpu_draws: bool) -> bool {
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
                    intervals: Vec::new(),
                };
                self.advance(gpu, 0.0, gpu_draws)
            }
            Self::Running {
                cpu_ms,
                gpu_ms,
                job,
                intervals,
            } => {
                if frame_interval_ms > 0.0 && frame_interval_ms.is_finite() {
                    intervals.push(frame_interval_ms);
                }
                if let Some((pending, started)) = job.as_mut() {
                    // Collect the maps that came back; the probe's time is the last one's.
                    let mut failed = None;
                    pending.retain(|p| match p.try_take() {
                        None => true,
                        Some(Ok(_)) => false,
                        Some(Err(e)) => {
                            failed = Some(e);
                            false
                        }
                    });
                    if let Some(e) = failed {
                        *self = Self::Failed(e);
                        return false;
                    }
                    if !pending.is_empty() {
                        gpu.poll();
                        return true;
                    }
                    let n = GPU_PROBE_N.get(gpu_ms.len()).copied().unwrap_or(0);
                    gpu_ms.push((n, started.elapsed().as_secs_f64() * 1000.0));
                    *job = None;
                }
                let Some(&n) = GPU_PROBE_N.get(gpu_ms.len()) else {
                    let interval = median(intervals);
                    *self = Self::Done(Measured::fit(
                        std::mem::take(cpu_ms),
                        std::mem::take(gpu_ms),
                        interval,
                        gpu_draws,
                    ));
                    return false;
                };
                let started = Instant::now();
                let submitted = probe(n)
                    .and_then(|(prepared, req)| relative_table(&prepared, n).map(|rel| (rel, req)))
                    .ok_or_else(|| format!("no probe map at N = {n}"))
                    .and_then(|(rel, req)| {
                        (0..probe_maps(n))
                            .map(|_| {
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
                            })
                            .collect::<Result<Vec<_>, _>>()
                    });
                match submitted {
                    Ok(pending) => {
                        *job = Some((pending, started));
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

/// The median of `v` (0 when empty).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::Measured;

    /// Probe times of a machine with CPU `c` ms per N·S cell, GPU latency `a` ms and `b` ms per
    /// N·S cell.
    fn machine(c: f64, a: f64, b: f64) -> Measured {
        let cells = |n: usize| (n * n.min(512)) as f64;
        Measured::fit(
            vec![(256, c * cells(256)), (1024, c * cells(1024))],
            vec![
                (256, a + b * cells(256)),
                (1024, a + b * cells(1024)),
                (4096, a + b * cells(4096)),
            ],
            0.0,
            false,
        )
    }

    #[test]
    fn noisy_small_probes_alone_would_call_a_software_gpu_fast() {
        // SwiftShader as measured in session 6: 697 ms at 256, 507 ms at 1024 (noise: faster),
        // 1618 ms at 4096; CPU 4.9 ms at 256, 23.7 ms at 1024. The two small probes alone fit
        // b = 0 and a GPU "faster" from N ≈ 22 700; the 4096 probe shows the GPU's work per
        // cell (15× the CPU's): the CPU serves every length.
        let cpu = vec![(256, 4.9), (1024, 23.7)];
        let small = Measured::fit(cpu.clone(), vec![(256, 697.0), (1024, 507.0)], 0.0, false);
        assert!(small.uses_gpu(65_536), "the two-probe fit's mistake");
        let m = Measured::fit(cpu, vec![(1024, 507.0), (4096, 1618.0), (256, 697.0)], 0.0, false);
        assert_eq!(m.gpu_from_n, None, "{m:?}");
        let (cpu_ms, gpu_ms) = m.predict_ms(65_536);
        assert!(gpu_ms > 10.0 * cpu_ms, "{cpu_ms} vs {gpu_ms}");
    }

    #[test]
    fn the_fit_recovers_the_model_and_the_crossover() {
        // A real GPU: 2 ms latency, 1e-8 ms per cell; CPU 1e-5 ms per cell. The GPU wins where
        // 1e-5·N·S > 2 + 1e-8·N·S, i.e. N·S > 200 200: N = 448 (448² = 200 704) on.
        let m = machine(1e-5, 2.0, 1e-8);
        assert!((m.cpu_per_cell_ms - 1e-5).abs() < 1e-12 && (m.gpu_latency_ms - 2.0).abs() < 1e-9);
        assert!((m.gpu_per_cell_ms - 1e-8).abs() < 1e-15);
        assert_eq!(m.gpu_from_n, Some(448));
        assert!(!m.uses_gpu(447) && m.uses_gpu(448) && m.uses_gpu(8192) && m.uses_gpu(65_536));
        assert!(m.summary().contains("GPU from N = 448, CPU below"), "{}", m.summary());
    }

    #[test]
    fn a_gpu_slower_per_cell_never_serves_and_a_faster_one_serves_from_its_crossover_on() {
        // SwiftShader-like: 400 ms latency, more per cell than the CPU: never.
        let m = machine(2e-5, 400.0, 3e-5);
        assert_eq!(m.gpu_from_n, None);
        assert!(!m.uses_gpu(65_536));
        assert!(m.summary().contains("CPU at every N"));
        // Slow to answer but cheaper per cell: from where the CPU's N·S work outgrows the
        // latency — 400 / (2e-5 − 1e-5) = 4e7 cells, N = 78 125 > 65 536: still never.
        let late = machine(2e-5, 400.0, 1e-5);
        assert_eq!(late.gpu_from_n, None);
        // With 100 ms latency: 1e7 cells, N = 19 532 (19 532 · 512 ≥ 1e7) on.
        let w = machine(2e-5, 100.0, 1e-5);
        assert_eq!(w.gpu_from_n, Some(19_532));
        assert!(w.uses_gpu(65_536) && !w.uses_gpu(19_531));
    }

    /// SwiftShader in session 8: CPU probes 0.6 / 5.0 ms (c ≈ 9.3e-6 ms per cell), GPU probes
    /// 472 / 460 / 490 ms at 256 / 1024 / 4096 (b ≈ 1.9e-5: twice the CPU's per cell, behind
    /// ~0.45 s of read-back latency), frames 200 ms apart. Maps up to 8192 are done at once on
    /// the CPU and stay there; longer ones would be spread over frames (16 384: ~78 ms of rows,
    /// 2.2 frames of 200 ms), where the device-drawn GPU picture (b·N·S = 160 ms) comes first —
    /// as the drag bench measured (2.8 vs 0.3 maps/s at 20 000–25 000).
    #[test]
    fn the_choice_follows_the_picture_long_maps_go_to_a_device_that_draws() {
        let fit = |interval, draws| {
            Measured::fit(
                vec![(256, 0.6), (1024, 5.0)],
                vec![(256, 472.0), (1024, 460.0), (4096, 490.0)],
                interval,
                draws,
            )
        };
        let drawn = fit(200.0, true);
        assert_eq!(drawn.gpu_from_n, Some(8193), "{drawn:?}");
        assert!(!drawn.uses_gpu(2048) && !drawn.uses_gpu(8192) && drawn.uses_gpu(16_384) && drawn.uses_gpu(65_536));
        let (cpu, gpu) = drawn.picture_ms(16_384);
        assert!(
            (cpu - 78.0 / 35.0 * 200.0).abs() < 5.0 && (gpu - 160.0).abs() < 5.0,
            "{cpu} vs {gpu}"
        );
        assert!(
            drawn.summary().contains("GPU from N = 8193, CPU below"),
            "{}",
            drawn.summary()
        );
        // Without device drawing the picture waits for the read-back (~0.47 s): the crossover
        // moves out to where the CPU's spread maps take longer still.
        let read_back = fit(200.0, false);
        assert_eq!(read_back.gpu_from_n, Some(26_781), "{read_back:?}");
        assert!(!read_back.uses_gpu(16_384) && read_back.uses_gpu(65_536));
        // Frames as fast as the budget (a real compositor): spreading costs nothing extra, and a
        // GPU twice as slow per cell never serves.
        let fast_frames = fit(16.0, true);
        assert_eq!(fast_frames.gpu_from_n, None, "{fast_frames:?}");
    }

    /// The browser test's SwiftShader run in session 8: single probes of 710 / 624 / 621 ms at
    /// 256 / 1024 / 4096 — the largest came back faster, `b` fits 0, and a device-drawn picture
    /// looked free ("GPU from N = 8"). With `b = 0` the latency now counts; and the batch probe
    /// (four 8192 maps at once) measures the work the single probes could not.
    #[test]
    fn a_gpu_whose_work_hides_in_its_latency_is_not_called_free() {
        let cpu = vec![(256, 0.6), (1024, 5.0)];
        let flat = Measured::fit(
            cpu.clone(),
            vec![(256, 710.0), (1024, 624.0), (4096, 621.0)],
            200.0,
            true,
        );
        assert_eq!(flat.gpu_per_cell_ms, 0.0);
        let from = flat.gpu_from_n.expect("long spread CPU maps still lose");
        assert!(from > 20_000 && !flat.uses_gpu(8192), "{flat:?}");
        // Four 8192 maps (4 × 4.2 M block steps) back after 950 ms: b ≈ 2e-5 ms per step.
        assert_eq!(super::probe_maps(8192), 4);
        let batch = Measured::fit(cpu, vec![(256, 710.0), (1024, 624.0), (8192, 950.0)], 200.0, true);
        assert!((batch.gpu_per_cell_ms - 326.0 / (4.0 * 8192.0 * 512.0 - 1024.0 * 512.0)).abs() < 1e-9);
        assert_eq!(batch.gpu_from_n, Some(8193), "{batch:?}");
    }

    /// The clean-clone CI run in session 8: CPU 2.1 / 7.5 ms, GPU 856 / 571 ms and 842 ms for
    /// the four 8192 maps — `b` (1.7e-5) came out below `c` (2.3e-5) on a loaded machine, and the
    /// work-only picture sent every map from N = 8 to SwiftShader. Maps the CPU does in one
    /// frame now count the GPU's whole measured time.
    #[test]
    fn maps_the_cpu_does_in_one_frame_count_the_gpus_whole_time() {
        let m = Measured::fit(
            vec![(256, 2.1), (1024, 7.5)],
            vec![(256, 856.3), (1024, 570.7), (8192, 842.0)],
            200.0,
            true,
        );
        assert!(m.gpu_per_cell_ms < m.cpu_per_cell_ms, "{m:?}");
        assert_eq!(m.gpu_from_n, Some(8193), "{m:?}");
        assert!(!m.uses_gpu(200) && !m.uses_gpu(8192) && m.uses_gpu(65_536));
    }

    #[test]
    fn missing_or_broken_probes_choose_the_cpu() {
        for draws in [false, true] {
            let none = Measured::fit(vec![(256, 6.5)], vec![(256, f64::NAN), (1024, 3.0)], 200.0, draws);
            assert_eq!(none.gpu_from_n, None);
            let one = Measured::fit(vec![(256, 6.5)], vec![(256, 3.0)], 200.0, draws);
            assert_eq!(one.gpu_from_n, None);
            let no_cpu = Measured::fit(vec![], vec![(256, 0.1), (1024, 0.2)], 200.0, draws);
            assert_eq!(no_cpu.gpu_from_n, None);
        }
        let nan_interval = Measured::fit(vec![(256, 0.6), (1024, 5.0)], vec![], f64::NAN, true);
        assert_eq!((nan_interval.frame_interval_ms, nan_interval.gpu_from_n), (0.0, None));
    }
}
