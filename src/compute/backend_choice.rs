//! burn's backend chosen by measurement, not by assumption: when the compute worker starts (and
//! natively when the in-process server does), it times the same small workload on burn's ndarray
//! CPU backend and on wgpu, and keeps the faster.
//!
//! The workload ([`probe_ms`]) is the shape of the Model lab's heaviest job: three layers of
//! multi-head self-attention (`softmax(Q·Kᵀ/√d)·V`, 4 heads of 32 dimensions) over L = 256
//! positions, read back with `into_data_async`. Each backend runs it twice and the second run
//! counts (the first compiles wgpu's kernels and warms ndarray's allocator).
//!
//! In the browser the wgpu runs race a timer ([`gpu_budget_ms`]); a run that has not come back by
//! then counts as slower, and the worker goes on with ndarray without waiting for it. A software
//! WebGPU adapter (SwiftShader, llvmpipe) is not timed at all (`super::device::worker_device`):
//! the abandoned run would keep the GPU process, which also draws the page, busy for seconds.

use burn::tensor::{Device, Tensor, TensorData, activation::softmax};

use super::ComputeBackend;

/// Positions, heads, head dimension and layers of the probe.
pub const PROBE_LEN: usize = 256;
pub const PROBE_HEADS: usize = 4;
pub const PROBE_HEAD_DIM: usize = 32;
pub const PROBE_LAYERS: usize = 3;

/// What the two backends measured.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendTimes {
    /// ndarray, ms (`None`: it failed).
    pub cpu_ms: Option<f64>,
    /// wgpu, ms; `None` when it failed or did not answer within `gpu_budget_ms`.
    pub gpu_ms: Option<f64>,
    /// How long the wgpu run was given, ms (`None`: no timer, natively).
    pub gpu_budget_ms: Option<f64>,
}

impl BackendTimes {
    /// The faster backend; ndarray on a tie or when wgpu has no time, wgpu when only it ran.
    pub fn choice(&self) -> ComputeBackend {
        match (self.cpu_ms, self.gpu_ms) {
            (Some(c), Some(g)) if g < c => ComputeBackend::Wgpu,
            (None, Some(_)) => ComputeBackend::Wgpu,
            _ => ComputeBackend::Ndarray,
        }
    }

    /// One line for the status bar: the choice and the numbers behind it. `adapter` names the
    /// WebGPU adapter (vendor, architecture, description) where it is known.
    pub fn note(&self, adapter: Option<&str>) -> String {
        let ms = |t: Option<f64>| t.map_or_else(|| "failed".to_owned(), |t| format!("{t:.1} ms"));
        let gpu = match (self.gpu_ms, self.gpu_budget_ms) {
            (Some(t), _) => format!("{t:.1} ms"),
            (None, Some(budget)) => format!("no answer within {budget:.0} ms"),
            (None, None) => "failed".to_owned(),
        };
        let adapter = adapter.map(|a| format!(" ({a})")).unwrap_or_default();
        let chosen = match self.choice() {
            ComputeBackend::Wgpu => "burn wgpu",
            _ => "burn ndarray (CPU)",
        };
        format!(
            "{chosen}, measured: ndarray {}, wgpu{adapter} {gpu} on a {PROBE_LAYERS}-layer attention probe \
             (L = {PROBE_LEN}); ?compute=wgpu|ndarray overrides",
            ms(self.cpu_ms)
        )
    }
}

/// How long the browser waits for one wgpu probe run: 20× what ndarray took, at least 250 ms
/// (a real GPU answers in a few), at most 1.5 s (a software adapter may need many seconds).
pub fn gpu_budget_ms(cpu_ms: Option<f64>) -> f64 {
    cpu_ms.map_or(1500.0, |c| (20.0 * c).clamp(250.0, 1500.0))
}

/// One run of the probe on `device`, ms from upload to read-back.
///
/// # Shapes
/// - `x`: `[H, L, d]` (heads, positions, head dimension), the same tensor as Q, K and V
/// - per layer: `softmax(x·xᵀ / √d) [H, L, L]`, times `x` → `[H, L, d]`
pub async fn probe_ms(device: &Device) -> Result<f64, String> {
    let (h, l, d) = (PROBE_HEADS, PROBE_LEN, PROBE_HEAD_DIM);
    let mut rng = crate::rng::SplitMix64::new(7);
    let values: Vec<f32> = (0..h * l * d).map(|_| rng.next_gaussian() as f32).collect();
    let started = web_time::Instant::now();
    let mut x = Tensor::<3>::from_data(TensorData::new(values, [h, l, d]), device);
    let scale = 1.0 / (d as f32).sqrt();
    for _ in 0..PROBE_LAYERS {
        let att = softmax(x.clone().matmul(x.clone().swap_dims(1, 2)).mul_scalar(scale), 2);
        x = att.matmul(x);
    }
    let data = x.into_data_async().await.map_err(|e| format!("read-back: {e:?}"))?;
    let out = data.try_to_vec::<f32>().map_err(|e| format!("read-back: {e:?}"))?;
    if out.len() != h * l * d || out.iter().any(|v| !v.is_finite()) {
        return Err("the probe returned wrong or non-finite values".into());
    }
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// Two runs on `device`, the second one's time (the first warms up).
pub async fn timed(device: &Device) -> Option<f64> {
    probe_ms(device).await.ok()?;
    probe_ms(device).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_faster_backend_is_chosen_and_the_note_says_why() {
        let gpu_wins = BackendTimes {
            cpu_ms: Some(12.0),
            gpu_ms: Some(3.0),
            gpu_budget_ms: Some(250.0),
        };
        assert_eq!(gpu_wins.choice(), ComputeBackend::Wgpu);
        let note = gpu_wins.note(Some("nvidia ampere"));
        assert!(
            note.starts_with("burn wgpu, measured: ndarray 12.0 ms, wgpu (nvidia ampere) 3.0 ms"),
            "{note}"
        );
        let cpu_wins = BackendTimes {
            gpu_ms: Some(40.0),
            ..gpu_wins.clone()
        };
        assert_eq!(cpu_wins.choice(), ComputeBackend::Ndarray);
        // A software adapter that did not answer in time: ndarray, and the note says so.
        let late = BackendTimes {
            gpu_ms: None,
            ..gpu_wins.clone()
        };
        assert_eq!(late.choice(), ComputeBackend::Ndarray);
        assert!(
            late.note(Some("google swiftshader"))
                .contains("no answer within 250 ms")
        );
        // A tie goes to ndarray (no GPU queue to share); a failed CPU leaves wgpu.
        let tie = BackendTimes {
            gpu_ms: Some(12.0),
            ..gpu_wins.clone()
        };
        assert_eq!(tie.choice(), ComputeBackend::Ndarray);
        let no_cpu = BackendTimes {
            cpu_ms: None,
            ..gpu_wins.clone()
        };
        assert_eq!(no_cpu.choice(), ComputeBackend::Wgpu);
        assert!(no_cpu.note(None).contains("ndarray failed"));
        let neither = BackendTimes {
            cpu_ms: None,
            gpu_ms: None,
            gpu_budget_ms: None,
        };
        assert_eq!(neither.choice(), ComputeBackend::Ndarray);
    }

    #[test]
    fn the_budget_follows_the_cpu_within_bounds() {
        assert_eq!(gpu_budget_ms(Some(1.0)), 250.0);
        assert_eq!(gpu_budget_ms(Some(30.0)), 600.0);
        assert_eq!(gpu_budget_ms(Some(500.0)), 1500.0);
        assert_eq!(gpu_budget_ms(None), 1500.0);
    }

    /// The probe really runs on burn's ndarray backend and takes measurable time.
    #[test]
    #[allow(deprecated)]
    fn the_probe_runs_on_ndarray() {
        let device = Device::ndarray();
        let t = pollster::block_on(timed(&device)).expect("ndarray probe");
        assert!(t > 0.0 && t.is_finite(), "{t}");
    }
}
