//! Reusable widgets: one per file.

pub mod attention_heads;
pub mod colorbar;
pub mod heatmap;
pub mod log_slider;
pub mod train_marker;
