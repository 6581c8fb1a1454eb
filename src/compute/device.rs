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

/// Natively: burn's own wgpu device, or ndarray when there is no adapter.
#[cfg(not(target_arch = "wasm32"))]
pub fn native_wgpu_device() -> ComputeDevice {
    match Device::wgpu_options().init() {
        Ok(device) => ComputeDevice {
            device,
            backend: ComputeBackend::Wgpu,
            note: "burn wgpu (native)".into(),
        },
        Err(e) => ndarray_device(format!("no wgpu adapter ({e}); burn runs on CPU")),
    }
}

/// In the browser's compute worker: WebGPU when the worker has a hardware adapter (the page's
/// device cannot be shared with a worker), else ndarray. Read-back is always `into_data_async`.
///
/// A software WebGPU adapter (SwiftShader, llvmpipe/lavapipe, a "fallback" adapter) emulates
/// the GPU on the same CPU cores, far slower than burn's ndarray backend on them: measured in
/// headless Chromium here (README, "Benchmarks"), a traced forward pass at L = 64 takes 2661 ms
/// on SwiftShader WebGPU and 8.2 ms on wasm ndarray, training 0.08 vs 15.1 steps/s. So the
/// worker chooses ndarray there. The page's `?compute=wgpu` (or `ndarray`) overrides the choice;
/// the page passes it to the worker as `POSLENS_COMPUTE`.
#[cfg(target_arch = "wasm32")]
pub async fn worker_device() -> ComputeDevice {
    let global = js_sys::global();
    let forced = js_sys::Reflect::get(&global, &"POSLENS_COMPUTE".into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default();
    if forced == "ndarray" {
        return ndarray_device("compute=ndarray: burn runs on the CPU (ndarray)");
    }
    if forced != "wgpu"
        && let Some(name) = software_adapter(&global).await
    {
        return ndarray_device(format!(
            "the worker's WebGPU adapter is a software renderer ({name}): burn runs faster on the CPU (ndarray); ?compute=wgpu forces WebGPU"
        ));
    }
    match Device::wgpu_options().init_async().await {
        Ok(device) => ComputeDevice {
            device,
            backend: ComputeBackend::Wgpu,
            note: if forced == "wgpu" {
                "compute=wgpu: burn wgpu on the compute worker's WebGPU device".into()
            } else {
                "burn wgpu on the compute worker's WebGPU device".into()
            },
        },
        Err(e) => {
            log::info!("compute worker: no WebGPU adapter ({e})");
            ndarray_device("no WebGPU adapter in the worker: burn runs on the CPU (ndarray)")
        }
    }
}

/// The worker's WebGPU adapter, if it is a software renderer: its vendor / architecture /
/// description (`GPUAdapterInfo`). `None` for a hardware adapter or no WebGPU at all.
#[cfg(target_arch = "wasm32")]
async fn software_adapter(global: &wasm_bindgen::JsValue) -> Option<String> {
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
    software.then(|| {
        let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            "a fallback adapter".to_owned()
        } else {
            name
        }
    })
}
