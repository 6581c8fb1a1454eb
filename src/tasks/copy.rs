//! Copy: `BOS s₁ … sₙ SEP s₁ … sₙ` — reproduce the string after the separator.
//!
//! The symbols of one string are distinct (drawn without replacement from [`SYMBOLS`]), so the
//! task is solvable by content alone with an induction head ("find my previous token, emit the
//! one after it", Olsson et al. 2022, "In-context Learning and Induction Heads"), and by position
//! alone ("emit the token `n + 1` places back"). Which of the two a model learns is what its
//! positional encoding decides — and what the length sweep exposes.
//! Kazemnejad et al. 2023 use copy as one of their length-generalisation tasks.
//!
//! Length `L = 2n + 2`. For odd `L` the string has `n = (L − 2) / 2` symbols and a second
//! separator follows `BOS`, so every requested length is exact.

use super::{BOS, SEP, SYMBOLS, Sample, symbol};
use crate::rng::SplitMix64;

/// `BOS s SEP s`.
pub const MIN_LEN: usize = 4;
/// `n ≤ SYMBOLS` (distinct symbols), plus one for odd lengths.
pub const MAX_LEN: usize = 2 * SYMBOLS + 3;

/// A copy sample of length `len` (assumed in `MIN_LEN..=MAX_LEN`).
pub fn sample(len: usize, rng: &mut SplitMix64) -> Sample {
    let n = (len - 2) / 2;
    let odd = len % 2 == 1;
    let string: Vec<u32> = rng.distinct(n, SYMBOLS).into_iter().map(symbol).collect();
    let mut tokens = Vec::with_capacity(len);
    tokens.push(BOS);
    if odd {
        tokens.push(SEP);
    }
    tokens.extend(&string);
    let sep_at = tokens.len();
    tokens.push(SEP);
    tokens.extend(&string);
    // Position sep_at predicts s₁, …, position sep_at + n − 1 predicts sₙ.
    let answer_positions = (sep_at..sep_at + n).collect();
    Sample {
        tokens,
        answer_positions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_is_the_string_again() {
        let mut rng = SplitMix64::new(5);
        for len in [4, 5, 10, 33, 64, MAX_LEN] {
            let s = sample(len, &mut rng);
            assert_eq!(s.tokens.len(), len);
            let n = (len - 2) / 2;
            let sep = s.tokens.len() - n - 1;
            assert_eq!(s.tokens[sep], SEP);
            assert_eq!(s.answers(), s.tokens[sep - n..sep].to_vec());
            let mut sorted = s.answers();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), n, "symbols of one string are distinct");
        }
    }
}
