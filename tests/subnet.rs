//! A whole subnet on 127.0.0.1: the dev chain, a real miner (engine, tiny model, fixture
//! videos served over HTTP), a video-blind miner that answers fixed windows, and a miner that
//! is down. The validator runs steps, ranks the good miner first, writes weights to the
//! chain's log; the gateway answers `/search` and `/search/stream` with schema-valid payloads
//! and organic traffic leaves the scores alone.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use chronoseek::chain::{Axon, Chain, LocalChain, LocalChainFile, Metagraph, Neuron};
use chronoseek::index::Store;
use chronoseek::ingest::{FetchOptions, Fetcher};
use chronoseek::protocol::epistula::{
    EpistulaHeaders, HEADER_HOTKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Signer, verify_signature,
};
use chronoseek::protocol::{Sr25519Key, TopK};
use chronoseek::query::{Engine, EngineOptions};
use chronoseek::server::gateway::{self, GatewayConfig, GatewayState, MediaProxy};
use chronoseek::server::miner::{MinerConfig, MinerState};
use chronoseek::validator::availability::{Availability, AvailabilityOptions};
use chronoseek::validator::client::MinerClient;
use chronoseek::validator::media::MediaRegistry;
use chronoseek::validator::remix::RemixOptions;
use chronoseek::validator::remixer::{Consistency, Remixer};
use chronoseek::validator::run::{TaskMode, Validator, ValidatorConfig};
use chronoseek::validator::scoring::ScoringMode;
use chronoseek::validator::sources::SourceCache;
use chronoseek::validator::state::StateFile;
use chronoseek::validator::tasks::{Interval, Task};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const VALIDATOR_URI: &str = "//subnet-test-validator";

/// The video-blind miner: healthy, answers every query with the same windows (claiming high
/// confidence), records whether each request's Epistula signature verifies under the
/// golden-vector rules, and the video URLs it was sent.
async fn blind_miner(
    verified: Arc<AtomicUsize>,
    rejected: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<String>>>,
) -> SocketAddr {
    let app = axum::Router::new()
        .route("/health", get(|| async { axum::Json(json!({"ok": true, "status": "ok", "service": "miner"})) }))
        .route(
            "/search",
            post(move |headers: HeaderMap, body: Bytes| {
                let (verified, rejected, seen) = (verified.clone(), rejected.clone(), seen.clone());
                async move {
                    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    let sig = EpistulaHeaders {
                        timestamp_ms: h(HEADER_TIMESTAMP),
                        signature: h(HEADER_SIGNATURE),
                        hotkey: h(HEADER_HOTKEY),
                    };
                    match verify_signature(&sig, &body) {
                        Ok(_) => verified.fetch_add(1, Ordering::SeqCst),
                        Err(_) => rejected.fetch_add(1, Ordering::SeqCst),
                    };
                    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
                    seen.lock().unwrap().push(req["video"]["url"].as_str().unwrap_or_default().to_string());
                    axum::Json(json!({
                        "protocol_version": "2026-04-10",
                        "request_id": req["request_id"],
                        "status": "completed",
                        "results": [{"start": 0.0, "end": 1.0, "confidence": 0.9}, {"start": 1.0, "end": 2.0, "confidence": 0.8}],
                    }))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The look-up miner: it has the task annotations and answers by video URL and sentence (or
/// by the sentence alone when the URL is unknown), without looking at any video.
async fn lookup_miner(tasks: Vec<Task>) -> SocketAddr {
    let tasks = Arc::new(tasks);
    let app = axum::Router::new()
        .route("/health", get(|| async { axum::Json(json!({"ok": true, "status": "ok", "service": "miner"})) }))
        .route(
            "/search",
            post(move |body: Bytes| {
                let tasks = tasks.clone();
                async move {
                    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
                    let (url, query) =
                        (req["video"]["url"].as_str().unwrap_or(""), req["query"].as_str().unwrap_or(""));
                    let task = tasks
                        .iter()
                        .find(|t| t.video_url == url && t.query == query)
                        .or_else(|| tasks.iter().find(|t| t.query == query));
                    let results: Vec<Value> = task
                        .map(|t| {
                            t.ground_truths
                                .iter()
                                .map(|g| json!({"start": g.start, "end": g.end, "confidence": 1.0}))
                                .collect()
                        })
                        .unwrap_or_default();
                    axum::Json(json!({
                        "protocol_version": "2026-04-10",
                        "request_id": req["request_id"],
                        "status": "completed",
                        "results": results,
                    }))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The real miner, stake-gating against the same dev chain.
async fn real_miner(chain: Arc<dyn Chain>, dir: &std::path::Path) -> SocketAddr {
    let store = Store::open(&dir.join("miner-store").display().to_string()).await.unwrap();
    let fetcher = Fetcher::new(FetchOptions { block_private_addresses: false, ..FetchOptions::default() }).unwrap();
    let engine = Arc::new(Engine::new(store, common::bundled_model(), fetcher, EngineOptions::default()));
    let state = MinerState::new(engine, chain, MinerConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(chronoseek::server::miner::serve(state, listener, std::future::pending()));
    addr
}

fn neuron(uid: u16, hotkey: String, stake: f64, axon: Option<SocketAddr>) -> Neuron {
    Neuron {
        uid,
        hotkey,
        coldkey: String::new(),
        stake,
        axon: axon.map(|a| Axon { ip: a.ip(), port: a.port() }),
        incentive: 0.0,
        validator_permit: uid == 0,
        last_update: 0,
    }
}

/// One task per scene of the two colour-scene fixtures, with the videos served over HTTP.
fn tasks(videos: &common::TestServer) -> Vec<Task> {
    let scenes: Value = serde_json::from_slice(&std::fs::read(common::fixture("scenes.json")).unwrap()).unwrap();
    let mut out = Vec::new();
    for name in ["scenes.mp4", "scenes.webm"] {
        for (i, s) in scenes[name]["scenes"].as_array().unwrap().iter().enumerate() {
            let colour = s["colour"].as_str().unwrap();
            let article = if colour.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
            out.push(Task {
                task_id: format!("{name}#{i}"),
                video_url: videos.url(name),
                query: format!("{article} {colour} screen"),
                ground_truths: vec![Interval { start: s["start"].as_f64().unwrap(), end: s["end"].as_f64().unwrap() }],
                duration: None,
                split: None,
            });
        }
    }
    out
}

async fn sse_events(resp: reqwest::Response) -> Vec<(String, Value)> {
    let text = resp.text().await.unwrap();
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = Some(n.trim().to_string());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            Some((name?, serde_json::from_str(&data).ok()?))
        })
        .collect()
}

/// What one run of the whole subnet leaves behind.
struct Subnet {
    dir: tempfile::TempDir,
    videos: common::TestServer,
    chain_path: std::path::PathBuf,
    validator_key: Sr25519Key,
    validator: Arc<Validator>,
    client: MinerClient,
    /// Where the validator serves `/media` (remix runs).
    media: Option<(Arc<MediaRegistry>, url::Url)>,
    /// Video URLs the blind miner was sent.
    blind_seen: Arc<Mutex<Vec<String>>>,
    /// Mean step score per uid over the run.
    means: std::collections::BTreeMap<u64, f64>,
}

/// Which tasks a run uses: the dataset's, or remixes (with this consistency rate).
#[derive(Clone, Copy)]
enum Mode {
    Dataset,
    Remix { consistency_rate: f64 },
}

/// Mean step score per uid from the steps log.
fn mean_scores(log: &[Value]) -> std::collections::BTreeMap<u64, f64> {
    let mut sums: std::collections::BTreeMap<u64, (f64, usize)> = Default::default();
    for m in log.iter().flat_map(|r| r["miners"].as_array().unwrap()) {
        let e = sums.entry(m["uid"].as_u64().unwrap()).or_default();
        e.0 += m["score"].as_f64().unwrap();
        e.1 += 1;
    }
    sums.into_iter().map(|(u, (s, n))| (u, s / n as f64)).collect()
}

/// The dev chain (commit-reveal on or off), a real, a blind, a down and a look-up miner, and a
/// validator run of `steps` steps; checks the ranking the moving scores give.
async fn run_subnet(commit_reveal: bool, steps: u64, mode: Mode) -> Subnet {
    let dir = tempfile::tempdir().unwrap();
    let videos = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    let validator_key = Sr25519Key::from_uri(VALIDATOR_URI).unwrap();
    let chain_path = dir.path().join("chain.json");
    // Written before the miners start (the real miner reads stakes from it), axons after.
    let mut file = LocalChainFile::new(Metagraph {
        netuid: 1,
        block: 0,
        neurons: vec![neuron(0, validator_key.ss58(), 20_000.0, None)],
    });
    file.tempo = 2;
    file.block_seconds = 0.05;
    if commit_reveal {
        // A beacon round every 200 ms: reveals follow within about a tempo.
        file.enable_commit_reveal(1, 200);
    }
    LocalChain::create(&chain_path, &file).unwrap();
    let chain: Arc<dyn Chain> = Arc::new(LocalChain::new(&chain_path));

    let good = real_miner(chain.clone(), dir.path()).await;
    let (verified, rejected) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let blind_seen = Arc::new(Mutex::new(Vec::new()));
    let blind = blind_miner(verified.clone(), rejected.clone(), blind_seen.clone()).await;
    let lookup = lookup_miner(tasks(&videos)).await;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    file.metagraph.neurons.push(neuron(1, Sr25519Key::from_uri("//m1").unwrap().ss58(), 0.0, Some(good)));
    file.metagraph.neurons.push(neuron(2, Sr25519Key::from_uri("//m2").unwrap().ss58(), 0.0, Some(blind)));
    file.metagraph.neurons.push(neuron(3, Sr25519Key::from_uri("//m3").unwrap().ss58(), 0.0, Some(down)));
    file.metagraph.neurons.push(neuron(4, Sr25519Key::from_uri("//m4").unwrap().ss58(), 0.0, Some(lookup)));
    LocalChain::create(&chain_path, &file).unwrap();

    let client = MinerClient::new(Arc::new(Signer::new(validator_key.clone()))).unwrap();
    let availability = Availability::new(AvailabilityOptions {
        accessible_path: dir.path().join("ok.json"),
        inaccessible_path: dir.path().join("bad.json"),
        ttl: Duration::from_secs(3600),
        timeout: Duration::from_secs(5),
        max_attempts: 10,
        required: true,
        yt_dlp: Default::default(),
    })
    .unwrap();
    let (task_mode, media) = match mode {
        Mode::Dataset => (TaskMode::Dataset, None),
        Mode::Remix { consistency_rate } => {
            let registry = MediaRegistry::open(&dir.path().join("media"), 16).unwrap();
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
            let app = chronoseek::server::media::router(registry.clone());
            tokio::spawn(async move { axum::serve(listener, app).await });
            let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
            let sources = SourceCache::open(&dir.path().join("sources"), 1 << 30, fetcher).unwrap();
            let options = RemixOptions { heights: vec![144, 180, 240], ..RemixOptions::default() };
            let consistency = Consistency { rate: consistency_rate, ..Consistency::default() };
            let remixer =
                Remixer::new(registry.clone(), base.clone(), sources, &tasks(&videos), options, consistency).unwrap();
            (TaskMode::Remix(Arc::new(remixer)), Some((registry, base)))
        }
    };
    let validator = Validator::start(
        chain.clone(),
        validator_key.clone(),
        client.clone(),
        tasks(&videos),
        availability,
        StateFile::new(dir.path().join("state.json")),
        ValidatorConfig {
            scoring: ScoringMode::Ranked,
            top_k: TopK::new(3).unwrap(),
            miner_timeout: Duration::from_secs(120),
            step_interval: Duration::from_millis(50),
            max_steps: Some(steps),
            seed: Some(7),
            steps_log: Some(dir.path().join("steps.jsonl")),
            task_mode,
            ..ValidatorConfig::default()
        },
    )
    .await
    .unwrap();
    validator.clone().run(CancellationToken::new()).await.unwrap();

    let state = validator.shared.state.lock().clone();
    assert_eq!(state.steps, steps);
    let s = state.scores.scores();
    eprintln!("moving scores after {steps} steps: {s:?}");
    eprintln!("{}", std::fs::read_to_string(dir.path().join("steps.jsonl")).unwrap_or_default());
    assert!(s[1] > s[2], "the real miner ranks above the blind one: {s:?}");
    if let Mode::Remix { .. } = mode {
        assert!(s[1] > s[4], "with remixed tasks the real miner ranks above the look-up one: {s:?}");
    }
    assert!(s[1] > 0.05, "{s:?}");
    assert_eq!(s[3], 0.0, "the miner that is down is zeroed");
    assert!(verified.load(Ordering::SeqCst) >= steps as usize, "the blind miner got every step");
    assert_eq!(rejected.load(Ordering::SeqCst), 0, "every request verifies under the golden-vector rules");
    let log: Vec<Value> = std::fs::read_to_string(dir.path().join("steps.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log.len(), steps as usize);
    assert!(log.iter().all(|r| r["miners"].as_array().unwrap().iter().all(|m| m["uid"] != 3)), "uid 3 never queried");
    // Request ids look organic (no `validation-` prefix).
    assert!(log.iter().all(|r| !r["request_id"].as_str().unwrap().starts_with("validation")));
    let means = mean_scores(&log);
    eprintln!("mean step scores: {means:?}");
    if let Some((registry, base)) = &media {
        // Every task video came from this validator's /media, each step under a new token,
        // and nothing is left served or on disk after the steps.
        let seen = blind_seen.lock().unwrap().clone();
        assert!(seen.iter().all(|u| u.starts_with(&format!("{base}media/"))), "{seen:?}");
        let distinct: std::collections::HashSet<&String> = seen.iter().collect();
        assert!(distinct.len() >= steps as usize, "a new URL per task: {seen:?}");
        assert_eq!(registry.live(), 0);
        assert_eq!(std::fs::read_dir(registry.dir()).unwrap().count(), 0);
        assert!(log.iter().all(|r| r["remix"]["cuts"].as_u64().unwrap() >= 4), "a lead-in and 3+ cuts");
        assert!(log.iter().all(|r| r["media_bytes_served"].as_u64().unwrap() > 0));
    }

    Subnet { dir, videos, chain_path, validator_key, validator, client, media, blind_seen, means }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_local_subnet_ranks_the_real_miner_first_and_serves_the_gateway() {
    let Subnet { dir: _dir, videos, chain_path, validator_key, validator, client, media, blind_seen, means } =
        run_subnet(false, 8, Mode::Remix { consistency_rate: 0.25 }).await;
    // The look-up miner's annotations are useless on remixes; the blind miner's windows too.
    assert!(means[&4] <= 0.15, "look-up miner on remix tasks: {means:?}");
    assert!(means[&2] <= 0.15, "blind miner on remix tasks: {means:?}");
    assert!(means[&1] >= 2.0 * means[&4].max(means[&2]) && means[&1] >= 0.3, "real miner on remix tasks: {means:?}");
    // Weights went to the chain's log, the real miner holding the largest.
    let weights = LocalChain::new(&chain_path).weights_log().unwrap();
    let last = weights.last().expect("weights were set");
    assert_eq!(last.hotkey, validator_key.ss58());
    let w_of = |uid: u16| last.uids.iter().position(|u| *u == uid).map_or(0, |i| last.weights[i]);
    assert_eq!(w_of(1), 65535, "{last:?}");
    assert_eq!(w_of(3), 0);

    // The gateway over the validator's view.
    let gw = Arc::new(GatewayState::new(
        validator.shared.clone(),
        client.clone(),
        GatewayConfig { max_miners: 3, miner_timeout: Duration::from_secs(60), ..GatewayConfig::default() },
        media.as_ref().map(|(r, _)| r.clone()),
        // Organic videos go through the validator's /media too (fetched from 127.0.0.1 here).
        media.as_ref().map(|(registry, base)| MediaProxy {
            registry: registry.clone(),
            public_base: base.clone(),
            fetcher: Fetcher::new(FetchOptions { allow_local_files: false, ..FetchOptions::default() }).unwrap(),
        }),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = {
        let stop = stop.clone();
        tokio::spawn(gateway::serve(gw.clone(), listener, async move { stop.cancelled().await }))
    };
    let http = reqwest::Client::new();
    let health: Value = http.get(format!("{base}/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!((health["status"].as_str(), health["service"].as_str()), (Some("ok"), Some("validator-gateway")));
    let caps: Value = http.get(format!("{base}/capabilities")).send().await.unwrap().json().await.unwrap();
    assert_eq!(caps["protocol_versions"][0], "2026-04-10");

    let before = validator.shared.state.lock().clone();
    let body = json!({"video": {"url": videos.url("scenes.mp4")}, "query": "a green screen", "top_k": 3});
    let resp = http.post(format!("{base}/search")).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    common::assert_valid(&common::schema("video-search-response.schema.json"), &v);
    assert_eq!(v["miner_metadata"]["source"], "validator-gateway");
    let queried: Vec<u64> =
        v["miner_metadata"]["queried_uids"].as_array().unwrap().iter().map(|u| u.as_u64().unwrap()).collect();
    assert_eq!(queried.first(), Some(&1), "best moving score first: {queried:?}");
    assert!(!queried.contains(&3));
    assert!(v["results"].as_array().unwrap().len() <= 3);
    // Merged by trust, not by claims: the blind miner's confident windows do not come first;
    // the real miner's green scene does.
    let top = &v["results"][0];
    let top = [top["start"].as_f64().unwrap(), top["end"].as_f64().unwrap()];
    assert!(chronoseek::eval::metrics::iou(top, [10.0, 20.0]) >= 0.5, "{v}");
    // The miners were sent the proxied copy, not the user's URL.
    let last = blind_seen.lock().unwrap().last().cloned().unwrap();
    let (_, media_base) = media.as_ref().unwrap();
    assert!(last.starts_with(&format!("{media_base}media/")), "{last}");
    assert_eq!(media.as_ref().unwrap().0.live(), 0, "retired after the answer");

    let resp = http.post(format!("{base}/search/stream")).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let events = sse_events(resp).await;
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"accepted"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{names:?}");
    assert!(names.iter().filter(|n| **n == "result").count() >= 1);
    for (name, data) in &events {
        common::assert_valid(&common::schema(&format!("video-search-stream-{name}-event.schema.json")), data);
    }

    // Bad input: the protocol's envelope with the right status.
    let resp = http
        .post(format!("{base}/search"))
        .json(&json!({"video": {"url": "x"}, "query": "q", "top_k": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    common::assert_valid(&common::schema("protocol-error.schema.json"), &resp.json::<Value>().await.unwrap());

    // Organic traffic never moves scores.
    assert_eq!(validator.shared.state.lock().scores, before.scores);
    stop.cancel();
    server.await.unwrap().unwrap();

    // A proxy with the miner's SSRF rules (the default outside tests) refuses a private
    // address before any byte is fetched or any miner is asked.
    let (registry, media_base) = media.clone().unwrap();
    let guarded = Arc::new(GatewayState::new(
        validator.shared.clone(),
        client.clone(),
        GatewayConfig::default(),
        Some(registry.clone()),
        Some(MediaProxy {
            registry,
            public_base: media_base,
            fetcher: Fetcher::new(FetchOptions {
                block_private_addresses: true,
                allow_local_files: false,
                ..FetchOptions::default()
            })
            .unwrap(),
        }),
    ));
    let (gets, asked) = (videos.gets.load(Ordering::SeqCst), blind_seen.lock().unwrap().len());
    let resp = gateway::router(guarded)
        .oneshot(
            axum::http::Request::post("/search")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let v: Value = serde_json::from_slice(&axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap()).unwrap();
    common::assert_valid(&common::schema("protocol-error.schema.json"), &v);
    assert_eq!(v["error"]["code"], "VIDEO_FETCH_FAILED", "{v}");
    assert_eq!(videos.gets.load(Ordering::SeqCst), gets, "nothing fetched");
    assert_eq!(blind_seen.lock().unwrap().len(), asked, "no miner asked");
}

#[tokio::test]
async fn the_gateway_maps_total_failure_like_the_reference() {
    use chronoseek::chain::weights::normalize;
    use chronoseek::protocol::ErrorCode;
    use chronoseek::validator::client::MinerCallError;
    let t = |c| MinerCallError::Protocol { url: "u".into(), status: 502, code: c, message: "m".into() };
    let timeout = MinerCallError::Timeout { url: "u".into(), seconds: 1.0 };
    assert_eq!(
        gateway::all_failed(&[t(ErrorCode::VideoFetchFailed), t(ErrorCode::VideoFetchFailed)]).1,
        ErrorCode::VideoFetchFailed
    );
    assert_eq!(gateway::all_failed(&[t(ErrorCode::VideoUnreadable)]).0.as_u16(), 422);
    assert_eq!(gateway::all_failed(&[timeout.clone(), timeout.clone()]).0.as_u16(), 504);
    assert_eq!(gateway::all_failed(&[timeout, t(ErrorCode::VideoFetchFailed)]).1, ErrorCode::InternalError);
    assert_eq!(normalize(&[0.0, 2.0, 2.0]), vec![0.0, 0.5, 0.5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_commit_reveal_the_chain_reveals_the_validators_weights_and_rejects_tampered_commits() {
    use chronoseek::chain::{ChainError, CommitStatus};
    let Subnet { dir: _dir, chain_path, validator_key, validator, .. } =
        run_subnet(true, 4, Mode::Remix { consistency_rate: 0.0 }).await;
    let chain = LocalChain::new(&chain_path);
    let err = chain.set_weights(&validator_key, &[1], &[1.0]).await.unwrap_err();
    assert!(matches!(err, ChainError::CommitRevealEnabled { .. }), "plain set_weights is refused: {err}");
    let own = validator.shared.state.lock().pending_commits.clone();
    assert!(!own.is_empty(), "the validator keeps its commits in its state");
    assert!(chain.commits().unwrap().iter().all(|c| c.hotkey == validator_key.ss58()), "it committed, never set");

    // Tampered and foreign commits next to the validator's.
    let m1 = Sr25519Key::from_uri("//m1").unwrap();
    let only_uid2 = chain
        .prepare_commit(validator_key.public_key().0, &[0, 1, 2, 3], &[0.0, 0.0, 1.0, 0.0], None)
        .await
        .unwrap()
        .unwrap();
    let mut flipped = only_uid2.clone();
    flipped.ciphertext[96 + 8] ^= 1; // a bit of the IBE header's V
    chain.submit_commit(&validator_key, &flipped).await.unwrap();
    chain.submit_commit(&m1, &only_uid2).await.unwrap(); // m1 sends a payload naming the validator
    let honest = chain.prepare_commit(m1.public_key().0, &[2], &[1.0], None).await.unwrap().unwrap();
    chain.submit_commit(&m1, &honest).await.unwrap();
    let err = chain.submit_commit_with_version(&validator_key, &only_uid2, 3).unwrap_err();
    assert!(matches!(&err, ChainError::Dispatch { error, .. } if error == "IncorrectCommitRevealVersion"), "{err}");

    // The dev beacon publishes the rounds; every commit is settled within seconds.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let commits = loop {
        let commits = chain.commits().unwrap();
        if commits.iter().all(|c| c.status != CommitStatus::Pending) {
            break commits;
        }
        assert!(std::time::Instant::now() < deadline, "commits still pending: {commits:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason_of = |hotkey: &str, commit: &[u8]| {
        commits.iter().find(|c| c.hotkey == hotkey && c.commit_hex == hex::encode(commit)).map(|c| c.status.clone())
    };
    assert!(
        matches!(reason_of(&validator_key.ss58(), &flipped.ciphertext), Some(CommitStatus::Rejected { reason, .. }) if reason.contains("undecryptable")),
        "{commits:#?}"
    );
    assert!(
        matches!(reason_of(&m1.ss58(), &only_uid2.ciphertext), Some(CommitStatus::Rejected { reason, .. }) if reason.contains("another hotkey")),
        "{commits:#?}"
    );
    assert!(matches!(reason_of(&m1.ss58(), &honest.ciphertext), Some(CommitStatus::Revealed { .. })));

    // The weights the chain applied: the validator's last reveal holds the real miner first,
    // m1's honest commit stands on its own, and no tampered payload became anyone's weights.
    let log = chain.weights_log().unwrap();
    let ours: Vec<_> = log.iter().filter(|e| e.hotkey == validator_key.ss58()).collect();
    let last = ours.last().expect("the validator's weights were revealed");
    let w_of = |uid: u16| last.uids.iter().position(|u| *u == uid).map_or(0, |i| last.weights[i]);
    assert_eq!(w_of(1), 65535, "{last:?}");
    assert_eq!(w_of(3), 0);
    assert!(ours.iter().all(|e| e.uids != vec![2]), "the tampered commit applied nothing: {ours:?}");
    assert!(log.iter().any(|e| e.hotkey == m1.ss58() && e.uids == vec![2]));
    assert!(log.iter().all(|e| e.block >= 1), "weights land at reveal blocks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_dataset_tasks_the_look_up_miner_wins_which_is_why_remix_is_the_default() {
    let Subnet { means, .. } = run_subnet(false, 6, Mode::Dataset).await;
    assert!(means[&4] >= 0.9, "look-up miner on dataset tasks: {means:?}");
    assert!(means[&2] <= 0.15, "blind miner on dataset tasks: {means:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consistency_probes_catch_the_look_up_miner_and_spare_the_real_one() {
    let Subnet { dir, .. } = run_subnet(false, 4, Mode::Remix { consistency_rate: 1.0 }).await;
    let log: Vec<Value> = std::fs::read_to_string(dir.path().join("steps.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verdicts = |uid: u64| -> Vec<bool> {
        log.iter()
            .flat_map(|r| r["miners"].as_array().unwrap())
            .filter(|m| m["uid"] == uid)
            .filter_map(|m| m["consistent"].as_bool())
            .collect()
    };
    eprintln!("consistent: real {:?}, blind {:?}, look-up {:?}", verdicts(1), verdicts(2), verdicts(4));
    assert!(log.iter().all(|r| r["remix"]["consistency_probe"] == true));
    assert_eq!(verdicts(4).len(), 4);
    assert!(verdicts(4).iter().all(|c| !c), "the look-up miner's answers never agree");
    let real = verdicts(1);
    assert!(real.iter().filter(|c| **c).count() * 2 >= real.len(), "the real miner mostly agrees: {real:?}");
}
