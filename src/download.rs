//! Hand a file to the user: a browser download on the web, a file in the working directory
//! natively. Returns a short message saying where it went.

/// How long a download's blob URL stays valid after the click.
#[cfg(target_arch = "wasm32")]
const REVOKE_AFTER_MS: i32 = 60_000;

/// Save `bytes` as `file_name`.
pub fn save(file_name: &str, mime: &str, bytes: &[u8]) -> Result<String, String> {
    #[cfg(target_arch = "wasm32")]
    {
        use eframe::wasm_bindgen::JsCast as _;
        let window = web_sys::window().ok_or("no window")?;
        let document = window.document().ok_or("no document")?;
        let array = js_sys::Uint8Array::from(bytes);
        let parts = js_sys::Array::of1(&array);
        let options = web_sys::BlobPropertyBag::new();
        options.set_type(mime);
        let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
            .map_err(|e| format!("could not create the file: {e:?}"))?;
        let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(|e| format!("{e:?}"))?;
        let a = document
            .create_element("a")
            .map_err(|e| format!("{e:?}"))?
            .dyn_into::<web_sys::HtmlAnchorElement>()
            .map_err(|_| "not an anchor")?;
        a.set_href(&url);
        a.set_download(file_name);
        a.click();
        // The browser reads the blob after this call returns: revoking the URL at once made a
        // download fail now and then under load (a CI run lost a PNG export). Revoke it later.
        let revoke = eframe::wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        });
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), REVOKE_AFTER_MS);
        Ok(format!("downloaded {file_name}"))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = mime;
        std::fs::write(file_name, bytes).map_err(|e| format!("could not write {file_name}: {e}"))?;
        Ok(format!("saved {file_name} in the working directory"))
    }
}
