//! Getting a video's bytes: local paths, `file://` and `http(s)://` URLs, with size and time
//! limits, hashing while writing, and a path/URL -> fingerprint cache with validators so a
//! repeated URL costs one HEAD request instead of a download.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::StreamExt;

use super::platform::{PlatformVideo, YtDlpOptions};
use crate::fingerprint::{Fingerprint, HashingWriter};
use crate::protocol::VideoUrl;

/// What a search is about: a video known to be stored (by fingerprint), or a source to fetch.
/// The CLI builds it with [`VideoInput::from_cli`] (paths, URLs, fingerprints); network
/// boundaries build `Source(VideoSource::from_network(..))` from a parsed [`VideoUrl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoInput {
    Stored(Fingerprint),
    Source(VideoSource),
}

impl VideoInput {
    /// A fingerprint (when no file of that name exists), a path, or a URL.
    pub fn from_cli(s: &str) -> Result<Self, FetchError> {
        let t = s.trim();
        if let Ok(fp) = t.parse::<Fingerprint>()
            && !Path::new(t).exists()
        {
            return Ok(Self::Stored(fp));
        }
        VideoSource::parse(s).map(Self::Source)
    }

    /// From a URL that crossed a network boundary.
    pub fn from_network(url: &VideoUrl) -> Self {
        Self::Source(VideoSource::from_network(url))
    }
}

impl std::fmt::Display for VideoInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stored(fp) => write!(f, "{fp}"),
            Self::Source(s) => write!(f, "{s}"),
        }
    }
}

/// Where a video comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoSource {
    File(PathBuf),
    /// A direct media URL, fetched with the built-in HTTP client.
    Http(url::Url),
    /// A platform page (YouTube, ...), fetched with yt-dlp.
    Platform(PlatformVideo),
}

impl VideoSource {
    /// The source behind a URL that came over the network: a direct download or a platform
    /// page, never a local file (the type says so; nothing re-parses the text).
    pub fn from_network(url: &VideoUrl) -> Self {
        let url = url.as_url();
        PlatformVideo::from_url(url).map(Self::Platform).unwrap_or_else(|| Self::Http(url.clone()))
    }

    /// True for sources read from this machine's file system.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::File(_))
    }

    /// How the bytes of this source may be decoded: local files with every format FFmpeg
    /// knows, downloaded bytes with the single-file demuxers only.
    pub fn media_trust(&self) -> super::MediaTrust {
        if self.is_local() { super::MediaTrust::Local } else { super::MediaTrust::Network }
    }

    /// The command line's rules: a `file://` or `http(s)://` URL, or a plain path. Never for
    /// network input (use [`VideoSource::from_network`]).
    pub fn parse(s: &str) -> Result<Self, FetchError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(InvalidUrl::Empty.into());
        }
        let parse =
            |s: &str| url::Url::parse(s).map_err(|source| InvalidUrl::Unparsable { url: s.to_string(), source });
        if s.starts_with("file://") {
            let url = parse(s)?;
            return url.to_file_path().map(Self::File).map_err(|()| InvalidUrl::NotLocalFile(s.to_string()).into());
        }
        if s.contains("://") {
            let url = parse(s)?;
            return match url.scheme() {
                "http" | "https" if url.host().is_some() => {
                    Ok(PlatformVideo::from_url(&url).map(Self::Platform).unwrap_or(Self::Http(url)))
                }
                "http" | "https" => Err(InvalidUrl::NoHost(s.to_string()).into()),
                other => Err(InvalidUrl::Scheme(other.to_string()).into()),
            };
        }
        Ok(Self::File(PathBuf::from(s)))
    }

    /// The key the source cache uses: an absolute `file://` URL or the HTTP URL.
    pub fn cache_key(&self) -> String {
        match self {
            Self::File(p) => {
                let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                format!("file://{}", abs.display())
            }
            Self::Http(u) => u.to_string(),
            // A platform id names immutable content: no URL variant re-downloads it.
            Self::Platform(p) => p.key.clone(),
        }
    }
}

impl std::fmt::Display for VideoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "{}", p.display()),
            Self::Http(u) => write!(f, "{u}"),
            Self::Platform(p) => write!(f, "{}", p.url),
        }
    }
}

/// What is wrong with a video location given on the command line.
#[derive(Debug, thiserror::Error)]
pub enum InvalidUrl {
    #[error("empty video location")]
    Empty,
    #[error("{url}: {source}")]
    Unparsable {
        url: String,
        #[source]
        source: url::ParseError,
    },
    #[error("{0}: not a local file URL")]
    NotLocalFile(String),
    #[error("{0}: no host")]
    NoHost(String),
    #[error("unsupported URL scheme '{0}'")]
    Scheme(String),
}

/// Why a video's bytes could not be had. Every variant is the protocol's `VIDEO_FETCH_FAILED`.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid video URL: {0}")]
    InvalidUrl(#[from] InvalidUrl),
    #[error("{0}: no such file")]
    NotFound(String),
    #[error("{url}: HTTP status {status}")]
    Status { url: String, status: u16 },
    #[error("{url}: {kind} ({source})")]
    Network { url: String, kind: NetworkFailure, source: reqwest::Error },
    #[error("video is larger than the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("{0}: refusing to fetch from a private, loopback or link-local address")]
    Forbidden(String),
    /// A local file where only network sources are allowed (the miner and the gateway). The
    /// message names nothing about the path: no existence oracle.
    #[error("local files are not served")]
    LocalFileRefused,
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("hashing task: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("{url}: {source}")]
    Platform { url: String, source: super::platform::PlatformError },
}

/// What went wrong on the wire, for operators and metrics (the client's error is kept as the
/// source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NetworkFailure {
    #[error("timed out")]
    TimedOut,
    #[error("too many redirects")]
    TooManyRedirects,
    #[error("connection failed")]
    Connect,
    #[error("transfer failed")]
    Transfer,
}

/// Limits on fetching.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub max_bytes: u64,
    pub connect_timeout: Duration,
    /// Longest wait for the next chunk of a download.
    pub read_timeout: Duration,
    /// Whole-download limit.
    pub total_timeout: Duration,
    pub max_redirects: usize,
    /// Root folder for downloads; `chronoseek-downloads` in the system temp folder if `None`.
    /// Each process downloads into its own `<root>/<pid>/` and, when it starts, removes the
    /// folders of processes that are gone: a download cut short by `kill -9` is swept by the
    /// next start instead of staying in the temp folder forever.
    pub download_dir: Option<PathBuf>,
    /// Refuse URLs whose addresses are loopback, private, link-local, multicast or
    /// unspecified (the miner's SSRF guard). Off for the CLI, which fetches the user's own URLs.
    pub block_private_addresses: bool,
    /// Read local files (paths, `file://`). The CLI reads the user's own files; a miner or a
    /// gateway never does, whatever reaches the fetcher (checked before any file-system call).
    pub allow_local_files: bool,
    /// How platform pages are fetched.
    pub yt_dlp: YtDlpOptions,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self {
            max_bytes: 2 * 1024 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(600),
            max_redirects: 5,
            download_dir: None,
            block_private_addresses: false,
            allow_local_files: true,
            yt_dlp: YtDlpOptions::default(),
        }
    }
}

/// A video's bytes on local disk with their fingerprint. A download lives in a temporary file
/// removed when this is dropped.
#[derive(Debug)]
pub struct LocalVideo {
    pub path: PathBuf,
    pub fingerprint: Fingerprint,
    pub bytes: u64,
    _temp: Option<Temporary>,
}

/// What keeps a downloaded file alive until ingest is done.
#[derive(Debug)]
enum Temporary {
    File(#[allow(dead_code)] tempfile::TempPath),
    Dir(#[allow(dead_code)] tempfile::TempDir),
}

/// Fetches video bytes over HTTP with the limits above.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    opts: FetchOptions,
}

impl Fetcher {
    pub fn new(opts: FetchOptions) -> Result<Self, FetchError> {
        let max_redirects = opts.max_redirects;
        let block = opts.block_private_addresses;
        // Every redirect is checked like the first URL: hop count, and literal private IPs
        // (names are checked by the resolver when the client connects).
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                attempt.error("too many redirects")
            } else if block && super::ssrf::literal_ip(attempt.url()).is_some_and(super::ssrf::is_forbidden) {
                let url = attempt.url().to_string();
                attempt.error(FetchError::Forbidden(url))
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .timeout(opts.total_timeout)
            .redirect(policy)
            .user_agent(concat!("chronoseek/", env!("CARGO_PKG_VERSION")));
        if block {
            builder = builder.dns_resolver(super::ssrf::resolver());
        }
        let client = builder.build().map_err(FetchError::Client)?;
        let root = opts.download_dir.clone().unwrap_or_else(|| std::env::temp_dir().join("chronoseek-downloads"));
        sweep_downloads(&root);
        let mut opts = opts;
        opts.download_dir = Some(root.join(std::process::id().to_string()));
        Ok(Self { client, opts })
    }

    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// A string that changes when the content behind the source changes, without reading it:
    /// size and modification time for files; ETag, Last-Modified and length for HTTP. `None`
    /// when the server gives nothing to validate with (then the URL is always downloaded).
    pub async fn validator(&self, source: &VideoSource) -> Result<Option<String>, FetchError> {
        self.check_policy(source)?;
        match source {
            VideoSource::File(p) => {
                Ok(Some(file_validator(p).map_err(|_| FetchError::NotFound(p.display().to_string()))?))
            }
            VideoSource::Http(url) => {
                self.check_address(url)?;
                let resp = self.client.head(url.clone()).send().await.map_err(|e| network(url, e))?;
                if !resp.status().is_success() {
                    return Err(FetchError::Status { url: url.to_string(), status: resp.status().as_u16() });
                }
                let h = resp.headers();
                let get = |k: reqwest::header::HeaderName| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
                let etag = get(reqwest::header::ETAG);
                let modified = get(reqwest::header::LAST_MODIFIED);
                let length = get(reqwest::header::CONTENT_LENGTH);
                if etag.is_none() && modified.is_none() {
                    return Ok(None);
                }
                Ok(Some(format!(
                    "etag={};last_modified={};length={}",
                    etag.unwrap_or_default(),
                    modified.unwrap_or_default(),
                    length.unwrap_or_default()
                )))
            }
            VideoSource::Platform(_) => Ok(Some("platform-id".to_string())),
        }
    }

    /// Makes the bytes local and fingerprints them in the same pass.
    pub async fn fetch(&self, source: &VideoSource) -> Result<LocalVideo, FetchError> {
        self.check_policy(source)?;
        match source {
            VideoSource::File(p) => hash_file(p, self.opts.max_bytes).await,
            VideoSource::Http(url) => self.download(url).await,
            VideoSource::Platform(p) => self.download_platform(p).await,
        }
    }

    async fn download_platform(&self, video: &PlatformVideo) -> Result<LocalVideo, FetchError> {
        let dir = match &self.opts.download_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| io(d.display(), e))?;
                tempfile::tempdir_in(d)
            }
            None => tempfile::tempdir(),
        }
        .map_err(|e| io("temporary folder", e))?;
        let file = super::platform::download(
            &self.opts.yt_dlp,
            &video.url,
            dir.path(),
            self.opts.max_bytes,
            self.opts.total_timeout,
        )
        .await
        .map_err(|source| FetchError::Platform { url: video.url.to_string(), source })?;
        let mut hashed = hash_file(&file, self.opts.max_bytes).await?;
        hashed._temp = Some(Temporary::Dir(dir));
        Ok(hashed)
    }

    /// Refuses local sources when they are not allowed, before touching the file system.
    fn check_policy(&self, source: &VideoSource) -> Result<(), FetchError> {
        if source.is_local() && !self.opts.allow_local_files {
            return Err(FetchError::LocalFileRefused);
        }
        Ok(())
    }

    /// Refuses literal private IPs up front (names are filtered by the resolver).
    fn check_address(&self, url: &url::Url) -> Result<(), FetchError> {
        if self.opts.block_private_addresses && super::ssrf::literal_ip(url).is_some_and(super::ssrf::is_forbidden) {
            return Err(FetchError::Forbidden(url.to_string()));
        }
        Ok(())
    }

    async fn download(&self, url: &url::Url) -> Result<LocalVideo, FetchError> {
        self.check_address(url)?;
        let resp = self.client.get(url.clone()).send().await.map_err(|e| network(url, e))?;
        if !resp.status().is_success() {
            return Err(FetchError::Status { url: url.to_string(), status: resp.status().as_u16() });
        }
        if let Some(len) = resp.content_length()
            && len > self.opts.max_bytes
        {
            return Err(FetchError::TooLarge { limit: self.opts.max_bytes });
        }
        let temp = match &self.opts.download_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| io(d.display(), e))?;
                tempfile::NamedTempFile::new_in(d)
            }
            None => tempfile::NamedTempFile::new(),
        }
        .map_err(|e| io("temporary file", e))?;
        let (file, temp_path) = temp.into_parts();
        let mut writer = HashingWriter::new(std::io::BufWriter::new(file));
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| network(url, e))?;
            if writer.written() + chunk.len() as u64 > self.opts.max_bytes {
                return Err(FetchError::TooLarge { limit: self.opts.max_bytes });
            }
            writer.write_all(&chunk).map_err(|e| io("writing download", e))?;
        }
        let (_, fingerprint, bytes) = writer.finish().map_err(|e| io("writing download", e))?;
        Ok(LocalVideo { path: temp_path.to_path_buf(), fingerprint, bytes, _temp: Some(Temporary::File(temp_path)) })
    }
}

fn io(what: impl std::fmt::Display, source: std::io::Error) -> FetchError {
    FetchError::Io { what: what.to_string(), source }
}

/// Removes `<root>/<pid>/` folders whose process is gone (Linux: no `/proc/<pid>`). Failures are
/// logged, never fatal: sweeping is housekeeping.
pub fn sweep_downloads(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let alive = |pid: u32| Path::new("/proc").join(pid.to_string()).exists() || !Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == std::process::id() || alive(pid) {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => tracing::info!(path = %entry.path().display(), "removed downloads left by a stopped process"),
            Err(e) => tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove old downloads"),
        }
    }
}

fn network(url: &url::Url, e: reqwest::Error) -> FetchError {
    // The SSRF guard's refusals come back wrapped in the client's error.
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(FetchError::Forbidden(u)) = s.downcast_ref::<FetchError>() {
            return FetchError::Forbidden(u.clone());
        }
        if s.downcast_ref::<super::ssrf::ForbiddenAddress>().is_some() {
            return FetchError::Forbidden(url.to_string());
        }
        source = s.source();
    }
    let kind = if e.is_timeout() {
        NetworkFailure::TimedOut
    } else if e.is_redirect() {
        NetworkFailure::TooManyRedirects
    } else if e.is_connect() {
        NetworkFailure::Connect
    } else {
        NetworkFailure::Transfer
    };
    FetchError::Network { url: url.to_string(), kind, source: e }
}

/// Hashes a local file in one streaming pass (the decoder reads the file itself afterwards).
pub(crate) async fn hash_file(path: &Path, max_bytes: u64) -> Result<LocalVideo, FetchError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let meta = std::fs::metadata(&path).map_err(|_| FetchError::NotFound(path.display().to_string()))?;
        if !meta.is_file() {
            return Err(FetchError::NotFound(format!("{} (not a regular file)", path.display())));
        }
        if meta.len() > max_bytes {
            return Err(FetchError::TooLarge { limit: max_bytes });
        }
        let mut f = std::fs::File::open(&path).map_err(|e| io(path.display(), e))?;
        let mut w = HashingWriter::new(std::io::sink());
        std::io::copy(&mut f, &mut w).map_err(|e| io(path.display(), e))?;
        let (_, fingerprint, bytes) = w.finish().map_err(|e| io(path.display(), e))?;
        Ok(LocalVideo { path, fingerprint, bytes, _temp: None })
    })
    .await?
}

/// A local file's cache validator: size and modification time. The `sources` table stores it
/// next to the fingerprint; a file whose validator still matches holds the same bytes.
pub fn file_validator(path: &std::path::Path) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(format!("size={};mtime_ns={mtime}", meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(VideoSource::parse("a/b.mp4").unwrap(), VideoSource::File("a/b.mp4".into()));
        assert_eq!(VideoSource::parse("file:///tmp/x.mp4").unwrap(), VideoSource::File("/tmp/x.mp4".into()));
        assert!(matches!(VideoSource::parse("https://e.com/v.mp4").unwrap(), VideoSource::Http(_)));
        let invalid = |s: &str| match VideoSource::parse(s) {
            Err(FetchError::InvalidUrl(why)) => why,
            other => panic!("{s}: {other:?}"),
        };
        assert!(matches!(invalid("ftp://e.com/v.mp4"), InvalidUrl::Scheme(s) if s == "ftp"));
        assert!(matches!(invalid("http://"), InvalidUrl::Unparsable { .. }));
        assert!(matches!(invalid("file://remote.host/v.mp4"), InvalidUrl::NotLocalFile(_)));
        assert!(matches!(invalid("   "), InvalidUrl::Empty));
    }

    #[test]
    fn downloads_of_stopped_processes_are_swept_at_start() {
        let root = tempfile::tempdir().unwrap();
        // A pid far above any pid_max: that process cannot be running.
        let dead = root.path().join("4294967");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join(".tmpABC"), vec![0u8; 4096]).unwrap();
        let mine = root.path().join(std::process::id().to_string());
        std::fs::create_dir_all(&mine).unwrap();
        let other = root.path().join("not-a-pid");
        std::fs::create_dir_all(&other).unwrap();
        let f =
            Fetcher::new(FetchOptions { download_dir: Some(root.path().to_path_buf()), ..Default::default() }).unwrap();
        assert!(!dead.exists(), "a stopped process's downloads are removed");
        assert!(mine.exists() && other.exists(), "live and foreign folders are kept");
        assert_eq!(f.options().download_dir.as_deref(), Some(mine.as_path()));
    }

    #[test]
    fn local_files_are_refused_before_any_file_system_call() {
        let f = Fetcher::new(FetchOptions { allow_local_files: false, ..Default::default() }).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for p in ["/etc/passwd", "/no/such/file", "/tmp", "/proc/self/pagemap"] {
            let src = VideoSource::File(p.into());
            // One answer for an existing file, a missing one and a directory.
            let a = rt.block_on(f.validator(&src)).unwrap_err().to_string();
            let b = rt.block_on(f.fetch(&src)).unwrap_err().to_string();
            assert_eq!(a, "local files are not served", "{p}");
            assert_eq!(b, a, "{p}");
        }
    }
}
