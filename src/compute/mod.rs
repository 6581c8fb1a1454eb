//! Tensor compute with `burn`, behind a worker protocol.
//!
//! The page's first wasm has no burn: views talk to a [`client::ComputeClient`], which in the
//! browser starts a Web Worker running the second wasm (`src/worker.rs`) on first use, and
//! natively runs the same [`server::LabServer`] in-process. The worker picks its own device by
//! timing burn's WebGPU and ndarray backends on one probe (`backend_choice`; natively Vulkan —
//! Mesa lavapipe in CI — against ndarray). Nothing here panics on a missing GPU.
//!
//! Jobs are `async` so that the same code reads tensors back with `into_data_async` in the
//! browser (synchronous readback is impossible there) and is simply blocked on natively.

#[cfg(feature = "lab")]
pub mod backend_choice;
pub mod client;
#[cfg(feature = "lab")]
pub mod device;
pub mod protocol;
#[cfg(feature = "lab")]
pub mod server;
pub mod softmax_check;
#[cfg(feature = "train")]
pub mod train_session;

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

#[cfg(feature = "lab")]
pub use device::*;

/// Which burn backend runs the tensor maths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ComputeBackend {
    /// burn's wgpu backend (WebGPU in the browser, Vulkan/Metal/DX12 natively).
    Wgpu,
    /// burn's ndarray CPU backend.
    Ndarray,
    /// No burn device yet (initialising), plain-Rust maths only.
    #[default]
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
