//! Clips among the stored videos (`chronoseek library copies`): which shorter videos were cut
//! from which longer ones, and where ([`copies::clip_place`]). A clip of footage that repeats
//! (a loop, a scene shot twice) is listed with every place it may come from.
//!
//! Comparing every shorter video with every longer one would read every video's frames once
//! per video. Instead, the graph proposes where each candidate clip could come from: the videos
//! holding frames among the nearest to at least two of three of its own (at a quarter, half and
//! three quarters of it): the video a clip was cut from holds all three, while a video that only
//! shares one look (a dark scene, a title card) is proposed by one at most. Only those, and the
//! videos the graph does not hold yet, are compared frame by frame; with no index at all every
//! longer video is (the answer is the same, only slower).

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::LibraryError;
use super::copies;
use super::search::Library;
use crate::fingerprint::Fingerprint;
use crate::index::VideoRecord;
use crate::progress::ProgressHandle;

/// Frames asked of the graph for each probe frame of a candidate clip.
const NEIGHBOURS: usize = 128;

/// A stored video cut from a longer stored video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipOf {
    pub clip: Fingerprint,
    /// The longer video it was cut from.
    pub of: Fingerprint,
    /// Where in that video the clip starts and ends (seconds).
    pub from_s: f64,
    pub to_s: f64,
    /// Other places it may start at in that video, when the footage repeats there (best
    /// first): nothing tells which one it was cut from. Empty when the place is known.
    pub also_from_s: Vec<f64>,
}

/// What [`Library::find_clips`] found and how much it compared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FoundClips {
    /// Shortest clip first, then by the video it was cut from.
    pub clips: Vec<ClipOf>,
    /// Pairs of a shorter and a longer video whose frames were compared.
    pub pairs_compared: usize,
    /// Whether the graph proposed the pairs (false: no index, every longer video compared).
    pub indexed: bool,
}

impl Library {
    /// Every video among `videos` that was cut from a longer one among them.
    pub async fn find_clips(
        &self,
        videos: &[VideoRecord],
        progress: &ProgressHandle,
    ) -> Result<FoundClips, LibraryError> {
        let records = self.videos().await?;
        let among: HashMap<Fingerprint, &VideoRecord> = videos.iter().map(|r| (r.fingerprint, r)).collect();
        let engine = self.engine();
        let mut found = FoundClips::default();
        progress.set_length(videos.len() as u64);
        for short in videos {
            progress.inc(1);
            let longer = |r: &VideoRecord| {
                r.fingerprint != short.fingerprint
                    && r.duration_s > short.duration_s
                    && !copies::same_length(r.duration_s, short.duration_s)
            };
            if short.duration_s < copies::MIN_CLIP_S || !videos.iter().any(longer) {
                continue;
            }
            let frames = engine.frames(short).await?;
            // Where its frames at a quarter, half and three quarters of it are found: videos
            // found by two of them are proposed.
            let mut votes: HashMap<Fingerprint, usize> = HashMap::new();
            let mut unindexed: Option<HashSet<Fingerprint>> = None;
            for at in [0.25, 0.5, 0.75] {
                let Some(i) = copies::nearest_index(&frames.times_s, at * short.duration_s) else { break };
                let ann = self.ann_candidates(frames.frames.row(i), NEIGHBOURS, &records).await?;
                let here: HashSet<Fingerprint> = ann.hits.iter().map(|h| h.fingerprint).collect();
                for fp in here {
                    *votes.entry(fp).or_default() += 1;
                }
                unindexed.get_or_insert_with(|| {
                    videos.iter().map(|r| r.fingerprint).filter(|fp| !ann.indexed.contains(fp)).collect()
                });
            }
            let unindexed = unindexed.unwrap_or_default();
            found.indexed |= unindexed.len() < videos.len();
            let mut proposed: BTreeSet<Fingerprint> =
                votes.into_iter().filter(|(_, n)| *n >= 2).map(|(fp, _)| fp).collect();
            proposed.extend(unindexed);
            for long in proposed.iter().filter_map(|fp| among.get(fp)).filter(|r| longer(r)) {
                found.pairs_compared += 1;
                let whole = engine.frames(long).await?;
                if let Some(place) = copies::clip_place(&frames, short.duration_s, &whole, long.duration_s) {
                    found.clips.push(ClipOf {
                        clip: short.fingerprint,
                        of: long.fingerprint,
                        from_s: place.shift_s,
                        to_s: place.shift_s + short.duration_s,
                        also_from_s: place.also_s,
                    });
                }
            }
        }
        let length = |fp: &Fingerprint| among[fp].duration_s;
        found.clips.sort_by(|a, b| {
            length(&a.clip).total_cmp(&length(&b.clip)).then(a.clip.cmp(&b.clip)).then(a.of.cmp(&b.of))
        });
        Ok(found)
    }
}
