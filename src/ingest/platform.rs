//! Video platform pages (YouTube and the like), which a plain GET cannot download: they are
//! fetched through the `yt-dlp` program, and known by their platform id so a video seen before
//! is never downloaded again.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Hosts whose pages are fetched with yt-dlp.
const PLATFORM_HOSTS: &[&str] = &[
    "youtube.com",
    "youtu.be",
    "youtube-nocookie.com",
    "vimeo.com",
    "dailymotion.com",
    "dai.ly",
    "tiktok.com",
    "twitch.tv",
    "bilibili.com",
];

/// A page on a video platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformVideo {
    pub url: url::Url,
    /// Stable identity of the video on its platform, e.g. `youtube:uqiMw7tQ1Cc`.
    pub key: String,
}

fn host_matches(host: &str, base: &str) -> bool {
    host == base || host.ends_with(&format!(".{base}"))
}

impl PlatformVideo {
    /// `Some` when the URL's host is a known platform.
    pub fn from_url(url: &url::Url) -> Option<Self> {
        let host = url.host_str()?.to_ascii_lowercase();
        let base = PLATFORM_HOSTS.iter().find(|b| host_matches(&host, b))?;
        let key = if base.starts_with("youtu") {
            let id = if *base == "youtu.be" {
                url.path_segments()?.next().map(str::to_string)
            } else if let Some((_, v)) = url.query_pairs().find(|(k, _)| k == "v") {
                Some(v.into_owned())
            } else {
                // /shorts/ID, /embed/ID, /live/ID
                let segs: Vec<&str> = url.path_segments()?.collect();
                match segs.as_slice() {
                    ["shorts" | "embed" | "live" | "v", id, ..] => Some(id.to_string()),
                    _ => None,
                }
            };
            let id =
                id.filter(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))?;
            format!("youtube:{id}")
        } else {
            // Other platforms: the page without query or fragment.
            format!("{base}:{}", url.path().trim_end_matches('/'))
        };
        Some(Self { url: url.clone(), key })
    }
}

/// How yt-dlp is run.
#[derive(Debug, Clone)]
pub struct YtDlpOptions {
    /// The program (default: `yt-dlp` from PATH).
    pub program: PathBuf,
    /// Cookies file, for sites that want a signed-in session (the CLI's `--yt-dlp-cookies`).
    pub cookies: Option<PathBuf>,
    /// Browser to read cookies from (e.g. `firefox`; the CLI's `--yt-dlp-cookies-browser`).
    pub cookies_from_browser: Option<String>,
}

impl Default for YtDlpOptions {
    fn default() -> Self {
        Self { program: PathBuf::from("yt-dlp"), cookies: None, cookies_from_browser: None }
    }
}

/// yt-dlp's format choice: the best single file (video and audio together) at or below 720p.
pub const FORMAT: &str = "best[height<=720][vcodec!=none][acodec!=none]/best[height<=720]/best";

/// The arguments yt-dlp is called with.
pub fn arguments(opts: &YtDlpOptions, url: &url::Url, out_dir: &Path, max_bytes: u64) -> Vec<String> {
    let mut args = vec![
        "--no-playlist".to_string(),
        "--no-progress".to_string(),
        "--quiet".to_string(),
        "--no-warnings".to_string(),
        "-f".to_string(),
        FORMAT.to_string(),
        "--max-filesize".to_string(),
        max_bytes.to_string(),
        "-o".to_string(),
        out_dir.join("video.%(ext)s").display().to_string(),
    ];
    if let Some(c) = &opts.cookies {
        args.push("--cookies".into());
        args.push(c.display().to_string());
    }
    if let Some(b) = &opts.cookies_from_browser {
        args.push("--cookies-from-browser".into());
        args.push(b.clone());
    }
    args.push("--".into());
    args.push(url.to_string());
    args
}

/// Why yt-dlp gave no file.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "{program} is not installed: platform URLs need yt-dlp (install it with `pip install yt-dlp` or your package manager, or pass --yt-dlp PATH)"
    )]
    NotInstalled { program: String },
    #[error("cannot run {program}: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("yt-dlp did not finish within {secs} s")]
    TimedOut { secs: u64 },
    #[error("yt-dlp: {0}")]
    Wait(std::io::Error),
    #[error("yt-dlp failed ({status}): {last_line}")]
    Failed { status: std::process::ExitStatus, last_line: String },
    #[error("reading yt-dlp's output folder: {0}")]
    OutputFolder(std::io::Error),
    #[error("yt-dlp reported success but wrote no file")]
    NoFile,
}

/// Runs yt-dlp into `out_dir` and returns the file it wrote.
pub async fn download(
    opts: &YtDlpOptions,
    url: &url::Url,
    out_dir: &Path,
    max_bytes: u64,
    timeout: Duration,
) -> Result<PathBuf, PlatformError> {
    let mut cmd = tokio::process::Command::new(&opts.program);
    cmd.args(arguments(opts, url, out_dir, max_bytes))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let program = opts.program.display().to_string();
    let child = cmd.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            PlatformError::NotInstalled { program: program.clone() }
        } else {
            PlatformError::Spawn { program: program.clone(), source }
        }
    })?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| PlatformError::TimedOut { secs: timeout.as_secs() })?
        .map_err(PlatformError::Wait)?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        let last = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no message");
        return Err(PlatformError::Failed { status: output.status, last_line: last.to_string() });
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .map_err(PlatformError::OutputFolder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("video.") && !n.to_string_lossy().ends_with(".part"))
        })
        .collect();
    files.sort();
    files.pop().ok_or(PlatformError::NoFile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(u: &str) -> Option<String> {
        PlatformVideo::from_url(&url::Url::parse(u).unwrap()).map(|p| p.key)
    }

    #[test]
    fn recognises_platform_urls_and_their_ids() {
        assert_eq!(key("https://www.youtube.com/watch?v=uqiMw7tQ1Cc").as_deref(), Some("youtube:uqiMw7tQ1Cc"));
        assert_eq!(key("https://m.youtube.com/watch?v=uqiMw7tQ1Cc&t=210").as_deref(), Some("youtube:uqiMw7tQ1Cc"));
        assert_eq!(key("https://youtu.be/uqiMw7tQ1Cc?t=3").as_deref(), Some("youtube:uqiMw7tQ1Cc"));
        assert_eq!(key("https://www.youtube.com/shorts/abc-_123").as_deref(), Some("youtube:abc-_123"));
        assert_eq!(key("https://vimeo.com/12345/").as_deref(), Some("vimeo.com:/12345"));
        assert_eq!(key("https://example.com/watch?v=x"), None);
        assert_eq!(key("https://notyoutube.com/watch?v=x"), None);
        assert_eq!(key("https://www.youtube.com/feed/trending"), None);
    }

    #[test]
    fn arguments_carry_format_limits_and_cookies() {
        let opts = YtDlpOptions {
            program: "yt-dlp".into(),
            cookies: Some("/c.txt".into()),
            cookies_from_browser: Some("firefox".into()),
        };
        let url = url::Url::parse("https://youtu.be/x").unwrap();
        let a = arguments(&opts, &url, Path::new("/tmp/o"), 1000);
        let joined = a.join(" ");
        assert!(joined.contains("-f best[height<=720]"), "{joined}");
        assert!(joined.contains("--max-filesize 1000"));
        assert!(joined.contains("--cookies /c.txt") && joined.contains("--cookies-from-browser firefox"));
        assert_eq!(a.last().unwrap(), "https://youtu.be/x");
    }
}
