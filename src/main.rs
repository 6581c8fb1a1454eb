//! Native entry point: `poslens` opens the app in a window; subcommands do headless work.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    poslens::cli::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {
    poslens::web::start();
}
