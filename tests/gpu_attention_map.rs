//! The WGSL heatmap engine: naga validates the shader, and on a real wgpu device (Mesa lavapipe
//! in CI) it produces the same aggregated attention maps as the CPU path.
//!
//! Fails when no adapter exists (scripts/setup installs lavapipe); set `POSLENS_ALLOW_NO_GPU=1`
//! to skip the device part on a machine without Vulkan.

mod common;
use common::device;
use poslens::analysis::attention_map::{self, MapRequest};
use poslens::analysis::gpu_map::{GpuAttentionMap, GpuKernel, GpuMap, GpuRequest, MAX_N, SHADER_WGSL, relative_table};
use poslens::analysis::grid::Aggregate;
use poslens::analysis::relative_map;
use poslens::pe::{Content, PreparedLogits, Scheme};
use poslens::pe::{PositionMap, scaling::RopeScaling};

#[test]
fn shader_validates_with_naga() {
    let module = naga::front::wgsl::parse_str(SHADER_WGSL).expect("WGSL parses");
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .expect("WGSL validates");
    let entries: Vec<&str> = module.entry_points.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        entries,
        [
            "row_stats",
            "blocks",
            "relative_blocks",
            "range_count",
            "range_hist",
            "range_pick"
        ]
    );
}

#[test]
fn relative_table_is_refused_for_absolute_schemes() {
    let sin = PreparedLogits::new(
        &Scheme::Sinusoidal {
            layout: Default::default(),
        },
        &Content::Identical,
        16,
        40,
    )
    .expect("ok");
    assert!(relative_table(&sin, 40).is_none());
    let random = PreparedLogits::new(&Scheme::Alibi { slope: 0.25 }, &Content::Random { seed: 1 }, 16, 40).expect("ok");
    assert!(relative_table(&random, 40).is_none());
}

fn cpu_req(n: usize, side: usize, causal: bool, softmax: bool, aggregate: Aggregate) -> MapRequest {
    MapRequest {
        n,
        causal,
        softmax,
        out_side: side,
        aggregate,
        train_len: 0,
    }
}

/// Both kernels — the prefix one (O(N·S), what `submit` takes for these tables) and the direct
/// one (O(N²)) — give the CPU path's cells and statistics: causal and bidirectional, softmax and
/// logits, mean and max blocks, sides that do and do not divide N.
#[test]
fn gpu_and_cpu_maps_agree() {
    let Some((device, queue)) = device() else { return };
    let engine = GpuAttentionMap::new(&device, &queue);
    let rope = Scheme::Rope {
        base: 10_000.0,
        scaling: RopeScaling::None,
        map: PositionMap::Identity,
    };
    let cases = [
        (Scheme::Alibi { slope: 0.125 }, 50, 64, true, true, Aggregate::Mean),
        (Scheme::Alibi { slope: 0.125 }, 333, 100, false, true, Aggregate::Max),
        (rope.clone(), 300, 64, true, true, Aggregate::Mean),
        (rope.clone(), 301, 97, false, true, Aggregate::Mean),
        (rope.clone(), 200, 64, true, false, Aggregate::Mean),
        (rope, 257, 32, false, false, Aggregate::Max),
        (Scheme::NoPe, 100, 100, true, true, Aggregate::Max),
    ];
    for (scheme, n, side, causal, softmax, aggregate) in cases {
        let prepared = PreparedLogits::new(&scheme, &Content::Identical, 32, n).expect("prepared");
        let rel = relative_table(&prepared, n).expect("relative scheme");
        let train_len = n / 3;
        let cpu = attention_map::compute(
            &prepared,
            &MapRequest {
                train_len,
                ..cpu_req(n, side, causal, softmax, aggregate)
            },
        )
        .expect("cpu map");
        let req = GpuRequest {
            n,
            side,
            causal,
            softmax,
            aggregate,
            train_len,
        };
        for kernel in [GpuKernel::Prefix, GpuKernel::Direct] {
            let what =
                format!("{scheme:?} n={n} side={side} causal={causal} softmax={softmax} {aggregate:?} {kernel:?}");
            assert_same_map(&run(&engine, kernel, &rel, req), &cpu, &what);
        }
    }
}

/// The map of `rel` by `kernel` (checked to be the one that ran).
fn run(engine: &GpuAttentionMap, kernel: GpuKernel, rel: &[f32], req: GpuRequest) -> GpuMap {
    let pending = match kernel {
        GpuKernel::Prefix => engine.submit(rel, req),
        GpuKernel::Direct => engine.submit_direct(rel, req),
    }
    .expect("submit");
    assert_eq!(pending.kernel, kernel);
    engine.wait(&pending).expect("gpu map")
}

fn assert_same_map(gpu_map: &GpuMap, cpu: &attention_map::AttentionMap, what: &str) {
    assert!(
        (gpu_map.mean_entropy_nats - cpu.mean_entropy_nats).abs() < 1e-3,
        "{what}: entropy {} vs {}",
        gpu_map.mean_entropy_nats,
        cpu.mean_entropy_nats
    );
    match (gpu_map.mass_beyond_train, cpu.mass_beyond_train) {
        (Some(g), Some(c)) => assert!((g - c).abs() < 1e-4, "{what}: mass beyond: {g} vs {c}"),
        (g, c) => assert_eq!(g.is_some(), c.is_some(), "{what}"),
    }
    let gpu = &gpu_map.cells;
    assert_eq!(gpu.len(), cpu.values.len(), "{what}");
    let scale = cpu
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f32, |m, v| m.max(v.abs()))
        .max(1e-6);
    for (i, (g, c)) in gpu.iter().zip(&cpu.values).enumerate() {
        assert_eq!(g.is_nan(), c.is_nan(), "{what} cell {i}: masking differs ({g} vs {c})");
        if c.is_finite() {
            assert!((g - c).abs() <= 1e-4 * scale, "{what} cell {i}: gpu {g} vs cpu {c}");
        }
    }
    let (lo, hi) = gpu_map.range;
    assert!(
        (lo - cpu.range.0).abs() <= 1e-4 * scale && (hi - cpu.range.1).abs() <= 1e-4 * scale,
        "{what}: colour range {:?} vs {:?}",
        gpu_map.range,
        cpu.range
    );
}

/// A table whose f32 window sums would underflow (query 0 sees one logit 50 below the largest)
/// goes to the direct kernel, and still equals the CPU's map.
#[test]
fn a_table_f32_prefixes_cannot_carry_takes_the_direct_kernel() {
    let Some((device, queue)) = device() else { return };
    let engine = GpuAttentionMap::new(&device, &queue);
    let n = 64;
    // rel[k − q + N − 1]: every distance −50 but the longest past one (row N−1, key 0).
    let mut rel = vec![-50.0_f32; 2 * n - 1];
    rel[0] = 0.0;
    let req = GpuRequest {
        n,
        side: 32,
        causal: true,
        softmax: true,
        aggregate: Aggregate::Mean,
        train_len: 16,
    };
    let cpu = relative_map::compute(
        &rel,
        &MapRequest {
            train_len: 16,
            ..cpu_req(n, 32, true, true, Aggregate::Mean)
        },
    )
    .expect("the CPU's f64 prefixes carry it");
    let pending = engine.submit(&rel, req).expect("submit");
    assert_eq!(pending.kernel, GpuKernel::Direct);
    assert_same_map(&engine.wait(&pending).expect("gpu map"), &cpu, "steep table");
}

/// Past the old 16 384 limit (the Attention view now allows 65 536 for relative maps): the GPU
/// map still equals the CPU's fast path; blocks too large for one invocation and one past `MAX_N`
/// are refused with a reason.
#[test]
fn long_relative_maps_agree_with_the_cpu_fast_path() {
    let Some((device, queue)) = device() else { return };
    let engine = GpuAttentionMap::new(&device, &queue);
    let n = 20_000;
    let (side, train_len) = (128, 4_000);
    let prepared = PreparedLogits::new(&Scheme::Alibi { slope: 0.01 }, &Content::Identical, 32, n).expect("prepared");
    let rel = relative_table(&prepared, n).expect("relative");
    let req = MapRequest {
        train_len,
        ..cpu_req(n, side, true, true, Aggregate::Mean)
    };
    let cpu = relative_map::compute(&rel, &req).expect("fast path");
    let gpu_req = GpuRequest {
        n,
        side,
        causal: true,
        softmax: true,
        aggregate: Aggregate::Mean,
        train_len,
    };
    for kernel in [GpuKernel::Prefix, GpuKernel::Direct] {
        let gpu = run(&engine, kernel, &rel, gpu_req);
        assert!((gpu.mean_entropy_nats - cpu.mean_entropy_nats).abs() < 1e-3 * cpu.mean_entropy_nats);
        let (g, c) = (
            gpu.mass_beyond_train.expect("N > L"),
            cpu.mass_beyond_train.expect("N > L"),
        );
        assert!((g - c).abs() < 1e-3, "{kernel:?}: mass beyond L_train: {g} vs {c}");
        let scale = cpu
            .values
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0_f32, |m, v| m.max(v.abs()));
        for (i, (g, c)) in gpu.cells.iter().zip(&cpu.values).enumerate() {
            assert_eq!(g.is_nan(), c.is_nan(), "{kernel:?} cell {i}");
            if c.is_finite() {
                // f32 sums over 20 000 keys on the device: looser than the short maps' 1e-4.
                assert!((g - c).abs() <= 1e-3 * scale, "{kernel:?} cell {i}: gpu {g} vs cpu {c}");
            }
        }
    }
    // Blocks over 255² cells would outrun llvmpipe's loop limit: refused, not wrong.
    let coarse = GpuRequest { side: 64, ..gpu_req };
    let err = engine.submit(&rel, coarse).err().expect("refused");
    assert!(err.contains("313×313") && err.contains("255×255"), "{err}");
    let too_long = MAX_N + 1;
    let err = engine
        .submit(&vec![0.0; 2 * too_long - 1], GpuRequest { n: too_long, ..gpu_req })
        .err()
        .expect("refused");
    assert!(err.contains("65536"), "{err}");
}

/// The Attention view's longest relative map, N = 65 536 on 512² blocks of 128² cells, by the
/// prefix kernel `submit` takes (O(N·S): quick even on lavapipe), causal and bidirectional.
#[test]
fn the_longest_map_agrees_with_the_cpu_fast_path() {
    longest_map(GpuKernel::Prefix, true);
    longest_map(GpuKernel::Prefix, false);
}

/// The same map by the direct kernel: its key loops take two keys per iteration to stay under
/// llvmpipe's 65 535-iteration loop limit. Ignored by default — lavapipe needs ~17 s on two
/// cores for the 4.3 G cells; run it with `cargo test --test gpu_attention_map -- --ignored`
/// (session 7: max |Δ| 9e-6 of the scale).
#[test]
#[ignore = "17 s on lavapipe; run by hand"]
fn the_longest_map_by_the_direct_kernel_agrees_with_the_cpu_fast_path() {
    longest_map(GpuKernel::Direct, true);
}

fn longest_map(kernel: GpuKernel, causal: bool) {
    let Some((device, queue)) = device() else { return };
    let engine = GpuAttentionMap::new(&device, &queue);
    let n = MAX_N;
    let prepared = PreparedLogits::new(&Scheme::Alibi { slope: 0.001 }, &Content::Identical, 32, n).expect("prepared");
    let rel = relative_table(&prepared, n).expect("relative");
    let req = MapRequest {
        train_len: n / 4,
        ..cpu_req(n, 512, causal, true, Aggregate::Mean)
    };
    let cpu = relative_map::compute(&rel, &req).expect("fast path");
    let gpu_req = GpuRequest {
        n,
        side: 512,
        causal,
        softmax: true,
        aggregate: Aggregate::Mean,
        train_len: n / 4,
    };
    let gpu = run(&engine, kernel, &rel, gpu_req);
    assert!((gpu.mean_entropy_nats - cpu.mean_entropy_nats).abs() < 1e-4 * cpu.mean_entropy_nats);
    let scale = cpu
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f32, |m, v| m.max(v.abs()));
    let mut worst = 0.0_f32;
    for (g, c) in gpu.cells.iter().zip(&cpu.values) {
        assert_eq!(g.is_nan(), c.is_nan());
        if c.is_finite() {
            worst = worst.max((g - c).abs() / scale);
        }
    }
    assert!(
        worst <= 1e-4,
        "{kernel:?} causal={causal}: max |Δ| {worst} of the scale"
    );
}
