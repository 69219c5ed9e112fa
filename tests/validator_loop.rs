//! The validator's supporting parts with real HTTP: video availability checks and their two
//! caches, and the watchdog restarting a loop stuck on a miner that never answers.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::routing::{get, post};
use chronoseek::chain::{Axon, Chain, LocalChain, LocalChainFile, Metagraph, Neuron};
use chronoseek::protocol::Sr25519Key;
use chronoseek::protocol::epistula::Signer;
use chronoseek::validator::availability::{Availability, AvailabilityOptions};
use chronoseek::validator::client::MinerClient;
use chronoseek::validator::run::{Validator, ValidatorConfig};
use chronoseek::validator::state::StateFile;
use chronoseek::validator::tasks::{Interval, Task};
use rand::SeedableRng;
use tokio_util::sync::CancellationToken;

fn opts(dir: &std::path::Path, ttl: Duration) -> AvailabilityOptions {
    AvailabilityOptions {
        accessible_path: dir.join("accessible.json"),
        inaccessible_path: dir.join("inaccessible.json"),
        ttl,
        timeout: Duration::from_secs(5),
        max_attempts: 20,
        required: true,
        yt_dlp: Default::default(),
    }
}

fn task(id: &str, url: String) -> Task {
    Task {
        task_id: id.into(),
        video_url: url,
        query: "q".into(),
        ground_truths: vec![Interval { start: 0.0, end: 1.0 }],
        duration: None,
        split: None,
    }
}

#[tokio::test]
async fn availability_checks_cache_and_skip_dead_videos() {
    let dir = tempfile::tempdir().unwrap();
    let served = tempfile::tempdir().unwrap();
    std::fs::copy(common::fixture("scenes.mp4"), served.path().join("scenes.mp4")).unwrap();
    let server = common::TestServer::start(served.path().to_path_buf()).await;
    let tasks = vec![task("dead", server.url("missing.mp4")), task("live", server.url("scenes.mp4"))];
    let mut a = Availability::new(opts(dir.path(), Duration::from_secs(3600))).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for _ in 0..5 {
        assert_eq!(a.sample(&tasks, &mut rng).await.map(|t| t.task_id.as_str()), Some("live"));
    }
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.path().join(name)).unwrap()).unwrap()
    };
    assert!(read("accessible.json").get(server.url("scenes.mp4")).is_some());
    assert!(read("inaccessible.json").get(server.url("missing.mp4")).is_some());
    // A fresh verdict is trusted: with the video gone, a new instance reading the same cache
    // files still says what it found before.
    std::fs::remove_file(served.path().join("scenes.mp4")).unwrap();
    let mut b = Availability::new(opts(dir.path(), Duration::from_secs(3600))).unwrap();
    assert!(b.is_available(&tasks[1].video_url).await, "cached as reachable");
    assert!(!b.is_available(&tasks[0].video_url).await, "cached as unreachable");
    // Expired verdicts are checked again (the video is gone now).
    let mut c = Availability::new(opts(dir.path(), Duration::ZERO)).unwrap();
    assert!(!c.is_available(&tasks[1].video_url).await);
    assert!(c.sample(&tasks, &mut rng).await.is_none(), "nothing reachable: the step is skipped");
    // Local files count when they exist.
    assert!(c.check(&common::fixture("scenes.mp4").display().to_string()).await);
    assert!(!c.check("/no/such/video.mp4").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_restarts_a_loop_stuck_on_a_silent_miner() {
    let dir = tempfile::tempdir().unwrap();
    // Healthy, but /search never answers.
    let app = axum::Router::new()
        .route("/health", get(|| async { axum::Json(serde_json::json!({"status": "ok", "service": "miner"})) }))
        .route("/search", post(|| async { std::future::pending::<()>().await }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let key = Sr25519Key::from_uri("//watchdog-validator").unwrap();
    let n = |uid, hotkey: String, axon| Neuron {
        uid,
        hotkey,
        coldkey: String::new(),
        stake: 1.0,
        axon,
        incentive: 0.0,
        validator_permit: uid == 0,
        last_update: 0,
    };
    let path = dir.path().join("chain.json");
    let file = LocalChainFile::new(Metagraph {
        netuid: 1,
        block: 0,
        neurons: vec![
            n(0, key.ss58(), None),
            n(1, Sr25519Key::from_uri("//m").unwrap().ss58(), Some(Axon { ip: addr.ip(), port: addr.port() })),
        ],
    });
    LocalChain::create(&path, &file).unwrap();
    let chain: Arc<dyn Chain> = Arc::new(LocalChain::new(&path));
    let mut o = opts(dir.path(), Duration::from_secs(3600));
    o.required = false;
    let validator = Validator::start(
        chain,
        key.clone(),
        MinerClient::new(Arc::new(Signer::new(key))).unwrap(),
        vec![task("t", "http://127.0.0.1:9/v.mp4".into())],
        Availability::new(o).unwrap(),
        StateFile::new(dir.path().join("state.json")),
        ValidatorConfig {
            miner_timeout: Duration::from_secs(3600),
            watchdog: Duration::from_millis(700),
            step_interval: Duration::from_millis(10),
            ..ValidatorConfig::default()
        },
    )
    .await
    .unwrap();
    let cancel = CancellationToken::new();
    let run = tokio::spawn(validator.clone().run(cancel.clone()));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    cancel.cancel();
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("stops when cancelled").unwrap().unwrap();
    let restarts = validator.shared.restarts.load(Ordering::Relaxed);
    assert!(restarts >= 2, "restarts {restarts}");
    assert_eq!(validator.shared.state.lock().steps, 0, "no step ever completed");
}

/// A miner whose `/search` and `/health` answer 200 with a body that never ends (64 KiB chunks of
/// spaces, as slowly as the reader takes them), and `/big` a body whose `Content-Length` states
/// 2 GiB; returns its address and how many bytes it has produced.
async fn endless_miner() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicU64>) {
    use axum::body::{Body, Bytes};
    let produced = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let endless = {
        let produced = produced.clone();
        move || {
            let produced = produced.clone();
            let chunks = futures::stream::repeat_with(move || {
                produced.fetch_add(64 << 10, Ordering::Relaxed);
                Ok::<_, std::convert::Infallible>(Bytes::from(vec![b' '; 64 << 10]))
            });
            async move { Body::from_stream(chunks) }
        }
    };
    let app = axum::Router::new().route("/health", get(endless.clone())).route("/search", post(endless));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, produced)
}

/// A miner that answers every connection with a `Content-Length` of 2 GiB, sends two bytes of
/// it and holds the connection open.
async fn overlong_miner() -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2147483648\r\n\r\n{}";
                let _ = socket.write_all(head.as_bytes()).await;
                tokio::time::sleep(Duration::from_secs(120)).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_miner_that_answers_without_end_is_cut_off_not_buffered() {
    use chronoseek::protocol::{TopK, VideoSearchRequest, VideoUrl};
    use chronoseek::validator::client::{MAX_ANSWER_BYTES, MinerCallError};
    let (addr, produced) = endless_miner().await;
    let key = Sr25519Key::from_uri("//endless-validator").unwrap();
    let client = MinerClient::new(Arc::new(Signer::new(key))).unwrap();
    let request = VideoSearchRequest::new(VideoUrl::parse("https://e.com/v.mp4").unwrap(), "a dog", TopK::default());
    let base = format!("http://{addr}");
    // A minute would let a reader that buffers everything take gigabytes from loopback.
    let err = client.search(&base, &request, Duration::from_secs(60)).await.unwrap_err();
    assert!(matches!(err, MinerCallError::TooLarge { status: 200, max_bytes: MAX_ANSWER_BYTES, .. }), "{err}");
    assert_eq!(err.code(), chronoseek::protocol::ErrorCode::InternalError);
    // What the miner got out: the cap, plus what the sockets' buffers held when reading stopped.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = produced.load(Ordering::Relaxed);
    assert!(sent < 32 << 20, "{sent} bytes produced for a 1-MiB cap");
    // A stated length past the cap is refused before reading the body.
    let big = format!("http://{}", overlong_miner().await);
    let err = client.search(&big, &request, Duration::from_secs(60)).await.unwrap_err();
    assert!(matches!(err, MinerCallError::TooLarge { status: 200, .. }), "{err}");
    // The health probe reads at most 64 KiB: an endless answer is not healthy.
    assert!(!client.healthy(&base, Duration::from_secs(60)).await);
}
