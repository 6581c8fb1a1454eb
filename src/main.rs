//! Native entry point: `poslens` opens the app in a window; subcommands do headless work.

#[cfg(all(not(target_arch = "wasm32"), feature = "train"))]
fn main() -> std::process::ExitCode {
    poslens::cli::main()
}

#[cfg(all(not(target_arch = "wasm32"), not(feature = "train")))]
fn main() {
    eprintln!("poslens: this build lacks the `lab`/`train` features; build with default features");
}

#[cfg(target_arch = "wasm32")]
fn main() {
    poslens::web::start();
}
