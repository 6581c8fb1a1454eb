//! Entry point of the compute worker: a dedicated Web Worker with its own wasm (burn, the
//! models; no egui), started by [`crate::compute::client::ComputeClient`] on first use.
//!
//! It chooses its burn device (WebGPU when the worker has an adapter, else ndarray), announces
//! it with `Ready`, then answers JSON requests one at a time, in order. Requests that arrive
//! while the device is being chosen or a job runs wait in a queue.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use wasm_bindgen::JsCast as _;
use wasm_bindgen::prelude::*;

use crate::compute::protocol;
use crate::compute::server::LabServer;

struct Worker {
    scope: web_sys::DedicatedWorkerGlobalScope,
    server: RefCell<Option<LabServer>>,
    queue: RefCell<VecDeque<String>>,
    busy: Cell<bool>,
}

impl Worker {
    fn post(&self, text: &str) {
        if let Err(e) = self.scope.post_message(&JsValue::from_str(text)) {
            web_sys::console::error_1(&e);
        }
    }
}

/// Milliseconds of training per slice: between slices the worker reads its messages (pause,
/// probe, stop) and posts progress.
const TRAIN_SLICE_MS: f64 = 40.0;

/// Answer queued requests, and advance a training run slice by slice, until there is nothing
/// left to do (one loop at a time).
fn drain(worker: Rc<Worker>) {
    if worker.busy.get() || worker.server.borrow().is_none() {
        return;
    }
    worker.busy.set(true);
    wasm_bindgen_futures::spawn_local(async move {
        loop {
            let Some(mut server) = worker.server.borrow_mut().take() else {
                break;
            };
            let next = worker.queue.borrow_mut().pop_front();
            let (reply, training) = match next {
                Some(text) => (Some(server.handle_json(&text).await), false),
                None => slice(&mut server).await,
            };
            *worker.server.borrow_mut() = Some(server);
            let Some(reply) = reply else {
                break;
            };
            worker.post(&reply);
            if training {
                // Let `onmessage` run (pause, stop, probes) before the next slice.
                yield_to_event_loop(&worker.scope).await;
            }
        }
        worker.busy.set(false);
    });
}

/// One slice of a training run, if one is active: its progress message.
#[cfg(feature = "train")]
async fn slice(server: &mut LabServer) -> (Option<String>, bool) {
    match server.train_slice(TRAIN_SLICE_MS).await {
        Some(msg) => (Some(protocol::encode(&msg)), true),
        None => (None, false),
    }
}

#[cfg(not(feature = "train"))]
async fn slice(_server: &mut LabServer) -> (Option<String>, bool) {
    let _ = TRAIN_SLICE_MS;
    (None, false)
}

/// Resolve after a `setTimeout(0)`: a macrotask boundary, so queued messages are delivered.
async fn yield_to_event_loop(scope: &web_sys::DedicatedWorkerGlobalScope) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Install the message handler, choose the device, say `Ready`.
pub fn start() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let worker = Rc::new(Worker {
        scope,
        server: RefCell::new(None),
        queue: RefCell::new(VecDeque::new()),
        busy: Cell::new(false),
    });
    let w = worker.clone();
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
        match e.data().as_string() {
            Some(text) => w.queue.borrow_mut().push_back(text),
            None => w.post(&protocol::encode(&protocol::FromWorker {
                job: 0,
                more: false,
                reply: protocol::Reply::Failed(protocol::WireError {
                    message: "the compute worker received a non-text message".into(),
                    past_table: None,
                }),
            })),
        }
        drain(w.clone());
    });
    worker.scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget(); // lives as long as the worker
    wasm_bindgen_futures::spawn_local(async move {
        let server = LabServer::new(crate::compute::device::worker_device().await);
        worker.post(&protocol::encode(&server.ready()));
        *worker.server.borrow_mut() = Some(server);
        drain(worker);
    });
}
