//! Copies of one video: the same footage stored more than once under different bytes (the
//! phone's original and the messenger's re-encoded copy, an export at another size, an MP4
//! beside its MKV), and clips cut from a longer stored video (the 30 s sent to a friend, cut
//! from the 10 min recording). Each has its own fingerprint, so without this a search shows
//! every moment once per copy and the copies crowd out everything else.
//!
//! Two stored videos are copies when they last as long (within 2 %, at least 1 s apart at
//! most) and CLIP sees the same picture at the same times: at up to [`SAMPLES`] times spread
//! over the video, the stored frames nearest each time have a mean cosine of at least
//! [`MEAN_COSINE`] and none below [`MIN_COSINE`]. A shorter video (at least [`MIN_CLIP_S`]) is
//! a clip of a longer one when the same holds at some shift: the clip's time `t` is the
//! longer video's `t + shift` ([`clip_shift`]). The shifts tried are those where the clip's
//! middle frame meets a frame of the longer video (cosine ≥ [`MIN_COSINE`]), each refined to
//! half the denser sampling step; the times compared are the frames of the sparser of the two
//! (so a frame is never compared with one further away than half a step of the denser one),
//! at least [`MIN_CLIP_SAMPLES`] of them. The place must stand out: its frames must agree
//! [`MIN_CONTRAST`] better than the clip meets the longer video at large, and
//! [`MIN_LEAD`] better than at any other place (footage that repeats leaves a clip unplaced).
//! It reads only the embeddings the store already holds (a search has them cached), so it
//! costs a few thousand multiply-adds a pair.
//!
//! A search folds a moment of a copy or clip into the better-ranked moment it repeats (same
//! footage, intervals overlapping by IoU ≥ [`SAME_MOMENT_IOU`] once shifted into one
//! timeline), which lists it under `copies` with its [`Relation`].

use std::collections::HashMap;

use serde::Serialize;

use crate::fingerprint::Fingerprint;
use crate::index::VideoRecord;
use crate::progress::ProgressHandle;
use crate::query::frame_cache::CachedFrames;
use crate::query::segment::stats::iou;
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

/// The shortest video taken for a clip of a longer one: a few seconds of a still scene would
/// "appear" in every video that holds the scene.
pub const MIN_CLIP_S: f64 = 5.0;
/// How much better a clip's frames must meet their places in the longer video than they meet
/// it on average (its frames spread over the whole of it).
pub const MIN_CONTRAST: f32 = 0.05;
/// How much better the place a clip was cut from must agree than any other place in the
/// longer video: footage that repeats leaves the clip unplaced rather than placed at random.
pub const MIN_LEAD: f32 = 0.01;
/// Fewest frames of the sparser video inside a clip that can show it is one (a 5 s clip of a
/// video sampled every 4 s holds one or two: too few to tell).
pub const MIN_CLIP_SAMPLES: usize = 3;

/// Whether two stored videos (their cached frames and durations) are the same footage.
pub fn same_footage(a: &CachedFrames, a_s: f64, b: &CachedFrames, b_s: f64) -> bool {
    if !same_length(a_s, b_s) || !comparable(a, b) {
        return false;
    }
    let span = a_s.min(b_s);
    let n = SAMPLES.min(span.ceil().max(1.0) as usize);
    let times = (0..n).map(|i| (i as f64 + 0.5) * span / n as f64);
    agreement(a, b, 0.0, times).is_some_and(|mean| mean >= MEAN_COSINE)
}

/// Where a clip lies inside the longer video it was cut from ([`clip_place`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ClipPlace {
    /// The shift that takes the clip's times to the longer video's (`t` in the clip is
    /// `t + shift_s` there) at the place that agrees best.
    pub shift_s: f64,
    /// Other places that agree within [`MIN_LEAD`] of it (footage that repeats: a loop, a
    /// scene shot twice), best first. Empty when the place is known.
    pub also_s: Vec<f64>,
}

impl ClipPlace {
    /// The shift when the clip has one place, None when the footage repeats.
    pub fn unique(&self) -> Option<f64> {
        self.also_s.is_empty().then_some(self.shift_s)
    }
}

/// Where `clip` lies inside the longer video `whole`: the shift that takes the clip's times to
/// `whole`'s (`t` in the clip is `t + shift` there), or None when it is not cut from it (or
/// too short to tell, or as long: then it may be a copy, [`same_footage`]), or when the
/// footage repeats and nothing tells which repeat it was cut from ([`clip_place`] lists them).
pub fn clip_shift(clip: &CachedFrames, clip_s: f64, whole: &CachedFrames, whole_s: f64) -> Option<f64> {
    clip_place(clip, clip_s, whole, whole_s)?.unique()
}

/// Every place `clip` may have been cut from in `whole`, or None when it is not a clip of it.
pub fn clip_place(clip: &CachedFrames, clip_s: f64, whole: &CachedFrames, whole_s: f64) -> Option<ClipPlace> {
    if clip_s < MIN_CLIP_S || clip_s >= whole_s || same_length(clip_s, whole_s) || !comparable(clip, whole) {
        return None;
    }
    let (clip_step, whole_step) = (step(&clip.times_s, clip_s), step(&whole.times_s, whole_s));
    let fine = clip_step.min(whole_step) / 2.0;
    // How far a shift proposed by one frame can be from the true one: half the longer step.
    let steps = (clip_step.max(whole_step) / 2.0 / fine).ceil() as i64;
    let a = nearest(&clip.times_s, clip_s / 2.0);
    let (anchor, anchor_t) = (clip.frames.row(a), clip.times_s[a]);
    // Shifts on a grid of `fine` steps, each tried once however many frames propose it. A
    // clip cut a little before the start or after the end still counts (times are rounded).
    let shifts: std::collections::BTreeSet<i64> = whole
        .times_s
        .iter()
        .enumerate()
        .filter(|(j, _)| dot(anchor, whole.frames.row(*j)) >= MIN_COSINE)
        .flat_map(|(_, t)| {
            let at = ((t - anchor_t) / fine).round() as i64;
            at - steps..=at + steps
        })
        .filter(|k| (-1.0..=whole_s - clip_s + 1.0).contains(&(*k as f64 * fine)))
        .collect();
    // The times compared: the sparser video's frames inside the clip, in the clip's time.
    let spread = |times: Vec<f64>| -> Vec<f64> {
        let n = SAMPLES.min(times.len());
        (0..n).map(|i| times[i * times.len() / n]).collect()
    };
    let clip_times = spread(clip.times_s.clone());
    let tried: Vec<(i64, Option<f32>)> = shifts
        .into_iter()
        .map(|k| {
            let shift = k as f64 * fine;
            let times = if whole_step > clip_step {
                spread(whole.times_s.iter().map(|t| t - shift).filter(|t| (0.0..=clip_s).contains(t)).collect())
            } else {
                clip_times.clone()
            };
            let enough = times.len() >= MIN_CLIP_SAMPLES;
            (k, agreement(clip, whole, shift, times.into_iter()).filter(|_| enough))
        })
        .collect();
    let best = tried.iter().filter_map(|(_, m)| *m).max_by(f32::total_cmp)?;
    // Where it was cut must stand out: the clip's frames must meet their places far better
    // than they meet the longer video at large (a model that sees every frame alike, or a
    // video of one unchanging view, cannot tell where a clip comes from).
    let typical = spread(whole.times_s.clone());
    let baseline = clip_times
        .iter()
        .map(|t| {
            let x = clip.frames.row(nearest(&clip.times_s, *t));
            typical.iter().map(|u| dot(x, whole.frames.row(nearest(&whole.times_s, *u)))).sum::<f32>()
                / typical.len() as f32
        })
        .sum::<f32>()
        / clip_times.len() as f32;
    if best < MEAN_COSINE || best - baseline < MIN_CONTRAST {
        return None;
    }
    // A place is a run of neighbouring shifts that all agree; footage that repeats (a loop, a
    // scene shot twice) has several, and any whose best agrees within MIN_LEAD of the best is
    // as likely to be where the clip was cut.
    let mut places: Vec<(f32, f64)> = Vec::new();
    let mut i = 0;
    while i < tried.len() {
        let Some(first) = tried[i].1 else {
            i += 1;
            continue;
        };
        let mut end = i + 1;
        while end < tried.len() && tried[end].0 == tried[end - 1].0 + 1 && tried[end].1.is_some() {
            end += 1;
        }
        let run = &tried[i..end];
        let (top_at, top) = run.iter().enumerate().fold((0, first), |(a, m), (j, (_, x))| {
            let x = x.unwrap_or(f32::MIN);
            if x > m { (j, x) } else { (a, m) }
        });
        if top >= best - MIN_LEAD {
            // Shifts next to the top that agree as well (a still scene at the cut) cannot be
            // told apart: the middle of their run is the best guess.
            let alike = |j: usize| run[j].1.is_some_and(|m| m >= top - 1e-4);
            let (mut lo, mut hi) = (top_at, top_at);
            while lo > 0 && alike(lo - 1) {
                lo -= 1;
            }
            while hi + 1 < run.len() && alike(hi + 1) {
                hi += 1;
            }
            let shift = (run[lo].0 + run[hi].0) as f64 / 2.0 * fine;
            places.push((top, crate::protocol::round_ms(shift)));
        }
        i = end;
    }
    places.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.total_cmp(&b.1)));
    let mut shifts = places.into_iter().map(|(_, shift)| shift);
    let shift_s = shifts.next()?;
    Some(ClipPlace { shift_s, also_s: shifts.collect() })
}

/// The mean cosine of `a`'s frames nearest `times` and `b`'s nearest the same times shifted
/// by `shift`, or None when any pair is below [`MIN_COSINE`] (or there are no times).
fn agreement(a: &CachedFrames, b: &CachedFrames, shift: f64, times: impl Iterator<Item = f64>) -> Option<f32> {
    let (mut sum, mut n) = (0.0f32, 0usize);
    for t in times {
        let cos = dot(a.frames.row(nearest(&a.times_s, t)), b.frames.row(nearest(&b.times_s, t + shift)));
        if cos < MIN_COSINE {
            return None;
        }
        sum += cos;
        n += 1;
    }
    (n > 0).then(|| sum / n as f32)
}

fn comparable(a: &CachedFrames, b: &CachedFrames) -> bool {
    !a.frames.is_empty() && !b.frames.is_empty() && a.frames.dim == b.frames.dim
}

fn dot(x: &[f32], y: &[f32]) -> f32 {
    x.iter().zip(y).map(|(p, q)| p * q).sum()
}

/// A video's sampling step: its duration over its frames.
fn step(times: &[f64], duration_s: f64) -> f64 {
    (duration_s / times.len().max(1) as f64).max(1e-3)
}

/// Index of the time in `times` (ascending, not empty) nearest `t`.
fn nearest(times: &[f64], t: f64) -> usize {
    nearest_index(times, t).unwrap_or(0)
}

/// Index of the time in `times` (ascending) nearest `t`, the earlier on a tie (None: no times).
pub(super) fn nearest_index(times: &[f64], t: f64) -> Option<usize> {
    let i = times.partition_point(|x| *x < t);
    if times.is_empty() {
        None
    } else if i == 0 {
        Some(0)
    } else if i == times.len() || (t - times[i - 1]) <= (times[i] - t) {
        Some(i - 1)
    } else {
        Some(i)
    }
}

/// What another stored video is to this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// The same footage, as long ([`same_footage`]).
    Copy,
    /// Cut from this video ([`clip_shift`]).
    Clip,
    /// The longer video this one was cut from.
    Original,
}

impl Relation {
    /// What this video is to the other one.
    pub fn reverse(self) -> Self {
        match self {
            Self::Copy => Self::Copy,
            Self::Clip => Self::Original,
            Self::Original => Self::Clip,
        }
    }
}

/// Where else a moment is: the same moment in a copy of its video, a clip cut from it, or the
/// video it was cut from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopyOf {
    pub fingerprint: Fingerprint,
    /// The path or URL the copy was first ingested from.
    pub source: String,
    /// The moment in that video's own time.
    pub start: f64,
    pub end: f64,
    pub relation: Relation,
}

/// Another stored video with the same footage, and how its time lines up with this one's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SameFootage {
    pub other: Fingerprint,
    /// A moment at `t` in this video is at `t + shift_s` in the other.
    pub shift_s: f64,
    pub relation: Relation,
}

/// Which videos hold the same footage as which: each video's known copies and clips.
#[derive(Debug, Default)]
pub struct CopyPairs(HashMap<Fingerprint, Vec<SameFootage>>);

impl CopyPairs {
    /// `b` is `relation` to `a`, and a moment at `t` in `a` is at `t + shift_s` in `b` (recorded
    /// both ways; a video is not a copy of itself).
    pub fn add(&mut self, a: Fingerprint, b: Fingerprint, shift_s: f64, relation: Relation) {
        if a != b && !self.copies(a, b) {
            self.0.entry(a).or_default().push(SameFootage { other: b, shift_s, relation });
            self.0.entry(b).or_default().push(SameFootage {
                other: a,
                shift_s: -shift_s,
                relation: relation.reverse(),
            });
        }
    }

    /// The known copies and clips of `video`.
    pub fn of(&self, video: Fingerprint) -> &[SameFootage] {
        self.0.get(&video).map_or(&[], Vec::as_slice)
    }

    /// How `b` lines up with `a`, when they are known to hold the same footage.
    pub fn between(&self, a: Fingerprint, b: Fingerprint) -> Option<&SameFootage> {
        self.of(a).iter().find(|s| s.other == b)
    }

    /// Whether `a` and `b` are known to hold the same footage.
    pub fn copies(&self, a: Fingerprint, b: Fingerprint) -> bool {
        self.between(a, b).is_some()
    }
}

/// How `b` lines up with `a` when they hold the same footage ([`same_footage`] for videos as
/// long, [`clip_shift`] otherwise), reading their frames through the engine's cache only when
/// the lengths allow it.
pub async fn same_footage_of(
    engine: &Engine,
    a: &VideoRecord,
    b: &VideoRecord,
) -> Result<Option<SameFootage>, SearchError> {
    let (short, long) = if a.duration_s <= b.duration_s { (a, b) } else { (b, a) };
    if a.fingerprint == b.fingerprint || (!same_length(a.duration_s, b.duration_s) && short.duration_s < MIN_CLIP_S) {
        return Ok(None);
    }
    let (fa, fb) = (engine.frames(a).await?, engine.frames(b).await?);
    if same_length(a.duration_s, b.duration_s) {
        let same = same_footage(&fa, a.duration_s, &fb, b.duration_s);
        return Ok(same.then_some(SameFootage { other: b.fingerprint, shift_s: 0.0, relation: Relation::Copy }));
    }
    let (fs, fl) = if short.fingerprint == a.fingerprint { (&fa, &fb) } else { (&fb, &fa) };
    let Some(shift) = clip_shift(fs, short.duration_s, fl, long.duration_s) else { return Ok(None) };
    Ok(Some(if short.fingerprint == a.fingerprint {
        SameFootage { other: b.fingerprint, shift_s: shift, relation: Relation::Original }
    } else {
        SameFootage { other: b.fingerprint, shift_s: -shift, relation: Relation::Clip }
    }))
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
                if same_footage_of(engine, order[i], order[j]).await?.is_some() {
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

/// Whether a moment `other` of a video `other_s` long is the moment `kept` of a video `kept_s`
/// long that holds the same footage, a moment at `t` in the other being at `t + shift_s` in
/// the kept one: shifted into the kept video's time and both cut to the footage the two videos
/// share (a clip holds only part of a longer moment), they overlap by IoU ≥
/// [`SAME_MOMENT_IOU`].
pub fn same_moment(kept: (f64, f64), kept_s: f64, other: (f64, f64), other_s: f64, shift_s: f64) -> bool {
    let (lo, hi) = (shift_s.max(0.0), (other_s + shift_s).min(kept_s));
    if lo >= hi {
        return false;
    }
    let cut = |(a, b): (f64, f64)| (a.clamp(lo, hi), b.clamp(lo, hi));
    iou(cut(kept), cut((other.0 + shift_s, other.1 + shift_s))) >= SAME_MOMENT_IOU
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

    /// Footage `seconds` long whose scene at time `t` is `scene(t)` (a unit vector in 8
    /// dimensions), sampled every `step` s from 0, a little noise in every frame.
    fn footage(scene: impl Fn(f64) -> usize, seconds: f64, step: f64) -> CachedFrames {
        let mut m = FrameMatrix::new(8);
        let mut t = 0.0;
        while t < seconds {
            let mut v = [0.03f32; 8];
            v[scene(t)] = 1.0;
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            m.push((t * 1000.0).round() as i64, &v.map(|x| x / norm));
            t += step;
        }
        CachedFrames::new(m)
    }

    /// Scenes 2–4 s long in an order that does not repeat soon.
    fn scene_at(t: f64) -> usize {
        let cuts = [0.0, 3.0, 5.0, 9.0, 11.0, 14.0, 18.0, 20.0, 23.0, 27.0, 29.0, 32.0, 36.0, 38.0, 41.0, 45.0];
        let i = cuts.iter().rposition(|c| *c <= t).unwrap_or(0);
        (i * 5) % 8
    }

    #[test]
    fn a_clip_is_found_where_it_was_cut_and_nowhere_else() {
        let whole = footage(scene_at, 48.0, 1.0);
        // Cut at 17.3 s (between two of the long video's frames), 14 s long, sampled anew.
        let clip = footage(|t| scene_at(17.3 + t), 14.0, 1.0);
        let shift = clip_shift(&clip, 14.0, &whole, 48.0).expect("a clip of it");
        assert!((shift - 17.3).abs() <= 0.5, "cut at 17.3 s, found at {shift}");
        // A long video sampled every 4 s (as hours are) and a clip every second.
        let sparse = footage(scene_at, 48.0, 4.0);
        let shift = clip_shift(&clip, 14.0, &sparse, 48.0).expect("a clip of the sparse video");
        assert!((shift - 17.3).abs() <= 1.0, "cut at 17.3 s, found at {shift} against a 4 s step");
        // The same scenes in reverse, another scene in the middle, too short, as long.
        assert_eq!(clip_shift(&footage(|t| scene_at(31.3 - t), 14.0, 1.0), 14.0, &whole, 48.0), None);
        let changed = footage(|t| if (6.0..9.0).contains(&t) { 7 } else { scene_at(17.3 + t) }, 14.0, 1.0);
        assert_eq!(clip_shift(&changed, 14.0, &whole, 48.0), None, "three seconds of other footage");
        let short = footage(|t| scene_at(17.3 + t), 4.0, 1.0);
        assert_eq!(clip_shift(&short, 4.0, &whole, 48.0), None, "under MIN_CLIP_S");
        let trimmed = footage(|t| scene_at(0.5 + t), 47.5, 1.0);
        assert_eq!(clip_shift(&trimmed, 47.5, &whole, 48.0), None, "as long: a copy, not a clip");
        assert!(same_footage(&whole, 48.0, &trimmed, 47.5));
        // One unchanging view: the clip is of it, but nothing tells where it was cut.
        let still = footage(|_| 3, 48.0, 1.0);
        assert_eq!(clip_shift(&footage(|_| 3, 14.0, 1.0), 14.0, &still, 48.0), None, "no place stands out");
        // The whole is not a clip of its clip.
        assert_eq!(clip_shift(&whole, 48.0, &clip, 14.0), None);
    }

    #[test]
    fn a_clip_of_footage_that_repeats_has_every_repeat_for_a_place() {
        // The same 12 s loop four times: a clip of it is cut from every loop alike.
        let looped = |t: f64| scene_at(t % 12.0);
        let whole = footage(looped, 48.0, 1.0);
        let clip = footage(|t| looped(13.3 + t), 10.0, 1.0);
        assert_eq!(clip_shift(&clip, 10.0, &whole, 48.0), None, "four places agree alike");
        let place = clip_place(&clip, 10.0, &whole, 48.0).expect("a clip of the loop");
        let mut all: Vec<f64> = place.also_s.iter().copied().chain([place.shift_s]).collect();
        all.sort_by(f64::total_cmp);
        assert_eq!(all.len(), 4, "one place per loop: {place:?}");
        for (k, shift) in all.iter().enumerate() {
            assert!((shift - (1.3 + 12.0 * k as f64)).abs() <= 0.5, "loop {k} at {shift}: {place:?}");
        }
        // One loop changed (scene 7 from 20 s to 22 s): the clip holding it has one place.
        let changed = |t: f64| if (20.0..22.0).contains(&t) { 7 } else { looped(t) };
        let whole = footage(changed, 48.0, 1.0);
        let clip = footage(|t| changed(13.3 + t), 10.0, 1.0);
        let place = clip_place(&clip, 10.0, &whole, 48.0).expect("one place holds the changed loop");
        assert_eq!(place.also_s, Vec::<f64>::new(), "no other place agrees as well");
        let shift = clip_shift(&clip, 10.0, &whole, 48.0).expect("one place holds the changed loop");
        assert!((shift - 13.3).abs() <= 0.5, "cut at 13.3 s, found at {shift}");
    }

    #[test]
    fn pairs_are_unordered_and_intervals_overlap_by_iou() {
        let (a, b, c) =
            (Fingerprint::from_bytes([1; 32]), Fingerprint::from_bytes([2; 32]), Fingerprint::from_bytes([3; 32]));
        let mut pairs = CopyPairs::default();
        pairs.add(b, a, 0.0, Relation::Copy);
        pairs.add(a, b, 0.0, Relation::Copy);
        pairs.add(a, a, 0.0, Relation::Copy);
        assert!(pairs.copies(a, b) && pairs.copies(b, a) && !pairs.copies(a, a));
        let others = |v| pairs.of(v).iter().map(|s| s.other).collect::<Vec<_>>();
        assert_eq!((others(a), others(b)), (vec![b], vec![a]), "each pair once");
        // c was cut from a at 20 s: a moment at 5 s in c is at 25 s in a.
        pairs.add(c, a, 20.0, Relation::Original);
        let (ca, ac) = (pairs.between(c, a).unwrap(), pairs.between(a, c).unwrap());
        assert_eq!((ca.shift_s, ca.relation), (20.0, Relation::Original));
        assert_eq!((ac.shift_s, ac.relation), (-20.0, Relation::Clip));
        // A clip cut at 6 s from a video of 30 s holds 4 s of its red moment (0-10 s).
        assert!(same_moment((0.0, 10.0), 30.0, (0.0, 4.0), 10.0, 6.0), "the part the clip holds");
        assert!(!same_moment((0.0, 10.0), 30.0, (4.0, 10.0), 10.0, 6.0), "the clip's next moment");
        assert!(same_moment((0.0, 4.0), 10.0, (0.0, 10.0), 30.0, -6.0), "the other way round");
        assert!(!same_moment((0.0, 10.0), 30.0, (0.0, 4.0), 10.0, 30.0), "no footage in common");
        assert!(
            same_moment((1.0, 9.0), 30.0, (2.0, 9.5), 30.0, 0.0)
                && !same_moment((1.0, 9.0), 30.0, (6.0, 14.0), 30.0, 0.0)
        );
        assert_eq!(nearest(&[0.0, 1.0, 2.0], 1.4), 1);
        assert_eq!(nearest(&[0.0, 1.0, 2.0], 1.6), 2);
        assert_eq!(nearest(&[0.0, 1.0, 2.0], 9.0), 2);
        assert_eq!((nearest_index(&[0.0, 1.0], 0.5), nearest_index(&[], 1.0)), (Some(0), None));
    }
}
