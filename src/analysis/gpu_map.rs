//! The GPU path of the heatmap engine: `shaders/attention_map.wgsl` on a wgpu device (the page's
//! WebGPU device, or natively Vulkan/Metal/DX12; Mesa lavapipe in CI).
//!
//! It handles maps whose logits depend only on the relative position `k − q` — every relative
//! scheme with identical tokens (NoPE, T5, ALiBi, RoPE, xPos, KERPLE) — which is the pure
//! positional picture the views show by default. The caller passes the relative logit table
//! (from `crate::pe`, see [`relative_table`]). Two kernels reduce the N×N stable softmax to S×S
//! blocks, so only `S²` values ever exist on the device:
//! - the **prefix** kernel ([`GpuKernel::Prefix`], what [`GpuAttentionMap::submit`] takes): the
//!   CPU prepares, in O(N) from its prefix sums over distance, the sum (or max) of every window
//!   of a block's width, and every row's normaliser (`super::relative_map::RelativePrefix`, the
//!   CPU fast path's own first half); the device adds one window per row of each block — O(N·S)
//!   in all, the CPU fast path's work spread over the GPU, so 65 536 tokens cost no more than
//!   the picture's 512² cells times 128;
//! - the **direct** kernel ([`GpuKernel::Direct`]): an exponential per cell, O(N²), for tables
//!   whose f32 window sums would underflow (up to [`DIRECT_MAX_N`]).
//!
//! Results match the CPU path (`crate::analysis::attention_map`) within float tolerance;
//! `tests/gpu_attention_map.rs` checks both kernels on lavapipe.
//!
//! The cells and their colour range (found on the device by a radix select, exactly the CPU's
//! `robust_range`) stay on the device as a [`GpuPicture`], which `super::gpu_draw` draws in the
//! same frame without waiting for the read-back; the read-back only brings the statistics (and
//! the cells, for export and the cross-check) a frame or more later.

use std::sync::{Arc, Mutex};

use eframe::egui_wgpu::wgpu;
use wgpu::util::DeviceExt as _;

use crate::analysis::grid::Aggregate;

/// The WGSL source (validated by naga in the tests).
pub const SHADER_WGSL: &str = include_str!("../../shaders/attention_map.wgsl");

/// Largest N the GPU path accepts: the Attention view's longest relative map. The WGSL loops are
/// O(N) per invocation (65 536 iterations per query row at most), and every index stays within
/// u32 (`r·N` with r < 2048).
pub const MAX_N: usize = 65_536;

/// Largest block, in cells per side, one `blocks` invocation reduces: its loop runs block² times,
/// and Mesa's llvmpipe (lavapipe, the tests' Vulkan) stops a loop after 65 535 iterations (a real
/// GPU's watchdog would object long before). The views' sides keep blocks within it (the
/// Attention view: 65 536 / 512 = 128); a request beyond it is refused (the CPU serves it).
pub const MAX_BLOCK_SIDE: usize = 255;

/// Largest N [`GpuAttentionMap::submit`] gives the direct O(N²) kernel (the old limit, seconds
/// on a software GPU): beyond it a table the prefix kernel cannot take is refused, and the CPU
/// serves it.
pub const DIRECT_MAX_N: usize = 16_384;

/// Largest output side (the heatmap widget's texture limit, and the colour-range select's).
pub const MAX_SIDE: usize = 2048;

/// What to compute (mirrors `compute::attention_map::MapRequest`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GpuRequest {
    pub n: usize,
    pub side: usize,
    pub causal: bool,
    pub softmax: bool,
    pub aggregate: Aggregate,
    /// L_train, for the "mass at distance ≥ L_train" statistic.
    pub train_len: usize,
}

/// A finished GPU map: the cells and the same statistics as the CPU path.
#[derive(Clone, Debug, PartialEq)]
pub struct GpuMap {
    /// Row-major `side × side`; NaN = fully masked block.
    pub cells: Vec<f32>,
    pub side: usize,
    pub mean_entropy_nats: f64,
    /// Mean over queries `m ≥ L_train` of the mass at distance `≥ L_train`.
    pub mass_beyond_train: Option<f64>,
    /// The colour range the device found (minimum, 99.5th percentile of the visible cells).
    pub range: (f32, f32),
}

/// A map as the compute passes left it on the device: `side × side` cells of (value, visible
/// count) and the 32-byte colour range (`RangeState` in the WGSL). Drawn by
/// [`super::gpu_draw::DrawPipeline`] with no read-back.
#[derive(Clone, Debug)]
pub struct GpuPicture {
    pub cells: wgpu::Buffer,
    pub range: wgpu::Buffer,
    pub side: usize,
    /// The map's N (what the axes show).
    pub n: usize,
    /// Distinct for every submitted map (so a view knows whether it already shows this one).
    pub serial: u64,
}

/// Serial numbers of submitted maps.
static PICTURE_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Bytes of `RangeState` in the WGSL.
const RANGE_BYTES: u64 = 32;
/// Radix rounds × bins of the colour-range select.
const HIST_BINS: usize = 4 * 256;
use super::attention_map::MapRequest;
use super::relative_map::RelativePrefix;
pub use super::relative_map::relative_table;

/// Which kernel computed a GPU map's cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GpuKernel {
    /// `relative_blocks`: block sums from window sums over distance prepared on the CPU in O(N)
    /// (from its prefix sums, in f64), O(N·S) on the device; the row statistics come from the
    /// same O(N) preparation.
    Prefix,
    /// `row_stats` + `blocks`: every cell's exponential on the device, O(N²) — for tables the
    /// f32 window sums cannot carry (see `relative_map::DEVICE_MAX_SHIFT`).
    Direct,
}

/// Compiled pipelines on one device.
pub struct GpuAttentionMap {
    device: wgpu::Device,
    queue: wgpu::Queue,
    row_stats: wgpu::ComputePipeline,
    blocks: wgpu::ComputePipeline,
    relative_blocks: wgpu::ComputePipeline,
    range_count: wgpu::ComputePipeline,
    range_hist: wgpu::ComputePipeline,
    range_pick: wgpu::ComputePipeline,
    bind_layout: wgpu::BindGroupLayout,
}

/// A submitted job; its result arrives asynchronously (next frames on the web).
pub struct PendingMap {
    /// The map on the device, drawable at once.
    pub picture: GpuPicture,
    staging: wgpu::Buffer,
    mapped: Arc<Mutex<Option<Result<(), String>>>>,
    pub request: GpuRequest,
    pub kernel: GpuKernel,
    /// The prefix kernel's statistics (mean entropy, mass past L_train), known at submission.
    known_stats: Option<(f64, Option<f64>)>,
}

impl GpuAttentionMap {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("attention_map.wgsl"),
            source: wgpu::ShaderSource::Wgsl(SHADER_WGSL.into()),
        });
        // One explicit layout for both entry points (auto layouts would drop the bindings an
        // entry point does not use, and one bind group must fit both).
        let entry = |binding: u32, ty: wgpu::BufferBindingType| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let storage = |read_only| wgpu::BufferBindingType::Storage { read_only };
        let bind_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("attention_map"),
            entries: &[
                entry(0, wgpu::BufferBindingType::Uniform),
                entry(1, storage(true)),
                entry(2, storage(false)),
                entry(3, storage(false)),
                entry(4, storage(false)),
                entry(5, storage(false)),
            ],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("attention_map"),
            bind_group_layouts: &[Some(&bind_layout)],
            immediate_size: 0,
        });
        let pipeline = |entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: Some(&layout),
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Self {
            device: device.clone(),
            queue: queue.clone(),
            row_stats: pipeline("row_stats"),
            blocks: pipeline("blocks"),
            relative_blocks: pipeline("relative_blocks"),
            range_count: pipeline("range_count"),
            range_hist: pipeline("range_hist"),
            range_pick: pipeline("range_pick"),
            bind_layout,
        }
    }

    /// Encode and submit the map of the relative logit table `rel` (`rel[k − q + N − 1]`) and its
    /// read-back copy: by the prefix kernel where f32 window sums can carry the table, else by
    /// the direct one.
    pub fn submit(&self, rel: &[f32], req: GpuRequest) -> Result<PendingMap, String> {
        self.submit_with(rel, req, true)
    }

    /// As [`Self::submit`], always by the direct O(N²) kernel (tests compare the two).
    pub fn submit_direct(&self, rel: &[f32], req: GpuRequest) -> Result<PendingMap, String> {
        self.submit_with(rel, req, false)
    }

    fn submit_with(&self, rel: &[f32], req: GpuRequest, allow_prefix: bool) -> Result<PendingMap, String> {
        let n = req.n;
        if n == 0 || n > MAX_N || rel.len() != 2 * n - 1 {
            return Err(format!(
                "GPU attention map: N = {n} must be in 1..={MAX_N} with a table of 2N − 1 values"
            ));
        }
        // ≤ 2048 also keeps the select's rank arithmetic ((S² − 1) · 995) within u32.
        let side = req.side.clamp(1, n.min(MAX_SIDE));
        let block = n.div_ceil(side);
        if block > MAX_BLOCK_SIDE {
            return Err(format!(
                "GPU attention map: blocks of {block}×{block} cells (N = {n} on {side}×{side}) are over \
                 {MAX_BLOCK_SIDE}×{MAX_BLOCK_SIDE}, the most one invocation may loop over"
            ));
        }
        // The O(N) preparation of the prefix kernel (on this thread: ~N exponentials).
        let map_req = MapRequest {
            n,
            causal: req.causal,
            softmax: req.softmax,
            out_side: side,
            aggregate: req.aggregate,
            train_len: req.train_len,
        };
        let prefix = allow_prefix
            .then(|| RelativePrefix::new(rel, &map_req))
            .flatten()
            .and_then(|p| p.device_table().map(|table| (p, table)));
        let (kernel, table, known_stats) = match &prefix {
            Some((p, table)) => (
                GpuKernel::Prefix,
                table.as_slice(),
                Some((p.mean_entropy_nats(), p.mass_beyond_train())),
            ),
            None if allow_prefix && n > DIRECT_MAX_N => {
                return Err(format!(
                    "GPU attention map: at N = {n} only the prefix kernel may run, and f32 window sums \
                     cannot carry this table (a row's logits lie far below the largest)"
                ));
            }
            None => (GpuKernel::Direct, rel, None),
        };
        let params: [u32; 8] = [
            n as u32,
            side as u32,
            u32::from(req.causal),
            u32::from(req.softmax),
            u32::from(req.aggregate == Aggregate::Max),
            u32::try_from(req.train_len).unwrap_or(u32::MAX),
            0,
            0,
        ];
        let storage = wgpu::BufferUsages::STORAGE;
        let d = &self.device;
        let params_buf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("params"),
            contents: &u32_bytes(&params),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let rel_buf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("rel"),
            contents: &f32_bytes(table),
            usage: storage,
        });
        // The prefix kernel's statistics are known already: nothing to read back.
        let stats_rows = if kernel == GpuKernel::Direct { n } else { 0 };
        let stats_buf = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("stats"),
            size: (stats_rows.max(1) * 16) as u64,
            usage: storage | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let out_size = (side * side * 8) as u64;
        let stats_size = (stats_rows * 16) as u64;
        let out_buf = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("out_cells"),
            size: out_size,
            usage: storage | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let hist_buf = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("range_hist"),
            size: (HIST_BINS * 4) as u64,
            usage: storage,
            mapped_at_creation: false,
        });
        let range_init: [u32; 8] = [0, u32::MAX, 0, 0, 0, 0, 0, 0];
        let range_buf = d.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("range"),
            contents: &u32_bytes(&range_init),
            usage: storage | wgpu::BufferUsages::COPY_SRC,
        });
        let staging = d.create_buffer(&wgpu::BufferDescriptor {
            label: Some("staging"),
            size: out_size + stats_size + RANGE_BYTES,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = d.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("attention_map"),
            layout: &self.bind_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: params_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: rel_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: stats_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: out_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: hist_buf.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 5,
                    resource: range_buf.as_entire_binding(),
                },
            ],
        });
        let mut encoder = d.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("attention_map"),
        });
        let groups = side.div_ceil(8) as u32;
        if kernel == GpuKernel::Direct {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("row_stats"),
                timestamp_writes: None,
            });
            pass.set_pipeline(&self.row_stats);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(n.div_ceil(64) as u32, 1, 1);
        }
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("blocks"),
                timestamp_writes: None,
            });
            pass.set_pipeline(match kernel {
                GpuKernel::Prefix => &self.relative_blocks,
                GpuKernel::Direct => &self.blocks,
            });
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(groups, groups, 1);
        }
        {
            // Each dispatch sees the previous one's writes (one usage scope per dispatch).
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("colour range"),
                timestamp_writes: None,
            });
            pass.set_bind_group(0, &bind_group, &[]);
            let cell_groups = (side * side).div_ceil(256) as u32;
            pass.set_pipeline(&self.range_count);
            pass.dispatch_workgroups(cell_groups, 1, 1);
            for _ in 0..4 {
                pass.set_pipeline(&self.range_hist);
                pass.dispatch_workgroups(cell_groups, 1, 1);
                pass.set_pipeline(&self.range_pick);
                pass.dispatch_workgroups(1, 1, 1);
            }
        }
        encoder.copy_buffer_to_buffer(&out_buf, 0, &staging, 0, out_size);
        if stats_size > 0 {
            encoder.copy_buffer_to_buffer(&stats_buf, 0, &staging, out_size, stats_size);
        }
        encoder.copy_buffer_to_buffer(&range_buf, 0, &staging, out_size + stats_size, RANGE_BYTES);
        self.queue.submit([encoder.finish()]);
        let mapped: Arc<Mutex<Option<Result<(), String>>>> = Default::default();
        let sink = mapped.clone();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            if let Ok(mut s) = sink.lock() {
                *s = Some(r.map_err(|e| format!("GPU read-back failed: {e}")));
            }
        });
        Ok(PendingMap {
            picture: GpuPicture {
                cells: out_buf,
                range: range_buf,
                side,
                n,
                serial: PICTURE_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            },
            staging,
            mapped,
            request: GpuRequest { side, ..req },
            kernel,
            known_stats,
        })
    }

    /// Natively: block until `pending` is ready and return its cells.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn wait(&self, pending: &PendingMap) -> Result<GpuMap, String> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| format!("GPU poll failed: {e}"))?;
        pending
            .try_take()
            .unwrap_or_else(|| Err("GPU read-back did not complete".into()))
    }

    /// Let wgpu run pending callbacks without blocking (call once per frame while waiting).
    pub fn poll(&self) {
        let _ = self.device.poll(wgpu::PollType::Poll);
    }
}

impl PendingMap {
    /// The map once the read-back finished, else `None`.
    pub fn try_take(&self) -> Option<Result<GpuMap, String>> {
        let state = self.mapped.lock().ok()?.take()?;
        Some(state.and_then(|()| {
            let view = self
                .staging
                .slice(..)
                .get_mapped_range()
                .map_err(|e| format!("GPU read-back: {e:?}"))?;
            let floats: Vec<f32> = view
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            drop(view);
            self.staging.unmap();
            let side = self.request.side;
            let (cells, rest) = floats.split_at(side * side * 2);
            let (stats, range) = rest.split_at(rest.len().saturating_sub(8));
            let range = (
                range.get(5).copied().unwrap_or(0.0),
                range.get(6).copied().unwrap_or(1.0),
            );
            let cells = cells
                .chunks_exact(2)
                .map(|c| if c[1] > 0.0 { c[0] } else { f32::NAN })
                .collect();
            let (mean_entropy_nats, mass_beyond_train) = self.known_stats.unwrap_or_else(|| {
                let n = self.request.n;
                let entropy: f64 = stats.chunks_exact(4).map(|s| s[2] as f64).sum();
                let train = self.request.train_len;
                let beyond: Vec<f64> = stats.chunks_exact(4).skip(train.max(1)).map(|s| s[3] as f64).collect();
                let mass = (train > 0 && !beyond.is_empty()).then(|| beyond.iter().sum::<f64>() / beyond.len() as f64);
                (entropy / n.max(1) as f64, mass)
            });
            Ok(GpuMap {
                cells,
                side,
                mean_entropy_nats,
                mass_beyond_train,
                range,
            })
        }))
    }
}

fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
