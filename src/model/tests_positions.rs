//! Model tests of edited positions: position ids (V2PE, shared, windowed), the interpolated
//! learned table (LongEmbed) and accuracy by query depth.

use super::*;
use crate::pe::PositionMap;
use crate::tasks::VOCAB;

use super::tests::{cpu, logits, seq, tiny, tokens};

fn logits_with_ids(
    model: &Model,
    cfg: &ModelConfig,
    ids: &[i64],
    layout: &crate::pe::position_ids::IdLayout,
) -> Vec<f32> {
    let device = cpu();
    let pos = Positions::with_ids(cfg, ids.len(), &RopeOptions::default(), Some(layout), &device).unwrap();
    model
        .forward(tokens(ids, &device), &pos, false)
        .logits
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn position_ids_plain_equal_no_ids_and_edited_ids_change_the_output() {
    use crate::pe::position_ids::{IdRule, layout, parse_segments};
    let device = cpu();
    let segs = parse_segments("text:2,image:14,text:4").unwrap();
    let plain = layout(&segs, &IdRule::Plain).unwrap();
    let unit = layout(&segs, &IdRule::V2pe { delta: 1.0 }).unwrap();
    let v2pe = layout(&segs, &IdRule::V2pe { delta: 0.25 }).unwrap();
    let shared = layout(&segs, &IdRule::Shared).unwrap();
    let ids = seq(20, 3);
    for pe in [PeKind::Rope, PeKind::Alibi, PeKind::T5] {
        let cfg = tiny(pe, 2);
        let model = cfg.init_seeded(&device, 9);
        let base = logits(&model, &cfg, &ids, &RopeOptions::default(), &device);
        assert!(
            max_diff(&base, &logits_with_ids(&model, &cfg, &ids, &plain)) < 1e-5,
            "{pe:?} plain ids"
        );
        assert!(
            max_diff(&base, &logits_with_ids(&model, &cfg, &ids, &unit)) < 1e-5,
            "{pe:?} δ = 1"
        );
        // The first two tokens keep their ids, so their logits do not move; later ones do.
        let edited = logits_with_ids(&model, &cfg, &ids, &v2pe);
        assert!(max_diff(&base[..2 * VOCAB], &edited[..2 * VOCAB]) < 1e-5, "{pe:?}");
        // (A freshly initialised T5 bias table is all zeros, so only RoPE and ALiBi move.)
        if pe != PeKind::T5 {
            assert!(max_diff(&base, &edited) > 1e-4, "{pe:?}: V2PE ids change later logits");
        }
        // T5 rounds: V2PE at δ = 1/4 and shared ids need not coincide, but both stay finite.
        let s = logits_with_ids(&model, &cfg, &ids, &shared);
        assert!(s.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn position_ids_are_refused_where_they_mean_nothing() {
    use crate::pe::position_ids::{IdRule, layout, parse_segments};
    let device = cpu();
    let l = layout(&parse_segments("text:8").unwrap(), &IdRule::Plain).unwrap();
    for pe in [PeKind::Nope, PeKind::Learned, PeKind::Sinusoidal] {
        let r = Positions::with_ids(&tiny(pe, 1), 8, &RopeOptions::default(), Some(&l), &device);
        assert!(matches!(r, Err(ModelError::Options(_))), "{pe:?}");
    }
    assert!(Positions::with_ids(&tiny(PeKind::Rope, 1), 9, &RopeOptions::default(), Some(&l), &device).is_err());
    let map = RopeOptions {
        map: PositionMap::ReRope { window: 4 },
        ..RopeOptions::default()
    };
    assert!(Positions::with_ids(&tiny(PeKind::Rope, 1), 8, &map, Some(&l), &device).is_err());
}

#[test]
fn evaluator_runs_windowed_rope_as_rerope_and_refuses_mask_rules() {
    use crate::pe::position_ids::IdRule;
    use crate::tasks::TaskKind;
    let device = cpu();
    let cfg = tiny(PeKind::Rope, 1);
    let model = cfg.init_seeded(&device, 2);
    let run = |rope: &RopeOptions| {
        let ev = eval::Evaluator {
            model: &model,
            config: &cfg,
            task: TaskKind::Recall,
            rope,
            device: &device,
        };
        pollster::block_on(ev.trace_sample(20, 5))
    };
    let windowed = run(&RopeOptions {
        ids: Some(IdRule::Windowed { window: 4 }),
        ..RopeOptions::default()
    })
    .unwrap();
    let rerope = run(&RopeOptions {
        map: PositionMap::ReRope { window: 4 },
        ..RopeOptions::default()
    })
    .unwrap();
    assert_eq!(windowed.attention, rerope.attention);
    for rule in [IdRule::Restart, IdRule::Pine { seed: 0 }] {
        let r = run(&RopeOptions {
            ids: Some(rule),
            ..RopeOptions::default()
        });
        assert!(matches!(r, Err(ModelError::Options(_))), "{rule:?}");
    }
}

#[test]
fn an_interpolated_learned_table_runs_past_max_len_and_equals_lookup_inside_it() {
    use crate::tasks::TaskKind;
    let device = cpu();
    let cfg = tiny(PeKind::Learned, 1);
    let model = cfg.init_seeded(&device, 6);
    let interp = RopeOptions {
        interpolate_learned: true,
        ..RopeOptions::default()
    };
    let run = |rope: &RopeOptions, len: usize| {
        let ev = eval::Evaluator {
            model: &model,
            config: &cfg,
            task: TaskKind::Recall,
            rope,
            device: &device,
        };
        pollster::block_on(ev.trace_sample(len, 3))
    };
    // Inside the table the interpolated rows are the rows: the same attention as a lookup.
    let plain = run(&RopeOptions::default(), 20).unwrap();
    let inside = run(&interp, 20).unwrap();
    for (a, b) in plain.attention.iter().flatten().zip(inside.attention.iter().flatten()) {
        assert!((a - b).abs() < 1e-5);
    }
    // Past max_len (24): a lookup cannot run, the interpolated table can.
    assert!(matches!(
        run(&RopeOptions::default(), 40),
        Err(ModelError::Pe(crate::pe::PeError::PastLearnedTable { .. }))
    ));
    let past = run(&interp, 40).unwrap();
    assert!(past.attention.iter().flatten().all(|x| x.is_finite()));
    // The option is refused where it means nothing, and Positions never silently drops it.
    assert!(Positions::new(&tiny(PeKind::Rope, 1), 8, &interp, &device).is_err());
    assert!(Positions::new(&cfg, 8, &interp, &device).is_err());
}

#[test]
fn accuracy_by_depth_adds_up_to_the_score_on_the_same_samples() {
    use crate::tasks::TaskKind;
    let device = cpu();
    let cfg = tiny(PeKind::Alibi, 1);
    let model = cfg.init_seeded(&device, 8);
    let ev = eval::Evaluator {
        model: &model,
        config: &cfg,
        task: TaskKind::Recall,
        rope: &RopeOptions::default(),
        device: &device,
    };
    let total = pollster::block_on(ev.score_at(20, 40, 5)).unwrap();
    let by = pollster::block_on(ev.score_by_depth(20, 40, 5, 4)).unwrap();
    assert_eq!(by.len(), 4);
    assert_eq!(by.iter().map(|s| s.samples).sum::<usize>(), total.samples);
    assert_eq!(by.iter().map(|s| s.exact).sum::<usize>(), total.exact);
    assert!(
        by.iter().all(|s| s.samples > 0),
        "40 uniform queries reach every quarter"
    );
    let copy = eval::Evaluator {
        task: TaskKind::Copy,
        ..ev
    };
    assert!(pollster::block_on(copy.score_by_depth(20, 4, 5, 4)).is_err());
    assert!(pollster::block_on(ev.score_by_depth(20, 4, 5, 0)).is_err());
}
