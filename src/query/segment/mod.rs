//! Segment proposal: turning a similarity curve into ranked intervals.

pub mod baseline;
pub mod contrast;
pub mod snap;
pub mod stats;

use std::str::FromStr;

/// One proposed interval, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub confidence: f64,
}

/// A video's normalised similarity curve.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Sample times in seconds, increasing.
    pub times: Vec<f64>,
    /// Scores in [0, 1], one per time.
    pub scores: Vec<f64>,
    pub duration: f64,
    /// `1 - cos` between consecutive frame embeddings (`len - 1` values), when known: where the
    /// picture changes (shot cuts).
    pub change: Option<Vec<f64>>,
    /// Hard cuts found at frame precision while decoding: when each new shot's first frame is
    /// shown, in µs, increasing (empty when none are known). Where [`Timeline::boundary`] puts
    /// a shot boundary.
    pub hard_cuts_us: Vec<i64>,
    /// Where the picture turns between each sample and the next, estimated from the
    /// embeddings (`len - 1` times), when known: where a boundary with no hard cut goes.
    pub turning: Option<Vec<f64>>,
}

impl Timeline {
    /// Where the picture changes between samples `i` and `i + 1`, as (where the earlier shot
    /// ends, where the later one starts), in seconds. On a hard cut found while decoding when
    /// one lies in `(times[i], times[i + 1]]` (the one nearest the middle, if several): the
    /// later shot starts on the first millisecond at or after its first frame and the earlier
    /// ends on the last one at or before it, so that with times given to the millisecond
    /// neither shows a frame of the other (a 29.97 fps frame at 2.369033 s: 2.369 and 2.370).
    /// Else, for both, where the embeddings turn from one picture to the next (`turning`,
    /// when known and inside the interval: a dissolve), else midway between the two samples.
    pub fn boundary(&self, i: usize) -> (f64, f64) {
        let (a, b) = (self.times[i], self.times[i + 1]);
        let middle = (a + b) / 2.0;
        let seconds = |us: i64| us as f64 / 1e6;
        let from = self.hard_cuts_us.partition_point(|&c| seconds(c) <= a);
        let cut = self.hard_cuts_us[from..]
            .iter()
            .copied()
            .take_while(|&c| seconds(c) <= b)
            .min_by(|&x, &y| (seconds(x) - middle).abs().total_cmp(&(seconds(y) - middle).abs()));
        let turn = self.turning.as_ref().and_then(|t| t.get(i)).copied().filter(|t| (a..=b).contains(t));
        match (cut, turn) {
            (Some(us), _) => (ms_at_or_before(us), ms_at_or_after(us)),
            (None, Some(t)) => (t, t),
            (None, None) => (middle, middle),
        }
    }
}

/// The first millisecond at or after `us`, in seconds: where something that begins with the
/// frame shown at `us` begins, once times are given to the millisecond (a player at that time
/// shows that frame).
pub fn ms_at_or_after(us: i64) -> f64 {
    (us + 999).div_euclid(1000) as f64 / 1000.0
}

/// The last millisecond at or before `us`, in seconds: where something that ends before the
/// frame shown at `us` ends (a clip cut there leaves that frame out).
pub fn ms_at_or_before(us: i64) -> f64 {
    us.div_euclid(1000) as f64 / 1000.0
}

/// The available segmenters (`--segmenter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SegmenterKind {
    /// The Python reference's heuristics.
    Baseline,
    /// Shot-snapped windows scored by inside-versus-outside contrast.
    Contrast,
    /// The reference's windows snapped to the shots they cover (the default: it beats the
    /// baseline on the synthetic benchmark, see README).
    #[default]
    Snap,
}

impl SegmenterKind {
    /// Whether the segmenter needs the frame-to-frame change curve.
    pub fn needs_changes(self) -> bool {
        matches!(self, Self::Contrast | Self::Snap)
    }

    pub const NAMES: &'static [&'static str] = &["snap", "baseline", "contrast"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Contrast => "contrast",
            Self::Snap => "snap",
        }
    }
    pub fn propose(self, tl: &Timeline, top_k: usize) -> Vec<Segment> {
        match self {
            Self::Baseline => baseline::propose(tl, top_k),
            Self::Contrast => contrast::propose(tl, top_k),
            Self::Snap => snap::propose(tl, top_k),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown segmenter '{0}' (available: baseline, contrast, snap)")]
pub struct UnknownSegmenter(pub String);

impl FromStr for SegmenterKind {
    type Err = UnknownSegmenter;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "baseline" => Ok(Self::Baseline),
            "contrast" => Ok(Self::Contrast),
            "snap" => Ok(Self::Snap),
            other => Err(UnknownSegmenter(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boundary_lies_on_a_hard_cut_between_its_samples_else_on_the_turn_else_midway() {
        let tl = Timeline {
            times: vec![0.0, 1.0, 2.0, 3.0, 4.0],
            scores: vec![0.0; 5],
            duration: 5.0,
            change: None,
            // One cut inside (1, 2] off the millisecond grid (a 29.97 fps frame), one exactly
            // on sample 3, two inside (3, 4].
            hard_cuts_us: vec![1_234_567, 3_000_000, 3_100_000, 3_600_000],
            turning: None,
        };
        assert_eq!(tl.boundary(0), (0.5, 0.5), "no cut between 0 and 1: midway");
        assert_eq!(tl.boundary(1), (1.234, 1.235), "ends before the first frame, starts at or after it");
        assert_eq!(tl.boundary(2), (3.0, 3.0), "a cut on the later sample belongs to its interval");
        assert_eq!(tl.boundary(3), (3.6, 3.6), "the cut nearest the middle");
        // Where the embeddings say the picture turns: used where no hard cut is, and only
        // inside its interval.
        let turned = Timeline { turning: Some(vec![0.8, 1.9, 2.5, 3.5]), ..tl.clone() };
        assert_eq!(turned.boundary(0), (0.8, 0.8));
        assert_eq!(turned.boundary(1), (1.234, 1.235), "a hard cut wins");
        let outside = Timeline { turning: Some(vec![1.5, 1.5, 1.5, 1.5]), hard_cuts_us: Vec::new(), ..tl };
        assert_eq!(outside.boundary(0), (0.5, 0.5));
    }
}
