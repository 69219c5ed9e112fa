//! Which files under a folder are videos to ingest (`ingest FOLDER`, and each scan of
//! `ingest --watch`).
//!
//! A real library folder holds more than videos: a Mac-formatted drive puts an AppleDouble
//! `._clip.mov` (metadata, not video) beside every file, trash folders keep deleted videos,
//! NAS boxes add their own thumbnail and recycle folders, and people link folders in from
//! other drives, sometimes in a circle. So the walk follows links but never loops, skips hidden
//! entries and those system folders, honours a marker file that excludes a folder (Android's
//! `.nomedia`, or `.chronoseekignore`), and picks files by extension. What the user names
//! explicitly (the folder itself) is never filtered out.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// File extensions taken as videos (compared without case).
pub const VIDEO_EXTENSIONS: &[&str] = &[
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "mts", "m2ts", "m2t", "flv", "f4v", "wmv", "asf",
    "3gp", "3g2", "ogv", "mxf", "dv", "vob", "divx",
];

/// A folder holding one of these files is skipped with everything under it.
pub const IGNORE_MARKERS: &[&str] = &[".nomedia", ".chronoseekignore"];

/// Folders that operating systems and NAS boxes keep for themselves (besides hidden ones).
const SYSTEM_FOLDERS: &[&str] =
    &["@eaDir", "#recycle", "#snapshot", "$RECYCLE.BIN", "System Volume Information", "lost+found"];

/// What a walk found.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Video files, sorted, each once (a file reached through two links is listed once).
    pub videos: Vec<PathBuf>,
    /// Places the walk could not go; everything else was still walked.
    pub problems: Vec<DiscoveryProblem>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryProblem {
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{}: a link back to {} (a loop); not followed", path.display(), ancestor.display())]
    Loop { path: PathBuf, ancestor: PathBuf },
}

impl DiscoveryProblem {
    pub fn path(&self) -> &Path {
        match self {
            Self::Unreadable { path, .. } | Self::Loop { path, .. } => path,
        }
    }
}

/// Whether a file name has a video extension.
pub fn is_video_name(path: &Path) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| VIDEO_EXTENSIONS.iter().any(|v| x.eq_ignore_ascii_case(v)))
}

fn skipped_name(name: &str) -> bool {
    name.starts_with('.') || SYSTEM_FOLDERS.contains(&name)
}

fn has_marker(dir: &Path) -> bool {
    IGNORE_MARKERS.iter().any(|m| dir.join(m).exists())
}

/// The video files under `dir` (recursively).
pub fn videos_under(dir: &Path) -> Discovery {
    let mut found = Discovery::default();
    let mut seen = HashSet::new();
    let walk = walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name().into_iter().filter_entry(|e| {
        if e.depth() == 0 {
            return true; // named by the user
        }
        let hidden = e.file_name().to_str().is_some_and(skipped_name);
        let marked = e.file_type().is_dir() && has_marker(e.path());
        !(hidden || marked)
    });
    for entry in walk {
        match entry {
            Ok(e) if e.file_type().is_file() && is_video_name(e.path()) => {
                // Through two links one file has two paths: list it once.
                let real = std::fs::canonicalize(e.path()).unwrap_or_else(|_| e.path().to_path_buf());
                if seen.insert(real) {
                    found.videos.push(e.into_path());
                }
            }
            Ok(_) => {}
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| dir.to_path_buf());
                if let Some(ancestor) = e.loop_ancestor().map(Path::to_path_buf) {
                    found.problems.push(DiscoveryProblem::Loop { path, ancestor });
                } else if let Some(source) = e.into_io_error() {
                    found.problems.push(DiscoveryProblem::Unreadable { path, source });
                }
            }
        }
    }
    found.videos.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn a_real_library_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("Videos");
        for f in [
            "a.mp4",
            "B.MOV",
            "notes.txt",
            "._a.mp4", // AppleDouble metadata from a Mac
            ".Trash-1000/files/old.mp4",
            "@eaDir/a.mp4/SYNOFILE_THUMB_M.mp4",
            "$RECYCLE.BIN/gone.mkv",
            "trip/day1.mkv",
            "trip/raw/clip.MTS",
            "private/.nomedia",
            "private/secret.mp4",
            "cache/.chronoseekignore",
            "cache/render.mp4",
        ] {
            touch(&lib.join(f));
        }
        // A folder from another drive, linked in twice, and a link back up (a loop).
        let other = tmp.path().join("other-drive");
        touch(&other.join("far.webm"));
        std::os::unix::fs::symlink(&other, lib.join("linked")).unwrap();
        std::os::unix::fs::symlink(&other, lib.join("trip/linked-again")).unwrap();
        std::os::unix::fs::symlink(&lib, lib.join("trip/raw/up")).unwrap();

        let found = videos_under(&lib);
        let names: Vec<String> =
            found.videos.iter().map(|p| p.strip_prefix(&lib).unwrap().display().to_string()).collect();
        assert_eq!(names, ["B.MOV", "a.mp4", "linked/far.webm", "trip/day1.mkv", "trip/raw/clip.MTS"]);
        assert_eq!(found.problems.len(), 1, "{:?}", found.problems);
        assert!(matches!(&found.problems[0], DiscoveryProblem::Loop { path, .. } if path.ends_with("trip/raw/up")));

        // What the user names is walked even when hidden or marked.
        let hidden = videos_under(&lib.join(".Trash-1000"));
        assert_eq!(hidden.videos.len(), 1);
        assert_eq!(videos_under(&lib.join("private")).videos.len(), 1);
    }

    #[test]
    fn an_unreadable_folder_is_reported_and_the_rest_walked() {
        let tmp = tempfile::tempdir().unwrap();
        let found = videos_under(&tmp.path().join("missing"));
        assert!(found.videos.is_empty());
        assert!(matches!(&found.problems[..], [DiscoveryProblem::Unreadable { .. }]), "{:?}", found.problems);
        assert!(
            is_video_name(Path::new("x.M2TS"))
                && !is_video_name(Path::new("x.jpg"))
                && !is_video_name(Path::new("mp4"))
        );
    }
}
