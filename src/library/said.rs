//! Searching what is said: moments whose transcript holds the words asked for
//! (`library search --said "happy birthday"`, the page's "in what is said").
//!
//! A sentence in words goes through CLIP and finds what is *seen*; speech only raises moments
//! of videos the frames already proposed (CLIP's text-to-text cosines are not on the frames'
//! scale). Someone looking for where a phrase was spoken wants the words themselves, in every
//! listened video, whatever is on screen. So this is plain word matching over the stored
//! transcripts: no model runs and no frame is read.
//!
//! Words are compared case-insensitively, split at anything that is not a letter or digit. A
//! segment matches when it holds every word asked for; the phrase itself, in order, scores 1,
//! the words in any order 0.5. A phrase that Whisper split over two consecutive segments is
//! found in the pair (0.9), with the interval of both.
//!
//! Transcripts are immutable (a new one gets a new id), so the library keeps each one it has
//! read, already split into words ([`SaidWords`]), and reads the store's transcripts again
//! only when a video's record names one it does not hold.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::counters::Counters;
use crate::index::{SpokenText, Store, StoreError, VideoRecord};

/// Lower-case words of `text`: letters and digits, everything else a separator.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// One place where the words were said.
#[derive(Debug, Clone, PartialEq)]
pub struct SaidMatch {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The segment's (or pair's) text, as transcribed.
    pub text: String,
    /// 1 for the phrase in order, 0.9 for the phrase across two segments, 0.5 for every word in
    /// another order.
    pub score: f32,
}

fn contains_phrase(haystack: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && haystack.windows(phrase.len()).any(|w| w == phrase)
}

/// One transcript, each segment already split into [`words`].
#[derive(Debug)]
pub struct SaidWords {
    pub text: SpokenText,
    words: Vec<Vec<String>>,
}

impl From<SpokenText> for SaidWords {
    fn from(text: SpokenText) -> Self {
        let words = text.segments.iter().map(|(_, _, t)| words(t)).collect();
        Self { text, words }
    }
}

/// The transcripts a library has read, by transcript id.
#[derive(Default)]
pub struct SaidCache(Mutex<HashMap<String, Arc<SaidWords>>>);

impl SaidCache {
    /// The words of the transcripts `records` name (for `model_key`), reading the store only
    /// when one of them is not held yet; transcripts no record names any more are let go.
    pub async fn current(
        &self,
        store: &Store,
        model_key: &str,
        records: &[VideoRecord],
        counters: &Counters,
    ) -> Result<Vec<Arc<SaidWords>>, StoreError> {
        let wanted: HashMap<&str, &VideoRecord> =
            records.iter().filter_map(|r| Some((r.transcript_id.as_deref()?, r))).collect();
        let missing = {
            let held = self.0.lock();
            wanted.keys().any(|id| !held.contains_key(*id))
        };
        if missing {
            Counters::inc(&counters.said_transcript_scans);
            let read: Vec<SpokenText> = store.spoken_texts(model_key).await?;
            let mut held = self.0.lock();
            for t in read {
                if wanted.contains_key(t.transcript_id.as_str()) && !held.contains_key(&t.transcript_id) {
                    held.insert(t.transcript_id.clone(), Arc::new(t.into()));
                }
            }
        }
        let mut held = self.0.lock();
        held.retain(|id, _| wanted.contains_key(id.as_str()));
        // Only a transcript of the video its record names (a fingerprint check, for safety).
        Ok(held
            .values()
            .filter(|w| wanted[w.text.transcript_id.as_str()].fingerprint == w.text.fingerprint)
            .cloned()
            .collect())
    }

    pub fn len(&self) -> usize {
        self.0.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where in one transcript the `query` words (already [`words`]) were said.
pub fn matches(said: &SaidWords, query: &[String]) -> Vec<SaidMatch> {
    if query.is_empty() {
        return Vec::new();
    }
    let (transcript, segs) = (&said.text, &said.words);
    let mut out = Vec::new();
    for (i, (start, end, text)) in transcript.segments.iter().enumerate() {
        let w = &segs[i];
        let score = if contains_phrase(w, query) {
            1.0
        } else if query.iter().all(|q| w.contains(q)) {
            0.5
        } else {
            continue;
        };
        out.push(SaidMatch { start_ms: *start, end_ms: *end, text: text.trim().to_string(), score });
    }
    // The phrase across a segment boundary (neither half has it alone).
    for i in 1..transcript.segments.len() {
        let joined: Vec<String> = segs[i - 1].iter().chain(&segs[i]).cloned().collect();
        if contains_phrase(&joined, query) && !contains_phrase(&segs[i - 1], query) && !contains_phrase(&segs[i], query)
        {
            let ((s, _, a), (_, e, b)) = (&transcript.segments[i - 1], &transcript.segments[i]);
            out.push(SaidMatch { start_ms: *s, end_ms: *e, text: format!("{} {}", a.trim(), b.trim()), score: 0.9 });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(segments: &[(i64, i64, &str)]) -> SpokenText {
        SpokenText {
            fingerprint: crate::fingerprint::Fingerprint::from_bytes([3; 32]),
            transcript_id: "t".into(),
            segments: segments.iter().map(|(s, e, t)| (*s, *e, t.to_string())).collect(),
        }
    }

    #[tokio::test]
    async fn transcripts_are_read_once_and_again_only_for_a_new_one() {
        use crate::index::{FrameMatrix, Heard, SpokenSegment, Transcript};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().to_str().unwrap()).await.unwrap();
        let counters = Counters::default();
        let cache = SaidCache::default();
        let listen = |v: u8| {
            let fp = crate::fingerprint::Fingerprint::from_bytes([v; 32]);
            let record = VideoRecord {
                fingerprint: fp,
                model_key: "m".into(),
                ingest_id: format!("i{v}"),
                duration_s: 10.0,
                source_fps: None,
                width: 8,
                height: 8,
                frame_count: 1,
                sampling: "fixed:1".into(),
                source: format!("v{v}"),
                created_at_ms: 1,
                transcript_id: Some(format!("t{v}")),
            };
            let segment = SpokenSegment { start_ms: 0, end_ms: 1000, text: format!("video {v}"), embedding: vec![1.0] };
            let transcript = Transcript {
                fingerprint: fp,
                model_key: "m".into(),
                transcript_id: format!("t{v}"),
                audio_model: "hand-made".into(),
                heard: Heard::Speech { language: None, segments: vec![segment] },
                created_at_ms: 1,
            };
            (record, transcript)
        };
        let mut frames = FrameMatrix::new(1);
        frames.push(0, &[1.0]);
        let (r1, t1) = listen(1);
        store.put_video_with_transcript(&r1, &frames, &t1).await.unwrap();
        let mut records = vec![r1];
        for _ in 0..3 {
            let held = cache.current(&store, "m", &records, &counters).await.unwrap();
            assert_eq!(held.len(), 1);
        }
        assert_eq!(counters.snapshot().said_transcript_scans, 1, "read once, then held");
        let (r2, t2) = listen(2);
        store.put_video_with_transcript(&r2, &frames, &t2).await.unwrap();
        records.push(r2);
        let held = cache.current(&store, "m", &records, &counters).await.unwrap();
        assert_eq!((held.len(), counters.snapshot().said_transcript_scans), (2, 2), "a new transcript: read again");
        // A video gone from the records: its transcript is let go.
        let held = cache.current(&store, "m", &records[1..], &counters).await.unwrap();
        assert_eq!((held.len(), cache.len(), counters.snapshot().said_transcript_scans), (1, 1, 2));
    }

    #[test]
    fn words_ignore_case_and_punctuation() {
        assert_eq!(words("Happy  Birthday, Anna-Lena! 2024"), ["happy", "birthday", "anna", "lena", "2024"]);
        assert_eq!(words("Ça va? Très bien."), ["ça", "va", "très", "bien"]);
        assert!(words(" ... ").is_empty());
    }

    #[test]
    fn the_phrase_beats_the_words_and_is_found_across_segments() {
        let t = transcript(&[
            (0, 2000, " Happy birthday to you!"),
            (2000, 4000, "A birthday, and so happy."),
            (4000, 6000, "then we said happy"),
            (6000, 8000, "Birthday again"),
            (8000, 9000, "nothing here"),
        ]);
        let t = SaidWords::from(t);
        let m = matches(&t, &words("happy BIRTHDAY"));
        let got: Vec<(i64, i64, f32)> = m.iter().map(|m| (m.start_ms, m.end_ms, m.score)).collect();
        assert_eq!(got, [(0, 2000, 1.0), (2000, 4000, 0.5), (4000, 8000, 0.9)]);
        assert_eq!(m[0].text, "Happy birthday to you!");
        assert_eq!(m[2].text, "then we said happy Birthday again");
        assert!(matches(&t, &words("happy cake")).is_empty(), "every word is needed");
        assert!(matches(&t, &[]).is_empty());
    }
}
