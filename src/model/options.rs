//! Inference-time RoPE options (plain data, shared by the app, the worker and the CLI).

use serde::{Deserialize, Serialize};

use crate::pe::position_ids::IdRule;
use crate::pe::{PositionMap, RopeScaling};

/// Inference-time position options: a RoPE frequency scaling and position map, and a
/// position-id rule (`pe::position_ids`: V2PE, shared ids, windowed RoPE), which RoPE, ALiBi
/// and T5 models accept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeOptions {
    pub scaling: RopeScaling,
    pub map: PositionMap,
    /// Position ids from a rule applied to the task's segments (`tasks::TaskKind::segments`);
    /// `None`: `0, 1, 2, …`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<IdRule>,
    /// Learned-APE models: run past the table by linear interpolation of its rows (LongEmbed,
    /// Zhu et al. 2024; `pe::learned::LearnedTable::interpolated`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interpolate_learned: bool,
}

impl Default for RopeOptions {
    fn default() -> Self {
        Self {
            scaling: RopeScaling::None,
            map: PositionMap::Identity,
            ids: None,
            interpolate_learned: false,
        }
    }
}

impl RopeOptions {
    /// No RoPE scaling and no position map (position ids may still be set).
    pub fn is_plain(&self) -> bool {
        self.scaling == RopeScaling::None && self.map.is_identity()
    }
}
