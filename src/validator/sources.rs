//! The validator's own copies of task videos, which remixes are cut from.
//!
//! A dataset video is fetched once (the task's URL, a platform page through yt-dlp, or a local
//! file the operator's dataset names), checked (it must open as a video with a duration), and
//! kept in `<state>/sources/` under the blake3 of its bytes, up to a byte budget: the least
//! recently used go first. `index.json` (written by temp-file + rename) remembers which origin
//! each file came from; at start, entries whose file is gone are dropped and files no entry
//! names are deleted, so a crash mid-fetch leaves neither a dangling entry nor a stray file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::ingest::{FetchError, Fetcher, VideoSource, probe_as};

/// One cached source video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedSource {
    /// The dataset's URL or path for it.
    pub origin: String,
    /// File name inside the cache folder.
    pub file: String,
    pub bytes: u64,
    pub duration: f64,
    pub width: u32,
    pub height: u32,
    pub has_audio: bool,
    pub last_used_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("fetching {origin}: {source}")]
    Fetch { origin: String, source: FetchError },
    #[error("{origin} is not a usable video: {reason}")]
    Unusable { origin: String, reason: String },
    #[error("{origin} is {bytes} bytes, over the source cache's {budget}-byte budget")]
    TooLarge { origin: String, bytes: u64, budget: u64 },
    #[error("source cache {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

fn io(path: &Path, source: std::io::Error) -> SourceError {
    SourceError::Io { path: path.display().to_string(), source }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    sources: BTreeMap<String, CachedSource>,
}

/// Task videos on local disk, bounded in bytes.
#[derive(Debug)]
pub struct SourceCache {
    dir: PathBuf,
    budget: u64,
    fetcher: Fetcher,
    index: Index,
}

impl SourceCache {
    pub fn open(dir: &Path, budget: u64, fetcher: Fetcher) -> Result<Self, SourceError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let index_path = dir.join("index.json");
        let mut index: Index =
            std::fs::read(&index_path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        index.sources.retain(|_, s| dir.join(&s.file).is_file());
        let named: std::collections::BTreeSet<String> = index.sources.values().map(|s| s.file.clone()).collect();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))?.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name != "index.json" && !named.contains(&name) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let cache = Self { dir: dir.to_path_buf(), budget, fetcher, index };
        cache.save()?;
        Ok(cache)
    }

    fn save(&self) -> Result<(), SourceError> {
        let path = self.dir.join("index.json");
        let tmp = self.dir.join(".index.json.tmp");
        let bytes = serde_json::to_vec_pretty(&self.index).unwrap_or_default();
        std::fs::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }

    pub fn path_of(&self, s: &CachedSource) -> PathBuf {
        self.dir.join(&s.file)
    }

    pub fn get(&self, origin: &str) -> Option<&CachedSource> {
        self.index.sources.get(origin)
    }

    /// Every cached source.
    pub fn all(&self) -> impl Iterator<Item = &CachedSource> {
        self.index.sources.values()
    }

    pub fn bytes(&self) -> u64 {
        self.index.sources.values().map(|s| s.bytes).sum()
    }

    /// Marks sources as used now (they survive eviction longest).
    pub fn touch(&mut self, origins: &[&str]) {
        let now = now_ms();
        for o in origins {
            if let Some(s) = self.index.sources.get_mut(*o) {
                s.last_used_ms = now;
            }
        }
        let _ = self.save();
    }

    /// The cached copy of `origin`, fetching and checking it first if needed.
    pub async fn ensure(&mut self, origin: &str) -> Result<CachedSource, SourceError> {
        if let Some(s) = self.index.sources.get(origin) {
            return Ok(s.clone());
        }
        let fetch_err = |source| SourceError::Fetch { origin: origin.to_string(), source };
        let source = VideoSource::parse(origin).map_err(fetch_err)?;
        let local = self.fetcher.fetch(&source).await.map_err(fetch_err)?;
        if local.bytes > self.budget {
            return Err(SourceError::TooLarge { origin: origin.into(), bytes: local.bytes, budget: self.budget });
        }
        let trust = source.media_trust();
        let info = probe_as(&local.path, trust)
            .map_err(|e| SourceError::Unusable { origin: origin.into(), reason: e.to_string() })?;
        let duration = info
            .duration_s
            .filter(|d| d.is_finite() && *d > 0.0)
            .ok_or_else(|| SourceError::Unusable { origin: origin.into(), reason: "no duration".into() })?;
        let file = format!("{}.video", local.fingerprint);
        let dest = self.dir.join(&file);
        let part = self.dir.join(format!(".{file}.part"));
        // Files are named by content: bytes another origin already brought are not written again.
        if !dest.is_file() {
            // A download is linked into place (no second copy of its bytes); the operator's own
            // file, or a download on another file system, is copied.
            let linked = !source.is_local() && std::fs::hard_link(&local.path, &part).is_ok();
            if !linked {
                std::fs::copy(&local.path, &part).map_err(|e| io(&part, e))?;
            }
            std::fs::rename(&part, &dest).map_err(|e| io(&dest, e))?;
        }
        let entry = CachedSource {
            origin: origin.to_string(),
            file,
            bytes: local.bytes,
            duration,
            width: info.width,
            height: info.height,
            has_audio: info.has_audio,
            last_used_ms: now_ms(),
        };
        self.index.sources.insert(origin.to_string(), entry.clone());
        self.evict(origin);
        self.save()?;
        tracing::info!(origin, bytes = entry.bytes, duration, "task video cached for remixing");
        Ok(entry)
    }

    /// Drops least recently used sources (never `keep`) until the cache fits its budget.
    fn evict(&mut self, keep: &str) {
        while self.bytes() > self.budget {
            let Some(victim) = self
                .index
                .sources
                .values()
                .filter(|s| s.origin != keep)
                .min_by_key(|s| s.last_used_ms)
                .map(|s| s.origin.clone())
            else {
                break;
            };
            if let Some(s) = self.index.sources.remove(&victim) {
                // Files are named by content: another origin may hold the same bytes.
                if !self.index.sources.values().any(|o| o.file == s.file) {
                    let _ = std::fs::remove_file(self.dir.join(&s.file));
                }
                tracing::debug!(origin = %victim, "source evicted from the remix cache");
            }
        }
    }
}
