//! Which frames to keep: a fixed rate, or the reference miner's adaptive plan (1 fps, 0.5 fps
//! from 60 s, 0.25 fps from 300 s).

use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplingPlan {
    /// A constant rate in frames per second.
    Fixed { fps: f64 },
    /// The reference's plan: long videos are sampled more sparsely.
    Adaptive,
}

impl Default for SamplingPlan {
    fn default() -> Self {
        Self::Fixed { fps: 1.0 }
    }
}

impl SamplingPlan {
    /// The rate for a video of this duration; unknown duration samples at the plan's densest
    /// rate and is thinned with [`SamplingPlan::thinning_step`] once the duration is known.
    pub fn fps_for(&self, duration_s: Option<f64>) -> f64 {
        match (self, duration_s) {
            (Self::Fixed { fps }, _) => *fps,
            (Self::Adaptive, Some(d)) if d >= 300.0 => 0.25,
            (Self::Adaptive, Some(d)) if d >= 60.0 => 0.5,
            (Self::Adaptive, _) => 1.0,
        }
    }

    /// After sampling at `sampled_fps`, keep every n-th frame to reach this plan's rate for the
    /// real duration.
    pub fn thinning_step(&self, sampled_fps: f64, duration_s: f64) -> usize {
        let want = self.fps_for(Some(duration_s));
        ((sampled_fps / want).round() as usize).max(1)
    }

    /// Stored with each video, e.g. `fixed:1` or `adaptive`.
    pub fn label(&self) -> String {
        match self {
            Self::Fixed { fps } => format!("fixed:{fps}"),
            Self::Adaptive => "adaptive".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad sampling plan '{0}': use 'adaptive' or a rate in (0, 60] fps")]
pub struct BadSamplingPlan(pub String);

impl FromStr for SamplingPlan {
    type Err = BadSamplingPlan;
    /// `adaptive`, a number of frames per second (`1`, `0.5`), or `fixed:N`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("adaptive") {
            return Ok(Self::Adaptive);
        }
        let n = s.strip_prefix("fixed:").unwrap_or(s);
        match n.parse::<f64>() {
            Ok(fps) if fps.is_finite() && fps > 0.0 && fps <= 60.0 => Ok(Self::Fixed { fps }),
            _ => Err(BadSamplingPlan(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_matches_reference_thresholds() {
        let p = SamplingPlan::Adaptive;
        assert_eq!(p.fps_for(Some(59.9)), 1.0);
        assert_eq!(p.fps_for(Some(60.0)), 0.5);
        assert_eq!(p.fps_for(Some(299.0)), 0.5);
        assert_eq!(p.fps_for(Some(300.0)), 0.25);
        assert_eq!(p.fps_for(None), 1.0);
        assert_eq!(p.thinning_step(1.0, 400.0), 4);
        assert_eq!(SamplingPlan::default().thinning_step(1.0, 400.0), 1);
    }

    #[test]
    fn parses_plans() {
        assert_eq!("adaptive".parse::<SamplingPlan>().unwrap(), SamplingPlan::Adaptive);
        assert_eq!("2".parse::<SamplingPlan>().unwrap(), SamplingPlan::Fixed { fps: 2.0 });
        assert_eq!("fixed:0.5".parse::<SamplingPlan>().unwrap(), SamplingPlan::Fixed { fps: 0.5 });
        assert!("0".parse::<SamplingPlan>().is_err());
        assert!("fast".parse::<SamplingPlan>().is_err());
    }
}
