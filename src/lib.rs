//! PosLens: an interactive explainer of positional encodings in transformers.
//!
//! `pe` is the pure maths (no egui, no burn); `compute` runs tensor work with burn behind a
//! worker protocol; `widgets` and `views` draw with egui; `app` ties them together; `web` /
//! `worker` / `cli` are the entry points. See ARCHITECTURE.md for the module map and data flow.
//!
//! Features: `app` (egui, the views), `lab` (burn, the models), `train` (autodiff + AdamW).
//! Native builds have all three; the page's first wasm is `app` alone and its compute worker
//! `lab` alone, so the first load carries no burn.

#[cfg(feature = "app")]
pub mod analysis;
#[cfg(feature = "app")]
pub mod app;
pub mod assets;
pub mod compute;
#[cfg(feature = "app")]
pub mod download;
#[cfg(feature = "app")]
pub mod export;
#[cfg(feature = "app")]
pub mod file_open;
pub mod model;
pub mod packed;
pub mod pe;
pub mod rng;
#[cfg(feature = "app")]
pub mod state;
#[cfg(feature = "app")]
pub mod status;
pub mod tasks;
#[cfg(feature = "app")]
pub mod theme;
#[cfg(feature = "app")]
pub mod tour;
#[cfg(feature = "app")]
pub mod url_state;
#[cfg(feature = "app")]
pub mod views;
#[cfg(feature = "app")]
pub mod widgets;

#[cfg(all(not(target_arch = "wasm32"), feature = "app", feature = "train"))]
pub mod cli;

#[cfg(all(target_arch = "wasm32", feature = "app"))]
pub mod web;

#[cfg(all(target_arch = "wasm32", feature = "lab"))]
pub mod worker;
