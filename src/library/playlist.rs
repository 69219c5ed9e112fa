//! Search results as a playlist a video player plays moment after moment
//! (`library search … --playlist FILE`).
//!
//! Two formats, chosen by the file's extension:
//! - `.m3u` / `.m3u8`: extended M3U, each moment a `#EXTVLCOPT:start-time` / `stop-time`
//!   pair before its file (VLC plays exactly the moment, then the next).
//! - `.edl`: an mpv EDL (`# mpv EDL v0`), one `file,start,length` line per moment: mpv plays
//!   them as one continuous timeline, a supercut with nothing re-encoded. File names use the
//!   `%LENGTH%name` form, so commas and other separators in paths need no escaping.
//!
//! Only moments of videos with a local file can be listed; paths are absolute.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistFormat {
    M3u,
    MpvEdl,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}: a playlist is .m3u, .m3u8 (VLC and most players) or .edl (mpv)")]
pub struct UnknownPlaylistFormat(pub PathBuf);

impl PlaylistFormat {
    pub fn for_path(path: &Path) -> Result<Self, UnknownPlaylistFormat> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("m3u" | "m3u8") => Ok(Self::M3u),
            Some("edl") => Ok(Self::MpvEdl),
            _ => Err(UnknownPlaylistFormat(path.to_path_buf())),
        }
    }
}

/// One moment to play.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    /// An absolute path (valid UTF-8: both formats are text).
    pub file: String,
    pub start: f64,
    pub end: f64,
    /// What the player shows for it (M3U only).
    pub title: String,
}

impl Moment {
    /// `None` for a path a text playlist cannot hold (relative, or not UTF-8).
    pub fn new(file: &Path, start: f64, end: f64, title: impl Into<String>) -> Option<Self> {
        let text = file.to_str().filter(|_| file.is_absolute())?;
        let (start, end) = (start.max(0.0), end.max(start.max(0.0)));
        Some(Self { file: text.to_string(), start, end, title: title.into() })
    }
}

/// The playlist's text.
pub fn render(format: PlaylistFormat, moments: &[Moment]) -> String {
    let mut out = String::new();
    match format {
        PlaylistFormat::M3u => {
            out.push_str("#EXTM3U\n");
            for m in moments {
                // Line breaks would end the directive early.
                let title = m.title.replace(['\r', '\n'], " ");
                let _ = write!(
                    out,
                    "#EXTINF:{},{title}\n#EXTVLCOPT:start-time={:.3}\n#EXTVLCOPT:stop-time={:.3}\n{}\n",
                    (m.end - m.start).ceil() as u64,
                    m.start,
                    m.end,
                    m.file
                );
            }
        }
        PlaylistFormat::MpvEdl => {
            out.push_str("# mpv EDL v0\n");
            for m in moments {
                let _ = writeln!(out, "%{}%{},{:.3},{:.3}", m.file.len(), m.file, m.start, m.end - m.start);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments() -> Vec<Moment> {
        vec![
            Moment::new(Path::new("/videos/trip, day 1.mp4"), 12.5, 17.25, "trip, day 1.mp4 0:12.5").unwrap(),
            Moment::new(Path::new("/videos/dog\u{e9}.mkv"), 0.0, 3.0, "line\nbreak").unwrap(),
        ]
    }

    #[test]
    fn m3u_for_vlc() {
        assert_eq!(
            render(PlaylistFormat::M3u, &moments()),
            "#EXTM3U\n\
             #EXTINF:5,trip, day 1.mp4 0:12.5\n#EXTVLCOPT:start-time=12.500\n#EXTVLCOPT:stop-time=17.250\n/videos/trip, day 1.mp4\n\
             #EXTINF:3,line break\n#EXTVLCOPT:start-time=0.000\n#EXTVLCOPT:stop-time=3.000\n/videos/dog\u{e9}.mkv\n"
        );
    }

    #[test]
    fn mpv_edl_counts_bytes_not_characters_so_commas_need_no_escaping() {
        assert_eq!(
            render(PlaylistFormat::MpvEdl, &moments()),
            "# mpv EDL v0\n%23%/videos/trip, day 1.mp4,12.500,4.750\n%17%/videos/dog\u{e9}.mkv,0.000,3.000\n"
        );
    }

    #[test]
    fn formats_by_extension_and_paths_a_playlist_can_hold() {
        assert_eq!(PlaylistFormat::for_path(Path::new("a.M3U8")), Ok(PlaylistFormat::M3u));
        assert_eq!(PlaylistFormat::for_path(Path::new("reel.edl")), Ok(PlaylistFormat::MpvEdl));
        assert!(PlaylistFormat::for_path(Path::new("moments.txt")).is_err());
        assert!(PlaylistFormat::for_path(Path::new("m3u")).is_err());
        assert!(Moment::new(Path::new("relative.mp4"), 0.0, 1.0, "x").is_none());
        let m = Moment::new(Path::new("/v.mp4"), -1.0, -2.0, "x").unwrap();
        assert_eq!((m.start, m.end), (0.0, 0.0));
    }
}
