//! KERPLE — kernelized relative positional embedding (logarithmic variant).
//!
//! Chi, Fan, Ramadge & Rudnicky 2022, "KERPLE: Kernelized Relative Positional Embedding for
//! Length Extrapolation". The log variant adds `−p · ln(1 + a · |m − n|)` to the logits, with
//! learned `p, a > 0` per head. It decays more slowly than ALiBi's linear bias.

use super::{PeError, check_positive};
use serde::{Deserialize, Serialize};

/// Parameters of one head of the logarithmic KERPLE bias.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KerpleLog {
    p: f64,
    a: f64,
}

impl KerpleLog {
    /// Both `p` and `a` must be finite and > 0.
    pub fn new(p: f64, a: f64) -> Result<Self, PeError> {
        check_positive("p", p)?;
        check_positive("a", a)?;
        Ok(Self { p, a })
    }

    /// Bias for (query `m`, key `n`): `−p · ln(1 + a · |m − n|)`.
    pub fn bias(&self, query_pos: usize, key_pos: usize) -> f64 {
        -self.p * (self.a * query_pos.abs_diff(key_pos) as f64).ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_derived_values() {
        let k = KerpleLog::new(2.0, 1.0).unwrap();
        assert_eq!(k.bias(4, 4), 0.0);
        // −2 · ln(1 + 1·3) = −2 ln 4.
        assert!((k.bias(7, 4) - (-2.0 * 4f64.ln())).abs() < 1e-12);
        let k = KerpleLog::new(0.5, 0.1).unwrap();
        // −0.5 · ln(1 + 0.1·10) = −0.5 ln 2.
        assert!((k.bias(10, 0) + 0.5 * 2f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn decays_monotonically_and_rejects_bad_parameters() {
        let k = KerpleLog::new(1.0, 0.5).unwrap();
        for d in 0..100 {
            assert!(k.bias(d + 1, 0) < k.bias(d, 0));
        }
        assert!(KerpleLog::new(0.0, 1.0).is_err());
        assert!(KerpleLog::new(1.0, -1.0).is_err());
        assert!(KerpleLog::new(f64::INFINITY, 1.0).is_err());
    }
}
