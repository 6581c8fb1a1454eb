//! PosLens: an interactive explainer of positional encodings in transformers.
//!
//! `pe` is the pure maths (no egui, no burn); `compute` runs tensor work with burn; `widgets`
//! and `views` draw with egui; `app` ties them together; `web` / `cli` are the entry points.
//! See ARCHITECTURE.md for the module map and data flow.

pub mod analysis;
pub mod app;
pub mod assets;
pub mod compute;
pub mod download;
pub mod export;
pub mod model;
pub mod pe;
pub mod rng;
pub mod state;
pub mod status;
pub mod tasks;
pub mod theme;
pub mod url_state;
pub mod views;
pub mod widgets;

#[cfg(not(target_arch = "wasm32"))]
pub mod cli;

#[cfg(target_arch = "wasm32")]
pub mod web;
