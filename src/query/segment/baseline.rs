//! The reference miner's segment proposal (`reference/BEHAVIOR.md`, step 6), reproduced rule
//! for rule so that `--segmenter baseline` answers as a Python miner would on the same curve.

use super::stats::{iou, mean, median, percentile, smooth};
use super::{Segment, Timeline};

/// Candidates whose IoU with an accepted one exceeds this are dropped.
const NMS_IOU: f64 = 0.7;
/// Half-width of the fallback windows around peaks, in seconds.
const PEAK_HALF_WIDTH_S: f64 = 2.0;

/// Maximal runs of active samples, bridging gaps of at most one inactive sample (hysteresis).
pub(crate) fn active_runs(active: &[bool]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (i, &a) in active.iter().enumerate() {
        if !a {
            continue;
        }
        match runs.last_mut() {
            // i - end - 1 inactive samples lie between: bridge one at most.
            Some((_, end)) if i - *end <= 2 => *end = i,
            _ => runs.push((i, i)),
        }
    }
    runs
}

/// Moves the start forward to the first sample at or above `max(p30, 0.36·peak)` and the end
/// back while below `max(p50, 0.62·peak)`, keeping at least `min_span` seconds.
fn tighten(tl: &Timeline, smoothed: &[f64], lo: usize, hi: usize, p30: f64, p50: f64, min_span: f64) -> (f64, f64) {
    let peak = smoothed[lo..=hi].iter().cloned().fold(f64::MIN, f64::max);
    let start_thr = p30.max(0.36 * peak);
    let end_thr = p50.max(0.62 * peak);
    let mut s = lo;
    while s < hi && smoothed[s] < start_thr {
        s += 1;
    }
    let mut e = hi;
    while e > s && smoothed[e] < end_thr {
        e -= 1;
    }
    let (mut start, mut end) = (tl.times[s], tl.times[e]);
    if end - start < min_span {
        let center = (start + end) / 2.0;
        start = (center - min_span / 2.0).max(0.0);
        end = start + min_span;
        if tl.duration > 0.0 && end > tl.duration {
            end = tl.duration;
            start = (end - min_span).max(0.0);
        }
    }
    (start, end)
}

/// Indices of local maxima of `v` (plateaus count once), highest first.
fn peaks(v: &[f64]) -> Vec<usize> {
    let n = v.len();
    let mut idx: Vec<usize> =
        (0..n).filter(|&i| (i == 0 || v[i] >= v[i - 1]) && (i + 1 == n || v[i] > v[i + 1])).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx
}

/// The reference segmenter. `tl.scores` are the min-max normalised similarities.
pub fn propose(tl: &Timeline, top_k: usize) -> Vec<Segment> {
    let n = tl.scores.len();
    if n == 0 || top_k == 0 {
        return fallback(tl);
    }
    let raw = &tl.scores;
    let smoothed = smooth(raw);
    let threshold = percentile(&smoothed, 75.0).max(mean(&smoothed) + 0.35 * super::stats::std(&smoothed));
    let raw_p85 = percentile(raw, 85.0);
    let active: Vec<bool> = (0..n).map(|i| smoothed[i] >= threshold || raw[i] >= raw_p85).collect();

    let spacing: Vec<f64> = tl.times.windows(2).map(|w| w[1] - w[0]).collect();
    let min_span = median(&spacing).max(0.25);
    let p30 = percentile(&smoothed, 30.0);
    let p50 = percentile(&smoothed, 50.0);

    let mut candidates: Vec<Segment> = active_runs(&active)
        .into_iter()
        .map(|(a, b)| {
            let confidence = 0.65 * smoothed[a..=b].iter().cloned().fold(f64::MIN, f64::max) + 0.35 * mean(&raw[a..=b]);
            // Padded one sample each side, then tightened.
            let (lo, hi) = (a.saturating_sub(1), (b + 1).min(n - 1));
            let (start, end) = tighten(tl, &smoothed, lo, hi, p30, p50, min_span);
            Segment { start, end, confidence: confidence.clamp(0.0, 1.0) }
        })
        .collect();
    if candidates.is_empty() {
        candidates = peaks(&smoothed)
            .into_iter()
            .take(top_k)
            .map(|i| {
                let t = tl.times[i];
                let end =
                    if tl.duration > 0.0 { (t + PEAK_HALF_WIDTH_S).min(tl.duration) } else { t + PEAK_HALF_WIDTH_S };
                Segment { start: (t - PEAK_HALF_WIDTH_S).max(0.0), end, confidence: smoothed[i].clamp(0.0, 1.0) }
            })
            .collect();
    }
    let accepted = nms(candidates, top_k);
    if accepted.is_empty() { fallback(tl) } else { accepted }
}

/// Sorted by confidence (stable), dropping any candidate overlapping an accepted one by more
/// than [`NMS_IOU`], stopping at `top_k`.
pub(crate) fn nms(mut candidates: Vec<Segment>, top_k: usize) -> Vec<Segment> {
    candidates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut accepted: Vec<Segment> = Vec::new();
    for c in candidates {
        if accepted.len() >= top_k {
            break;
        }
        if accepted.iter().all(|a| iou((a.start, a.end), (c.start, c.end)) <= NMS_IOU) {
            accepted.push(c);
        }
    }
    accepted
}

/// Nothing at all: one interval at the middle of the video, confidence 0.1.
fn fallback(tl: &Timeline) -> Vec<Segment> {
    let d = tl.duration.max(tl.times.last().copied().unwrap_or(0.0));
    let mid = d / 2.0;
    let half = (d * 0.05).max(0.5);
    vec![Segment {
        start: (mid - half).max(0.0),
        end: if d > 0.0 { (mid + half).min(d) } else { mid + half },
        confidence: 0.1,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tl(scores: &[f64]) -> Timeline {
        Timeline {
            times: (0..scores.len()).map(|i| i as f64).collect(),
            scores: scores.to_vec(),
            duration: scores.len() as f64,
            change: None,
            hard_cuts_us: Vec::new(),
            turning: None,
        }
    }

    #[test]
    fn gap_of_one_sample_is_bridged_two_is_not() {
        assert_eq!(active_runs(&[true, false, true]), vec![(0, 2)]);
        assert_eq!(active_runs(&[true, false, false, true]), vec![(0, 0), (3, 3)]);
        assert_eq!(active_runs(&[false, true, true, false]), vec![(1, 2)]);
        assert!(active_runs(&[false, false]).is_empty());
    }

    #[test]
    fn single_bump_gives_one_segment_around_it() {
        let mut s = vec![0.0; 30];
        for v in &mut s[10..15] {
            *v = 1.0;
        }
        let out = propose(&tl(&s), 5);
        assert!(!out.is_empty());
        let best = out[0];
        // The run 10..=14 padded to 9..=15 then tightened inside it.
        assert!(best.start >= 9.0 && best.start <= 11.0, "{best:?}");
        assert!(best.end >= 13.0 && best.end <= 15.0, "{best:?}");
        // Confidence: 0.65 * max smoothed (1.0) + 0.35 * mean raw over the run.
        assert!(best.confidence > 0.9);
    }

    #[test]
    fn results_are_sorted_capped_and_non_overlapping() {
        let mut s = vec![0.0; 60];
        for (a, h) in [(5, 0.6), (20, 1.0), (40, 0.8)] {
            for v in &mut s[a..a + 4] {
                *v = h;
            }
        }
        let out = propose(&tl(&s), 2);
        assert_eq!(out.len(), 2);
        assert!(out[0].confidence >= out[1].confidence);
        assert!(out[0].start >= 18.0 && out[0].end <= 25.0, "{:?}", out[0]);
        assert!(iou((out[0].start, out[0].end), (out[1].start, out[1].end)) <= NMS_IOU);
    }

    #[test]
    fn nms_drops_heavy_overlaps() {
        let c = vec![
            Segment { start: 0.0, end: 10.0, confidence: 0.9 },
            Segment { start: 0.5, end: 10.0, confidence: 0.8 },
            Segment { start: 20.0, end: 30.0, confidence: 0.7 },
        ];
        let out = nms(c, 5);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].start, 20.0);
    }

    #[test]
    fn min_span_is_enforced() {
        // Irregular sampling with median spacing 2 s: no segment may be shorter than 2 s.
        let t = Timeline {
            times: vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
            scores: vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
            duration: 10.0,
            change: None,
            hard_cuts_us: Vec::new(),
            turning: None,
        };
        for s in propose(&t, 3) {
            assert!(s.end - s.start >= 2.0 - 1e-9, "{s:?}");
        }
    }

    #[test]
    fn empty_timeline_falls_back_to_the_middle() {
        let t = Timeline {
            times: vec![],
            scores: vec![],
            duration: 20.0,
            change: None,
            hard_cuts_us: vec![],
            turning: None,
        };
        let out = propose(&t, 5);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].confidence, 0.1);
        assert!(out[0].start < 10.0 && out[0].end > 10.0);
    }

    #[test]
    fn flat_curve_still_answers() {
        let out = propose(&tl(&[0.5; 10]), 3);
        assert!(!out.is_empty());
        assert!(out.iter().all(|s| s.start >= 0.0 && s.end >= s.start && (0.0..=1.0).contains(&s.confidence)));
    }
}
