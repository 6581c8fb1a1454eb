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

/// In the browser's compute worker: WebGPU when the worker has an adapter (the page's device
/// cannot be shared with a worker), else ndarray. Read-back is always `into_data_async`.
#[cfg(target_arch = "wasm32")]
pub async fn worker_device() -> ComputeDevice {
    match Device::wgpu_options().init_async().await {
        Ok(device) => ComputeDevice {
            device,
            backend: ComputeBackend::Wgpu,
            note: "burn wgpu on the compute worker's WebGPU device".into(),
        },
        Err(e) => {
            log::info!("compute worker: no WebGPU adapter ({e})");
            ndarray_device("no WebGPU adapter in the worker: burn runs on the CPU (ndarray)")
        }
    }
}
