//! Searching what is said: moments whose transcript holds the words asked for
//! (`library search --said "happy birthday"`, the page's "in what is said").
//!
//! A sentence in words goes through CLIP and finds what is *seen*; speech only raises moments
//! of videos the frames already proposed (CLIP's text-to-text cosines are not on the frames'
//! scale). Someone looking for where a phrase was spoken wants the words themselves, in every
//! listened video, whatever is on screen. So this is plain word matching over the stored
//! transcripts: no model runs and no frame is read.
//!
//! Words are Unicode words (UAX #29: each Chinese or Japanese ideograph is a word of its own,
//! so a phrase in a language written without spaces is found as its characters in order),
//! split again at apostrophes, compared without case and without accents (`Café` = `cafe`,
//! `Straße` = `strasse`). A segment matches when it holds every word asked for; the phrase
//! itself, in order, scores 1, the words in any order 0.5. A phrase that Whisper split over
//! consecutive segments (starting in one, ending in a later one) is found in those (0.9), with
//! the interval of all. Failing the words as written, their stems in the transcript's language
//! (Snowball, for the 18 languages it has: `birthdays` finds `birthday`, `gesungen` finds
//! `singen`... where the stemmer says so) match at 0.8 of those scores, so the forms asked for
//! rank first.
//!
//! Transcripts are immutable (a new one gets a new id), so the library keeps each one it has
//! read, already split into words and stems ([`SaidWords`]), and reads the store's transcripts
//! again only when a video's record names one it does not hold.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;

use parking_lot::Mutex;
use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use unicode_segmentation::UnicodeSegmentation;

use crate::counters::Counters;
use crate::index::{SpokenText, Store, StoreError, VideoRecord};

/// What a match on stems alone is worth, relative to the same match on the words as written.
pub const STEM_WEIGHT: f32 = 0.8;

/// Apostrophes that split a word (`don't`, `l’homme`).
const APOSTROPHES: [char; 3] = ['\'', '\u{2019}', '\u{02bc}'];

/// Lower-case words of `text`, as written (accents kept), with where each is in `text` (bytes):
/// Unicode words split at apostrophes.
fn raw_words(text: &str) -> impl Iterator<Item = (Range<usize>, String)> + '_ {
    text.unicode_word_indices().flat_map(|(at, w)| {
        let mut parts = Vec::new();
        let mut start = 0;
        for (i, c) in w.char_indices().filter(|(_, c)| APOSTROPHES.contains(c)).chain([(w.len(), ' ')]) {
            if i > start {
                parts.push((at + start..at + i, w[start..i].to_lowercase()));
            }
            start = i + c.len_utf8();
        }
        parts
    })
}

/// A lower-case word without its accents: compatibility decomposition, combining marks
/// dropped, `ß` as `ss`.
fn fold(word: &str) -> String {
    word.nfkd().filter(|c| !is_combining_mark(*c)).collect::<String>().replace('ß', "ss")
}

/// The words of `text` as they are compared: lower case, accents folded.
pub fn words(text: &str) -> Vec<String> {
    raw_words(text).map(|(_, w)| fold(&w)).collect()
}

/// The Snowball stemmer for a Whisper language code (`en`, `de`, ...); `None` for a language
/// Snowball lacks or an unknown one (words are then compared only as written).
pub fn stemmer_for(language: Option<&str>) -> Option<Algorithm> {
    Some(match language?.to_ascii_lowercase().as_str() {
        "ar" => Algorithm::Arabic,
        "da" => Algorithm::Danish,
        "nl" => Algorithm::Dutch,
        "en" => Algorithm::English,
        "fi" => Algorithm::Finnish,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "el" => Algorithm::Greek,
        "hu" => Algorithm::Hungarian,
        "it" => Algorithm::Italian,
        "no" | "nn" | "nb" => Algorithm::Norwegian,
        "pt" => Algorithm::Portuguese,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "es" => Algorithm::Spanish,
        "sv" => Algorithm::Swedish,
        "ta" => Algorithm::Tamil,
        "tr" => Algorithm::Turkish,
        _ => return None,
    })
}

/// Stems of `text`'s words (stemmed as written, then folded like [`words`]).
fn stems(text: &str, stemmer: &Stemmer) -> Vec<String> {
    raw_words(text).map(|(_, w)| fold(&stemmer.stem(&w))).collect()
}

/// The words asked for, ready to be compared with transcripts in any language.
#[derive(Debug, Clone)]
pub struct SaidQuery {
    text: String,
    words: Vec<String>,
}

impl SaidQuery {
    pub fn new(text: &str) -> Self {
        Self { text: text.to_string(), words: words(text) }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    fn stems(&self, stemmer: &Stemmer) -> Vec<String> {
        stems(&self.text, stemmer)
    }
}

/// `text` cut into plain and marked parts (`true`: inside one of `marks`, byte ranges in order);
/// ranges that overlap an earlier one, leave the text or split a character are ignored. The
/// parts together are `text`.
pub fn marked_parts<'t>(text: &'t str, marks: &[Range<usize>]) -> Vec<(&'t str, bool)> {
    let mut parts = Vec::new();
    let mut at = 0;
    for r in marks {
        if r.start < at || r.end > text.len() || !text.is_char_boundary(r.start) || !text.is_char_boundary(r.end) {
            continue;
        }
        if r.start > at {
            parts.push((&text[at..r.start], false));
        }
        parts.push((&text[r.clone()], true));
        at = r.end;
    }
    if at < text.len() {
        parts.push((&text[at..], false));
    }
    parts
}

/// One place where the words were said.
#[derive(Debug, Clone, PartialEq)]
pub struct SaidMatch {
    pub start_ms: i64,
    pub end_ms: i64,
    /// The segment's text (or the consecutive segments', joined by a space), as transcribed.
    pub text: String,
    /// 1 for the phrase in order, 0.9 for the phrase across segments, 0.5 for every word in
    /// another order; times [`STEM_WEIGHT`] when only the stems match.
    pub score: f32,
    /// Where in `text` the words asked for are (bytes, in order): the phrase wherever it
    /// occurs, or each word asked for.
    pub marks: Vec<Range<usize>>,
}

/// One transcript, each segment already split into [`words`] (and stems, when Snowball has
/// its language).
pub struct SaidWords {
    pub text: SpokenText,
    words: Vec<Vec<String>>,
    /// Where each word is in its segment's text (bytes).
    spans: Vec<Vec<Range<usize>>>,
    stemmed: Option<(Stemmer, Vec<Vec<String>>)>,
}

impl std::fmt::Debug for SaidWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaidWords")
            .field("text", &self.text)
            .field("stemmed", &self.stemmed.is_some())
            .finish_non_exhaustive()
    }
}

impl From<SpokenText> for SaidWords {
    fn from(text: SpokenText) -> Self {
        let words = text.segments.iter().map(|(_, _, t)| words(t)).collect();
        let spans = text.segments.iter().map(|(_, _, t)| raw_words(t).map(|(at, _)| at).collect()).collect();
        let stemmed = stemmer_for(text.language.as_deref()).map(|a| {
            let stemmer = Stemmer::create(a);
            let stems = text.segments.iter().map(|(_, _, t)| stems(t, &stemmer)).collect();
            (stemmer, stems)
        });
        Self { text, words, spans, stemmed }
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

/// One way of comparing: the segments' words and the query's, in the same form (as written, or
/// stems), and what a match that way is worth.
struct Way<'a> {
    segments: &'a [Vec<String>],
    query: Vec<String>,
    weight: f32,
}

/// Indices of `words` that make up `phrase` wherever it occurs.
fn phrase_at(words: &[String], phrase: &[String]) -> Vec<usize> {
    if phrase.is_empty() || phrase.len() > words.len() {
        return Vec::new();
    }
    let mut at = Vec::new();
    for start in 0..=words.len() - phrase.len() {
        if words[start..start + phrase.len()] == *phrase {
            at.extend(start..start + phrase.len());
        }
    }
    at.dedup();
    at
}

/// How `words` hold `query`: the phrase (score 1, its words) or every word in another order
/// (0.5, each word asked for).
fn held(words: &[String], query: &[String]) -> Option<(f32, Vec<usize>)> {
    let phrase = phrase_at(words, query);
    if !phrase.is_empty() {
        return Some((1.0, phrase));
    }
    query
        .iter()
        .all(|q| words.contains(q))
        .then(|| (0.5, (0..words.len()).filter(|i| query.contains(&words[*i])).collect()))
}

/// Each occurrence of `phrase` that starts in segment `i` and runs on into later segments:
/// the segment it ends in, and its words' indices counted from segment `i`'s first word over
/// the segments in order. One pass over the words, nothing joined.
fn across(segments: &[Vec<String>], i: usize, phrase: &[String]) -> Vec<(usize, Vec<usize>)> {
    let first = &segments[i];
    let mut found = Vec::new();
    if phrase.len() < 2 {
        return found;
    }
    // A tail of segment `i` shorter than the phrase that is its beginning...
    for p in first.len().saturating_sub(phrase.len() - 1)..first.len() {
        if phrase[..first.len() - p] != first[p..] {
            continue;
        }
        // ...then whole segments that are its middle, and one that begins with its end.
        let (mut matched, mut offset) = (first.len() - p, first.len());
        for (j, segment) in segments.iter().enumerate().skip(i + 1) {
            let rest = &phrase[matched..];
            if segment.len() >= rest.len() {
                if segment[..rest.len()] == *rest {
                    found.push((j, (p..offset + rest.len()).collect()));
                }
                break;
            }
            if *segment != rest[..segment.len()] {
                break;
            }
            matched += segment.len();
            offset += segment.len();
        }
    }
    found
}

/// The byte ranges of the words at `indices` in a text, shifted by `by`.
fn marks(spans: &[Range<usize>], indices: &[usize], by: isize) -> Vec<Range<usize>> {
    indices
        .iter()
        .map(|i| {
            let r = &spans[*i];
            (r.start as isize + by) as usize..(r.end as isize + by) as usize
        })
        .collect()
}

/// Where in one transcript the `query` words were said.
pub fn matches(said: &SaidWords, query: &SaidQuery) -> Vec<SaidMatch> {
    if query.is_empty() {
        return Vec::new();
    }
    let mut ways = vec![Way { segments: &said.words, query: query.words.clone(), weight: 1.0 }];
    if let Some((stemmer, stems)) = &said.stemmed {
        ways.push(Way { segments: stems, query: query.stems(stemmer), weight: STEM_WEIGHT });
    }
    let transcript = &said.text;
    // A segment's text is shown trimmed: its words' places move by the white space cut.
    let lead = |t: &str| (t.len() - t.trim_start().len()) as isize;
    let mut out = Vec::new();
    for (i, (start, end, text)) in transcript.segments.iter().enumerate() {
        let best = ways
            .iter()
            .filter_map(|way| held(&way.segments[i], &way.query).map(|(base, at)| (base * way.weight, at)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((score, at)) = best {
            let marks = marks(&said.spans[i], &at, -lead(text));
            out.push(SaidMatch { start_ms: *start, end_ms: *end, text: text.trim().to_string(), score, marks });
        }
    }
    // The phrase across consecutive segments: Whisper cuts where the speaker pauses, not where
    // a phrase ends. Each occurrence that starts in one segment and ends in a later one (and
    // neither end segment holds the phrase alone) is a moment spanning those segments; of the
    // ways it is found, the best counts.
    let segments = &transcript.segments;
    let mut windows: BTreeMap<(usize, usize), (f32, Vec<usize>)> = BTreeMap::new();
    for way in &ways {
        let score = 0.9 * way.weight;
        for i in 0..segments.len() {
            for (j, at) in across(way.segments, i, &way.query) {
                let alone = |k: usize| !phrase_at(&way.segments[k], &way.query).is_empty();
                if alone(i) || alone(j) {
                    continue;
                }
                let found = windows.entry((i, j)).or_insert((score, Vec::new()));
                if score > found.0 {
                    *found = (score, Vec::new());
                }
                if score == found.0 {
                    found.1.extend(at);
                }
            }
        }
    }
    for ((i, j), (score, mut at)) in windows {
        at.sort_unstable();
        at.dedup();
        // The texts joined by a space; each word's mark moved to its segment's place.
        let (mut text, mut m, mut first_word) = (String::new(), Vec::new(), 0);
        for ((_, _, t), spans) in segments[i..=j].iter().zip(&said.spans[i..=j]) {
            let count = spans.len();
            if !text.is_empty() {
                text.push(' ');
            }
            let here: Vec<usize> =
                at.iter().filter(|w| (first_word..first_word + count).contains(*w)).map(|w| w - first_word).collect();
            m.extend(marks(spans, &here, text.len() as isize - lead(t)));
            text.push_str(t.trim());
            first_word += count;
        }
        out.push(SaidMatch { start_ms: segments[i].0, end_ms: segments[j].1, text, score, marks: m });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(segments: &[(i64, i64, &str)]) -> SpokenText {
        in_language(None, segments)
    }

    fn in_language(language: Option<&str>, segments: &[(i64, i64, &str)]) -> SpokenText {
        SpokenText {
            fingerprint: crate::fingerprint::Fingerprint::from_bytes([3; 32]),
            transcript_id: "t".into(),
            language: language.map(str::to_string),
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
                recorded_at_ms: None,
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
        assert_eq!(words("Ça va? Très bien."), ["ca", "va", "tres", "bien"], "accents folded");
        assert_eq!(words("STRASSE Straße ﬁsh ２０２４"), ["strasse", "strasse", "fish", "2024"], "compatibility forms");
        assert_eq!(words("don't l’homme"), ["don", "t", "l", "homme"], "split at apostrophes");
        let spans: Vec<_> = raw_words("Don’t go").collect();
        assert_eq!(spans, [(0..3, "don".into()), (6..7, "t".into()), (8..10, "go".into())]);
        assert_eq!(words("我们去海边吧"), ["我", "们", "去", "海", "边", "吧"], "each ideograph a word");
        assert!(words(" ... ").is_empty());
    }

    fn found(t: &SaidWords, q: &str) -> Vec<(i64, f32)> {
        matches(t, &SaidQuery::new(q)).iter().map(|m| (m.start_ms, m.score)).collect()
    }

    #[test]
    fn accents_case_and_scripts_without_spaces() {
        let t = SaidWords::from(transcript(&[(0, 1000, "On se voit au Café Müller."), (1000, 2000, "我们去海边吧")]));
        assert_eq!(found(&t, "cafe muller"), [(0, 1.0)]);
        assert_eq!(found(&t, "CAFÉ MÜLLER"), [(0, 1.0)]);
        assert_eq!(found(&t, "海边"), [(1000, 1.0)], "a Chinese phrase inside a sentence without spaces");
        assert_eq!(found(&t, "边海"), [(1000, 0.5)], "its characters in another order");
        assert!(found(&t, "海洋").is_empty());
    }

    #[test]
    fn stems_in_the_transcripts_language_rank_below_the_words_as_written() {
        let segments = [
            (0, 1000, "We sang happy birthday."),
            (1000, 2000, "All the birthdays we celebrated"),
            (2000, 3000, "she was running home"),
        ];
        let en = SaidWords::from(in_language(Some("en"), &segments));
        assert_eq!(found(&en, "birthday"), [(0, 1.0), (1000, 0.8)], "birthdays by its stem, below birthday itself");
        assert_eq!(found(&en, "birthdays"), [(0, 0.8), (1000, 1.0)]);
        assert_eq!(found(&en, "runs home"), [(2000, 0.8)], "a phrase of stems");
        assert_eq!(found(&en, "celebrating birthday"), [(1000, 0.5 * 0.8)], "every stem, another order");
        // Without a language (or one Snowball lacks), words are compared only as written.
        let unknown = SaidWords::from(in_language(None, &segments));
        assert_eq!(found(&unknown, "birthday"), [(0, 1.0)]);
        assert_eq!(stemmer_for(Some("ja")), None);
        let de = SaidWords::from(in_language(Some("de"), &[(0, 1000, "Wir haben viele Häuser gesehen")]));
        assert_eq!(found(&de, "Haus"), [(0, 0.8)], "German stems, accents folded after stemming");
        let m = &matches(&en, &SaidQuery::new("runs home"))[0];
        let marked: Vec<&str> = m.marks.iter().map(|r| &m.text[r.clone()]).collect();
        assert_eq!(marked, ["running", "home"], "the words as said, found by their stems");
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
        let m = matches(&t, &SaidQuery::new("happy BIRTHDAY"));
        let got: Vec<(i64, i64, f32)> = m.iter().map(|m| (m.start_ms, m.end_ms, m.score)).collect();
        assert_eq!(got, [(0, 2000, 1.0), (2000, 4000, 0.5), (4000, 8000, 0.9)]);
        assert_eq!(m[0].text, "Happy birthday to you!");
        assert_eq!(m[2].text, "then we said happy Birthday again");
        // The words asked for, where they are in each text (the phrase, or each word).
        let marked = |m: &SaidMatch| m.marks.iter().map(|r| m.text[r.clone()].to_string()).collect::<Vec<_>>();
        assert_eq!(marked(&m[0]), ["Happy", "birthday"]);
        assert_eq!(marked(&m[1]), ["birthday", "happy"]);
        assert_eq!(marked(&m[2]), ["happy", "Birthday"], "across the two segments");
        assert!(matches(&t, &SaidQuery::new("happy cake")).is_empty(), "every word is needed");
        // A phrase Whisper cut over three segments (a pause after each word) is found in the
        // three, and in no pair of them.
        let t = SaidWords::from(transcript(&[
            (0, 1000, "and now"),
            (1000, 2000, " a very "),
            (2000, 3000, "happy"),
            (3000, 4000, "BIRTHDAY to you"),
            (4000, 5000, "very happy birthday"),
        ]));
        let m = matches(&t, &SaidQuery::new("a very happy birthday"));
        let got: Vec<(i64, i64, f32)> = m.iter().map(|m| (m.start_ms, m.end_ms, m.score)).collect();
        assert_eq!(got, [(1000, 4000, 0.9)], "{m:?}");
        assert_eq!(m[0].text, "a very happy BIRTHDAY to you");
        assert_eq!(marked(&m[0]), ["a", "very", "happy", "BIRTHDAY"]);
        // A segment with no words ("...") between the halves is part of the moment.
        let t = SaidWords::from(transcript(&[(0, 1000, "so happy"), (1000, 1500, "..."), (1500, 3000, "birthday!")]));
        let m = matches(&t, &SaidQuery::new("happy birthday"));
        assert_eq!(m.iter().map(|m| (m.start_ms, m.end_ms)).collect::<Vec<_>>(), [(0, 3000)], "{m:?}");
        assert_eq!(
            (m[0].text.as_str(), marked(&m[0])),
            ("so happy ... birthday!", vec!["happy".into(), "birthday".into()])
        );
        assert!(matches(&t, &SaidQuery::new("!?")).is_empty());
    }
}
