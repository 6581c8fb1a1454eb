//! The browser entry point: starts eframe's `WebRunner` on `#poslens_canvas` and installs the
//! read-only JS hook `window.poslens.status()`.

use eframe::wasm_bindgen::{JsCast as _, prelude::*};

thread_local! {
    static RUNNER: std::cell::RefCell<Option<eframe::WebRunner>> = const { std::cell::RefCell::new(None) };
    /// Set once the WebGPU device was lost and the app restarted on WebGL2 (never twice).
    static FELL_BACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// A hash the user typed or a link navigated to, waiting for the app's next frame.
    static PENDING_HASH: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    static EGUI_CTX: std::cell::RefCell<Option<egui::Context>> = const { std::cell::RefCell::new(None) };
}

/// The app in the page: each frame, a hash the user navigated to is applied first, and the
/// app's own state is mirrored back into the address bar after.
struct WebApp {
    app: crate::app::PosLensApp,
    last_hash: String,
}

impl eframe::App for WebApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        if let Some(hash) = take_pending_hash()
            && hash.trim_start_matches('#') != self.last_hash
        {
            self.app.apply_hash(ui.ctx(), &hash);
        }
        eframe::App::ui(&mut self.app, ui, frame);
        let hash = self.app.hash();
        if hash != self.last_hash {
            set_location_hash(&hash);
            self.last_hash = hash;
        }
    }
}

/// The hash set by navigation since the last call (not by the app's own `set_location_hash`).
fn take_pending_hash() -> Option<String> {
    PENDING_HASH.with(|h| h.borrow_mut().take())
}

/// Let `hashchange` events wake the app.
fn register_context(ctx: &egui::Context) {
    EGUI_CTX.with(|c| *c.borrow_mut() = Some(ctx.clone()));
}

/// Editing the address bar's `#…` (or following an in-page link) re-applies the state.
fn install_hashchange_listener() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let listener = Closure::<dyn Fn()>::new(|| {
        let hash = web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default();
        PENDING_HASH.with(|h| *h.borrow_mut() = Some(hash));
        EGUI_CTX.with(|c| {
            if let Some(ctx) = c.borrow().as_ref() {
                ctx.request_repaint();
            }
        });
    });
    window.add_event_listener_with_callback("hashchange", listener.as_ref().unchecked_ref())?;
    listener.forget();
    Ok(())
}

/// Start the app; called from the binary's `main` when the wasm module loads.
pub fn start() {
    eframe::WebLogger::init(log::LevelFilter::Info).ok();
    if let Err(e) = install_status_hook() {
        log::error!("could not install window.poslens: {e:?}");
    }
    if let Err(e) = install_hashchange_listener() {
        log::error!("could not listen to hashchange: {e:?}");
    }
    wasm_bindgen_futures::spawn_local(async {
        if let Err(message) = run().await {
            log::error!("{message}");
            crate::status::push_error(message.clone());
            show_fatal(&message);
        }
    });
}

async fn run() -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let canvas = document
        .get_element_by_id("poslens_canvas")
        .ok_or("the page has no #poslens_canvas")?
        .dyn_into::<web_sys::HtmlCanvasElement>()
        .map_err(|_| "#poslens_canvas is not a canvas")?;
    start_runner(canvas, None).await?;
    if let Some(loading) = document.get_element_by_id("loading") {
        loading.remove();
    }
    Ok(())
}

/// Start eframe on `canvas` with the state in the address bar. With a `notice` (the WebGPU
/// device was lost), only WebGL2 is offered to wgpu and the app shows the notice.
async fn start_runner(canvas: web_sys::HtmlCanvasElement, notice: Option<String>) -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let hash = window.location().hash().unwrap_or_default();
    let mut options = eframe::WebOptions::default();
    if notice.is_some()
        && let eframe::egui_wgpu::WgpuSetup::CreateNew(setup) = &mut options.wgpu_options.wgpu_setup
    {
        setup.instance_descriptor.backends = eframe::egui_wgpu::wgpu::Backends::GL;
    }
    let runner = eframe::WebRunner::new();
    RUNNER.with(|r| *r.borrow_mut() = Some(runner.clone()));
    runner
        .start(
            canvas,
            options,
            Box::new(move |cc| {
                register_context(&cc.egui_ctx);
                if prefers_reduced_motion() {
                    crate::theme::set_reduced_motion(&cc.egui_ctx);
                }
                watch_device_loss(cc);
                let mut app = crate::app::PosLensApp::new(cc, &hash);
                if let Some(n) = notice {
                    app.set_notice(n);
                }
                Ok(Box::new(WebApp {
                    app,
                    last_hash: String::new(),
                }))
            }),
        )
        .await
        .map_err(|e| format!("PosLens failed to start: {e:?}"))?;
    if let Err(e) = keep_canvas_at_device_resolution(&document) {
        log::warn!("could not watch the canvas size: {e:?}");
    }
    Ok(())
}

/// On WebGPU, a lost device (driver reset, GPU removed, `device.destroy()`) restarts the app on
/// WebGL2 in place: same page, same state (the address bar holds it), a notice says why. The
/// canvas is replaced, since one that had a WebGPU context cannot get a WebGL2 one.
fn watch_device_loss(cc: &eframe::CreationContext<'_>) {
    use eframe::egui_wgpu::wgpu;
    let Some(rs) = cc.wgpu_render_state.as_ref() else {
        return;
    };
    if rs.adapter.get_info().backend != wgpu::Backend::BrowserWebGpu {
        return;
    }
    rs.device.set_device_lost_callback(|reason, message| {
        if FELL_BACK.with(|f| f.replace(true)) {
            return;
        }
        let why = if message.is_empty() {
            format!("{reason:?}")
        } else {
            format!("{reason:?}: {message}")
        };
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = restart_on_webgl2(&why).await {
                log::error!("{e}");
                crate::status::push_error(e.clone());
                show_fatal(&e);
            }
        });
    });
}

async fn restart_on_webgl2(why: &str) -> Result<(), String> {
    log::warn!("the WebGPU device was lost ({why}); restarting on WebGL2");
    if let Some(old) = RUNNER.with(|r| r.borrow_mut().take()) {
        old.destroy();
    }
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let old = document
        .get_element_by_id("poslens_canvas")
        .ok_or("the page has no #poslens_canvas")?;
    let fresh = old
        .clone_node()
        .map_err(|e| format!("{e:?}"))?
        .dyn_into::<web_sys::HtmlCanvasElement>()
        .map_err(|_| "#poslens_canvas is not a canvas")?;
    old.replace_with_with_node_1(&fresh).map_err(|e| format!("{e:?}"))?;
    let _ = fresh.focus();
    let notice = format!(
        "The GPU device was lost ({why}). PosLens restarted on WebGL2 and the CPU engines, \
         keeping your view; reload the page to try WebGPU again."
    );
    start_runner(fresh, Some(notice))
        .await
        .map_err(|e| format!("after losing the GPU: {e}"))
}

/// eframe sizes the canvas from `devicePixelContentBoxSize`. Chromium's mobile emulation (and
/// some browsers) report it in CSS pixels while `devicePixelRatio` is 3, so egui drew a
/// 130-point-wide, blurry, 3× magnified page on a 390-px phone. After eframe's own resize
/// observer, this one sets the canvas to CSS size × DPR whenever the two disagree.
fn keep_canvas_at_device_resolution(document: &web_sys::Document) -> Result<(), JsValue> {
    let canvas: web_sys::HtmlCanvasElement = document
        .get_element_by_id("poslens_canvas")
        .ok_or_else(|| JsValue::from_str("no canvas"))?
        .dyn_into()?;
    let fix = {
        let canvas = canvas.clone();
        move || {
            let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio());
            let want_w = (f64::from(canvas.client_width()) * dpr).round() as u32;
            let want_h = (f64::from(canvas.client_height()) * dpr).round() as u32;
            let off = |a: u32, b: u32| a.abs_diff(b) > 2;
            if want_w > 0 && (off(canvas.width(), want_w) || off(canvas.height(), want_h)) {
                canvas.set_width(want_w);
                canvas.set_height(want_h);
                EGUI_CTX.with(|c| {
                    if let Some(ctx) = c.borrow().as_ref() {
                        ctx.request_repaint();
                    }
                });
            }
        }
    };
    fix();
    let callback = Closure::<dyn Fn()>::new(fix);
    let observer = web_sys::ResizeObserver::new(callback.as_ref().unchecked_ref())?;
    observer.observe(&canvas);
    callback.forget();
    std::mem::forget(observer); // watches for the page's lifetime
    Ok(())
}

/// The reader's `prefers-reduced-motion: reduce` (stops animations such as the RoPE play).
fn prefers_reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten())
        .is_some_and(|m| m.matches())
}

/// `window.poslens = { status() }`: returns the latest [`crate::status::Status`] as a JS object.
fn install_status_hook() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let status = Closure::<dyn Fn() -> JsValue>::new(|| {
        let mut json = crate::status::to_json();
        if let Some(panic) = RUNNER.with(|r| r.borrow().as_ref().and_then(|r| r.panic_summary())) {
            // Report a panic through the same channel the tests read.
            if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&json) {
                if let Some(errors) = v.get_mut("errors").and_then(|e| e.as_array_mut()) {
                    errors.push(format!("panic: {}", panic.message()).into());
                }
                json = v.to_string();
            }
        }
        js_sys::JSON::parse(&json).unwrap_or(JsValue::NULL)
    });
    let api = js_sys::Object::new();
    js_sys::Reflect::set(&api, &"status".into(), status.as_ref())?;
    status.forget();
    js_sys::Reflect::set(&window, &"poslens".into(), &api)?;
    Ok(())
}

/// Mirror the state into the address bar without adding history entries.
fn set_location_hash(hash: &str) {
    if let Some(window) = web_sys::window()
        && let Ok(history) = window.history()
    {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("#{hash}")));
    }
}

fn show_fatal(message: &str) {
    if let Some(el) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("loading"))
    {
        el.set_text_content(Some(message));
    }
}
