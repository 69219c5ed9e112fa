//! Persistent storage: the LanceDB store, its Arrow schemas (declared in `migrations/`) and the
//! migration runner.

mod migrations;
mod records;
mod retry;
mod store;
pub mod vectors;

pub use migrations::{current_version, latest_version};
pub use records::{FrameMatrix, Heard, SpokenSegment, Transcript, VideoRecord};
pub(crate) use store::timestamp_now_ms;
pub use store::{
    COMPACT_EVERY, COMPACT_SLACK, COMPACT_TARGET_ROWS, Forgotten, LOCK_PATIENCE, READ_CONSISTENCY, RowsRemoved,
    SourceRecord, SpokenText, Store, TextEmbeddingRow, WRITE_LOCK_FILE, beside_remote_store,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Lance(#[from] lancedb::Error),
    #[error("store: arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    #[error("store migration: {0}")]
    Migration(String),
    /// A newer chronoseek wrote this store; this build would misread it, so it refuses.
    #[error("store schema version {found} is newer than this build supports ({supported}); upgrade chronoseek")]
    SchemaTooNew { found: u32, supported: u32 },
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    /// The record's frames row is gone: a newer write of the same video replaced it after the
    /// record was read (re-read the record), or the store was damaged.
    #[error("video {0} has no frames row")]
    MissingFrames(crate::fingerprint::Fingerprint),
    /// A change to a stored video found it gone: removed (`store remove`) after the caller read
    /// its record. Nothing was written.
    #[error("video {0} is no longer stored")]
    Removed(crate::fingerprint::Fingerprint),
    /// The store's write lock (`<store>/write.lock`) could not be taken.
    #[error("store: cannot lock {path}: {source}")]
    Lock {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("store: cannot create {path}: {source}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
}
