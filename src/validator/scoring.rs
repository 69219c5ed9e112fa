//! How a miner's answer to a synthetic task becomes a step score in [0, 1].
//!
//! `reference` is the Python validator's rule: the best IoU over every returned window and
//! every ground truth. It can be gamed: a miner that never looks at the video and returns many
//! fixed windows at several scales gets a high best-IoU by coverage alone (0.655 mean on
//! ActivityNet val_1 with 57 windows, see `tests/validator_scoring.rs`).
//!
//! `ranked` (the default) counts only the first `top_k` windows, in the order the miner ranked
//! them, and rewards *where* a good window appears: for each IoU threshold t in 0.50, 0.55, ...,
//! 0.95 it takes the reciprocal rank of the first window whose IoU with a ground truth reaches
//! t (0 if none does), and averages over the thresholds. A precise first window scores 1; the
//! same window at rank 3 scores 1/3; a loose window (IoU 0.6) only earns the low thresholds.
//! It is the mean-reciprocal-rank analogue of the COCO-style averaged mAP that moment-retrieval
//! papers report, so a miner that ranks well on the benchmarks ranks well here.

use crate::eval::metrics::{iou, map_thresholds};
use crate::protocol::SearchResult;

use super::tasks::Interval;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoringMode {
    /// The Python reference: best IoU over all returned windows.
    Reference,
    /// Rank-aware: reciprocal rank of the first good window, averaged over IoU 0.5:0.05:0.95,
    /// counting only the first top_k windows.
    #[default]
    Ranked,
}

impl ScoringMode {
    pub const NAMES: &'static [&'static str] = &["reference", "ranked"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Reference => "reference",
            Self::Ranked => "ranked",
        }
    }
}

impl std::fmt::Display for ScoringMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scoring mode {0:?} (reference or ranked)")]
pub struct UnknownScoringMode(pub String);

impl std::str::FromStr for ScoringMode {
    type Err = UnknownScoringMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "reference" => Ok(Self::Reference),
            "ranked" => Ok(Self::Ranked),
            _ => Err(UnknownScoringMode(s.to_string())),
        }
    }
}

/// IoU of a predicted window with its best-matching ground truth; 0 for a window of
/// non-positive length (as the reference does) or when there is no ground truth.
pub fn best_iou(window: [f64; 2], ground_truths: &[Interval]) -> f64 {
    // Not `window[1] <= window[0]`: a NaN bound must score 0 too.
    if window[1].partial_cmp(&window[0]) != Some(std::cmp::Ordering::Greater) {
        return 0.0;
    }
    ground_truths.iter().filter(|g| g.end > g.start).map(|g| iou(window, [g.start, g.end])).fold(0.0, f64::max)
}

/// The step score of one answer (`results` in the miner's order).
pub fn score(mode: ScoringMode, results: &[SearchResult], ground_truths: &[Interval], top_k: usize) -> f64 {
    let ious = |n: usize| results.iter().take(n).map(|r| best_iou([r.start, r.end], ground_truths));
    match mode {
        ScoringMode::Reference => ious(results.len()).fold(0.0, f64::max),
        ScoringMode::Ranked => {
            let ious: Vec<f64> = ious(top_k).collect();
            let thresholds = map_thresholds();
            let total: f64 = thresholds
                .iter()
                .map(|&t| ious.iter().position(|&x| x >= t).map_or(0.0, |rank| 1.0 / (rank + 1) as f64))
                .sum();
            total / thresholds.len() as f64
        }
    }
}

/// Scales a score down for slow answers: `score · (1 − weight · min(latency / timeout, 1))`.
/// With weight 0 (the default) latency is recorded but not scored, as in the reference.
pub fn apply_latency(score: f64, latency_s: f64, timeout_s: f64, weight: f64) -> f64 {
    if weight <= 0.0 || timeout_s <= 0.0 {
        return score;
    }
    let frac = (latency_s / timeout_s).clamp(0.0, 1.0);
    score * (1.0 - weight.min(1.0) * frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: f64, end: f64) -> SearchResult {
        SearchResult { start, end, confidence: 0.5 }
    }
    const GT: [Interval; 1] = [Interval { start: 10.0, end: 20.0 }];

    #[test]
    fn reference_is_the_best_iou_anywhere_in_the_list() {
        assert_eq!(score(ScoringMode::Reference, &[r(0.0, 5.0), r(10.0, 20.0)], &GT, 1), 1.0);
        assert_eq!(score(ScoringMode::Reference, &[], &GT, 5), 0.0);
        assert_eq!(score(ScoringMode::Reference, &[r(20.0, 10.0)], &GT, 5), 0.0, "negative length");
        assert!((score(ScoringMode::Reference, &[r(10.0, 15.0)], &GT, 5) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn ranked_rewards_rank_and_precision_and_ignores_windows_past_top_k() {
        assert_eq!(score(ScoringMode::Ranked, &[r(10.0, 20.0)], &GT, 5), 1.0);
        let second = score(ScoringMode::Ranked, &[r(0.0, 5.0), r(10.0, 20.0)], &GT, 5);
        assert!((second - 0.5).abs() < 1e-12, "{second}");
        assert_eq!(score(ScoringMode::Ranked, &[r(0.0, 5.0), r(10.0, 20.0)], &GT, 1), 0.0);
        // IoU 0.6 at rank 1 reaches the thresholds 0.50 and 0.55 and 0.60: 3 of 10.
        let loose = score(ScoringMode::Ranked, &[r(10.0, 16.0)], &GT, 5);
        assert!((loose - 0.3).abs() < 1e-12, "{loose}");
    }

    #[test]
    fn latency_factor_is_off_by_default() {
        assert_eq!(apply_latency(0.8, 100.0, 150.0, 0.0), 0.8);
        assert!((apply_latency(0.8, 75.0, 150.0, 0.5) - 0.6).abs() < 1e-12);
        assert!((apply_latency(0.8, 500.0, 150.0, 0.5) - 0.4).abs() < 1e-12);
    }
}
