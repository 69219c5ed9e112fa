//! The LanceDB store: `videos` (completion markers), `frames` (one row per video and model
//! holding the whole embedding matrix), `transcripts` (one row per video and model holding its
//! speech segments and their text embeddings), `text_embeddings` and `sources` (path/URL ->
//! fingerprint with cache validators).
//!
//! One row per video for frames makes a video's write atomic (a crash cannot leave half a
//! matrix) and its read a single-row look-up through the BTree index on `fingerprint`, so
//! reading one video never scans the others.

use std::sync::Arc;

use arrow_array::{
    Array, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray,
    cast::AsArray,
    types::{Float32Type, Int64Type},
};
use futures::TryStreamExt;
use lancedb::{
    Connection, Table,
    index::{Index, scalar::BTreeIndexBuilder},
    query::{ExecutableQuery, QueryBase, Select},
    table::{CompactionOptions, OptimizeAction, OptimizeOptions},
};

use super::retry::retrying;
use super::{
    FrameMatrix, Heard, SpokenSegment, StoreError, Transcript, VideoRecord,
    migrations::{declared_schema, migrate},
};
use crate::fingerprint::Fingerprint;

/// A batch for `table` whose columns are matched to the migration's schema by name, so a
/// reordered migration can never silently swap two columns of one type; a missing or unknown
/// column is an error.
fn batch_by_name(table: &str, columns: Vec<(&str, arrow_array::ArrayRef)>) -> Result<RecordBatch, StoreError> {
    let schema = declared_schema(table)?;
    let mut by_name: std::collections::HashMap<&str, arrow_array::ArrayRef> = columns.into_iter().collect();
    let mut ordered = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column = by_name
            .remove(field.name().as_str())
            .ok_or_else(|| StoreError::Corrupt(format!("{table}: no value for column '{}'", field.name())))?;
        ordered.push(column);
    }
    if let Some(extra) = by_name.keys().next() {
        return Err(StoreError::Corrupt(format!("{table}: column '{extra}' is not in the schema")));
    }
    Ok(RecordBatch::try_new(schema, ordered)?)
}

/// How stale a read may be: another process's write is seen within this interval.
pub const READ_CONSISTENCY: std::time::Duration = std::time::Duration::from_secs(1);

/// The rows of `table` matching `filter` (all rows: `None`), only `columns` when given, at most
/// `limit`: every read of the store is this one shape.
async fn rows(
    table: &Table,
    filter: Option<String>,
    columns: Option<&[&str]>,
    limit: Option<usize>,
) -> Result<Vec<RecordBatch>, StoreError> {
    let mut q = table.query();
    if let Some(f) = filter {
        q = q.only_if(f);
    }
    if let Some(c) = columns {
        q = q.select(Select::columns(c));
    }
    if let Some(n) = limit {
        q = q.limit(n);
    }
    Ok(q.execute().await?.try_collect().await?)
}

/// The one row a marker names (`filter` selects it). Each table of a handle looks for newer
/// versions on its own schedule ([`READ_CONSISTENCY`]), so the marker may come from a newer
/// `videos` version than this handle's view of `table`: when the view has no such row, the
/// newest version is read before the row counts as missing.
async fn named_row(table: &Table, filter: String, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>, StoreError> {
    let batches = rows(table, Some(filter.clone()), columns, Some(1)).await?;
    if batches.iter().any(|b| b.num_rows() > 0) {
        return Ok(batches);
    }
    table.checkout_latest().await?;
    rows(table, Some(filter), columns, Some(1)).await
}

/// Deletes the rows of `table` matching `filter` (commit conflicts retried); how many.
async fn delete_rows(table: &Table, what: &str, filter: &str) -> Result<u64, StoreError> {
    Ok(retrying(what, || table.delete(filter)).await?.num_deleted_rows)
}

/// Quotes a string for a Lance SQL filter.
fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn now_ms() -> i64 {
    crate::clock::now_ms() as i64
}

/// Video writes of one store handle between two [`Store::compact_small_tables`] (the CLI's
/// `ingest` also compacts at the end of a run).
pub const COMPACT_EVERY: u64 = 64;

/// Rows a fragment of the small tables holds after [`Store::compact_small_tables`].
pub const COMPACT_TARGET_ROWS: usize = 1024;
/// Fragments a small table may have beyond what full ones would need before it is compacted.
pub const COMPACT_SLACK: usize = 32;

/// A transcript's words: `(start_ms, end_ms, text)` per segment ([`Store::spoken_texts`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SpokenText {
    pub fingerprint: Fingerprint,
    pub transcript_id: String,
    /// The language Whisper detected (`en`, `de`, ...), when it said.
    pub language: Option<String>,
    pub segments: Vec<(i64, i64, String)>,
}

/// A cached mapping from a path or URL to the fingerprint of its bytes, valid while
/// `validator` (size and mtime for files; ETag, Last-Modified and length for HTTP) is unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    pub source: String,
    pub validator: String,
    pub fingerprint: Fingerprint,
}

/// What [`Store::forget_video`] removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Forgotten {
    pub fingerprint: Fingerprint,
    /// The complete records the video had (the newest per model): empty when it had none,
    /// only rows a crash left behind.
    pub records: Vec<VideoRecord>,
    /// The paths and URLs that were recorded as leading to it (`file://` URLs for paths).
    pub sources: Vec<String>,
    pub rows: RowsRemoved,
}

/// Rows deleted per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RowsRemoved {
    pub videos: u64,
    pub frames: u64,
    pub transcripts: u64,
    pub sources: u64,
}

impl RowsRemoved {
    pub fn total(&self) -> u64 {
        self.videos + self.frames + self.transcripts + self.sources
    }
}

impl std::ops::AddAssign for RowsRemoved {
    fn add_assign(&mut self, other: Self) {
        self.videos += other.videos;
        self.frames += other.frames;
        self.transcripts += other.transcripts;
        self.sources += other.sources;
    }
}

/// One cached query embedding as the `text_embeddings` table stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct TextEmbeddingRow {
    pub key: String,
    pub model_key: String,
    pub query: String,
    pub embedding: Vec<f32>,
}

#[derive(Clone)]
pub struct Store {
    uri: String,
    videos: Table,
    frames: Table,
    transcripts: Table,
    texts: Table,
    sources: Table,
    schema_version: u32,
    /// Videos written through this store (and its clones): every [`COMPACT_EVERY`] writes, the
    /// small tables are compacted, so a long-running miner or watcher never fragments them.
    writes: Arc<std::sync::atomic::AtomicU64>,
    /// Whether the store is a folder on this machine (not object storage).
    local: bool,
    /// The write lock's file (see [`Store::write_lock`]).
    lock_path: Arc<std::path::Path>,
}

/// `<user cache>/chronoseek/<kind>/<16 hex digits of blake3(store_uri)>`: where this machine
/// keeps what belongs beside an object store that cannot live in it (the library index, the
/// write lock). The temp folder stands in for a missing cache folder.
pub fn beside_remote_store(store_uri: &str, kind: &str) -> std::path::PathBuf {
    let key = blake3::hash(store_uri.as_bytes()).to_hex();
    dirs::cache_dir().unwrap_or_else(std::env::temp_dir).join("chronoseek").join(kind).join(&key.as_str()[..16])
}

/// Where a store's write lock lives: `<store>/write.lock` for a local folder; for an object
/// store, `write.lock` in its folder [`beside_remote_store`], which every process on this
/// machine writing that store shares. (A lock file that cannot be opened fails the write that
/// wants it, as `StoreError::Lock`.)
fn lock_path(uri: &str) -> Arc<std::path::Path> {
    if !uri.contains("://") {
        return Arc::from(std::path::Path::new(uri).join(WRITE_LOCK_FILE));
    }
    let dir = beside_remote_store(uri, "store-locks");
    // Made here, once per handle; a write that cannot open the file says why.
    let _ = std::fs::create_dir_all(&dir);
    Arc::from(dir.join(WRITE_LOCK_FILE))
}

/// Held while a write runs (released on drop): an OS lock on the store's lock file, so the
/// writes of every process on this machine run one at a time.
struct WriteLock {
    _file: std::fs::File,
}

/// The file name of a local store's write lock.
pub const WRITE_LOCK_FILE: &str = "write.lock";

/// How long a writer waits for the store's write lock before it says so (every write holds
/// it for one commit's cleanup, tens of milliseconds; `store remove --purge` far longer).
pub const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Writes this process's pid and program name into the held lock file (never its arguments:
/// a miner's may hold a secret URI).
fn write_holder(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Seek, Write};
    let program = std::env::current_exe().ok().and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    file.set_len(0)?;
    file.rewind()?;
    writeln!(file, "pid {} ({})", std::process::id(), program.as_deref().unwrap_or("unknown program"))
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("uri", &self.uri).field("schema_version", &self.schema_version).finish()
    }
}

impl Store {
    /// Opens (creating and migrating if needed) the store at a local folder or object-store URI
    /// (`s3://bucket/prefix`: configured the standard way, from `AWS_ENDPOINT_URL`,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ALLOW_HTTP`, ...).
    pub async fn open(uri: &str) -> Result<Self, StoreError> {
        Self::open_with(uri, std::iter::empty::<(String, String)>()).await
    }

    /// [`Store::open`] with LanceDB storage options (`aws_endpoint`, `aws_region`,
    /// `allow_http`, ...), which take precedence over the environment.
    pub async fn open_with(
        uri: &str,
        storage_options: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>,
    ) -> Result<Self, StoreError> {
        if !uri.contains("://") {
            std::fs::create_dir_all(uri).map_err(|source| StoreError::CreateDir { path: uri.to_string(), source })?;
        }
        // Several miners may share one store (e.g. on object storage): reads look for other
        // processes' writes at most this stale (`READ_CONSISTENCY`), which keeps the
        // cached-search path free of a manifest check on every read.
        let conn: Connection = lancedb::connect(uri)
            .storage_options(storage_options)
            .read_consistency_interval(READ_CONSISTENCY)
            .execute()
            .await?;
        let schema_version = migrate(&conn).await?;
        let open = |name: &'static str| {
            let conn = conn.clone();
            async move { conn.open_table(name).execute().await }
        };
        Ok(Self {
            uri: uri.to_string(),
            videos: open("videos").await?,
            frames: open("frames").await?,
            transcripts: open("transcripts").await?,
            texts: open("text_embeddings").await?,
            sources: open("sources").await?,
            schema_version,
            writes: Default::default(),
            local: !uri.contains("://"),
            lock_path: lock_path(uri),
        })
    }

    /// Waits for the store's write lock. Every write of a video's rows takes it — an ingest's
    /// frames, transcript and marker with their cleanup, a change to a stored video, a removal
    /// (not the query-embedding and source caches, whose rows stand alone) — so a change made
    /// to a stored video (a transcript added, a recording date, cuts) reads the video's newest
    /// record and writes its successor with no other write in between: it can never name rows
    /// that another writer's cleanup removes, nor bring back a removed video. Readers never
    /// lock. For an object store the lock is a file in this user's cache folder: the
    /// processes of this machine share it, those of other machines cannot (there changes
    /// still start from the newest record, read just before they write).
    /// A writer that waits longer than [`LOCK_PATIENCE`] says so, with who holds the lock (the
    /// holder writes its pid and program name into the file).
    async fn write_lock(&self) -> Result<WriteLock, StoreError> {
        let path = self.lock_path.clone();
        let shown = path.display().to_string();
        let lock_error = |path: &std::path::Path, source| StoreError::Lock { path: path.display().to_string(), source };
        let mut waiting = tokio::task::spawn_blocking(move || {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| lock_error(&path, e))?;
            file.lock().map_err(|e| lock_error(&path, e))?;
            // Who holds it, for a writer that waits (`write_lock_holder`); only speed of
            // diagnosis is at stake, so a failure here is ignored.
            let _ = write_holder(&mut file);
            Ok(WriteLock { _file: file })
        });
        let joined = match tokio::time::timeout(LOCK_PATIENCE, &mut waiting).await {
            Ok(joined) => joined,
            Err(_) => {
                let holder = self.write_lock_holder().unwrap_or_default();
                tracing::warn!(lock = %shown, holder = %holder, "waiting for the store's write lock");
                waiting.await
            }
        };
        joined.map_err(|e| StoreError::Lock { path: shown, source: std::io::Error::other(e) })?
    }

    /// Who holds the store's write lock now, as the holder wrote it (`pid N (program)`):
    /// `None` when nobody does (`chronoseek doctor`).
    pub fn write_lock_holder(&self) -> Option<String> {
        let mut file = std::fs::File::open(&self.lock_path).ok()?;
        match file.try_lock() {
            Ok(()) => None,
            Err(std::fs::TryLockError::WouldBlock) => {
                use std::io::Read;
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                Some(if holder.is_empty() { "another process".to_string() } else { holder.to_string() })
            }
            Err(std::fs::TryLockError::Error(e)) => Some(format!("unknown ({e})")),
        }
    }

    /// The newest complete record of a video for a model as the store holds it now (this
    /// handle's view of `videos` brought up to date first): what a change to a stored video
    /// starts from, under the write lock.
    async fn newest_record(&self, fp: &Fingerprint, model_key: &str) -> Result<VideoRecord, StoreError> {
        self.videos.checkout_latest().await?;
        self.video(fp, model_key).await?.ok_or(StoreError::Removed(*fp))
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The store's folder, when it is on this machine's file system (not object storage).
    pub fn local_folder(&self) -> Option<&std::path::Path> {
        self.local.then(|| std::path::Path::new(&self.uri))
    }

    /// The file of the store's write lock (in the store's folder, or for an object store in
    /// this user's cache folder).
    pub fn write_lock_path(&self) -> &std::path::Path {
        &self.lock_path
    }
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }

    /// The complete record of a video for a model, if it has one.
    pub async fn video(&self, fp: &Fingerprint, model_key: &str) -> Result<Option<VideoRecord>, StoreError> {
        let filter = format!(
            "fingerprint = {} AND model_key = {} AND state = 'complete'",
            sql_str(&fp.to_hex()),
            sql_str(model_key)
        );
        let batches = rows(&self.videos, Some(filter), None, None).await?;
        let mut records = Vec::new();
        for b in &batches {
            records.extend(video_records(b)?);
        }
        // Two complete rows can exist only if two writers raced; the newest wins.
        Ok(records.into_iter().max_by_key(|r| r.created_at_ms))
    }

    /// Every complete video (newest first).
    pub async fn list_videos(&self) -> Result<Vec<VideoRecord>, StoreError> {
        let batches = rows(&self.videos, Some("state = 'complete'".into()), None, None).await?;
        let mut out = Vec::new();
        for b in &batches {
            out.extend(video_records(b)?);
        }
        out.sort_by_key(|v| std::cmp::Reverse(v.created_at_ms));
        // A transcript added a moment ago may still have its superseded marker beside the
        // new one: the newest stands for the video.
        let mut seen = std::collections::HashSet::new();
        out.retain(|v| seen.insert((v.fingerprint, v.model_key.clone())));
        Ok(out)
    }

    /// Every complete video whose frames were stored before cuts were looked for (schema 4),
    /// newest first: what `chronoseek store cuts` works through. Reads the frames rows' ids
    /// only, never their embeddings.
    pub async fn videos_without_cuts(&self) -> Result<Vec<VideoRecord>, StoreError> {
        let batches = rows(&self.frames, Some("cuts_us IS NULL".into()), Some(&["ingest_id"]), None).await?;
        let mut uncut = std::collections::HashSet::new();
        for b in &batches {
            uncut.extend(col::<StringArray>(b, "ingest_id")?.iter().flatten().map(str::to_string));
        }
        let mut videos = self.list_videos().await?;
        videos.retain(|v| uncut.contains(&v.ingest_id));
        Ok(videos)
    }

    /// Gives a complete video the cuts found in its file, embeddings and transcript untouched:
    /// its frames row written again with them under `ingest_id` (new, unique), then a new
    /// marker naming it (the newest marker wins), then the superseded rows removed — the write
    /// an ingest makes, so a crash at any step leaves the old record or the new one, each
    /// whole. Cuts belong to the file, so they are given to the video's newest record, read
    /// under the write lock: a transcript or date another process added since `record` was read
    /// is kept. Returns the new record; [`StoreError::Removed`] if the video is no longer
    /// stored for `record`'s model.
    pub async fn put_cuts(
        &self,
        record: &VideoRecord,
        cuts_us: Vec<i64>,
        ingest_id: String,
    ) -> Result<VideoRecord, StoreError> {
        if !cuts_us.is_sorted() {
            return Err(StoreError::Corrupt(format!("video {}: cut times out of order", record.fingerprint)));
        }
        let lock = self.write_lock().await?;
        let newest = self.newest_record(&record.fingerprint, &record.model_key).await?;
        if ingest_id == newest.ingest_id {
            return Err(StoreError::Corrupt(format!("video {}: cuts need a new ingest id", record.fingerprint)));
        }
        let mut frames = self.load_frames(&newest).await?;
        frames.cuts_us = Some(cuts_us);
        let updated =
            VideoRecord { ingest_id, created_at_ms: now_ms().max(newest.created_at_ms + 1), ..newest.clone() };
        self.write_videos_locked(&[(&updated, &frames)], &[]).await?;
        drop(lock);
        self.after_write().await;
        Ok(updated)
    }

    /// The embedding matrix of a complete video.
    pub async fn load_frames(&self, video: &VideoRecord) -> Result<FrameMatrix, StoreError> {
        let filter = format!(
            "fingerprint = {} AND ingest_id = {}",
            sql_str(&video.fingerprint.to_hex()),
            sql_str(&video.ingest_id)
        );
        let batches = named_row(&self.frames, filter, Some(&["dim", "timestamps_ms", "embeddings", "cuts_us"])).await?;
        let batch = batches.iter().find(|b| b.num_rows() > 0).ok_or(StoreError::MissingFrames(video.fingerprint))?;
        let dim = col::<Int32Array>(batch, "dim")?.value(0) as usize;
        let ts = batch
            .column_by_name("timestamps_ms")
            .ok_or_else(|| StoreError::Corrupt("frames.timestamps_ms missing".into()))?
            .as_list::<i32>()
            .value(0);
        let emb = batch
            .column_by_name("embeddings")
            .ok_or_else(|| StoreError::Corrupt("frames.embeddings missing".into()))?
            .as_list::<i32>()
            .value(0);
        let timestamps_ms = ts.as_primitive::<Int64Type>().values().to_vec();
        let data = emb.as_primitive::<Float32Type>().values().to_vec();
        // Null in rows written before cuts were looked for.
        let cuts = batch
            .column_by_name("cuts_us")
            .ok_or_else(|| StoreError::Corrupt("frames.cuts_us missing".into()))?
            .as_list::<i32>();
        let cuts_us = (!cuts.is_null(0)).then(|| cuts.value(0).as_primitive::<Int64Type>().values().to_vec());
        if dim == 0 || data.len() != timestamps_ms.len() * dim {
            return Err(StoreError::Corrupt(format!(
                "video {}: {} floats for {} frames of width {dim}",
                video.fingerprint,
                data.len(),
                timestamps_ms.len()
            )));
        }
        if cuts_us.as_ref().is_some_and(|c| !c.is_sorted()) {
            return Err(StoreError::Corrupt(format!("video {}: cut times out of order", video.fingerprint)));
        }
        Ok(FrameMatrix { dim, timestamps_ms, data, cuts_us })
    }

    /// Writes a video's frames, then its completion marker. Rows of an earlier interrupted
    /// ingest of the same video and model are removed first; until the marker lands nothing of
    /// this write is visible to [`Store::video`].
    pub async fn put_video(&self, record: &VideoRecord, frames: &FrameMatrix) -> Result<(), StoreError> {
        self.write_videos(&[(record, frames)], &[]).await
    }

    /// [`Store::put_video`] with the video's transcript, written before the marker, which
    /// names it (`record.transcript_id` must be `transcript.transcript_id`).
    pub async fn put_video_with_transcript(
        &self,
        record: &VideoRecord,
        frames: &FrameMatrix,
        transcript: &Transcript,
    ) -> Result<(), StoreError> {
        if record.transcript_id.as_deref() != Some(transcript.transcript_id.as_str()) {
            return Err(StoreError::Corrupt(format!(
                "video {}: the record names transcript {:?}, not {}",
                record.fingerprint, record.transcript_id, transcript.transcript_id
            )));
        }
        let stamped = Transcript { created_at_ms: record.created_at_ms, ..transcript.clone() };
        self.write_videos(&[(record, frames)], &[stamped]).await
    }

    /// [`Store::put_video`] for many videos in one write per table (bulk imports, benchmarks).
    pub async fn put_videos(&self, videos: &[(VideoRecord, FrameMatrix)]) -> Result<(), StoreError> {
        let refs: Vec<(&VideoRecord, &FrameMatrix)> = videos.iter().map(|(r, f)| (r, f)).collect();
        self.write_videos(&refs, &[]).await
    }

    /// Writes frames rows, transcripts, then the markers; then removes what these markers
    /// supersede. Every row a write makes carries the write's stamp (the record's
    /// `created_at_ms`), and the cleanup deletes only rows of the same video and model stamped
    /// *before* it that are not its own. So the rows of the newest marker are never deleted:
    /// a writer that deletes them has a later stamp, and its own marker, newer, has already
    /// landed (the cleanup runs after it). Several processes ingesting one video at once end
    /// with the newest marker whole; a reader that raced a cleanup re-reads the record.
    async fn write_videos(
        &self,
        videos: &[(&VideoRecord, &FrameMatrix)],
        transcripts: &[Transcript],
    ) -> Result<(), StoreError> {
        if videos.is_empty() {
            return Ok(());
        }
        {
            let _lock = self.write_lock().await?;
            self.write_videos_locked(videos, transcripts).await?;
        }
        self.after_write().await;
        Ok(())
    }

    /// [`Store::write_videos`] with the write lock already held.
    async fn write_videos_locked(
        &self,
        videos: &[(&VideoRecord, &FrameMatrix)],
        transcripts: &[Transcript],
    ) -> Result<(), StoreError> {
        let batch = batch_by_name(
            "frames",
            vec![
                (
                    "fingerprint",
                    Arc::new(StringArray::from_iter_values(videos.iter().map(|(r, _)| r.fingerprint.to_hex()))),
                ),
                (
                    "model_key",
                    Arc::new(StringArray::from_iter_values(videos.iter().map(|(r, _)| r.model_key.as_str()))),
                ),
                (
                    "ingest_id",
                    Arc::new(StringArray::from_iter_values(videos.iter().map(|(r, _)| r.ingest_id.as_str()))),
                ),
                ("dim", Arc::new(Int32Array::from_iter_values(videos.iter().map(|(_, f)| f.dim as i32)))),
                (
                    "timestamps_ms",
                    Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
                        videos.iter().map(|(_, f)| Some(f.timestamps_ms.iter().copied().map(Some))),
                    )),
                ),
                (
                    "embeddings",
                    Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
                        videos.iter().map(|(_, f)| Some(f.data.iter().copied().map(Some))),
                    )),
                ),
                ("written_at_ms", Arc::new(Int64Array::from_iter_values(videos.iter().map(|(r, _)| r.created_at_ms)))),
                (
                    "cuts_us",
                    Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
                        videos.iter().map(|(_, f)| f.cuts_us.as_ref().map(|c| c.iter().copied().map(Some))),
                    )),
                ),
            ],
        )?;
        retrying("write frames", || self.frames.add(batch.clone()).execute()).await?;
        if !transcripts.is_empty() {
            let batch = transcript_batch(transcripts)?;
            retrying("write transcripts", || self.transcripts.add(batch.clone()).execute()).await?;
        }
        // The markers, written last.
        let records: Vec<&VideoRecord> = videos.iter().map(|(r, _)| *r).collect();
        let markers = video_batch(&records)?;
        retrying("write markers", || self.videos.add(markers.clone()).execute()).await?;
        self.remove_superseded(&records).await
    }

    /// Upkeep after a video write, with the write lock released (neither changes what any
    /// read sees, so other writers need not wait for them): new rows folded into the BTree
    /// indices, and every [`COMPACT_EVERY`] writes the small tables compacted.
    async fn after_write(&self) {
        self.refresh_indices().await;
        let written = self.writes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if written.is_multiple_of(COMPACT_EVERY) {
            // Only speed is at stake: logged, never a failed write.
            match self.compact_small_tables().await {
                Ok(done) => tracing::debug!(?done, "small tables compacted"),
                Err(e) => tracing::warn!(error = %e, "small-table compaction failed"),
            }
        }
    }

    /// Deletes the rows `records` supersede: of the same video and model, stamped before the
    /// record, not its own (left by an interrupted ingest, or by an older writer).
    async fn remove_superseded(&self, records: &[&VideoRecord]) -> Result<(), StoreError> {
        for chunk in records.chunks(256) {
            let clause = |r: &VideoRecord, own: String, stamp: &str| {
                format!(
                    "(fingerprint = {} AND model_key = {} AND {own} AND {stamp} < {})",
                    sql_str(&r.fingerprint.to_hex()),
                    sql_str(&r.model_key),
                    r.created_at_ms
                )
            };
            let any = |clauses: Vec<String>| clauses.join(" OR ");
            // Rows from before write stamps existed have none: superseded as well.
            let frames = any(chunk
                .iter()
                .map(|r| clause(r, format!("ingest_id <> {}", sql_str(&r.ingest_id)), "coalesce(written_at_ms, 0)"))
                .collect());
            retrying("remove superseded frames", || self.frames.delete(frames.as_str())).await?;
            let transcripts = any(chunk
                .iter()
                .map(|r| {
                    let own = match &r.transcript_id {
                        Some(t) => format!("transcript_id <> {}", sql_str(t)),
                        None => "true".to_string(),
                    };
                    clause(r, own, "created_at_ms")
                })
                .collect());
            retrying("remove superseded transcripts", || self.transcripts.delete(transcripts.as_str())).await?;
            let markers = any(chunk.iter().map(|r| clause(r, "true".to_string(), "created_at_ms")).collect());
            retrying("remove superseded markers", || self.videos.delete(markers.as_str())).await?;
        }
        Ok(())
    }

    /// Adds a transcript to a complete video without touching its frames: the transcript row,
    /// then a new marker naming it (the newest marker wins), then the superseded marker and
    /// transcript rows are removed. The transcript is given to the video's newest record, read
    /// under the write lock (cuts or a date another process added since `record` was read are
    /// kept). Returns the new record; [`StoreError::Removed`] if the video is no longer stored
    /// for `record`'s model. A crash between steps leaves the old record or the new one, each
    /// whole.
    pub async fn put_transcript(
        &self,
        record: &VideoRecord,
        transcript: &Transcript,
    ) -> Result<VideoRecord, StoreError> {
        if transcript.fingerprint != record.fingerprint || transcript.model_key != record.model_key {
            return Err(StoreError::Corrupt(format!(
                "transcript of {} ({}) offered for video {} ({})",
                transcript.fingerprint, transcript.model_key, record.fingerprint, record.model_key
            )));
        }
        let _lock = self.write_lock().await?;
        let newest = self.newest_record(&record.fingerprint, &record.model_key).await?;
        let updated = VideoRecord {
            transcript_id: Some(transcript.transcript_id.clone()),
            created_at_ms: now_ms().max(newest.created_at_ms + 1),
            ..newest
        };
        let stamped = Transcript { created_at_ms: updated.created_at_ms, ..transcript.clone() };
        let batch = transcript_batch(std::slice::from_ref(&stamped))?;
        retrying("write transcript", || self.transcripts.add(batch.clone()).execute()).await?;
        let marker = video_batch(&[&updated])?;
        retrying("write marker", || self.videos.add(marker.clone()).execute()).await?;
        self.remove_superseded(&[&updated]).await?;
        Ok(updated)
    }

    /// Sets when a complete video was recorded without touching its frames or transcript (for
    /// videos stored before dates were read): a new marker with the date (the newest marker
    /// wins), then the superseded one is removed. The date is given to the video's newest
    /// record, read under the write lock. A crash between the steps leaves the old record or
    /// the new one, each whole. Returns the new record; [`StoreError::Removed`] if the video is
    /// no longer stored for `record`'s model.
    pub async fn set_recorded_at(
        &self,
        record: &VideoRecord,
        recorded_at_ms: Option<i64>,
    ) -> Result<VideoRecord, StoreError> {
        let _lock = self.write_lock().await?;
        let newest = self.newest_record(&record.fingerprint, &record.model_key).await?;
        let updated = VideoRecord { recorded_at_ms, created_at_ms: now_ms().max(newest.created_at_ms + 1), ..newest };
        let marker = video_batch(&[&updated])?;
        retrying("write marker", || self.videos.add(marker.clone()).execute()).await?;
        self.remove_superseded(&[&updated]).await?;
        Ok(updated)
    }

    /// The transcript a record names (`None` when it names none, or when a racing writer has
    /// just replaced it).
    pub async fn transcript(&self, record: &VideoRecord) -> Result<Option<Transcript>, StoreError> {
        let Some(id) = &record.transcript_id else { return Ok(None) };
        for b in &named_row(&self.transcripts, format!("transcript_id = {}", sql_str(id)), None).await? {
            if let Some(t) = transcripts_of(b)?.into_iter().next() {
                return Ok(Some(t));
            }
        }
        tracing::warn!(video = %record.fingerprint, transcript = id, "the record names a transcript the store no longer has");
        Ok(None)
    }

    /// The words of every transcript written for `model_key` (times and texts, no embeddings):
    /// what a search of what is said scans. Superseded transcripts may be among them; the
    /// caller keeps those its video records name.
    pub async fn spoken_texts(&self, model_key: &str) -> Result<Vec<SpokenText>, StoreError> {
        let columns = ["fingerprint", "transcript_id", "outcome", "language", "starts_ms", "ends_ms", "texts"];
        let filter = format!("model_key = {} AND outcome = 'speech'", sql_str(model_key));
        let mut out = Vec::new();
        for b in rows(&self.transcripts, Some(filter), Some(&columns), None).await? {
            let fp = col::<StringArray>(&b, "fingerprint")?;
            let id = col::<StringArray>(&b, "transcript_id")?;
            let language = col::<StringArray>(&b, "language")?;
            let list = |name: &str| {
                b.column_by_name(name)
                    .map(|c| c.as_list::<i32>().clone())
                    .ok_or_else(|| StoreError::Corrupt(format!("transcripts.{name} missing")))
            };
            let (starts, ends, texts) = (list("starts_ms")?, list("ends_ms")?, list("texts")?);
            for i in 0..b.num_rows() {
                let (s, e, t) = (starts.value(i), ends.value(i), texts.value(i));
                let (s, e) = (s.as_primitive::<Int64Type>().values(), e.as_primitive::<Int64Type>().values());
                let t = t.as_string::<i32>();
                if e.len() != s.len() || t.len() != s.len() {
                    return Err(StoreError::Corrupt(format!("transcript {}: columns of unequal lengths", id.value(i))));
                }
                out.push(SpokenText {
                    fingerprint: stored_fingerprint("transcripts.fingerprint", fp.value(i))?,
                    transcript_id: id.value(i).to_string(),
                    language: (!language.is_null(i)).then(|| language.value(i).to_string()),
                    segments: (0..s.len()).map(|k| (s[k], e[k], t.value(k).to_string())).collect(),
                });
            }
        }
        Ok(out)
    }

    /// Keeps look-ups by fingerprint on the BTree index: creates it once rows exist, then folds
    /// new rows into it. Failure only costs speed, so it is logged, not returned.
    async fn refresh_indices(&self) {
        for (table, column) in
            [(&self.videos, "fingerprint"), (&self.frames, "fingerprint"), (&self.transcripts, "transcript_id")]
        {
            let result = async {
                let indices = table.list_indices().await?;
                if indices.iter().any(|i| i.columns.iter().any(|c| c == column)) {
                    table.optimize(OptimizeAction::Index(OptimizeOptions::default())).await?;
                } else {
                    table.create_index(&[column], Index::BTree(BTreeIndexBuilder::default())).execute().await?;
                }
                Ok::<_, lancedb::Error>(())
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(table = table.name(), error = %e, "index refresh failed");
            }
        }
    }

    /// Deletes every video of `model_key` (markers first, so no half-deleted video is ever
    /// visible): what `store bench` wrote.
    pub async fn forget_model(&self, model_key: &str) -> Result<(), StoreError> {
        let _lock = self.write_lock().await?;
        let filter = format!("model_key = {}", sql_str(model_key));
        for t in [&self.videos, &self.frames, &self.transcripts] {
            delete_rows(t, "forget a model", &filter).await?;
        }
        Ok(())
    }

    /// Takes a video out of the store for every model: its completion markers first (one
    /// commit, after which no reader finds it), then its frames and transcripts, then the
    /// paths and URLs that led to it. A crash part-way leaves rows that no marker names:
    /// invisible to every read, and deleted by the next `forget_video` of the fingerprint or
    /// superseded by a new ingest of it. Deleted rows stay in the table's older versions until
    /// [`Store::purge`] (or a week's `optimize`) removes those.
    pub async fn forget_video(&self, fp: &Fingerprint) -> Result<Forgotten, StoreError> {
        let _lock = self.write_lock().await?;
        let filter = format!("fingerprint = {}", sql_str(&fp.to_hex()));
        let mut records = Vec::new();
        for b in &rows(&self.videos, Some(format!("{filter} AND state = 'complete'")), None, None).await? {
            records.extend(video_records(b)?);
        }
        records.sort_by_key(|r| std::cmp::Reverse(r.created_at_ms));
        let mut models = std::collections::HashSet::new();
        records.retain(|r| models.insert(r.model_key.clone()));
        let mut sources: Vec<String> = source_rows(&rows(&self.sources, Some(filter.clone()), None, None).await?)?
            .into_iter()
            .map(|(_, r)| r.source)
            .collect();
        sources.sort();
        sources.dedup();
        let f = filter.as_str();
        let removed = RowsRemoved {
            videos: delete_rows(&self.videos, "forget a video's markers", f).await?,
            frames: delete_rows(&self.frames, "forget a video's frames", f).await?,
            transcripts: delete_rows(&self.transcripts, "forget a video's transcripts", f).await?,
            sources: delete_rows(&self.sources, "forget a video's sources", f).await?,
        };
        Ok(Forgotten { fingerprint: *fp, records, sources, rows: removed })
    }

    /// Makes deletions final on disk: compacts every table (rewriting files that hold deleted
    /// rows without them) and removes every older table version at once. Unlike `optimize`,
    /// which keeps a week of versions for readers that hold one, this must run only while no
    /// other process reads or writes the store: one holding an older version would find its
    /// files gone.
    pub async fn purge(&self) -> Result<(), StoreError> {
        let _lock = self.write_lock().await?;
        for t in [&self.videos, &self.frames, &self.transcripts, &self.texts, &self.sources] {
            let compact =
                || t.optimize(OptimizeAction::Compact { options: CompactionOptions::default(), remap_options: None });
            retrying("purge: compact", compact).await?;
            let prune = || {
                t.optimize(OptimizeAction::Prune {
                    older_than: Some(lancedb::table::Duration::zero()),
                    delete_unverified: Some(true),
                    error_if_tagged_old_versions: Some(false),
                })
            };
            retrying("purge: remove old versions", prune).await?;
        }
        Ok(())
    }

    /// Merges the small fragments that one write per video leaves in the tables every library
    /// search and page lists (videos, sources, transcripts), once a table has more than
    /// [`COMPACT_SLACK`] fragments beyond what full ones would need; returns
    /// `(table, fragments before, after)` for each table compacted. Frames are left alone:
    /// their rows are big and read one at a time through the BTree index. Compaction writes a
    /// new table version (readers keep theirs; `store optimize` prunes old ones later) and
    /// aims at [`COMPACT_TARGET_ROWS`] rows a fragment, so a full fragment is never rewritten
    /// again and repeated compactions only merge the newest small ones.
    pub async fn compact_small_tables(&self) -> Result<Vec<(&'static str, usize, usize)>, StoreError> {
        let mut done = Vec::new();
        for (name, t) in [("videos", &self.videos), ("sources", &self.sources), ("transcripts", &self.transcripts)] {
            let stats = t.stats().await?;
            let before = stats.fragment_stats.num_fragments;
            if before <= stats.num_rows / COMPACT_TARGET_ROWS + COMPACT_SLACK {
                continue;
            }
            let options = CompactionOptions { target_rows_per_fragment: COMPACT_TARGET_ROWS, ..Default::default() };
            retrying("compact", || {
                t.optimize(OptimizeAction::Compact { options: options.clone(), remap_options: None })
            })
            .await?;
            done.push((name, before, t.stats().await?.fragment_stats.num_fragments));
        }
        Ok(done)
    }

    /// Compacts small files and folds new rows into indices (`chronoseek store optimize`).
    pub async fn optimize(&self) -> Result<(), StoreError> {
        for t in [&self.videos, &self.frames, &self.transcripts, &self.texts, &self.sources] {
            retrying("optimize", || t.optimize(OptimizeAction::All)).await?;
        }
        Ok(())
    }

    pub async fn text_embedding(&self, key: &str) -> Result<Option<Vec<f32>>, StoreError> {
        let batches = rows(&self.texts, Some(format!("key = {}", sql_str(key))), Some(&["embedding"]), Some(1)).await?;
        for b in &batches {
            if b.num_rows() > 0 {
                let list = b
                    .column_by_name("embedding")
                    .ok_or_else(|| StoreError::Corrupt("text_embeddings.embedding missing".into()))?
                    .as_list::<i32>()
                    .value(0);
                return Ok(Some(list.as_primitive::<Float32Type>().values().to_vec()));
            }
        }
        Ok(None)
    }

    /// Writes query embeddings, many in one commit (one table version per call, however many
    /// rows: the text cache batches its writes so new queries do not pile up versions).
    pub async fn put_text_embeddings(&self, rows: &[TextEmbeddingRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let batch = batch_by_name(
            "text_embeddings",
            vec![
                ("key", Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.key.as_str())))),
                ("model_key", Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.model_key.as_str())))),
                ("query", Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.query.as_str())))),
                (
                    "embedding",
                    Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
                        rows.iter().map(|r| Some(r.embedding.iter().copied().map(Some))),
                    )),
                ),
            ],
        )?;
        retrying("write query embeddings", || self.texts.add(batch.clone()).execute()).await?;
        Ok(())
    }

    /// Keys of the query embeddings stored for `model_key`. The text cache reads them once, so
    /// that a query the store has never seen (most new queries) costs no store read at all.
    pub async fn text_embedding_keys(&self, model_key: &str) -> Result<Vec<String>, StoreError> {
        let batches =
            rows(&self.texts, Some(format!("model_key = {}", sql_str(model_key))), Some(&["key"]), None).await?;
        let mut keys = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
        for b in &batches {
            let col = b
                .column_by_name("key")
                .ok_or_else(|| StoreError::Corrupt("text_embeddings.key missing".into()))?
                .as_string::<i32>();
            keys.extend(col.iter().flatten().map(str::to_string));
        }
        Ok(keys)
    }

    /// Merges the query-embedding table's small fragments (each write batch adds one) into few.
    /// Readers carry on meanwhile (LanceDB commits the merge as a new version); old versions
    /// stay until `store optimize` prunes them.
    pub async fn compact_text_embeddings(&self) -> Result<(), StoreError> {
        self.texts
            .optimize(OptimizeAction::Compact { options: CompactionOptions::default(), remap_options: None })
            .await?;
        Ok(())
    }

    /// Data fragments of the `text_embeddings` table (a look-up reads every one of them).
    pub async fn text_embeddings_fragments(&self) -> Result<usize, StoreError> {
        Ok(self.texts.stats().await?.fragment_stats.num_fragments)
    }

    /// The `text_embeddings` table's version (tests and `store stats` read it).
    pub async fn text_embeddings_version(&self) -> Result<u64, StoreError> {
        Ok(self.texts.version().await?)
    }

    pub async fn source(&self, source: &str) -> Result<Option<SourceRecord>, StoreError> {
        let batches = rows(&self.sources, Some(format!("source = {}", sql_str(source))), None, None).await?;
        let mut best: Option<(i64, SourceRecord)> = None;
        for (at, rec) in source_rows(&batches)? {
            if best.as_ref().is_none_or(|(t, _)| at >= *t) {
                best = Some((at, rec));
            }
        }
        Ok(best.map(|(_, r)| r))
    }

    pub async fn put_source(&self, rec: &SourceRecord) -> Result<(), StoreError> {
        let batch = batch_by_name(
            "sources",
            vec![
                ("source", Arc::new(StringArray::from(vec![rec.source.clone()]))),
                ("validator", Arc::new(StringArray::from(vec![rec.validator.clone()]))),
                ("fingerprint", Arc::new(StringArray::from(vec![rec.fingerprint.to_hex()]))),
                ("updated_at_ms", Arc::new(Int64Array::from(vec![now_ms()]))),
            ],
        )?;
        retrying("write a source", || self.sources.add(batch.clone()).execute()).await?;
        // Older mappings of the same source are superseded; the newest row wins on read anyway.
        let stale = format!(
            "source = {} AND NOT (fingerprint = {} AND validator = {})",
            sql_str(&rec.source),
            sql_str(&rec.fingerprint.to_hex()),
            sql_str(&rec.validator)
        );
        retrying("supersede a source", || self.sources.delete(stale.as_str())).await?;
        Ok(())
    }

    /// Every path/URL → fingerprint mapping (newest per source). `chronoseek serve` reads it
    /// to find which stored videos are local files.
    pub async fn sources(&self) -> Result<Vec<SourceRecord>, StoreError> {
        self.sources_where(None).await
    }

    /// The sources recorded for these videos only (what a page of search results needs,
    /// without reading, and checking, every source of the library).
    pub async fn sources_of(&self, videos: &[Fingerprint]) -> Result<Vec<SourceRecord>, StoreError> {
        if videos.is_empty() {
            return Ok(Vec::new());
        }
        let hexes: Vec<String> = videos.iter().map(|f| sql_str(&f.to_hex())).collect();
        self.sources_where(Some(format!("fingerprint IN ({})", hexes.join(", ")))).await
    }

    async fn sources_where(&self, filter: Option<String>) -> Result<Vec<SourceRecord>, StoreError> {
        let batches = rows(&self.sources, filter, None, None).await?;
        let mut best: std::collections::HashMap<String, (i64, SourceRecord)> = std::collections::HashMap::new();
        for (at, rec) in source_rows(&batches)? {
            match best.get(&rec.source) {
                Some((t, _)) if *t > at => {}
                _ => {
                    best.insert(rec.source.clone(), (at, rec));
                }
            }
        }
        Ok(best.into_values().map(|(_, r)| r).collect())
    }

    /// Row counts per table (for `chronoseek store stats` and tests).
    pub async fn row_counts(&self) -> Result<Vec<(&'static str, usize)>, StoreError> {
        Ok(vec![
            ("videos", self.videos.count_rows(None).await?),
            ("frames", self.frames.count_rows(None).await?),
            ("transcripts", self.transcripts.count_rows(None).await?),
            ("text_embeddings", self.texts.count_rows(None).await?),
            ("sources", self.sources.count_rows(None).await?),
        ])
    }

    /// The query plan LanceDB runs to read one video's frames, with its run-time metrics
    /// (used to show that the look-up goes through the index, not a scan).
    pub async fn analyze_frames_read(&self, video: &VideoRecord) -> Result<String, StoreError> {
        let filter = format!(
            "fingerprint = {} AND ingest_id = {}",
            sql_str(&video.fingerprint.to_hex()),
            sql_str(&video.ingest_id)
        );
        Ok(self.frames.query().only_if(filter).select(Select::columns(&["dim"])).analyze_plan().await?)
    }
}

/// `(updated_at_ms, record)` of every `sources` row with a well-formed fingerprint.
fn source_rows(batches: &[RecordBatch]) -> Result<Vec<(i64, SourceRecord)>, StoreError> {
    let mut out = Vec::new();
    for b in batches {
        let src = col::<StringArray>(b, "source")?;
        let val = col::<StringArray>(b, "validator")?;
        let fp = col::<StringArray>(b, "fingerprint")?;
        let at = col::<Int64Array>(b, "updated_at_ms")?;
        for i in 0..b.num_rows() {
            let Ok(fingerprint) = fp.value(i).parse() else { continue };
            let rec =
                SourceRecord { source: src.value(i).to_string(), validator: val.value(i).to_string(), fingerprint };
            out.push((at.value(i), rec));
        }
    }
    Ok(out)
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> Result<&'a T, StoreError> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| StoreError::Corrupt(format!("column {name} missing or of the wrong type")))
}

fn video_batch(rs: &[&VideoRecord]) -> Result<RecordBatch, StoreError> {
    batch_by_name(
        "videos",
        vec![
            ("fingerprint", Arc::new(StringArray::from_iter_values(rs.iter().map(|r| r.fingerprint.to_hex())))),
            ("model_key", Arc::new(StringArray::from_iter_values(rs.iter().map(|r| r.model_key.as_str())))),
            ("ingest_id", Arc::new(StringArray::from_iter_values(rs.iter().map(|r| r.ingest_id.as_str())))),
            ("state", Arc::new(StringArray::from_iter_values(rs.iter().map(|_| "complete")))),
            ("duration_s", Arc::new(Float64Array::from_iter_values(rs.iter().map(|r| r.duration_s)))),
            ("source_fps", Arc::new(Float64Array::from_iter(rs.iter().map(|r| r.source_fps)))),
            ("width", Arc::new(Int32Array::from_iter_values(rs.iter().map(|r| r.width as i32)))),
            ("height", Arc::new(Int32Array::from_iter_values(rs.iter().map(|r| r.height as i32)))),
            ("frame_count", Arc::new(Int32Array::from_iter_values(rs.iter().map(|r| r.frame_count as i32)))),
            ("sampling", Arc::new(StringArray::from_iter_values(rs.iter().map(|r| r.sampling.as_str())))),
            ("source", Arc::new(StringArray::from_iter_values(rs.iter().map(|r| r.source.as_str())))),
            ("created_at_ms", Arc::new(Int64Array::from_iter_values(rs.iter().map(|r| r.created_at_ms)))),
            ("transcript_id", Arc::new(StringArray::from_iter(rs.iter().map(|r| r.transcript_id.as_deref())))),
            ("recorded_at_ms", Arc::new(Int64Array::from_iter(rs.iter().map(|r| r.recorded_at_ms)))),
        ],
    )
}

fn transcript_batch(ts: &[Transcript]) -> Result<RecordBatch, StoreError> {
    let (outcome, language): (Vec<&str>, Vec<Option<&str>>) = ts
        .iter()
        .map(|t| match &t.heard {
            Heard::NoAudioStream => ("no_audio_stream", None),
            Heard::Speech { language, .. } => ("speech", language.as_deref()),
        })
        .unzip();
    let dims: Vec<i32> = ts.iter().map(|t| t.segments().first().map_or(0, |s| s.embedding.len() as i32)).collect();
    for (t, dim) in ts.iter().zip(&dims) {
        if t.segments().iter().any(|s| s.embedding.len() as i32 != *dim) {
            return Err(StoreError::Corrupt(format!(
                "transcript {}: segment embeddings of several widths",
                t.transcript_id
            )));
        }
    }
    let texts = {
        let mut b = arrow_array::builder::ListBuilder::new(arrow_array::builder::StringBuilder::new());
        for t in ts {
            for s in t.segments() {
                b.values().append_value(&s.text);
            }
            b.append(true);
        }
        b.finish()
    };
    batch_by_name(
        "transcripts",
        vec![
            ("fingerprint", Arc::new(StringArray::from_iter_values(ts.iter().map(|t| t.fingerprint.to_hex())))),
            ("model_key", Arc::new(StringArray::from_iter_values(ts.iter().map(|t| t.model_key.as_str())))),
            ("transcript_id", Arc::new(StringArray::from_iter_values(ts.iter().map(|t| t.transcript_id.as_str())))),
            ("audio_model", Arc::new(StringArray::from_iter_values(ts.iter().map(|t| t.audio_model.as_str())))),
            ("outcome", Arc::new(StringArray::from(outcome))),
            ("language", Arc::new(StringArray::from(language))),
            (
                "starts_ms",
                Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
                    ts.iter().map(|t| Some(t.segments().iter().map(|s| Some(s.start_ms)))),
                )),
            ),
            (
                "ends_ms",
                Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
                    ts.iter().map(|t| Some(t.segments().iter().map(|s| Some(s.end_ms)))),
                )),
            ),
            ("texts", Arc::new(texts)),
            ("dim", Arc::new(Int32Array::from(dims))),
            (
                "embeddings",
                Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(
                    ts.iter().map(|t| Some(t.segments().iter().flat_map(|s| s.embedding.iter().copied().map(Some)))),
                )),
            ),
            ("created_at_ms", Arc::new(Int64Array::from_iter_values(ts.iter().map(|t| t.created_at_ms)))),
        ],
    )
}

/// A fingerprint read back from `column`: one that does not parse means the store is damaged.
fn stored_fingerprint(column: &str, value: &str) -> Result<Fingerprint, StoreError> {
    value.parse().map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn transcripts_of(b: &RecordBatch) -> Result<Vec<Transcript>, StoreError> {
    let fp = col::<StringArray>(b, "fingerprint")?;
    let mk = col::<StringArray>(b, "model_key")?;
    let id = col::<StringArray>(b, "transcript_id")?;
    let am = col::<StringArray>(b, "audio_model")?;
    let outcome = col::<StringArray>(b, "outcome")?;
    let language = col::<StringArray>(b, "language")?;
    let dim = col::<Int32Array>(b, "dim")?;
    let at = col::<Int64Array>(b, "created_at_ms")?;
    let list = |name: &str| {
        b.column_by_name(name)
            .map(|c| c.as_list::<i32>().clone())
            .ok_or_else(|| StoreError::Corrupt(format!("transcripts.{name} missing")))
    };
    let (starts, ends, texts, embeddings) = (list("starts_ms")?, list("ends_ms")?, list("texts")?, list("embeddings")?);
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let fingerprint = stored_fingerprint("transcripts.fingerprint", fp.value(i))?;
        let heard = match outcome.value(i) {
            "no_audio_stream" => Heard::NoAudioStream,
            "speech" => {
                let s = starts.value(i);
                let e = ends.value(i);
                let t = texts.value(i);
                let v = embeddings.value(i);
                let (s, e) = (s.as_primitive::<Int64Type>().values(), e.as_primitive::<Int64Type>().values());
                let t = t.as_string::<i32>();
                let v = v.as_primitive::<Float32Type>().values();
                let d = dim.value(i).max(0) as usize;
                if e.len() != s.len() || t.len() != s.len() || v.len() != s.len() * d {
                    return Err(StoreError::Corrupt(format!("transcript {}: columns of unequal lengths", id.value(i))));
                }
                let segments = (0..s.len())
                    .map(|k| SpokenSegment {
                        start_ms: s[k],
                        end_ms: e[k],
                        text: t.value(k).to_string(),
                        embedding: v[k * d..(k + 1) * d].to_vec(),
                    })
                    .collect();
                Heard::Speech { language: (!language.is_null(i)).then(|| language.value(i).to_string()), segments }
            }
            other => return Err(StoreError::Corrupt(format!("transcripts.outcome '{other}'"))),
        };
        out.push(Transcript {
            fingerprint,
            model_key: mk.value(i).to_string(),
            transcript_id: id.value(i).to_string(),
            audio_model: am.value(i).to_string(),
            heard,
            created_at_ms: at.value(i),
        });
    }
    Ok(out)
}

fn video_records(b: &RecordBatch) -> Result<Vec<VideoRecord>, StoreError> {
    let fp = col::<StringArray>(b, "fingerprint")?;
    let mk = col::<StringArray>(b, "model_key")?;
    let id = col::<StringArray>(b, "ingest_id")?;
    let dur = col::<Float64Array>(b, "duration_s")?;
    let fps = col::<Float64Array>(b, "source_fps")?;
    let w = col::<Int32Array>(b, "width")?;
    let h = col::<Int32Array>(b, "height")?;
    let n = col::<Int32Array>(b, "frame_count")?;
    let sampling = col::<StringArray>(b, "sampling")?;
    let source = col::<StringArray>(b, "source")?;
    let at = col::<Int64Array>(b, "created_at_ms")?;
    let transcript = col::<StringArray>(b, "transcript_id")?;
    let recorded = col::<Int64Array>(b, "recorded_at_ms")?;
    (0..b.num_rows())
        .map(|i| {
            Ok(VideoRecord {
                fingerprint: stored_fingerprint("videos.fingerprint", fp.value(i))?,
                model_key: mk.value(i).to_string(),
                ingest_id: id.value(i).to_string(),
                duration_s: dur.value(i),
                source_fps: (!fps.is_null(i)).then(|| fps.value(i)),
                width: w.value(i) as u32,
                height: h.value(i) as u32,
                frame_count: n.value(i) as u32,
                sampling: sampling.value(i).to_string(),
                source: source.value(i).to_string(),
                created_at_ms: at.value(i),
                transcript_id: (!transcript.is_null(i)).then(|| transcript.value(i).to_string()),
                recorded_at_ms: (!recorded.is_null(i)).then(|| recorded.value(i)),
            })
        })
        .collect()
}

pub(crate) fn timestamp_now_ms() -> i64 {
    now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_built_by_column_name() {
        let text = |v: &str| -> arrow_array::ArrayRef { Arc::new(StringArray::from(vec![v.to_string()])) };
        let list: arrow_array::ArrayRef =
            Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(vec![Some(vec![Some(1.0f32)])]));
        // Given in another order than the schema's: each lands in its own column.
        let b = batch_by_name(
            "text_embeddings",
            vec![("query", text("q")), ("embedding", list.clone()), ("key", text("k")), ("model_key", text("m"))],
        )
        .unwrap();
        let col = |n: &str| b.column_by_name(n).unwrap().as_string::<i32>().value(0).to_string();
        assert_eq!((col("key"), col("model_key"), col("query")), ("k".into(), "m".into(), "q".into()));
        assert!(batch_by_name("text_embeddings", vec![("key", text("k")), ("embedding", list.clone())]).is_err());
        let extra = vec![
            ("key", text("k")),
            ("model_key", text("m")),
            ("query", text("q")),
            ("embedding", list),
            ("surprise", text("x")),
        ];
        assert!(batch_by_name("text_embeddings", extra).is_err());
    }
}
