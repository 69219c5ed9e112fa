//! The LanceDB store in a temporary folder and on an S3 server (moto, on 127.0.0.1): round
//! trips, the completion marker, racing writers, migrations, and the source cache. Tests in
//! `store_matrix!` run once per backend.

mod common;

use chronoseek::index::{FrameMatrix, SourceRecord, Store, VideoRecord, latest_version};
use chronoseek::ingest::Fingerprint;

fn record(fp: Fingerprint, ingest_id: &str, frames: u32) -> VideoRecord {
    VideoRecord {
        fingerprint: fp,
        model_key: "tiny:0123".into(),
        ingest_id: ingest_id.into(),
        duration_s: frames as f64,
        source_fps: Some(24.0),
        width: 320,
        height: 240,
        frame_count: frames,
        sampling: "fixed:1".into(),
        source: "it's a test".into(),
        created_at_ms: 1,
        transcript_id: None,
        recorded_at_ms: None,
    }
}

fn matrix(n: usize, dim: usize, seed: f32) -> FrameMatrix {
    let mut m = FrameMatrix::new(dim);
    for i in 0..n {
        let row: Vec<f32> = (0..dim).map(|j| seed + i as f32 * 0.5 + j as f32).collect();
        m.push(i as i64 * 1000, &row);
    }
    m
}

store_matrix!(frames_round_trip_and_videos_are_isolated, |backend| {
    let store = backend.open().await;
    assert_eq!(store.schema_version(), latest_version());
    let (a, b) = (Fingerprint::of(b"a"), Fingerprint::of(b"b"));
    store.put_video(&record(a, "ia", 5), &matrix(5, 4, 0.0)).await.unwrap();
    store.put_video(&record(b, "ib", 7), &matrix(7, 4, 100.0)).await.unwrap();
    let ra = store.video(&a, "tiny:0123").await.unwrap().expect("a complete");
    assert_eq!(ra, record(a, "ia", 5));
    assert_eq!(store.load_frames(&ra).await.unwrap(), matrix(5, 4, 0.0));
    let rb = store.video(&b, "tiny:0123").await.unwrap().expect("b complete");
    assert_eq!(store.load_frames(&rb).await.unwrap(), matrix(7, 4, 100.0));
    // Another model's key sees nothing.
    assert!(store.video(&a, "other:1").await.unwrap().is_none());
    assert_eq!(store.list_videos().await.unwrap().len(), 2);
});

store_matrix!(frames_without_a_marker_are_invisible_and_replaced, |backend| {
    let uri = backend.uri();
    backend.open().await;
    let fp = Fingerprint::of(b"half");
    // Simulate a crash after the frames write: a frames row and no videos row. Write it through
    // LanceDB directly, as an interrupted ingest would have left it.
    {
        use arrow_array::{
            Int32Array, ListArray, RecordBatch, StringArray,
            types::{Float32Type, Int64Type},
        };
        use std::sync::Arc;
        let options = match &backend {
            common::Backend::S3(_) => common::S3Server::get().options(),
            common::Backend::Local(_) => Vec::new(),
        };
        let conn = lancedb::connect(&uri).storage_options(options).execute().await.unwrap();
        let frames = conn.open_table("frames").execute().await.unwrap();
        let schema = frames.schema().await.unwrap();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![fp.to_hex()])),
                Arc::new(StringArray::from(vec!["tiny:0123"])),
                Arc::new(StringArray::from(vec!["crashed"])),
                Arc::new(Int32Array::from(vec![4])),
                Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(0i64)])])),
                Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(vec![Some(vec![Some(9.0f32); 4])])),
                // A crash from before rows carried write stamps: no stamp.
                Arc::new(arrow_array::Int64Array::from(vec![None::<i64>])),
                // Nor cuts.
                Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![None::<Vec<Option<i64>>>])),
            ],
        )
        .unwrap();
        frames.add(batch).execute().await.unwrap();
    }
    // The process that crashed is gone; the next one opens the store afresh.
    let store = backend.open().await;
    assert!(store.video(&fp, "tiny:0123").await.unwrap().is_none(), "half-written video must be invisible");
    // The redo replaces the orphan rows and reads only its own.
    store.put_video(&record(fp, "redo", 3), &matrix(3, 4, 1.0)).await.unwrap();
    let r = store.video(&fp, "tiny:0123").await.unwrap().unwrap();
    assert_eq!(r.ingest_id, "redo");
    assert_eq!(store.load_frames(&r).await.unwrap(), matrix(3, 4, 1.0));
    let counts: std::collections::HashMap<_, _> = store.row_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts["frames"], 1, "orphan frames row removed");
});

store_matrix!(reopening_keeps_data_and_records_the_schema_version, |backend| {
    let fp = Fingerprint::of(b"keep");
    {
        let store = backend.open().await;
        store.put_video(&record(fp, "k", 2), &matrix(2, 3, 0.0)).await.unwrap();
    }
    let store = backend.open().await;
    assert!(store.video(&fp, "tiny:0123").await.unwrap().is_some());
    assert_eq!(store.schema_version(), latest_version());
});

store_matrix!(writers_racing_on_one_video_leave_the_newest_record_whole, |backend| {
    // Several handles (as several processes would) write the same video at once, each with its
    // own stamp; whatever order their commits land in, the newest record reads whole.
    let fp = Fingerprint::of(b"raced");
    let mut handles = Vec::new();
    for i in 0..4i64 {
        let store = backend.open().await;
        handles.push(tokio::spawn(async move {
            let r = VideoRecord { created_at_ms: 100 + i, ..record(fp, &format!("w{i}"), 3 + i as u32) };
            store.put_video(&r, &matrix(3 + i as usize, 4, i as f32)).await.unwrap();
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let store = backend.open().await;
    let r = store.video(&fp, "tiny:0123").await.unwrap().expect("a complete record");
    assert_eq!((r.ingest_id.as_str(), r.created_at_ms), ("w3", 103), "the newest stamp wins");
    assert_eq!(store.load_frames(&r).await.unwrap(), matrix(6, 4, 3.0));
    assert_eq!(store.list_videos().await.unwrap().len(), 1);
    // A record read before a newer write landed names rows the newer write removed: a typed
    // error the engine answers by re-reading the record.
    let old = VideoRecord { created_at_ms: 100, ..record(fp, "w0", 3) };
    if let Err(e) = store.load_frames(&old).await {
        assert!(matches!(e, chronoseek::index::StoreError::MissingFrames(f) if f == fp), "{e}");
    }
});

#[tokio::test]
async fn a_kill_while_the_first_open_creates_tables_leaves_a_store_the_next_open_completes() {
    // What `kill -9` during table creation leaves: folders LanceDB lists as tables but that
    // have no first version (seen with a kill right as `frames.lance` appeared).
    for leftover in ["meta.lance", "frames.lance", "sources.lance"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(leftover)).unwrap();
        let uri = dir.path().display().to_string();
        let store = Store::open(&uri).await.unwrap_or_else(|e| panic!("{leftover}: {e}"));
        assert!(store.list_videos().await.unwrap().is_empty());
        let fp = Fingerprint::of(leftover.as_bytes());
        store.put_video(&record(fp, "x", 2), &matrix(2, 3, 0.0)).await.unwrap();
        drop(store);
        let store = Store::open(&uri).await.unwrap();
        assert!(store.video(&fp, "tiny:0123").await.unwrap().is_some(), "{leftover}");
    }
}

#[tokio::test]
async fn a_store_from_a_newer_build_is_refused() {
    use arrow_array::{RecordBatch, StringArray};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().display().to_string();
    Store::open(&uri).await.unwrap();
    let conn = lancedb::connect(&uri).execute().await.unwrap();
    let meta = conn.open_table("meta").execute().await.unwrap();
    let batch = RecordBatch::try_new(
        meta.schema().await.unwrap(),
        vec![
            Arc::new(StringArray::from(vec!["schema_version"])),
            Arc::new(StringArray::from(vec![(latest_version() + 1).to_string()])),
        ],
    )
    .unwrap();
    meta.add(batch).execute().await.unwrap();
    let err = Store::open(&uri).await.unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

store_matrix!(source_cache_keeps_the_newest_mapping, |backend| {
    let store = backend.open().await;
    let s = |v: &str, fp: &[u8]| SourceRecord {
        source: "https://x/v.mp4".into(),
        validator: v.into(),
        fingerprint: Fingerprint::of(fp),
    };
    assert!(store.source("https://x/v.mp4").await.unwrap().is_none());
    store.put_source(&s("etag=1", b"one")).await.unwrap();
    store.put_source(&s("etag=2", b"two")).await.unwrap();
    assert_eq!(store.source("https://x/v.mp4").await.unwrap(), Some(s("etag=2", b"two")));
});

store_matrix!(text_embeddings_round_trip, |backend| {
    let store = backend.open().await;
    assert!(store.text_embedding("k").await.unwrap().is_none());
    let row = |k: &str, q: &str, e: Vec<f32>| chronoseek::index::TextEmbeddingRow {
        key: k.into(),
        model_key: "m".into(),
        query: q.into(),
        embedding: e,
    };
    let v0 = store.text_embeddings_version().await.unwrap();
    store
        .put_text_embeddings(&[row("k", "a dog", vec![0.5, 0.25]), row("k2", "a cat", vec![0.125, -1.0])])
        .await
        .unwrap();
    // Many rows, one commit: each column is matched by name, so the two queries keep their own
    // embeddings.
    assert_eq!(store.text_embeddings_version().await.unwrap(), v0 + 1);
    assert_eq!(store.text_embedding("k").await.unwrap(), Some(vec![0.5, 0.25]));
    assert_eq!(store.text_embedding("k2").await.unwrap(), Some(vec![0.125, -1.0]));
});

fn transcript_of(record: &VideoRecord, id: &str) -> chronoseek::index::Transcript {
    chronoseek::index::Transcript {
        fingerprint: record.fingerprint,
        model_key: record.model_key.clone(),
        transcript_id: id.into(),
        audio_model: "whisper".into(),
        heard: chronoseek::index::Heard::NoAudioStream,
        created_at_ms: 0,
    }
}

store_matrix!(a_change_to_a_stored_video_keeps_what_another_process_changed_since, |backend| {
    // Two handles, as two processes: each changes the video from the record it read at the
    // start, before the other's changes landed. Each change is given to the newest record, so
    // none names rows another's cleanup removed and none undoes another.
    let fp = Fingerprint::of(b"amended");
    let base = record(fp, "base", 4);
    backend.open().await.put_video(&base, &matrix(4, 4, 0.0)).await.unwrap();
    let (a, b) = (backend.open().await, backend.open().await);
    let cut = b.put_cuts(&base, vec![1_500_000], "cut1".into()).await.unwrap();
    assert_eq!(cut.ingest_id, "cut1");
    // A's view of `videos` may be a second old; the change reads the newest record anyway.
    let heard = a.put_transcript(&base, &transcript_of(&base, "t1")).await.unwrap();
    assert_eq!((heard.ingest_id.as_str(), heard.transcript_id.as_deref()), ("cut1", Some("t1")));
    let frames = a.load_frames(&heard).await.expect("the record names frames that exist");
    assert_eq!(frames.cuts_us.as_deref(), Some(&[1_500_000i64][..]));
    let dated = a.set_recorded_at(&base, Some(1_234_000)).await.unwrap();
    assert_eq!((dated.ingest_id.as_str(), dated.transcript_id.as_deref()), ("cut1", Some("t1")));
    let recut = b.put_cuts(&base, vec![1_500_000, 2_500_000], "cut2".into()).await.unwrap();
    assert_eq!(
        (recut.transcript_id.as_deref(), recut.recorded_at_ms),
        (Some("t1"), Some(1_234_000)),
        "the transcript and the date another handle added are kept"
    );
    // A fresh handle reads the last change, whole.
    let store = backend.open().await;
    let newest = store.video(&fp, "tiny:0123").await.unwrap().expect("stored");
    assert_eq!(newest, recut);
    let frames = store.load_frames(&newest).await.unwrap();
    assert_eq!(frames.cuts_us.as_deref(), Some(&[1_500_000i64, 2_500_000][..]));
    assert_eq!(frames.data, matrix(4, 4, 0.0).data, "the embeddings are the first write's");
    assert_eq!(store.transcript(&newest).await.unwrap().expect("named transcript").transcript_id, "t1");
    let counts: std::collections::HashMap<_, _> = store.row_counts().await.unwrap().into_iter().collect();
    assert_eq!((counts["videos"], counts["frames"], counts["transcripts"]), (1, 1, 1), "superseded rows removed");
});

store_matrix!(a_change_to_a_removed_video_writes_nothing, |backend| {
    use chronoseek::index::StoreError;
    let fp = Fingerprint::of(b"removed");
    let base = record(fp, "base", 3);
    let store = backend.open().await;
    store.put_video(&base, &matrix(3, 4, 0.0)).await.unwrap();
    // Another process removes it after this one read its record.
    backend.open().await.forget_video(&fp).await.unwrap();
    let removed = |e: StoreError| matches!(e, StoreError::Removed(f) if f == fp);
    assert!(removed(store.set_recorded_at(&base, Some(5)).await.unwrap_err()));
    assert!(removed(store.put_transcript(&base, &transcript_of(&base, "t")).await.unwrap_err()));
    assert!(removed(store.put_cuts(&base, vec![1], "c".into()).await.unwrap_err()));
    let store = backend.open().await;
    assert!(store.video(&fp, "tiny:0123").await.unwrap().is_none(), "not brought back");
    assert!(store.row_counts().await.unwrap().iter().all(|(_, n)| *n == 0), "{:?}", store.row_counts().await);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_waits_while_another_process_holds_the_stores_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let uri = dir.path().join("store").display().to_string();
    let store = Store::open(&uri).await.unwrap();
    let fp = Fingerprint::of(b"locked");
    let base = record(fp, "base", 2);
    store.put_video(&base, &matrix(2, 4, 0.0)).await.unwrap();
    // Another process's lock: an OS lock on the same file through another open file.
    let lock_path = store.write_lock_path().to_path_buf();
    assert_eq!(lock_path, dir.path().join("store").join(chronoseek::index::WRITE_LOCK_FILE));
    // The last writer left its pid and program name in the file.
    let last = std::fs::read_to_string(&lock_path).unwrap();
    assert!(last.starts_with(&format!("pid {} (", std::process::id())), "{last}");
    assert_eq!(store.write_lock_holder(), None, "nobody holds it now");
    let held = std::fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();
    std::fs::write(&lock_path, "pid 4242 (chronoseek)\n").unwrap();
    assert_eq!(store.write_lock_holder().as_deref(), Some("pid 4242 (chronoseek)"));
    let writer = tokio::spawn({
        let store = store.clone();
        async move { store.set_recorded_at(&base, Some(7)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!writer.is_finished(), "the write went ahead under another process's lock");
    assert_eq!(store.video(&fp, "tiny:0123").await.unwrap().unwrap().recorded_at_ms, None);
    held.unlock().unwrap();
    let dated = writer.await.unwrap().unwrap();
    assert_eq!(dated.recorded_at_ms, Some(7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_from_two_processes_at_once_all_land() {
    changes_from_two_handles_at_once(common::Backend::local()).await;
}

/// On object storage the processes of one machine share a lock in the cache folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_from_two_processes_at_once_all_land_on_object_storage() {
    changes_from_two_handles_at_once(common::Backend::s3()).await;
}

async fn changes_from_two_handles_at_once(backend: common::Backend) {
    // Two handles change one video as fast as they can, each always from the record it read
    // first: cuts from one, transcripts and dates from the other. Without one write at a time a
    // change reads the record, another lands, and the first then writes over it (or names
    // rows the other removed).
    let fp = Fingerprint::of(b"busy");
    let base = record(fp, "base", 3);
    backend.open().await.put_video(&base, &matrix(3, 4, 0.0)).await.unwrap();
    let rounds = 6i64;
    let cutter = tokio::spawn({
        let (store, base) = (backend.open().await, base.clone());
        async move {
            for i in 0..rounds {
                store.put_cuts(&base, vec![i * 1000], format!("cut{i}")).await.unwrap();
            }
        }
    });
    let marker = tokio::spawn({
        let (store, base) = (backend.open().await, base.clone());
        async move {
            for i in 0..rounds {
                store.put_transcript(&base, &transcript_of(&base, &format!("t{i}"))).await.unwrap();
                store.set_recorded_at(&base, Some(i)).await.unwrap();
            }
        }
    });
    cutter.await.unwrap();
    marker.await.unwrap();
    let store = backend.open().await;
    let newest = store.video(&fp, "tiny:0123").await.unwrap().unwrap();
    let last = rounds - 1;
    assert_eq!(
        (newest.ingest_id.clone(), newest.transcript_id.clone(), newest.recorded_at_ms),
        (format!("cut{last}"), Some(format!("t{last}")), Some(last)),
        "every handle's last change is in the newest record"
    );
    let frames = store.load_frames(&newest).await.unwrap();
    assert_eq!(frames.cuts_us, Some(vec![last * 1000]));
    assert!(store.transcript(&newest).await.unwrap().is_some());
}

#[tokio::test]
async fn reading_one_video_scans_one_row_among_a_thousand() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().display().to_string()).await.unwrap();
    let videos: Vec<_> = (0..1000)
        .map(|i| (record(Fingerprint::of(format!("v{i}").as_bytes()), &format!("id{i}"), 2), matrix(2, 4, i as f32)))
        .collect();
    store.put_videos(&videos).await.unwrap();
    let target = store.video(&Fingerprint::of(b"v500"), "tiny:0123").await.unwrap().unwrap();
    assert_eq!(store.load_frames(&target).await.unwrap(), matrix(2, 4, 500.0));
    // LanceDB's analysed plan: the filter goes through the BTree index and reads one row.
    let plan = store.analyze_frames_read(&target).await.unwrap();
    assert!(plan.contains("ScalarIndexQuery"), "{plan}");
    assert!(plan.contains("rows_scanned=1,"), "{plan}");
}

store_matrix!(forgetting_a_video_removes_it_for_every_model_and_keeps_the_others, |backend| {
    use chronoseek::index::{Heard, RowsRemoved, Transcript};
    let store = backend.open().await;
    let (gone, kept) = (Fingerprint::of(b"gone"), Fingerprint::of(b"kept"));
    // `gone`: stored for two models, one of them with a transcript, known by one path.
    store.put_video(&record(gone, "g1", 5), &matrix(5, 4, 0.0)).await.unwrap();
    let other = VideoRecord { model_key: "other:1".into(), ..record(gone, "g2", 3) };
    store.put_video(&other, &matrix(3, 4, 1.0)).await.unwrap();
    let transcript = Transcript {
        fingerprint: gone,
        model_key: "tiny:0123".into(),
        transcript_id: "t1".into(),
        audio_model: "whisper".into(),
        heard: Heard::NoAudioStream,
        created_at_ms: 0,
    };
    let with_transcript = store.put_transcript(&record(gone, "g1", 5), &transcript).await.unwrap();
    store.put_video(&record(kept, "k1", 7), &matrix(7, 4, 100.0)).await.unwrap();
    let source = |path: &str, fingerprint| SourceRecord { source: path.into(), validator: "v".into(), fingerprint };
    store.put_source(&source("file:///v/gone.mp4", gone)).await.unwrap();
    store.put_source(&source("file:///v/kept.mp4", kept)).await.unwrap();

    let forgotten = store.forget_video(&gone).await.unwrap();
    let mut models: Vec<&str> = forgotten.records.iter().map(|r| r.model_key.as_str()).collect();
    models.sort();
    assert_eq!(models, ["other:1", "tiny:0123"]);
    assert!(forgotten.records.contains(&with_transcript), "the newest record per model");
    assert_eq!(forgotten.sources, ["file:///v/gone.mp4"]);
    assert_eq!(forgotten.rows, RowsRemoved { videos: 2, frames: 2, transcripts: 1, sources: 1 });
    for model in ["tiny:0123", "other:1"] {
        assert!(store.video(&gone, model).await.unwrap().is_none(), "{model}");
    }
    assert!(store.source("file:///v/gone.mp4").await.unwrap().is_none());
    // The other video is whole.
    let listed: Vec<Fingerprint> = store.list_videos().await.unwrap().iter().map(|v| v.fingerprint).collect();
    assert_eq!(listed, [kept]);
    let rk = store.video(&kept, "tiny:0123").await.unwrap().unwrap();
    assert_eq!(store.load_frames(&rk).await.unwrap(), matrix(7, 4, 100.0));
    assert_eq!(store.source("file:///v/kept.mp4").await.unwrap().unwrap().fingerprint, kept);
    // Nothing is left to remove; a new handle agrees.
    let again = backend.open().await.forget_video(&gone).await.unwrap();
    assert!(again.records.is_empty() && again.sources.is_empty());
    assert_eq!(again.rows.total(), 0);
});

/// Whether any file under `dir` contains `needle`.
fn bytes_under(dir: &std::path::Path, needle: &[u8]) -> bool {
    walk(dir).iter().any(|f| std::fs::read(f).unwrap().windows(needle.len()).any(|w| w == needle))
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[tokio::test]
async fn purge_erases_a_forgotten_videos_embeddings_from_disk() {
    // Deleting in LanceDB writes a deletion vector: the embeddings stay in the data files (and
    // older versions) until compaction and version clean-up. A recognisable row of floats is
    // on disk after the write and after forget_video, and gone after purge.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().to_str().unwrap()).await.unwrap();
    let secret: Vec<f32> = (0..64).map(|i| 1234.5678 + i as f32 * 0.001).collect();
    let needle: Vec<u8> = secret.iter().flat_map(|x| x.to_le_bytes()).collect();
    let (gone, kept) = (Fingerprint::of(b"secret"), Fingerprint::of(b"public"));
    let mut frames = FrameMatrix::new(64);
    frames.push(0, &secret);
    store.put_video(&record(gone, "s1", 1), &frames).await.unwrap();
    store.put_video(&record(kept, "p1", 3), &matrix(3, 64, 5.0)).await.unwrap();
    assert!(bytes_under(dir.path(), &needle), "the test's pattern must be findable on disk");
    store.forget_video(&gone).await.unwrap();
    assert!(bytes_under(dir.path(), &needle), "a delete alone leaves the bytes (older versions)");
    store.purge().await.unwrap();
    assert!(!bytes_under(dir.path(), &needle), "purge leaves no copy of the forgotten embeddings");
    // The rest of the store is whole, also through a new handle.
    let reopened = Store::open(dir.path().to_str().unwrap()).await.unwrap();
    let rk = reopened.video(&kept, "tiny:0123").await.unwrap().unwrap();
    assert_eq!(reopened.load_frames(&rk).await.unwrap(), matrix(3, 64, 5.0));
    assert_eq!(reopened.list_videos().await.unwrap().len(), 1);
}

store_matrix!(a_purged_store_reopens_whole_and_takes_new_writes, |backend| {
    let store = backend.open().await;
    let (gone, kept, later) = (Fingerprint::of(b"p-gone"), Fingerprint::of(b"p-kept"), Fingerprint::of(b"p-later"));
    store.put_video(&record(gone, "g", 2), &matrix(2, 4, 1.0)).await.unwrap();
    store.put_video(&record(kept, "k", 3), &matrix(3, 4, 2.0)).await.unwrap();
    store.forget_video(&gone).await.unwrap();
    store.purge().await.unwrap();
    let reopened = backend.open().await;
    let listed: Vec<Fingerprint> = reopened.list_videos().await.unwrap().iter().map(|v| v.fingerprint).collect();
    assert_eq!(listed, [kept]);
    let rk = reopened.video(&kept, "tiny:0123").await.unwrap().unwrap();
    assert_eq!(reopened.load_frames(&rk).await.unwrap(), matrix(3, 4, 2.0));
    reopened.put_video(&record(later, "l", 4), &matrix(4, 4, 3.0)).await.unwrap();
    // The purging handle reads the newer version within the read-consistency interval.
    tokio::time::sleep(chronoseek::index::READ_CONSISTENCY).await;
    let rl = store.video(&later, "tiny:0123").await.unwrap().expect("visible after the interval");
    assert_eq!(store.load_frames(&rl).await.unwrap(), matrix(4, 4, 3.0));
});

store_matrix!(a_marker_seen_before_its_frames_table_refreshed_still_loads, |backend| {
    // Each table of a handle looks for newer versions on its own schedule (at most
    // READ_CONSISTENCY stale), so a reader can see another process's new marker while its view
    // of `frames` is still older than the write. Loading the record must not call the frames
    // missing then.
    let writer = backend.open().await;
    let reader = backend.open().await;
    let (x, y) = (Fingerprint::of(b"x-first"), Fingerprint::of(b"y-later"));
    writer.put_video(&record(x, "x", 2), &matrix(2, 4, 1.0)).await.unwrap();
    tokio::time::sleep(chronoseek::index::READ_CONSISTENCY).await;
    // The reader's `videos` view is checked now, then its `frames` view after the interval.
    let rx = reader.video(&x, "tiny:0123").await.unwrap().unwrap();
    tokio::time::sleep(chronoseek::index::READ_CONSISTENCY + std::time::Duration::from_millis(100)).await;
    assert_eq!(reader.load_frames(&rx).await.unwrap(), matrix(2, 4, 1.0));
    // Written now: the reader's `videos` view is due for a check, its `frames` view is not.
    writer.put_video(&record(y, "y", 3), &matrix(3, 4, 2.0)).await.unwrap();
    let ry = reader.video(&y, "tiny:0123").await.unwrap().expect("the marker is seen");
    assert_eq!(reader.load_frames(&ry).await.unwrap(), matrix(3, 4, 2.0));
});

/// One write per video leaves one fragment per video in the tables every search lists;
/// `compact_small_tables` merges them past a slack, keeps every row readable, and leaves a
/// compacted table alone.
#[tokio::test]
async fn small_tables_are_compacted_past_a_slack_and_stay_readable() {
    use chronoseek::index::COMPACT_SLACK;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().display().to_string()).await.unwrap();
    let n = COMPACT_SLACK + 8;
    for i in 0..n {
        let fp = Fingerprint::of(format!("v{i}").as_bytes());
        store.put_video(&record(fp, &format!("id{i}"), 2), &matrix(2, 4, i as f32)).await.unwrap();
        let source = SourceRecord { source: format!("file:///v{i}.mp4"), validator: "1:1".into(), fingerprint: fp };
        store.put_source(&source).await.unwrap();
    }
    let done = store.compact_small_tables().await.unwrap();
    let videos = done.iter().find(|(t, _, _)| *t == "videos").copied().expect("videos compacted");
    assert!(videos.1 >= n && videos.2 <= 2, "{done:?}");
    assert!(done.iter().any(|(t, _, after)| *t == "sources" && *after <= 2), "{done:?}");
    // Every video and its frames are still there.
    assert_eq!(store.list_videos().await.unwrap().len(), n);
    let v = store.video(&Fingerprint::of(b"v7"), "tiny:0123").await.unwrap().unwrap();
    assert_eq!(store.load_frames(&v).await.unwrap(), matrix(2, 4, 7.0));
    assert_eq!(store.sources().await.unwrap().len(), n);
    // Nothing to do the second time, nor below the slack.
    assert!(store.compact_small_tables().await.unwrap().is_empty());
}

/// A long-running writer (a miner, `ingest --watch`) compacts by itself every `COMPACT_EVERY`
/// video writes: after that many, an explicit compaction finds nothing left to do.
#[tokio::test]
async fn a_writer_compacts_the_small_tables_by_itself() {
    use chronoseek::index::COMPACT_EVERY;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().display().to_string()).await.unwrap();
    for i in 0..COMPACT_EVERY {
        let fp = Fingerprint::of(format!("w{i}").as_bytes());
        store.put_video(&record(fp, &format!("w{i}"), 1), &matrix(1, 4, i as f32)).await.unwrap();
    }
    assert_eq!(store.compact_small_tables().await.unwrap(), vec![], "already compacted");
    assert_eq!(store.list_videos().await.unwrap().len(), COMPACT_EVERY as usize);
}
