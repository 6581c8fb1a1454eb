//! Inference-time position maps: length-extension tricks that change which keys a query sees
//! and at what relative distance, without new weights. All of them describe a causal decoder:
//! keys after the query (`n > m`) are never visible.
//!
//! * LM-Infinite Λ-mask — Han, Wang, Xiong, Chen, Ji & Wang 2023, "LM-Infinite: Zero-Shot Extreme
//!   Length Generalization for Large Language Models": query `m` sees key `n ≤ m` iff
//!   `m − n < L_local` or `n < n_global`; distances are capped at `distance_cap` (the paper uses
//!   the pre-training length), by rotating the query at the capped distance and leaving the key
//!   unrotated.
//! * SelfExtend — Jin, Han, Yang, Jiang, Liu, Chang, Chen & Hu 2024, "LLM Maybe LongLM:
//!   Self-Extend LLM Context Window Without Tuning": within the neighbour window `W` normal
//!   positions; beyond it, grouped positions `q = ⌊m/G⌋ + W − ⌊W/G⌋`, `k = ⌊n/G⌋`.
//! * ReRoPE and Leaky ReRoPE — Su 2023, "Rectified Rotary Position Embeddings" (blog post,
//!   kexue.fm/archives/9708): distance `min(m − n, w)`, or `w + (m − n − w)/k` beyond `w`.

use super::PeError;
use serde::{Deserialize, Serialize};

/// An inference-time position map (validated with [`PositionMap::validate`]).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum PositionMap {
    /// Ordinary causal attention at true positions.
    #[default]
    Identity,
    /// LM-Infinite Λ-shaped mask with distance cap.
    LmInfinite {
        /// Leading tokens every query may see (`n < n_global`).
        n_global: usize,
        /// Local window `L_local` (keys with `m − n < L_local` are visible), ≥ 1.
        local_window: usize,
        /// Largest relative distance used for rotation (usually `L_o`), ≥ 1.
        distance_cap: usize,
    },
    /// SelfExtend grouped attention.
    SelfExtend {
        /// Group size `G` ≥ 1.
        group_size: usize,
        /// Neighbour window `W` ≥ 1 inside which positions are exact.
        neighbor_window: usize,
    },
    /// ReRoPE: distances clipped at `window`.
    ReRope {
        /// Window `w` ≥ 1.
        window: usize,
    },
    /// Leaky ReRoPE: distances beyond `window` grow with slope `1/leak_k`.
    LeakyReRope {
        /// Window `w` ≥ 1.
        window: usize,
        /// Compression `k` ≥ 1.
        leak_k: f64,
    },
}

/// What a map does to one (query `m`, key `n`) cell.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MapEntry {
    /// Whether the key is attended to at all.
    pub visible: bool,
    /// Effective relative distance `q_pos − k_pos` used for the rotation (0 when hidden).
    pub relative: f64,
    /// Effective query position used for the rotation.
    pub query_pos: f64,
    /// Effective key position used for the rotation.
    pub key_pos: f64,
}

const HIDDEN: MapEntry = MapEntry {
    visible: false,
    relative: 0.0,
    query_pos: 0.0,
    key_pos: 0.0,
};

fn at_least_one(name: &'static str, v: usize) -> Result<(), PeError> {
    if v == 0 || v > super::MAX_LEN * 16 {
        return Err(PeError::invalid(
            name,
            v,
            format!("an integer in 1..={}", super::MAX_LEN * 16),
        ));
    }
    Ok(())
}

impl PositionMap {
    /// Checks parameters: windows, groups and caps ≥ 1, `leak_k` finite and ≥ 1.
    pub fn validate(&self) -> Result<(), PeError> {
        match *self {
            PositionMap::Identity => Ok(()),
            PositionMap::LmInfinite {
                n_global,
                local_window,
                distance_cap,
            } => {
                if n_global > super::MAX_LEN * 16 {
                    return Err(PeError::invalid(
                        "n_global",
                        n_global,
                        format!("an integer in 0..={}", super::MAX_LEN * 16),
                    ));
                }
                at_least_one("local_window", local_window)?;
                at_least_one("distance_cap", distance_cap)
            }
            PositionMap::SelfExtend {
                group_size,
                neighbor_window,
            } => {
                at_least_one("group_size", group_size)?;
                at_least_one("neighbor_window", neighbor_window)
            }
            PositionMap::ReRope { window } => at_least_one("window", window),
            PositionMap::LeakyReRope { window, leak_k } => {
                at_least_one("window", window)?;
                if !leak_k.is_finite() || leak_k < 1.0 {
                    return Err(PeError::invalid("leak_k", leak_k, "a finite number >= 1"));
                }
                Ok(())
            }
        }
    }

    /// Visibility and effective positions for query `m`, key `n` (causal: `n > m` is hidden).
    /// Parameters are assumed validated; degenerate ones are treated as 1 rather than panicking.
    pub fn entry(&self, m: usize, n: usize) -> MapEntry {
        if n > m {
            return HIDDEN;
        }
        let dist = m - n;
        let exact = MapEntry {
            visible: true,
            relative: dist as f64,
            query_pos: m as f64,
            key_pos: n as f64,
        };
        // Beyond-window form used by LM-Infinite and ReRoPE: query at the distance, key at 0.
        let shifted = |rel: f64| MapEntry {
            visible: true,
            relative: rel,
            query_pos: rel,
            key_pos: 0.0,
        };
        match *self {
            PositionMap::Identity => exact,
            PositionMap::LmInfinite {
                n_global,
                local_window,
                distance_cap,
            } => {
                if dist >= local_window && n >= n_global {
                    HIDDEN
                } else if dist <= distance_cap {
                    exact
                } else {
                    shifted(distance_cap as f64)
                }
            }
            PositionMap::SelfExtend {
                group_size,
                neighbor_window,
            } => {
                if dist < neighbor_window {
                    exact
                } else {
                    let g = group_size.max(1);
                    let q = m / g + neighbor_window - neighbor_window / g;
                    let k = n / g;
                    MapEntry {
                        visible: true,
                        relative: q as f64 - k as f64,
                        query_pos: q as f64,
                        key_pos: k as f64,
                    }
                }
            }
            PositionMap::ReRope { window } => {
                if dist < window {
                    exact
                } else {
                    shifted(window as f64)
                }
            }
            PositionMap::LeakyReRope { window, leak_k } => {
                if dist < window {
                    exact
                } else {
                    shifted(window as f64 + (dist - window) as f64 / leak_k.max(1.0))
                }
            }
        }
    }

    /// Whether this is the identity map.
    pub fn is_identity(&self) -> bool {
        matches!(self, PositionMap::Identity)
    }

    /// Whether a visible cell is rotated at its true positions (`m`, `n`). The other visible
    /// cells are rotated at [`Self::alt_query_pos`]`(m)` and [`Self::alt_key_pos`]`(n)`.
    ///
    /// Every map here is "true positions near the diagonal, one other per-token position
    /// assignment elsewhere", so a model applies it with two RoPE rotations and a select —
    /// which is how the trained RoPE models in `model` use these maps.
    pub fn uses_true_positions(&self, m: usize, n: usize) -> bool {
        let e = self.entry(m, n);
        e.visible && e.query_pos == m as f64 && e.key_pos == n as f64
    }

    /// Query position for the cells that do not use true positions (see
    /// [`Self::uses_true_positions`]).
    pub fn alt_query_pos(&self, m: usize) -> f64 {
        match *self {
            PositionMap::Identity => m as f64,
            PositionMap::LmInfinite { distance_cap, .. } => distance_cap as f64,
            PositionMap::SelfExtend {
                group_size,
                neighbor_window,
            } => {
                let g = group_size.max(1);
                (m / g + neighbor_window - neighbor_window / g) as f64
            }
            PositionMap::ReRope { window } => window as f64,
            // w + (m − n − w)/k = (m/k + w(1 − 1/k)) − n/k.
            PositionMap::LeakyReRope { window, leak_k } => {
                let k = leak_k.max(1.0);
                m as f64 / k + window as f64 * (1.0 - 1.0 / k)
            }
        }
    }

    /// Key position for the cells that do not use true positions.
    pub fn alt_key_pos(&self, n: usize) -> f64 {
        match *self {
            PositionMap::Identity => n as f64,
            PositionMap::LmInfinite { .. } | PositionMap::ReRope { .. } => 0.0,
            PositionMap::SelfExtend { group_size, .. } => (n / group_size.max(1)) as f64,
            PositionMap::LeakyReRope { leak_k, .. } => n as f64 / leak_k.max(1.0),
        }
    }

    /// Integer key from which the effective distance of a visible cell can be looked up in a
    /// table (see [`Self::key_distance`]); `None` when hidden. For SelfExtend the key is the
    /// (integer) effective distance itself; for the others it is `m − n`. `Identity` also keys
    /// non-causal cells (`n > m`) by the negative `m − n`.
    pub(crate) fn table_key(&self, m: usize, n: usize) -> Option<i64> {
        match self {
            PositionMap::Identity => Some(m as i64 - n as i64),
            PositionMap::SelfExtend { .. } => {
                let e = self.entry(m, n);
                e.visible.then_some(e.relative as i64)
            }
            _ => self.entry(m, n).visible.then_some(m as i64 - n as i64),
        }
    }

    /// Effective relative distance for a table key produced by [`Self::table_key`].
    pub(crate) fn key_distance(&self, key: i64) -> f64 {
        match *self {
            PositionMap::Identity | PositionMap::SelfExtend { .. } => key as f64,
            PositionMap::LmInfinite { distance_cap, .. } => key.min(distance_cap as i64) as f64,
            PositionMap::ReRope { window } => key.min(window as i64) as f64,
            PositionMap::LeakyReRope { window, leak_k } => {
                if key < window as i64 {
                    key as f64
                } else {
                    window as f64 + (key - window as i64) as f64 / leak_k.max(1.0)
                }
            }
        }
    }

    /// Largest table key that can occur for positions below `n_max`.
    pub(crate) fn max_key(&self, n_max: usize) -> i64 {
        let plain = n_max.saturating_sub(1) as i64;
        match *self {
            PositionMap::SelfExtend {
                group_size,
                neighbor_window,
            } => plain.max((plain / group_size.max(1) as i64) + 1 + neighbor_window as i64),
            _ => plain,
        }
    }
}

#[cfg(test)]
mod tests {

    /// The two-rotation form a model uses reproduces every visible cell's effective distance.
    #[test]
    fn two_rotation_form_matches_entry_for_every_cell() {
        let maps = [
            PositionMap::Identity,
            PositionMap::LmInfinite {
                n_global: 2,
                local_window: 9,
                distance_cap: 6,
            },
            PositionMap::SelfExtend {
                group_size: 3,
                neighbor_window: 5,
            },
            PositionMap::SelfExtend {
                group_size: 1,
                neighbor_window: 2,
            },
            PositionMap::ReRope { window: 4 },
            PositionMap::LeakyReRope { window: 4, leak_k: 3.0 },
        ];
        for map in maps {
            for m in 0..40 {
                for n in 0..=m {
                    let e = map.entry(m, n);
                    if !e.visible {
                        continue;
                    }
                    let rel = if map.uses_true_positions(m, n) {
                        m as f64 - n as f64
                    } else {
                        map.alt_query_pos(m) - map.alt_key_pos(n)
                    };
                    assert!(
                        (rel - e.relative).abs() < 1e-9,
                        "{map:?} m={m} n={n}: {rel} vs {}",
                        e.relative
                    );
                }
            }
        }
        assert!(PositionMap::Identity.uses_true_positions(5, 2));
        assert!(!PositionMap::ReRope { window: 2 }.uses_true_positions(9, 0));
    }
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lm_infinite_hand_derived() {
        let map = PositionMap::LmInfinite {
            n_global: 2,
            local_window: 3,
            distance_cap: 3,
        };
        map.validate().unwrap();
        let vis: Vec<bool> = (0..8).map(|n| map.entry(7, n).visible).collect();
        assert_eq!(vis, [true, true, false, false, false, true, true, true]);
        assert_eq!(map.entry(7, 6).relative, 1.0);
        // Global key 0 at true distance 7 is seen at the capped distance 3, query at 3, key at 0.
        let e = map.entry(7, 0);
        assert_eq!((e.relative, e.query_pos, e.key_pos), (3.0, 3.0, 0.0));
        assert!(!map.entry(3, 5).visible);
    }

    #[test]
    fn self_extend_hand_derived() {
        let map = PositionMap::SelfExtend {
            group_size: 2,
            neighbor_window: 4,
        };
        // Within the window: true positions.
        let e = map.entry(10, 7);
        assert_eq!((e.relative, e.query_pos, e.key_pos), (3.0, 10.0, 7.0));
        // Beyond: q = 10/2 + 4 − 4/2 = 7, k = 3/2 = 1.
        let e = map.entry(10, 3);
        assert_eq!((e.relative, e.query_pos, e.key_pos), (6.0, 7.0, 1.0));
        // At the window edge the grouped distance continues from W: q = 7, k = 3 → 4.
        assert_eq!(map.entry(10, 6).relative, 4.0);
        assert_eq!(map.table_key(10, 3), Some(6));
    }

    #[test]
    fn rerope_and_leaky_hand_derived() {
        let r = PositionMap::ReRope { window: 4 };
        assert_eq!(r.entry(10, 7).relative, 3.0);
        assert_eq!(r.entry(10, 0).relative, 4.0);
        let l = PositionMap::LeakyReRope { window: 4, leak_k: 2.0 };
        assert_eq!(l.entry(10, 0).relative, 7.0); // 4 + 6/2
        assert_eq!(l.entry(10, 7).relative, 3.0);
        assert_eq!(l.key_distance(10), 7.0);
    }

    #[test]
    fn validation() {
        assert!(PositionMap::ReRope { window: 0 }.validate().is_err());
        assert!(PositionMap::LeakyReRope { window: 4, leak_k: 0.5 }.validate().is_err());
        let e = PositionMap::SelfExtend {
            group_size: 0,
            neighbor_window: 4,
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.parameter(), Some("group_size"));
        assert!(
            PositionMap::LmInfinite {
                n_global: 0,
                local_window: 0,
                distance_cap: 4
            }
            .validate()
            .is_err()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn maps_never_increase_distance_and_table_keys_agree(
            m in 0usize..3000, n in 0usize..3000, w in 1usize..600, g in 1usize..16, k in 1.0f64..16.0,
        ) {
            let maps = [
                PositionMap::Identity,
                PositionMap::LmInfinite { n_global: 4, local_window: w, distance_cap: w },
                PositionMap::ReRope { window: w },
                PositionMap::LeakyReRope { window: w, leak_k: k },
                PositionMap::SelfExtend { group_size: g, neighbor_window: w },
            ];
            for map in maps {
                let e = map.entry(m, n);
                prop_assert_eq!(e.visible, n <= m && map.table_key(m, n).is_some());
                if e.visible {
                    let d = (m - n) as f64;
                    prop_assert!(e.relative >= 0.0);
                    if !matches!(map, PositionMap::SelfExtend { .. }) {
                        prop_assert!(e.relative <= d);
                    }
                    prop_assert_eq!(e.relative, e.query_pos - e.key_pos);
                    let key = map.table_key(m, n).unwrap();
                    prop_assert_eq!(map.key_distance(key), e.relative);
                    prop_assert!(key <= map.max_key(m.max(n) + 1));
                }
            }
        }
    }
}
