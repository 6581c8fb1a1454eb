//! Reading shipped files (model weights and metadata) without blocking: `fetch` in the browser
//! (relative to the page, trunk copies `assets/models/` to `models/`), the file system natively
//! (`$POSLENS_MODELS`, else `assets/models/` under the working directory, else under the crate).

/// Why a shipped file could not be read (one line, naming the file).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum AssetError {
    #[error("refusing model file name '{0}'")]
    BadName(String),
    #[error("{0}")]
    Unreadable(String),
}

/// The value of `key` in the page's query string (`?compute=wgpu&heatmaps=cpu` before the `#`):
/// overrides a reader or a test sets in the address, read once at start-up.
#[cfg(target_arch = "wasm32")]
pub fn page_query(key: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=').map(str::to_owned))
}

/// Folder of the shipped models, relative to the page / repository.
pub const MODELS_DIR: &str = "models";

/// The bytes of `models/<file>`; the error says which file and why, in one line.
pub async fn read_model_file(file: &str) -> Result<Vec<u8>, AssetError> {
    if file.contains("..") || file.contains('/') || file.contains('\\') {
        return Err(AssetError::BadName(file.to_owned()));
    }
    read(file).await.map_err(AssetError::Unreadable)
}

#[cfg(target_arch = "wasm32")]
async fn read(file: &str) -> Result<Vec<u8>, String> {
    use wasm_bindgen::JsCast as _;
    let url = format!("{MODELS_DIR}/{file}");
    let window = web_sys::window().ok_or("no window")?;
    let response = wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(&url))
        .await
        .map_err(|e| format!("could not download {url}: {e:?}"))?;
    let response: web_sys::Response = response
        .dyn_into()
        .map_err(|_| format!("{url}: not an HTTP response"))?;
    if !response.ok() {
        return Err(format!("{url} is missing (HTTP {})", response.status()));
    }
    let buffer = response.array_buffer().map_err(|e| format!("{url}: {e:?}"))?;
    let buffer = wasm_bindgen_futures::JsFuture::from(buffer)
        .await
        .map_err(|e| format!("could not read {url}: {e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

#[cfg(not(target_arch = "wasm32"))]
async fn read(file: &str) -> Result<Vec<u8>, String> {
    let path = models_dir().join(file);
    std::fs::read(&path).map_err(|e| format!("{} is missing or unreadable: {e}", path.display()))
}

/// Where native builds look for the shipped models.
#[cfg(not(target_arch = "wasm32"))]
pub fn models_dir() -> std::path::PathBuf {
    if let Some(dir) = std::env::var_os("POSLENS_MODELS") {
        return dir.into();
    }
    let local = std::path::Path::new("assets").join(MODELS_DIR);
    if local.is_dir() {
        return local;
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(MODELS_DIR)
}
