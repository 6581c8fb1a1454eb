//! Seeded algorithmic tasks the tiny models are trained and evaluated on.
//!
//! Both tasks follow Kazemnejad, Padhi, Natesan Ramamurthy, Das & Reddy 2023, "The Impact of
//! Positional Encoding on Length Generalization in Transformers": train on sequences up to a
//! length `L_train`, then test at 1× … 8× that length. Sequences start with `BOS`; the model is
//! scored only on the answer span, reading its prediction for token `t + 1` at position `t`
//! (teacher forcing — with all earlier answer tokens correct, this is what greedy decoding
//! would produce, so exact match is the same either way).
//!
//! Pure Rust (no egui, no burn): a [`Sample`] is a token vector plus the answer positions.

pub mod copy;
pub mod input;
pub mod recall;

use serde::{Deserialize, Serialize};

use crate::pe::position_ids::{Segment, SegmentKind};
use crate::rng::SplitMix64;

/// Padding (never produced by the tasks; reserved).
pub const PAD: u32 = 0;
/// Beginning of sequence.
pub const BOS: u32 = 1;
/// Separator between the input and the part the model must produce.
pub const SEP: u32 = 2;
/// Number of content symbols (keys in recall, characters in copy).
pub const SYMBOLS: usize = 128;
/// First content-symbol id.
pub const SYMBOL0: u32 = 3;
/// Number of value tokens (recall only).
pub const VALUES: usize = 16;
/// First value-token id.
pub const VALUE0: u32 = SYMBOL0 + SYMBOLS as u32;
/// Vocabulary size shared by every task and model.
pub const VOCAB: usize = VALUE0 as usize + VALUES;

/// Errors for task parameters supplied by a user (CLI flags, URL state).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TaskError {
    #[error("length {len} is outside {min}..={max} for the {task} task")]
    Length {
        task: &'static str,
        len: usize,
        min: usize,
        max: usize,
    },
    #[error("unknown task '{0}' (expected copy or recall)")]
    Unknown(String),
}

/// Which task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Reproduce a string after a separator ([`copy`]).
    #[default]
    Copy,
    /// Associative recall: the value stored under a queried key ([`recall`]).
    Recall,
}

impl TaskKind {
    pub const ALL: [TaskKind; 2] = [TaskKind::Copy, TaskKind::Recall];

    /// Key used in file names, URLs and CLI flags.
    pub fn key(self) -> &'static str {
        match self {
            TaskKind::Copy => "copy",
            TaskKind::Recall => "recall",
        }
    }

    /// Human label.
    pub fn label(self) -> &'static str {
        match self {
            TaskKind::Copy => "Copy",
            TaskKind::Recall => "Associative recall",
        }
    }

    pub fn from_key(key: &str) -> Result<Self, TaskError> {
        Self::ALL
            .into_iter()
            .find(|t| t.key() == key)
            .ok_or_else(|| TaskError::Unknown(key.to_string()))
    }

    /// Shortest sequence length the task can produce.
    pub fn min_len(self) -> usize {
        match self {
            TaskKind::Copy => copy::MIN_LEN,
            TaskKind::Recall => recall::MIN_LEN,
        }
    }

    /// Longest sequence length (limited by the distinct symbols available).
    pub fn max_len(self) -> usize {
        match self {
            TaskKind::Copy => copy::MAX_LEN,
            TaskKind::Recall => recall::MAX_LEN,
        }
    }

    /// Checks `len` against [`min_len`](Self::min_len)..=[`max_len`](Self::max_len).
    pub fn check_len(self, len: usize) -> Result<(), TaskError> {
        if (self.min_len()..=self.max_len()).contains(&len) {
            Ok(())
        } else {
            Err(TaskError::Length {
                task: self.key(),
                len,
                min: self.min_len(),
                max: self.max_len(),
            })
        }
    }

    /// One sample of length exactly `len` (validated).
    pub fn sample(self, len: usize, rng: &mut SplitMix64) -> Result<Sample, TaskError> {
        self.check_len(len)?;
        Ok(match self {
            TaskKind::Copy => copy::sample(len, rng),
            TaskKind::Recall => recall::sample(len, rng),
        })
    }

    /// The segments of a sample of length `len` (validated), for position-id rules
    /// (`pe::position_ids`): the leading `BOS` (and `SEP` of odd lengths) and the trailing
    /// query are text; the long middle — the string to copy, or the key-value haystack — is
    /// marked `image`: it plays the part of V2PE's visual tokens, the long stretch whose ids a
    /// rule compresses. Copy's answer half (`SEP` + string) is text.
    pub fn segments(self, len: usize) -> Result<Vec<Segment>, TaskError> {
        self.check_len(len)?;
        let head = 1 + len % 2;
        let (middle, tail) = match self {
            // BOS [SEP] s₁…sₙ SEP s₁…sₙ
            TaskKind::Copy => {
                let n = (len - 2) / 2;
                (n, n + 1)
            }
            // BOS [SEP] k₁ v₁ … kₙ vₙ SEP k v
            TaskKind::Recall => (2 * ((len - 4) / 2), 3),
        };
        debug_assert_eq!(head + middle + tail, len);
        Ok(vec![
            Segment::new(SegmentKind::Text, head),
            Segment::new(SegmentKind::Image, middle),
            Segment::new(SegmentKind::Text, tail),
        ])
    }

    /// A batch of `batch` samples, all of length `len`.
    pub fn batch(self, batch: usize, len: usize, rng: &mut SplitMix64) -> Result<Batch, TaskError> {
        let samples = (0..batch)
            .map(|_| self.sample(len, rng))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Batch { len, samples })
    }

    /// A training batch: like [`Self::batch`], except that with `max_queries > 1` each recall
    /// sequence asks `1 ..= max_queries` queries ([`recall::sample_queries`]).
    pub fn training_batch(
        self,
        batch: usize,
        len: usize,
        max_queries: usize,
        rng: &mut SplitMix64,
    ) -> Result<Batch, TaskError> {
        if self != TaskKind::Recall || max_queries <= 1 {
            return self.batch(batch, len, rng);
        }
        self.check_len(len)?;
        let samples = (0..batch)
            .map(|_| {
                let queries = 1 + rng.below(max_queries);
                recall::sample_queries(len, queries, rng)
            })
            .collect();
        Ok(Batch { len, samples })
    }
}

/// One task instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The whole sequence, answer included (what the model reads, teacher-forced).
    pub tokens: Vec<u32>,
    /// Positions `t` whose next-token prediction is scored: the answer is `tokens[t + 1]`.
    pub answer_positions: Vec<usize>,
}

impl Sample {
    /// The expected answer tokens, in order.
    pub fn answers(&self) -> Vec<u32> {
        self.answer_positions.iter().map(|&t| self.tokens[t + 1]).collect()
    }
}

/// Samples of equal length, ready to become one `[batch, len]` tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub len: usize,
    pub samples: Vec<Sample>,
}

impl Batch {
    /// Row-major `[batch, len]` token ids.
    pub fn tokens_flat(&self) -> Vec<i64> {
        self.samples
            .iter()
            .flat_map(|s| s.tokens.iter().map(|&t| t as i64))
            .collect()
    }

    /// Flat indices `b · len + t` of every scored position, and the answers there.
    pub fn answer_index(&self) -> (Vec<i64>, Vec<i64>) {
        let mut idx = Vec::new();
        let mut ans = Vec::new();
        for (b, s) in self.samples.iter().enumerate() {
            for &t in &s.answer_positions {
                idx.push((b * self.len + t) as i64);
                ans.push(s.tokens[t + 1] as i64);
            }
        }
        (idx, ans)
    }
}

/// Accuracy of predictions against a batch.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Score {
    /// Samples whose whole answer span is right.
    pub exact: usize,
    /// Answer tokens that are right.
    pub tokens_right: usize,
    /// Samples scored.
    pub samples: usize,
    /// Answer tokens scored.
    pub tokens: usize,
}

impl Score {
    /// Scores `predicted` (one id per scored position, in [`Batch::answer_index`] order).
    pub fn of(batch: &Batch, predicted: &[i64]) -> Score {
        let mut score = Score::default();
        let mut i = 0;
        for s in &batch.samples {
            let mut all = true;
            for &t in &s.answer_positions {
                let ok = predicted.get(i).is_some_and(|&p| p == s.tokens[t + 1] as i64);
                score.tokens_right += ok as usize;
                all &= ok;
                i += 1;
            }
            score.tokens += s.answer_positions.len();
            score.exact += all as usize;
            score.samples += 1;
        }
        score
    }

    pub fn add(&mut self, other: Score) {
        self.exact += other.exact;
        self.tokens_right += other.tokens_right;
        self.samples += other.samples;
        self.tokens += other.tokens;
    }

    /// Fraction of samples exactly right (0 when nothing was scored).
    pub fn exact_match(&self) -> f64 {
        if self.samples == 0 {
            0.0
        } else {
            self.exact as f64 / self.samples as f64
        }
    }

    /// Fraction of answer tokens right (0 when nothing was scored).
    pub fn token_accuracy(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            self.tokens_right as f64 / self.tokens as f64
        }
    }
}

/// A symbol token.
pub(crate) fn symbol(i: usize) -> u32 {
    SYMBOL0 + i as u32
}

/// Short printable name of a token, for the sample view.
pub fn token_label(t: u32) -> String {
    match t {
        PAD => "·".into(),
        BOS => "⟨bos⟩".into(),
        SEP => "⟨sep⟩".into(),
        t if t < VALUE0 => format!("s{}", t - SYMBOL0),
        t if (t as usize) < VOCAB => format!("v{}", t - VALUE0),
        t => format!("?{t}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_in_range_gives_that_length_and_valid_answers() {
        let mut rng = SplitMix64::new(1);
        for task in TaskKind::ALL {
            for len in task.min_len()..=task.max_len() {
                let s = task.sample(len, &mut rng).unwrap();
                assert_eq!(s.tokens.len(), len, "{task:?} len {len}");
                assert_eq!(s.tokens[0], BOS);
                assert!(s.tokens.iter().all(|&t| (t as usize) < VOCAB && t != PAD));
                assert!(!s.answer_positions.is_empty());
                assert!(s.answer_positions.iter().all(|&t| t + 1 < len));
            }
            assert!(task.sample(task.min_len() - 1, &mut rng).is_err());
            assert!(task.sample(task.max_len() + 1, &mut rng).is_err());
        }
    }

    #[test]
    fn segments_frame_the_long_middle_of_every_sample() {
        for task in TaskKind::ALL {
            for len in task.min_len()..=task.max_len() {
                let segs = task.segments(len).expect("valid length");
                assert_eq!(segs.iter().map(|s| s.len).sum::<usize>(), len, "{task:?} {len}");
                let s = task.sample(len, &mut SplitMix64::new(len as u64)).expect("sample");
                let head = segs[0].len;
                let middle = &s.tokens[head..head + segs[1].len];
                // The head is BOS [SEP]; the middle holds symbols and values only; the tail
                // starts with SEP.
                assert_eq!(s.tokens[0], BOS);
                assert!(middle.iter().all(|&t| t >= SYMBOL0), "{task:?} {len}: {middle:?}");
                assert_eq!(s.tokens[head + segs[1].len], SEP, "{task:?} {len}");
            }
        }
        assert!(TaskKind::Recall.segments(3).is_err());
    }

    #[test]
    fn same_seed_same_batch() {
        for task in TaskKind::ALL {
            let a = task.batch(4, 20, &mut SplitMix64::new(9)).unwrap();
            let b = task.batch(4, 20, &mut SplitMix64::new(9)).unwrap();
            let c = task.batch(4, 20, &mut SplitMix64::new(10)).unwrap();
            assert_eq!(a, b);
            assert_ne!(a, c);
        }
    }

    #[test]
    fn score_counts_exact_and_token_hits() {
        let batch = TaskKind::Copy.batch(2, 8, &mut SplitMix64::new(2)).unwrap();
        let (_, answers) = batch.answer_index();
        let perfect = Score::of(&batch, &answers);
        assert_eq!(perfect.exact_match(), 1.0);
        assert_eq!(perfect.token_accuracy(), 1.0);
        let mut one_wrong = answers.clone();
        one_wrong[0] = -1;
        let s = Score::of(&batch, &one_wrong);
        assert_eq!(s.exact, 1);
        assert_eq!(s.tokens_right, answers.len() - 1);
        assert_eq!(Score::default().exact_match(), 0.0);
    }

    #[test]
    fn answer_index_points_at_the_answers() {
        let batch = TaskKind::Recall.batch(3, 12, &mut SplitMix64::new(4)).unwrap();
        let flat = batch.tokens_flat();
        let (idx, ans) = batch.answer_index();
        for (i, a) in idx.iter().zip(&ans) {
            assert_eq!(flat[*i as usize + 1], *a);
        }
    }

    #[test]
    fn keys_round_trip_and_labels_are_readable() {
        for t in TaskKind::ALL {
            assert_eq!(TaskKind::from_key(t.key()), Ok(t));
        }
        assert!(TaskKind::from_key("sort").is_err());
        assert_eq!(token_label(BOS), "⟨bos⟩");
        assert_eq!(token_label(SYMBOL0 + 5), "s5");
        assert_eq!(token_label(VALUE0 + 2), "v2");
    }
}
