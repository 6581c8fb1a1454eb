//! The views: one file each, each with its own serde state and `fn ui`.

pub mod all_schemes_state;
pub mod attention;
pub mod bias;
pub mod compare;
pub mod extension;
pub mod model_lab;
pub mod rope;
pub mod scheme_choice;
pub mod sinusoidal;

use serde::{Deserialize, Serialize};

/// Clamp `v` into `range`; if it changed, add a note naming the URL key `name`.
pub fn clamp_noted(v: &mut usize, range: std::ops::RangeInclusive<usize>, name: &str, notes: &mut Vec<String>) {
    let c = (*v).clamp(*range.start(), *range.end());
    if c != *v {
        notes.push(format!(
            "{name}={v} is outside {}…{}; using {c}",
            range.start(),
            range.end()
        ));
        *v = c;
    }
}

/// Which view is shown. The string form is the `view=` key of the URL hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewId {
    #[default]
    Attention,
    Compare,
    Rope,
    Extension,
    Bias,
    Sinusoidal,
    Model,
}

impl ViewId {
    pub const ALL: [ViewId; 7] = [
        ViewId::Attention,
        ViewId::Compare,
        ViewId::Rope,
        ViewId::Extension,
        ViewId::Bias,
        ViewId::Sinusoidal,
        ViewId::Model,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Attention => "attention",
            Self::Compare => "compare",
            Self::Rope => "rope",
            Self::Extension => "extension",
            Self::Bias => "bias",
            Self::Sinusoidal => "sinusoidal",
            Self::Model => "model",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Attention => "Attention",
            Self::Compare => "Compare",
            Self::Rope => "RoPE rotation",
            Self::Extension => "Context extension",
            Self::Bias => "Position bias",
            Self::Sinusoidal => "Sinusoidal encoding",
            Self::Model => "Model lab",
        }
    }

    /// The next (`step = 1`) or previous (`step = -1`) view, wrapping around.
    pub fn cycle(self, step: isize) -> Self {
        let n = Self::ALL.len() as isize;
        let i = Self::ALL.iter().position(|v| *v == self).unwrap_or(0) as isize;
        Self::ALL[(i + step).rem_euclid(n) as usize]
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.key() == key)
    }
}

#[cfg(test)]
mod tests {
    use super::ViewId;

    #[test]
    fn keys_round_trip_and_cycle_wraps() {
        for v in ViewId::ALL {
            assert_eq!(ViewId::from_key(v.key()), Some(v));
            assert_eq!(v.cycle(1).cycle(-1), v);
        }
        assert_eq!(ViewId::ALL[0].cycle(-1), ViewId::ALL[ViewId::ALL.len() - 1]);
    }
}
