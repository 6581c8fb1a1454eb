//! GPU-drawn heatmaps (issue: heatmaps drawn without read-back). naga validates the draw
//! shader; on a real wgpu device (Mesa lavapipe in CI) the colour range the device selects
//! equals the CPU's `robust_range` of the same cells bit for bit, and the pixels the draw shader
//! writes equal the CPU-coloured texture (`grid::colorize`) within 1 LSB per channel — into a
//! linear and an sRGB target, as egui's target may be either. Only this test reads pixels back.
//!
//! Fails when no adapter exists (scripts/setup installs lavapipe); set `POSLENS_ALLOW_NO_GPU=1`
//! to skip the device part on a machine without Vulkan.

mod common;
use common::device;
use eframe::egui_wgpu::wgpu;
use egui::Color32;
use poslens::analysis::attention_map::{self, MapRequest, robust_range};
use poslens::analysis::gpu_draw::{DRAW_WGSL, DrawPipeline};
use poslens::analysis::gpu_map::{GpuAttentionMap, GpuMap, GpuRequest, relative_table};
use poslens::analysis::grid::{Aggregate, colorize};
use poslens::pe::{Content, PositionMap, PreparedLogits, Scheme, scaling::RopeScaling};
use poslens::theme::Colormap;

#[test]
fn draw_shader_validates_with_naga() {
    let module = naga::front::wgsl::parse_str(DRAW_WGSL).expect("WGSL parses");
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .expect("WGSL validates");
    let entries: Vec<&str> = module.entry_points.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(entries, ["vs_main", "fs_main"]);
}

/// Draw `map` (already on the device as `pending.picture`) into a side × side texture of
/// `format` and read the RGBA bytes back.
fn draw_and_read(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    format: wgpu::TextureFormat,
    picture: &poslens::analysis::gpu_map::GpuPicture,
    cmap: Colormap,
) -> Vec<[u8; 4]> {
    let side = picture.side as u32;
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("heatmap test target"),
        size: wgpu::Extent3d {
            width: side,
            height: side,
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    let drawable = DrawPipeline::new(device, format, 1).bind(picture, cmap);
    let row_bytes = (side * 4).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT) * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
    let read = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("pixels"),
        size: u64::from(row_bytes * side),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    {
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("heatmap test"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color::TRANSPARENT),
                    store: wgpu::StoreOp::Store,
                },
            })],
            ..Default::default()
        });
        drawable.draw(&mut pass);
    }
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture: &texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: &read,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(row_bytes),
                rows_per_image: Some(side),
            },
        },
        wgpu::Extent3d {
            width: side,
            height: side,
            depth_or_array_layers: 1,
        },
    );
    queue.submit([encoder.finish()]);
    read.slice(..)
        .map_async(wgpu::MapMode::Read, |r| r.expect("map pixels"));
    device.poll(wgpu::PollType::wait_indefinitely()).expect("poll");
    let bytes = read.slice(..).get_mapped_range().expect("mapped").to_vec();
    (0..side as usize)
        .flat_map(|y| {
            let row = &bytes[y * row_bytes as usize..][..side as usize * 4];
            row.chunks_exact(4)
                .map(|c| [c[0], c[1], c[2], c[3]])
                .collect::<Vec<_>>()
        })
        .collect()
}

fn max_channel_diff(a: [u8; 4], b: Color32) -> u8 {
    a.iter()
        .zip(b.to_array())
        .map(|(x, y)| x.abs_diff(y))
        .max()
        .unwrap_or(0)
}

#[test]
fn device_range_and_pixels_equal_the_cpu_colouring() {
    let Some((device, queue)) = device() else { return };
    let engine = GpuAttentionMap::new(&device, &queue);
    let rope = Scheme::Rope {
        base: 10_000.0,
        scaling: RopeScaling::None,
        map: PositionMap::Identity,
    };
    // (scheme, N, side, causal, softmax, aggregate, colormap)
    let cases = [
        (
            Scheme::Alibi { slope: 0.125 },
            50,
            50,
            true,
            true,
            Aggregate::Mean,
            Colormap::Viridis,
        ),
        (rope.clone(), 300, 64, true, true, Aggregate::Mean, Colormap::Viridis),
        (rope.clone(), 257, 97, false, false, Aggregate::Max, Colormap::Magma),
        (Scheme::NoPe, 100, 100, true, true, Aggregate::Max, Colormap::Viridis),
        (rope, 2048, 512, true, true, Aggregate::Mean, Colormap::Viridis),
    ];
    for (scheme, n, side, causal, softmax, aggregate, cmap) in cases {
        let what = format!("{scheme:?} N={n} side={side} softmax={softmax}");
        let prepared = PreparedLogits::new(&scheme, &Content::Identical, 32, n).expect("prepared");
        let rel = relative_table(&prepared, n).expect("relative scheme");
        let req = GpuRequest {
            n,
            side,
            causal,
            softmax,
            aggregate,
            train_len: 0,
        };
        let pending = engine.submit(&rel, req).expect("submit");
        let GpuMap { cells, range, .. } = engine.wait(&pending).expect("gpu map");

        // 1. The device's radix select is the CPU's robust_range of the same cells, exactly.
        let cpu_range = robust_range(&cells);
        assert_eq!(
            (range.0.to_bits(), range.1.to_bits()),
            (cpu_range.0.to_bits(), cpu_range.1.to_bits()),
            "{what}: device range {range:?} vs CPU {cpu_range:?}"
        );

        // 2. The CPU engine's texture: its own cells, range and colouring.
        let cpu = attention_map::compute(
            &prepared,
            &MapRequest {
                n,
                causal,
                softmax,
                out_side: side,
                aggregate,
                train_len: 0,
            },
        )
        .expect("cpu map");
        let texture = colorize(&cpu.values, cpu.range, cmap);
        let same_cells_texture = colorize(&cells, range, cmap);
        let lut = cmap.lut();
        let span = if (cpu.range.1 - cpu.range.0).abs() > f32::EPSILON {
            cpu.range.1 - cpu.range.0
        } else {
            1.0
        };
        for format in [wgpu::TextureFormat::Rgba8Unorm, wgpu::TextureFormat::Rgba8UnormSrgb] {
            let pixels = draw_and_read(&device, &queue, format, &pending.picture, cmap);
            assert_eq!(pixels.len(), side * side, "{what}");
            let mut on_boundary = 0;
            for (i, &px) in pixels.iter().enumerate() {
                // The draw shader colours exactly like colorize does on the CPU.
                assert!(
                    max_channel_diff(px, same_cells_texture[i]) <= 1,
                    "{what} {format:?} pixel {i}: drawn {px:?} vs colorize {:?}",
                    same_cells_texture[i]
                );
                if max_channel_diff(px, texture[i]) <= 1 {
                    continue;
                }
                // Against the CPU engine's texture, the only difference allowed: a value within
                // float tolerance of a rounding boundary between two lookup-table entries
                // (GPU and CPU softmax differ in the last bits) lands in the neighbouring entry.
                let v = cpu.values[i];
                let x = ((v - cpu.range.0) / span).clamp(0.0, 1.0) * 255.0;
                let near_boundary = (x - x.floor() - 0.5).abs() < 0.02;
                let neighbour = [-1_i32, 1].iter().any(|d| {
                    let j = (x.round() as i32 + d).clamp(0, 255) as usize;
                    max_channel_diff(px, lut[j]) <= 1
                });
                assert!(
                    near_boundary && neighbour,
                    "{what} {format:?} pixel {i}: drawn {px:?} vs CPU texture {:?} (value {v}, t·255 = {x})",
                    texture[i]
                );
                on_boundary += 1;
            }
            assert!(
                on_boundary * 100 <= pixels.len(),
                "{what} {format:?}: {on_boundary} of {} pixels a lookup step off",
                pixels.len()
            );
        }
    }
}
