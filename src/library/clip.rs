//! A moment cut out of a stored video's local file as a clip anyone can play: H.264 and AAC
//! in MP4, starting exactly at the moment (re-encoded, not cut at the key frame before it),
//! upright, audio kept when there is any. `chronoseek clip` and the page's "Save clip".
//!
//! Encoding runs the `ffmpeg` program ([`crate::ffmpeg_tool`]); the clip's length is bounded
//! ([`MAX_CLIP_SECONDS`]) because a web request asks for it.

use std::path::Path;

use crate::ffmpeg_tool::{self, ToolError};
use crate::protocol::ErrorCode;

/// Longest clip cut in one go, in seconds.
pub const MAX_CLIP_SECONDS: f64 = 600.0;

/// A span of a video to cut: `0 <= start < end`, at most [`MAX_CLIP_SECONDS`] long, within the
/// video (by construction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipSpan {
    start: f64,
    end: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpanError {
    #[error("a clip needs 0 <= start < end (got {start} to {end})")]
    Order { start: f64, end: f64 },
    #[error("a clip is at most {MAX_CLIP_SECONDS} s long (asked for {0:.1} s)")]
    TooLong(f64),
    #[error("the video is {duration:.1} s long; the clip asks for {start} to {end}")]
    Outside { start: f64, end: f64, duration: f64 },
}

impl ClipSpan {
    /// `end` past the video's end (within half a second) is clamped to it.
    pub fn new(start: f64, end: f64, duration: f64) -> Result<Self, SpanError> {
        if !(start.is_finite() && end.is_finite() && start >= 0.0 && end > start) {
            return Err(SpanError::Order { start, end });
        }
        if end - start > MAX_CLIP_SECONDS {
            return Err(SpanError::TooLong(end - start));
        }
        if start >= duration || end > duration + 0.5 {
            return Err(SpanError::Outside { start, end, duration });
        }
        Ok(Self { start, end: end.min(duration) })
    }
    pub fn start(&self) -> f64 {
        self.start
    }
    pub fn end(&self) -> f64 {
        self.end
    }
    /// A file name for the clip: `<stem>-<m>m<ss.s>s-<m>m<ss.s>s.mp4`, ASCII only.
    pub fn file_name(&self, stem: &str) -> String {
        let clean: String = stem
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') { c } else { '_' })
            .take(80)
            .collect();
        let at = |t: f64| format!("{}m{:04.1}s", (t / 60.0).floor() as u64, t % 60.0);
        format!("{}-{}-{}.mp4", if clean.is_empty() { "clip" } else { &clean }, at(self.start), at(self.end))
    }
}

/// The ffmpeg arguments that cut `span` of `input` into `out`.
pub fn clip_args(input: &Path, span: ClipSpan, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"].map(String::from).to_vec();
    // Input seeking, then decoding from the key frame before `start` and dropping frames up to
    // it: exact and fast.
    args.extend(["-ss".into(), format!("{:.3}", span.start), "-i".into(), input.display().to_string()]);
    args.extend(["-t".into(), format!("{:.3}", span.end - span.start)]);
    args.extend(["-map", "0:v:0", "-map", "0:a:0?", "-sn", "-dn"].map(String::from));
    args.extend(["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"].map(String::from));
    // Odd sizes (x264 wants even ones) lose a pixel.
    args.extend(["-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"].map(String::from));
    args.extend(["-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", "-f", "mp4"].map(String::from));
    args.push(out.display().to_string());
    args
}

/// A clip that could not be cut.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ClipError(#[from] ToolError);

impl ClipError {
    /// The protocol code it is reported with (CLI exit code, page API envelope): ffmpeg
    /// missing is ours, ffmpeg failing on the file is the video's.
    pub fn code(&self) -> ErrorCode {
        match self.0 {
            ToolError::Spawn(_) => ErrorCode::InternalError,
            ToolError::Failed { .. } => ErrorCode::VideoUnreadable,
        }
    }
}

/// Cuts `span` of `input` into `out` (an MP4 file).
pub async fn cut(input: &Path, span: ClipSpan, out: &Path) -> Result<(), ClipError> {
    Ok(ffmpeg_tool::run(&clip_args(input, span, out), out).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_checked_and_named() {
        assert_eq!(ClipSpan::new(5.0, 3.0, 30.0), Err(SpanError::Order { start: 5.0, end: 3.0 }));
        assert!(matches!(ClipSpan::new(-1.0, 3.0, 30.0), Err(SpanError::Order { .. })));
        assert!(matches!(ClipSpan::new(f64::NAN, 3.0, 30.0), Err(SpanError::Order { .. })));
        assert!(matches!(ClipSpan::new(0.0, 601.0, 3600.0), Err(SpanError::TooLong(_))));
        assert!(matches!(ClipSpan::new(31.0, 32.0, 30.0), Err(SpanError::Outside { .. })));
        assert!(matches!(ClipSpan::new(20.0, 31.0, 30.0), Err(SpanError::Outside { .. })));
        let s = ClipSpan::new(75.5, 30.3, 100.0);
        assert!(s.is_err());
        let s = ClipSpan::new(10.0, 30.3, 30.0).unwrap();
        assert_eq!((s.start(), s.end()), (10.0, 30.0), "the end is clamped to the video's");
        assert_eq!(
            ClipSpan::new(75.5, 80.0, 100.0).unwrap().file_name("my trip (1)"),
            "my_trip__1_-1m15.5s-1m20.0s.mp4"
        );
        assert_eq!(ClipSpan::new(0.0, 1.0, 10.0).unwrap().file_name("été"), "_t_-0m00.0s-0m01.0s.mp4");
    }
}
