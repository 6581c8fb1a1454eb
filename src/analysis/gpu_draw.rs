//! Drawing a GPU-computed heatmap without read-back: `shaders/heatmap_draw.wgsl` colours the
//! cells of a [`GpuPicture`] (left on the device by `super::gpu_map`) through a colormap's
//! lookup table, in egui-wgpu's render pass (the widget's paint callback) or, in the tests, into
//! an offscreen texture. Pixels equal the CPU-coloured texture (`super::grid::colorize`) within
//! one step of the lookup table where a value sits on a rounding boundary, and exactly
//! elsewhere; `tests/gpu_heatmap_draw.rs` reads them back on lavapipe to check that.

use eframe::egui_wgpu::wgpu;
use wgpu::util::DeviceExt as _;

use super::gpu_map::GpuPicture;
use crate::theme::Colormap;

/// The WGSL source (validated by naga in the tests).
pub const DRAW_WGSL: &str = include_str!("../../shaders/heatmap_draw.wgsl");

/// The render pipeline for one target format (egui's, or a test texture's).
pub struct DrawPipeline {
    device: wgpu::Device,
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    srgb_target: bool,
}

/// A picture bound to a colormap: what one paint callback draws.
pub struct Drawable {
    pipeline: wgpu::RenderPipeline,
    bind_group: wgpu::BindGroup,
    /// The map's N and the picture's side (for axes and hover).
    pub n: usize,
    pub side: usize,
    /// Which pictures it draws ([`GpuPicture::serial`]: its own, the shared scale's).
    pub serials: (u64, Option<u64>),
}

impl DrawPipeline {
    /// A pipeline drawing into `target_format` with `msaa_samples` (egui's: 1 unless the app
    /// asks for multisampling), premultiplied-alpha blending like egui's own meshes.
    pub fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat, msaa_samples: u32) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("heatmap_draw.wgsl"),
            source: wgpu::ShaderSource::Wgsl(DRAW_WGSL.into()),
        });
        let entry = |binding: u32, ty: wgpu::BufferBindingType| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let read_only = wgpu::BufferBindingType::Storage { read_only: true };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("heatmap_draw"),
            entries: &[
                entry(0, wgpu::BufferBindingType::Uniform),
                entry(1, read_only),
                entry(2, read_only),
                entry(3, read_only),
                entry(4, read_only),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("heatmap_draw"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("heatmap_draw"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some("fs_main"),
                targets: &[Some(wgpu::ColorTargetState {
                    format: target_format,
                    blend: Some(wgpu::BlendState::PREMULTIPLIED_ALPHA_BLENDING),
                    write_mask: wgpu::ColorWrites::ALL,
                })],
                compilation_options: Default::default(),
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState {
                count: msaa_samples.max(1),
                ..Default::default()
            },
            multiview_mask: None,
            cache: None,
        });
        Self {
            device: device.clone(),
            pipeline,
            layout,
            srgb_target: target_format.is_srgb(),
        }
    }

    /// Bind `picture` to `cmap` (a 1 kB lookup table and a 16-byte uniform per call).
    pub fn bind(&self, picture: &GpuPicture, cmap: Colormap) -> Drawable {
        self.bind_shared(picture, None, cmap)
    }

    /// Like [`Self::bind`], coloured on the union of its range and `shared`'s (two maps on one
    /// scale, such as the Extension view's before / after).
    pub fn bind_shared(&self, picture: &GpuPicture, shared: Option<&GpuPicture>, cmap: Colormap) -> Drawable {
        let lut: Vec<u8> = cmap.lut().iter().flat_map(|c| c.to_array()).collect();
        let params: Vec<u8> = [picture.side as u32, u32::from(self.srgb_target), 0, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let d = &self.device;
        let params_buf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("heatmap_draw params"),
            contents: &params,
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let lut_buf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("heatmap_draw lut"),
            contents: &lut,
            usage: wgpu::BufferUsages::STORAGE,
        });
        let bind_group = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("heatmap_draw"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: picture.cells.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: picture.range.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: lut_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: shared.unwrap_or(picture).range.as_entire_binding(),
                },
            ],
        });
        Drawable {
            pipeline: self.pipeline.clone(),
            bind_group,
            n: picture.n,
            side: picture.side,
            serials: (picture.serial, shared.map(|p| p.serial)),
        }
    }
}

impl Drawable {
    /// Draw into the pass's current viewport (egui-wgpu sets it to the callback's rectangle).
    pub fn draw(&self, pass: &mut wgpu::RenderPass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.draw(0..6, 0..1);
    }
}
