//! xPos — extrapolatable rotary position embedding.
//!
//! Sun, Dong, Patra, Ma, Huang, Benhaim, Chaudhary, Song & Wei 2022, "A Length-Extrapolatable
//! Transformer". Interleaved RoPE plus a per-pair scale `ζ_i = (2i + 0.4d) / (1.4d)`: the query at
//! position `m` is multiplied by `ζ_i^(m/γ)` and the key at `n` by `ζ_i^(−n/γ)` (`γ = 512`), so
//! pair `i` of the logit carries an explicit decay `ζ_i^((m−n)/γ)`.
//!
//! As in the reference `torchscale` code, the *scale* exponent uses positions centred on the
//! sequence (`p − c`, `c = ⌈len/2⌉`) to keep `ζ^(±p/γ)` inside floating-point range; the centre
//! cancels in q·k. The rotation itself uses the uncentred positions.

use super::rope::{RopeLayout, rotate_into, unchecked_inv_freq};
use super::{PeError, check_base, check_head_dim, check_positive};

/// Default scale base `γ` of the paper.
pub const DEFAULT_SCALE_BASE: f64 = 512.0;

/// A prepared xPos encoder for one head dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct XPos {
    inv_freq: Vec<f64>,
    zeta: Vec<f64>,
    scale_base: f64,
}

impl XPos {
    /// `head_dim` even ≥ 2, `base` > 1 (10 000 in the paper), `scale_base` > 0 (512).
    pub fn new(head_dim: usize, base: f64, scale_base: f64) -> Result<Self, PeError> {
        check_head_dim(head_dim)?;
        check_base(base)?;
        check_positive("scale_base", scale_base)?;
        let d = head_dim as f64;
        let zeta = (0..head_dim / 2)
            .map(|i| (2.0 * i as f64 + 0.4 * d) / (1.4 * d))
            .collect();
        Ok(Self {
            inv_freq: unchecked_inv_freq(head_dim, base),
            zeta,
            scale_base,
        })
    }

    /// Rotation frequencies `θ_i`.
    pub fn inv_freq(&self) -> &[f64] {
        &self.inv_freq
    }

    /// Per-pair scale `ζ_i`.
    pub fn zeta(&self) -> &[f64] {
        &self.zeta
    }

    /// Scale base `γ`.
    pub fn scale_base(&self) -> f64 {
        self.scale_base
    }

    /// The centre torchscale uses for a sequence of `len` tokens: `⌈len/2⌉`.
    pub fn centre(len: usize) -> f64 {
        len.div_ceil(2) as f64
    }

    /// Decay factor of pair `i` at relative distance `delta = m − n`: `ζ_i^(delta/γ)`.
    pub fn decay(&self, i: usize, delta: f64) -> f64 {
        self.zeta.get(i).map_or(0.0, |z| z.powf(delta / self.scale_base))
    }

    fn encode(&self, x: &[f64], pos: f64, centre: f64, sign: f64) -> Result<Vec<f64>, PeError> {
        let mut out = vec![0.0; x.len()];
        rotate_into(x, pos, &self.inv_freq, 1.0, RopeLayout::Interleaved, &mut out)?;
        if !centre.is_finite() {
            return Err(PeError::invalid("centre", centre, "a finite number"));
        }
        let e = sign * (pos - centre) / self.scale_base;
        for (i, z) in self.zeta.iter().enumerate() {
            let s = z.powf(e);
            out[2 * i] *= s;
            out[2 * i + 1] *= s;
        }
        Ok(out)
    }

    /// Encoded query (interleaved layout) at position `pos`: rotate, then scale pair `i` by
    /// `ζ_i^((pos − centre)/γ)`.
    pub fn query(&self, x: &[f64], pos: f64, centre: f64) -> Result<Vec<f64>, PeError> {
        self.encode(x, pos, centre, 1.0)
    }

    /// Encoded key (interleaved layout) at position `pos`: rotate, then scale pair `i` by
    /// `ζ_i^(−(pos − centre)/γ)`.
    pub fn key(&self, x: &[f64], pos: f64, centre: f64) -> Result<Vec<f64>, PeError> {
        self.encode(x, pos, centre, -1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn zeta_hand_derived() {
        // d = 4: ζ = [1.6/5.6, 3.6/5.6].
        let x = XPos::new(4, 10_000.0, 512.0).unwrap();
        assert!((x.zeta()[0] - 1.6 / 5.6).abs() < 1e-15);
        assert!((x.zeta()[1] - 3.6 / 5.6).abs() < 1e-15);
        assert_eq!(XPos::centre(7), 4.0);
        assert_eq!(XPos::centre(8), 4.0);
    }

    #[test]
    fn logit_is_rope_times_decay() {
        // d = 2, q = k = (1, 0): ⟨q', k'⟩ = cos((m − n)θ_0) · ζ_0^((m − n)/γ) with θ_0 = 1.
        let x = XPos::new(2, 10_000.0, 512.0).unwrap();
        let (m, n) = (700.0, 188.0);
        let q = x.query(&[1.0, 0.0], m, 300.0).unwrap();
        let k = x.key(&[1.0, 0.0], n, 300.0).unwrap();
        let zeta: f64 = 0.8 / 2.8;
        let want = (m - n).cos() * zeta.powf((m - n) / 512.0);
        assert!((dot(&q, &k) - want).abs() < 1e-12);
        assert!((x.decay(0, m - n) - zeta.powf(1.0)).abs() < 1e-15);
    }

    #[test]
    fn rejects_bad_parameters() {
        assert!(XPos::new(5, 10_000.0, 512.0).is_err());
        assert!(XPos::new(4, 10_000.0, 0.0).is_err());
        let x = XPos::new(4, 10_000.0, 512.0).unwrap();
        assert!(x.query(&[1.0; 3], 0.0, 0.0).is_err());
        assert!(x.query(&[1.0; 4], 0.0, f64::NAN).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn logit_depends_only_on_relative_position(
            q in prop::collection::vec(-2.0f64..2.0, 8),
            k in prop::collection::vec(-2.0f64..2.0, 8),
            m in 0u32..2000, n in 0u32..2000, t in 0u32..2000, c in 0u32..4000,
        ) {
            let x = XPos::new(8, 10_000.0, 512.0).unwrap();
            let s = |a: f64, b: f64, c: f64| dot(&x.query(&q, a, c).unwrap(), &x.key(&k, b, c).unwrap());
            let (m, n, t, c) = (m as f64, n as f64, t as f64, c as f64);
            let base = s(m, n, 0.0);
            prop_assert!((base - s(m + t, n + t, c)).abs() < 1e-8 * (1.0 + base.abs()));
        }
    }
}
