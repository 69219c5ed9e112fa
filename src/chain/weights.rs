//! Float weights to the u16 vectors `set_weights` carries, exactly as the Python SDK converts
//! them (`convert_weights_and_uids_for_emit`), so that our validator and a Python one put the
//! same numbers on chain for the same scores.

/// The u16 weights of a `set_weights` call, uid by uid.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct U16Weights {
    pub uids: Vec<u16>,
    pub weights: Vec<u16>,
}

impl U16Weights {
    /// Nothing to send: the SDK sends no extrinsic when every weight is 0.
    pub fn is_empty(&self) -> bool {
        self.uids.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightError {
    #[error("{uids} uids but {weights} weights: the lists must have the same length")]
    UnequalLength { uids: usize, weights: usize },
    #[error("weight {value} for uid {uid} is negative or not a number; weights on chain are non-negative")]
    Invalid { uid: u16, value: f64 },
}

/// Scales so that the largest weight becomes 65535, rounds half to even (Python's `round`),
/// and drops the entries that round to 0. All-zero (or empty) input gives nothing to send.
pub fn to_u16_weights(uids: &[u16], weights: &[f64]) -> Result<U16Weights, WeightError> {
    if uids.len() != weights.len() {
        return Err(WeightError::UnequalLength { uids: uids.len(), weights: weights.len() });
    }
    if let Some((&uid, &value)) = uids.iter().zip(weights).find(|(_, w)| **w < 0.0 || !w.is_finite()) {
        return Err(WeightError::Invalid { uid, value });
    }
    let max = weights.iter().copied().fold(0.0f64, f64::max);
    let sum: f64 = weights.iter().sum();
    let mut out = U16Weights::default();
    if sum == 0.0 {
        return Ok(out);
    }
    for (&uid, &w) in uids.iter().zip(weights) {
        // The same two double operations as the SDK: w / max, then * 65535, then round-half-even.
        let v = ((w / max) * f64::from(u16::MAX)).round_ties_even();
        if v != 0.0 {
            out.uids.push(uid);
            out.weights.push(v as u16);
        }
    }
    Ok(out)
}

/// `w = s / Σs` over all uids (all zero when Σs = 0), as the reference validator normalises its
/// moving scores before converting them.
pub fn normalize(scores: &[f64]) -> Vec<f64> {
    let sum: f64 = scores.iter().filter(|s| s.is_finite() && **s > 0.0).sum();
    scores.iter().map(|&s| if sum > 0.0 && s.is_finite() && s > 0.0 { s / sum } else { 0.0 }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_rounds_half_even_and_drops_zeros() {
        // 0.5/1 * 65535 = 32767.5 -> 32768 (even); 1e-6 * 65535 = 0.065 -> 0, dropped.
        let w = to_u16_weights(&[0, 1, 2, 3], &[1.0, 0.5, 1e-6, 0.0]).unwrap();
        assert_eq!(w.uids, vec![0, 1]);
        assert_eq!(w.weights, vec![65535, 32768]);
        // 2.5/65535 of the max -> exactly 2.5 -> 2 (half to even), 3.5 -> 4.
        let w = to_u16_weights(&[5, 6, 7], &[65535.0, 2.5, 3.5]).unwrap();
        assert_eq!(w.weights, vec![65535, 2, 4]);
    }

    #[test]
    fn all_zero_sends_nothing_and_bad_input_is_an_error() {
        assert!(to_u16_weights(&[0, 1], &[0.0, 0.0]).unwrap().is_empty());
        assert!(matches!(to_u16_weights(&[0], &[0.1, 0.2]), Err(WeightError::UnequalLength { .. })));
        assert!(matches!(to_u16_weights(&[0, 1], &[0.1, -0.2]), Err(WeightError::Invalid { uid: 1, .. })));
        assert!(matches!(to_u16_weights(&[0], &[f64::NAN]), Err(WeightError::Invalid { .. })));
    }

    #[test]
    fn normalises_to_one() {
        assert_eq!(normalize(&[1.0, 3.0, 0.0]), vec![0.25, 0.75, 0.0]);
        assert_eq!(normalize(&[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
