//! The compute worker's protocol end to end, natively: the same JSON requests the page sends to
//! its Web Worker go through the in-process server on ndarray, and the answers must equal what
//! the model code computes directly (so the worker adds no error of its own).

use poslens::compute::client::{ComputeClient, WorkerState};
use poslens::compute::protocol::{self, FromWorker, LabJob, PROTOCOL, Reply, Request, WireError};
use poslens::compute::{self, ComputeBackend};
use poslens::model::catalog::{ModelMeta, load_model};
use poslens::model::eval::Evaluator;
use poslens::model::{ModelError, RopeOptions};
use poslens::pe::PeError;

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
    };
    assert!(matches!(reply(&c, Request::Run(job)), Reply::Failed(e) if e.message.contains("not loaded")));
    // Another model's weights under this metadata: refused by the checksum, as from disk.
    let (meta, _) = shipped("copy-alibi");
    let (_, other) = shipped("copy-nope");
    let r = reply(&c, Request::LoadModel { meta, weights: other });
    assert!(matches!(&r, Reply::Failed(e) if e.message.contains("weight")), "{r:?}");
    // Learned APE past its table: still "past the table" (a limit, not a failure) on this side.
    let (meta, weights) = shipped("copy-learned");
    assert!(matches!(
        reply(&c, Request::LoadModel { meta, weights }),
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
