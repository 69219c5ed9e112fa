//! Library-wide moment retrieval: "where in my library does the dog catch the frisbee?" over
//! every video the store holds for the current model, asked in words, with a picture, or with
//! a moment already in the library ([`probe`]: each is one query vector in CLIP's shared space).
//!
//! Two stages. An approximate stage ([`index`]: an HNSW graph over per-frame or per-shot
//! vectors, `crates/ann`) proposes candidate videos; the exact per-video path the single-video
//! search already uses ([`crate::query::Engine::timeline`] and the segmenter) turns each
//! candidate into intervals, ranked across videos by the cosine of the best frame inside each
//! interval (the min-max normalised curve the segmenters read is comparable only within one
//! video).
//!
//! The graph is a cache of the store, never the truth: each search checks the store's current
//! videos, filters out graph entries whose video was deleted or re-ingested (its `ingest_id`
//! changed) and scans exactly the videos the graph does not hold yet, so a new video is
//! searchable the moment its completion marker lands, before any rebuild.

pub mod backfill;
pub mod bench;
pub mod clip;
pub mod clips;
pub mod copies;
mod index;
mod layout;
pub mod names;
pub mod period;
pub mod playlist;
pub mod probe;
pub mod reel;
pub mod remove;
pub mod said;
mod search;
pub mod subtitles;
mod units;

pub use index::{LoadedIndex, RefreshOptions, RefreshReport, Staleness, current_videos, refresh, staleness};
pub use layout::{IndexDir, IndexParams, IndexedVideo, Manifest, default_root};
pub use probe::{Picture, PictureError, Probe};
pub use search::{
    AnnCandidates, AnnHit, Candidates, Copies, Library, LibraryAnswer, LibraryHit, LibraryQuery, LibraryStats,
    LibraryTopK, MAX_LIBRARY_TOP_K,
};
pub use units::{IndexUnit, unit_vectors};

use std::path::PathBuf;

use crate::fingerprint::Fingerprint;
use crate::index::StoreError;
use crate::protocol::ErrorCode;
use crate::query::SearchError;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("library index: {0}")]
    Ann(#[from] chronoseek_ann::AnnError),
    #[error("library index {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("library index manifest {path}: {source}")]
    Manifest { path: PathBuf, source: serde_json::Error },
    #[error("library index {path} was built for model {found}, not {expected}")]
    WrongModel { path: PathBuf, found: String, expected: String },
    #[error("no video with fingerprint {0} in the store for this model")]
    UnknownVideo(Fingerprint),
    /// A "moments like this one" probe names a time the video does not have.
    #[error("{at_s} s is not a moment of video {video} ({duration_s:.1} s long)")]
    MomentOutside { video: Fingerprint, at_s: f64, duration_s: f64 },
    /// A query picture that cannot be read or decoded.
    #[error(transparent)]
    Picture(#[from] PictureError),
    /// A file named to the library could not be read.
    #[error(transparent)]
    Fetch(#[from] crate::ingest::FetchError),
    #[error("index worker failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl LibraryError {
    /// The protocol code this failure is reported with (CLI exit codes, web API envelopes).
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Search(e) => e.code(),
            Self::UnknownVideo(_) => ErrorCode::InvalidRequest,
            Self::MomentOutside { .. } => ErrorCode::QueryInvalid,
            Self::Picture(PictureError::Read { .. }) => ErrorCode::InvalidRequest,
            Self::Picture(_) => ErrorCode::QueryInvalid,
            Self::Fetch(_) => ErrorCode::VideoFetchFailed,
            _ => ErrorCode::InternalError,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}
