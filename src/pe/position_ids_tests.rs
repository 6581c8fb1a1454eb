use super::*;

fn seg(spec: &str) -> Vec<Segment> {
    parse_segments(spec).expect("valid segments")
}

#[test]
fn segments_parse_and_print_round_trip() {
    let s = seg("text:16, image:64@0.25,text:16,doc:8,cand:4");
    assert_eq!(s.len(), 5);
    assert_eq!(
        s[1],
        Segment {
            kind: SegmentKind::Image,
            len: 64,
            step: Some(0.25)
        }
    );
    assert_eq!(s[3].kind, SegmentKind::Document);
    assert_eq!(s[4].kind, SegmentKind::Candidate);
    assert_eq!(parse_segments(&segments_to_string(&s)).expect("round trip"), s);
    assert_eq!(seg("image:4@1/8")[0].step, Some(0.125));
}

#[test]
fn bad_segments_are_errors_naming_the_problem() {
    for bad in [
        "",
        "text",
        "text:x",
        "video:3",
        "text:0",
        "image:4@0",
        "image:4@2",
        "image:4@nan",
        "text:3000",
    ] {
        let e = parse_segments(bad).expect_err(bad);
        assert!(matches!(e, PeError::InvalidParameter { .. }), "{bad}: {e}");
    }
    let many = vec!["text:1"; MAX_SEGMENTS + 1].join(",");
    assert!(parse_segments(&many).is_err());
}

#[test]
fn plain_ids_count_up_and_are_causal() {
    let l = layout(&seg("text:3,image:4"), &IdRule::Plain).expect("layout");
    assert_eq!(l.ids, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert!(l.visible(6, 0) && l.visible(3, 3) && !l.visible(2, 3));
    assert_eq!(l.distance(6, 2), 4.0);
    assert_eq!(l.visible_intervals(4), vec![[0, 4]]);
    assert_eq!(l.max_distance(), 6.0);
}

#[test]
fn v2pe_steps_images_by_delta_and_text_by_one() {
    // Ge et al. 2024: p_i = p_{i−1} + 1 for text, + δ for visual tokens.
    let l = layout(&seg("text:2,image:4,text:2"), &IdRule::V2pe { delta: 0.25 }).expect("layout");
    assert_eq!(l.ids, vec![0.0, 1.0, 2.0, 2.25, 2.5, 2.75, 3.0, 4.0]);
    // A segment's own step wins over the rule's δ.
    let l = layout(&seg("text:1,image:3@0.5,image:2"), &IdRule::V2pe { delta: 1.0 / 256.0 }).expect("layout");
    assert_eq!(l.ids, vec![0.0, 1.0, 1.5, 2.0, 2.5, 2.5 + 1.0 / 256.0]);
    // 4× the tokens with δ = 1/4 spans the ids of the plain layout of a quarter of them.
    let long = layout(&seg("image:128"), &IdRule::V2pe { delta: 0.25 }).expect("layout");
    assert_eq!(long.max_id(), 127.0 * 0.25);
    assert!(long.max_distance() < 32.0);
    assert!(layout(&seg("text:1"), &IdRule::V2pe { delta: 0.001 }).is_err());
}

#[test]
fn mousi_shares_one_id_per_image() {
    let l = layout(&seg("text:2,image:3,text:1,image:2"), &IdRule::Shared).expect("layout");
    assert_eq!(l.ids, vec![0.0, 1.0, 2.0, 2.0, 2.0, 3.0, 4.0, 4.0]);
    assert_eq!(l.distance(4, 2), 0.0, "tokens of one image are at distance 0");
    assert!(l.visible(4, 2) && !l.visible(2, 4), "still causal");
}

#[test]
fn uni_encoder_restarts_candidates_and_hides_them_from_each_other() {
    let l = layout(&seg("text:4,cand:3,cand:3,text:2"), &IdRule::Restart).expect("layout");
    assert_eq!(l.ids, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 4.0, 5.0, 6.0, 7.0, 8.0]);
    // Second candidate (tokens 7..=9) sees the context and itself, not the first candidate.
    assert_eq!(l.visible_intervals(9), vec![[0, 3], [7, 9]]);
    // The text after the candidates sees everything before it.
    assert_eq!(l.visible_intervals(11), vec![[0, 11]]);
    // Both candidates are at the same distance from the context.
    assert_eq!(l.distance(4, 3), l.distance(7, 3));
}

#[test]
fn pine_orders_documents_by_importance_and_opens_attention_between_them() {
    let segs = seg("text:2,doc:3,doc:3,doc:3,text:2");
    let l = layout(&segs, &IdRule::Pine { seed: 7 }).expect("layout");
    // The documents' block holds ids 2..=10 in some order of whole documents; text keeps its place.
    assert_eq!(&l.ids[..2], &[0.0, 1.0]);
    assert_eq!(&l.ids[11..], &[11.0, 12.0]);
    let mut starts: Vec<f64> = (0..3).map(|d| l.ids[2 + 3 * d]).collect();
    for d in 0..3 {
        assert_eq!(
            l.ids[2 + 3 * d + 2] - l.ids[2 + 3 * d],
            2.0,
            "a document's ids stay contiguous"
        );
    }
    starts.sort_by(f64::total_cmp);
    assert_eq!(starts, vec![2.0, 5.0, 8.0]);
    // The order follows the stand-in importance: least important first (farthest from the query).
    let imp: Vec<f64> = (1..=3).map(|i| stand_in_score(7, i as u64, 0)).collect();
    let most = (0..3)
        .max_by(|&a, &b| imp[a].total_cmp(&imp[b]))
        .expect("three documents");
    assert_eq!(
        l.ids[2 + 3 * most],
        8.0,
        "the most important document sits next to the query"
    );
    // Bidirectional between documents, causal inside one and for text.
    assert!(
        l.visible(2, 8) && l.visible(8, 2),
        "first token of doc 1 sees the last of doc 3"
    );
    assert!(!l.visible(2, 3), "inside a document attention stays causal");
    assert!(!l.visible(1, 2) && l.visible(12, 5));
    // Another seed can give another order, but always the same set of ids.
    let other = layout(&segs, &IdRule::Pine { seed: 8 }).expect("layout");
    let mut a = l.ids.clone();
    let mut b = other.ids.clone();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    assert_eq!(a, b);
}

#[test]
fn longheads_keeps_first_local_and_top_chunks_with_contiguous_ids() {
    let (chunk, keep) = (4, 3);
    let n = 32;
    let rule = IdRule::LongHeads {
        chunk,
        keep,
        head: 1,
        seed: 3,
    };
    let l = layout(&seg(&format!("text:{n}")), &rule).expect("layout");
    for m in 0..n {
        let seen: Vec<usize> = (0..n).filter(|&k| l.visible(m, k)).collect();
        // Never more than keep × chunk keys, always the first chunk and the query itself.
        assert!(seen.len() <= keep * chunk, "query {m} sees {}", seen.len());
        assert!(seen.contains(&0) && seen.contains(&m));
        assert!(seen.iter().all(|&k| k <= m));
        // Distances are contiguous ids: the nearest kept key before m is at distance 1, and the
        // farthest at (kept keys − 1).
        let max = seen.iter().map(|&k| l.distance(m, k)).fold(0.0, f64::max);
        assert_eq!(max, (seen.len() - 1) as f64);
    }
    // For the last query, the ids of kept tokens are 0..k·l−1 and the rest are −1 (hidden).
    let kept: Vec<f64> = l.ids.iter().copied().filter(|&i| i >= 0.0).collect();
    assert_eq!(kept, (0..keep * chunk).map(|i| i as f64).collect::<Vec<_>>());
    // Heads choose different chunks (stand-in scores per head).
    let chosen = |head| {
        let l = layout(
            &seg("text:64"),
            &IdRule::LongHeads {
                chunk,
                keep: 4,
                head,
                seed: 3,
            },
        )
        .expect("layout");
        (0..64).filter(|&k| l.visible(63, k)).collect::<Vec<_>>()
    };
    assert!((0..8).any(|h| chosen(h) != chosen(0)));
    assert!(
        layout(
            &seg("text:4"),
            &IdRule::LongHeads {
                chunk: 0,
                keep: 3,
                head: 0,
                seed: 0
            }
        )
        .is_err()
    );
    assert!(
        layout(
            &seg("text:4"),
            &IdRule::LongHeads {
                chunk: 2,
                keep: 1,
                head: 0,
                seed: 0
            }
        )
        .is_err()
    );
}

#[test]
fn windowed_rope_clips_distances_at_the_window() {
    let l = layout(&seg("text:20"), &IdRule::Windowed { window: 5 }).expect("layout");
    assert_eq!(l.distance(19, 17), 2.0);
    assert_eq!(l.distance(19, 0), 5.0);
    assert_eq!(l.max_distance(), 5.0);
    assert_eq!(l.ids[19], 19.0, "ids stay plain; only the distance is clipped");
    assert!(layout(&seg("text:2"), &IdRule::Windowed { window: 0 }).is_err());
}

#[test]
fn only_id_rules_run_on_trained_models() {
    assert!(IdRule::V2pe { delta: 0.5 }.ids_only() && IdRule::Shared.ids_only());
    assert!(!IdRule::Restart.ids_only() && !IdRule::Pine { seed: 0 }.ids_only());
}

#[test]
fn angle_coverage_counts_the_pairs_that_leave_their_trained_range() {
    let inv: Vec<f64> = (0..8).map(|i| 10_000f64.powf(-(2.0 * i as f64) / 16.0)).collect();
    // Inside the training span nothing is new.
    let c = angle_coverage(&inv, 32, 31.0).expect("coverage");
    assert_eq!(c.unseen_pairs(), 0);
    // 4× longer: exactly the pairs whose training angles did not wrap the circle are new.
    let c = angle_coverage(&inv, 32, 127.0).expect("coverage");
    let expected = inv.iter().filter(|t| 31.0 * *t < std::f64::consts::TAU).count();
    assert_eq!(c.unseen_pairs(), expected);
    assert!(expected > 0 && expected < 8);
    assert!(!c.unseen[0], "the fastest pair wraps within 32 positions");
    // V2PE with δ = 1/4 brings 128 tokens back inside: nothing new.
    let v2pe = layout(&seg("text:1,image:120,text:1"), &IdRule::V2pe { delta: 0.25 }).expect("layout");
    assert_eq!(
        angle_coverage(&inv, 32, v2pe.max_distance())
            .expect("coverage")
            .unseen_pairs(),
        0
    );
    assert!(angle_coverage(&inv, 0, 1.0).is_err());
    assert!(angle_coverage(&inv, 32, f64::NAN).is_err());
}

#[test]
fn rules_parse_and_print_round_trip() {
    for text in [
        "plain",
        "v2pe:0.125",
        "shared",
        "restart",
        "pine:7",
        "longheads:8:4:2",
        "windowed:16",
    ] {
        let rule = parse_rule(text).expect(text);
        assert_eq!(rule_to_string(&rule), text);
        assert_eq!(parse_rule(&rule_to_string(&rule)).expect("round trip"), rule);
    }
    assert_eq!(parse_rule("v2pe").expect("default"), IdRule::V2pe { delta: 0.25 });
    assert_eq!(
        parse_rule("v2pe:1/16").expect("fraction"),
        IdRule::V2pe { delta: 0.0625 }
    );
    assert_eq!(
        parse_rule("longheads:4").expect("defaults"),
        IdRule::LongHeads {
            chunk: 4,
            keep: 4,
            head: 0,
            seed: 0
        }
    );
    for bad in [
        "",
        "v3pe",
        "v2pe:0",
        "v2pe:abc",
        "plain:1",
        "windowed:0",
        "windowed:-3",
        "longheads:8:1",
        "pine:1:2",
    ] {
        assert!(parse_rule(bad).is_err(), "{bad}");
    }
}
