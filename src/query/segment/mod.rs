//! Segment proposal: turning a similarity curve into ranked intervals.

pub mod baseline;
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
}

/// The available segmenters (`--segmenter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SegmenterKind {
    /// The Python reference's heuristics.
    #[default]
    Baseline,
}

impl SegmenterKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
        }
    }
    pub fn propose(self, tl: &Timeline, top_k: usize) -> Vec<Segment> {
        match self {
            Self::Baseline => baseline::propose(tl, top_k),
        }
    }
}

impl FromStr for SegmenterKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "baseline" => Ok(Self::Baseline),
            other => Err(format!("unknown segmenter '{other}' (available: baseline)")),
        }
    }
}
