//! The views: one file each, each with its own serde state and `fn ui`.

pub mod sinusoidal;

use serde::{Deserialize, Serialize};

/// Which view is shown. The string form is the `view=` key of the URL hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewId {
    #[default]
    Sinusoidal,
}

impl ViewId {
    pub const ALL: [ViewId; 1] = [ViewId::Sinusoidal];

    pub fn key(self) -> &'static str {
        match self {
            Self::Sinusoidal => "sinusoidal",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Sinusoidal => "Sinusoidal encoding",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.key() == key)
    }
}
