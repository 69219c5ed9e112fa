//! Copies of one video: the same footage stored more than once under different bytes (the
//! phone's original and the messenger's re-encoded copy, an export at another size, an MP4
//! beside its MKV). Each has its own fingerprint, so without this a search shows every moment
//! once per copy and the copies crowd out everything else.
//!
//! Two stored videos are copies when they last as long (within 2 %, at least 1 s apart at
//! most) and CLIP sees the same picture at the same times: at up to [`SAMPLES`] times spread
//! over the video, the stored frames nearest each time have a mean cosine of at least
//! [`MEAN_COSINE`] and none below [`MIN_COSINE`]. It reads only the embeddings the store
//! already holds (a search has them cached), so it costs a few thousand multiply-adds a pair,
//! and only pairs of the same length are compared at all. A clip cut from a longer video is
//! not a copy (it is not the same length): it is a video of its own.
//!
//! A search folds a moment of a copy into the better-ranked moment it repeats (same footage,
//! intervals overlapping by IoU ≥ [`SAME_MOMENT_IOU`]), which lists it under `copies`.

use std::collections::HashMap;

use serde::Serialize;

use crate::fingerprint::Fingerprint;
use crate::index::VideoRecord;
use crate::progress::ProgressHandle;
use crate::query::frame_cache::CachedFrames;
use crate::query::{Engine, SearchError};

/// Times compared per pair of videos.
pub const SAMPLES: usize = 64;
/// Mean cosine of the compared frames above which two videos are the same footage.
pub const MEAN_COSINE: f32 = 0.97;
/// ...and the least any single compared pair of frames may have.
pub const MIN_COSINE: f32 = 0.9;
/// Two moments of copies are one moment when their intervals overlap this much.
pub const SAME_MOMENT_IOU: f64 = 0.5;

/// Whether two durations are the same length for [`same_footage`].
pub fn same_length(a_s: f64, b_s: f64) -> bool {
    (a_s - b_s).abs() <= (0.02 * a_s.max(b_s)).max(1.0)
}

/// Whether two stored videos (their cached frames and durations) are the same footage.
pub fn same_footage(a: &CachedFrames, a_s: f64, b: &CachedFrames, b_s: f64) -> bool {
    if !same_length(a_s, b_s) || a.frames.is_empty() || b.frames.is_empty() || a.frames.dim != b.frames.dim {
        return false;
    }
    let span = a_s.min(b_s);
    let n = SAMPLES.min(span.ceil().max(1.0) as usize);
    let mut sum = 0.0f32;
    for i in 0..n {
        let t = (i as f64 + 0.5) * span / n as f64;
        let (x, y) = (a.frames.row(nearest(&a.times_s, t)), b.frames.row(nearest(&b.times_s, t)));
        let cos: f32 = x.iter().zip(y).map(|(p, q)| p * q).sum();
        if cos < MIN_COSINE {
            return false;
        }
        sum += cos;
    }
    sum / n as f32 >= MEAN_COSINE
}

/// Index of the time in `times` (ascending, not empty) nearest `t`.
fn nearest(times: &[f64], t: f64) -> usize {
    let i = times.partition_point(|x| *x < t);
    if i == 0 {
        0
    } else if i == times.len() || (t - times[i - 1]) <= (times[i] - t) {
        i - 1
    } else {
        i
    }
}

/// Where else a moment is: the same moment in a copy of its video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyOf {
    pub fingerprint: Fingerprint,
    /// The path or URL the copy was first ingested from.
    pub source: String,
    pub start: f64,
    pub end: f64,
}

/// Which videos are copies of each other: each video's known copies.
#[derive(Debug, Default)]
pub struct CopyPairs(HashMap<Fingerprint, Vec<Fingerprint>>);

impl CopyPairs {
    /// `a` and `b` are copies (of each other; a video is not a copy of itself).
    pub fn add(&mut self, a: Fingerprint, b: Fingerprint) {
        if a != b && !self.copies(a, b) {
            self.0.entry(a).or_default().push(b);
            self.0.entry(b).or_default().push(a);
        }
    }

    /// The known copies of `video`.
    pub fn of(&self, video: Fingerprint) -> &[Fingerprint] {
        self.0.get(&video).map_or(&[], Vec::as_slice)
    }

    /// Whether `a` and `b` are known to be copies.
    pub fn copies(&self, a: Fingerprint, b: Fingerprint) -> bool {
        self.of(a).contains(&b)
    }
}

/// Whether two stored videos are copies ([`same_footage`]), reading their frames through the
/// engine's cache only when they are as long.
pub async fn are_copies(engine: &Engine, a: &VideoRecord, b: &VideoRecord) -> Result<bool, SearchError> {
    if a.fingerprint == b.fingerprint || !same_length(a.duration_s, b.duration_s) {
        return Ok(false);
    }
    let (fa, fb) = (engine.frames(a).await?, engine.frames(b).await?);
    Ok(same_footage(&fa, a.duration_s, &fb, b.duration_s))
}

/// The copies among a set of stored videos (`chronoseek library copies`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CopyGroups {
    /// Each group: two or more videos of the same footage, shortest first.
    pub groups: Vec<Vec<Fingerprint>>,
    pub videos: usize,
    /// Pairs of the same length whose frames were compared (not those already known to be in
    /// one group).
    pub pairs_compared: usize,
}

/// Every group of copies among `videos`: sorted by duration, each video is compared with the
/// following ones as long as it, on their stored frames (loaded through the engine's cache).
pub async fn find_copies(
    engine: &Engine,
    videos: &[VideoRecord],
    progress: &ProgressHandle,
) -> Result<CopyGroups, SearchError> {
    let mut order: Vec<&VideoRecord> = videos.iter().collect();
    order.sort_by(|a, b| a.duration_s.total_cmp(&b.duration_s).then(a.fingerprint.cmp(&b.fingerprint)));
    // The videos as long as each one: the ones after it in `order`, up to `ends[i]`.
    let ends: Vec<usize> = (0..order.len())
        .map(|i| {
            (i + 1..order.len())
                .find(|j| !same_length(order[i].duration_s, order[*j].duration_s))
                .unwrap_or(order.len())
        })
        .collect();
    progress.set_length(ends.iter().enumerate().map(|(i, end)| (end - i - 1) as u64).sum());
    // Union-find over the videos: a copy of a copy is in the same group.
    let mut parent: Vec<usize> = (0..order.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut compared = 0;
    for (i, end) in ends.iter().enumerate() {
        for j in i + 1..*end {
            let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
            if ri != rj {
                compared += 1;
                if are_copies(engine, order[i], order[j]).await? {
                    parent[rj] = ri;
                }
            }
            progress.inc(1);
        }
    }
    let mut by_root: std::collections::BTreeMap<usize, Vec<Fingerprint>> = Default::default();
    for (i, r) in order.iter().enumerate() {
        let top = root(&mut parent, i);
        by_root.entry(top).or_default().push(r.fingerprint);
    }
    let mut groups: Vec<Vec<Fingerprint>> = by_root.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    Ok(CopyGroups { groups, videos: order.len(), pairs_compared: compared })
}

/// Intersection over union of two intervals (0 when either is empty).
pub fn iou(a: (f64, f64), b: (f64, f64)) -> f64 {
    let inter = (a.1.min(b.1) - a.0.max(b.0)).max(0.0);
    let union = (a.1 - a.0) + (b.1 - b.0) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::FrameMatrix;

    /// A video of `colours` (one unit vector each, one per second), sampled every `step` s.
    fn video(colours: &[usize], step: f64, wobble: f32) -> CachedFrames {
        let mut m = FrameMatrix::new(4);
        let seconds = colours.len() as f64;
        let mut t = 0.0;
        while t < seconds {
            let mut v = [wobble; 4];
            v[colours[t as usize]] = 1.0;
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            m.push((t * 1000.0) as i64, &v.map(|x| x / norm));
            t += step;
        }
        CachedFrames::new(m)
    }

    #[test]
    fn the_same_footage_sampled_differently_is_a_copy_and_other_footage_is_not() {
        let scenes = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2];
        let original = video(&scenes, 0.5, 0.0);
        // Another encode: sampled at other times, a little noise in every frame.
        let copy = video(&scenes, 1.0, 0.05);
        assert!(same_footage(&original, 10.0, &copy, 10.1));
        // The same scenes in another order, or a scene changed: not the same footage.
        let reordered = video(&[2, 2, 2, 1, 1, 1, 0, 0, 0, 0], 1.0, 0.0);
        assert!(!same_footage(&original, 10.0, &reordered, 10.0));
        let one_scene_changed = video(&[0, 0, 0, 1, 1, 1, 2, 2, 2, 3], 0.5, 0.0);
        assert!(!same_footage(&original, 10.0, &one_scene_changed, 10.0), "a second of other footage");
        // Not the same length: a clip of it, not a copy.
        let clip = video(&scenes[..5], 0.5, 0.0);
        assert!(!same_footage(&original, 10.0, &clip, 5.0));
        assert!(same_length(100.0, 101.9) && !same_length(100.0, 102.5) && same_length(10.0, 10.9));
    }

    #[test]
    fn pairs_are_unordered_and_intervals_overlap_by_iou() {
        let (a, b) = (Fingerprint::from_bytes([1; 32]), Fingerprint::from_bytes([2; 32]));
        let mut pairs = CopyPairs::default();
        pairs.add(b, a);
        pairs.add(a, b);
        pairs.add(a, a);
        assert!(pairs.copies(a, b) && pairs.copies(b, a) && !pairs.copies(a, a));
        assert_eq!((pairs.of(a), pairs.of(b)), (&[b][..], &[a][..]), "each pair once");
        assert_eq!(iou((0.0, 10.0), (5.0, 15.0)), 5.0 / 15.0);
        assert_eq!(iou((0.0, 10.0), (0.0, 10.0)), 1.0);
        assert_eq!(iou((0.0, 1.0), (2.0, 3.0)), 0.0);
        assert_eq!(nearest(&[0.0, 1.0, 2.0], 1.4), 1);
        assert_eq!(nearest(&[0.0, 1.0, 2.0], 1.6), 2);
        assert_eq!(nearest(&[0.0, 1.0, 2.0], 9.0), 2);
    }
}
