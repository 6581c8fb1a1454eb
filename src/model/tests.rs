//! Model properties: causality, normalised attention, NoPE's permutation invariance, RoPE as in
//! `pe`, weight-file round trips and corruption, trainer determinism.

use burn::tensor::{Device, Int, Tensor, TensorData};

use super::weights::WeightFile;
use super::*;
use crate::pe::{PositionMap, RopeLayout, RopeScaling};
use crate::tasks::VOCAB;

pub(super) fn cpu() -> Device {
    crate::model::cpu_device()
}

pub(super) fn tiny(pe: PeKind, layers: usize) -> ModelConfig {
    ModelConfig {
        d_model: 16,
        n_heads: 2,
        n_layers: layers,
        d_ff: 32,
        max_len: 24,
        ..ModelConfig::tiny(pe, 24)
    }
}

pub(super) fn tokens(ids: &[i64], device: &Device) -> Tensor<2, Int> {
    Tensor::from_data(TensorData::new(ids.to_vec(), [1, ids.len()]), device)
}

pub(super) fn logits(model: &Model, cfg: &ModelConfig, ids: &[i64], opts: &RopeOptions, device: &Device) -> Vec<f32> {
    let pos = Positions::new(cfg, ids.len(), opts, device).unwrap();
    model
        .forward(tokens(ids, device), &pos, false)
        .logits
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

pub(super) fn seq(len: usize, salt: i64) -> Vec<i64> {
    (0..len as i64).map(|i| 3 + (i * 37 + salt * 11) % 120).collect()
}

#[test]
fn changing_a_future_token_never_changes_earlier_logits() {
    let device = cpu();
    for pe in PeKind::ALL {
        let cfg = tiny(pe, 2);
        let model = cfg.init_seeded(&device, 1);
        let a = seq(20, 0);
        let mut b = a.clone();
        b[12] = 100;
        let (la, lb) = (
            logits(&model, &cfg, &a, &RopeOptions::default(), &device),
            logits(&model, &cfg, &b, &RopeOptions::default(), &device),
        );
        let cut = 12 * VOCAB;
        let max_before = la[..cut]
            .iter()
            .zip(&lb[..cut])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        let max_after = la[cut..]
            .iter()
            .zip(&lb[cut..])
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(max_before < 1e-5, "{pe:?}: earlier logits moved by {max_before}");
        assert!(max_after > 1e-3, "{pe:?}: the changed token had no effect at all");
    }
}

#[test]
fn attention_rows_sum_to_one_and_never_look_ahead() {
    let device = cpu();
    let maps = [
        (PeKind::Rope, RopeOptions::default()),
        (
            PeKind::Rope,
            RopeOptions {
                scaling: RopeScaling::Linear { factor: 2.0 },
                map: PositionMap::LmInfinite {
                    n_global: 1,
                    local_window: 5,
                    distance_cap: 4,
                },
                ids: None,
                interpolate_learned: false,
            },
        ),
        (PeKind::Alibi, RopeOptions::default()),
        (PeKind::T5, RopeOptions::default()),
    ];
    for (pe, opts) in maps {
        let cfg = tiny(pe, 2);
        let model = cfg.init_seeded(&device, 2);
        let ids = seq(16, 1);
        let pos = Positions::new(&cfg, 16, &opts, &device).unwrap();
        let out = model.forward(tokens(&ids, &device), &pos, true);
        assert_eq!(out.attention.len(), 2);
        for att in out.attention {
            assert_eq!(att.dims(), [1, 2, 16, 16]);
            let a = att.into_data().try_to_vec::<f32>().unwrap();
            for row in a.chunks(16).enumerate() {
                let (r, vals) = row;
                let m = r % 16;
                let sum: f32 = vals.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "{pe:?} row {r} sums to {sum}");
                assert!(vals[m + 1..].iter().all(|&v| v == 0.0), "{pe:?} row {m} looks ahead");
                if !opts.map.is_identity() {
                    for (n, &v) in vals.iter().enumerate().take(m + 1) {
                        if !opts.map.entry(m, n).visible {
                            assert_eq!(v, 0.0, "hidden cell ({m},{n}) got weight");
                        }
                    }
                }
            }
        }
    }
}

/// With no positional information a single layer sees its prefix as a set: the last position's
/// logits do not depend on the order of the earlier tokens. RoPE breaks this.
#[test]
fn single_layer_nope_is_invariant_to_permuting_the_prefix() {
    let device = cpu();
    let order = seq(12, 2);
    let mut shuffled = order.clone();
    shuffled[..11].reverse();
    shuffled.swap(0, 5);
    let last = |l: Vec<f32>| l[11 * VOCAB..].to_vec();
    for (pe, invariant) in [(PeKind::Nope, true), (PeKind::Rope, false)] {
        let cfg = tiny(pe, 1);
        let model = cfg.init_seeded(&device, 3);
        let a = last(logits(&model, &cfg, &order, &RopeOptions::default(), &device));
        let b = last(logits(&model, &cfg, &shuffled, &RopeOptions::default(), &device));
        let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
        assert_eq!(diff < 1e-4, invariant, "{pe:?}: max |Δ| = {diff}");
    }
}

/// The model's RoPE (rotate-half tensors, scaling, two-rotation maps) scores exactly what the
/// `pe` maths says: q rotated to its (effective) position dotted with k rotated to its own.
#[test]
fn rope_scores_match_the_pe_maths_with_scaling_and_maps() {
    let device = cpu();
    let cfg = tiny(PeKind::Rope, 1);
    let (len, dh) = (12, cfg.head_dim());
    let q: Vec<f32> = (0..len * dh).map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0).collect();
    let k: Vec<f32> = (0..len * dh).map(|i| ((i * 5 % 11) as f32 - 5.0) / 5.0).collect();
    let cases = [
        RopeOptions::default(),
        RopeOptions {
            scaling: RopeScaling::Ntk { factor: 4.0 },
            map: PositionMap::Identity,
            ids: None,
            interpolate_learned: false,
        },
        RopeOptions {
            scaling: RopeScaling::Yarn(crate::pe::YarnParams {
                factor: 4.0,
                original_max_pos: 8,
                ..Default::default()
            }),
            map: PositionMap::ReRope { window: 3 },
            ids: None,
            interpolate_learned: false,
        },
        RopeOptions {
            scaling: RopeScaling::None,
            map: PositionMap::SelfExtend {
                group_size: 2,
                neighbor_window: 3,
            },
            ids: None,
            interpolate_learned: false,
        },
    ];
    for opts in cases {
        let pos = Positions::new(&cfg, len, &opts, &device).unwrap();
        let rope = pos.rope.as_ref().unwrap();
        let t = |v: &[f32]| Tensor::<4>::from_data(TensorData::new(v.to_vec(), [1, 1, len, dh]), &device);
        let got = rope.scores(t(&q), t(&k)).into_data().try_to_vec::<f32>().unwrap();
        let freqs = crate::pe::rope_inv_freq(dh, cfg.rope_base, &opts.scaling, len).unwrap();
        let rot = |v: &[f32], p: f64| {
            let x: Vec<f64> = v.iter().map(|&a| a as f64).collect();
            crate::pe::rope::rotate(&x, p, &freqs.inv_freq, freqs.attention_factor, RopeLayout::RotateHalf).unwrap()
        };
        for m in 0..len {
            for n in 0..=m {
                let (pq, pk) = if opts.map.uses_true_positions(m, n) {
                    (m as f64, n as f64)
                } else {
                    (opts.map.alt_query_pos(m), opts.map.alt_key_pos(n))
                };
                let a = rot(&q[m * dh..(m + 1) * dh], pq);
                let b = rot(&k[n * dh..(n + 1) * dh], pk);
                let want: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
                let g = got[m * len + n] as f64;
                assert!(
                    (g - want).abs() < 1e-4 * (1.0 + want.abs()),
                    "{opts:?} ({m},{n}): {g} vs {want}"
                );
            }
        }
    }
}

#[test]
fn positions_refuse_what_a_model_cannot_do() {
    let device = cpu();
    let learned = tiny(PeKind::Learned, 1);
    assert!(Positions::new(&learned, 24, &RopeOptions::default(), &device).is_ok());
    match Positions::new(&learned, 25, &RopeOptions::default(), &device) {
        Err(ModelError::Pe(crate::pe::PeError::PastLearnedTable {
            position: 24,
            max_len: 24,
        })) => {}
        other => panic!("expected PastLearnedTable, got {other:?}"),
    }
    let opts = RopeOptions {
        scaling: RopeScaling::Linear { factor: 2.0 },
        map: PositionMap::Identity,
        ids: None,
        interpolate_learned: false,
    };
    assert!(matches!(
        Positions::new(&tiny(PeKind::Alibi, 1), 8, &opts, &device),
        Err(ModelError::Options(_))
    ));
    let bad = RopeOptions {
        scaling: RopeScaling::Linear { factor: 0.5 },
        map: PositionMap::Identity,
        ids: None,
        interpolate_learned: false,
    };
    assert!(Positions::new(&tiny(PeKind::Rope, 1), 8, &bad, &device).is_err());
    assert!(Positions::new(&tiny(PeKind::Rope, 1), 0, &RopeOptions::default(), &device).is_err());
}

#[test]
fn weights_round_trip_through_f16_and_corruption_is_reported() {
    let device = cpu();
    for pe in [PeKind::Learned, PeKind::T5, PeKind::Rope] {
        let cfg = tiny(pe, 2);
        let model = cfg.init_seeded(&device, 4);
        let ids = seq(10, 3);
        let before = logits(&model, &cfg, &ids, &RopeOptions::default(), &device);
        let bytes = WeightFile::from_model(&model).unwrap().encode();
        let fresh = cfg.init_seeded(&device, 99);
        let differs = logits(&fresh, &cfg, &ids, &RopeOptions::default(), &device);
        assert!(before.iter().zip(&differs).any(|(a, b)| (a - b).abs() > 1e-2));
        let loaded = WeightFile::decode(&bytes).unwrap().apply(fresh, &device).unwrap();
        let after = logits(&loaded, &cfg, &ids, &RopeOptions::default(), &device);
        let diff = before
            .iter()
            .zip(&after)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 0.05, "{pe:?}: f16 round trip moved logits by {diff}");

        let err = |b: &[u8]| WeightFile::decode(b).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(b"nonsense").contains("bad magic"));
        assert!(err(&bytes[..bytes.len() - 2]).contains("truncated"));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(err(&flipped).contains("checksum"));
        // Weights of another architecture do not fit.
        let other = tiny(if pe == PeKind::Rope { PeKind::T5 } else { PeKind::Rope }, 2).init(&device);
        let wrong = WeightFile::decode(&bytes).unwrap().apply(other, &device);
        assert!(matches!(wrong, Err(ModelError::Weights(_))), "{pe:?}");
    }
    let wider = ModelConfig {
        d_model: 32,
        ..tiny(PeKind::Nope, 1)
    }
    .init(&device);
    let narrow = WeightFile::from_model(&tiny(PeKind::Nope, 1).init(&device)).unwrap();
    let e = narrow
        .apply(wider, &device)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("shape"), "{e}");
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn trainer_is_deterministic_for_a_seed_and_learns() {
    use super::train::{TrainSpec, train};
    let spec = TrainSpec {
        steps: 4,
        batch: 4,
        train_len: 12,
        ..TrainSpec::shipped(crate::tasks::TaskKind::Recall, PeKind::Alibi)
    };
    let a = train(&spec, |_, _| {}).unwrap();
    let b = train(&spec, |_, _| {}).unwrap();
    let c = train(
        &TrainSpec {
            seed: 1,
            ..spec.clone()
        },
        |_, _| {},
    )
    .unwrap();
    assert_eq!(a.losses, b.losses);
    assert!(a.losses.iter().all(|l| l.is_finite()));
    assert_ne!(a.losses, c.losses);
    let wa = WeightFile::from_model(&a.model).unwrap();
    let wb = WeightFile::from_model(&b.model).unwrap();
    assert_eq!(wa, wb, "same seed, same weights");
}

/// The NoPE recipes' options: deterministic, the auxiliary previous-token head adds to the loss
/// and is trained but never exported, multi-query batches train, and a bad ε is refused.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn training_options_are_deterministic_and_the_auxiliary_head_is_not_shipped() {
    use super::train::{InitScheme, LengthDraw, TrainSpec, Trainer, train};
    let plain = TrainSpec {
        steps: 3,
        batch: 4,
        train_len: 16,
        ..TrainSpec::shipped(crate::tasks::TaskKind::Recall, PeKind::Nope)
    };
    let spec = TrainSpec {
        init: InitScheme::ZeroQuery,
        lengths: LengthDraw::CurriculumTop,
        queries: 3,
        aux_previous: 0.5,
        adam_epsilon: 1e-8,
        ..plain.clone()
    };
    let a = train(&spec, |_, _| {}).unwrap();
    let b = train(&spec, |_, _| {}).unwrap();
    assert_eq!(a.losses, b.losses);
    assert!(a.losses.iter().all(|l| l.is_finite()));
    // The auxiliary loss starts at ln(vocab) (a zero head) and is added with weight 0.5.
    let without = train(
        &TrainSpec {
            aux_previous: 0.0,
            ..spec.clone()
        },
        |_, _| {},
    )
    .unwrap();
    let added = a.losses[0] - without.losses[0];
    let expected = 0.5 * (VOCAB as f64).ln();
    assert!((added - expected).abs() < 1e-3, "aux adds {added}, expected {expected}");
    assert_ne!(
        a.losses[1..],
        without.losses[1..],
        "the auxiliary gradient changes training"
    );
    // What is exported has exactly the plain model's tensors.
    let paths = |m: &Model| -> Vec<(String, Vec<usize>)> {
        WeightFile::from_model(m)
            .unwrap()
            .tensors
            .into_iter()
            .map(|(p, s, _)| (p, s))
            .collect()
    };
    let reference = train(&plain, |_, _| {}).unwrap();
    assert_eq!(paths(&a.model), paths(&reference.model));
    let bad = TrainSpec {
        adam_epsilon: 0.0,
        ..plain
    };
    let err = Trainer::new(&bad, super::cpu_device()).err().map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("epsilon")));
}

#[test]
fn config_validation_catches_inconsistent_sizes() {
    assert!(ModelConfig::tiny(PeKind::Rope, 32).validate().is_ok());
    let bad = ModelConfig {
        n_heads: 3,
        ..ModelConfig::tiny(PeKind::Rope, 32)
    };
    assert!(bad.validate().is_err());
    for pe in PeKind::ALL {
        assert_eq!(PeKind::from_key(pe.key()), Some(pe));
    }
}

/// The model's encodings are exactly the registry's `trained` schemes, with the same keys.
#[test]
fn pe_kinds_are_the_registrys_trained_schemes() {
    let from_model: Vec<_> = PeKind::ALL.iter().map(|p| p.scheme()).collect();
    let from_registry: Vec<_> = crate::pe::SchemeKind::ALL
        .into_iter()
        .filter(|k| k.info().trained)
        .collect();
    assert_eq!(from_model, from_registry);
    for p in PeKind::ALL {
        assert_eq!(PeKind::from_key(p.key()), Some(p));
        assert_eq!(p.key(), p.scheme().key());
    }
}

/// Hostile weight files: duplicate paths, NaN values with a valid checksum, absurd shapes.
#[test]
fn crafted_weight_files_are_refused_with_a_reason() {
    let file = |tensors: Vec<(&str, Vec<usize>, Vec<f32>)>| {
        WeightFile {
            tensors: tensors.into_iter().map(|(p, s, v)| (p.to_owned(), s, v)).collect(),
        }
        .encode()
    };
    let err = |b: &[u8]| WeightFile::decode(b).err().map(|e| e.to_string()).unwrap_or_default();
    let ok = file(vec![("a", vec![2], vec![1.0, 2.0]), ("b", vec![1], vec![3.0])]);
    assert!(WeightFile::decode(&ok).is_ok());
    let dup = file(vec![("a", vec![2], vec![1.0, 2.0]), ("a", vec![1], vec![3.0])]);
    assert!(err(&dup).contains("listed twice"), "{}", err(&dup));
    // NaN / infinity survive encode with a correct checksum; decode refuses them.
    let nan = file(vec![("a", vec![2], vec![f32::NAN, 1.0])]);
    assert!(err(&nan).contains("NaN"), "{}", err(&nan));
    let inf = file(vec![("a", vec![1], vec![1.0e6])]); // beyond f16: +inf
    assert!(err(&inf).contains("NaN or infinite"), "{}", err(&inf));
    // A header whose shapes multiply past usize, or past the value cap, is refused up front.
    for shape in ["[4294967296,4294967296]", "[18446744073709551615,2]", "[67108865]"] {
        let header =
            format!(r#"{{"dtype":"f16","checksum":"cbf29ce484222325","tensors":[{{"path":"a","shape":{shape}}}]}}"#);
        let mut bytes = b"PLW1".to_vec();
        bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        assert!(err(&bytes).contains("absurd"), "{shape}: {}", err(&bytes));
    }
}

/// A vocabulary smaller than the tasks' token ids is not a valid model.
#[test]
fn config_needs_the_tasks_vocabulary() {
    let small = ModelConfig {
        vocab: crate::tasks::VOCAB - 1,
        ..tiny(PeKind::Rope, 1)
    };
    assert!(small.validate().is_err());
    assert!(tiny(PeKind::Rope, 1).validate().is_ok());
}

mod fuzz {
    //! Property-based fuzzing of what a hostile file can reach: any bytes, and any single-byte
    //! or truncation mutation of a valid weight file, decode to a clear error or to finite
    //! values — never a panic; any text is refused or accepted as consistent metadata.
    use super::*;
    use proptest::prelude::*;

    fn valid_file() -> Vec<u8> {
        WeightFile {
            tensors: vec![
                ("a.weight".into(), vec![3, 2], vec![0.5, -1.0, 2.0, 0.0, 1.5, -0.25]),
                ("b.bias".into(), vec![2], vec![0.125, 4.0]),
            ],
        }
        .encode()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = WeightFile::decode(&bytes);
            let mut with_magic = b"PLW1".to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = WeightFile::decode(&with_magic);
        }

        #[test]
        fn mutated_weight_files_decode_to_an_error_or_finite_values(
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = valid_file();
            let i = at.index(bytes.len());
            bytes[i] = byte;
            if let Ok(w) = WeightFile::decode(&bytes) {
                prop_assert!(w.tensors.iter().all(|(_, _, v)| v.iter().all(|x| x.is_finite())));
            }
            let short = &bytes[..cut.index(bytes.len())];
            prop_assert!(WeightFile::decode(short).is_err());
        }

        #[test]
        fn metadata_text_never_panics(text in "\\PC{0,200}") {
            let _ = crate::model::ModelMeta::from_json(&text);
        }
    }
}

#[test]
fn init_schemes_change_only_the_tensors_they_name() {
    use super::train_spec::InitScheme;
    let device = cpu();
    let cfg = tiny(PeKind::Nope, 2);
    let tensors = |init| {
        WeightFile::from_model(&cfg.init_seeded_with(&device, 5, init))
            .unwrap()
            .tensors
    };
    let (standard, zero_q, mup) = (
        tensors(InitScheme::Standard),
        tensors(InitScheme::ZeroQuery),
        tensors(InitScheme::Mup),
    );
    let d = cfg.d_model;
    let scale = 1.0 / (2.0 * cfg.n_layers as f32).sqrt();
    let mut seen = [0usize; 3];
    for ((s, z), m) in standard.iter().zip(&zero_q).zip(&mup) {
        let (path, shape, sv) = s;
        assert_eq!((path, shape), (&z.0, &z.1));
        if path.ends_with("qkv.weight") {
            seen[0] += 1;
            let cols = shape[1];
            for (i, ((a, b), c)) in sv.iter().zip(&z.2).zip(&m.2).enumerate() {
                if i % cols < d {
                    assert!(*a != 0.0 || i == 0, "{path}: the standard query is drawn");
                    assert_eq!((*b, *c), (0.0, 0.0), "{path}[{i}]: queries start at zero");
                } else {
                    assert_eq!((a, a), (b, c), "{path}[{i}]: keys and values are untouched");
                }
            }
        } else if path.ends_with("proj.weight") || path.ends_with("fc2.weight") {
            seen[1] += 1;
            assert_eq!(sv, &z.2, "{path}: zero-query leaves the outputs alone");
            for (a, c) in sv.iter().zip(&m.2) {
                assert!(
                    (a * scale - c).abs() < 1e-7,
                    "{path}: mup scales the outputs by {scale}"
                );
            }
        } else if path.starts_with("head") && path.ends_with("weight") {
            seen[2] += 1;
            assert_eq!(sv, &z.2);
            assert!(sv.iter().any(|v| *v != 0.0) && m.2.iter().all(|v| *v == 0.0), "{path}");
        } else {
            assert_eq!(
                (sv, sv),
                (&z.2, &m.2),
                "{path}: other tensors do not depend on the scheme"
            );
        }
    }
    assert_eq!(seen, [2, 4, 1], "every named tensor was checked: {seen:?}");
    // A zero-query model attends uniformly: every head's row is 1/(p+1) on the prefix.
    let model = cfg.init_seeded_with(&device, 5, InitScheme::ZeroQuery);
    let pos = Positions::new(&cfg, 8, &RopeOptions::default(), &device).unwrap();
    let att = model.forward(tokens(&seq(8, 1), &device), &pos, true).attention[0]
        .clone()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    for (i, w) in att.iter().enumerate() {
        let (p, k) = ((i / 8) % 8, i % 8);
        let want = if k <= p { 1.0 / (p + 1) as f32 } else { 0.0 };
        assert!((w - want).abs() < 1e-6, "row {p}, key {k}: {w} ≠ {want}");
    }
}
