//! Helpers shared by the GPU integration tests.

use eframe::egui_wgpu::wgpu;

/// A wgpu device on the machine's default adapter (Mesa lavapipe in CI). Fails when none exists
/// (scripts/setup installs lavapipe) unless `POSLENS_ALLOW_NO_GPU` is set, then `None`.
pub fn device() -> Option<(wgpu::Device, wgpu::Queue)> {
    let instance = wgpu::Instance::default();
    let found = pollster::block_on(async {
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions::default())
            .await
            .ok()?;
        adapter.request_device(&wgpu::DeviceDescriptor::default()).await.ok()
    });
    if found.is_none() {
        assert!(
            std::env::var_os("POSLENS_ALLOW_NO_GPU").is_some(),
            "no wgpu adapter: install mesa-vulkan-drivers (scripts/setup) or set POSLENS_ALLOW_NO_GPU=1"
        );
    }
    found
}
