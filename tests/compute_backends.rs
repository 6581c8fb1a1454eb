//! burn's wgpu path (natively: Vulkan on Mesa lavapipe in CI) and its ndarray fallback both
//! compute the sinusoidal attention row, and agree with the CPU reference in `crate::pe`.
//!
//! The wgpu test fails when no adapter exists, because scripts/setup installs lavapipe; set
//! `POSLENS_ALLOW_NO_GPU=1` to let it fall back (e.g. on a machine without Vulkan at all).

use poslens::compute::{self, ComputeBackend, softmax_check};
use poslens::pe::sinusoidal::{SinusoidalLayout, table};

fn check_on(device: compute::ComputeDevice, n: usize, d: usize, p: usize) -> softmax_check::SoftmaxCheck {
    let t = table(d, n, SinusoidalLayout::Interleaved).expect("valid table");
    pollster::block_on(softmax_check::run(device.device, t, n, d, p)).expect("burn computation succeeds")
}

#[test]
fn ndarray_softmax_row_matches_cpu_reference() {
    for (n, d, p) in [(8, 8, 0), (64, 128, 32), (1000, 64, 999)] {
        let c = check_on(compute::ndarray_device("test"), n, d, p);
        assert!(c.passed, "N={n} d={d} p={p}: max |Δ| {}", c.max_abs_diff);
        assert!((c.row_sum - 1.0).abs() < 1e-4, "row sums to {}", c.row_sum);
        // Positions alone: the query attends most to itself.
        let argmax = c
            .row
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        assert_eq!(argmax, Some(p));
    }
}

#[test]
fn wgpu_softmax_row_matches_cpu_reference() {
    let device = compute::native_wgpu_device();
    if device.backend != ComputeBackend::Wgpu {
        assert!(
            std::env::var_os("POSLENS_ALLOW_NO_GPU").is_some(),
            "no wgpu adapter ({}); install mesa-vulkan-drivers (scripts/setup) or set POSLENS_ALLOW_NO_GPU=1",
            device.note
        );
        return;
    }
    for (n, d, p) in [(64, 128, 32), (2048, 256, 1500)] {
        let c = check_on(device.clone(), n, d, p);
        assert!(c.passed, "wgpu N={n} d={d}: max |Δ| {}", c.max_abs_diff);
    }
}

#[test]
fn bad_shapes_are_errors_not_panics() {
    let dev = compute::ndarray_device("test");
    let r = pollster::block_on(softmax_check::run(dev.device, vec![0.0; 4], 2, 2, 5));
    assert!(r.is_err());
}

/// The app's in-process server times both backends on one probe and keeps the faster: the note
/// gives both times, names the backend chosen, and that backend really computes (on lavapipe
/// ndarray wins: the software GPU pays per-dispatch latency on the same cores).
#[test]
fn the_measured_device_times_both_backends_and_keeps_the_faster() {
    let device = compute::native_measured_device();
    eprintln!("{}", device.note);
    if device.note.starts_with("no wgpu adapter") {
        assert!(std::env::var_os("POSLENS_ALLOW_NO_GPU").is_some(), "{}", device.note);
        return;
    }
    let measured = device
        .note
        .split("measured: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", device.note));
    let times: Vec<f64> = ["ndarray ", "wgpu "]
        .iter()
        .map(|k| {
            let after = &measured[measured.find(k).unwrap_or_else(|| panic!("{k} in {}", device.note)) + k.len()..];
            after
                .split(" ms")
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("a time after {k}: {}", device.note))
        })
        .collect();
    let faster = if times[1] < times[0] {
        ComputeBackend::Wgpu
    } else {
        ComputeBackend::Ndarray
    };
    assert_eq!(device.backend, faster, "{}", device.note);
    let prefix = match faster {
        ComputeBackend::Wgpu => "burn wgpu, measured",
        _ => "burn ndarray (CPU), measured",
    };
    assert!(device.note.starts_with(prefix), "{}", device.note);
    let c = check_on(device, 64, 128, 32);
    assert!(c.passed, "max |Δ| {}", c.max_abs_diff);
}
