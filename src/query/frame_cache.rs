//! Recently searched videos' frame matrices in memory, bounded by bytes: a popular video
//! (validators send the same task to every miner; users ask many questions of one video) is
//! read from LanceDB once, then served from here. The query-independent part of a search, the
//! frame-to-frame change curve the `snap` segmenter cuts shots with, is kept beside it.
//!
//! Keyed by the frames row's `ingest_id` and the record's `transcript_id`, which name immutable
//! writes: a re-ingested video or a transcript added later gets a new key, so a stale matrix or
//! a missing transcript can never be served.

use std::sync::{Arc, OnceLock};

use lru::LruCache;
use parking_lot::Mutex;

use crate::index::{FrameMatrix, SpokenSegment, Transcript, VideoRecord};

/// One video's frames (and what is said in it) as a search uses them.
/// The longest [`CachedFrames::said_during`] answer, in characters.
pub const SAID_CHARS: usize = 240;

/// `said` cut to [`SAID_CHARS`] at a word, with "…" when cut.
pub fn shorten_said(said: String) -> String {
    if said.chars().count() <= SAID_CHARS {
        return said;
    }
    let cut: String = said.chars().take(SAID_CHARS).collect();
    let cut = cut.rsplit_once(' ').map(|(head, _)| head.to_string()).unwrap_or(cut);
    format!("{}…", cut.trim_end())
}

pub struct CachedFrames {
    pub frames: FrameMatrix,
    /// Sample times in seconds.
    pub times_s: Vec<f64>,
    changes: OnceLock<Vec<f64>>,
    turning: OnceLock<Vec<f64>>,
    transcript: Option<Transcript>,
}

impl CachedFrames {
    pub fn new(frames: FrameMatrix) -> Self {
        let times_s = frames.times_s();
        Self { frames, times_s, changes: OnceLock::new(), turning: OnceLock::new(), transcript: None }
    }

    pub fn with_transcript(self, transcript: Option<Transcript>) -> Self {
        Self { transcript, ..self }
    }

    /// The cache key of a record's frames and transcript.
    pub fn key(video: &VideoRecord) -> String {
        format!("{}/{}", video.ingest_id, video.transcript_id.as_deref().unwrap_or("-"))
    }

    /// The spoken segments (`None`: nobody listened to this video).
    pub fn speech(&self) -> Option<&[SpokenSegment]> {
        self.transcript.as_ref().map(Transcript::segments)
    }

    /// Whether anything was heard in the video (a transcript with at least one segment).
    pub fn has_speech(&self) -> bool {
        self.speech().is_some_and(|s| !s.is_empty())
    }

    /// What was said during `[start, end]` seconds: the transcript segments overlapping it, in
    /// order, joined (at most [`SAID_CHARS`] characters, cut at a word with "…"); `None` when
    /// nothing was heard there or the video was not listened to.
    pub fn said_during(&self, start: f64, end: f64) -> Option<String> {
        let (start_ms, end_ms) = ((start * 1000.0).round() as i64, (end * 1000.0).round() as i64);
        let mut heard: Vec<&SpokenSegment> =
            self.speech()?.iter().filter(|s| s.start_ms < end_ms && s.end_ms > start_ms).collect();
        heard.sort_by_key(|s| s.start_ms);
        let mut said = String::new();
        for text in heard.iter().map(|s| s.text.trim()).filter(|t| !t.is_empty()) {
            if !said.is_empty() {
                said.push(' ');
            }
            said.push_str(text);
        }
        (!said.is_empty()).then(|| shorten_said(said))
    }

    /// `1 − cos` between consecutive frames, computed once per video.
    pub fn changes(&self) -> &[f64] {
        self.changes.get_or_init(|| super::timeline::frame_changes(&self.frames))
    }

    /// Where the picture turns between each sample and the next, computed once per video.
    pub fn turning_points(&self) -> &[f64] {
        self.turning.get_or_init(|| super::timeline::turning_points(&self.frames, &self.times_s))
    }

    fn bytes(&self) -> usize {
        // Matrix, timestamps, times and (at most) the change curve and the turning points;
        // the segments.
        let speech: usize =
            self.speech().unwrap_or_default().iter().map(|s| s.embedding.len() * 4 + s.text.len() + 64).sum();
        self.frames.data.len() * 4
            + self.frames.timestamps_ms.len() * 8 * 4
            + self.frames.cuts_us.as_ref().map_or(0, |c| c.len() * 8)
            + speech
    }
}

/// An LRU over [`CachedFrames`] with a byte budget; a budget of 0 disables it.
pub struct FrameCache {
    inner: Option<Mutex<Inner>>,
}

struct Inner {
    lru: LruCache<String, Arc<CachedFrames>>,
    bytes: usize,
    budget: usize,
}

impl FrameCache {
    pub fn new(budget_bytes: usize) -> Self {
        let inner = (budget_bytes > 0)
            .then(|| Mutex::new(Inner { lru: LruCache::unbounded(), bytes: 0, budget: budget_bytes }));
        Self { inner }
    }

    pub fn get(&self, ingest_id: &str) -> Option<Arc<CachedFrames>> {
        self.inner.as_ref()?.lock().lru.get(ingest_id).cloned()
    }

    /// Keeps `frames` unless they alone exceed the budget; evicts the least recently used.
    pub fn put(&self, ingest_id: &str, frames: Arc<CachedFrames>) {
        let Some(inner) = &self.inner else { return };
        let size = frames.bytes();
        let mut g = inner.lock();
        if size > g.budget {
            return;
        }
        if let Some(old) = g.lru.put(ingest_id.to_string(), frames) {
            g.bytes -= old.bytes();
        }
        g.bytes += size;
        while g.bytes > g.budget {
            match g.lru.pop_lru() {
                Some((_, v)) => g.bytes -= v.bytes(),
                None => break,
            }
        }
    }

    /// Videos held.
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |i| i.lock().lru.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_was_said_is_cut_at_a_word() {
        let seg =
            |s: i64, e: i64, text: &str| SpokenSegment { start_ms: s, end_ms: e, text: text.into(), embedding: vec![] };
        let long = "word ".repeat(100);
        let transcript = Transcript {
            fingerprint: crate::fingerprint::Fingerprint::from_bytes([1; 32]),
            model_key: "m".into(),
            transcript_id: "t".into(),
            audio_model: "hand-made".into(),
            heard: crate::index::Heard::Speech {
                language: None,
                segments: vec![seg(5000, 6000, " later "), seg(0, 2000, "  "), seg(1000, 4000, &long)],
            },
            created_at_ms: 0,
        };
        let c = CachedFrames::new(FrameMatrix::new(4)).with_transcript(Some(transcript));
        let said = c.said_during(0.0, 10.0).unwrap();
        assert!(said.ends_with("word…") && said.chars().count() <= SAID_CHARS + 1, "{said}");
        assert!(!said.contains("later"), "cut before the later segment");
        assert_eq!(c.said_during(4.5, 5.5).as_deref(), Some("later"));
        assert_eq!(c.said_during(0.0, 0.5), None, "a blank segment says nothing");
        assert_eq!(CachedFrames::new(FrameMatrix::new(4)).said_during(0.0, 9.0), None, "not listened to");
    }

    fn frames(n: usize) -> Arc<CachedFrames> {
        let mut m = FrameMatrix::new(4);
        for i in 0..n {
            m.push(i as i64 * 1000, &[1.0, 0.0, 0.0, 0.0]);
        }
        Arc::new(CachedFrames::new(m))
    }

    #[test]
    fn evicts_least_recently_used_past_the_budget() {
        let one = frames(10).bytes();
        let cache = FrameCache::new(one * 2);
        cache.put("a", frames(10));
        cache.put("b", frames(10));
        assert!(cache.get("a").is_some()); // a is now the most recent
        cache.put("c", frames(10));
        assert!(cache.get("b").is_none(), "b was the least recently used");
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        cache.put("huge", frames(1000));
        assert!(cache.get("huge").is_none(), "bigger than the whole budget: not kept");
        assert_eq!(FrameCache::new(0).len(), 0);
        let off = FrameCache::new(0);
        off.put("a", frames(1));
        assert!(off.get("a").is_none());
        assert_eq!(frames(3).changes(), &[0.0, 0.0]);
    }
}
