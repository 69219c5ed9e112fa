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
    #[error("a reel is at most {MAX_REEL_SECONDS} s long; these moments last {0:.0} s")]
    TooLong(f64),
    #[error(transparent)]
    Render(#[from] ClipError),
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

/// Renders `parts` into `out` (an MP4 file; removed again if ffmpeg fails).
pub async fn render(parts: &[ReelPart], size: ReelSize, out: &Path) -> Result<(), ReelError> {
    if parts.is_empty() {
        return Err(ReelError::Empty);
    }
    let total: f64 = parts.iter().map(|p| p.span.end() - p.span.start()).sum();
    if total > MAX_REEL_SECONDS {
        return Err(ReelError::TooLong(total));
    }
    ffmpeg_tool::run(&reel_args(parts, size, out), out).await.map_err(ClipError::from)?;
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
