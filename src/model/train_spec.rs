//! What a training run is (plain data: the page's Train lab sends it to the compute worker;
//! `poslens train` builds it from flags) and its learning-rate schedule.

use super::PeKind;
use crate::tasks::TaskKind;

/// What to train.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainSpec {
    pub task: TaskKind,
    pub pe: PeKind,
    pub seed: u64,
    pub steps: usize,
    pub train_len: usize,
    pub batch: usize,
    pub learning_rate: f64,
    /// Transformer blocks.
    pub layers: usize,
    /// How each step's sequence length is drawn (older specs without it: uniform).
    #[serde(default)]
    pub lengths: LengthDraw,
    /// How the weights start (older specs without it: standard).
    #[serde(default)]
    pub init: InitScheme,
    /// Recall only: the most queries a training sequence asks after its separator (each
    /// sequence draws 1 ..= this; [`crate::tasks::recall::sample_queries`]). 1 (older specs):
    /// the evaluation's single-query format only.
    #[serde(default = "one")]
    pub queries: usize,
    /// Weight of an auxiliary loss (0 = none, older specs): a separate linear head, trained
    /// with the model and not shipped, predicts every token's *previous* token from the final
    /// features. See [`crate::model::train::Trainer`].
    #[serde(default)]
    pub aux_previous: f64,
    /// AdamW's ε (older specs: burn's default, 1e-5; PyTorch's is 1e-8).
    #[serde(default = "burn_adam_epsilon")]
    pub adam_epsilon: f64,
}

/// burn's `AdamWConfig` default ε, which every shipped model was trained with.
pub const BURN_ADAM_EPSILON: f64 = 1e-5;

fn burn_adam_epsilon() -> f64 {
    BURN_ADAM_EPSILON
}

fn one() -> usize {
    1
}

/// How a training run initialises the weights (before the seeded values are drawn, every
/// scheme draws the same stream, so only the listed tensors differ).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InitScheme {
    /// PyTorch's defaults: linear weights uniform in `±1/√fan_in`, token embeddings `N(0, 1)`
    /// (see `weights::seeded_init`).
    #[default]
    Standard,
    /// Every head starts with uniform causal attention: the query projection is zero. Uniform
    /// attention is how a model without positional encoding reads position from the causal
    /// mask (the weight on `BOS` is `1/(p+1)`, Kazemnejad et al. 2023, Theorem 1), and
    /// zero-initialised queries are μP's recommendation (Yang et al. 2021, "Tensor Programs V").
    ZeroQuery,
    /// [`Self::ZeroQuery`] plus μP's zero read-out (LM head) and GPT-2's residual scaling: the
    /// attention and MLP output projections start at `1/√(2·layers)` of the standard scale
    /// (Radford et al. 2019), so each block starts close to the identity.
    Mup,
}

impl InitScheme {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "standard" => Ok(Self::Standard),
            "zero-query" => Ok(Self::ZeroQuery),
            "mup" => Ok(Self::Mup),
            other => Err(format!("init {other:?}: expected standard, zero-query or mup")),
        }
    }
}

/// How the trainer draws each step's sequence length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthDraw {
    /// Uniform over the task's minimum … `train_len`, every step (Kazemnejad et al. 2023).
    #[default]
    Uniform,
    /// Sequence-length warm-up (Li, Zhang & He 2022, "The Stability-Efficiency Dilemma";
    /// curriculum learning, Bengio et al. 2009): the longest drawn length grows linearly from
    /// `train_len / 2` to `train_len` over the first 40 % of the steps, and each step draws
    /// uniformly from the upper half of that window (`[longest / 2, longest]`) — short inputs
    /// first, and most of the training where the task is hardest.
    Curriculum,
    /// [`Self::Curriculum`] during its warm-up; after it, each step draws from the top quarter
    /// (`[3·train_len/4, train_len]`): the rest of the training is spent near `train_len`.
    CurriculumTop,
}

impl LengthDraw {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "uniform" => Ok(Self::Uniform),
            "curriculum" => Ok(Self::Curriculum),
            "curriculum-top" => Ok(Self::CurriculumTop),
            other => Err(format!(
                "lengths {other:?}: expected uniform, curriculum or curriculum-top"
            )),
        }
    }

    /// The inclusive range `(shortest, longest)` drawn at `step` of `steps`, for a task whose
    /// shortest input is `min_len` (always `min_len ≤ shortest ≤ longest ≤ train_len`).
    pub fn window(self, step: usize, steps: usize, min_len: usize, train_len: usize) -> (usize, usize) {
        let train_len = train_len.max(min_len);
        match self {
            Self::Uniform => (min_len, train_len),
            Self::Curriculum | Self::CurriculumTop => {
                let ramp = (steps * 2 / 5).max(1);
                let f = (step as f64 / ramp as f64).min(1.0);
                let start = (train_len / 2).max(min_len);
                let longest = start + ((train_len - start) as f64 * f).round() as usize;
                let shortest = if self == Self::CurriculumTop && step >= ramp {
                    longest * 3 / 4
                } else {
                    longest / 2
                };
                (shortest.max(min_len).min(longest), longest.min(train_len))
            }
        }
    }
}

impl TrainSpec {
    /// The settings the shipped models were trained with. Recall needs more steps: its
    /// induction circuit forms suddenly, late in training (the loss sits near 1.7 nats until
    /// then). Sinusoidal APE needed twice the steps for that; NoPE learns recall slowly and
    /// gradually, got the same longest run that fits the 15-minute budget on an idle machine,
    /// and still falls short of 95 % (see README).
    pub fn shipped(task: TaskKind, pe: PeKind) -> Self {
        Self {
            task,
            pe,
            seed: 0,
            steps: match (task, pe) {
                (TaskKind::Copy, _) => 6000,
                (TaskKind::Recall, PeKind::Nope | PeKind::Sinusoidal) => 30_000,
                (TaskKind::Recall, _) => 15_000,
            },
            train_len: 32,
            batch: 32,
            learning_rate: 1e-3,
            layers: 3,
            lengths: LengthDraw::Uniform,
            init: InitScheme::Standard,
            queries: 1,
            aux_previous: 0.0,
            adam_epsilon: BURN_ADAM_EPSILON,
        }
    }
}

/// Warm-up for 5 % of the steps, then cosine decay to 10 %.
pub fn learning_rate(spec: &TrainSpec, step: usize) -> f64 {
    let warm = (spec.steps / 20).max(1);
    if step < warm {
        return spec.learning_rate * (step + 1) as f64 / warm as f64;
    }
    let t = (step - warm) as f64 / (spec.steps - warm).max(1) as f64;
    spec.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

impl TrainSpec {
    /// Sized for a browser tab: a model that learns copy to ≥ 95 % exact match at `L_train`
    /// within about a minute on the CPU path (wasm ndarray) of headless Chromium here. Chosen by
    /// measurement (`poslens train --preset quick`, copy + RoPE, seed 0): 2 layers of d_model 64,
    /// `L_train` 16, batch 32, peak learning rate 1e-2 with the shipped warm-up + cosine schedule:
    /// 1000 steps → 98.6 % exact match natively (512 samples) but 93.8 % in the browser (wasm
    /// ndarray rounds differently, 64 samples), so 1200. 600 steps gave 92 %; batch 16 at this
    /// rate diverged; lr 3e-3 needed more steps (89 % at 1000).
    pub fn quick(task: TaskKind, pe: PeKind) -> Self {
        Self {
            task,
            pe,
            seed: 0,
            steps: 1200,
            train_len: 16,
            batch: 32,
            learning_rate: 1e-2,
            layers: 2,
            lengths: LengthDraw::Uniform,
            init: InitScheme::Standard,
            queries: 1,
            aux_previous: 0.0,
            adam_epsilon: BURN_ADAM_EPSILON,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LengthDraw;

    #[test]
    fn uniform_draws_the_whole_range_at_every_step() {
        for step in [0, 500, 999] {
            assert_eq!(LengthDraw::Uniform.window(step, 1000, 6, 32), (6, 32));
        }
    }

    #[test]
    fn curriculum_grows_from_half_to_full_and_stays_in_the_upper_half() {
        let c = LengthDraw::Curriculum;
        assert_eq!(c.window(0, 1000, 6, 32), (8, 16));
        assert_eq!(c.window(200, 1000, 6, 32), (12, 24));
        assert_eq!(c.window(400, 1000, 6, 32), (16, 32));
        assert_eq!(c.window(999, 1000, 6, 32), (16, 32));
        let mut last = 0;
        for step in 0..1000 {
            let (lo, hi) = c.window(step, 1000, 6, 32);
            assert!(6 <= lo && lo <= hi && hi <= 32, "{step}: {lo}..{hi}");
            assert!(hi >= last, "the longest length never shrinks");
            last = hi;
        }
        // A task whose minimum is above half the training length.
        assert_eq!(c.window(0, 10, 10, 12), (10, 10));
        assert_eq!(c.window(9, 10, 10, 12), (10, 12));
        // One step, and a training length below the task's minimum, stay in range.
        assert_eq!(c.window(0, 1, 6, 32), (8, 16));
        assert_eq!(c.window(0, 10, 6, 4), (6, 6));
    }

    #[test]
    fn curriculum_top_ramps_like_the_curriculum_then_stays_in_the_top_quarter() {
        let (c, t) = (LengthDraw::Curriculum, LengthDraw::CurriculumTop);
        for step in 0..400 {
            assert_eq!(t.window(step, 1000, 6, 32), c.window(step, 1000, 6, 32), "{step}");
        }
        for step in 400..1000 {
            assert_eq!(t.window(step, 1000, 6, 32), (24, 32), "{step}");
        }
        assert_eq!(t.window(9, 10, 10, 12), (10, 12), "never below the task's minimum");
        assert_eq!(t.window(5, 10, 6, 4), (6, 6));
    }

    #[test]
    fn options_parse_and_old_specs_get_the_shipped_defaults() {
        use super::InitScheme;
        assert_eq!(LengthDraw::parse("curriculum"), Ok(LengthDraw::Curriculum));
        assert_eq!(LengthDraw::parse("curriculum-top"), Ok(LengthDraw::CurriculumTop));
        assert!(LengthDraw::parse("zigzag").unwrap_err().contains("uniform, curriculum"));
        assert_eq!(InitScheme::parse("zero-query"), Ok(InitScheme::ZeroQuery));
        assert_eq!(InitScheme::parse("mup"), Ok(InitScheme::Mup));
        assert!(InitScheme::parse("xavier").unwrap_err().contains("standard"));
        let old = r#"{"task":"recall","pe":"nope","seed":0,"steps":10,"train_len":32,"batch":4,"learning_rate":0.001,"layers":3}"#;
        let spec: super::TrainSpec = serde_json::from_str(old).unwrap();
        assert_eq!(spec.lengths, LengthDraw::Uniform);
        assert_eq!(spec.init, InitScheme::Standard);
        assert_eq!((spec.queries, spec.aux_previous), (1, 0.0));
        assert_eq!(spec.adam_epsilon, super::BURN_ADAM_EPSILON);
        let shipped = super::TrainSpec::shipped(crate::tasks::TaskKind::Recall, crate::model::PeKind::Nope);
        assert_eq!(spec.adam_epsilon, shipped.adam_epsilon);
    }
}
