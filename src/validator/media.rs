//! Media the validator serves to miners: remixed task videos and, when the gateway proxies
//! organic traffic, users' videos, each under an unguessable token for a limited time.
//!
//! `GET /media/<token>` (in `server/media.rs`) looks the token up here and nowhere else: the
//! request never names a path, so no path trick can reach a file this registry did not create.
//! A token is 256 random bits; it stops working when it expires (the step's deadline) or is
//! retired, and its file is deleted then. Tokens live in memory only, and [`MediaRegistry::open`]
//! empties the folder: after a crash or `kill -9`, no token points at a missing file and no
//! half-rendered file is left behind.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use parking_lot::Mutex;
use rand::RngCore;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// An unguessable media token: 32 random bytes, base64url without padding (43 characters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    const LEN: usize = 43;

    fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token as it appears in a URL; `None` for anything that could not be one (wrong length
    /// or a character outside base64url), so no other string reaches a look-up.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == Self::LEN && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .then(|| Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug)]
struct Entry {
    path: PathBuf,
    bytes: u64,
    expires: Instant,
    served: Arc<AtomicU64>,
}

/// A file being served: where it is, its size, and the counter its downloads add to.
#[derive(Debug, Clone)]
pub struct Served {
    pub path: PathBuf,
    pub bytes: u64,
    pub served: Arc<AtomicU64>,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("media folder {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io(path: &Path, source: std::io::Error) -> MediaError {
    MediaError::Io { path: path.display().to_string(), source }
}

/// The tokens being served and their files.
#[derive(Debug)]
pub struct MediaRegistry {
    dir: PathBuf,
    entries: Mutex<HashMap<Token, Entry>>,
    downloads: Arc<Semaphore>,
    /// Bytes sent by `/media` since start.
    pub bytes_served: AtomicU64,
}

impl MediaRegistry {
    /// Opens (and empties) `dir`; at most `max_downloads` downloads run at once.
    pub fn open(dir: &Path, max_downloads: usize) -> Result<Arc<Self>, MediaError> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| io(dir, e))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            entries: Mutex::new(HashMap::new()),
            downloads: Arc::new(Semaphore::new(max_downloads.max(1))),
            bytes_served: AtomicU64::new(0),
        }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh path inside the folder for a file being made (renders, downloads): it is never
    /// served until [`publish`](Self::publish) takes it, and the next start removes it if the
    /// process dies first.
    pub fn scratch_path(&self, ext: &str) -> PathBuf {
        self.dir.join(format!(".part-{}.{ext}", Token::random()))
    }

    /// Serves `file` (moved into the folder: renamed, or hard-linked when `keep_original`,
    /// copied across file systems) under a new token until `ttl` has passed.
    pub fn publish(self: &Arc<Self>, file: &Path, keep_original: bool, ttl: Duration) -> Result<Published, MediaError> {
        let token = Token::random();
        let path = self.dir.join(format!("{token}.mp4"));
        let moved = if keep_original { std::fs::hard_link(file, &path) } else { std::fs::rename(file, &path) };
        if moved.is_err() {
            std::fs::copy(file, &path).map_err(|e| io(&path, e))?;
            if !keep_original {
                let _ = std::fs::remove_file(file);
            }
        }
        let bytes = std::fs::metadata(&path).map_err(|e| io(&path, e))?.len();
        let served = Arc::new(AtomicU64::new(0));
        self.entries
            .lock()
            .insert(token.clone(), Entry { path, bytes, expires: Instant::now() + ttl, served: served.clone() });
        self.sweep();
        Ok(Published { registry: self.clone(), token, bytes, served })
    }

    /// The file behind a live token; `None` when unknown or expired (both: 404).
    pub fn lookup(&self, token: &Token) -> Option<Served> {
        let entries = self.entries.lock();
        let e = entries.get(token).filter(|e| e.expires > Instant::now())?;
        Some(Served { path: e.path.clone(), bytes: e.bytes, served: e.served.clone() })
    }

    /// A download slot, or `None` when `max_downloads` are running (503).
    pub fn try_download(&self) -> Option<OwnedSemaphorePermit> {
        self.downloads.clone().try_acquire_owned().ok()
    }

    /// Stops serving `token` and deletes its file.
    pub fn retire(&self, token: &Token) {
        if let Some(e) = self.entries.lock().remove(token) {
            let _ = std::fs::remove_file(&e.path);
        }
    }

    /// Retires every expired token.
    pub fn sweep(&self) {
        let now = Instant::now();
        let expired: Vec<Entry> = {
            let mut entries = self.entries.lock();
            let keys: Vec<Token> = entries.iter().filter(|(_, e)| e.expires <= now).map(|(k, _)| k.clone()).collect();
            keys.iter().filter_map(|k| entries.remove(k)).collect()
        };
        for e in expired {
            let _ = std::fs::remove_file(&e.path);
        }
    }

    /// Tokens being served.
    pub fn live(&self) -> usize {
        self.entries.lock().len()
    }
}

/// A published file; retired (and deleted) when dropped, so a step that ends early, fails or
/// is cancelled still cleans up.
#[derive(Debug)]
pub struct Published {
    registry: Arc<MediaRegistry>,
    pub token: Token,
    pub bytes: u64,
    served: Arc<AtomicU64>,
}

impl Published {
    /// Bytes sent for this token so far.
    pub fn bytes_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        self.registry.retire(&self.token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_only_as_made() {
        let t = Token::random();
        assert_eq!(t.as_str().len(), 43);
        assert_eq!(Token::parse(t.as_str()), Some(t.clone()));
        assert_ne!(Token::random(), t);
        for bad in ["", "../state.json", &format!("{}/", &t.as_str()[..42]), &format!("{}.", &t.as_str()[..42]), "a"] {
            assert!(Token::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn published_files_expire_retire_and_vanish_and_open_empties_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let media = dir.path().join("media");
        let reg = MediaRegistry::open(&media, 2).unwrap();
        let part = reg.scratch_path("mp4");
        std::fs::write(&part, b"video").unwrap();
        let p = reg.publish(&part, false, Duration::from_secs(60)).unwrap();
        assert!(!part.exists(), "moved in");
        let served = reg.lookup(&p.token).unwrap();
        assert_eq!(served.bytes, 5);
        assert!(served.path.exists());
        drop(p);
        assert!(!served.path.exists(), "deleted when retired");
        assert_eq!(reg.live(), 0);

        let keep = dir.path().join("source.mp4");
        std::fs::write(&keep, b"source").unwrap();
        let p = reg.publish(&keep, true, Duration::from_millis(1)).unwrap();
        assert!(keep.exists(), "the original stays");
        std::thread::sleep(Duration::from_millis(5));
        assert!(reg.lookup(&p.token).is_none(), "expired");
        reg.sweep();
        assert_eq!(std::fs::read_dir(&media).unwrap().count(), 0);
        drop(p);

        // A leftover from a killed process: removed by the next open.
        std::fs::write(media.join(".part-x.mp4"), b"half").unwrap();
        let _reg = MediaRegistry::open(&media, 2).unwrap();
        assert_eq!(std::fs::read_dir(&media).unwrap().count(), 0);
    }

    #[test]
    fn downloads_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let reg = MediaRegistry::open(dir.path(), 2).unwrap();
        let (a, b) = (reg.try_download().unwrap(), reg.try_download().unwrap());
        assert!(reg.try_download().is_none());
        drop(a);
        assert!(reg.try_download().is_some());
        drop(b);
    }
}
