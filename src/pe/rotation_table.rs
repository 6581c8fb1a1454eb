//! Relative rotation tables of RoPE-family logits (`pe::logits`): per table key `m − n`, the
//! cos/sin of every frequency pair at the (position-mapped) distance, with the gain folded in —
//! RoPE (Su et al. 2021) and xPos' per-pair decay (Sun et al. 2022).

use super::position_maps::PositionMap;

/// Per-pair gain and angle for a relative rotation table.
pub(crate) struct PairTable<'a> {
    pub inv_freq: &'a [f64],
    /// Multiplies both cos and sin of every pair (`1/√d`, the attention factor squared).
    pub gain: f64,
    /// xPos (Sun et al. 2022): pair `i` also decays by `ζ_i^(distance/γ)`, as `(ζ, γ)`.
    pub decay: Option<(&'a [f64], f64)>,
}

/// `(cos, sin, decay)` of one pair at one distance (or over one distance step).
type PairState = (f64, f64, f64);

/// Table keys between two exact (sin/cos, powf) anchors of the stepped rotation table.
const ANCHOR_EVERY: usize = 256;

/// Distinct distance steps kept as rotations; a map with more steps is anchored exactly.
const MAX_STEPS: usize = 4;

impl PairTable<'_> {
    /// `(cos, sin, decay)` of every pair at distance `dist`, exactly.
    pub fn exact(&self, dist: f64) -> Vec<PairState> {
        self.inv_freq
            .iter()
            .enumerate()
            .map(|(i, &theta)| {
                let (s, c) = (dist * theta).sin_cos();
                let z = self.decay.map_or(1.0, |(zeta, gamma)| zeta[i].powf(dist / gamma));
                (c, s, z)
            })
            .collect()
    }

    /// `(C_i, S_i)` per table key `−offset..=max_key`, pairs contiguous, gain folded in.
    pub fn stepped_cs(&self, map: &PositionMap, offset: usize, max_key: i64) -> Vec<f32> {
        let keys = (offset as i64 + max_key + 1).max(0) as usize;
        let mut cs = Vec::with_capacity(keys * 2 * self.inv_freq.len());
        self.for_each_key(map, offset, max_key, |at| {
            for &(c, s, z) in at {
                let g = self.gain * z;
                cs.push(clamp_f32(g * c));
                cs.push(clamp_f32(g * s));
            }
        });
        cs
    }

    /// Calls `f` with `(cos, sin, decay)` of every pair at each table key `−offset..=max_key`,
    /// in order.
    ///
    /// A sin/cos (and, for xPos, a `powf`) per cell is ~150 ms for N = 8192, d = 256 in the
    /// browser, longer than a frame. Position maps move the distance in constant steps (1, 0,
    /// or `1/k` for Leaky ReRoPE), so each key advances the previous one by a stored step
    /// rotation — one complex multiplication — and is re-anchored exactly every
    /// [`ANCHOR_EVERY`] keys (relative error ~1e-13, far below the `f32` output).
    pub fn for_each_key(&self, map: &PositionMap, offset: usize, max_key: i64, mut f: impl FnMut(&[PairState])) {
        let mut steps: Vec<(f64, Vec<PairState>)> = Vec::new();
        let mut at: Vec<PairState> = Vec::new();
        let mut prev: Option<f64> = None;
        let mut since_anchor = 0;
        for key in -(offset as i64)..=max_key {
            let dist = map.key_distance(key);
            match prev {
                Some(p) if p == dist => {}
                Some(p) if since_anchor < ANCHOR_EVERY => {
                    let delta = dist - p;
                    let found = steps.iter().position(|(d, _)| *d == delta);
                    let step = match found {
                        Some(j) => Some(j),
                        None if steps.len() < MAX_STEPS => {
                            steps.push((delta, self.exact(delta)));
                            Some(steps.len() - 1)
                        }
                        None => None,
                    };
                    match step {
                        Some(j) => {
                            for (r, &(dc, ds, dz)) in at.iter_mut().zip(&steps[j].1) {
                                *r = (r.0 * dc - r.1 * ds, r.1 * dc + r.0 * ds, r.2 * dz);
                            }
                            since_anchor += 1;
                        }
                        None => {
                            at = self.exact(dist);
                            since_anchor = 0;
                        }
                    }
                }
                _ => {
                    at = self.exact(dist);
                    since_anchor = 0;
                }
            }
            prev = Some(dist);
            f(&at);
        }
    }
}

/// Clamps to the finite `f32` range (a huge xPos decay stays finite).
pub(crate) fn clamp_f32(v: f64) -> f32 {
    v.clamp(f32::MIN as f64, f32::MAX as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stepped rotation table equals the exact one (a sin/cos and `powf` per cell) for every
    /// kind of position map — unit steps, capped distances (step 0), Leaky ReRoPE's `1/k` steps —
    /// and for xPos' decay, across many anchors.
    #[test]
    fn stepped_rotation_table_equals_the_exact_table() {
        let d = 32;
        let xp = crate::pe::xpos::XPos::new(d, 10_000.0, 512.0).unwrap();
        let rope_freq = crate::pe::rope::default_inv_freq(d, 10_000.0).unwrap();
        let tables = [
            PairTable {
                inv_freq: &rope_freq,
                gain: 0.25,
                decay: None,
            },
            PairTable {
                inv_freq: xp.inv_freq(),
                gain: 0.25,
                decay: Some((xp.zeta(), xp.scale_base())),
            },
        ];
        let maps = [
            PositionMap::Identity,
            PositionMap::ReRope { window: 700 },
            PositionMap::LeakyReRope {
                window: 300,
                leak_k: 3.0,
            },
            PositionMap::LmInfinite {
                n_global: 4,
                local_window: 900,
                distance_cap: 900,
            },
            PositionMap::SelfExtend {
                group_size: 8,
                neighbor_window: 64,
            },
        ];
        let n = 2000;
        for table in &tables {
            for map in &maps {
                let offset = n - 1;
                let max_key = map.max_key(n);
                let stepped = table.stepped_cs(map, offset, max_key);
                let mut worst = 0.0f64;
                for (j, key) in (-(offset as i64)..=max_key).enumerate() {
                    let exact = table.exact(map.key_distance(key));
                    for (i, &(c, s, z)) in exact.iter().enumerate() {
                        let g = table.gain * z;
                        for (got, want) in [(stepped[j * d + 2 * i], g * c), (stepped[j * d + 2 * i + 1], g * s)] {
                            let scale = g.abs().max(1e-30);
                            worst = worst.max((got as f64 - want).abs() / scale);
                        }
                    }
                }
                assert_eq!(stepped.len(), (offset + max_key as usize + 1) * d);
                assert!(
                    worst < 1e-6,
                    "{map:?} decay {}: worst relative error {worst:e}",
                    table.decay.is_some()
                );
            }
        }
    }
}
