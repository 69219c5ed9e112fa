//! Near-duplicate consecutive frames: a sampled frame whose pixels barely differ from the last
//! frame that was embedded reuses that frame's embedding instead of running the image tower.
//!
//! Why pixels and not embeddings: the point is to skip the tower. The check runs on the
//! preprocessed model input the sampler already made (so it sees exactly what the tower would),
//! costs one pass over ~150 k floats (microseconds, against ~50 ms of tower time per frame for
//! ViT-B/32 on a CPU), and compares with the *reference* frame whose embedding would be reused,
//! never with the previous duplicate, so a slow pan cannot drift away one small step at a time.
//! Static shots, slides, title cards and paused screens are where it pays; anything that moves
//! is embedded as before.

use std::str::FromStr;

/// Frames whose mean absolute difference from the reference frame, in the tower's normalised
/// pixel units (one 8-bit grey level is about 0.015), is at most this are duplicates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NearDuplicate {
    max_mean_abs_diff: f32,
}

impl NearDuplicate {
    /// The default: about one grey level on average, below what compression noise of a still
    /// shot reaches in H.264 at usual rates, far below any visible change.
    pub const DEFAULT: Self = Self { max_mean_abs_diff: 0.015 };

    /// A threshold in (0, 1]; anything else is refused.
    pub fn new(max_mean_abs_diff: f32) -> Option<Self> {
        (max_mean_abs_diff.is_finite() && max_mean_abs_diff > 0.0 && max_mean_abs_diff <= 1.0)
            .then_some(Self { max_mean_abs_diff })
    }

    pub fn threshold(&self) -> f32 {
        self.max_mean_abs_diff
    }

    /// Whether `frame` may reuse the embedding of `reference` (same length; different lengths
    /// are never duplicates).
    pub fn is_duplicate(&self, reference: &[f32], frame: &[f32]) -> bool {
        if reference.len() != frame.len() || frame.is_empty() {
            return false;
        }
        let limit = self.max_mean_abs_diff as f64 * frame.len() as f64;
        // Chunked so a clearly different frame stops early.
        let mut sum = 0f64;
        for (a, b) in reference.chunks(4096).zip(frame.chunks(4096)) {
            sum += a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() as f64;
            if sum > limit {
                return false;
            }
        }
        true
    }
}

/// `off`, or a threshold such as `0.015`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DedupSetting(pub Option<NearDuplicate>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad duplicate threshold '{0}': use 'off' or a number in (0, 1]")]
pub struct BadDedupThreshold(pub String);

impl FromStr for DedupSetting {
    type Err = BadDedupThreshold;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s == "0" {
            return Ok(Self(None));
        }
        s.parse::<f32>()
            .ok()
            .and_then(NearDuplicate::new)
            .map(|d| Self(Some(d)))
            .ok_or_else(|| BadDedupThreshold(s.to_string()))
    }
}

impl std::fmt::Display for DedupSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(d) => write!(f, "{}", d.max_mean_abs_diff),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_bad_ones_are_refused() {
        assert_eq!("off".parse::<DedupSetting>().unwrap(), DedupSetting(None));
        assert_eq!("0".parse::<DedupSetting>().unwrap(), DedupSetting(None));
        assert_eq!("0.02".parse::<DedupSetting>().unwrap().0.unwrap().threshold(), 0.02);
        for bad in ["NaN", "-0.1", "2", "inf", "often"] {
            assert!(bad.parse::<DedupSetting>().is_err(), "{bad}");
        }
    }

    #[test]
    fn small_noise_is_a_duplicate_and_a_visible_change_is_not() {
        let d = NearDuplicate::DEFAULT;
        let a: Vec<f32> = (0..3 * 64 * 64).map(|i| ((i % 97) as f32 / 97.0) * 2.0 - 1.0).collect();
        // Half a grey level of noise everywhere.
        let noisy: Vec<f32> = a.iter().enumerate().map(|(i, v)| v + if i % 2 == 0 { 0.007 } else { -0.007 }).collect();
        assert!(d.is_duplicate(&a, &noisy));
        // A tenth of the picture changes completely.
        let mut changed = a.clone();
        for v in changed.iter_mut().take(a.len() / 10) {
            *v = -*v;
        }
        assert!(!d.is_duplicate(&a, &changed));
        assert!(!d.is_duplicate(&a, &a[1..]));
    }
}
