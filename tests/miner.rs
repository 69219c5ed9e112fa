//! The miner server over real HTTP on 127.0.0.1: Epistula auth, the stake gate, validation,
//! limits, the SSRF guard, error envelopes checked against the schemas, and /metrics.

mod common;

use std::sync::Arc;
use std::time::Duration;

use chronoseek::chain::{Chain, LocalChain, Metagraph, Neuron};
use chronoseek::index::Store;
use chronoseek::ingest::{FetchOptions, Fetcher};
use chronoseek::protocol::epistula::{HEADER_HOTKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Signer};
use chronoseek::query::{Engine, EngineOptions};
use chronoseek::server::miner::{MinerConfig, MinerState, serve};
use serde_json::{Value, json};

struct Miner {
    base: String,
    dir: tempfile::TempDir,
    videos: common::TestServer,
    client: reqwest::Client,
    validator: Signer,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    engine: Arc<Engine>,
}

struct Setup {
    block_private: bool,
    config: MinerConfig,
    max_concurrent: usize,
    max_queued: usize,
    /// `--max-video-seconds`.
    max_video_seconds: f64,
    /// `--max-ingest-seconds`.
    max_ingest: Option<std::time::Duration>,
    /// How long a content failure is remembered.
    refusal_ttl: std::time::Duration,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            block_private: false,
            config: MinerConfig::default(),
            max_concurrent: 1,
            max_queued: 8,
            max_video_seconds: chronoseek::ingest::SamplerOptions::default().max_duration_s,
            max_ingest: None,
            refusal_ttl: chronoseek::ingest::IngestOptions::default().refusal_ttl,
        }
    }
}

async fn start(setup: Setup) -> Miner {
    let dir = tempfile::tempdir().unwrap();
    let validator = Signer::from_uri("//ChronoSeekTestValidator").unwrap();
    let poor = Signer::from_uri("//Bob").unwrap();
    let metagraph_path = dir.path().join("metagraph.json");
    let neuron = |uid, hotkey: String, stake| Neuron {
        uid,
        hotkey,
        coldkey: String::new(),
        stake,
        axon: None,
        incentive: 0.0,
        validator_permit: true,
        last_update: 0,
    };
    LocalChain::write(
        &metagraph_path,
        &Metagraph {
            netuid: 1,
            block: 1,
            neurons: vec![neuron(0, validator.hotkey(), 20_000.0), neuron(1, poor.hotkey(), 5.0)],
        },
    )
    .unwrap();
    let chain: Arc<dyn Chain> = Arc::new(LocalChain::new(&metagraph_path));
    let store = Store::open(&dir.path().join("store").display().to_string()).await.unwrap();
    // As `chronoseek miner` builds it: no local files, whatever reaches the fetcher.
    let fetcher = Fetcher::new(FetchOptions {
        block_private_addresses: setup.block_private,
        allow_local_files: false,
        ..FetchOptions::default()
    })
    .unwrap();
    let mut opts = EngineOptions::default();
    opts.ingest.max_concurrent = setup.max_concurrent;
    opts.ingest.max_queued = setup.max_queued;
    opts.ingest.sampler.max_duration_s = setup.max_video_seconds;
    opts.ingest.max_time = setup.max_ingest;
    opts.ingest.refusal_ttl = setup.refusal_ttl;
    let engine = Arc::new(Engine::new(store, common::tiny_model(), fetcher, opts));
    let state = MinerState::new(engine.clone(), chain, setup.config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(state, listener, async move {
        let _ = rx.await;
    }));
    let videos = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    Miner {
        base: format!("http://{addr}"),
        dir,
        videos,
        client: reqwest::Client::new(),
        validator,
        shutdown: Some(tx),
        server,
        engine,
    }
}

impl Miner {
    async fn post_signed(&self, signer: &Signer, body: &[u8]) -> (u16, Value, reqwest::header::HeaderMap) {
        let h = signer.sign(body).unwrap();
        let resp = self
            .client
            .post(format!("{}/search", self.base))
            .header("content-type", "application/json")
            .header(HEADER_TIMESTAMP, h.timestamp_ms)
            .header(HEADER_SIGNATURE, h.signature)
            .header(HEADER_HOTKEY, h.hotkey)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let v = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, v, headers)
    }

    /// A body that is not JSON cannot be signed (the signature covers canonical JSON): sent
    /// with a current timestamp and a zero signature.
    async fn post_unsigned(&self, body: Vec<u8>) -> reqwest::Response {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        self.client
            .post(format!("{}/search", self.base))
            .header(HEADER_TIMESTAMP, now.to_string())
            .header(HEADER_SIGNATURE, format!("0x{}", "00".repeat(64)))
            .header(HEADER_HOTKEY, self.validator.hotkey())
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn search(&self, body: Value) -> (u16, Value) {
        let (s, v, _) = self.post_signed(&self.validator, &serde_json::to_vec(&body).unwrap()).await;
        (s, v)
    }
}

fn request(url: &str, query: &str) -> Value {
    json!({"protocol_version": "2026-04-10", "request_id": "r-1", "video": {"url": url}, "query": query, "top_k": 3})
}

/// An INVALID_REQUEST envelope with `status` whose message mentions `needle`.
async fn assert_refused_with(resp: reqwest::Response, status: u16, needle: &str) {
    let got = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_error(got, &v, status, "INVALID_REQUEST");
    assert!(v["error"]["message"].as_str().unwrap().contains(needle), "{v}");
}

fn assert_error(status: u16, v: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{v}");
    assert_eq!(v["error"]["code"], want_code, "{v}");
    common::assert_valid(&common::schema("protocol-error.schema.json"), v);
}

#[tokio::test]
async fn health_is_what_python_validators_check() {
    let m = start(Setup::default()).await;
    let v: Value = m.client.get(format!("{}/health", m.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(v, json!({"ok": true, "status": "ok", "service": "miner", "protocol_versions": ["2026-04-10"]}));
}

#[tokio::test]
async fn signed_search_is_answered_then_served_from_cache() {
    let m = start(Setup::default()).await;
    let schema = common::schema("video-search-response.schema.json");
    let url = m.videos.url("scenes.webm");
    let (s, v) = m.search(request(&url, "a cyan screen")).await;
    assert_eq!(s, 200, "{v}");
    common::assert_valid(&schema, &v);
    assert_eq!(v["request_id"], "r-1");
    assert_eq!(v["status"], "completed");
    assert!(v["results"].as_array().unwrap().len() <= 3);
    assert_eq!(v["miner_metadata"]["cache"], "miss");
    // Python peers send request_id null and may use the legacy form.
    let legacy = json!({"video_url": url, "query": "a yellow screen", "top_k": 2, "request_id": null});
    let (s, v) = m.search(legacy).await;
    assert_eq!(s, 200, "{v}");
    common::assert_valid(&schema, &v);
    assert_eq!(v["miner_metadata"]["cache"], "hit");
    assert!(v.get("request_id").is_none(), "absent, never null: {v}");

    let metrics = m.client.get(format!("{}/metrics", m.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"chronoseek_requests_total{status="200",code="OK"} 2"#), "{metrics}");
    assert!(metrics.contains("chronoseek_video_cache_misses_total 1"), "{metrics}");
    assert!(metrics.contains("chronoseek_search_seconds_bucket"), "{metrics}");
}

#[tokio::test]
async fn authentication_failures_are_401_envelopes() {
    let m = start(Setup::default()).await;
    let body = serde_json::to_vec(&request(&m.videos.url("scenes.webm"), "q")).unwrap();
    // No headers at all.
    let resp = m.client.post(format!("{}/search", m.base)).body(body.clone()).send().await.unwrap();
    let status = resp.status().as_u16();
    assert_error(status, &resp.json().await.unwrap(), 401, "INVALID_REQUEST");
    // A signature over another body.
    let h = m.validator.sign(b"{\"other\": 1}").unwrap();
    let resp = m
        .client
        .post(format!("{}/search", m.base))
        .header(HEADER_TIMESTAMP, &h.timestamp_ms)
        .header(HEADER_SIGNATURE, &h.signature)
        .header(HEADER_HOTKEY, &h.hotkey)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    assert_error(status, &resp.json().await.unwrap(), 401, "INVALID_REQUEST");
    // Expired timestamp (two minutes old).
    let old = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() - 120_000;
    let h = m.validator.sign_at(&body, old).unwrap();
    let send = |h: chronoseek::protocol::epistula::EpistulaHeaders| {
        m.client
            .post(format!("{}/search", m.base))
            .header(HEADER_TIMESTAMP, h.timestamp_ms)
            .header(HEADER_SIGNATURE, h.signature)
            .header(HEADER_HOTKEY, h.hotkey)
            .body(body.clone())
            .send()
    };
    let resp = send(h).await.unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    assert_error(status, &v, 401, "INVALID_REQUEST");
    assert!(v["error"]["message"].as_str().unwrap().contains("clock"), "{v}");
    // Replay of a valid request.
    let h = m.validator.sign(&body).unwrap();
    let first = send(h.clone()).await.unwrap().status().as_u16();
    assert_eq!(first, 200);
    assert_refused_with(send(h).await.unwrap(), 401, "replay").await;
}

#[tokio::test]
async fn callers_below_the_minimum_stake_get_403_with_details() {
    let m = start(Setup::default()).await;
    let bob = Signer::from_uri("//Bob").unwrap();
    let body = serde_json::to_vec(&request(&m.videos.url("scenes.webm"), "q")).unwrap();
    let (s, v, _) = m.post_signed(&bob, &body).await;
    assert_error(s, &v, 403, "INVALID_REQUEST");
    assert_eq!(v["error"]["details"]["hotkey"], bob.hotkey());
    assert_eq!(v["error"]["details"]["stake"], 5.0);
    assert_eq!(v["error"]["details"]["min_stake"], 10_000.0);
    // Unregistered key: stake 0.
    let stranger = Signer::from_uri("//Stranger").unwrap();
    let (s, v, _) = m.post_signed(&stranger, &body).await;
    assert_error(s, &v, 403, "INVALID_REQUEST");
    assert_eq!(v["error"]["details"]["stake"], 0.0);
}

#[tokio::test]
async fn bad_requests_get_the_contract_codes() {
    let m = start(Setup::default()).await;
    let url = m.videos.url("scenes.webm");
    let cases = vec![
        (json!({"video": {"url": url}, "query": "q", "surprise": 1}), 400, "INVALID_REQUEST"),
        (json!({"video": {"url": url}, "query": "q", "top_k": 0}), 400, "INVALID_REQUEST"),
        (json!({"video": {"url": url}, "query": "q", "top_k": 1000000}), 400, "INVALID_REQUEST"),
        (json!({"video": {"url": url}, "query": "  "}), 400, "QUERY_INVALID"),
        (json!({"video": {"url": "not a url"}, "query": "q"}), 400, "INVALID_REQUEST"),
        (
            json!({"protocol_version": "2024-01-01", "video": {"url": url}, "query": "q"}),
            400,
            "UNSUPPORTED_PROTOCOL_VERSION",
        ),
        (json!([1, 2]), 400, "INVALID_REQUEST"),
        (request(&m.videos.url("not-a-video.mp4"), "q"), 422, "VIDEO_UNREADABLE"),
        (request(&m.videos.url("truncated.mp4"), "q"), 422, "VIDEO_UNREADABLE"),
        (request(&m.videos.url("missing.mp4"), "q"), 502, "VIDEO_FETCH_FAILED"),
    ];
    for (body, status, code) in cases {
        let (s, v) = m.search(body.clone()).await;
        assert_error(s, &v, status, code);
    }
    // Malformed JSON cannot even be canonicalised for the signature check: 400, not 401.
    let resp = m.post_unsigned(b"{not json".to_vec()).await;
    let s = resp.status().as_u16();
    assert_error(s, &resp.json().await.unwrap(), 400, "INVALID_REQUEST");
}

#[tokio::test]
async fn huge_bodies_are_refused_with_an_envelope() {
    let m = start(Setup { config: MinerConfig { max_body_bytes: 1024, ..MinerConfig::default() }, ..Setup::default() })
        .await;
    let big = json!({"video": {"url": m.videos.url("scenes.webm")}, "query": "x".repeat(5000)});
    let (s, v) = m.search(big).await;
    assert_error(s, &v, 413, "INVALID_REQUEST");
}

#[tokio::test]
async fn urls_that_point_inside_the_host_are_refused() {
    let m = start(Setup { block_private: true, ..Setup::default() }).await;
    for url in [
        m.videos.url("scenes.webm"),
        format!("http://localhost:{}/scenes.webm", m.videos.addr.port()),
        format!("http://[::ffff:127.0.0.1]:{}/scenes.webm", m.videos.addr.port()),
        "http://169.254.169.254/latest/meta-data".to_string(),
        "http://10.0.0.1/video.mp4".to_string(),
    ] {
        let (s, v) = m.search(request(&url, "q")).await;
        assert_error(s, &v, 502, "VIDEO_FETCH_FAILED");
        assert!(v["error"]["message"].as_str().unwrap().contains("private"), "{url}: {v}");
    }
    assert_eq!(m.videos.gets.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was fetched");
}

#[tokio::test]
async fn deadline_gives_timeout() {
    let m = start(Setup {
        config: MinerConfig { request_timeout: Duration::from_millis(1), ..MinerConfig::default() },
        ..Setup::default()
    })
    .await;
    let (s, v) = m.search(request(&m.videos.url("scenes.mp4"), "q")).await;
    assert_error(s, &v, 504, "TIMEOUT");
    assert_eq!(v["error"]["details"]["request_id"], "r-1");
}

#[tokio::test]
async fn cold_ingests_beyond_the_queue_get_503_with_retry_after() {
    let m = start(Setup { max_concurrent: 1, max_queued: 0, ..Setup::default() }).await;
    // A long video keeps the only ingest slot busy.
    long_video(m.dir.path());
    // Serve it over HTTP from the temp dir.
    let server = common::TestServer::start(m.dir.path().to_path_buf()).await;
    let slow = {
        let body = serde_json::to_vec(&request(&server.url("long.mkv"), "q")).unwrap();
        let h = m.validator.sign(&body).unwrap();
        m.client
            .post(format!("{}/search", m.base))
            .header(HEADER_TIMESTAMP, h.timestamp_ms)
            .header(HEADER_SIGNATURE, h.signature)
            .header(HEADER_HOTKEY, h.hotkey)
            .body(body)
            .send()
    };
    let slow = tokio::spawn(slow);
    // Wait until the long video has been fetched: its ingest now holds the only slot.
    let started = std::time::Instant::now();
    while server.gets.load(std::sync::atomic::Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (s, v, headers) =
        m.post_signed(&m.validator, &serde_json::to_vec(&request(&m.videos.url("odd.mkv"), "q")).unwrap()).await;
    assert_error(s, &v, 503, "INTERNAL_ERROR");
    assert!(headers.get("retry-after").is_some());
    assert_eq!(slow.await.unwrap().unwrap().status().as_u16(), 200);
}

fn long_video(dir: &std::path::Path) {
    common::long_video(&dir.join("long.mkv"));
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight() {
    let mut m = start(Setup::default()).await;
    long_video(m.dir.path());
    let server = common::TestServer::start(m.dir.path().to_path_buf()).await;
    let body = serde_json::to_vec(&request(&server.url("long.mkv"), "q")).unwrap();
    let h = m.validator.sign(&body).unwrap();
    let slow = m
        .client
        .post(format!("{}/search", m.base))
        .header(HEADER_TIMESTAMP, h.timestamp_ms)
        .header(HEADER_SIGNATURE, h.signature)
        .header(HEADER_HOTKEY, h.hotkey)
        .body(body)
        .send();
    let slow = tokio::spawn(slow);
    let started = std::time::Instant::now();
    while server.gets.load(std::sync::atomic::Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Shut down while the request is being answered: it still completes.
    let _ = m.shutdown.take().unwrap().send(());
    let resp = slow.await.unwrap().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["miner_metadata"]["frames"], 3600);
    tokio::time::timeout(Duration::from_secs(10), &mut m.server).await.expect("server stops").unwrap().unwrap();
    // New connections are refused once it has stopped.
    assert!(m.client.get(format!("{}/health", m.base)).send().await.is_err());
}

/// Work counters that must stay at zero when a request is refused at the edge.
fn no_work(c: &chronoseek::CounterSnapshot) -> bool {
    c.downloads + c.files_hashed + c.videos_decoded + c.frames_decoded + c.image_embeddings + c.text_embeddings == 0
}

#[tokio::test]
async fn local_files_and_other_non_http_locations_are_refused_with_one_answer() {
    let m = start(Setup::default()).await;
    let fixture = common::fixture("scenes.mp4");
    let fp = blake3::hash(&std::fs::read(&fixture).unwrap()).to_hex().to_string();
    let before = m.engine.counters();
    let mut messages = std::collections::BTreeSet::new();
    for url in [
        format!("file://{}", fixture.display()),
        "file:///etc/passwd".to_string(),
        "file:///no/such/file.mp4".to_string(),
        "file:///tmp".to_string(),
        "file:///proc/self/pagemap".to_string(),
        "FILE:///etc/passwd".to_string(),
        "file://localhost/etc/passwd".to_string(),
        fixture.display().to_string(),
        "/etc/passwd".to_string(),
        "./scenes.mp4".to_string(),
        fp.clone(),
        "data:video/mp4;base64,AAAAIGZ0eXBpc29t".to_string(),
        "ftp://example.com/a.mp4".to_string(),
        "gopher://example.com/".to_string(),
        format!("http://user:pw@{}/scenes.webm", m.videos.addr),
        format!("https://user@{}/scenes.webm", m.videos.addr),
        "http://".to_string(),
        "javascript:alert(1)".to_string(),
        format!("http://{}/{}", m.videos.addr, "a".repeat(9000)),
    ] {
        let (s, v) = m.search(request(&url, "q")).await;
        assert_error(s, &v, 400, "INVALID_REQUEST");
        assert_eq!(v["error"]["details"]["request_id"], "r-1", "{url}: {v}");
        messages.insert(v["error"]["message"].as_str().unwrap().to_string());
    }
    // No existence oracle: an existing file, a missing one and a directory read the same.
    assert_eq!(messages.len(), 1, "{messages:?}");
    let c = m.engine.counters().since(&before);
    assert!(no_work(&c), "{c:?}");
    assert_eq!(m.videos.gets.load(std::sync::atomic::Ordering::SeqCst), 0);
    let counts: std::collections::HashMap<_, _> = m.engine.store().row_counts().await.unwrap().into_iter().collect();
    assert_eq!((counts["videos"], counts["frames"], counts["sources"]), (0, 0, 0), "nothing stored");
}

#[tokio::test]
async fn every_spelling_of_a_private_address_is_refused_without_a_fetch() {
    let m = start(Setup { block_private: true, ..Setup::default() }).await;
    let port = m.videos.addr.port();
    let before = m.engine.counters();
    for host in [
        "127.0.0.1".to_string(),
        "2130706433".to_string(), // decimal
        "0x7f000001".to_string(), // hex
        "0x7f.0.0.1".to_string(), // mixed
        "0177.0.0.1".to_string(), // octal
        "127.1".to_string(),      // short form
        "[::1]".to_string(),
        "[::ffff:7f00:1]".to_string(),
        "[0:0:0:0:0:ffff:127.0.0.1]".to_string(),
        "localhost".to_string(),
        "LocalHost".to_string(),
    ] {
        let url = format!("http://{host}:{port}/scenes.webm");
        let (s, v) = m.search(request(&url, "q")).await;
        assert_error(s, &v, 502, "VIDEO_FETCH_FAILED");
        assert!(v["error"]["message"].as_str().unwrap().contains("private"), "{url}: {v}");
    }
    let c = m.engine.counters().since(&before);
    assert!(no_work(&c), "{c:?}");
    assert_eq!(m.videos.gets.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was fetched");
}

#[tokio::test]
async fn a_playlist_naming_local_segments_is_not_followed() {
    let m = start(Setup::default()).await;
    common::playlist_with_local_segment(m.dir.path());
    let server = common::TestServer::start(m.dir.path().to_path_buf()).await;
    let before = m.engine.counters();
    let (s, v) = m.search(request(&server.url("list.m3u8"), "q")).await;
    assert_error(s, &v, 422, "VIDEO_UNREADABLE");
    let c = m.engine.counters().since(&before);
    assert_eq!((c.frames_decoded, c.image_embeddings), (0, 0), "{c:?}");
}

#[tokio::test]
async fn a_stream_that_states_no_duration_is_refused_past_the_limit_and_nothing_is_stored() {
    let m = start(Setup { max_video_seconds: 5.5, ..Setup::default() }).await;
    // Twelve seconds of raw H.264 (a format accepted from the network), which states no
    // duration for the header check to refuse.
    let raw = m.dir.path().join("twelve.h264");
    let ok = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x36:rate=25:duration=12"])
        .args(["-c:v", "libx264", "-f", "h264"])
        .arg(&raw)
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(ok.success());
    let server = common::TestServer::start(m.dir.path().to_path_buf()).await;
    let before = m.engine.counters();
    let (s, v) = m.search(request(&server.url("twelve.h264"), "q")).await;
    assert_error(s, &v, 422, "VIDEO_UNREADABLE");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("exceeds the limit of 5.5 s"), "{message}");
    let c = m.engine.counters().since(&before);
    // Decoding stopped at the first frame after 6.5 s; the seven frames sampled before it
    // waited for a full batch and were never embedded; nothing was stored.
    assert_eq!((c.downloads, c.videos_decoded, c.image_embeddings), (1, 0, 0), "{c:?}");
    assert_eq!((c.videos_refused, c.refusals_remembered), (1, 0), "{c:?}");
    assert!(m.engine.store().list_videos().await.unwrap().is_empty());

    // The same bytes again, under the same URL (its validators unchanged: not downloaded)
    // or another (downloaded, known by fingerprint): the same answer, without a decode.
    std::fs::copy(&raw, m.dir.path().join("again.h264")).unwrap();
    for (name, downloads) in [("twelve.h264", 0), ("again.h264", 1)] {
        let before = m.engine.counters();
        let (s, again) = m.search(request(&server.url(name), "q")).await;
        assert_error(s, &again, 422, "VIDEO_UNREADABLE");
        assert_eq!(again["error"]["message"], v["error"]["message"]);
        let c = m.engine.counters().since(&before);
        assert_eq!(
            (c.downloads, c.frames_decoded, c.videos_refused, c.refusals_remembered),
            (downloads, 0, 0, 1),
            "{name}: {c:?}"
        );
    }
    // Changed bytes under the first URL are fetched and decoded.
    std::fs::copy(common::fixture("scenes.webm"), &raw).unwrap();
    let before = m.engine.counters();
    let (s, _) = m.search(request(&server.url("twelve.h264"), "q")).await;
    let c = m.engine.counters().since(&before);
    // (Refused again, but decoded: the 12-s WebM is over the 5.5-s limit too.)
    assert_eq!((s, c.downloads, c.videos_refused, c.refusals_remembered), (422, 1, 1, 0), "{c:?}");
}

#[tokio::test]
async fn a_video_that_costs_more_than_the_ingest_budget_times_out_and_nothing_is_stored() {
    // A budget spent before the first frame: the decoder stops at once, whatever the video.
    let m = start(Setup { max_ingest: Some(std::time::Duration::ZERO), ..Setup::default() }).await;
    let before = m.engine.counters();
    let (s, v) = m.search(request(&m.videos.url("scenes.webm"), "q")).await;
    assert_error(s, &v, 504, "TIMEOUT");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("time limit of 0 s"), "{message}");
    let c = m.engine.counters().since(&before);
    assert_eq!((c.downloads, c.videos_decoded, c.image_embeddings), (1, 0, 0), "{c:?}");
    assert_eq!((c.videos_refused, c.refusals_remembered), (1, 0), "{c:?}");
    assert!(m.engine.store().list_videos().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_content_failure_is_decoded_again_once_it_is_forgotten() {
    let m = start(Setup { refusal_ttl: std::time::Duration::ZERO, ..Setup::default() }).await;
    for _ in 0..2 {
        let before = m.engine.counters();
        let (s, v) = m.search(request(&m.videos.url("truncated.mp4"), "q")).await;
        assert_error(s, &v, 422, "VIDEO_UNREADABLE");
        let c = m.engine.counters().since(&before);
        assert_eq!((c.videos_refused, c.refusals_remembered), (1, 0), "{c:?}");
    }
}

#[tokio::test]
async fn hostile_bodies_get_codes_and_cause_no_work() {
    let m = start(Setup::default()).await;
    let url = m.videos.url("scenes.webm");
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let before = m.engine.counters();
    // Bodies that are not JSON cannot be signed (the signature covers canonical JSON): they
    // are refused as bad requests before any signature check.
    for body in [deep.into_bytes(), b"{\"video\": {\"url\": \"".to_vec(), b"\xff\xfe{}".to_vec()] {
        let resp = m.post_unsigned(body).await;
        let s = resp.status().as_u16();
        assert_error(s, &resp.json().await.unwrap(), 400, "INVALID_REQUEST");
    }
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"null".to_vec(), 400, "INVALID_REQUEST"),
        (b"\"a string\"".to_vec(), 400, "INVALID_REQUEST"),
        (
            serde_json::to_vec(&json!({"video": {"url": url}, "query": "q", "top_k": 2.5})).unwrap(),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::to_vec(&json!({"video": {"url": url}, "query": "q", "top_k": -1})).unwrap(),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::to_vec(&json!({"video": {"url": url}, "query": "q", "top_k": 1e300})).unwrap(),
            400,
            "INVALID_REQUEST",
        ),
        (
            serde_json::to_vec(&json!({"video": {"url": url}, "query": "q", "top_k": "5"})).unwrap(),
            400,
            "INVALID_REQUEST",
        ),
        (serde_json::to_vec(&json!({"video": {"url": url}, "query": "\u{0}\t\n "})).unwrap(), 400, "QUERY_INVALID"),
        (serde_json::to_vec(&json!({"video": {"url": [url]}, "query": "q"})).unwrap(), 400, "INVALID_REQUEST"),
        (
            serde_json::to_vec(&json!({"video": {"url": {"nested": url}}, "query": "q"})).unwrap(),
            400,
            "INVALID_REQUEST",
        ),
        (serde_json::to_vec(&json!({"video": url, "query": "q"})).unwrap(), 400, "INVALID_REQUEST"),
        (
            serde_json::to_vec(&json!({"video": {"url": format!("http://{}/\u{0}x", m.videos.addr)}, "query": "q"}))
                .unwrap(),
            400,
            "INVALID_REQUEST",
        ),
    ];
    for (body, status, code) in cases {
        let (s, v, _) = m.post_signed(&m.validator, &body).await;
        assert_eq!(s, status, "{}: {v}", String::from_utf8_lossy(&body[..body.len().min(80)]));
        assert_eq!(v["error"]["code"], code, "{v}");
    }
    let c = m.engine.counters().since(&before);
    assert!(no_work(&c), "{c:?}");
}

#[tokio::test]
async fn a_signature_replayed_without_its_0x_prefix_is_refused() {
    let m = start(Setup::default()).await;
    let body = serde_json::to_vec(&request(&m.videos.url("scenes.webm"), "q")).unwrap();
    let h = m.validator.sign(&body).unwrap();
    let send = |sig: String| {
        m.client
            .post(format!("{}/search", m.base))
            .header(HEADER_TIMESTAMP, h.timestamp_ms.clone())
            .header(HEADER_SIGNATURE, sig)
            .header(HEADER_HOTKEY, h.hotkey.clone())
            .body(body.clone())
            .send()
    };
    assert_eq!(send(h.signature.clone()).await.unwrap().status().as_u16(), 200);
    for replay in
        [h.signature.trim_start_matches("0x").to_string(), h.signature.to_ascii_uppercase().replacen("0X", "0x", 1)]
    {
        assert_refused_with(send(replay).await.unwrap(), 401, "replay").await;
    }
}

#[tokio::test]
async fn stalled_clients_are_cut_off_and_health_keeps_answering() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = chronoseek::server::ServeLimits {
        max_connections: 32,
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
    };
    let m = start(Setup { config: MinerConfig { limits, ..MinerConfig::default() }, ..Setup::default() }).await;
    let addr = m.base.trim_start_matches("http://").to_string();
    // 200 clients that send half a request line and stall (more than the connection cap).
    let mut stalled = Vec::new();
    for _ in 0..200 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"POST /search HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        stalled.push(s);
    }
    // /health still answers, within a few header timeouts.
    let t = std::time::Instant::now();
    let health = tokio::time::timeout(Duration::from_secs(20), m.client.get(format!("{}/health", m.base)).send())
        .await
        .expect("/health answered under load")
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert!(t.elapsed() < Duration::from_secs(20));
    // The stalled connections were closed by the server (read sees EOF or a reset).
    let mut closed = 0;
    for s in &mut stalled[..32] {
        let mut buf = [0u8; 512];
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, 32, "stalled connections must be closed after the header timeout");
    drop(stalled);
    // A body that trickles: 408 with the envelope once the body deadline passes.
    let body = serde_json::to_vec(&request(&m.videos.url("scenes.webm"), "q")).unwrap();
    let h = m.validator.sign(&body).unwrap();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /search HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n{HEADER_TIMESTAMP}: {}\r\n{HEADER_SIGNATURE}: {}\r\n{HEADER_HOTKEY}: {}\r\ncontent-length: {}\r\n\r\n",
        h.timestamp_ms,
        h.signature,
        h.hotkey,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&body[..10]).await.unwrap();
    let mut resp = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut resp)).await.expect("answered").unwrap();
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("INVALID_REQUEST"), "{text}");
}
