//! The compute worker's protocol end to end, natively: the same JSON requests the page sends to
//! its Web Worker go through the in-process server on ndarray, and the answers must equal what
//! the model code computes directly (so the worker adds no error of its own).

use poslens::compute::client::{ComputeClient, WorkerState};
use poslens::compute::protocol::{
    self, DEPTH_BUCKETS, FromWorker, LabJob, PROBE_SAMPLES, PROTOCOL, Reply, Request, TrainAction, TrainProgress,
    TrainState, WireError,
};
use poslens::compute::{self, ComputeBackend};
use poslens::model::catalog::{ModelMeta, load_model};
use poslens::model::eval::Evaluator;
use poslens::model::train_spec::TrainSpec;
use poslens::model::{ModelError, RopeOptions};
use poslens::pe::PeError;
use poslens::tasks::TaskKind;

fn shipped(name: &str) -> (ModelMeta, Vec<u8>) {
    let dir = poslens::assets::models_dir();
    let meta = ModelMeta::from_json(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let weights = std::fs::read(dir.join(&meta.weights_file)).unwrap();
    (meta, weights)
}

fn client() -> ComputeClient {
    ComputeClient::in_process_on(compute::ndarray_device("test"))
}

fn reply(c: &ComputeClient, request: Request) -> Reply {
    let job = c.submit(request);
    c.take(job).expect("in-process replies at once").expect("worker alive")
}

#[test]
fn nothing_starts_until_asked_then_the_device_is_announced() {
    let c = client();
    assert_eq!(c.state(), WorkerState::Idle);
    let table = poslens::pe::sinusoidal::table(32, 16, poslens::pe::SinusoidalLayout::Interleaved).unwrap();
    let Reply::Softmax { check, row } = reply(
        &c,
        Request::SoftmaxRow {
            table: table.clone(),
            seq_len: 16,
            d_model: 32,
            query_pos: 5,
        },
    ) else {
        panic!("expected a softmax reply")
    };
    assert!(matches!(
        c.state(),
        WorkerState::Ready {
            backend: ComputeBackend::Ndarray,
            ..
        }
    ));
    assert!(check.passed, "{check:?}");
    // The row crossed as base64 bit for bit: it is the reference within tolerance.
    let reference = compute::softmax_check::reference_row(&table, 16, 32, 5);
    assert_eq!(row.len(), 16);
    assert!(row.iter().zip(&reference).all(|(a, b)| (a - b).abs() <= 1e-4));
    // A bad shape is refused with a message, and the worker stays up.
    let bad = reply(
        &c,
        Request::SoftmaxRow {
            table,
            seq_len: 16,
            d_model: 32,
            query_pos: 99,
        },
    );
    assert!(
        matches!(bad, Reply::Failed(WireError { ref message, .. }) if message.contains("p=99")),
        "{bad:?}"
    );
    assert!(matches!(c.state(), WorkerState::Ready { .. }));
}

#[test]
fn a_model_run_through_the_worker_equals_the_direct_evaluation() {
    let c = client();
    let (meta, weights) = shipped("copy-rope");
    let Reply::Loaded { name, params } = reply(
        &c,
        Request::LoadModel {
            meta: meta.clone(),
            weights: weights.clone(),
            name: None,
        },
    ) else {
        panic!("expected Loaded")
    };
    assert_eq!((name.as_str(), params), ("copy-rope", meta.params));
    let job = LabJob {
        name,
        len: 48,
        rope: RopeOptions::default(),
        trace_seed: 7,
        samples: 16,
        seed: 1234,
        curve_lengths: Some(vec![32, 64]),
        curve_samples: 8,
        probe: false,
        given: None,
    };
    let Reply::Run(r) = reply(&c, Request::Run(job.clone())) else {
        panic!("expected a run")
    };
    // The same numbers directly.
    let device = compute::ndarray_device("direct").device;
    let model = load_model(&meta, &weights, &device).unwrap();
    let ev = Evaluator {
        model: &model,
        config: &meta.config,
        task: meta.task,
        rope: &job.rope,
        device: &device,
    };
    let trace = pollster::block_on(ev.trace_sample(48, 7)).unwrap();
    let score = pollster::block_on(ev.score_at(48, 16, 1234)).unwrap();
    let curve = pollster::block_on(ev.curve(&[32, 64], 8, 1234)).unwrap();
    assert_eq!(r.trace, trace, "attention and predictions cross the protocol exactly");
    assert_eq!(r.score, score);
    assert_eq!(r.extension_curve.as_ref(), Some(&curve));
    assert_eq!(r.trace.attention.len(), meta.config.n_layers);
    assert!(r.compute_ms >= r.trace_ms && r.trace_ms > 0.0);
    // The same files under a reader's name: a second model beside the shipped one, same answers.
    let Reply::Loaded { name, .. } = reply(
        &c,
        Request::LoadModel {
            meta,
            weights,
            name: Some("yours/copy-rope".into()),
        },
    ) else {
        panic!("expected Loaded")
    };
    assert_eq!(name, "yours/copy-rope");
    let Reply::Run(mine) = reply(&c, Request::Run(LabJob { name, ..job.clone() })) else {
        panic!("expected a run")
    };
    assert_eq!(mine.score, r.score);
    assert!(
        matches!(reply(&c, Request::Run(job)), Reply::Run(_)),
        "the shipped model is still there"
    );
}

#[test]
fn refusals_keep_their_meaning_across_the_boundary() {
    let c = client();
    // Not loaded.
    let job = LabJob {
        name: "copy-alibi".into(),
        len: 32,
        rope: RopeOptions::default(),
        trace_seed: 0,
        samples: 4,
        seed: 1,
        curve_lengths: None,
        curve_samples: 0,
        probe: false,
        given: None,
    };
    assert!(matches!(reply(&c, Request::Run(job)), Reply::Failed(e) if e.message.contains("not loaded")));
    // Another model's weights under this metadata: refused by the checksum, as from disk.
    let (meta, _) = shipped("copy-alibi");
    let (_, other) = shipped("copy-nope");
    let r = reply(
        &c,
        Request::LoadModel {
            meta,
            weights: other,
            name: None,
        },
    );
    assert!(matches!(&r, Reply::Failed(e) if e.message.contains("weight")), "{r:?}");
    // Learned APE past its table: still "past the table" (a limit, not a failure) on this side.
    let (meta, weights) = shipped("copy-learned");
    assert!(matches!(
        reply(
            &c,
            Request::LoadModel {
                meta,
                weights,
                name: None
            }
        ),
        Reply::Loaded { .. }
    ));
    let job = LabJob {
        name: "copy-learned".into(),
        len: 64,
        rope: RopeOptions::default(),
        trace_seed: 0,
        samples: 4,
        seed: 1,
        curve_lengths: None,
        curve_samples: 0,
        probe: false,
        given: None,
    };
    let Reply::Failed(e) = reply(&c, Request::Run(job)) else {
        panic!("a learned table has no row 63")
    };
    assert!(matches!(
        ModelError::from(e),
        ModelError::Pe(PeError::PastLearnedTable { max_len: 32, .. })
    ));
}

#[test]
fn a_broken_or_foreign_worker_fails_every_pending_job_with_one_message() {
    // A worker of another protocol version.
    let c = ComputeClient::off();
    let job = c.submit(Request::SoftmaxRow {
        table: vec![],
        seq_len: 0,
        d_model: 0,
        query_pos: 0,
    });
    assert!(matches!(c.take(job), Some(Err(m)) if m.contains("no compute")));
    let c = client();
    c.receive(&protocol::encode(&FromWorker {
        job: 0,
        more: false,
        reply: Reply::Ready {
            protocol: PROTOCOL + 1,
            backend: ComputeBackend::Wgpu,
            note: String::new(),
        },
    }));
    assert!(matches!(c.state(), WorkerState::Failed(m) if m.contains("reload")));
    // Garbage from the worker.
    let c = client();
    c.receive("{not json");
    assert!(matches!(c.state(), WorkerState::Failed(m) if m.contains("malformed")));
    // The server answers garbage with a message, never a panic.
    let mut server = compute::server::LabServer::new(compute::ndarray_device("test"));
    for text in [
        "",
        "null",
        "{\"job\":1}",
        "{\"job\":1,\"request\":{\"kind\":\"load_model\",\"meta\":{},\"weights\":\"!!\"}}",
    ] {
        let out = pollster::block_on(server.handle_json(text));
        let msg: FromWorker = protocol::decode(&out).unwrap();
        assert!(matches!(msg.reply, Reply::Failed(_)), "{text:?} → {out}");
    }
}

/// Runs a training job through the client to its end; returns every progress report.
fn train_through(c: &ComputeClient, spec: &TrainSpec) -> Vec<TrainProgress> {
    let job = c.submit(Request::TrainStart {
        spec: spec.clone(),
        eval_every: 10,
    });
    let mut reports = Vec::new();
    loop {
        while let Some(r) = c.take(job) {
            match r.expect("worker alive") {
                Reply::TrainProgress(p) => reports.push(p),
                other => panic!("unexpected {other:?}"),
            }
        }
        if !c.is_pending(job) {
            return reports;
        }
        c.poll();
    }
}

fn losses(reports: &[TrainProgress]) -> Vec<f64> {
    let mut out = Vec::new();
    for p in reports {
        assert_eq!(p.from, out.len(), "reports are contiguous");
        out.extend_from_slice(&p.losses);
    }
    out
}

#[test]
fn the_page_trainer_is_the_cli_trainer_and_is_deterministic() {
    let spec = TrainSpec {
        steps: 12,
        ..TrainSpec::quick(TaskKind::Copy, poslens::model::PeKind::Rope)
    };
    let a = train_through(&client(), &spec);
    let b = train_through(&client(), &spec);
    let (la, lb) = (losses(&a), losses(&b));
    assert_eq!(la.len(), 12);
    assert_eq!(la, lb, "same seed, spec and backend give the same loss curve");
    // The worker's trainer is `poslens train`'s: the same losses, step for step.
    let cli = poslens::model::train::train(&spec, |_, _| {}).unwrap();
    assert_eq!(la, cli.losses);
    let last = a.last().unwrap();
    assert_eq!((last.state, last.step, last.steps), (TrainState::Done, 12, 12));
    assert!(last.exact_match.is_some() && last.steps_per_s > 0.0);
    // Another seed, another curve.
    let other = losses(&train_through(&client(), &TrainSpec { seed: 1, ..spec }));
    assert_ne!(la, other);
}

#[test]
fn a_run_pauses_resumes_stops_and_exports_what_poslens_eval_reads() {
    let c = client();
    let spec = TrainSpec {
        steps: 10_000,
        ..TrainSpec::quick(TaskKind::Copy, poslens::model::PeKind::Alibi)
    };
    let job = c.submit(Request::TrainStart { spec, eval_every: 50 });
    c.poll();
    let paused = reply(
        &c,
        Request::TrainControl {
            action: TrainAction::Pause,
        },
    );
    let Reply::TrainProgress(p) = paused else {
        panic!("{paused:?}")
    };
    assert_eq!(p.state, TrainState::Paused);
    let at = p.step;
    assert!(at > 0 && !c.poll(), "a paused run takes no slices");
    // Probe and measure the paused weights at 2× L_train.
    assert!(
        matches!(reply(&c, Request::TrainTrace { len: 32, seed: 7 }), Reply::Trace(t) if t.len == 32 && t.attention.len() == 2)
    );
    let Reply::Curve(curve) = reply(
        &c,
        Request::TrainCurve {
            lengths: vec![16, 32],
            samples: 8,
            seed: 1,
            rope: RopeOptions::default(),
        },
    ) else {
        panic!("expected a curve")
    };
    assert_eq!(curve.length, vec![16, 32]);
    let Reply::TrainProgress(p) = reply(
        &c,
        Request::TrainControl {
            action: TrainAction::Resume,
        },
    ) else {
        panic!()
    };
    assert_eq!(p.state, TrainState::Running);
    c.poll();
    let Reply::TrainProgress(p) = reply(
        &c,
        Request::TrainControl {
            action: TrainAction::Stop,
        },
    ) else {
        panic!()
    };
    assert!(p.state == TrainState::Done && p.step > at);
    while c.take(job).is_some() {}
    // Export: the files load like a shipped model and measure the same.
    let Reply::TrainExported { meta, weights } = reply(&c, Request::TrainExport) else {
        panic!("expected an export")
    };
    assert_eq!(weights.len(), meta.weights_bytes);
    let device = compute::ndarray_device("eval").device;
    let model = load_model(&meta, &weights, &device).expect("the exported files load");
    let ev = Evaluator {
        model: &model,
        config: &meta.config,
        task: meta.task,
        rope: &RopeOptions::default(),
        device: &device,
    };
    let score = pollster::block_on(ev.score_at(meta.train_len, 128, 4321)).unwrap();
    assert_eq!(score.exact_match(), meta.in_distribution_exact_match);
}

#[test]
fn a_bad_run_is_refused_and_nothing_runs() {
    let c = client();
    let bad = TrainSpec {
        learning_rate: 0.0,
        ..TrainSpec::quick(TaskKind::Copy, poslens::model::PeKind::Nope)
    };
    assert!(
        matches!(reply(&c, Request::TrainStart { spec: bad.clone(), eval_every: 1 }), Reply::Failed(e) if e.message.contains("learning rate"))
    );
    // NaN cannot even cross as JSON (it becomes null): that one job fails, the worker stays up.
    let nan = TrainSpec {
        learning_rate: f64::NAN,
        ..bad
    };
    assert!(
        matches!(reply(&c, Request::TrainStart { spec: nan, eval_every: 1 }), Reply::Failed(e) if e.message.contains("malformed"))
    );
    assert!(matches!(c.state(), WorkerState::Ready { .. }));
    assert!(!c.poll());
    assert!(matches!(reply(&c, Request::TrainExport), Reply::Failed(e) if e.message.contains("no training run")));
}

/// The RoPE view's model clocks: the worker's rotated queries and keys of a real sample are the
/// ones attention uses — their softmax(q·k/√d) row equals the traced attention row.
#[test]
fn phasors_reproduce_the_models_own_attention() {
    let c = client();
    let (meta, weights) = shipped("recall-rope");
    assert!(matches!(
        reply(
            &c,
            Request::LoadModel {
                meta: meta.clone(),
                weights,
                name: None
            }
        ),
        Reply::Loaded { .. }
    ));
    let (len, pos, seed) = (40, 30, 1234);
    let job = LabJob {
        name: "recall-rope".into(),
        len,
        rope: RopeOptions::default(),
        trace_seed: seed,
        samples: 1,
        seed,
        curve_lengths: None,
        curve_samples: 0,
        probe: false,
        given: None,
    };
    let Reply::Run(run) = reply(&c, Request::Run(job)) else {
        panic!("expected a run")
    };
    for layer in 0..meta.config.n_layers {
        let Reply::Phasors(p) = reply(
            &c,
            Request::Phasors {
                name: "recall-rope".into(),
                len,
                pos,
                layer,
                seed,
            },
        ) else {
            panic!("expected phasors")
        };
        assert_eq!((p.len, p.pos, p.layer, p.heads), (len, pos, layer, meta.config.n_heads));
        assert_eq!(
            p.token, run.trace.tokens[pos],
            "the same sample as the Model lab's trace"
        );
        let dh = p.head_dim;
        for h in 0..p.heads {
            let q = &p.query[h * dh..(h + 1) * dh];
            let logits: Vec<f64> = (0..=pos)
                .map(|n| {
                    let k = &p.keys[(h * len + n) * dh..(h * len + n + 1) * dh];
                    q.iter().zip(k).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>() / (dh as f64).sqrt()
                })
                .collect();
            let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
            let traced = &run.trace.attention[layer][h * len * len + pos * len..h * len * len + (pos + 1) * len];
            for (n, l) in logits.iter().enumerate() {
                let want = f64::from(traced[n]);
                let got = (l - max).exp() / z;
                assert!(
                    (got - want).abs() < 1e-4,
                    "layer {layer} head {h} key {n}: {got} vs traced {want}"
                );
            }
        }
    }
    // Out of range: a message, not a panic.
    let bad = reply(
        &c,
        Request::Phasors {
            name: "recall-rope".into(),
            len,
            pos: len,
            layer: 0,
            seed,
        },
    );
    assert!(matches!(bad, Reply::Failed(_)), "{bad:?}");
}

/// A recall model's run splits its live score by depth (the slices sum to the score, and equal
/// `score_by_depth`), and with `probe` the worker's position probe equals the direct one.
#[test]
fn recall_runs_report_depth_and_the_probe_on_request() {
    let c = client();
    let (meta, weights) = shipped("recall-nope");
    let Reply::Loaded { name, .. } = reply(
        &c,
        Request::LoadModel {
            meta: meta.clone(),
            weights: weights.clone(),
            name: None,
        },
    ) else {
        panic!("expected Loaded")
    };
    let job = LabJob {
        name,
        len: 48,
        rope: RopeOptions::default(),
        trace_seed: 7,
        samples: 24,
        seed: 1234,
        curve_lengths: None,
        curve_samples: 0,
        probe: true,
        given: None,
    };
    let Reply::Run(r) = reply(&c, Request::Run(job.clone())) else {
        panic!("expected a run")
    };
    let device = compute::ndarray_device("direct").device;
    let model = load_model(&meta, &weights, &device).unwrap();
    let ev = Evaluator {
        model: &model,
        config: &meta.config,
        task: meta.task,
        rope: &job.rope,
        device: &device,
    };
    let direct = pollster::block_on(ev.score_by_depth(48, 24, 1234, DEPTH_BUCKETS)).unwrap();
    assert_eq!(r.by_depth, direct);
    assert_eq!(r.score, pollster::block_on(ev.score_at(48, 24, 1234)).unwrap());
    let probe = r.probe.expect("the probe was asked for");
    assert_eq!(probe.lengths, vec![32, 48]);
    assert_eq!(probe.fits.len(), meta.config.n_layers + 1);
    let again = pollster::block_on(ev.position_probe(32, &[32, 48], PROBE_SAMPLES, 1234)).unwrap();
    // Equal up to the JSON round trip of the worker protocol (serde_json parses floats to
    // within an ulp).
    assert_eq!(
        (probe.lengths.clone(), probe.samples),
        (again.lengths.clone(), again.samples)
    );
    for (a, b) in probe.fits.iter().flatten().zip(again.fits.iter().flatten()) {
        let (a, b) = (a.expect("runs at 48"), b.expect("runs at 48"));
        assert!(
            (a.r2 - b.r2).abs() < 1e-12 && (a.mae - b.mae).abs() < 1e-12,
            "{a:?} vs {b:?}"
        );
    }
    // Without the switch, no probe.
    let Reply::Run(plain) = reply(
        &c,
        Request::Run(LabJob {
            probe: false,
            ..job.clone()
        }),
    ) else {
        panic!("expected a run")
    };
    assert!(plain.probe.is_none());
    // A reader's own sample is traced instead of the seeded one (the score stays the same).
    let typed = poslens::tasks::input::parse(TaskKind::Recall, "s3=v1 s7=v4 s9=v2 ? s7").unwrap();
    let given = protocol::GivenSample {
        tokens: typed.tokens.clone(),
        answer_positions: typed.answer_positions.clone(),
    };
    let Reply::Run(mine) = reply(
        &c,
        Request::Run(LabJob {
            probe: false,
            given: Some(given),
            ..job.clone()
        }),
    ) else {
        panic!("expected a run")
    };
    assert_eq!(mine.trace, pollster::block_on(ev.trace_given(typed)).unwrap());
    assert_eq!((mine.trace.len, mine.score), (10, r.score));
    // A sample with a token outside the vocabulary is refused, not run.
    let outside = poslens::tasks::Sample {
        tokens: vec![1, 5000, 2, 5, 6, 7],
        answer_positions: vec![4],
    };
    assert!(pollster::block_on(ev.trace_given(outside)).is_err());
}
