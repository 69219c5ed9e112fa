//! End-to-end search with real parts: ffmpeg on fixture videos, the tiny CLIP, LanceDB in a
//! temp dir (and, for the caching test, on an S3 server on 127.0.0.1), HTTP on 127.0.0.1. The caching claims are proven through the library's counters.

mod common;

use chronoseek::ingest::{IngestOutcome, VideoSource};
use chronoseek::protocol::{ErrorCode, TopK, VideoSearchResponse};
use chronoseek::query::EngineOptions;

/// The CLI's reading of a video argument (path, URL or fingerprint).
fn input(s: &str) -> chronoseek::ingest::VideoInput {
    chronoseek::ingest::VideoInput::from_cli(s).unwrap()
}

fn hidden() -> chronoseek::progress::ProgressHandle {
    chronoseek::progress::silent()
}

store_matrix!(repeat_search_decodes_and_embeds_nothing, |backend| {
    let engine = common::engine_on(&backend, EngineOptions::default()).await;
    let video = common::fixture("scenes.mp4").display().to_string();

    let cold = engine.search(&input(&video), "a red screen", TopK::default(), &hidden()).await.unwrap();
    assert!(!cold.video_cached);
    assert_eq!(cold.counters.videos_decoded, 1);
    // 30 sampled frames; the still shots' near-duplicates reuse an embedding.
    assert_eq!(cold.counters.image_embeddings + cold.counters.frames_reused, 30);
    assert!(cold.counters.image_embeddings >= 3, "{:?}", cold.counters);
    assert_eq!(cold.counters.text_embeddings, 1);
    assert!(!cold.results.is_empty() && cold.results.len() <= 5);

    // Same video, another query: the frames the cold search read are in memory now.
    let warm = engine.search(&input(&video), "a green screen", TopK::default(), &hidden()).await.unwrap();
    assert!(warm.video_cached && !warm.result_cached);
    assert_eq!(warm.counters.videos_decoded, 0);
    assert_eq!(warm.counters.frames_decoded, 0);
    assert_eq!(warm.counters.image_embeddings, 0);
    assert_eq!(warm.counters.downloads, 0);
    assert_eq!((warm.counters.frame_loads, warm.counters.frame_cache_hits), (0, 1));
    assert_eq!(warm.counters.text_embeddings, 1);

    // Same video, same query: the result cache answers, the text tower is not run.
    let again = engine.search(&input(&video), "a green screen", TopK::default(), &hidden()).await.unwrap();
    assert!(again.result_cached);
    assert_eq!(again.counters.image_embeddings + again.counters.text_embeddings + again.counters.videos_decoded, 0);
    assert_eq!(again.results, warm.results);

    // A new engine on the same store (a restarted miner): no decode, query embedding from the store.
    assert!(engine.flush(std::time::Duration::from_secs(30)).await, "query embeddings written");
    drop(engine);
    let engine = common::engine_on(&backend, EngineOptions::default()).await;
    let restarted = engine.search(&input(&video), "a green screen", TopK::default(), &hidden()).await.unwrap();
    assert!(restarted.video_cached);
    assert_eq!(restarted.counters.videos_decoded, 0);
    assert_eq!(restarted.counters.image_embeddings, 0);
    assert_eq!(restarted.counters.text_embeddings, 0);
    assert_eq!(restarted.counters.text_store_hits, 1);
    assert_eq!(
        (restarted.counters.frame_loads, restarted.counters.frame_cache_hits),
        (1, 0),
        "frames read from LanceDB"
    );
    assert_eq!(restarted.results, warm.results);
});

#[tokio::test]
async fn results_follow_the_protocol_schema_and_top_k() {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine_in(dir.path(), EngineOptions::default()).await;
    let schema = common::schema("video-search-response.schema.json");
    let video = common::fixture("scenes.webm").display().to_string();
    for k in [1u32, 2, 20] {
        let a = engine.search(&input(&video), "a cyan screen", TopK::new(k).unwrap(), &hidden()).await.unwrap();
        assert!(a.results.len() <= k as usize && !a.results.is_empty());
        assert!(a.results.windows(2).all(|w| w[0].confidence >= w[1].confidence), "sorted by confidence");
        for r in &a.results {
            assert!(
                r.start >= 0.0 && r.end >= r.start && r.end <= 12.0 + 1e-6 && (0.0..=1.0).contains(&r.confidence),
                "{r:?}"
            );
        }
        let meta = a.metadata(engine.model().name(), engine.options().segmenter);
        let resp = VideoSearchResponse::completed(Some("r-1".into()), a.results.clone(), Some(meta));
        common::assert_valid(&schema, &serde_json::to_value(&resp).unwrap());
    }
}

#[tokio::test]
async fn same_content_under_another_path_is_not_ingested_twice() {
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine_in(dir.path(), EngineOptions::default()).await;
    let copy = dir.path().join("copy of scenes.webm");
    std::fs::copy(common::fixture("scenes.webm"), &copy).unwrap();
    let first = engine.ingest(&VideoSource::File(common::fixture("scenes.webm")), &hidden()).await.unwrap();
    assert!(matches!(first, IngestOutcome::Ingested(..)));
    let before = engine.counters();
    let second = engine.ingest(&VideoSource::File(copy.clone()), &hidden()).await.unwrap();
    assert!(matches!(second, IngestOutcome::AlreadyIngested(_)));
    assert_eq!(second.record().fingerprint, first.record().fingerprint);
    let delta = engine.counters().since(&before);
    assert_eq!(delta.videos_decoded + delta.image_embeddings, 0);
    // The second time the path is known: no hashing either.
    let third = engine.ingest(&VideoSource::File(copy), &hidden()).await.unwrap();
    assert!(matches!(third, IngestOutcome::AlreadyIngested(_)));
    assert_eq!(engine.counters().since(&before).files_hashed, 1);
    // Searching by fingerprint works without any path.
    let fp = first.record().fingerprint.to_hex();
    let a = engine.search(&input(&fp), "a magenta screen", TopK::default(), &hidden()).await.unwrap();
    assert!(a.video_cached);
}

#[tokio::test]
async fn concurrent_searches_share_one_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let engine = std::sync::Arc::new(common::engine_in(dir.path(), EngineOptions::default()).await);
    let video = common::fixture("odd.mkv").display().to_string();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let engine = engine.clone();
            let video = video.clone();
            tokio::spawn(async move {
                engine.search(&input(&video), &format!("query {i}"), TopK::default(), &hidden()).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let c = engine.counters();
    assert_eq!(c.videos_decoded, 1, "single-flight: one decode for four concurrent searches");
    assert_eq!(c.image_embeddings + c.frames_reused, 6, "one ingest's frames, embedded or reused");
}

#[tokio::test]
async fn http_videos_are_downloaded_once_and_then_validated_by_etag() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    let engine = common::engine_in(dir.path(), EngineOptions::default()).await;
    let url = server.url("scenes.webm");
    let first = engine.search(&input(&url), "a yellow screen", TopK::default(), &hidden()).await.unwrap();
    assert_eq!(first.counters.downloads, 1);
    let second = engine.search(&input(&url), "a cyan screen", TopK::default(), &hidden()).await.unwrap();
    assert_eq!(second.counters.downloads, 0, "a known URL with the same ETag is not downloaded again");
    // Within the TTL a known URL is answered from memory: no request to its origin at all.
    assert_eq!(second.counters.source_revalidations, 0);
    assert_eq!(second.counters.source_memory_hits, 1);
    assert_eq!(second.counters.videos_decoded, 0);
    assert_eq!(server.gets.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Redirects are followed up to the limit.
    let redirected = engine.search(&input(&server.url("redirect/2")), "x", TopK::default(), &hidden()).await.unwrap();
    assert_eq!(redirected.counters.downloads, 1);
    let err = engine.search(&input(&server.url("redirect/9")), "x", TopK::default(), &hidden()).await.unwrap_err();
    assert_eq!(err.code(), ErrorCode::VideoFetchFailed, "{err}");
}

#[tokio::test]
async fn a_known_url_whose_video_was_removed_is_fetched_again_not_failed() {
    // A miner remembers which video a URL serves. When the video is removed from the store
    // meanwhile (`chronoseek store remove`, possibly by another process), the next request for
    // that URL must fetch and ingest it again, not fail on the remembered record.
    let dir = tempfile::tempdir().unwrap();
    let server = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    let opts = EngineOptions { frame_cache_bytes: 0, result_cache_capacity: 0, ..EngineOptions::default() };
    let engine = common::engine_in(dir.path(), opts).await;
    let url = server.url("scenes.webm");
    let first = engine.search(&input(&url), "a yellow screen", TopK::default(), &hidden()).await.unwrap();
    assert_eq!(first.counters.downloads, 1);
    let removed = engine.store().forget_video(&first.video.fingerprint).await.unwrap();
    assert_eq!(removed.rows.videos, 1);
    let again = engine.search(&input(&url), "a yellow screen", TopK::default(), &hidden()).await.unwrap();
    assert_eq!(again.counters.source_memory_hits, 1, "the remembered record was tried first");
    assert_eq!((again.counters.downloads, again.counters.videos_decoded), (1, 1), "then fetched and ingested again");
    assert_eq!(again.results, first.results);
    assert!(engine.store().video(&first.video.fingerprint, engine.model().key()).await.unwrap().is_some());
}

#[tokio::test]
async fn bad_inputs_get_their_protocol_codes_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    let engine = common::engine_in(dir.path(), EngineOptions::default()).await;
    let k = TopK::default();
    let cases: Vec<(String, &str, ErrorCode)> = vec![
        (common::fixture("scenes.mp4").display().to_string(), "   ", ErrorCode::QueryInvalid),
        (common::fixture("scenes.mp4").display().to_string(), "", ErrorCode::QueryInvalid),
        (common::fixture("not-a-video.mp4").display().to_string(), "x", ErrorCode::VideoUnreadable),
        (common::fixture("empty.mp4").display().to_string(), "x", ErrorCode::VideoUnreadable),
        (common::fixture("truncated.mp4").display().to_string(), "x", ErrorCode::VideoUnreadable),
        ("/definitely/not/here.mp4".into(), "x", ErrorCode::VideoFetchFailed),
        (server.url("missing.mp4"), "x", ErrorCode::VideoFetchFailed),
        ("http://127.0.0.1:9/refused.mp4".into(), "x", ErrorCode::VideoFetchFailed),
        ("ftp://example.com/a.mp4".into(), "x", ErrorCode::VideoFetchFailed),
        (server.url("not-a-video.mp4"), "x", ErrorCode::VideoUnreadable),
        ("0".repeat(64), "x", ErrorCode::VideoFetchFailed),
    ];
    for (video, query, code) in cases {
        let err = match chronoseek::ingest::VideoInput::from_cli(&video) {
            Ok(input) => engine.search(&input, query, k, &hidden()).await.unwrap_err(),
            Err(e) => chronoseek::query::SearchError::from(chronoseek::ingest::IngestError::from(e)),
        };
        assert_eq!(err.code(), code, "{video} {query:?}: {err}");
    }
    let counts: std::collections::HashMap<_, _> = engine.store().row_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts["videos"], 0, "no failed video may look complete");
    assert_eq!(counts["frames"], 0, "no frames written for failed videos");
}

#[tokio::test]
async fn download_size_limit_is_enforced() {
    use chronoseek::ingest::{FetchOptions, Fetcher};
    let server = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    let fetcher = Fetcher::new(FetchOptions { max_bytes: 1000, ..FetchOptions::default() }).unwrap();
    let src = VideoSource::parse(&server.url("scenes.mp4")).unwrap();
    let err = fetcher.fetch(&src).await.unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    let local = VideoSource::File(common::fixture("scenes.mp4"));
    assert!(fetcher.fetch(&local).await.is_err());
}

#[tokio::test]
async fn concurrent_cold_requests_for_one_url_share_one_download() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    let engine = std::sync::Arc::new(common::engine_in(dir.path(), EngineOptions::default()).await);
    let url = server.url("scenes.webm");
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let (engine, url) = (engine.clone(), url.clone());
            tokio::spawn(async move {
                engine.search(&input(&url), &format!("a colour {i}"), TopK::default(), &hidden()).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let c = engine.counters();
    assert_eq!(server.gets.load(std::sync::atomic::Ordering::SeqCst), 1, "one GET for twelve requests");
    assert_eq!((c.downloads, c.videos_decoded), (1, 1));
    assert!(c.source_fetch_shared >= 1, "{c:?}");
}

#[tokio::test]
async fn new_queries_under_concurrency_never_fail_and_share_store_versions() {
    let dir = tempfile::tempdir().unwrap();
    let engine = std::sync::Arc::new(common::engine_in(dir.path(), EngineOptions::default()).await);
    let video = input(&common::fixture("scenes.webm").display().to_string());
    engine.search(&video, "warm up", TopK::default(), &hidden()).await.unwrap();
    assert!(engine.flush(std::time::Duration::from_secs(30)).await);
    let v0 = engine.store().text_embeddings_version().await.unwrap();
    let n = 64;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (engine, video) = (engine.clone(), video.clone());
            tokio::spawn(async move {
                engine.search(&video, &format!("query number {i}"), TopK::default(), &hidden()).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("a cache write never fails a search");
    }
    assert!(engine.flush(std::time::Duration::from_secs(60)).await);
    let c = engine.counters();
    assert_eq!(c.text_cache_writes, n + 1, "{c:?}");
    assert_eq!(c.text_cache_write_failures, 0);
    assert_eq!(c.text_store_reads, 0, "queries the store never held cost no store read: {c:?}");
    let added = engine.store().text_embeddings_version().await.unwrap() - v0;
    assert!(added < n / 2, "{n} new queries added {added} table versions; writes must be batched");
    assert_eq!(added, c.text_cache_write_batches - 1, "one version per batch");
    // And they are all readable by a restarted engine.
    drop(engine);
    let engine = common::engine_in(dir.path(), EngineOptions::default()).await;
    let a = engine.search(&video, "query number 7", TopK::default(), &hidden()).await.unwrap();
    assert_eq!((a.counters.text_embeddings, a.counters.text_store_hits, a.counters.text_store_reads), (0, 1, 1));
    // A query the store does not hold goes straight to the tower in the new process too.
    let b = engine.search(&video, "a query nobody asked", TopK::default(), &hidden()).await.unwrap();
    assert_eq!((b.counters.text_embeddings, b.counters.text_store_reads), (1, 0));
}

/// Every write batch adds a fragment that later look-ups read; the writer compacts them every
/// `COMPACT_EVERY` batches, and what it compacted stays readable.
#[tokio::test]
async fn the_query_embedding_table_is_compacted_as_batches_pile_up() {
    use chronoseek::query::text_cache::COMPACT_EVERY;
    let dir = tempfile::tempdir().unwrap();
    let engine = common::engine_in(dir.path(), EngineOptions::default()).await;
    let video = input(&common::fixture("scenes.webm").display().to_string());
    let n = COMPACT_EVERY + 4;
    for i in 0..n {
        engine.search(&video, &format!("sequential query {i}"), TopK::default(), &hidden()).await.unwrap();
        // One batch per query: the writer has nothing else queued.
        assert!(engine.flush(std::time::Duration::from_secs(30)).await);
    }
    let c = engine.counters();
    assert_eq!((c.text_cache_write_batches, c.text_cache_compactions), (n, 1), "{c:?}");
    let fragments = engine.store().text_embeddings_fragments().await.unwrap();
    assert!(fragments <= 8, "{n} batches left {fragments} fragments after compaction");
    drop(engine);
    let engine = common::engine_in(dir.path(), EngineOptions::default()).await;
    for i in [0, COMPACT_EVERY / 2, n - 1] {
        let a = engine.search(&video, &format!("sequential query {i}"), TopK::default(), &hidden()).await.unwrap();
        assert_eq!((a.counters.text_embeddings, a.counters.text_store_hits), (0, 1), "query {i}");
    }
}

/// Near-duplicate frames reuse the embedding of the last embedded frame: far fewer tower runs
/// on a video of still shots, every reused row within a cosine of 0.999 of what the tower gives
/// for that frame, and the same answer.
#[tokio::test]
async fn near_duplicate_frames_reuse_embeddings_without_changing_answers() {
    use chronoseek::ingest::IngestOptions;
    let video = common::fixture("scenes.mp4").display().to_string();
    let (dir_all, dir_dedup) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let every =
        EngineOptions { ingest: IngestOptions { dedup: None, ..IngestOptions::default() }, ..EngineOptions::default() };
    let all = common::engine_in(dir_all.path(), every).await;
    let dedup = common::engine_in(dir_dedup.path(), EngineOptions::default()).await;

    let a = all.search(&input(&video), "a red screen", TopK::default(), &hidden()).await.unwrap();
    let b = dedup.search(&input(&video), "a red screen", TopK::default(), &hidden()).await.unwrap();
    assert_eq!((a.counters.image_embeddings, a.counters.frames_reused), (30, 0));
    assert_eq!(b.counters.image_embeddings + b.counters.frames_reused, 30);
    // Three still scenes: a handful of frames per scene at most need the tower.
    assert!(b.counters.image_embeddings <= 10, "{:?}", b.counters);
    assert_eq!(a.results, b.results);

    async fn frames(e: &chronoseek::query::Engine) -> chronoseek::index::FrameMatrix {
        let v = e.store().list_videos().await.unwrap().pop().unwrap();
        e.store().load_frames(&v).await.unwrap()
    }
    let (fa, fb) = (frames(&all).await, frames(&dedup).await);
    assert_eq!(fa.timestamps_ms, fb.timestamps_ms);
    let mut repeats = 0;
    for i in 0..fa.len() {
        let cos: f32 = fa.row(i).iter().zip(fb.row(i)).map(|(x, y)| x * y).sum();
        assert!(cos >= 0.999, "frame {i}: cosine {cos} between its own and the reused embedding");
        if i > 0 && fb.row(i) == fb.row(i - 1) {
            repeats += 1;
        }
    }
    assert!(repeats as u64 >= b.counters.frames_reused, "reused rows are copies of the previous row");
}
