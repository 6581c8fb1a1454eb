//! The positional schemes as values ([`Scheme`]), the token content they act on ([`Content`]),
//! and the one registry of schemes a user can pick ([`SchemeKind`]): key, display name,
//! explanation, paper, per-head parameters and constructor. Views, the CLI and the model
//! (`crate::model::PeKind`, a subset with the same keys) all read this list.

use serde::{Deserialize, Serialize};

use super::kerple::KerpleLog;
use super::position_maps::PositionMap;
use super::scaling::RopeScaling;
use super::sinusoidal::SinusoidalLayout;
use super::t5::{T5Bias, T5Buckets};
use super::{PeError, alibi};

/// Token content feeding q and k (identity projections: `q_n = k_n = x_n`).
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// Every position holds the same token, the all-ones vector (RoFormer's long-term-decay
    /// setting). Relative schemes then give logits that depend only on distance.
    Identical,
    /// Independent random tokens per position (entries uniform, mean 0, variance 1),
    /// reproducible from `seed`.
    Random {
        /// Seed of the generator.
        seed: u64,
    },
    /// `period` random tokens (as [`Content::Random`]) repeated cyclically (`x_n = X[n mod period]`).
    Repeating {
        /// Pattern length, 1..=`n_max`.
        period: usize,
        /// Seed of the generator.
        seed: u64,
    },
    /// Caller-supplied q and k, row-major `[n_max][head_dim]` each.
    Explicit {
        /// Queries.
        q: Vec<f32>,
        /// Keys.
        k: Vec<f32>,
    },
}

/// A positional scheme whose attention logits the views draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Scheme {
    /// No positional signal.
    NoPe,
    /// Sinusoidal absolute encoding added to the token (`q_n = k_n = x_n + PE_n`).
    Sinusoidal {
        /// Table layout (does not change logits, kept for labelling).
        layout: SinusoidalLayout,
    },
    /// T5 bucketed bias for one head.
    T5(T5Bias),
    /// ALiBi with one head's slope (see [`alibi::slopes`]).
    Alibi {
        /// Slope ≥ 0.
        slope: f64,
    },
    /// RoPE with optional frequency scaling and inference-time position map. Dynamic NTK and
    /// LongRoPE see `seq_len = n_max`.
    Rope {
        /// Base `b` > 1.
        base: f64,
        /// Frequency scaling.
        scaling: RopeScaling,
        /// Position map (LM-Infinite, SelfExtend, ReRoPE, …); non-identity maps are causal.
        map: PositionMap,
    },
    /// xPos (meant for causal use: with `causal = false` the key scale grows without bound).
    XPos {
        /// Base `b` > 1.
        base: f64,
        /// Scale base `γ` (512).
        scale_base: f64,
    },
    /// KERPLE logarithmic bias.
    Kerple(KerpleLog),
}

/// Heads offered by the head selector (ALiBi slopes and T5 bias strengths differ per head).
pub const HEADS: usize = 8;

/// Every positional-encoding scheme PosLens knows. The string form (`key`) is the one used by
/// URLs, the CLI and model file names; [`SCHEMES`] holds everything else about each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemeKind {
    Nope,
    Learned,
    Sinusoidal,
    T5,
    Alibi,
    #[default]
    Rope,
    Xpos,
    Kerple,
}

/// One named parameter of a scheme, as the views and the CLI expose it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamInfo {
    pub name: &'static str,
    pub meaning: &'static str,
}

/// Everything about one scheme that is not its maths: the registry entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SchemeInfo {
    pub kind: SchemeKind,
    /// URL / CLI / file-name key.
    pub key: &'static str,
    /// Display name.
    pub title: &'static str,
    /// The paper that introduced it (authors year, title).
    pub paper: &'static str,
    /// Two or three plain sentences on what the reader sees.
    pub explanation: &'static str,
    /// Parameters the views let the user set.
    pub params: &'static [ParamInfo],
    /// Drawable from its formula alone (every scheme but the learned table, which needs weights).
    pub analytic: bool,
    /// One of the tiny trained models' encodings (`crate::model::PeKind`).
    pub trained: bool,
}

const HEAD: ParamInfo = ParamInfo {
    name: "head",
    meaning: "which of the 8 heads (per-head slope / strength)",
};
const BASE: ParamInfo = ParamInfo {
    name: "base",
    meaning: "RoPE base b (θ_i = b^(-2i/d))",
};

/// The registry: one entry per [`SchemeKind`], in [`SchemeKind::ALL`] order.
pub const SCHEMES: [SchemeInfo; 8] = [
    SchemeInfo {
        kind: SchemeKind::Nope,
        key: "nope",
        title: "NoPE",
        paper: "Kazemnejad et al. 2023, “The Impact of Positional Encoding on Length Generalization in Transformers”",
        explanation: "No positional signal at all: with identical tokens every visible key gets the same score, so attention is uniform over the causal prefix. Only the causal mask tells positions apart — and Kazemnejad et al. 2023 show that this is enough for surprisingly good length generalisation.",
        params: &[],
        analytic: true,
        trained: true,
    },
    SchemeInfo {
        kind: SchemeKind::Learned,
        key: "learned",
        title: "Learned APE",
        paper: "Gehring et al. 2017, “Convolutional Sequence to Sequence Learning”; Devlin et al. 2019 (BERT)",
        explanation: "A table of one learned vector per position is added to the tokens (Gehring et al. 2017; BERT, GPT-2). It has exactly max_len rows, so the model cannot even be run past the length it was trained on.",
        params: &[],
        analytic: false,
        trained: true,
    },
    SchemeInfo {
        kind: SchemeKind::Sinusoidal,
        key: "sinusoidal",
        title: "Sinusoidal APE",
        paper: "Vaswani et al. 2017, “Attention Is All You Need”",
        explanation: "Sinusoidal vectors are added to the tokens (Vaswani et al. 2017). The dot product of two encodings depends mostly on their distance, giving a bright diagonal with ripples; past the training length the model meets absolute positions it never saw.",
        params: &[],
        analytic: true,
        trained: true,
    },
    SchemeInfo {
        kind: SchemeKind::T5,
        key: "t5",
        title: "T5 bias",
        paper: "Raffel et al. 2020, “Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer”",
        explanation: "T5 adds one learned scalar per head and distance bucket (Raffel et al. 2020): exact buckets for short distances, logarithmic ones up to max_distance, then everything shares the last bucket. The picture here uses a decaying bias per head, so far keys fade.",
        params: &[HEAD],
        analytic: true,
        trained: true,
    },
    SchemeInfo {
        kind: SchemeKind::Alibi,
        key: "alibi",
        title: "ALiBi",
        paper: "Press et al. 2022, “Train Short, Test Long: Attention with Linear Biases”",
        explanation: "ALiBi subtracts slope × distance from every logit (Press et al. 2022). Each head has its own slope (2^-8h/H), so some heads look only at the last few tokens and others far back; the penalty never runs out, which is why it extrapolates smoothly.",
        params: &[HEAD],
        analytic: true,
        trained: true,
    },
    SchemeInfo {
        kind: SchemeKind::Rope,
        key: "rope",
        title: "RoPE",
        paper: "Su et al. 2021, “RoFormer: Enhanced Transformer with Rotary Position Embedding”",
        explanation: "RoPE rotates each pair of q and k dimensions by position × θ_i (Su et al. 2021), so the score depends only on the distance m − n. With identical tokens the scores ripple and decay with distance; past the training length the slow pairs reach angles never seen in training.",
        params: &[BASE],
        analytic: true,
        trained: true,
    },
    SchemeInfo {
        kind: SchemeKind::Xpos,
        key: "xpos",
        title: "xPos",
        paper: "Sun et al. 2022, “A Length-Extrapolatable Transformer”",
        explanation: "xPos is RoPE with a per-pair exponential scale (Sun et al. 2022): queries are scaled up and keys down with position, adding an explicit decay with distance on top of RoPE's rotation, which steadies attention at long range.",
        params: &[BASE],
        analytic: true,
        trained: false,
    },
    SchemeInfo {
        kind: SchemeKind::Kerple,
        key: "kerple",
        title: "KERPLE",
        paper: "Chi et al. 2022, “KERPLE: Kernelized Relative Positional Embedding for Length Extrapolation”",
        explanation: "KERPLE's logarithmic variant subtracts p·ln(1 + a·distance) (Chi et al. 2022): a steep penalty for near keys that flattens far away, between ALiBi's linear decay and no bias at all.",
        params: &[HEAD],
        analytic: true,
        trained: false,
    },
];

impl SchemeKind {
    /// Every scheme, in registry order.
    pub const ALL: [SchemeKind; 8] = [
        Self::Nope,
        Self::Learned,
        Self::Sinusoidal,
        Self::T5,
        Self::Alibi,
        Self::Rope,
        Self::Xpos,
        Self::Kerple,
    ];

    /// The schemes the analytic views draw (all but the learned table; a test ties this list to
    /// the registry's `analytic` flags).
    pub const ANALYTIC: [SchemeKind; 7] = [
        Self::Nope,
        Self::Sinusoidal,
        Self::T5,
        Self::Alibi,
        Self::Rope,
        Self::Xpos,
        Self::Kerple,
    ];

    /// This scheme's registry entry.
    pub fn info(self) -> &'static SchemeInfo {
        // `ALL` and `SCHEMES` share one order (tested), so the index is the discriminant.
        &SCHEMES[self as usize]
    }

    pub fn key(self) -> &'static str {
        self.info().key
    }

    pub fn from_key(key: &str) -> Option<Self> {
        SCHEMES.iter().find(|s| s.key == key).map(|s| s.kind)
    }

    /// [`Self::from_key`] restricted to the schemes the analytic views can draw.
    pub fn analytic_from_key(key: &str) -> Option<Self> {
        Self::from_key(key).filter(|k| k.info().analytic)
    }

    pub fn title(self) -> &'static str {
        self.info().title
    }

    /// Two or three plain sentences on what the reader sees, naming the paper.
    pub fn explanation(self) -> &'static str {
        self.info().explanation
    }
}

/// Parameters shared by all schemes in a view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SchemeParams {
    pub head: usize,
    pub rope_base: f64,
}

/// The `pe::Scheme` for `kind`, head `params.head` of [`HEADS`].
pub fn build(kind: SchemeKind, params: SchemeParams) -> Result<Scheme, PeError> {
    let head = params.head.min(HEADS - 1);
    Ok(match kind {
        SchemeKind::Nope => Scheme::NoPe,
        SchemeKind::Learned => {
            return Err(PeError::invalid(
                "scheme",
                "learned",
                "a scheme drawable from its formula (learned APE needs trained weights: see the Model lab)",
            ));
        }
        SchemeKind::Sinusoidal => Scheme::Sinusoidal {
            layout: SinusoidalLayout::Interleaved,
        },
        SchemeKind::T5 => {
            let buckets = T5Buckets::new(32, 128, false)?;
            // Illustrative per-head strengths: head 0 decays gently, head 7 steeply.
            Scheme::T5(T5Bias::log_decay(buckets, 0.5 * (head + 1) as f32)?)
        }
        SchemeKind::Alibi => Scheme::Alibi {
            slope: alibi::slopes(HEADS)?[head],
        },
        SchemeKind::Rope => Scheme::Rope {
            base: params.rope_base,
            scaling: RopeScaling::None,
            map: PositionMap::Identity,
        },
        SchemeKind::Xpos => Scheme::XPos {
            base: params.rope_base,
            scale_base: 512.0,
        },
        SchemeKind::Kerple => Scheme::Kerple(KerpleLog::new(1.0 + head as f64 * 0.5, 0.5)?),
    })
}

/// One-line description of the head's parameter (shown next to the head selector).
pub fn head_note(kind: SchemeKind, head: usize) -> String {
    let head = head.min(HEADS - 1);
    match kind {
        SchemeKind::Alibi => match alibi::slopes(HEADS) {
            Ok(s) => format!("slope m = {:.4} (2^{:.0})", s[head], s[head].log2()),
            Err(e) => e.to_string(),
        },
        SchemeKind::T5 => format!(
            "bias strength {:.1} (illustrative, not trained)",
            0.5 * (head + 1) as f32
        ),
        SchemeKind::Kerple => format!("p = {:.1}, a = 0.5", 1.0 + head as f64 * 0.5),
        SchemeKind::Nope | SchemeKind::Learned | SchemeKind::Sinusoidal | SchemeKind::Rope | SchemeKind::Xpos => {
            "same for every head".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_order_matches_the_enum_and_flags_match_the_lists() {
        for (i, kind) in SchemeKind::ALL.into_iter().enumerate() {
            assert_eq!(SCHEMES[i].kind, kind, "SCHEMES[{i}]");
            assert_eq!(kind.info().kind, kind);
            assert!(kind.info().paper.contains("20"), "{kind:?} names a paper with its year");
        }
        let analytic: Vec<_> = SchemeKind::ALL.into_iter().filter(|k| k.info().analytic).collect();
        assert_eq!(analytic, SchemeKind::ANALYTIC.to_vec());
        let keys: std::collections::BTreeSet<_> = SCHEMES.iter().map(|s| s.key).collect();
        assert_eq!(keys.len(), SCHEMES.len(), "keys are unique");
        assert_eq!(SchemeKind::analytic_from_key("learned"), None);
        assert!(
            build(
                SchemeKind::Learned,
                SchemeParams {
                    head: 0,
                    rope_base: 1e4
                }
            )
            .is_err(),
            "learned APE has no formula"
        );
    }

    #[test]
    fn keys_round_trip_and_every_scheme_builds() {
        for kind in SchemeKind::ANALYTIC {
            assert_eq!(SchemeKind::from_key(kind.key()), Some(kind));
            for head in [0, HEADS - 1, 99] {
                build(
                    kind,
                    SchemeParams {
                        head,
                        rope_base: 10_000.0,
                    },
                )
                .expect("valid scheme");
            }
        }
    }

    #[test]
    fn alibi_heads_get_the_paper_slopes() {
        let Scheme::Alibi { slope } = build(
            SchemeKind::Alibi,
            SchemeParams {
                head: 0,
                rope_base: 1e4,
            },
        )
        .expect("ok") else {
            panic!("not alibi")
        };
        assert_eq!(slope, 0.5); // 2^(-8·1/8)
        assert!(head_note(SchemeKind::Alibi, 7).contains("2^-8"));
    }
}
