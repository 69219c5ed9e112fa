//! Criterion benches for the miner's hot path:
//! - cached search (load frames + score + segment, text embedding cached) on a 1-hour video at
//!   1 fps with 512-d embeddings, in a store holding 1,000 videos: frames from the in-memory
//!   frame cache (the default), and read from LanceDB on every search (`_store_read`);
//! - a text-embedding cache hit.
//!
//! Also prints LanceDB's analysed plan for reading one video's frames, which shows the read
//! going through the BTree index instead of scanning the other videos' rows.
//!
//! Run: `cargo bench --bench search` (release profile).

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};

use chronoseek::index::{FrameMatrix, Store, VideoRecord};
use chronoseek::ingest::{FetchOptions, Fetcher, Fingerprint};
use chronoseek::model::tiny::{TinySpec, write_random_clip};
use chronoseek::model::{ClipEmbedder, DeviceSpec, ModelFiles};
use chronoseek::protocol::TopK;
use chronoseek::query::{Engine, EngineOptions};

const DIM: usize = 512;
const OTHER_VIDEOS: usize = 999;
const HOUR_FRAMES: usize = 3600;

/// Deterministic unit vectors that drift slowly over time, like real frame embeddings.
fn matrix(n: usize, seed: u64) -> FrameMatrix {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut m = FrameMatrix::new(DIM);
    let mut row: Vec<f32> = (0..DIM).map(|_| next()).collect();
    for i in 0..n {
        for v in row.iter_mut() {
            *v += 0.1 * next();
        }
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        let unit: Vec<f32> = row.iter().map(|v| v / norm).collect();
        m.push(i as i64 * 1000, &unit);
    }
    m
}

fn record(fp: Fingerprint, model_key: &str, frames: usize) -> VideoRecord {
    VideoRecord {
        fingerprint: fp,
        model_key: model_key.to_string(),
        ingest_id: format!("bench-{fp}"),
        duration_s: frames as f64,
        source_fps: Some(30.0),
        width: 1280,
        height: 720,
        frame_count: frames as u32,
        sampling: "fixed:1".into(),
        source: "bench".into(),
        created_at_ms: 0,
        transcript_id: None,
        recorded_at_ms: None,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let model_dir = dir.path().join("model");
    // A tiny tower with a 512-d projection: same embedding width as ViT-B/32.
    write_random_clip(&model_dir, TinySpec { projection_dim: DIM, ..TinySpec::default() }, 1).expect("model");
    let model = Arc::new(
        ClipEmbedder::from_files(&ModelFiles::in_dir(&model_dir).expect("files"), "bench", DeviceSpec::Cpu)
            .expect("load"),
    );
    let store_uri = dir.path().join("store").display().to_string();
    let (engine, hour_fp) = rt.block_on(async {
        let store = Store::open(&store_uri).await.expect("store");
        let key = model.key().to_string();
        for chunk in (0..OTHER_VIDEOS).collect::<Vec<_>>().chunks(250) {
            let batch: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    let fp = Fingerprint::of(format!("other-{i}").as_bytes());
                    (record(fp, &key, 60), matrix(60, i as u64))
                })
                .collect();
            store.put_videos(&batch).await.expect("bulk write");
        }
        let hour_fp = Fingerprint::of(b"one hour");
        store.put_video(&record(hour_fp, &key, HOUR_FRAMES), &matrix(HOUR_FRAMES, 4242)).await.expect("write");
        store.optimize().await.expect("optimize");
        let rec = store.video(&hour_fp, &key).await.expect("read").expect("present");
        eprintln!(
            "LanceDB plan for reading one video's frames among {} videos:\n{}",
            OTHER_VIDEOS + 1,
            store.analyze_frames_read(&rec).await.expect("plan")
        );
        // Answers are never cached here; frames are (the default) or not (every search reads
        // the store).
        let engine = |frame_cache_bytes| {
            let opts = EngineOptions { result_cache_capacity: 0, frame_cache_bytes, ..EngineOptions::default() };
            Engine::new(store.clone(), model.clone(), Fetcher::new(FetchOptions::default()).expect("fetcher"), opts)
        };
        ((engine(EngineOptions::default().frame_cache_bytes), engine(0)), hour_fp)
    });
    let (engine, store_engine) = engine;
    let video = hour_fp.to_hex();
    let query = "a man jumps into the pool";
    let hidden = chronoseek::progress::silent();
    // Warm the text-embedding caches (and the frame cache of the first engine).
    rt.block_on(engine.search(
        &chronoseek::ingest::VideoInput::from_cli(&video).unwrap(),
        query,
        TopK::default(),
        &hidden,
    ))
    .expect("warm-up search");
    rt.block_on(store_engine.search(
        &chronoseek::ingest::VideoInput::from_cli(&video).unwrap(),
        query,
        TopK::default(),
        &hidden,
    ))
    .expect("warm-up search");

    c.bench_function("cached_search_1h_1fps_512d_1000_videos", |b| {
        b.iter(|| {
            let a = rt
                .block_on(engine.search(
                    &chronoseek::ingest::VideoInput::from_cli(&video).unwrap(),
                    query,
                    TopK::default(),
                    &hidden,
                ))
                .expect("search");
            assert_eq!(a.counters.image_embeddings + a.counters.videos_decoded + a.counters.text_embeddings, 0);
            a
        })
    });
    c.bench_function("cached_search_1h_1fps_512d_1000_videos_store_read", |b| {
        b.iter(|| {
            let a = rt
                .block_on(store_engine.search(
                    &chronoseek::ingest::VideoInput::from_cli(&video).unwrap(),
                    query,
                    TopK::default(),
                    &hidden,
                ))
                .expect("search");
            assert_eq!(a.counters.frame_loads, 1, "this one reads the frames from LanceDB");
            a
        })
    });
    c.bench_function("text_embedding_cache_hit", |b| {
        b.iter(|| rt.block_on(engine.embed_query(query)).expect("embedding"))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
