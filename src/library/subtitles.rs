//! A transcript as subtitles: SubRip (`.srt`, what players pick up beside a video file) and
//! WebVTT (what a browser's `<track>` reads; the library page's player shows it as captions).
//!
//! Both are cue lists of `start --> end` and text. What the formats forbid is mended here, not
//! left to players: a cue's text is one line (a blank line would end an SRT cue, and Whisper's
//! text may hold line breaks), WebVTT's markup characters are escaped (`<`, `&`, and `>` so
//! that `-->` cannot appear), empty segments are dropped, and a segment whose end is not after
//! its start is given one millisecond (browsers skip cues that end before they begin).

use crate::index::SpokenSegment;

/// Which subtitle format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubtitleFormat {
    /// SubRip: numbered cues, `00:01:02,500` times.
    Srt,
    /// WebVTT: a `WEBVTT` header, `00:01:02.500` times, escaped text.
    WebVtt,
}

impl SubtitleFormat {
    /// The file extension players look for.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Srt => "srt",
            Self::WebVtt => "vtt",
        }
    }

    /// The format a file name's extension stands for (`talk.srt`, `talk.VTT`).
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "srt" => Some(Self::Srt),
            "vtt" => Some(Self::WebVtt),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Srt => "application/x-subrip; charset=utf-8",
            Self::WebVtt => "text/vtt; charset=utf-8",
        }
    }
}

/// `segments` as one subtitle file in `format` (an empty cue list when nothing was said).
pub fn render(segments: &[SpokenSegment], format: SubtitleFormat) -> String {
    let mut out = String::new();
    if format == SubtitleFormat::WebVtt {
        out.push_str("WEBVTT\n\n");
    }
    let mut cues: Vec<&SpokenSegment> = segments.iter().filter(|s| !one_line(&s.text).is_empty()).collect();
    cues.sort_by_key(|s| (s.start_ms, s.end_ms));
    for (i, s) in cues.iter().enumerate() {
        let start = s.start_ms.max(0);
        let end = s.end_ms.max(start + 1);
        let text = one_line(&s.text);
        match format {
            SubtitleFormat::Srt => {
                out.push_str(&format!("{}\n{} --> {}\n{text}\n\n", i + 1, time(start, ','), time(end, ',')));
            }
            SubtitleFormat::WebVtt => {
                out.push_str(&format!("{} --> {}\n{}\n\n", time(start, '.'), time(end, '.'), escape_vtt(&text)));
            }
        }
    }
    out
}

/// The text on one line, runs of white space (line breaks included) as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn escape_vtt(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `HH:MM:SS<sep>mmm` (hours grow past 99 as needed).
fn time(ms: i64, sep: char) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{h:02}:{m:02}:{s:02}{sep}{ms:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(start_ms: i64, end_ms: i64, text: &str) -> SpokenSegment {
        SpokenSegment { start_ms, end_ms, text: text.into(), embedding: Vec::new() }
    }

    #[test]
    fn srt_numbers_cues_and_uses_commas() {
        let s = [seg(62_500, 65_000, " Hello there."), seg(3_725_001, 3_726_000, "An hour\n\nlater")];
        assert_eq!(
            render(&s, SubtitleFormat::Srt),
            "1\n00:01:02,500 --> 00:01:05,000\nHello there.\n\n2\n01:02:05,001 --> 01:02:06,000\nAn hour later\n\n"
        );
    }

    #[test]
    fn webvtt_escapes_markup_and_mends_what_browsers_skip() {
        let s = [seg(2000, 1000, "a <b> & c --> d"), seg(0, 500, "   "), seg(0, 900, "first")];
        assert_eq!(
            render(&s, SubtitleFormat::WebVtt),
            "WEBVTT\n\n00:00:00.000 --> 00:00:00.900\nfirst\n\n00:00:02.000 --> 00:00:02.001\na &lt;b&gt; &amp; c --&gt; d\n\n"
        );
        assert_eq!(render(&[], SubtitleFormat::WebVtt), "WEBVTT\n\n");
        assert_eq!(render(&[], SubtitleFormat::Srt), "");
    }

    #[test]
    fn formats_by_extension() {
        use std::path::Path;
        assert_eq!(SubtitleFormat::from_path(Path::new("a/talk.SRT")), Some(SubtitleFormat::Srt));
        assert_eq!(SubtitleFormat::from_path(Path::new("talk.vtt")), Some(SubtitleFormat::WebVtt));
        assert_eq!(SubtitleFormat::from_path(Path::new("talk.txt")), None);
        assert_eq!(SubtitleFormat::from_path(Path::new("talk")), None);
    }
}
