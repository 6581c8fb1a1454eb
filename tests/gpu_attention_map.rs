//! The WGSL heatmap engine: naga validates the shader, and on a real wgpu device (Mesa lavapipe
//! in CI) it produces the same aggregated attention maps as the CPU path.
//!
//! Fails when no adapter exists (scripts/setup installs lavapipe); set `POSLENS_ALLOW_NO_GPU=1`
//! to skip the device part on a machine without Vulkan.

mod common;
use common::device;
use poslens::analysis::attention_map::{self, MapRequest};
use poslens::analysis::gpu_map::{GpuAttentionMap, GpuRequest, MAX_N, SHADER_WGSL, relative_table};
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
        ["row_stats", "blocks", "range_count", "range_hist", "range_pick"]
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
        (rope.clone(), 300, 64, true, true, Aggregate::Mean),
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
        let pending = engine
            .submit(
                &rel,
                GpuRequest {
                    n,
                    side,
                    causal,
                    softmax,
                    aggregate,
                    train_len,
                },
            )
            .expect("submit");
        let gpu_map = engine.wait(&pending).expect("gpu map");
        assert!(
            (gpu_map.mean_entropy_nats - cpu.mean_entropy_nats).abs() < 1e-3,
            "{scheme:?} entropy"
        );
        match (gpu_map.mass_beyond_train, cpu.mass_beyond_train) {
            (Some(g), Some(c)) => assert!((g - c).abs() < 1e-4, "{scheme:?} mass beyond: {g} vs {c}"),
            (g, c) => assert_eq!(g.is_some(), c.is_some()),
        }
        let gpu = gpu_map.cells;
        assert_eq!(gpu.len(), cpu.values.len(), "{scheme:?}");
        let scale = cpu
            .values
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0_f32, |m, v| m.max(v.abs()))
            .max(1e-6);
        for (i, (g, c)) in gpu.iter().zip(&cpu.values).enumerate() {
            assert_eq!(
                g.is_nan(),
                c.is_nan(),
                "{scheme:?} cell {i}: masking differs ({g} vs {c})"
            );
            if c.is_finite() {
                assert!(
                    (g - c).abs() <= 1e-4 * scale,
                    "{scheme:?} n={n} cell {i}: gpu {g} vs cpu {c}"
                );
            }
        }
    }
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
    let gpu = engine
        .wait(&engine.submit(&rel, gpu_req).expect("submit"))
        .expect("gpu map");
    assert!((gpu.mean_entropy_nats - cpu.mean_entropy_nats).abs() < 1e-3 * cpu.mean_entropy_nats);
    let (g, c) = (
        gpu.mass_beyond_train.expect("N > L"),
        cpu.mass_beyond_train.expect("N > L"),
    );
    assert!((g - c).abs() < 1e-3, "mass beyond L_train: {g} vs {c}");
    let scale = cpu
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f32, |m, v| m.max(v.abs()));
    for (i, (g, c)) in gpu.cells.iter().zip(&cpu.values).enumerate() {
        assert_eq!(g.is_nan(), c.is_nan(), "cell {i}");
        if c.is_finite() {
            // f32 sums over 20 000 keys on the device: looser than the short maps' 1e-4.
            assert!((g - c).abs() <= 1e-3 * scale, "cell {i}: gpu {g} vs cpu {c}");
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

/// The Attention view's longest relative map, N = 65 536 on 512² blocks of 128² cells: the key
/// loops take two keys per iteration to stay under llvmpipe's 65 535-iteration loop limit.
/// Ignored by default — lavapipe needs ~17 s on two cores for the 4.3 G cells; run it with
/// `cargo test --test gpu_attention_map -- --ignored` (session 7: max |Δ| 9e-6 of the scale).
#[test]
#[ignore = "17 s on lavapipe; run by hand"]
fn the_longest_map_agrees_with_the_cpu_fast_path() {
    let Some((device, queue)) = device() else { return };
    let engine = GpuAttentionMap::new(&device, &queue);
    let n = MAX_N;
    let prepared = PreparedLogits::new(&Scheme::Alibi { slope: 0.001 }, &Content::Identical, 32, n).expect("prepared");
    let rel = relative_table(&prepared, n).expect("relative");
    let req = MapRequest {
        train_len: n / 4,
        ..cpu_req(n, 512, true, true, Aggregate::Mean)
    };
    let cpu = relative_map::compute(&rel, &req).expect("fast path");
    let gpu_req = GpuRequest {
        n,
        side: 512,
        causal: true,
        softmax: true,
        aggregate: Aggregate::Mean,
        train_len: n / 4,
    };
    let gpu = engine
        .wait(&engine.submit(&rel, gpu_req).expect("submit"))
        .expect("gpu map");
    assert!((gpu.mean_entropy_nats - cpu.mean_entropy_nats).abs() < 1e-4 * cpu.mean_entropy_nats);
    let scale = cpu
        .values
        .iter()
        .filter(|v| v.is_finite())
        .fold(0.0_f32, |m, v| m.max(v.abs()));
    for (g, c) in gpu.cells.iter().zip(&cpu.values) {
        assert_eq!(g.is_nan(), c.is_nan());
        if c.is_finite() {
            assert!((g - c).abs() <= 1e-4 * scale, "gpu {g} vs cpu {c}");
        }
    }
}
