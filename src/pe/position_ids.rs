//! Positions are data: rules that decide *which position id* each token gets, and which keys each
//! query may see, for a sequence made of segments (text, image, document, candidate).
//!
//! Every relative scheme consumes only the ids `p_i` (RoPE: angle `p_i·θ_k`; ALiBi: distance
//! `p_m − p_n`; T5: bucket of `round(p_n − p_m)`), so editing ids is a lever of its own:
//!
//! * **V2PE** — Ge et al. 2024, "V2PE: Improving Multimodal Long-Context Capability of
//!   Vision-Language Models with Variable Visual Position Encoding": text advances by 1, visual
//!   tokens by `δ < 1` (`δ ∈ {1, 1/2, …, 1/256}`), so a long input stays inside trained ids.
//! * **Shared ids** — Fan et al. 2024, "MouSi: Poly-Visual-Expert Vision-Language Models": all
//!   tokens of one image share one id.
//! * **Restart** — Song et al. 2023, "Uni-Encoder": every candidate restarts at the id right after
//!   the context, and candidates do not see each other.
//! * **PINE** — Wang et al. 2024, "Eliminating Position Bias of Language Models: A Mechanistic
//!   Approach": attention *between* documents is bidirectional (inside one it stays causal) and
//!   documents get ids by importance, the most important closest to the query.
//! * **LongHeads** — Lu et al. 2024, "LongHeads: Multi-Head Attention is Secretly a Long Context
//!   Processor": chunks of `l` tokens; every head keeps the first chunk, the local one and its
//!   top-scoring chunks by `q · mean(K_chunk)`; kept chunks get contiguous ids `0 … k·l − 1`.
//! * **Windowed RoPE** — A²ATS (He et al. 2025, "A²ATS: Retrieval-Based KV Cache Reduction via
//!   Windowed Rotary Position Embedding and Query-Aware Vector Quantization"): exact relative
//!   positions inside a window `w`, `min(m − n, w)` beyond — ReRoPE's map (Su 2023), motivated
//!   by a position-independent KV cache.
//!
//! Content-dependent choices (PINE's importance, LongHeads' chunk scores) need token content;
//! here they come from a seeded stand-in score per segment / chunk and head, stated as such in
//! the UI. Everything is causal unless a rule says otherwise.

use serde::{Deserialize, Serialize};

use super::PeError;

/// Most tokens a segment layout may have (a layout stores `n²` visibilities and distances).
pub const MAX_TOKENS: usize = 2048;
/// Most segments in a layout.
pub const MAX_SEGMENTS: usize = 64;
/// Smallest V2PE step (the paper samples `δ` from 1 down to 1/256).
pub const MIN_DELTA: f64 = 1.0 / 256.0;

/// What a segment holds. Rules treat kinds differently (V2PE steps images by `δ`, MouSi shares
/// an image's id, Uni-Encoder restarts candidates, PINE reorders documents).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    Text,
    Image,
    Document,
    Candidate,
}

impl SegmentKind {
    pub const ALL: [SegmentKind; 4] = [Self::Text, Self::Image, Self::Document, Self::Candidate];

    pub fn key(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Image => "image",
            Self::Document => "document",
            Self::Candidate => "candidate",
        }
    }

    /// `text`, `image` (or `img`), `document` (or `doc`), `candidate` (or `cand`).
    pub fn from_key(key: &str) -> Option<Self> {
        match key {
            "text" => Some(Self::Text),
            "image" | "img" => Some(Self::Image),
            "document" | "doc" => Some(Self::Document),
            "candidate" | "cand" => Some(Self::Candidate),
            _ => None,
        }
    }
}

/// One run of tokens of one kind; `step` is its V2PE increment if set (`image:64@0.25`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub kind: SegmentKind,
    pub len: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<f64>,
}

impl Segment {
    pub fn new(kind: SegmentKind, len: usize) -> Self {
        Self { kind, len, step: None }
    }
}

/// Parse `text:16,image:64@0.25,text:16` (kind:length, optional `@δ`).
pub fn parse_segments(spec: &str) -> Result<Vec<Segment>, PeError> {
    let allowed = "comma-separated kind:length[@step], kind one of text, image, document, candidate";
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, rest) = part
            .split_once(':')
            .ok_or_else(|| PeError::invalid("segments", part, allowed))?;
        let kind = SegmentKind::from_key(kind.trim()).ok_or_else(|| PeError::invalid("segments", part, allowed))?;
        let (len, step) = match rest.split_once('@') {
            Some((l, s)) => (l, Some(s)),
            None => (rest, None),
        };
        let len: usize = len
            .trim()
            .parse()
            .map_err(|_| PeError::invalid("segments", part, allowed))?;
        let step = step
            .map(|s| parse_step(s.trim()).ok_or_else(|| PeError::invalid("step", s, step_range())))
            .transpose()?;
        out.push(Segment { kind, len, step });
    }
    validate_segments(&out)?;
    Ok(out)
}

/// A step as a decimal (`0.25`) or a fraction (`1/4`).
fn parse_step(s: &str) -> Option<f64> {
    match s.split_once('/') {
        Some((a, b)) => Some(a.trim().parse::<f64>().ok()? / b.trim().parse::<f64>().ok()?),
        None => s.parse().ok(),
    }
}

fn step_range() -> String {
    format!("a number in {MIN_DELTA}..=1 (1/256 … 1)")
}

/// Write segments back in the form [`parse_segments`] reads.
pub fn segments_to_string(segments: &[Segment]) -> String {
    segments
        .iter()
        .map(|s| match s.step {
            Some(d) => format!("{}:{}@{}", s.kind.key(), s.len, d),
            None => format!("{}:{}", s.kind.key(), s.len),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// At least one segment, each 1..=`MAX_TOKENS` long, `MAX_TOKENS` in all, valid steps.
pub fn validate_segments(segments: &[Segment]) -> Result<(), PeError> {
    if segments.is_empty() || segments.len() > MAX_SEGMENTS {
        return Err(PeError::invalid(
            "segments",
            format!("{} segments", segments.len()),
            format!("1..={MAX_SEGMENTS} segments"),
        ));
    }
    let mut total = 0usize;
    for s in segments {
        if s.len == 0 {
            return Err(PeError::invalid(
                "segments",
                format!("{}:0", s.kind.key()),
                "segments of at least 1 token",
            ));
        }
        total = total.saturating_add(s.len);
        if let Some(d) = s.step {
            check_delta("step", d)?;
        }
    }
    if total > MAX_TOKENS {
        return Err(PeError::invalid(
            "segments",
            format!("{total} tokens"),
            format!("at most {MAX_TOKENS} tokens in all"),
        ));
    }
    Ok(())
}

fn check_delta(name: &'static str, d: f64) -> Result<(), PeError> {
    if !d.is_finite() || !(MIN_DELTA..=1.0).contains(&d) {
        return Err(PeError::invalid(name, d, step_range()));
    }
    Ok(())
}

/// How ids (and visibility) follow from the segments.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum IdRule {
    /// `0, 1, 2, …` for every token.
    Plain,
    /// V2PE: text +1, images +`delta` (or their own `@step`).
    V2pe { delta: f64 },
    /// MouSi: all tokens of an image share one id.
    Shared,
    /// Uni-Encoder: candidates restart at the id after the context and do not see each other.
    Restart,
    /// PINE: bidirectional attention between documents, documents re-ordered by importance.
    Pine { seed: u64 },
    /// LongHeads: each head keeps the first, the local and its top chunks, `keep` chunks of
    /// `chunk` tokens in all.
    LongHeads {
        chunk: usize,
        keep: usize,
        head: usize,
        seed: u64,
    },
    /// Windowed RoPE (A²ATS): distance `min(m − n, window)`.
    Windowed { window: usize },
}

impl IdRule {
    /// The rule's key in URLs and the CLI.
    pub fn key(&self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::V2pe { .. } => "v2pe",
            Self::Shared => "shared",
            Self::Restart => "restart",
            Self::Pine { .. } => "pine",
            Self::LongHeads { .. } => "longheads",
            Self::Windowed { .. } => "windowed",
        }
    }

    /// The paper each rule comes from, for labels.
    pub fn paper(&self) -> &'static str {
        match self {
            Self::Plain => "RoFormer (Su et al. 2021)",
            Self::V2pe { .. } => "V2PE (Ge et al. 2024)",
            Self::Shared => "MouSi (Fan et al. 2024)",
            Self::Restart => "Uni-Encoder (Song et al. 2023)",
            Self::Pine { .. } => "PINE (Wang et al. 2024)",
            Self::LongHeads { .. } => "LongHeads (Lu et al. 2024)",
            Self::Windowed { .. } => "A²ATS windowed RoPE (He et al. 2025)",
        }
    }

    /// Whether the rule only changes ids (so a trained 1-D model can run with it unchanged):
    /// plain, V2PE, shared ids and windowed RoPE. The others also change the mask.
    pub fn ids_only(&self) -> bool {
        matches!(
            self,
            Self::Plain | Self::V2pe { .. } | Self::Shared | Self::Windowed { .. }
        )
    }

    pub fn validate(&self) -> Result<(), PeError> {
        match *self {
            Self::V2pe { delta } => check_delta("delta", delta),
            Self::LongHeads { chunk, keep, head, .. } => {
                if chunk == 0 || chunk > MAX_TOKENS {
                    return Err(PeError::invalid("chunk", chunk, format!("1..={MAX_TOKENS}")));
                }
                if !(2..=64).contains(&keep) {
                    return Err(PeError::invalid("keep", keep, "2..=64 chunks (first + local + top)"));
                }
                if head >= 64 {
                    return Err(PeError::invalid("head", head, "0..=63"));
                }
                Ok(())
            }
            Self::Windowed { window } => {
                if window == 0 || window > MAX_TOKENS {
                    return Err(PeError::invalid("window", window, format!("1..={MAX_TOKENS}")));
                }
                Ok(())
            }
            Self::Plain | Self::Shared | Self::Restart | Self::Pine { .. } => Ok(()),
        }
    }
}

/// The rule keys [`parse_rule`] reads, with their optional parameters.
pub const RULE_SYNTAX: &str =
    "plain, v2pe[:δ], shared, restart, pine[:seed], longheads[:chunk[:keep[:head]]], windowed[:w]";

/// Parse a rule: `plain`, `v2pe:0.25` (or `v2pe:1/4`), `shared`, `restart`, `pine:7`,
/// `longheads:8:4:0` (chunk, kept chunks, head), `windowed:16`. Missing parameters take the
/// defaults `δ = 1/4`, seed 0, chunk 8, keep 4, head 0, window 16.
pub fn parse_rule(text: &str) -> Result<IdRule, PeError> {
    let mut parts = text.trim().split(':').map(str::trim);
    let key = parts.next().unwrap_or_default();
    let args: Vec<&str> = parts.collect();
    let bad = || PeError::invalid("rule", text, RULE_SYNTAX);
    let num = |i: usize, default: usize| -> Result<usize, PeError> {
        args.get(i).map_or(Ok(default), |a| a.parse().map_err(|_| bad()))
    };
    let max_args = match key {
        "plain" | "shared" | "restart" => 0,
        "v2pe" | "pine" | "windowed" => 1,
        "longheads" => 3,
        _ => return Err(bad()),
    };
    if args.len() > max_args {
        return Err(bad());
    }
    let rule = match key {
        "plain" => IdRule::Plain,
        "shared" => IdRule::Shared,
        "restart" => IdRule::Restart,
        "v2pe" => IdRule::V2pe {
            delta: match args.first() {
                Some(a) => parse_step(a).ok_or_else(bad)?,
                None => 0.25,
            },
        },
        "pine" => IdRule::Pine {
            seed: num(0, 0)? as u64,
        },
        "longheads" => IdRule::LongHeads {
            chunk: num(0, 8)?,
            keep: num(1, 4)?,
            head: num(2, 0)?,
            seed: 0,
        },
        _ => IdRule::Windowed { window: num(0, 16)? },
    };
    rule.validate()?;
    Ok(rule)
}

/// The text form [`parse_rule`] reads.
pub fn rule_to_string(rule: &IdRule) -> String {
    match *rule {
        IdRule::Plain | IdRule::Shared | IdRule::Restart => rule.key().to_owned(),
        IdRule::V2pe { delta } => format!("v2pe:{delta}"),
        IdRule::Pine { seed } => format!("pine:{seed}"),
        IdRule::LongHeads { chunk, keep, head, .. } => format!("longheads:{chunk}:{keep}:{head}"),
        IdRule::Windowed { window } => format!("windowed:{window}"),
    }
}

/// The ids and visibility a rule gives a segment layout.
///
/// `distance(m, n)` is the relative position `p_m − p_n` a query at token `m` uses for key `n`
/// (per query for LongHeads, clipped for windowed RoPE); `ids` are the ids as the last token
/// sees them (what the id strip shows).
#[derive(Clone, Debug, PartialEq)]
pub struct IdLayout {
    pub ids: Vec<f64>,
    /// Segment index of every token.
    pub segment_of: Vec<usize>,
    pub kinds: Vec<SegmentKind>,
    n: usize,
    visible: Vec<bool>,
    distance: Vec<f64>,
}

impl IdLayout {
    /// Tokens.
    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether query `m` sees key `n`.
    pub fn visible(&self, m: usize, n: usize) -> bool {
        m < self.n && n < self.n && self.visible[m * self.n + n]
    }

    /// `p_m − p_n` as query `m` uses it for key `n` (0 where hidden).
    pub fn distance(&self, m: usize, n: usize) -> f64 {
        if m < self.n && n < self.n {
            self.distance[m * self.n + n]
        } else {
            0.0
        }
    }

    /// The visible keys of query `m` as inclusive intervals `[from, to]`.
    pub fn visible_intervals(&self, m: usize) -> Vec<[usize; 2]> {
        let mut out: Vec<[usize; 2]> = Vec::new();
        for n in 0..self.n {
            if self.visible(m, n) {
                match out.last_mut() {
                    Some(last) if last[1] + 1 == n => last[1] = n,
                    _ => out.push([n, n]),
                }
            }
        }
        out
    }

    /// Largest `|p_m − p_n|` over visible pairs: the relative span a model must handle.
    pub fn max_distance(&self) -> f64 {
        (0..self.n * self.n)
            .filter(|&c| self.visible[c])
            .map(|c| self.distance[c].abs())
            .fold(0.0, f64::max)
    }

    /// Largest id (the absolute span).
    pub fn max_id(&self) -> f64 {
        self.ids.iter().copied().fold(0.0, f64::max)
    }
}

/// Apply `rule` to `segments`.
pub fn layout(segments: &[Segment], rule: &IdRule) -> Result<IdLayout, PeError> {
    validate_segments(segments)?;
    rule.validate()?;
    let kinds: Vec<SegmentKind> = segments
        .iter()
        .flat_map(|s| std::iter::repeat_n(s.kind, s.len))
        .collect();
    let segment_of: Vec<usize> = segments
        .iter()
        .enumerate()
        .flat_map(|(i, s)| std::iter::repeat_n(i, s.len))
        .collect();
    let n = kinds.len();
    let causal = |m: usize, k: usize| k <= m;
    let (ids, visible, distance) = match *rule {
        IdRule::Plain => plain_like(n, (0..n).map(|i| i as f64).collect(), causal),
        IdRule::V2pe { delta } => {
            let mut ids = Vec::with_capacity(n);
            let mut next = 0.0;
            for s in segments {
                let step = match s.kind {
                    SegmentKind::Image => s.step.unwrap_or(delta),
                    _ => 1.0,
                };
                for _ in 0..s.len {
                    ids.push(next);
                    next += step;
                }
            }
            plain_like(n, ids, causal)
        }
        IdRule::Shared => {
            let mut ids = Vec::with_capacity(n);
            let mut next = 0.0;
            for s in segments {
                if s.kind == SegmentKind::Image {
                    ids.extend(std::iter::repeat_n(next, s.len));
                    next += 1.0;
                } else {
                    for _ in 0..s.len {
                        ids.push(next);
                        next += 1.0;
                    }
                }
            }
            plain_like(n, ids, causal)
        }
        IdRule::Restart => restart(segments, &segment_of, &kinds),
        IdRule::Pine { seed } => pine(segments, &segment_of, &kinds, seed),
        IdRule::LongHeads {
            chunk,
            keep,
            head,
            seed,
        } => long_heads(n, chunk, keep, head, seed),
        IdRule::Windowed { window } => {
            let ids: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let (_, visible, mut distance) = plain_like(n, ids.clone(), causal);
            for d in &mut distance {
                *d = d.min(window as f64);
            }
            (ids, visible, distance)
        }
    };
    Ok(IdLayout {
        ids,
        segment_of,
        kinds,
        n,
        visible,
        distance,
    })
}

#[path = "position_id_rules.rs"]
mod rules;
#[cfg(test)]
use rules::stand_in_score;
use rules::{long_heads, pine, plain_like, restart};

/// RoPE angle coverage (the V2PE argument): for every pair `i`, the largest angle `Δ·θ_i` seen
/// in training (`Δ ≤ L_train − 1`) and in this input (`Δ ≤ max_distance`). A pair meets angles
/// it never saw iff its training angles did not already wrap the circle (`(L_train − 1)·θ_i <
/// 2π`) and the input's span is longer than the training span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AngleCoverage {
    /// Largest training angle per pair (radians).
    pub trained: Vec<f64>,
    /// Largest angle per pair in this input (radians).
    pub input: Vec<f64>,
    /// Pairs that reach angles unseen in training.
    pub unseen: Vec<bool>,
}

impl AngleCoverage {
    pub fn unseen_pairs(&self) -> usize {
        self.unseen.iter().filter(|&&u| u).count()
    }
}

/// See [`AngleCoverage`]; `inv_freq` is `θ_i` per pair.
pub fn angle_coverage(inv_freq: &[f64], train_len: usize, max_distance: f64) -> Result<AngleCoverage, PeError> {
    if train_len == 0 || train_len > super::MAX_LEN {
        return Err(PeError::invalid(
            "train_len",
            train_len,
            format!("1..={}", super::MAX_LEN),
        ));
    }
    if !max_distance.is_finite() || max_distance < 0.0 {
        return Err(PeError::invalid("max_distance", max_distance, "a finite number >= 0"));
    }
    let span = (train_len - 1) as f64;
    let trained: Vec<f64> = inv_freq.iter().map(|t| span * t).collect();
    let input: Vec<f64> = inv_freq.iter().map(|t| max_distance * t).collect();
    let unseen = trained
        .iter()
        .zip(&input)
        .map(|(&tr, &inp)| tr < std::f64::consts::TAU && inp > tr + 1e-9)
        .collect();
    Ok(AngleCoverage { trained, input, unseen })
}

#[cfg(test)]
#[path = "position_ids_tests.rs"]
mod tests;
