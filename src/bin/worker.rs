//! The browser's compute worker (second wasm, fetched when a view first needs burn).

#[cfg(target_arch = "wasm32")]
fn main() {
    poslens::worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("poslens-worker runs in the browser (trunk builds it); natively, run `poslens`");
}
