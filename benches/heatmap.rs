//! Attention-view frame cost natively: recompute one 512²-cell map (softmax, causal, RoPE with
//! identical tokens) at N = 512 … 8192 on the CPU path and on the WGSL GPU path (here: the
//! machine's wgpu adapter, Mesa lavapipe on CI machines), plus the texture colouring that
//! follows either. Prints a table of milliseconds per recompute (median of a few runs).
//!
//! `cargo bench --bench heatmap`. The browser figures come from `web/bench.mjs`.

use std::time::Instant;

use eframe::egui_wgpu::wgpu;
use poslens::analysis::attention_map::{self, MapRequest};
use poslens::analysis::gpu_map::{GpuAttentionMap, GpuRequest, relative_table};
use poslens::analysis::grid::{Aggregate, colorize};
use poslens::analysis::relative_map;
use poslens::pe::scaling::RopeScaling;
use poslens::pe::{Content, PositionMap, PreparedLogits, Scheme};
use poslens::theme::Colormap;

const SIDE: usize = 512;

fn median_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let gpu = pollster::block_on(async {
        let instance = wgpu::Instance::default();
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions::default())
            .await
            .ok()?;
        let name = adapter.get_info().name;
        let (device, queue) = adapter.request_device(&wgpu::DeviceDescriptor::default()).await.ok()?;
        Some((name, GpuAttentionMap::new(&device, &queue)))
    });
    let adapter = gpu.as_ref().map_or("none".to_owned(), |(n, _)| n.clone());
    let scheme = Scheme::Rope {
        base: 10_000.0,
        scaling: RopeScaling::None,
        map: PositionMap::Identity,
    };
    println!("\nAttention map recompute, RoPE, identical tokens, softmax, causal, {SIDE}² output (median ms)");
    println!("GPU adapter: {adapter}");
    println!(
        "{:>6} | {:>12} | {:>14} | {:>12} | {:>10} | {:>12}",
        "N", "CPU path", "CPU fast path", "GPU path", "colour", "CPU fps"
    );
    for n in [512, 1024, 2048, 4096, 8192] {
        let prepared = PreparedLogits::new(&scheme, &Content::Identical, 64, n).expect("valid");
        let req = MapRequest {
            n,
            causal: true,
            softmax: true,
            out_side: SIDE,
            aggregate: Aggregate::Mean,
            train_len: n / 2,
        };
        let runs = if n >= 4096 { 3 } else { 7 };
        let mut map = None;
        let cpu_ms = median_ms(runs, || map = attention_map::compute(&prepared, &req).ok());
        // The fast path for relative maps (what the app runs for identical tokens), including
        // reading the relative table from the prepared logits.
        let fast_ms = median_ms(7, || {
            let _ = relative_table(&prepared, n).and_then(|rel| relative_map::compute(&rel, &req));
        });
        let gpu_ms = gpu.as_ref().map(|(_, engine)| {
            let rel = relative_table(&prepared, n).expect("relative");
            let greq = GpuRequest {
                n,
                side: SIDE,
                causal: true,
                softmax: true,
                aggregate: Aggregate::Mean,
                train_len: n / 2,
            };
            median_ms(runs, || {
                if let Ok(p) = engine.submit(&rel, greq) {
                    let _ = engine.wait(&p);
                }
            })
        });
        let colour_ms = map.as_ref().map_or(f64::NAN, |m| {
            median_ms(7, || drop(colorize(&m.values, m.range, Colormap::Viridis)))
        });
        println!(
            "{n:>6} | {cpu_ms:>9.1} ms | {fast_ms:>11.2} ms | {:>12} | {colour_ms:>7.2} ms | {:>12.1}",
            gpu_ms.map_or("n/a".to_owned(), |g| format!("{g:.1} ms")),
            1000.0 / (fast_ms + colour_ms)
        );
    }
    prepare_figures();
}

/// The first-frame cost of a heavy link: preparing random tokens (Gaussian q = k per position,
/// rotated or encoded) before any row is computed.
fn prepare_figures() {
    println!("\nPreparing random-token logits (PreparedLogits::new, median ms)");
    println!("{:>28} | {:>6} | {:>4} | {:>9}", "scheme", "N", "d", "prepare");
    let schemes = [
        (
            "RoPE",
            Scheme::Rope {
                base: 10_000.0,
                scaling: RopeScaling::None,
                map: PositionMap::Identity,
            },
        ),
        (
            "sinusoidal",
            Scheme::Sinusoidal {
                layout: poslens::pe::SinusoidalLayout::Interleaved,
            },
        ),
        ("ALiBi", Scheme::Alibi { slope: 0.25 }),
        ("NoPE", Scheme::NoPe),
    ];
    for (name, scheme) in &schemes {
        for (n, d) in [(2048, 256), (8192, 256)] {
            let ms = median_ms(3, || {
                drop(PreparedLogits::new(scheme, &Content::Random { seed: 1 }, d, n))
            });
            println!("{name:>28} | {n:>6} | {d:>4} | {ms:>6.1} ms");
        }
    }
}
