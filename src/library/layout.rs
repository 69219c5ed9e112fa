//! Where an index lives and how a new one replaces the old without a reader ever seeing half
//! of it.
//!
//! ```text
//! <root>/<blake3(model_key)[..16]>/CURRENT         names the live generation ("gen-000007")
//!                                  gen-000007/      manifest.json, graph.hnsw.graph, graph.hnsw.data
//!                                  write.lock       one writer at a time (an OS file lock)
//! ```
//!
//! A writer builds the next generation in a `.tmp` directory, syncs it, renames it into place,
//! then replaces `CURRENT` by write-aside-and-rename and removes older generations. A crash at
//! any moment leaves `CURRENT` naming a whole generation (the new one or the old one); leftover
//! `.tmp` directories are swept by the next writer. Readers load a generation into memory (no
//! mmap), so removing its files does not disturb a process that already loaded it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{IndexUnit, LibraryError};
use crate::fingerprint::Fingerprint;

/// The index root beside a store: `<store>/library` for a local store; for an object-store
/// URI, a folder in the user's cache directory named after the URI (an index is a local
/// cache of the store, rebuilt from it at any time).
pub fn default_root(store_uri: &str) -> PathBuf {
    if store_uri.contains("://") {
        crate::index::beside_remote_store(store_uri, "library")
    } else {
        Path::new(store_uri).join("library")
    }
}

/// Graph parameters as the manifest records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexParams {
    pub max_connections: usize,
    pub ef_construction: usize,
}

impl Default for IndexParams {
    fn default() -> Self {
        let p = chronoseek_ann::GraphParams::default();
        Self { max_connections: p.max_connections, ef_construction: p.ef_construction }
    }
}

impl From<IndexParams> for chronoseek_ann::GraphParams {
    fn from(p: IndexParams) -> Self {
        Self { max_connections: p.max_connections, ef_construction: p.ef_construction }
    }
}

/// One video's vectors in the graph: ids `first_id .. first_id + count`, written from the
/// frames row `ingest_id`. The entry is live only while the store's record for the video
/// names the same `ingest_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedVideo {
    pub fingerprint: Fingerprint,
    pub ingest_id: String,
    pub first_id: usize,
    pub count: usize,
}

/// What a generation holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub model_key: String,
    pub unit: IndexUnit,
    pub dim: usize,
    pub params: IndexParams,
    /// Increases with every published generation.
    pub generation: u64,
    /// The graph files' basename in the generation directory.
    pub basename: String,
    pub created_at_ms: i64,
    pub vectors: usize,
    /// Sorted by `first_id`, ids contiguous.
    pub videos: Vec<IndexedVideo>,
}

pub const MANIFEST_FORMAT: u32 = 1;

impl Manifest {
    /// The id after the last one used.
    pub fn next_id(&self) -> usize {
        self.videos.last().map(|v| v.first_id + v.count).unwrap_or(0)
    }
    /// Index into `videos` of the entry holding `id`.
    pub fn entry_of(&self, id: usize) -> Option<usize> {
        let i = self.videos.partition_point(|v| v.first_id <= id).checked_sub(1)?;
        (id < self.videos[i].first_id + self.videos[i].count).then_some(i)
    }
}

/// One model's index directory.
#[derive(Debug, Clone)]
pub struct IndexDir {
    dir: PathBuf,
}

/// Held while writing; released on drop.
pub struct WriteLock {
    _file: fs::File,
}

impl IndexDir {
    pub fn new(root: &Path, model_key: &str) -> Self {
        let key = blake3::hash(model_key.as_bytes()).to_hex();
        Self { dir: root.join(&key.as_str()[..16]) }
    }

    /// An existing index directory (e.g. found by listing the root).
    pub fn at(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The live generation's name, if any.
    pub fn current(&self) -> Result<Option<String>, LibraryError> {
        let path = self.dir.join("CURRENT");
        match fs::read_to_string(&path) {
            Ok(s) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LibraryError::io(path)(e)),
        }
    }

    pub fn generation_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn read_manifest(&self, generation: &str) -> Result<Manifest, LibraryError> {
        let path = self.generation_dir(generation).join("manifest.json");
        let bytes = fs::read(&path).map_err(LibraryError::io(&path))?;
        serde_json::from_slice(&bytes).map_err(|source| LibraryError::Manifest { path, source })
    }

    /// Waits for the directory's write lock (one writer per model's index; readers never lock).
    pub fn lock(&self) -> Result<WriteLock, LibraryError> {
        fs::create_dir_all(&self.dir).map_err(LibraryError::io(&self.dir))?;
        let path = self.dir.join("write.lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(LibraryError::io(&path))?;
        file.lock().map_err(LibraryError::io(&path))?;
        Ok(WriteLock { _file: file })
    }

    /// Publishes a generation: `write` fills a fresh directory (graph files), then the manifest
    /// is written, everything synced, the directory renamed into place and `CURRENT` switched.
    /// Call with the write lock held.
    pub fn publish(
        &self,
        _lock: &WriteLock,
        manifest: &Manifest,
        write: impl FnOnce(&Path) -> Result<(), LibraryError>,
    ) -> Result<String, LibraryError> {
        let name = format!("gen-{:06}", manifest.generation);
        let tmp = self.dir.join(format!("{name}.tmp"));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(LibraryError::io(&tmp))?;
        }
        fs::create_dir_all(&tmp).map_err(LibraryError::io(&tmp))?;
        write(&tmp)?;
        let manifest_path = tmp.join("manifest.json");
        write_synced(
            &manifest_path,
            &serde_json::to_vec_pretty(manifest)
                .map_err(|source| LibraryError::Manifest { path: manifest_path.clone(), source })?,
        )?;
        sync_dir(&tmp)?;
        let dest = self.generation_dir(&name);
        if dest.exists() {
            // A generation of this number exists but CURRENT does not name it (a crash between
            // the two renames): it is not live, replace it.
            fs::remove_dir_all(&dest).map_err(LibraryError::io(&dest))?;
        }
        fs::rename(&tmp, &dest).map_err(LibraryError::io(&dest))?;
        let current_tmp = self.dir.join("CURRENT.tmp");
        write_synced(&current_tmp, format!("{name}\n").as_bytes())?;
        fs::rename(&current_tmp, self.dir.join("CURRENT")).map_err(LibraryError::io(&self.dir))?;
        sync_dir(&self.dir)?;
        self.sweep(&name);
        Ok(name)
    }

    /// Removes generations other than `keep` and leftovers of interrupted writes. Failures only
    /// leave files behind, so they are logged, not returned.
    fn sweep(&self, keep: &str) {
        let Ok(entries) = fs::read_dir(&self.dir) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("gen-")
                && name != keep
                && let Err(err) = fs::remove_dir_all(e.path())
            {
                tracing::warn!(path = %e.path().display(), error = %err, "could not remove an old index generation");
            }
        }
    }

    /// Bytes of the live generation's files.
    pub fn bytes(&self, generation: &str) -> u64 {
        fs::read_dir(self.generation_dir(generation))
            .map(|it| it.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), LibraryError> {
    let mut f = fs::File::create(path).map_err(LibraryError::io(path))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(LibraryError::io(path))
}

fn sync_dir(dir: &Path) -> Result<(), LibraryError> {
    fs::File::open(dir).and_then(|f| f.sync_all()).map_err(LibraryError::io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(generation: u64) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT,
            model_key: "m:1".into(),
            unit: IndexUnit::Frame,
            dim: 2,
            params: IndexParams::default(),
            generation,
            basename: "graph".into(),
            created_at_ms: 0,
            vectors: 5,
            videos: vec![
                IndexedVideo { fingerprint: Fingerprint::of(b"a"), ingest_id: "1".into(), first_id: 0, count: 3 },
                IndexedVideo { fingerprint: Fingerprint::of(b"b"), ingest_id: "2".into(), first_id: 3, count: 2 },
            ],
        }
    }

    #[test]
    fn ids_map_to_their_video() {
        let m = manifest(1);
        assert_eq!(
            (m.entry_of(0), m.entry_of(2), m.entry_of(3), m.entry_of(4), m.entry_of(5)),
            (Some(0), Some(0), Some(1), Some(1), None)
        );
        assert_eq!(m.next_id(), 5);
    }

    #[test]
    fn a_failed_write_leaves_the_live_generation_and_the_next_one_replaces_it() {
        let root = tempfile::tempdir().unwrap();
        let dir = IndexDir::new(root.path(), "m:1");
        assert_eq!(dir.current().unwrap(), None);
        let lock = dir.lock().unwrap();
        let first = dir
            .publish(&lock, &manifest(1), |p| {
                fs::write(p.join("graph.hnsw.data"), b"x").unwrap();
                Ok(())
            })
            .unwrap();
        assert_eq!(dir.current().unwrap().as_deref(), Some(first.as_str()));
        // A writer that fails half-way (here: its graph dump errs) changes nothing visible.
        let err = dir.publish(&lock, &manifest(2), |p| Err(LibraryError::io(p)(std::io::Error::other("disk full"))));
        assert!(err.is_err());
        assert_eq!(dir.current().unwrap().as_deref(), Some(first.as_str()));
        assert_eq!(dir.read_manifest(&first).unwrap(), manifest(1));
        // The next writer sweeps the leftover and the old generation.
        let second = dir.publish(&lock, &manifest(2), |_| Ok(())).unwrap();
        assert_eq!(dir.current().unwrap().as_deref(), Some(second.as_str()));
        let names: Vec<String> =
            fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
        assert!(!names.iter().any(|n| n == &first || n.ends_with(".tmp")), "{names:?}");
    }
}
