//! The positional schemes a user can pick, with per-head parameters, turned into
//! `crate::pe::Scheme` values. Shared by the Attention and Compare views.

use serde::{Deserialize, Serialize};

use crate::pe::kerple::KerpleLog;
use crate::pe::scaling::RopeScaling;
use crate::pe::sinusoidal::SinusoidalLayout;
use crate::pe::t5::{T5Bias, T5Buckets};
use crate::pe::{PeError, PositionMap, Scheme, alibi};

/// Heads offered by the head selector (ALiBi slopes and T5 bias strengths differ per head).
pub const HEADS: usize = 8;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemeKind {
    Nope,
    Sinusoidal,
    T5,
    Alibi,
    #[default]
    Rope,
    Xpos,
    Kerple,
}

impl SchemeKind {
    pub const ALL: [SchemeKind; 7] = [
        Self::Nope,
        Self::Sinusoidal,
        Self::T5,
        Self::Alibi,
        Self::Rope,
        Self::Xpos,
        Self::Kerple,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Nope => "nope",
            Self::Sinusoidal => "sinusoidal",
            Self::T5 => "t5",
            Self::Alibi => "alibi",
            Self::Rope => "rope",
            Self::Xpos => "xpos",
            Self::Kerple => "kerple",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Nope => "NoPE",
            Self::Sinusoidal => "Sinusoidal APE",
            Self::T5 => "T5 bias",
            Self::Alibi => "ALiBi",
            Self::Rope => "RoPE",
            Self::Xpos => "xPos",
            Self::Kerple => "KERPLE",
        }
    }

    /// Two or three plain sentences on what the reader sees, naming the paper.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Nope => {
                "No positional signal at all: with identical tokens every visible key gets the same score, so attention is uniform over the causal prefix. Only the causal mask tells positions apart — and Kazemnejad et al. 2023 show that this is enough for surprisingly good length generalisation."
            }
            Self::Sinusoidal => {
                "Sinusoidal vectors are added to the tokens (Vaswani et al. 2017). The dot product of two encodings depends mostly on their distance, giving a bright diagonal with ripples; past the training length the model meets absolute positions it never saw."
            }
            Self::T5 => {
                "T5 adds one learned scalar per head and distance bucket (Raffel et al. 2020): exact buckets for short distances, logarithmic ones up to max_distance, then everything shares the last bucket. The picture here uses a decaying bias per head, so far keys fade."
            }
            Self::Alibi => {
                "ALiBi subtracts slope × distance from every logit (Press et al. 2022). Each head has its own slope (2^-8h/H), so some heads look only at the last few tokens and others far back; the penalty never runs out, which is why it extrapolates smoothly."
            }
            Self::Rope => {
                "RoPE rotates each pair of q and k dimensions by position × θ_i (Su et al. 2021), so the score depends only on the distance m − n. With identical tokens the scores ripple and decay with distance; past the training length the slow pairs reach angles never seen in training."
            }
            Self::Xpos => {
                "xPos is RoPE with a per-pair exponential scale (Sun et al. 2022): queries are scaled up and keys down with position, adding an explicit decay with distance on top of RoPE's rotation, which steadies attention at long range."
            }
            Self::Kerple => {
                "KERPLE's logarithmic variant subtracts p·ln(1 + a·distance) (Chi et al. 2022): a steep penalty for near keys that flattens far away, between ALiBi's linear decay and no bias at all."
            }
        }
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
        _ => "same for every head".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_every_scheme_builds() {
        for kind in SchemeKind::ALL {
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
