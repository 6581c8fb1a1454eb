//! The WGSL heatmap engine: naga validates the shader, and on a real wgpu device (Mesa lavapipe
//! in CI) it produces the same aggregated attention maps as the CPU path.
//!
//! Fails when no adapter exists (scripts/setup installs lavapipe); set `POSLENS_ALLOW_NO_GPU=1`
//! to skip the device part on a machine without Vulkan.

mod common;
use common::device;
use poslens::analysis::attention_map::{self, MapRequest};
use poslens::analysis::gpu_map::{GpuAttentionMap, GpuRequest, SHADER_WGSL, relative_table};
use poslens::analysis::grid::Aggregate;
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
