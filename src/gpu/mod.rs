//! GPU code paths written directly against wgpu (WGSL in `shaders/`).

pub mod attention_map;
