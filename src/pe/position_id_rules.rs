//! The id rules that need more than a running counter: Uni-Encoder's restart, PINE's
//! importance order, LongHeads' chunk selection (see `position_ids` for the papers), and the
//! shared helper that turns per-token ids and a visibility rule into distances.

use super::{Segment, SegmentKind};
use crate::rng::SplitMix64;

pub(super) type Parts = (Vec<f64>, Vec<bool>, Vec<f64>);

/// Per-token ids with a visibility rule; distance `p_m − p_n`.
pub(super) fn plain_like(n: usize, ids: Vec<f64>, visible: impl Fn(usize, usize) -> bool) -> Parts {
    let mut vis = vec![false; n * n];
    let mut dist = vec![0.0; n * n];
    for m in 0..n {
        for k in 0..n {
            if visible(m, k) {
                vis[m * n + k] = true;
                dist[m * n + k] = ids[m] - ids[k];
            }
        }
    }
    (ids, vis, dist)
}

/// Uni-Encoder: the context is everything before the first candidate; each candidate restarts at
/// the id after the context and sees the context and itself only; later tokens see everything.
pub(super) fn restart(segments: &[Segment], segment_of: &[usize], kinds: &[SegmentKind]) -> Parts {
    let n = kinds.len();
    let first_cand = segments.iter().position(|s| s.kind == SegmentKind::Candidate);
    let mut ids = Vec::with_capacity(n);
    let mut next = 0.0f64;
    let mut restart_at = None;
    let mut max_id = -1.0f64;
    for (i, s) in segments.iter().enumerate() {
        let is_cand = s.kind == SegmentKind::Candidate && first_cand.is_some_and(|f| i >= f);
        if is_cand {
            let start = *restart_at.get_or_insert(next);
            for j in 0..s.len {
                ids.push(start + j as f64);
            }
        } else {
            if restart_at.is_some() {
                next = max_id + 1.0;
            }
            for _ in 0..s.len {
                ids.push(next);
                next += 1.0;
            }
        }
        max_id = ids.iter().copied().fold(max_id, f64::max);
    }
    let is_cand = |t: usize| kinds[t] == SegmentKind::Candidate && first_cand.is_some_and(|f| segment_of[t] >= f);
    plain_like(n, ids, |m, k| {
        k <= m && !(is_cand(m) && is_cand(k) && segment_of[m] != segment_of[k])
    })
}

/// A seeded stand-in score in [0, 1) for (`a`, `b`): PINE's importance of a document, LongHeads'
/// `q · mean(K_chunk)` of a chunk for a head.
pub(super) fn stand_in_score(seed: u64, a: u64, b: u64) -> f64 {
    let mut r = SplitMix64::new(seed ^ a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
    r.next_open01()
}

/// PINE: documents are laid out by importance (least important first, the most important
/// closest to what follows); attention between different documents is bidirectional, inside a
/// document it stays causal. Text keeps its order around the document block.
pub(super) fn pine(segments: &[Segment], segment_of: &[usize], kinds: &[SegmentKind], seed: u64) -> Parts {
    let n = kinds.len();
    let docs: Vec<usize> = (0..segments.len())
        .filter(|&i| segments[i].kind == SegmentKind::Document)
        .collect();
    let mut order = docs.clone();
    order.sort_by(|&a, &b| {
        stand_in_score(seed, a as u64, 0)
            .total_cmp(&stand_in_score(seed, b as u64, 0))
            .then(a.cmp(&b))
    });
    // Id of the first token of every segment: text in order; the documents' block starts where
    // the first document would, and holds the documents in importance order.
    let mut start = vec![0.0f64; segments.len()];
    let mut next = 0.0;
    let mut placed_docs = false;
    for (i, s) in segments.iter().enumerate() {
        if s.kind == SegmentKind::Document {
            if !placed_docs {
                for &d in &order {
                    start[d] = next;
                    next += segments[d].len as f64;
                }
                placed_docs = true;
            }
        } else {
            start[i] = next;
            next += s.len as f64;
        }
    }
    let mut ids = Vec::with_capacity(n);
    for (i, s) in segments.iter().enumerate() {
        for j in 0..s.len {
            ids.push(start[i] + j as f64);
        }
    }
    let is_doc = |t: usize| kinds[t] == SegmentKind::Document;
    plain_like(n, ids, |m, k| {
        if is_doc(m) && is_doc(k) && segment_of[m] != segment_of[k] {
            true
        } else {
            k <= m
        }
    })
}

/// LongHeads for one head: for each query, the chunks holding its visible keys are the first,
/// the local one (holding the query) and the `keep − 2` best of the rest by the stand-in score;
/// the kept keys are numbered contiguously.
pub(super) fn long_heads(n: usize, chunk: usize, keep: usize, head: usize, seed: u64) -> Parts {
    let mut vis = vec![false; n * n];
    let mut dist = vec![0.0; n * n];
    let mut last_ids = vec![0.0; n];
    for m in 0..n {
        let local = m / chunk;
        let mut middle: Vec<usize> = (1..local).collect();
        middle.sort_by(|&a, &b| {
            stand_in_score(seed, head as u64, b as u64)
                .total_cmp(&stand_in_score(seed, head as u64, a as u64))
                .then(a.cmp(&b))
        });
        middle.truncate(keep.saturating_sub(2));
        let mut kept = vec![0usize];
        kept.extend(middle);
        if local > 0 {
            kept.push(local);
        }
        kept.sort_unstable();
        kept.dedup();
        let mut pos = vec![f64::NAN; m + 1];
        let mut next = 0.0;
        for &c in &kept {
            for p in &mut pos[c * chunk..((c + 1) * chunk).min(m + 1)] {
                *p = next;
                next += 1.0;
            }
        }
        for (k, p) in pos.iter().enumerate() {
            if p.is_finite() {
                vis[m * n + k] = true;
                dist[m * n + k] = pos[m] - p;
            }
        }
        if m + 1 == n {
            for k in 0..n {
                last_ids[k] = if pos[k].is_finite() { pos[k] } else { f64::NAN };
            }
        }
    }
    // Hidden tokens have no id for the last query: shown as gaps; stored as −1.
    for id in &mut last_ids {
        if !id.is_finite() {
            *id = -1.0;
        }
    }
    (last_ids, vis, dist)
}
