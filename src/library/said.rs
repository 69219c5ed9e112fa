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

use crate::index::SpokenText;

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

/// Where in one transcript the `query` words (already [`words`]) were said.
pub fn matches(transcript: &SpokenText, query: &[String]) -> Vec<SaidMatch> {
    if query.is_empty() {
        return Vec::new();
    }
    let segs: Vec<Vec<String>> = transcript.segments.iter().map(|(_, _, t)| words(t)).collect();
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
        let m = matches(&t, &words("happy BIRTHDAY"));
        let got: Vec<(i64, i64, f32)> = m.iter().map(|m| (m.start_ms, m.end_ms, m.score)).collect();
        assert_eq!(got, [(0, 2000, 1.0), (2000, 4000, 0.5), (4000, 8000, 0.9)]);
        assert_eq!(m[0].text, "Happy birthday to you!");
        assert_eq!(m[2].text, "then we said happy Birthday again");
        assert!(matches(&t, &words("happy cake")).is_empty(), "every word is needed");
        assert!(matches(&t, &[]).is_empty());
    }
}
