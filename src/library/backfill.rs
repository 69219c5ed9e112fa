//! `chronoseek store cuts`: frame-precise cuts for videos stored before they were looked for
//! (store schema 4). Their shot boundaries lie midway between samples until then. Each video
//! is decoded once from its local file (no model: decoding alone, a fraction of an ingest's
//! cost) and every model's record of it gets the cuts through [`Store::put_cuts`], the
//! ingest's own crash-safe write. Re-marked videos have new ingest ids, so the library
//! indexes of the models touched are refreshed afterwards (their old entries dead, the same
//! vectors inserted again).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{LibraryError, RefreshOptions, RefreshReport, refresh};
use crate::fingerprint::Fingerprint;
use crate::index::{Store, StoreError, VideoRecord};
use crate::ingest::SamplerOptions;
use crate::progress::ProgressHandle;

/// What happened to one video without cuts.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Its file was decoded: `cuts` hard cuts (possibly none), written unless a dry run.
    Found { path: PathBuf, cuts: usize },
    /// No local file still holds its bytes (moved, changed, or known only by URL).
    NoLocalFile,
    /// The file could not be decoded; the reason was logged.
    Unreadable { path: PathBuf },
}

#[derive(Debug, Clone, PartialEq)]
pub struct VideoCuts {
    pub fingerprint: Fingerprint,
    /// The models whose records of it lacked cuts.
    pub models: Vec<String>,
    pub outcome: Outcome,
}

#[derive(Debug, Default)]
pub struct BackfillReport {
    pub videos: Vec<VideoCuts>,
    pub dry_run: bool,
    /// The library indexes refreshed, by model key (none in a dry run).
    pub indexes: BTreeMap<String, RefreshReport>,
}

/// Finds and stores the cuts of every stored video that has none, from its local file decoded
/// under `limits`; `dry_run` decodes and reports but writes nothing.
pub async fn backfill_cuts(
    store: &Store,
    root: &Path,
    limits: &SamplerOptions,
    dry_run: bool,
    progress: &ProgressHandle,
) -> Result<BackfillReport, LibraryError> {
    let uncut = store.videos_without_cuts().await?;
    let mut by_video: BTreeMap<Fingerprint, Vec<VideoRecord>> = BTreeMap::new();
    for r in uncut {
        by_video.entry(r.fingerprint).or_default().push(r);
    }
    let fingerprints: Vec<Fingerprint> = by_video.keys().copied().collect();
    let local = super::names::local_files_of(store, &fingerprints).await?;
    progress.set_length(fingerprints.len() as u64);
    let mut report = BackfillReport { dry_run, ..BackfillReport::default() };
    let mut touched = std::collections::BTreeSet::new();
    for (fp, records) in by_video {
        let models = records.iter().map(|r| r.model_key.clone()).collect();
        let outcome = match local.get(&fp) {
            None => Outcome::NoLocalFile,
            Some(path) => {
                let decoded = tokio::task::spawn_blocking({
                    let (path, limits) = (path.clone(), limits.clone());
                    move || crate::ingest::find_cuts(&path, &limits)
                })
                .await?;
                match decoded {
                    Err(e) => {
                        tracing::warn!(video = %path.display(), error = %e, "cannot decode the file for its cuts");
                        Outcome::Unreadable { path: path.clone() }
                    }
                    Ok(cuts) => {
                        if !dry_run {
                            for r in &records {
                                match store.put_cuts(r, cuts.clone(), crate::ingest::unique_id()).await {
                                    Ok(_) => {
                                        touched.insert(r.model_key.clone());
                                    }
                                    // Re-ingested meanwhile by another process: its write found
                                    // the cuts itself.
                                    Err(StoreError::MissingFrames(_)) => {
                                        tracing::info!(video = %fp, model = r.model_key, "written again meanwhile");
                                    }
                                    Err(e) => return Err(e.into()),
                                }
                            }
                        }
                        tracing::info!(video = %fp, cuts = cuts.len(), "cuts found");
                        Outcome::Found { path: path.clone(), cuts: cuts.len() }
                    }
                }
            }
        };
        report.videos.push(VideoCuts { fingerprint: fp, models, outcome });
        progress.inc(1);
    }
    // An index is never created here, only kept in step.
    let opts = RefreshOptions { create: false, ..RefreshOptions::default() };
    for model in touched {
        let r = refresh(store, &model, root, &opts, progress).await?;
        if r.generation.is_some() {
            report.indexes.insert(model, r);
        }
    }
    Ok(report)
}
