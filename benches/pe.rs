// Criterion benchmark of the per-frame hot path: logits + stable softmax for a full causal N×N
// attention map, row by row into one reused buffer, for RoPE, ALiBi and T5 at N = 512, 2048,
// 8192 (identical tokens: the O(1)-per-cell relative-table path), plus RoPE with random tokens
// (the O(d)-per-cell dot-product path) at N = 512, 2048. Ends with a table of ns per cell.

use criterion::{BenchmarkId, Criterion};
use poslens::pe::alibi;
use poslens::pe::position_maps::PositionMap;
use poslens::pe::scaling::RopeScaling;
use poslens::pe::t5::{T5Bias, T5Buckets};
use poslens::pe::{Content, PreparedLogits, Scheme, softmax_in_place};
use std::hint::black_box;
use std::time::{Duration, Instant};

const HEAD_DIM: usize = 64;

fn schemes() -> Vec<(&'static str, Scheme, Content, &'static [usize])> {
    let rope = Scheme::Rope {
        base: 10_000.0,
        scaling: RopeScaling::None,
        map: PositionMap::Identity,
    };
    let slope = alibi::slopes(8).expect("8 heads are valid")[0];
    let buckets = T5Buckets::new(32, 128, false).expect("T5 defaults are valid");
    let t5 = T5Bias::log_decay(buckets, 1.0).expect("finite strength");
    vec![
        ("rope", rope.clone(), Content::Identical, &[512, 2048, 8192]),
        ("alibi", Scheme::Alibi { slope }, Content::Identical, &[512, 2048, 8192]),
        ("t5", Scheme::T5(t5), Content::Identical, &[512, 2048, 8192]),
        ("rope-random", rope, Content::Random { seed: 1 }, &[512, 2048]),
    ]
}

/// One full causal map: every row's logits, then its softmax. Returns a checksum.
fn full_map(p: &PreparedLogits, n: usize, buf: &mut [f32]) -> f32 {
    let mut acc = 0.0;
    for m in 0..n {
        p.logits_row(m, n, true, buf).expect("row within the prepared size");
        softmax_in_place(&mut buf[..n]);
        acc += buf[m];
    }
    acc
}

fn bench(c: &mut Criterion) {
    for (name, scheme, content, sizes) in schemes() {
        let mut group = c.benchmark_group(format!("logits+softmax/{name}"));
        for &n in sizes {
            if n >= 8192 {
                group.sample_size(10);
                group.warm_up_time(Duration::from_millis(500));
                group.measurement_time(Duration::from_secs(4));
            }
            let p = PreparedLogits::new(&scheme, &content, HEAD_DIM, n).expect("valid bench setup");
            let mut buf = vec![0.0f32; n];
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
                b.iter(|| black_box(full_map(&p, n, &mut buf)))
            });
        }
        group.finish();
    }
}

/// Independent wall-clock timing for the summary table (≥ 0.3 s or 3 maps per cell).
fn print_table() {
    println!("\nns per cell (logits + softmax, causal N×N map, head_dim {HEAD_DIM}, 1 thread)");
    println!("{:<12} {:>8} {:>12} {:>10}", "scheme", "N", "ms / map", "ns / cell");
    for (name, scheme, content, sizes) in schemes() {
        for &n in sizes {
            let p = PreparedLogits::new(&scheme, &content, HEAD_DIM, n).expect("valid bench setup");
            let mut buf = vec![0.0f32; n];
            black_box(full_map(&p, n, &mut buf));
            let start = Instant::now();
            let mut maps = 0u32;
            while maps < 3 || start.elapsed() < Duration::from_millis(300) {
                black_box(full_map(&p, n, &mut buf));
                maps += 1;
            }
            let per_map = start.elapsed().as_secs_f64() / maps as f64;
            println!(
                "{:<12} {:>8} {:>12.2} {:>10.2}",
                name,
                n,
                per_map * 1e3,
                per_map * 1e9 / (n * n) as f64
            );
        }
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    print_table();
}
