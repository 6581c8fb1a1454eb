//! Choosing burn's device: wgpu (WebGPU in the worker, Vulkan/Metal/DX12 natively; Mesa
//! lavapipe in CI) with an ndarray CPU fallback. Nothing here panics on a missing GPU: burn's
//! wgpu init returns `AdapterUnavailable`, and we fall back.

use burn::tensor::Device;

use super::ComputeBackend;

/// A burn device together with the backend it runs on.
#[derive(Clone, Debug)]
pub struct ComputeDevice {
    pub device: Device,
    pub backend: ComputeBackend,
    /// Why this backend was chosen (shown in the status line).
    pub note: String,
}

/// burn's CPU fallback device.
#[allow(deprecated)] // burn 0.22 deprecates ndarray in favour of `flex`; the brief fixes ndarray.
pub fn ndarray_device(note: impl Into<String>) -> ComputeDevice {
    ComputeDevice {
        device: Device::ndarray(),
        backend: ComputeBackend::Ndarray,
        note: note.into(),
    }
}

/// burn's default wgpu device, initialised once per process (burn refuses a second
/// initialisation: "Service already initialized"), or why there is none.
#[cfg(not(target_arch = "wasm32"))]
fn native_wgpu() -> Result<Device, String> {
    static DEVICE: std::sync::OnceLock<Result<Device, String>> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| Device::wgpu_options().init().map_err(|e| e.to_string()))
        .clone()
}

/// Natively: burn's own wgpu device, or ndarray when there is no adapter.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_wgpu_device() -> ComputeDevice {
    match native_wgpu() {
        Ok(device) => ComputeDevice {
            device,
            backend: ComputeBackend::Wgpu,
            note: "burn wgpu (native)".into(),
        },
        Err(e) => ndarray_device(format!("no wgpu adapter ({e}); burn runs on CPU")),
    }
}

/// Natively (the app's in-process server): burn's ndarray and wgpu backends timed on the same
/// probe, the faster kept (`super::backend_choice`); ndarray when there is no adapter.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_measured_device() -> ComputeDevice {
    use super::backend_choice::{BackendTimes, timed};
    let gpu = match native_wgpu() {
        Ok(device) => device,
        Err(e) => return ndarray_device(format!("no wgpu adapter ({e}); burn runs on CPU")),
    };
    let cpu = ndarray_device("");
    let times = BackendTimes {
        cpu_ms: pollster::block_on(timed(&cpu.device)),
        gpu_ms: pollster::block_on(timed(&gpu)),
        gpu_budget_ms: None,
    };
    chosen(times, None, cpu.device, gpu)
}

/// The device `times` chose, with the note that says why.
fn chosen(
    times: super::backend_choice::BackendTimes,
    adapter: Option<&str>,
    cpu: Device,
    gpu: Device,
) -> ComputeDevice {
    let note = times.note(adapter);
    match times.choice() {
        ComputeBackend::Wgpu => ComputeDevice {
            device: gpu,
            backend: ComputeBackend::Wgpu,
            note,
        },
        _ => ComputeDevice {
            device: cpu,
            backend: ComputeBackend::Ndarray,
            note,
        },
    }
}

/// In the browser's compute worker: burn's ndarray and WebGPU backends timed on the same probe
/// (`super::backend_choice`), the faster kept; ndarray without a WebGPU adapter (the page's
/// device cannot be shared with a worker). Read-back is always `into_data_async`.
///
/// A software WebGPU adapter (SwiftShader, llvmpipe/lavapipe, a "fallback" adapter, read from
/// `GPUAdapterInfo`) emulates the GPU on the same CPU cores, far slower than burn's ndarray
/// backend on them (README, "Benchmarks": a traced forward pass at L = 256 takes 2295 ms on
/// SwiftShader WebGPU and 35 ms on wasm ndarray): it gets ndarray without a probe, which would
/// hold up the GPU process that also draws the page. A hardware adapter's probe runs race a
/// timer ([`super::backend_choice::gpu_budget_ms`]). The page's `?compute=wgpu` (or `ndarray`)
/// skips the measurement; the page passes it to the worker as `POSLENS_COMPUTE`.
#[cfg(target_arch = "wasm32")]
pub async fn worker_device() -> ComputeDevice {
    use super::backend_choice::{BackendTimes, gpu_budget_ms, timed};
    let global = js_sys::global();
    let forced = js_sys::Reflect::get(&global, &"POSLENS_COMPUTE".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    if forced == "ndarray" {
        return ndarray_device("compute=ndarray: burn runs on the CPU (ndarray)");
    }
    let adapter = adapter_name(&global).await;
    // A software adapter is not timed: its probe would keep the browser's GPU process — which
    // also draws the page — busy for seconds (burn's first kernels, autotuning included), long
    // after the timer gave up on it. (A clean-clone CI run, with such a probe abandoned in
    // SwiftShader, saw the page stop answering for 3 minutes; the link is likely, not proven.)
    if forced != "wgpu"
        && let Some((name, true)) = &adapter
    {
        return ndarray_device(format!(
            "burn ndarray (CPU): the worker's WebGPU adapter is a software renderer ({name}) that runs burn's kernels on these same CPU cores (README: 2295 ms vs 35 ms per forward pass at L = 256); not timed, as its probe would hold up the page's drawing; ?compute=wgpu forces it"
        ));
    }
    let adapter = adapter.map(|(name, _)| name);
    let gpu = match Device::wgpu_options().init_async().await {
        Ok(device) => device,
        Err(e) => {
            log::info!("compute worker: no WebGPU adapter ({e})");
            return ndarray_device("no WebGPU adapter in the worker: burn runs on the CPU (ndarray)");
        }
    };
    if forced == "wgpu" {
        return ComputeDevice {
            device: gpu,
            backend: ComputeBackend::Wgpu,
            note: "compute=wgpu: burn wgpu on the compute worker's WebGPU device".into(),
        };
    }
    let cpu = ndarray_device("");
    let cpu_ms = timed(&cpu.device).await;
    let budget = gpu_budget_ms(cpu_ms);
    let probe_device = gpu.clone();
    let gpu_ms = within_ms(budget, async move { timed(&probe_device).await }).await;
    let times = BackendTimes {
        cpu_ms,
        gpu_ms,
        gpu_budget_ms: Some(budget),
    };
    chosen(times, adapter.as_deref(), cpu.device, gpu)
}

/// `job`'s result if it comes within `ms` milliseconds, else `None` (the job runs on, its
/// result dropped).
#[cfg(target_arch = "wasm32")]
async fn within_ms(ms: f64, job: impl std::future::Future<Output = Option<f64>> + 'static) -> Option<f64> {
    use wasm_bindgen::{JsCast as _, JsValue};
    let job =
        wasm_bindgen_futures::future_to_promise(
            async move { Ok(job.await.map_or(JsValue::UNDEFINED, JsValue::from_f64)) },
        );
    let timer = js_sys::Promise::new(&mut |resolve, _reject| {
        let global = js_sys::global();
        if let Some(set_timeout) = js_sys::Reflect::get(&global, &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        {
            let _ = set_timeout.call2(&global, &resolve, &JsValue::from_f64(ms));
        }
    });
    let race = js_sys::Promise::race(&js_sys::Array::of2(&job, &timer));
    wasm_bindgen_futures::JsFuture::from(race).await.ok()?.as_f64()
}

/// The worker's WebGPU adapter: its vendor / architecture / description (`GPUAdapterInfo`), and
/// whether it is a software renderer (SwiftShader, llvmpipe/lavapipe, a fallback adapter).
/// `None` without WebGPU.
#[cfg(target_arch = "wasm32")]
async fn adapter_name(global: &wasm_bindgen::JsValue) -> Option<(String, bool)> {
    use js_sys::Reflect;
    use wasm_bindgen::JsCast as _;
    let get = |o: &wasm_bindgen::JsValue, k: &str| {
        Reflect::get(o, &k.into())
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    };
    let gpu = get(&get(global, "navigator")?, "gpu")?;
    let request: js_sys::Function = get(&gpu, "requestAdapter")?.dyn_into().ok()?;
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = wasm_bindgen_futures::JsFuture::from(promise).await.ok()?;
    if adapter.is_null() || adapter.is_undefined() {
        return None;
    }
    let info = get(&adapter, "info");
    let field = |k: &str| {
        info.as_ref()
            .and_then(|i| get(i, k))
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let fallback = [Some(&adapter), info.as_ref()]
        .into_iter()
        .flatten()
        .any(|o| get(o, "isFallbackAdapter").and_then(|v| v.as_bool()) == Some(true));
    let name = format!("{} {} {}", field("vendor"), field("architecture"), field("description"));
    let lower = name.to_lowercase();
    let software = fallback
        || ["swiftshader", "llvmpipe", "lavapipe", "software"]
            .iter()
            .any(|s| lower.contains(s));
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = if name.is_empty() {
        "unnamed adapter".to_owned()
    } else {
        name
    };
    Some((name, software))
}
