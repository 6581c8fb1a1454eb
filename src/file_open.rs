//! Take files from the user: the browser's file picker, or files dropped onto the window
//! (egui's `dropped_files`, on the web and natively). The counterpart of `download`.
//!
//! Every file is read in full, asynchronously on the web, and refused above [`MAX_FILE_BYTES`]
//! before it is read, so a huge file cannot exhaust memory.

use std::cell::RefCell;
use std::rc::Rc;

/// The largest file read (the shipped weight files are ~100 kB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// One file the user gave us.
#[derive(Clone, Debug, PartialEq)]
pub struct PickedFile {
    /// The file name only (browsers hide the folder).
    pub name: String,
    pub bytes: Result<Vec<u8>, String>,
}

/// Where read files arrive (all files of one pick or drop at once).
pub type Inbox = Rc<RefCell<Option<Vec<PickedFile>>>>;

fn too_large(name: &str, size: u64) -> String {
    format!(
        "{name} is {:.1} MB; PosLens reads files up to {} MB",
        size as f64 / 1e6,
        MAX_FILE_BYTES >> 20
    )
}

/// Read the files dropped onto the window this frame, if any.
pub fn take_dropped(ctx: &egui::Context) -> Option<Inbox> {
    let dropped = ctx.input(|i| i.raw.dropped_files.clone());
    if dropped.is_empty() {
        return None;
    }
    let inbox: Inbox = Rc::default();
    #[cfg(target_arch = "wasm32")]
    {
        let sink = inbox.clone();
        let ctx = ctx.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut out = Vec::new();
            for f in dropped {
                let name = file_name(f.path());
                let size = f.web_file().map_or(0.0, |w| w.size()) as u64;
                let bytes = if size > MAX_FILE_BYTES {
                    Err(too_large(&name, size))
                } else {
                    f.bytes_async().await
                };
                out.push(PickedFile { name, bytes });
            }
            *sink.borrow_mut() = Some(out);
            ctx.request_repaint();
        });
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let out = dropped
            .iter()
            .map(|f| {
                let name = file_name(f.path());
                let size = std::fs::metadata(f.path()).map_or(0, |m| m.len());
                let bytes = if size > MAX_FILE_BYTES {
                    Err(too_large(&name, size))
                } else {
                    f.bytes()
                };
                PickedFile { name, bytes }
            })
            .collect();
        *inbox.borrow_mut() = Some(out);
    }
    Some(inbox)
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Whether the browser's file picker exists here (natively, files are dropped onto the window).
pub const HAS_PICKER: bool = cfg!(target_arch = "wasm32");

/// Open the browser's file picker (several files allowed; `accept` like ".plw,.json"). The chosen
/// files arrive in the returned inbox; cancelling leaves it empty. Call it from a click: browsers
/// only open pickers shortly after a user gesture.
pub fn pick(ctx: &egui::Context, accept: &str) -> Result<Inbox, String> {
    #[cfg(target_arch = "wasm32")]
    {
        use eframe::wasm_bindgen::JsCast as _;
        use eframe::wasm_bindgen::closure::Closure;
        let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
        let input = document
            .create_element("input")
            .map_err(|e| format!("{e:?}"))?
            .dyn_into::<web_sys::HtmlInputElement>()
            .map_err(|_| "not an input element")?;
        input.set_type("file");
        input.set_multiple(true);
        input.set_accept(accept);
        let inbox: Inbox = Rc::default();
        let sink = inbox.clone();
        let target = input.clone();
        let ctx = ctx.clone();
        let on_change = Closure::once_into_js(move || {
            let Some(list) = target.files() else { return };
            let files: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
            wasm_bindgen_futures::spawn_local(async move {
                let mut out = Vec::new();
                for file in files {
                    let name = file.name();
                    let size = file.size() as u64;
                    let bytes = if size > MAX_FILE_BYTES {
                        Err(too_large(&name, size))
                    } else {
                        wasm_bindgen_futures::JsFuture::from(file.array_buffer())
                            .await
                            .map(|b| js_sys::Uint8Array::new(&b).to_vec())
                            .map_err(|e| format!("could not read {name}: {e:?}"))
                    };
                    out.push(PickedFile { name, bytes });
                }
                *sink.borrow_mut() = Some(out);
                ctx.request_repaint();
            });
        });
        input.set_onchange(Some(on_change.unchecked_ref()));
        input.click();
        Ok(inbox)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (ctx, accept);
        Err("no file picker in the native app: drop the files onto the window".into())
    }
}
