//! Taking videos out of the library: `chronoseek store remove`.
//!
//! A user names what to remove the way they named it to ingest ([`super::names`]) or asks for
//! every video whose files are gone.
//!
//! Removal is [`Store::forget_video`] per fingerprint (markers first, so a half-removed video
//! is never visible), then each affected model's library index is refreshed: its entries for
//! the removed videos are already dead (search filters them out against the store), and the
//! refresh rebuilds once dead vectors pass the usual fraction. Deleted rows and index vectors
//! stay on disk in older table versions and in the graph until a purge ([`RemoveOptions::purge`]:
//! tables compacted, old versions deleted, indexes rebuilt), which needs the store to itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;

use super::{LibraryError, RefreshOptions, RefreshReport, refresh};
use crate::fingerprint::Fingerprint;
use crate::index::{Forgotten, RowsRemoved, Store};
use crate::progress::ProgressHandle;

/// A stored video whose recorded files are all gone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingVideo {
    pub fingerprint: Fingerprint,
    /// Its recorded paths, as `file://` URLs.
    pub sources: Vec<String>,
}

/// Complete videos every recorded source of which is a local file that no longer exists in a
/// folder that still does. A video also known by a URL is kept (the URL may still serve it), as
/// is one whose folder is gone as a whole: an unmounted drive looks like that, and removing a
/// library because a disk is unplugged would be wrong (name the folder to remove those).
pub async fn missing_local(store: &Store) -> Result<Vec<MissingVideo>, LibraryError> {
    let complete: BTreeSet<Fingerprint> = store.list_videos().await?.into_iter().map(|v| v.fingerprint).collect();
    let mut by_video: BTreeMap<Fingerprint, Vec<String>> = BTreeMap::new();
    for s in store.sources().await? {
        if complete.contains(&s.fingerprint) {
            by_video.entry(s.fingerprint).or_default().push(s.source);
        }
    }
    Ok(by_video
        .into_iter()
        .filter(|(_, sources)| {
            sources.iter().all(|s| {
                s.strip_prefix("file://")
                    .map(Path::new)
                    .is_some_and(|p| !p.exists() && p.parent().is_some_and(Path::is_dir))
            })
        })
        .map(|(fingerprint, mut sources)| {
            sources.sort();
            MissingVideo { fingerprint, sources }
        })
        .collect())
}

/// How [`remove`] finishes.
#[derive(Debug, Clone, Default)]
pub struct RemoveOptions {
    /// Make the removal final on disk: compact the tables, delete their older versions and
    /// rebuild the affected library indexes. Only while no other process uses the store.
    pub purge: bool,
}

/// What [`remove`] did.
#[derive(Debug, Clone, Serialize)]
pub struct RemoveReport {
    pub removed: Vec<RemovedVideo>,
    /// Rows deleted, all videos together.
    pub rows: RowsRemoved,
    pub purged: bool,
    /// The library indexes refreshed (one per model that had a removed video), by model key.
    pub indexes: BTreeMap<String, RefreshReport>,
}

/// One fingerprint's removal.
#[derive(Debug, Clone, Serialize)]
pub struct RemovedVideo {
    pub fingerprint: Fingerprint,
    /// The models it was stored for (empty: only rows an interrupted write left were removed,
    /// or nothing at all: see `rows`).
    pub models: Vec<String>,
    /// What the complete record named as its source (the path or URL first ingested).
    pub source: Option<String>,
    pub sources: Vec<String>,
    pub rows: RowsRemoved,
}

impl From<Forgotten> for RemovedVideo {
    fn from(f: Forgotten) -> Self {
        Self {
            fingerprint: f.fingerprint,
            models: f.records.iter().map(|r| r.model_key.clone()).collect(),
            source: f.records.first().map(|r| r.source.clone()),
            sources: f.sources,
            rows: f.rows,
        }
    }
}

/// Removes `videos` from the store (every model), then refreshes the library indexes under
/// `root` of the models they were stored for (an index is never created here).
pub async fn remove(
    store: &Store,
    root: &Path,
    videos: &BTreeSet<Fingerprint>,
    opts: &RemoveOptions,
    progress: &ProgressHandle,
) -> Result<RemoveReport, LibraryError> {
    progress.set_length(videos.len() as u64);
    let mut removed = Vec::with_capacity(videos.len());
    let mut rows = RowsRemoved::default();
    for fp in videos {
        let f = store.forget_video(fp).await?;
        tracing::info!(video = %fp, models = f.records.len(), rows = f.rows.total(), "removed");
        rows += f.rows;
        removed.push(RemovedVideo::from(f));
        progress.inc(1);
    }
    if opts.purge {
        store.purge().await?;
    }
    let models: BTreeSet<&String> = removed.iter().flat_map(|r| &r.models).collect();
    let refresh_opts = RefreshOptions { rebuild: opts.purge, create: false, ..RefreshOptions::default() };
    let mut indexes = BTreeMap::new();
    for model in models {
        let report = refresh(store, model, root, &refresh_opts, progress).await?;
        if report.generation.is_some() {
            indexes.insert(model.clone(), report);
        }
    }
    Ok(RemoveReport { removed, rows, purged: opts.purge, indexes })
}
