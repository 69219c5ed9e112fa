//! How well one query matches along a whole video, pooled into a few equal-time bins.
//!
//! The segmenters keep the top-k intervals; a person looking for "every time the dog jumps"
//! also wants to see the places that did not make the cut. The curve is the same min-max
//! normalised (and, for words, speech-fused) timeline the segmenters read, max-pooled so a
//! one-frame peak survives: the page draws it under the player and on each card, `search`
//! prints it as a line of block characters.

use serde::Serialize;

use super::segment::Timeline;

/// Bins the page and the CLI ask for: one per 0.8 % of the video (a 2-hour film: one per minute).
pub const CURVE_BINS: usize = 120;

/// Relevance in [0, 1] per bin of `bin_s` seconds, from the video's start, and where the
/// video's shots start.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Curve {
    pub bin_s: f64,
    pub values: Vec<f32>,
    /// The hard cuts found while decoding, in seconds: each on the first millisecond at or
    /// after the new shot's first frame, where a player shows that shot (empty when none are
    /// known). The page marks them on the strip and jumps between them.
    pub cuts: Vec<f64>,
}

impl Curve {
    /// At most `bins` bins (fewer when the video has fewer frames); each holds the highest
    /// score of the frames in it, and a bin no frame falls in repeats the one before it.
    pub fn pool(timeline: &Timeline, bins: usize) -> Self {
        let last = timeline.times.last().copied().unwrap_or(0.0);
        let span =
            if timeline.duration.is_finite() && timeline.duration > last { timeline.duration } else { last + 1.0 };
        let n = bins.min(timeline.times.len()).max(1);
        let bin_s = span / n as f64;
        let mut values = vec![f32::NEG_INFINITY; n];
        for (t, s) in timeline.times.iter().zip(&timeline.scores) {
            let b = ((t / bin_s).floor().max(0.0) as usize).min(n - 1);
            values[b] = values[b].max(s.clamp(0.0, 1.0) as f32);
        }
        let mut before = 0.0;
        for v in &mut values {
            if v.is_finite() {
                // Three decimals are all a drawing needs, and keep the JSON small.
                *v = (*v * 1000.0).round() / 1000.0;
                before = *v;
            } else {
                *v = before;
            }
        }
        let cuts = timeline.hard_cuts_us.iter().map(|&us| super::segment::ms_at_or_after(us)).collect();
        Self { bin_s, values, cuts }
    }

    /// Where in `[start, end]` the curve is highest: the middle of the highest bin whose middle
    /// lies in the interval (the first of equals); `None` when no bin's middle does (an interval
    /// shorter than a bin).
    pub fn peak_within(&self, start: f64, end: f64) -> Option<f64> {
        let mut best: Option<(f64, f32)> = None;
        for (i, &v) in self.values.iter().enumerate() {
            let middle = (i as f64 + 0.5) * self.bin_s;
            if (start..=end).contains(&middle) && best.is_none_or(|(_, b)| v > b) {
                best = Some((middle, v));
            }
        }
        best.map(|(t, _)| t)
    }

    /// The curve as block characters, one per bin (`▁` lowest to `█` highest).
    pub fn sparkline(&self) -> String {
        const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        self.values.iter().map(|v| BLOCKS[((v.clamp(0.0, 1.0) * 7.0).round()) as usize]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(times: &[f64], scores: &[f64], duration: f64) -> Timeline {
        Timeline {
            times: times.to_vec(),
            scores: scores.to_vec(),
            duration,
            change: None,
            hard_cuts_us: Vec::new(),
            turning: None,
        }
    }

    #[test]
    fn pools_by_maximum_so_one_frame_peaks_survive() {
        let t: Vec<f64> = (0..10).map(f64::from).collect();
        let mut s = vec![0.1; 10];
        s[7] = 0.9;
        let c = Curve::pool(&timeline(&t, &s, 10.0), 5);
        assert_eq!(c.bin_s, 2.0);
        assert_eq!(c.values, vec![0.1, 0.1, 0.1, 0.9, 0.1]);
        assert_eq!(c.sparkline(), "▂▂▂▇▂");
    }

    #[test]
    fn never_more_bins_than_frames_and_gaps_repeat_the_bin_before() {
        let c = Curve::pool(&timeline(&[0.0, 1.0, 2.0], &[0.2, 1.0, 0.0], 3.0), 120);
        assert_eq!(c.values.len(), 3);
        assert_eq!(c.bin_s, 1.0);
        // Frames near both ends of a 10-second video, in 4 bins: the two middle ones repeat.
        let t = [0.0, 1.0, 8.0, 9.0];
        let c = Curve::pool(&timeline(&t, &[0.5, 0.6, 0.2, 0.3], 10.0), 4);
        assert_eq!(c.values, vec![0.6, 0.6, 0.6, 0.3]);
    }

    #[test]
    fn cuts_are_where_a_player_shows_the_new_shot() {
        let tl = Timeline { hard_cuts_us: vec![2_369_033, 5_000_000], ..timeline(&[0.0, 1.0], &[0.0, 1.0], 9.0) };
        assert_eq!(Curve::pool(&tl, 10).cuts, vec![2.37, 5.0]);
    }

    #[test]
    fn unknown_duration_and_empty_timelines_still_give_a_curve() {
        let c = Curve::pool(&timeline(&[0.0, 1.0], &[0.0, 1.0], f64::NAN), 10);
        assert_eq!((c.bin_s, c.values.clone()), (1.0, vec![0.0, 1.0]));
        let c = Curve::pool(&timeline(&[], &[], 5.0), 10);
        assert_eq!(c.values, vec![0.0]);
        assert_eq!(c.sparkline(), "▁");
    }

    #[test]
    fn the_peak_within_an_interval_is_the_middle_of_its_best_bin() {
        let c = Curve { bin_s: 1.0, values: vec![0.9, 0.2, 0.7, 0.8, 0.8, 0.1], cuts: Vec::new() };
        // Bin 0 is higher but outside; of the two 0.8 bins the first counts.
        assert_eq!(c.peak_within(1.5, 6.0), Some(3.5));
        assert_eq!(c.peak_within(0.0, 6.0), Some(0.5));
        // An interval no bin's middle falls in.
        assert_eq!(c.peak_within(1.6, 2.4), None);
    }
}
