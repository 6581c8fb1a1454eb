//! NoPE — no positional encoding at all.
//!
//! Kazemnejad et al. 2023, "The Impact of Positional Encoding on Length Generalization in
//! Transformers". A decoder without any positional signal can still infer order, because the
//! causal mask breaks permutation symmetry: query `m` averages over exactly `m + 1` keys.
//! Without the mask the attention logits are permutation-invariant.

/// Positional bias added to the logit of (query `m`, key `n`): always 0 for NoPE.
pub fn bias(_query_pos: usize, _key_pos: usize) -> f64 {
    0.0
}

/// Number of keys a query at `query_pos` attends to under a causal mask (`m + 1`), the only
/// positional information a NoPE decoder receives.
pub fn causal_visible_keys(query_pos: usize) -> usize {
    query_pos + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bias_and_prefix_length_grows_with_position() {
        assert_eq!(bias(3, 0), 0.0);
        assert_eq!(bias(0, 3), 0.0);
        assert_eq!(causal_visible_keys(0), 1);
        assert_eq!(causal_visible_keys(9), 10);
    }
}
