//! Tensor compute with `burn`: backend selection (wgpu → ndarray fallback) and async jobs.
//!
//! On the web, burn shares eframe's WebGPU device (one device, one queue). When the page only
//! has WebGL2 (no compute shaders), burn runs on its ndarray CPU backend instead, and the status
//! line says so. Natively, burn acquires its own wgpu device (Vulkan; Mesa lavapipe in CI) and
//! falls back to ndarray when no adapter exists. Nothing here panics on a missing GPU.
//!
//! Jobs are `async` so that the same code reads tensors back with `into_data_async` in the
//! browser (synchronous readback is impossible there) and is simply blocked on natively.

pub mod softmax_check;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use burn::tensor::Device;
use serde::Serialize;

/// Which burn backend runs the tensor maths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeBackend {
    /// burn's wgpu backend (WebGPU in the browser, Vulkan/Metal/DX12 natively).
    Wgpu,
    /// burn's ndarray CPU backend.
    Ndarray,
    /// No burn device yet (initialising), plain-Rust maths only.
    Cpu,
}

impl ComputeBackend {
    pub fn label(self) -> &'static str {
        match self {
            Self::Wgpu => "wgpu",
            Self::Ndarray => "ndarray",
            Self::Cpu => "cpu",
        }
    }
}

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

/// Pick the compute device for the app, given eframe's render state (if wgpu renders).
pub fn select_device(render_state: Option<&eframe::egui_wgpu::RenderState>) -> ComputeDevice {
    #[cfg(target_arch = "wasm32")]
    {
        match render_state {
            Some(rs) if rs.adapter.get_info().backend == eframe::egui_wgpu::wgpu::Backend::BrowserWebGpu => {
                let setup = burn::tensor::wgpu::WgpuSetup {
                    instance: rs.instance.clone(),
                    adapter: rs.adapter.clone(),
                    device: rs.device.clone(),
                    queue: rs.queue.clone(),
                    backend: eframe::egui_wgpu::wgpu::Backend::BrowserWebGpu,
                };
                match Device::wgpu_options().setup(setup).init() {
                    Ok(device) => ComputeDevice {
                        device,
                        backend: ComputeBackend::Wgpu,
                        note: "burn wgpu on the page's WebGPU device".into(),
                    },
                    Err(e) => ndarray_device(format!("burn could not use WebGPU ({e}); CPU fallback")),
                }
            }
            Some(_) => ndarray_device("WebGPU unavailable (WebGL2 rendering): burn runs on CPU"),
            None => ndarray_device("no wgpu renderer: burn runs on CPU"),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = render_state;
        native_wgpu_device()
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

/// Run a future to completion "in the background": `spawn_local` in the browser, blocking
/// natively (our jobs are small). The result is delivered through `sink`.
pub fn spawn<T: 'static>(job: impl Future<Output = T> + 'static, sink: Rc<RefCell<Option<T>>>) {
    #[cfg(target_arch = "wasm32")]
    wasm_bindgen_futures::spawn_local(async move {
        let out = job.await;
        *sink.borrow_mut() = Some(out);
    });
    #[cfg(not(target_arch = "wasm32"))]
    {
        let out = pollster::block_on(job);
        *sink.borrow_mut() = Some(out);
    }
}
