//! What is said, fused into the visual timeline as the reference does (BEHAVIOR.md, step 5):
//! each transcript segment is scored by the cosine of its CLIP text embedding with the query's,
//! the scores are min-max normalised over the video's segments (all equal: 0.5), laid onto the
//! frame times where a segment is active (`start <= t < end`; the best segment where several
//! overlap), and fused with the min-max visual curve `v` as `v + 0.25 * max(0, a - v)`, clipped
//! to [0, 1]. Where nothing is said, the visual score stands; audio only ever raises a frame.

use super::timeline::min_max_normalize;

/// How much of the gap to a better audio score a frame gains.
pub const AUDIO_WEIGHT: f64 = 0.25;

/// A transcript segment scored against the query (raw cosine).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredSegment {
    pub start: f64,
    pub end: f64,
    pub cosine: f32,
}

/// The normalised audio score at each frame time, `None` where no segment is active.
pub fn audio_curve(times: &[f64], segments: &[ScoredSegment]) -> Vec<Option<f64>> {
    let cosines: Vec<f32> = segments.iter().map(|s| s.cosine).collect();
    let scores = min_max_normalize(&cosines);
    times
        .iter()
        .map(|&t| {
            segments
                .iter()
                .zip(&scores)
                .filter(|(s, _)| s.start <= t && t < s.end)
                .map(|(_, a)| *a)
                .fold(None, |best: Option<f64>, a| Some(best.map_or(a, |b| b.max(a))))
        })
        .collect()
}

/// `v + 0.25 * max(0, a - v)` where audio is active, clipped to [0, 1]; `v` elsewhere.
pub fn fuse(visual: &[f64], audio: &[Option<f64>]) -> Vec<f64> {
    visual
        .iter()
        .zip(audio.iter().chain(std::iter::repeat(&None)))
        .map(|(&v, a)| match a {
            Some(a) => (v + AUDIO_WEIGHT * (a - v).max(0.0)).clamp(0.0, 1.0),
            None => v,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start: f64, end: f64, cosine: f32) -> ScoredSegment {
        ScoredSegment { start, end, cosine }
    }

    #[test]
    fn segment_scores_are_min_max_normalised_over_the_video_and_laid_where_active() {
        let times = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let a = audio_curve(&times, &[seg(1.0, 3.0, 0.2), seg(3.0, 4.5, 0.3), seg(2.5, 3.5, 0.25)]);
        // 0.2 → 0, 0.3 → 1, 0.25 → 0.5; t = 3 is in the second and third: the best, 1.
        assert_eq!(a, vec![None, Some(0.0), Some(0.0), Some(1.0), Some(1.0), None]);
        // The end is open: a segment [1, 3) is not active at 3.
        assert_eq!(audio_curve(&[3.0], &[seg(1.0, 3.0, 0.2)]), vec![None]);
        // One segment (or all equal): 0.5, as the reference's flat curve.
        assert_eq!(audio_curve(&[1.0], &[seg(0.0, 2.0, 0.9)]), vec![Some(0.5)]);
        assert_eq!(audio_curve(&[1.0], &[]), vec![None]);
    }

    #[test]
    fn audio_raises_a_frame_by_a_quarter_of_the_gap_and_never_lowers_it() {
        let fused = fuse(&[0.2, 0.8, 0.5, 0.4], &[Some(1.0), Some(0.0), None, Some(0.4)]);
        let want = [0.2 + 0.25 * 0.8, 0.8, 0.5, 0.4];
        for (f, w) in fused.iter().zip(want) {
            assert!((f - w).abs() < 1e-12, "{fused:?}");
        }
        // Clipped to [0, 1] even from out-of-range inputs; missing audio entries are silence.
        assert_eq!(fuse(&[1.2, -0.1], &[Some(2.0)]), vec![1.0, -0.1]);
    }
}
