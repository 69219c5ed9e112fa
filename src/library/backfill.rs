//! `chronoseek store cuts`: frame-precise cuts for videos stored before they were looked for
//! (store schema 4). Their shot boundaries lie midway between samples until then. Each video
//! is decoded once from its local file (no model: decoding alone, a fraction of an ingest's
//! cost) and every model's record of it gets the cuts through [`Store::put_cuts`], the
//! ingest's own crash-safe write. Re-marked videos have new ingest ids, so the library
//! indexes of the models touched are refreshed afterwards (their old entries dead, the same
//! vectors inserted again). A video known only by an http(s) URL (ingested by URL, or its file
//! gone) is downloaded again when the caller hands over a fetcher, and used only if the URL
//! still serves the same bytes (the fingerprint says so).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{LibraryError, RefreshOptions, RefreshReport, refresh};
use crate::fingerprint::Fingerprint;
use crate::index::{Store, StoreError, VideoRecord};
use crate::ingest::{Fetcher, MediaTrust, SamplerOptions, VideoSource};
use crate::progress::ProgressHandle;

/// Where a video's bytes were read from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A local file that still holds the stored bytes.
    File(PathBuf),
    /// A URL it was ingested from, downloaded again.
    Url(String),
}

/// What happened to one video without cuts.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Its bytes were decoded: `cuts` hard cuts (possibly none), written unless a dry run.
    Found { from: Origin, cuts: usize },
    /// No local file still holds its bytes (moved, changed, or known only by URL), and no URL
    /// was downloaded (none known, or no fetcher given).
    NoLocalFile,
    /// The URL it was ingested from now serves other bytes.
    Changed { url: String },
    /// The bytes could not be fetched or decoded; the reason was logged.
    Unreadable { from: Origin },
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
/// under `limits` or, with `download`, from an http(s) URL it was ingested from; `dry_run`
/// decodes and reports but writes nothing.
pub async fn backfill_cuts(
    store: &Store,
    root: &Path,
    limits: &SamplerOptions,
    download: Option<&Fetcher>,
    dry_run: bool,
    progress: &ProgressHandle,
) -> Result<BackfillReport, LibraryError> {
    let uncut = store.videos_without_cuts().await?;
    let mut by_video: BTreeMap<Fingerprint, Vec<VideoRecord>> = BTreeMap::new();
    for r in uncut {
        by_video.entry(r.fingerprint).or_default().push(r);
    }
    let fingerprints: Vec<Fingerprint> = by_video.keys().copied().collect();
    let sources = store.sources_of(&fingerprints).await?;
    let local = super::names::still_valid(&sources);
    progress.set_length(fingerprints.len() as u64);
    let mut report = BackfillReport { dry_run, ..BackfillReport::default() };
    let mut touched = std::collections::BTreeSet::new();
    for (fp, records) in by_video {
        let models = records.iter().map(|r| r.model_key.clone()).collect();
        let found = match (local.get(&fp), download) {
            (Some(path), _) => decode(Origin::File(path.clone()), path.clone(), limits.clone()).await?,
            (None, None) => Err(Outcome::NoLocalFile),
            (None, Some(fetcher)) => {
                let url = sources
                    .iter()
                    .filter(|s| s.fingerprint == fp)
                    .find_map(|s| VideoSource::parse(&s.source).ok().filter(|v| matches!(v, VideoSource::Http(_))));
                match url {
                    None => Err(Outcome::NoLocalFile),
                    Some(source) => downloaded(fetcher, &source, fp, limits).await?,
                }
            }
        };
        let outcome = match found {
            Err(outcome) => outcome,
            Ok((from, cuts)) => {
                if !dry_run {
                    for r in &records {
                        match store.put_cuts(r, cuts.clone(), crate::ingest::unique_id()).await {
                            Ok(_) => {
                                touched.insert(r.model_key.clone());
                            }
                            // Removed meanwhile (`store remove` in another process): nothing
                            // to give the cuts to, and nothing written.
                            Err(StoreError::Removed(_)) => {
                                tracing::info!(video = %fp, model = r.model_key, "removed meanwhile");
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
                tracing::info!(video = %fp, cuts = cuts.len(), "cuts found");
                Outcome::Found { from, cuts: cuts.len() }
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

/// The cuts of the file at `path` (read from `from`), or the outcome that says why not.
async fn decode(
    from: Origin,
    path: PathBuf,
    limits: SamplerOptions,
) -> Result<Result<(Origin, Vec<i64>), Outcome>, LibraryError> {
    let decoded = tokio::task::spawn_blocking(move || crate::ingest::find_cuts(&path, &limits)).await?;
    Ok(match decoded {
        Ok(cuts) => Ok((from, cuts)),
        Err(e) => {
            tracing::warn!(from = ?from, error = %e, "cannot decode the video for its cuts");
            Err(Outcome::Unreadable { from })
        }
    })
}

/// Downloads `source` again and decodes it as network media, if it still holds video `fp`.
async fn downloaded(
    fetcher: &Fetcher,
    source: &VideoSource,
    fp: Fingerprint,
    limits: &SamplerOptions,
) -> Result<Result<(Origin, Vec<i64>), Outcome>, LibraryError> {
    let url = source.to_string();
    let local = match fetcher.fetch(source).await {
        Ok(local) => local,
        Err(e) => {
            tracing::warn!(url, error = %e, "cannot download the video for its cuts");
            return Ok(Err(Outcome::Unreadable { from: Origin::Url(url) }));
        }
    };
    if local.fingerprint != fp {
        tracing::warn!(url, video = %fp, now = %local.fingerprint, "the URL serves other bytes now");
        return Ok(Err(Outcome::Changed { url }));
    }
    let limits = SamplerOptions { trust: MediaTrust::Network, ..limits.clone() };
    // `local` keeps the downloaded file until the decode is done.
    let result = decode(Origin::Url(url), local.path.clone(), limits).await;
    drop(local);
    result
}
