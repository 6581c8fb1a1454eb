//! Inference-time RoPE options (plain data, shared by the app, the worker and the CLI).

use serde::{Deserialize, Serialize};

use crate::pe::{PositionMap, RopeScaling};

/// Inference-time RoPE extension: a frequency scaling and a position map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeOptions {
    pub scaling: RopeScaling,
    pub map: PositionMap,
}

impl Default for RopeOptions {
    fn default() -> Self {
        Self {
            scaling: RopeScaling::None,
            map: PositionMap::Identity,
        }
    }
}

impl RopeOptions {
    pub fn is_plain(&self) -> bool {
        self.scaling == RopeScaling::None && self.map.is_identity()
    }
}
