//! Building, refreshing and loading a model's index.
//!
//! `refresh` brings the graph up to date with the store: videos the store completed since the
//! last generation are inserted (the graph is loaded, extended and written as the next
//! generation), videos deleted or re-ingested since are left in the graph but filtered out at
//! search time, and once those dead vectors pass a fraction of the graph (or on request, or
//! when the unit or parameters change) the graph is rebuilt from the store.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chronoseek_ann::{Graph, GraphParams};
use serde::Serialize;

use super::layout::{IndexDir, IndexParams, IndexedVideo, MANIFEST_FORMAT, Manifest};
use super::{IndexUnit, LibraryError, unit_vectors};
use crate::fingerprint::Fingerprint;
use crate::index::{Store, VideoRecord};
use crate::progress::ProgressHandle;

/// A generation in memory: its manifest and graph.
pub struct LoadedIndex {
    pub generation: String,
    pub manifest: Manifest,
    pub graph: Graph,
}

impl std::fmt::Debug for LoadedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedIndex").field("generation", &self.generation).field("graph", &self.graph).finish()
    }
}

impl LoadedIndex {
    /// Loads the live generation of `dir`, if there is one.
    pub fn load(dir: &IndexDir, model_key: &str) -> Result<Option<Self>, LibraryError> {
        // A writer may replace the generation between reading CURRENT and opening its files:
        // read CURRENT again and retry once.
        for attempt in 0..2 {
            let Some(generation) = dir.current()? else { return Ok(None) };
            match Self::load_generation(dir, &generation, model_key) {
                Ok(loaded) => return Ok(Some(loaded)),
                Err(e) if attempt == 0 && dir.current()?.as_deref() != Some(generation.as_str()) => {
                    tracing::debug!(error = %e, "index generation replaced while loading; retrying");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    fn load_generation(dir: &IndexDir, generation: &str, model_key: &str) -> Result<Self, LibraryError> {
        let manifest = dir.read_manifest(generation)?;
        if manifest.model_key != model_key {
            return Err(LibraryError::WrongModel {
                path: dir.generation_dir(generation),
                found: manifest.model_key,
                expected: model_key.to_string(),
            });
        }
        let graph = if manifest.vectors == 0 {
            Graph::new(manifest.dim, 1, manifest.params.into())?
        } else {
            Graph::load(&dir.generation_dir(generation), &manifest.basename, manifest.dim, manifest.params.into())?
        };
        Ok(Self { generation: generation.to_string(), manifest, graph })
    }
}

/// Which ingest of each video the store currently serves, as the index judges its entries: an
/// entry is live when it was built from that ingest. Refresh, `staleness` and search all ask
/// this one question, so they can never disagree about what is dead.
pub(crate) struct CurrentIngests<'a>(HashMap<Fingerprint, &'a str>);

impl<'a> CurrentIngests<'a> {
    /// From store records, newest first: the first record of a fingerprint wins.
    pub(crate) fn of(records: impl IntoIterator<Item = &'a VideoRecord>) -> Self {
        let mut current = HashMap::new();
        for r in records {
            current.entry(r.fingerprint).or_insert(r.ingest_id.as_str());
        }
        Self(current)
    }

    pub(crate) fn is_live(&self, e: &IndexedVideo) -> bool {
        self.0.get(&e.fingerprint).is_some_and(|id| *id == e.ingest_id)
    }

    /// Vectors of entries that are no longer live (filtered out until a rebuild).
    pub(crate) fn dead_vectors(&self, entries: &[IndexedVideo]) -> usize {
        entries.iter().filter(|e| !self.is_live(e)).map(|e| e.count).sum()
    }

    /// Current videos that no live entry holds (scanned exactly until the next refresh).
    pub(crate) fn pending(&self, entries: &[IndexedVideo]) -> usize {
        let live: HashSet<(Fingerprint, &str)> =
            entries.iter().filter(|e| self.is_live(e)).map(|e| (e.fingerprint, e.ingest_id.as_str())).collect();
        self.0.iter().filter(|(fp, id)| !live.contains(&(**fp, **id))).count()
    }
}

/// The store's complete videos for one model, newest record per fingerprint.
pub async fn current_videos(store: &Store, model_key: &str) -> Result<Vec<VideoRecord>, LibraryError> {
    let mut seen = HashSet::new();
    Ok(store
        .list_videos()
        .await?
        .into_iter()
        .filter(|v| v.model_key == model_key && seen.insert(v.fingerprint))
        .collect())
}

/// How `refresh` builds.
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    /// What the graph holds; None keeps the current index's choice (frames for a new one).
    /// A different unit than the current index's rebuilds.
    pub unit: Option<IndexUnit>,
    /// Graph shape; None keeps the current index's (the defaults for a new one). Different
    /// parameters rebuild.
    pub params: Option<IndexParams>,
    /// Rebuild from the store even if the live generation could be extended.
    pub rebuild: bool,
    /// Rebuild when dead vectors (deleted or re-ingested videos) exceed this fraction.
    pub max_dead_fraction: f64,
    /// When no index exists yet, build one (false: leave the store unindexed).
    pub create: bool,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        Self { unit: None, params: None, rebuild: false, max_dead_fraction: 0.2, create: true }
    }
}

/// What `refresh` did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    /// The live generation after the refresh (None: no index and none created).
    pub generation: Option<String>,
    pub rebuilt: bool,
    pub added_videos: usize,
    pub added_vectors: usize,
    pub videos: usize,
    pub vectors: usize,
    pub dead_vectors: usize,
    pub seconds: f64,
}

/// Videos inserted per graph call (bounds memory and paces the progress bar).
const INSERT_CHUNK_VIDEOS: usize = 64;

/// Brings the index of `model_key` under `root` up to date with the store (see the module
/// docs). Single writer: waits for other writers of the same index.
pub async fn refresh(
    store: &Store,
    model_key: &str,
    root: &Path,
    opts: &RefreshOptions,
    progress: &ProgressHandle,
) -> Result<RefreshReport, LibraryError> {
    let started = Instant::now();
    let dir = IndexDir::new(root, model_key);
    let lock = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || dir.lock()).await??
    };
    let current = current_videos(store, model_key).await?;
    let ingests = CurrentIngests::of(&current);
    // Decide from the manifest alone; the graph is read only when it will be extended.
    let existing = match dir.current()? {
        None => None,
        Some(generation) => match dir.read_manifest(&generation) {
            Ok(m) if m.model_key == model_key => Some((generation, m)),
            Ok(m) => {
                tracing::warn!(found = %m.model_key, "library index of another model in this folder; rebuilding");
                None
            }
            Err(e) => {
                // An unreadable generation is a cache miss, not a failure: rebuild it.
                tracing::warn!(error = %e, "library index unreadable; rebuilding from the store");
                None
            }
        },
    };
    if existing.is_none() && !opts.create {
        return Ok(RefreshReport {
            generation: None,
            rebuilt: false,
            added_videos: 0,
            added_vectors: 0,
            videos: 0,
            vectors: 0,
            dead_vectors: 0,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let unit = opts.unit.or(existing.as_ref().map(|(_, m)| m.unit)).unwrap_or_default();
    let params = opts.params.or(existing.as_ref().map(|(_, m)| m.params)).unwrap_or_default();
    let reusable =
        existing.filter(|(_, m)| !opts.rebuild && m.unit == unit && m.params == params && m.format == MANIFEST_FORMAT);
    let mut manifest = match reusable {
        Some((_, m)) => {
            let dead = ingests.dead_vectors(&m.videos);
            (m.vectors == 0 || dead as f64 <= opts.max_dead_fraction * m.vectors as f64).then_some(m)
        }
        None => None,
    };
    let indexed: HashSet<(Fingerprint, String)> = manifest
        .as_ref()
        .map(|m| m.videos.iter().filter(|v| ingests.is_live(v)).map(|v| (v.fingerprint, v.ingest_id.clone())).collect())
        .unwrap_or_default();
    let to_add: Vec<&VideoRecord> =
        current.iter().filter(|v| !indexed.contains(&(v.fingerprint, v.ingest_id.clone()))).collect();
    if let Some(m) = manifest.as_ref().filter(|_| to_add.is_empty()) {
        let dead = ingests.dead_vectors(&m.videos);
        return Ok(RefreshReport {
            generation: dir.current()?,
            rebuilt: false,
            added_videos: 0,
            added_vectors: 0,
            videos: m.videos.len(),
            vectors: m.vectors,
            dead_vectors: dead,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let mut graph: Option<Graph> = None;
    if let Some(m) = manifest.as_ref().filter(|m| m.vectors > 0) {
        let (path, basename, dim, params) =
            (dir.generation_dir(&format!("gen-{:06}", m.generation)), m.basename.clone(), m.dim, m.params);
        let loaded = tokio::task::spawn_blocking(move || Graph::load(&path, &basename, dim, params.into())).await?;
        match loaded {
            Ok(g) => graph = Some(g),
            Err(e) => {
                tracing::warn!(error = %e, "library index graph unreadable; rebuilding from the store");
                manifest = None;
            }
        }
    }
    let rebuilt = manifest.is_none();
    let to_add: Vec<&VideoRecord> = if manifest.is_none() { current.iter().collect() } else { to_add };
    progress.set_length(to_add.len() as u64);
    progress.set_message(if rebuilt { "building library index" } else { "extending library index" });
    let mut next_id = manifest.as_ref().map(|m| m.next_id()).unwrap_or(0);
    let mut entries = manifest.as_ref().map(|m| m.videos.clone()).unwrap_or_default();
    let mut added_vectors = 0usize;
    let mut dim = manifest.as_ref().map(|m| m.dim).unwrap_or(0);
    for chunk in to_add.chunks(INSERT_CHUNK_VIDEOS) {
        let mut flat: Vec<f32> = Vec::new();
        let mut ids: Vec<usize> = Vec::new();
        for v in chunk {
            let frames = store.load_frames(v).await?;
            if dim == 0 {
                dim = frames.dim;
            }
            if frames.dim != dim {
                return Err(crate::index::StoreError::Corrupt(format!(
                    "video {} has embeddings of width {}, the index {dim}",
                    v.fingerprint, frames.dim
                ))
                .into());
            }
            let vectors = unit_vectors(unit, &frames);
            let count = vectors.len() / dim;
            entries.push(IndexedVideo {
                fingerprint: v.fingerprint,
                ingest_id: v.ingest_id.clone(),
                first_id: next_id,
                count,
            });
            ids.extend(next_id..next_id + count);
            flat.extend_from_slice(&vectors);
            next_id += count;
            added_vectors += count;
        }
        let g = match graph.take() {
            Some(g) => g,
            None => {
                let capacity = current.iter().map(|v| v.frame_count as usize).sum();
                Graph::new(dim, capacity, GraphParams::from(params))?
            }
        };
        let d = dim;
        let g = tokio::task::spawn_blocking(move || -> Result<Graph, LibraryError> {
            let mut g = g;
            let items: Vec<(&[f32], usize)> = flat.chunks_exact(d).zip(ids).collect();
            g.insert(&items)?;
            Ok(g)
        })
        .await??;
        graph = Some(g);
        progress.inc(chunk.len() as u64);
    }
    let vectors = next_id;
    let generation = manifest.as_ref().map(|m| m.generation + 1).unwrap_or_else(|| {
        // After a rebuild, continue the numbering of whatever generation was live.
        dir.current()
            .ok()
            .flatten()
            .and_then(|g| g.strip_prefix("gen-").and_then(|n| n.parse::<u64>().ok()))
            .unwrap_or(0)
            + 1
    });
    let dead_vectors = ingests.dead_vectors(&entries);
    let new_manifest = Manifest {
        format: MANIFEST_FORMAT,
        model_key: model_key.to_string(),
        unit,
        dim,
        params,
        generation,
        basename: "graph".into(),
        created_at_ms: crate::clock::now_ms() as i64,
        vectors,
        videos: entries,
    };
    let videos = new_manifest.videos.len();
    let graph = Arc::new(graph);
    let name = {
        let (dir, graph) = (dir.clone(), graph.clone());
        tokio::task::spawn_blocking(move || -> Result<String, LibraryError> {
            dir.publish(&lock, &new_manifest, |path| {
                if let Some(g) = graph.as_ref().as_ref().filter(|g| !g.is_empty()) {
                    // hnsw_rs picks another basename only when the files exist; the directory is fresh.
                    if g.dump(path, "graph")? != "graph" {
                        return Err(LibraryError::io(path)(std::io::Error::other("graph files already existed")));
                    }
                }
                Ok(())
            })
        })
        .await??
    };
    Ok(RefreshReport {
        generation: Some(name),
        rebuilt,
        added_videos: to_add.len(),
        added_vectors,
        videos,
        vectors,
        dead_vectors,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// How far an index is behind its store.
#[derive(Debug, Clone, Serialize)]
pub struct Staleness {
    pub model_key: String,
    pub generation: String,
    pub unit: IndexUnit,
    pub bytes: u64,
    pub vectors: usize,
    pub indexed_videos: usize,
    /// Complete videos the graph does not hold yet (searched exactly until the next refresh).
    pub pending_videos: usize,
    /// Vectors of deleted or re-ingested videos (filtered out at search time).
    pub dead_vectors: usize,
    pub created_at_ms: i64,
}

/// Every index under `root` compared with the store.
pub async fn staleness(store: &Store, root: &Path) -> Result<Vec<Staleness>, LibraryError> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root) else { return Ok(out) };
    let all = store.list_videos().await?;
    for e in entries.flatten() {
        let dir = IndexDir::at(e.path());
        let Some(generation) = dir.current()? else { continue };
        let m = dir.read_manifest(&generation)?;
        // Newest record per fingerprint (the list is newest first).
        let ingests = CurrentIngests::of(all.iter().filter(|v| v.model_key == m.model_key));
        let indexed_videos = m.videos.iter().filter(|v| ingests.is_live(v)).count();
        out.push(Staleness {
            model_key: m.model_key.clone(),
            bytes: dir.bytes(&generation),
            generation,
            unit: m.unit,
            vectors: m.vectors,
            indexed_videos,
            pending_videos: ingests.pending(&m.videos),
            dead_vectors: ingests.dead_vectors(&m.videos),
            created_at_ms: m.created_at_ms,
        });
    }
    Ok(out)
}
