//! Unit tests of `analysis::engine` (beside it, to keep the façade on one screen).
use super::*;
use crate::analysis::grid::Aggregate;
use crate::analysis::relative_map;
use crate::pe::{Content, Scheme};

fn alibi(n: usize) -> PreparedLogits {
    PreparedLogits::new(&Scheme::Alibi { slope: 0.25 }, &Content::Identical, 8, n).expect("prepared")
}

fn req(n: usize) -> MapRequest {
    MapRequest {
        n,
        causal: true,
        softmax: true,
        out_side: 16,
        aggregate: Aggregate::Mean,
        train_len: 8,
    }
}

#[test]
fn without_a_gpu_the_map_is_computed_on_the_cpu_at_once() {
    let mut live = LiveMap::default();
    assert_eq!(live.engine(), EngineKind::None);
    let progress = live
        .start(&MapEngines::cpu_only(), alibi(32), req(32), true)
        .expect("map");
    assert_eq!(progress, Progress::Ready);
    assert_eq!(live.engine(), EngineKind::Cpu);
    assert!(!live.is_pending() && !live.poll(&MapEngines::cpu_only(), Instant::now()));
    // A relative map takes the fast path (`relative_map`): the row-by-row numbers to float
    // precision.
    let direct = attention_map::compute(&alibi(32), &req(32)).expect("map");
    assert!(max_abs_diff(&live.map().values, &direct.values) < 1e-6);
    assert_eq!(live.map().rows, 16);
    // Exact values come from the unaggregated row: query 3 sees keys 0..=3 only.
    let v = live.exact_value(3, 3).expect("value");
    assert!(v > 0.25 && v < 1.0, "{v}");
    assert_eq!(live.exact_value(3, 4), Some(0.0));
}

#[test]
fn errors_of_the_cpu_path_are_reported() {
    let mut live = LiveMap::default();
    // N larger than the prepared n_max.
    assert!(live.start(&MapEngines::cpu_only(), alibi(8), req(64), false).is_err());
}

#[test]
fn max_abs_diff_treats_mask_mismatches_as_maximal() {
    assert_eq!(max_abs_diff(&[1.0, f32::NAN], &[1.5, f32::NAN]), 0.5);
    assert_eq!(max_abs_diff(&[1.0, f32::NAN], &[1.0, 0.0]), f32::MAX);
    assert_eq!(max_abs_diff(&[1.0], &[1.0, 2.0]), f32::MAX);
}

#[test]
fn long_relative_maps_take_the_fast_path_over_frames() {
    // N = 10 000 on 512² blocks: ~20 × 512 × 512 block updates, over IMMEDIATE_WORK.
    let engines = MapEngines::cpu_only();
    let n = 10_000;
    let prepared = || PreparedLogits::new(&Scheme::Alibi { slope: 0.01 }, &Content::Identical, 16, n).expect("p");
    let r = MapRequest {
        n,
        out_side: 512,
        ..req(n)
    };
    let mut live = LiveMap::default();
    assert_eq!(
        live.start(&engines, prepared(), r, false).expect("start"),
        Progress::Pending
    );
    let mut polls = 0;
    let mut last = -1.0;
    while !live.poll(&engines, Instant::now()) {
        let p = live.progress().expect("progress");
        assert!(p > last && p < 1.0, "{p} after {last}");
        last = p;
        polls += 1;
        assert!(polls < 10_000);
    }
    assert!(polls > 1, "spread over several frames");
    let rel = relative_table(&prepared(), n).expect("relative");
    let direct = relative_map::compute(&rel, &r).expect("map");
    assert_eq!(max_abs_diff(&live.map().values, &direct.values), 0.0);
    assert_eq!(live.map().mean_entropy_nats, direct.mean_entropy_nats);
    assert!(live.busy_ms() > 0.0 && live.busy_ms() <= live.compute_ms());
}

#[test]
fn large_cpu_maps_are_spread_over_frames_and_equal_the_direct_map() {
    let engines = MapEngines::cpu_only();
    let content = Content::Random { seed: 5 };
    let prepared = || PreparedLogits::new(&Scheme::Alibi { slope: 0.1 }, &content, 32, 512).expect("p");
    assert!(
        map_work(&prepared(), 512) > IMMEDIATE_WORK,
        "test needs a map above the budget"
    );
    let r = MapRequest { n: 512, ..req(512) };
    let mut live = LiveMap::default();
    assert_eq!(
        live.start(&engines, prepared(), r, true).expect("start"),
        Progress::Pending
    );
    assert!(live.is_pending() && !live.is_gpu_pending());
    assert_eq!(live.engine(), EngineKind::None, "nothing shown before the first map");
    // A deadline in the past still advances one chunk per poll: progress grows, never stalls.
    let mut polls = 0;
    let mut last = 0.0;
    while !live.poll(&engines, Instant::now()) {
        let p = live.progress().expect("CPU progress");
        assert!(p > last && p < 1.0, "{p} after {last}");
        last = p;
        polls += 1;
        assert!(polls < 10_000);
    }
    assert!(polls > 1, "spread over several frames");
    assert!(!live.is_pending() && live.progress().is_none());
    let direct = attention_map::compute(&prepared(), &r).expect("map");
    assert_eq!(max_abs_diff(&live.map().values, &direct.values), 0.0);
    assert_eq!(live.map().mean_entropy_nats, direct.mean_entropy_nats);
    // Its CPU time counts the rows' time only: positive, and at most the wall time.
    assert!(
        live.busy_ms() > 0.0 && live.busy_ms() <= live.compute_ms(),
        "{} vs {}",
        live.busy_ms(),
        live.compute_ms()
    );
    // Starting again abandons a CPU job in flight.
    assert_eq!(
        live.start(&engines, prepared(), r, false).expect("start"),
        Progress::Pending
    );
    assert_eq!(
        live.start(&engines, alibi(32), req(32), false).expect("start"),
        Progress::Ready
    );
    assert!(!live.is_pending());
    // A spread-out map computes no row when it starts, but its size is still checked then.
    let too_many = MapRequest { n: 513, ..req(513) };
    assert!(live.start(&engines, prepared(), too_many, false).is_err());
    assert!(!live.is_pending());
}
