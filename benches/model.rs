//! Forward pass + attention trace of one shipped model (recall-rope) at L = 64, 256, 1024, on
//! burn's ndarray CPU backend and on burn wgpu (natively: whatever Vulkan adapter exists — Mesa
//! lavapipe on the CI machines). Prints a table; `cargo bench --bench model`.
//!
//! Each measurement is one batch-1 forward pass with `trace = true`, then every layer's
//! `[1, heads, L, L]` attention and the logits read back to the host (what the Model lab does).

use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use poslens::compute::{self, ComputeBackend};
use poslens::model::catalog::{ModelMeta, load_model};
use poslens::model::{Positions, RopeOptions};

fn run(meta: &ModelMeta, bytes: &[u8], device: &Device, len: usize) -> f64 {
    let model = load_model(meta, bytes, device).expect("model loads");
    let pos = Positions::new(&meta.config, len, &RopeOptions::default(), device).expect("positions");
    let ids: Vec<i64> = (0..len as i64).map(|i| 3 + (i * 37) % 128).collect();
    let once = || {
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, len]), device);
        let out = model.forward(tokens, &pos, true);
        let mut n = out.logits.into_data().num_elements();
        for a in out.attention {
            n += a.into_data().num_elements();
        }
        n
    };
    once(); // warm-up (kernel compilation on wgpu)
    let reps = if len >= 1024 { 3 } else { 10 };
    let start = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(once());
    }
    start.elapsed().as_secs_f64() * 1000.0 / reps as f64
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/models");
    let meta = ModelMeta::from_json(&std::fs::read_to_string(dir.join("recall-rope.json")).expect("metadata"))
        .expect("valid metadata");
    let bytes = std::fs::read(dir.join(&meta.weights_file)).expect("weights");
    let gpu = compute::native_wgpu_device();
    let cpu = compute::ndarray_device("bench");
    println!(
        "forward + trace, recall-rope ({} layers × {} heads, d_model {})",
        meta.config.n_layers, meta.config.n_heads, meta.config.d_model
    );
    println!(
        "| L | ndarray (CPU) | wgpu ({}) |",
        if gpu.backend == ComputeBackend::Wgpu {
            gpu.note.as_str()
        } else {
            "unavailable"
        }
    );
    println!("|---|---|---|");
    for len in [64, 256, 1024] {
        let c = run(&meta, &bytes, &cpu.device, len);
        let g = (gpu.backend == ComputeBackend::Wgpu).then(|| run(&meta, &bytes, &gpu.device, len));
        println!(
            "| {len} | {c:.1} ms | {} |",
            g.map_or("—".into(), |g| format!("{g:.1} ms"))
        );
    }
}
