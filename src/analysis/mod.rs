//! The analysis layer: headless engines between the maths (`crate::pe`) and the UI.
//!
//! Nothing here draws a widget. `grid` holds the value grids, block aggregation and colouring;
//! `attention_map` (CPU, row by row), `relative_map` (CPU, the fast path for maps that depend
//! only on `k − q`) and `gpu_map` (WGSL on wgpu) compute aggregated attention maps, and
//! `gpu_draw` colours a GPU map on the device (no read-back);
//! `engine_choice` times both engines at first use and serves each map size with the faster;
//! `engine` is the one façade every heatmap view goes through (GPU where available, CPU
//! otherwise, with the cross-check); `bias_profile` computes the Position-bias curves.

pub mod attention_map;
pub mod bias_profile;
pub mod engine;
pub mod engine_choice;
pub mod gpu_draw;
pub mod gpu_map;
pub mod grid;
pub mod relative_map;
