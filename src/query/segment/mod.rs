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
