//! The page's side of the compute worker: submit a [`Request`], later take its [`Reply`].
//!
//! Views never see how the work is done. In the browser the client starts a Web Worker with
//! the second wasm (`poslens-worker`) the first time a request is submitted, so the first page
//! load carries no burn; requests wait in a queue until the worker says `Ready`. Natively the
//! same JSON goes through an in-process [`LabServer`](super::server::LabServer) (blocking, as
//! the jobs are small there). A crashed or missing worker fails every pending job with one clear
//! message; nothing here panics.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use super::ComputeBackend;
use super::protocol::{self, FromWorker, PROTOCOL, Reply, Request, ToWorker};

/// Identifies a submitted request.
pub type JobId = u64;

/// Where the compute worker is.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerState {
    /// Not needed yet (nothing was submitted): nothing downloaded.
    Idle,
    /// Downloading / compiling the worker wasm, choosing a device.
    Starting,
    Ready {
        backend: ComputeBackend,
        note: String,
    },
    /// The worker could not start or died; every job fails with this message.
    Failed(String),
}

/// A handle on the compute worker (cheap to share: `&self` methods).
pub struct ComputeClient {
    inner: Rc<RefCell<Inner>>,
}

struct Inner {
    transport: Transport,
    state: WorkerState,
    next_job: JobId,
    pending: HashSet<JobId>,
    /// Replies not yet taken, per job (a stream such as training progress has several).
    replies: HashMap<JobId, VecDeque<Result<Reply, String>>>,
    /// Encoded requests waiting for `Ready`.
    queued: Vec<String>,
    /// Called when a reply arrives (the app asks egui for a repaint).
    waker: Option<Box<dyn Fn()>>,
}

enum Transport {
    /// No compute at all (headless tests of the pure views).
    Off,
    /// Natively: the server in this thread, created on first use (on `device`, else wgpu →
    /// ndarray).
    #[cfg(all(feature = "lab", not(target_arch = "wasm32")))]
    InProcess {
        server: Option<Box<super::server::LabServer>>,
        device: Option<super::device::ComputeDevice>,
    },
    /// In the browser: the Web Worker, spawned on first use.
    #[cfg(target_arch = "wasm32")]
    Worker(Option<web::Handle>),
}

impl ComputeClient {
    fn with(transport: Transport) -> Self {
        Self {
            inner: Rc::new(RefCell::new(Inner {
                transport,
                state: WorkerState::Idle,
                next_job: 1,
                pending: HashSet::new(),
                replies: HashMap::new(),
                queued: Vec::new(),
                waker: None,
            })),
        }
    }

    /// A client that answers every request with "no compute" (tests without burn).
    pub fn off() -> Self {
        Self::with(Transport::Off)
    }

    /// Natively: burn in this process (wgpu, else ndarray), set up on first use.
    #[cfg(all(feature = "lab", not(target_arch = "wasm32")))]
    pub fn in_process() -> Self {
        Self::with(Transport::InProcess {
            server: None,
            device: None,
        })
    }

    /// Natively, on a given burn device (tests use ndarray).
    #[cfg(all(feature = "lab", not(target_arch = "wasm32")))]
    pub fn in_process_on(device: super::device::ComputeDevice) -> Self {
        Self::with(Transport::InProcess {
            server: None,
            device: Some(device),
        })
    }

    /// In the browser: the compute worker, started on first use.
    #[cfg(target_arch = "wasm32")]
    pub fn worker() -> Self {
        Self::with(Transport::Worker(None))
    }

    /// What the native app and the web page use.
    pub fn for_app() -> Self {
        #[cfg(target_arch = "wasm32")]
        return Self::worker();
        #[cfg(all(feature = "lab", not(target_arch = "wasm32")))]
        return Self::in_process();
        #[cfg(all(not(feature = "lab"), not(target_arch = "wasm32")))]
        return Self::off();
    }

    /// Called whenever a reply arrives.
    pub fn set_waker(&self, waker: impl Fn() + 'static) {
        self.inner.borrow_mut().waker = Some(Box::new(waker));
    }

    pub fn state(&self) -> WorkerState {
        self.inner.borrow().state.clone()
    }

    /// Whether the worker was asked for anything yet.
    pub fn started(&self) -> bool {
        self.inner.borrow().state != WorkerState::Idle
    }

    /// The backend once the worker is ready.
    pub fn backend(&self) -> Option<ComputeBackend> {
        match &self.inner.borrow().state {
            WorkerState::Ready { backend, .. } => Some(*backend),
            _ => None,
        }
    }

    /// Send a request (starting the worker if needed); its reply comes through [`Self::take`].
    pub fn submit(&self, request: Request) -> JobId {
        let job = {
            let mut inner = self.inner.borrow_mut();
            let job = inner.next_job;
            inner.next_job += 1;
            inner.pending.insert(job);
            inner.queued.push(protocol::encode(&ToWorker { job, request }));
            job
        };
        self.start();
        self.flush();
        job
    }

    /// Whether a job has neither been answered nor taken.
    pub fn is_pending(&self, job: JobId) -> bool {
        self.inner.borrow().pending.contains(&job)
    }

    /// The next reply to `job` once it arrived (taken: each reply is returned once; a stream
    /// gives several). `Err` when the worker failed; a request the worker refused comes back as
    /// [`Reply::Failed`].
    pub fn take(&self, job: JobId) -> Option<Result<Reply, String>> {
        let mut inner = self.inner.borrow_mut();
        let queue = inner.replies.get_mut(&job)?;
        let next = queue.pop_front();
        if queue.is_empty() {
            inner.replies.remove(&job);
        }
        next
    }

    /// Give in-process work its turn (natively: a slice of a training run, ~25 ms, in this
    /// thread; the browser's worker schedules itself). Returns whether a run wants more.
    pub fn poll(&self) -> bool {
        #[cfg(all(feature = "train", not(target_arch = "wasm32")))]
        {
            let server = match &mut self.inner.borrow_mut().transport {
                Transport::InProcess { server, .. } if server.as_ref().is_some_and(|s| s.training_active()) => {
                    server.take()
                }
                _ => None,
            };
            if let Some(mut server) = server {
                let msg = pollster::block_on(server.train_slice(25.0));
                let active = server.training_active();
                if let Transport::InProcess { server: slot, .. } = &mut self.inner.borrow_mut().transport {
                    *slot = Some(server);
                }
                if let Some(msg) = msg {
                    self.receive(&protocol::encode(&msg));
                }
                return active;
            }
        }
        false
    }

    /// Forget a job whose answer is no longer wanted.
    pub fn forget(&self, job: JobId) {
        let mut inner = self.inner.borrow_mut();
        inner.pending.remove(&job);
        inner.replies.remove(&job);
    }

    fn start(&self) {
        let mut inner = self.inner.borrow_mut();
        if inner.state != WorkerState::Idle {
            return;
        }
        inner.state = WorkerState::Starting;
        match &mut inner.transport {
            Transport::Off => {
                drop(inner);
                self.fail("no compute backend in this build".into());
            }
            #[cfg(all(feature = "lab", not(target_arch = "wasm32")))]
            Transport::InProcess { server, device } => {
                let device = device.take().unwrap_or_else(super::device::native_measured_device);
                let s = super::server::LabServer::new(device);
                let ready = protocol::encode(&s.ready());
                *server = Some(Box::new(s));
                drop(inner);
                self.receive(&ready);
            }
            #[cfg(target_arch = "wasm32")]
            Transport::Worker(handle) => {
                let weak = Rc::downgrade(&self.inner);
                match web::spawn(weak) {
                    Ok(h) => *handle = Some(h),
                    Err(e) => {
                        drop(inner);
                        self.fail(e);
                    }
                }
            }
        }
    }

    /// Send what is queued once the worker is ready.
    fn flush(&self) {
        let queued = {
            let mut inner = self.inner.borrow_mut();
            if !matches!(inner.state, WorkerState::Ready { .. }) {
                return;
            }
            std::mem::take(&mut inner.queued)
        };
        for text in queued {
            self.send(text);
        }
    }

    fn send(&self, text: String) {
        #[cfg(all(feature = "lab", not(target_arch = "wasm32")))]
        {
            let server = match &mut self.inner.borrow_mut().transport {
                Transport::InProcess { server, .. } => server.take(),
                _ => None,
            };
            if let Some(mut server) = server {
                let reply = pollster::block_on(server.handle_json(&text));
                if let Transport::InProcess { server: slot, .. } = &mut self.inner.borrow_mut().transport {
                    *slot = Some(server);
                }
                self.receive(&reply);
            }
        }
        #[cfg(target_arch = "wasm32")]
        {
            let inner = self.inner.borrow();
            if let Transport::Worker(Some(h)) = &inner.transport
                && let Err(e) = h.post(&text)
            {
                drop(inner);
                self.fail(e);
            }
        }
        #[cfg(all(not(feature = "lab"), not(target_arch = "wasm32")))]
        let _ = text;
    }

    /// One message from the worker (public so tests can play a misbehaving worker).
    pub fn receive(&self, text: &str) {
        let msg = match protocol::decode::<FromWorker>(text) {
            Ok(m) => m,
            Err(e) => return self.fail(e),
        };
        match msg.reply {
            Reply::Ready {
                protocol: version,
                backend,
                note,
            } => {
                if version != PROTOCOL {
                    return self.fail(format!(
                        "the compute worker speaks protocol {version}, this page {PROTOCOL}: reload the page"
                    ));
                }
                self.inner.borrow_mut().state = WorkerState::Ready { backend, note };
                self.flush();
            }
            Reply::Failed(e) if msg.job == 0 => self.fail(e.message),
            reply => {
                let mut inner = self.inner.borrow_mut();
                if inner.pending.contains(&msg.job) {
                    inner.replies.entry(msg.job).or_default().push_back(Ok(reply));
                    if !msg.more {
                        inner.pending.remove(&msg.job);
                    }
                }
            }
        }
        self.wake();
    }

    /// The worker is gone: every pending job fails with `why`.
    fn fail(&self, why: String) {
        {
            let mut inner = self.inner.borrow_mut();
            inner.state = WorkerState::Failed(why.clone());
            inner.queued.clear();
            let pending: Vec<JobId> = inner.pending.drain().collect();
            for job in pending {
                inner.replies.entry(job).or_default().push_back(Err(why.clone()));
            }
        }
        self.wake();
    }

    fn wake(&self) {
        if let Some(w) = &self.inner.borrow().waker {
            w();
        }
    }
}

/// The Web Worker: a classic worker from a Blob that loads `poslens-worker.js` and its wasm by
/// absolute URLs resolved against `document.baseURI` (relative URLs do not resolve inside a
/// Blob worker, and the page may live under any sub-path).
#[cfg(target_arch = "wasm32")]
mod web {
    use std::cell::RefCell;
    use std::rc::Weak;

    use wasm_bindgen::JsCast as _;
    use wasm_bindgen::prelude::*;

    use super::{ComputeClient, Inner};

    /// The worker files trunk writes beside `index.html` (unhashed).
    const WORKER_JS: &str = "poslens-worker.js";
    const WORKER_WASM: &str = "poslens-worker_bg.wasm";

    pub struct Handle {
        worker: web_sys::Worker,
        _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
        _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
    }

    /// A client that goes away (the app restarted after losing the GPU) ends its worker.
    impl Drop for Handle {
        fn drop(&mut self) {
            self.worker.set_onmessage(None);
            self.worker.set_onerror(None);
            self.worker.terminate();
        }
    }

    impl Handle {
        pub fn post(&self, text: &str) -> Result<(), String> {
            self.worker
                .post_message(&JsValue::from_str(text))
                .map_err(|e| format!("could not message the compute worker: {e:?}"))
        }
    }

    fn client(weak: &Weak<RefCell<Inner>>) -> Option<ComputeClient> {
        weak.upgrade().map(|inner| ComputeClient { inner })
    }

    fn absolute(file: &str, base: &str) -> Result<String, String> {
        web_sys::Url::new_with_base(file, base)
            .map(|u| u.href())
            .map_err(|e| format!("bad worker URL {file}: {e:?}"))
    }

    pub fn spawn(weak: Weak<RefCell<Inner>>) -> Result<Handle, String> {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document to start the compute worker from")?;
        let base = document
            .base_uri()
            .map_err(|e| format!("{e:?}"))?
            .ok_or("the page has no base URL")?;
        let version = env!("CARGO_PKG_VERSION");
        let js = absolute(WORKER_JS, &base)? + "?v=" + version;
        let wasm = absolute(WORKER_WASM, &base)? + "?v=" + version;
        // A crash (wasm trap, failed download or compile) is reported as a message, since a
        // rejected promise inside a worker does not reach the page's `onerror`.
        let crashed = r#"function(e){self.postMessage(JSON.stringify({job:0,reply:{kind:"failed",message:"the compute worker stopped: "+(e&&e.reason?e.reason:e),past_table:null}}))}"#;
        // The page's `?compute=wgpu|ndarray` overrides the worker's device choice.
        let forced = crate::assets::page_query("compute")
            .filter(|v| matches!(v.as_str(), "wgpu" | "ndarray"))
            .unwrap_or_default();
        let script = format!(
            "self.POSLENS_COMPUTE={forced:?};\n\
             self.onunhandledrejection=function(e){{({crashed})(e)}};\n\
             try{{importScripts({js:?});}}catch(e){{({crashed})(\"could not load {WORKER_JS}: \"+e)}}\n\
             if(typeof wasm_bindgen!=='undefined'){{wasm_bindgen({{module_or_path:{wasm:?}}}).catch({crashed});}}\n"
        );
        let parts = js_sys::Array::of1(&JsValue::from_str(&script));
        let options = web_sys::BlobPropertyBag::new();
        options.set_type("application/javascript");
        let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)
            .map_err(|e| format!("could not build the worker script: {e:?}"))?;
        let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
        let worker = web_sys::Worker::new(&url).map_err(|e| format!("could not start the compute worker: {e:?}"))?;
        let w = weak.clone();
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(c) = client(&w) {
                match e.data().as_string() {
                    Some(text) => c.receive(&text),
                    None => c.fail("the compute worker sent a non-text message".into()),
                }
            }
        });
        let w = weak;
        let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |e: web_sys::ErrorEvent| {
            if let Some(c) = client(&w) {
                c.fail(format!("the compute worker failed: {}", e.message()));
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Handle {
            worker,
            _on_message: on_message,
            _on_error: on_error,
        })
    }
}
