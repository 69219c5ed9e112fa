//! Moments from any number of videos joined into one MP4 (`library search … --reel FILE`):
//! what to send someone when a playlist of their own files will not do.
//!
//! One `ffmpeg` run ([`crate::ffmpeg_tool`]): each moment is read from its file with input
//! seeking (exact: decoded from the key frame before it), turned upright (ffmpeg's
//! autorotation), fitted into the reel's frame with black bars, brought to one frame rate and
//! one audio format — a silent video contributes silence — and the parts are joined by the
//! `concat` filter, then encoded once as H.264 and AAC in MP4.

use std::path::{Path, PathBuf};

use super::clip::{ClipError, ClipSpan};
use crate::ffmpeg_tool;
use crate::fingerprint::Fingerprint;
use crate::index::{Store, StoreError};
use crate::ingest::DecodeError;
use crate::protocol::ErrorCode;

/// Moments in one reel at most (a library search returns at most 100).
pub const MAX_REEL_MOMENTS: usize = 100;

/// The longest reel rendered, in seconds.
pub const MAX_REEL_SECONDS: f64 = 3600.0;
/// A reel's frame is the first moment's video's, upright, its longer side at most this.
pub const MAX_REEL_SIDE: u32 = 1920;
/// Frames per second of every reel.
pub const REEL_FPS: u32 = 30;

/// One moment of a reel.
#[derive(Debug, Clone, PartialEq)]
pub struct ReelPart {
    pub file: PathBuf,
    pub span: ClipSpan,
    /// Whether the file has an audio stream (otherwise the part is silent).
    pub has_audio: bool,
}

/// The reel's frame: even sides, at most [`MAX_REEL_SIDE`] on the longer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReelSize {
    width: u32,
    height: u32,
}

impl ReelSize {
    /// The frame for a video displayed at `width` x `height` (after rotation): scaled down to
    /// fit [`MAX_REEL_SIDE`], sides rounded down to even numbers (H.264 wants them), 16 at least.
    pub fn fitting(width: u32, height: u32) -> Self {
        let (w, h) = (width.max(1) as f64, height.max(1) as f64);
        let scale = (MAX_REEL_SIDE as f64 / w.max(h)).min(1.0);
        let even = |x: f64| (((x * scale).round() as u32) / 2 * 2).max(16);
        Self { width: even(w), height: even(h) }
    }
    pub fn width(&self) -> u32 {
        self.width
    }
    pub fn height(&self) -> u32 {
        self.height
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReelError {
    #[error("a reel needs at least one moment")]
    Empty,
    #[error("a reel holds at most {MAX_REEL_MOMENTS} moments ({0} asked for)")]
    TooMany(usize),
    #[error("a reel is at most {MAX_REEL_SECONDS} s long; these moments last {0:.0} s")]
    TooLong(f64),
    #[error("none of these moments is in a video with a local file to render a reel from")]
    NothingLocal,
    #[error("{}: {source}", file.display())]
    Unreadable { file: PathBuf, source: DecodeError },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] ClipError),
}

impl ReelError {
    /// The protocol code it is reported with (CLI exit code, page API envelope).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Empty | Self::TooMany(_) | Self::TooLong(_) | Self::NothingLocal => ErrorCode::InvalidRequest,
            Self::Unreadable { .. } => ErrorCode::VideoUnreadable,
            Self::Store(_) => ErrorCode::InternalError,
            Self::Render(e) => e.code(),
        }
    }
}

/// One moment asked for: a stored video and a span of it, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wanted {
    pub video: Fingerprint,
    pub start: f64,
    pub end: f64,
}

/// What a reel of some moments will hold.
#[derive(Debug, Clone, PartialEq)]
pub struct ReelPlan {
    pub parts: Vec<ReelPart>,
    pub size: ReelSize,
    /// Moments left out: their video has no local file (or the span is empty).
    pub left_out: usize,
}

impl ReelPlan {
    pub fn seconds(&self) -> f64 {
        self.parts.iter().map(|p| p.span.end() - p.span.start()).sum()
    }
}

/// The reel `moments` make, in order, each read from its video's local file; the first
/// moment's video, upright, sets the frame. Limits are checked here, before anything renders.
pub async fn plan(store: &Store, moments: &[Wanted]) -> Result<ReelPlan, ReelError> {
    if moments.is_empty() {
        return Err(ReelError::Empty);
    }
    if moments.len() > MAX_REEL_MOMENTS {
        return Err(ReelError::TooMany(moments.len()));
    }
    let videos: Vec<Fingerprint> = moments.iter().map(|m| m.video).collect();
    let local = super::names::local_files_of(store, &videos).await?;
    let mut infos = std::collections::HashMap::new();
    let (mut parts, mut size) = (Vec::new(), None);
    for m in moments {
        let Some(file) = local.get(&m.video) else { continue };
        let info = match infos.entry(m.video) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(
                crate::ingest::probe(file).map_err(|source| ReelError::Unreadable { file: file.clone(), source })?,
            ),
        };
        let Ok(span) = ClipSpan::new(m.start, m.end, info.duration_s.unwrap_or(f64::INFINITY)) else { continue };
        size.get_or_insert_with(|| match info.rotation {
            90 | 270 => ReelSize::fitting(info.height, info.width),
            _ => ReelSize::fitting(info.width, info.height),
        });
        parts.push(ReelPart { file: file.clone(), span, has_audio: info.has_audio });
    }
    let size = size.ok_or(ReelError::NothingLocal)?;
    let plan = ReelPlan { left_out: moments.len() - parts.len(), parts, size };
    if plan.seconds() > MAX_REEL_SECONDS {
        return Err(ReelError::TooLong(plan.seconds()));
    }
    Ok(plan)
}

/// The ffmpeg arguments that render `parts` into `out` at `size`.
pub fn reel_args(parts: &[ReelPart], size: ReelSize, out: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["-nostdin", "-hide_banner", "-loglevel", "error", "-y"].map(String::from).to_vec();
    for p in parts {
        let length = p.span.end() - p.span.start();
        args.extend(["-ss".into(), format!("{:.3}", p.span.start()), "-t".into(), format!("{length:.3}")]);
        args.extend(["-i".into(), p.file.display().to_string()]);
    }
    // Silence for the parts without sound, as extra inputs after the videos.
    let mut silent = parts.len();
    let mut graph = String::new();
    let mut joined = String::new();
    let (w, h) = (size.width, size.height);
    for (i, p) in parts.iter().enumerate() {
        let length = p.span.end() - p.span.start();
        graph.push_str(&format!(
            "[{i}:v:0]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2,\
             setsar=1,fps={REEL_FPS},format=yuv420p[v{i}];"
        ));
        let audio = if p.has_audio {
            format!("{i}:a:0")
        } else {
            args.extend(["-f", "lavfi", "-t"].map(String::from));
            args.push(format!("{length:.3}"));
            args.extend(["-i", "anullsrc=r=48000:cl=stereo"].map(String::from));
            silent += 1;
            format!("{}:a:0", silent - 1)
        };
        graph.push_str(&format!("[{audio}]aresample=48000,aformat=sample_fmts=fltp:channel_layouts=stereo[a{i}];"));
        joined.push_str(&format!("[v{i}][a{i}]"));
    }
    graph.push_str(&format!("{joined}concat=n={}:v=1:a=1[v][a]", parts.len()));
    args.extend(["-filter_complex".into(), graph, "-map".into(), "[v]".into(), "-map".into(), "[a]".into()]);
    args.extend(["-c:v", "libx264", "-preset", "veryfast", "-crf", "20"].map(String::from));
    args.extend(["-c:a", "aac", "-b:a", "160k", "-movflags", "+faststart", "-f", "mp4"].map(String::from));
    args.push(out.display().to_string());
    args
}

/// Renders a plan into `out` (an MP4 file; removed again if ffmpeg fails).
pub async fn render(plan: &ReelPlan, out: &Path) -> Result<(), ReelError> {
    if plan.parts.is_empty() {
        return Err(ReelError::Empty);
    }
    ffmpeg_tool::run(&reel_args(&plan.parts, plan.size, out), out).await.map_err(ClipError::from)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_follows_the_first_video_within_limits() {
        assert_eq!(ReelSize::fitting(320, 240), ReelSize { width: 320, height: 240 });
        assert_eq!(ReelSize::fitting(3840, 2160), ReelSize { width: 1920, height: 1080 });
        assert_eq!(ReelSize::fitting(1080, 1920), ReelSize { width: 1080, height: 1920 }, "a phone's portrait");
        assert_eq!(ReelSize::fitting(97, 61), ReelSize { width: 96, height: 60 });
        assert_eq!(ReelSize::fitting(0, 0), ReelSize { width: 16, height: 16 });
    }

    #[test]
    fn silent_parts_get_silence_after_the_videos() {
        let part = |file: &str, start, end, has_audio| ReelPart {
            file: file.into(),
            span: ClipSpan::new(start, end, 100.0).unwrap(),
            has_audio,
        };
        let args = reel_args(
            &[part("/a.mp4", 1.0, 3.5, true), part("/b.webm", 0.0, 2.0, false)],
            ReelSize::fitting(320, 240),
            Path::new("/out.mp4"),
        );
        let text = args.join(" ");
        assert!(
            text.contains("-ss 1.000 -t 2.500 -i /a.mp4 -ss 0.000 -t 2.000 -i /b.webm -f lavfi -t 2.000 -i anullsrc")
        );
        let graph = &args[args.iter().position(|a| a == "-filter_complex").unwrap() + 1];
        assert!(graph.contains("[0:a:0]aresample") && graph.contains("[2:a:0]aresample"), "{graph}");
        assert!(graph.ends_with("[v0][a0][v1][a1]concat=n=2:v=1:a=1[v][a]"), "{graph}");
        assert_eq!(args.last().unwrap(), "/out.mp4");
    }
}
