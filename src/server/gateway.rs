//! The validator's public gateway: `GET /health`, `GET /capabilities`, `POST /search` (fan
//! out to the best responsive miners, merge) and `POST /search/stream` (the same as
//! server-sent events: `accepted`, one `result` per miner that answers, then `done` or
//! `error`). Organic requests never touch scores or weights: the gateway only reads the
//! validator's shared view.
//!
//! Answers are merged by what the validator knows, not by what miners claim ([`merge`]): a
//! miner's own confidence is ignored, each window counts by its rank and the miner's moving
//! score, windows that several miners agree on add up, and miners far below the best are left
//! out. With `--proxy-organic-media` the gateway fetches the user's video once (under the
//! miner's SSRF rules) and hands miners a `/media/<token>` URL of the same shape as a remixed
//! task's, so a media URL says nothing about whether a request is synthetic.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use super::{HttpError, ServeLimits, read_body};
use crate::eval::metrics::iou;
use crate::ingest::{Fetcher, VideoSource};
use crate::protocol::{
    ErrorCode, PROTOCOL_VERSION, ProtocolError, SearchResult, StreamEvent, StreamStatus, VideoSearchRequest,
    VideoSearchResponse, parse_search_request,
};
use crate::validator::client::{MinerCallError, MinerClient};
use crate::validator::media::{MediaRegistry, Published};
use crate::validator::remixer::media_url;
use crate::validator::view::{MinerTarget, Shared};

pub const SERVICE: &str = "validator-gateway";

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Miners queried per request (best moving scores first).
    pub max_miners: usize,
    pub miner_timeout: Duration,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    /// Connection cap and header/body deadlines.
    pub limits: ServeLimits,
    /// Searches (`/search` and `/search/stream`) answered at once; beyond it a request gets
    /// 503 with Retry-After before its video is fetched or a miner is asked. The gateway is
    /// public: each search fans out to miners and, with the media proxy, downloads a video to
    /// this machine's disk.
    pub max_in_flight: usize,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_miners: 3,
            miner_timeout: Duration::from_secs(60),
            max_body_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(10),
            limits: ServeLimits::default(),
            max_in_flight: 32,
        }
    }
}

/// Organic videos served to miners through this validator's `/media`.
#[derive(Debug, Clone)]
pub struct MediaProxy {
    pub registry: Arc<MediaRegistry>,
    /// The address miners reach `/media` at.
    pub public_base: url::Url,
    /// Fetches users' videos (private addresses refused unless the operator allows them).
    pub fetcher: Fetcher,
}

pub struct GatewayState {
    pub shared: Arc<Shared>,
    pub client: MinerClient,
    pub config: GatewayConfig,
    /// `/media/<token>` is served when set (remixed tasks and proxied videos share it).
    pub media: Option<Arc<MediaRegistry>>,
    /// Organic videos are fetched once and served to miners from here when set.
    pub proxy: Option<MediaProxy>,
    /// Ends open event streams at shutdown (axum waits for them otherwise).
    pub shutdown: CancellationToken,
    /// One permit per search in progress (`GatewayConfig::max_in_flight`).
    admission: Arc<tokio::sync::Semaphore>,
}

impl GatewayState {
    pub fn new(
        shared: Arc<Shared>,
        client: MinerClient,
        config: GatewayConfig,
        media: Option<Arc<MediaRegistry>>,
        proxy: Option<MediaProxy>,
    ) -> Self {
        let admission = Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1)));
        Self { shared, client, config, media, proxy, shutdown: CancellationToken::new(), admission }
    }
}

pub fn router(state: Arc<GatewayState>) -> Router {
    let media = state.media.clone().map(super::media::router).unwrap_or_default();
    Router::new()
        .route("/health", get(health))
        .route("/capabilities", get(capabilities))
        .route("/search", post(search))
        .route("/search/stream", post(search_stream))
        .layer(DefaultBodyLimit::disable())
        .fallback(|| async {
            HttpError::new(StatusCode::NOT_FOUND, ProtocolError::new(ErrorCode::InvalidRequest, "no such endpoint"))
        })
        .with_state(state)
        .merge(media)
}

async fn health(State(state): State<Arc<GatewayState>>) -> Response {
    let responsive = state.shared.responsive().len();
    axum::Json(json!({
        "ok": true,
        "status": "ok",
        "service": SERVICE,
        "protocol_versions": [PROTOCOL_VERSION],
        "responsive_miners": responsive,
    }))
    .into_response()
}

async fn capabilities(State(state): State<Arc<GatewayState>>) -> Response {
    axum::Json(json!({
        "ok": true,
        "service": SERVICE,
        "protocol_versions": [PROTOCOL_VERSION],
        "endpoints": ["/health", "/capabilities", "/search", "/search/stream"],
        "merge": {"rule": "rank-fusion weighted by moving score", "rrf_k": RRF_K, "trust_floor": TRUST_FLOOR, "agree_iou": AGREE_IOU},
        "max_miners_per_request": state.config.max_miners,
        "miner_timeout_seconds": state.config.miner_timeout.as_secs_f64(),
        "top_k": {"min": crate::protocol::MIN_TOP_K, "max": crate::protocol::MAX_TOP_K, "default": crate::protocol::DEFAULT_TOP_K},
    }))
    .into_response()
}

/// A request ready to fan out: the miners to ask and, when proxied, the served copy of the
/// video (retired when this is dropped).
struct Prepared {
    req: VideoSearchRequest,
    miners: Vec<MinerTarget>,
    _media: Option<Published>,
    /// Held until the answer (or the event stream) ends.
    _admitted: tokio::sync::OwnedSemaphorePermit,
}

/// Parses the body and picks the miners; the request gets an opaque id if it has none. With
/// the proxy on, the video is fetched and the request rewritten to its `/media` URL.
async fn prepare(state: &GatewayState, body: Body) -> Result<Prepared, HttpError> {
    let body: Bytes = read_body(body, state.config.max_body_bytes, state.config.limits.body_timeout).await?;
    let mut req = parse_search_request(&body).map_err(HttpError::from_code)?;
    if req.request_id.is_none() {
        req.request_id = Some(crate::ingest::unique_id());
    }
    let _admitted = state.admission.clone().try_acquire_owned().map_err(|_| {
        let e = ProtocolError::new(ErrorCode::InternalError, "too many searches in progress; retry shortly");
        HttpError::new(StatusCode::SERVICE_UNAVAILABLE, with_id(e, &req))
    })?;
    let miners: Vec<MinerTarget> = state.shared.responsive().into_iter().take(state.config.max_miners.max(1)).collect();
    if miners.is_empty() {
        return Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            with_id(ProtocolError::new(ErrorCode::InternalError, "no responsive miner"), &req),
        ));
    }
    let media = match &state.proxy {
        Some(proxy) => {
            let published = proxied(state, proxy, &req).await.map_err(|e| HttpError::from_code(with_id(e, &req)))?;
            req.video.url = media_url(&proxy.public_base, &published.token)
                .map_err(|e| HttpError::from_code(ProtocolError::new(ErrorCode::InternalError, e.to_string())))?;
            Some(published)
        }
        None => None,
    };
    Ok(Prepared { req, miners, _media: media, _admitted })
}

/// Fetches the request's video once and serves it until every miner has had its time.
async fn proxied(
    state: &GatewayState,
    proxy: &MediaProxy,
    req: &VideoSearchRequest,
) -> Result<Published, ProtocolError> {
    let source = VideoSource::from_network(&req.video.url);
    let local = proxy
        .fetcher
        .fetch(&source)
        .await
        .map_err(|e| ProtocolError::new(ErrorCode::VideoFetchFailed, format!("fetching the video: {e}")))?;
    let ttl = state.config.miner_timeout + Duration::from_secs(30);
    tracing::debug!(bytes = local.bytes, "gateway: organic video proxied");
    proxy
        .registry
        .publish(&local.path, true, ttl)
        .map_err(|e| ProtocolError::new(ErrorCode::InternalError, e.to_string()))
}

fn with_id(e: ProtocolError, req: &VideoSearchRequest) -> ProtocolError {
    match &req.request_id {
        Some(id) => e.with_detail("request_id", id.clone()),
        None => e,
    }
}

/// Reciprocal-rank constant of the merge (the usual 60: a window's rank matters, gently).
pub const RRF_K: f64 = 60.0;
/// Miners whose moving score is under this fraction of the best queried miner's are left out.
pub const TRUST_FLOOR: f64 = 0.05;
/// Windows from different miners with at least this IoU are one window.
pub const AGREE_IOU: f64 = 0.5;

/// One miner's answer and what the validator knows of the miner.
#[derive(Debug, Clone)]
pub struct MinerAnswer {
    pub uid: u16,
    /// The miner's moving score.
    pub score: f64,
    /// Its windows, in its order.
    pub results: Vec<SearchResult>,
}

/// Merges answers by what the validator knows, not by what miners claim:
///
/// 1. Each miner's weight is its moving score; miners under `TRUST_FLOOR` × the best weight
///    are dropped (when no miner has a score yet, all weigh the same).
/// 2. The window a miner ranks `r`-th (from 1, among its first `top_k`) is worth
///    `weight / (RRF_K + r)`; the miner's own confidence is ignored.
/// 3. Windows of different miners that overlap by IoU ≥ `AGREE_IOU` are one window: their
///    worths add up (a miner cannot reinforce itself), and the first (most trusted) one gives
///    the bounds.
/// 4. Windows go out by worth, with `confidence` = worth / the worth of a window every kept
///    miner ranked first (so 1.0 means "everyone trusted put this first").
pub fn merge(answers: &[MinerAnswer], top_k: usize) -> Vec<SearchResult> {
    let best = answers.iter().map(|a| a.score).filter(|s| s.is_finite()).fold(0.0, f64::max);
    let weight = |a: &MinerAnswer| match best > 1e-9 {
        true if a.score.is_finite() && a.score >= TRUST_FLOOR * best => a.score,
        true => 0.0,
        false => 1.0,
    };
    let mut windows: Vec<(f64, usize, SearchResult)> = Vec::new();
    let mut full = 0.0;
    for (m, a) in answers.iter().enumerate() {
        let w = weight(a);
        if w <= 0.0 {
            continue;
        }
        full += w / (RRF_K + 1.0);
        let valid = a.results.iter().filter(|r| r.start.is_finite() && r.end.is_finite() && r.end > r.start);
        for (rank, r) in valid.take(top_k).enumerate() {
            windows.push((w / (RRF_K + rank as f64 + 1.0), m, *r));
        }
    }
    windows.sort_by(|a, b| b.0.total_cmp(&a.0));
    // (worth, bounds, miners in it)
    let mut clusters: Vec<(f64, SearchResult, Vec<usize>)> = Vec::new();
    for (worth, m, r) in windows {
        let home = clusters
            .iter_mut()
            .find(|(_, rep, miners)| !miners.contains(&m) && iou([rep.start, rep.end], [r.start, r.end]) >= AGREE_IOU);
        match home {
            Some((total, _, miners)) => {
                *total += worth;
                miners.push(m);
            }
            None => clusters.push((worth, r, vec![m])),
        }
    }
    clusters.sort_by(|a, b| b.0.total_cmp(&a.0));
    clusters
        .into_iter()
        .take(top_k)
        .map(|(worth, r, _)| SearchResult { start: r.start, end: r.end, confidence: (worth / full).clamp(0.0, 1.0) })
        .collect()
}

/// The failure when every miner failed, mapped as the reference does: one common
/// VIDEO_FETCH_FAILED → 502, VIDEO_UNREADABLE → 422; all timeouts → 504; else 502.
pub fn all_failed(errors: &[MinerCallError]) -> (StatusCode, ErrorCode) {
    let codes: Vec<ErrorCode> = errors.iter().map(|e| e.code()).collect();
    let common = codes.first().copied().filter(|c| codes.iter().all(|x| x == c));
    match common {
        Some(ErrorCode::VideoFetchFailed) => (StatusCode::BAD_GATEWAY, ErrorCode::VideoFetchFailed),
        Some(ErrorCode::VideoUnreadable) => (StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::VideoUnreadable),
        Some(ErrorCode::Timeout) => (StatusCode::GATEWAY_TIMEOUT, ErrorCode::Timeout),
        _ => (StatusCode::BAD_GATEWAY, ErrorCode::InternalError),
    }
}

fn metadata(selected: &[u16], queried: &[u16]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("source".into(), json!(SERVICE));
    m.insert("selected_uids".into(), json!(selected));
    m.insert("queried_uids".into(), json!(queried));
    m.insert("merge".into(), json!("rank-fusion weighted by moving score"));
    m
}

type Answer = (MinerTarget, Result<Vec<SearchResult>, MinerCallError>);

fn fan_out<'a>(
    state: &'a GatewayState,
    req: &'a VideoSearchRequest,
    miners: Vec<MinerTarget>,
) -> impl futures::Stream<Item = Answer> + 'a {
    let timeout = state.config.miner_timeout;
    futures::stream::iter(miners)
        .map(move |m| async move {
            let r = state.client.search(&m.url, req, timeout).await.map(|a| a.response.results);
            if let Err(e) = &r {
                tracing::info!(uid = m.uid, error = %e, "gateway: miner failed");
            }
            (m, r)
        })
        .buffer_unordered(8)
}

fn answer(m: &MinerTarget, results: Vec<SearchResult>) -> MinerAnswer {
    MinerAnswer { uid: m.uid, score: m.score, results }
}

async fn search(State(state): State<Arc<GatewayState>>, body: Body) -> Response {
    let Prepared { req, miners, _media, _admitted } = match prepare(&state, body).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let queried: Vec<u16> = miners.iter().map(|m| m.uid).collect();
    let answers: Vec<Answer> = fan_out(&state, &req, miners).collect().await;
    let (mut ok, mut errors, mut selected) = (Vec::new(), Vec::new(), Vec::new());
    for (m, r) in answers {
        match r {
            Ok(results) => {
                selected.push(m.uid);
                ok.push(answer(&m, results));
            }
            Err(e) => errors.push(e),
        }
    }
    if ok.is_empty() {
        let (status, code) = all_failed(&errors);
        let msg = format!("every queried miner failed ({} of {})", errors.len(), queried.len());
        return HttpError::new(
            status,
            with_id(ProtocolError::new(code, msg).with_detail("queried_uids", json!(queried)), &req),
        )
        .into_response();
    }
    selected.sort_unstable();
    let results = merge(&ok, req.top_k.get());
    axum::Json(VideoSearchResponse::completed(req.request_id.clone(), results, Some(metadata(&selected, &queried))))
        .into_response()
}

fn event(req: &VideoSearchRequest, status: StreamStatus) -> Result<Event, Infallible> {
    let ev = StreamEvent::new(req.request_id.clone(), status);
    let data = serde_json::to_string(&ev).expect("stream events serialise");
    Ok(Event::default().event(ev.name()).data(data))
}

async fn search_stream(State(state): State<Arc<GatewayState>>, body: Body) -> Response {
    let Prepared { req, miners, _media, _admitted } = match prepare(&state, body).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    let st = state.clone();
    tokio::spawn(async move {
        // The proxied video stays served, and the search counts as in progress, until the
        // stream ends.
        let (_media, _admitted) = (_media, _admitted);
        let queried: Vec<u16> = miners.iter().map(|m| m.uid).collect();
        if tx.send(event(&req, StreamStatus::Accepted { queried_uids: queried.clone() })).await.is_err() {
            return;
        }
        let (mut ok, mut errors, mut selected) = (Vec::new(), Vec::new(), Vec::new());
        let mut answers = Box::pin(fan_out(&st, &req, miners));
        loop {
            let next = tokio::select! {
                _ = st.shutdown.cancelled() => {
                    let error = ProtocolError::new(ErrorCode::InternalError, "the gateway is shutting down").error;
                    let _ = tx.send(event(&req, StreamStatus::Failed { error })).await;
                    return;
                }
                n = answers.next() => n,
            };
            let Some((m, r)) = next else { break };
            match r {
                Ok(results) => {
                    selected.push(m.uid);
                    ok.push(answer(&m, results));
                    let status = StreamStatus::Processing { results: merge(&ok, req.top_k.get()), source_uid: m.uid };
                    if tx.send(event(&req, status)).await.is_err() {
                        return; // the client went away
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if ok.is_empty() {
            let (_, code) = all_failed(&errors);
            let msg = format!("every queried miner failed ({} of {})", errors.len(), queried.len());
            let error = ProtocolError::new(code, msg).with_detail("queried_uids", json!(queried)).error;
            let _ = tx.send(event(&req, StreamStatus::Failed { error })).await;
            return;
        }
        selected.sort_unstable();
        let status = StreamStatus::Completed {
            results: merge(&ok, req.top_k.get()),
            miner_metadata: metadata(&selected, &queried),
        };
        let _ = tx.send(event(&req, status)).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// Serves until `shutdown` resolves; open streams are then ended, and requests in flight get
/// the grace period.
pub async fn serve(
    state: Arc<GatewayState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (grace, limits) = (state.config.shutdown_grace, state.config.limits);
    let token = state.shutdown.clone();
    let shutdown = async move {
        shutdown.await;
        token.cancel();
    };
    super::serve_with_grace(router(state), listener, shutdown, grace, limits).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(start: f64, end: f64, confidence: f64) -> SearchResult {
        SearchResult { start, end, confidence }
    }

    #[test]
    fn a_blind_miner_claiming_certainty_cannot_push_a_good_miner_out_of_the_top_3() {
        let good = MinerAnswer {
            uid: 1,
            score: 0.6,
            results: vec![w(10.0, 20.0, 0.3), w(30.0, 40.0, 0.2), w(50.0, 60.0, 0.1)],
        };
        let blind = MinerAnswer {
            uid: 2,
            score: 0.05,
            results: (0..5).map(|i| w(i as f64 * 100.0 + 200.0, i as f64 * 100.0 + 210.0, 1.0)).collect(),
        };
        let merged = merge(&[blind.clone(), good.clone()], 5);
        let top3: Vec<[f64; 2]> = merged.iter().take(3).map(|r| [r.start, r.end]).collect();
        assert_eq!(top3, vec![[10.0, 20.0], [30.0, 40.0], [50.0, 60.0]], "{merged:?}");
        assert!(merged.iter().all(|r| (0.0..=1.0).contains(&r.confidence)));
        // Near zero: left out entirely.
        let dead = MinerAnswer { score: 0.001, ..blind };
        assert_eq!(merge(&[dead, good], 5).len(), 3);
    }

    #[test]
    fn windows_miners_agree_on_add_up_and_a_miner_cannot_reinforce_itself() {
        let a = MinerAnswer { uid: 1, score: 0.5, results: vec![w(0.0, 10.0, 0.9), w(40.0, 50.0, 0.8)] };
        let b = MinerAnswer { uid: 2, score: 0.5, results: vec![w(20.0, 30.0, 0.9), w(41.0, 50.0, 0.8)] };
        let merged = merge(&[a, b], 3);
        // Both put 40..50 second: together it outweighs either first window.
        assert_eq!([merged[0].start, merged[0].end], [40.0, 50.0], "{merged:?}");
        assert_eq!(merged.len(), 3);
        let same = MinerAnswer { uid: 3, score: 0.5, results: vec![w(0.0, 10.0, 1.0), w(0.5, 10.0, 1.0)] };
        let merged = merge(&[same], 3);
        assert_eq!(merged.len(), 2, "its own near-duplicates stay separate: {merged:?}");
        assert!((merged[0].confidence - 1.0).abs() < 1e-12);
    }

    #[test]
    fn with_no_scores_yet_every_miner_weighs_the_same() {
        let a = MinerAnswer { uid: 1, score: 0.0, results: vec![w(0.0, 1.0, 0.1)] };
        let b = MinerAnswer { uid: 2, score: 0.0, results: vec![w(5.0, 6.0, 0.9)] };
        assert_eq!(merge(&[a, b], 5).len(), 2);
        assert!(merge(&[], 5).is_empty());
    }
}

#[cfg(test)]
mod admission_tests {
    use super::*;
    use crate::chain::{Axon, Metagraph, Neuron};
    use crate::validator::scores::MovingScores;
    use crate::validator::state::ValidatorState;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
    use tower::ServiceExt;

    /// A miner on 127.0.0.1 that answers each search only once `release` gives a permit, and
    /// says when one has arrived.
    async fn held_miner(
        asked: Arc<AtomicUsize>,
        arrived: tokio::sync::mpsc::UnboundedSender<()>,
        release: Arc<tokio::sync::Semaphore>,
    ) -> std::net::SocketAddr {
        let app = Router::new().route(
            "/search",
            post(move |body: Bytes| async move {
                asked.fetch_add(1, SeqCst);
                arrived.send(()).ok();
                release.acquire().await.expect("open").forget();
                let req: Value = serde_json::from_slice(&body).expect("json");
                let id = req["request_id"].as_str().map(str::to_string);
                axum::Json(VideoSearchResponse::completed(
                    id,
                    vec![SearchResult { start: 0.0, end: 1.0, confidence: 0.5 }],
                    None,
                ))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        addr
    }

    fn gateway(miner: std::net::SocketAddr, max_in_flight: usize) -> Arc<GatewayState> {
        let neuron = |uid, hotkey: &str, axon| Neuron {
            uid,
            hotkey: hotkey.into(),
            coldkey: String::new(),
            stake: 0.0,
            axon,
            incentive: 0.0,
            validator_permit: false,
            last_update: 0,
        };
        let metagraph = Metagraph {
            netuid: 1,
            block: 1,
            neurons: vec![
                neuron(0, "validator", None),
                neuron(1, "miner", Some(Axon { ip: miner.ip(), port: miner.port() })),
            ],
        };
        let scores = MovingScores::seeded(&metagraph, 0.1);
        let shared = Arc::new(Shared {
            metagraph: parking_lot::RwLock::new(metagraph),
            state: parking_lot::Mutex::new(ValidatorState::new(1, scores)),
            healthy: parking_lot::RwLock::new([1u16].into_iter().collect()),
            own_hotkey: "validator".into(),
            heartbeat_ms: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
        });
        let signer = Arc::new(crate::protocol::epistula::Signer::from_uri("//Alice").unwrap());
        let config = GatewayConfig { max_in_flight, ..GatewayConfig::default() };
        Arc::new(GatewayState::new(shared, MinerClient::new(signer).unwrap(), config, None, None))
    }

    /// A search that must be answered at once (a refused one): without the limit it would
    /// wait on the held miner, and the test fails instead of hanging.
    async fn refused(state: &Arc<GatewayState>, path: &str) -> Response {
        tokio::time::timeout(Duration::from_secs(10), router(state.clone()).oneshot(search(path)))
            .await
            .unwrap_or_else(|_| panic!("{path} was not refused: it waited for the miner"))
            .unwrap()
    }

    fn search(path: &str) -> axum::http::Request<Body> {
        let body =
            json!({"video": {"url": "https://example.com/v.mp4"}, "query": "q", "top_k": 1, "request_id": "r-9"});
        axum::http::Request::post(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    }

    #[tokio::test]
    async fn searches_beyond_the_limit_get_503_before_any_miner_is_asked() {
        let (asked, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(tokio::sync::Semaphore::new(0)));
        let (arrived_tx, mut arrived) = tokio::sync::mpsc::unbounded_channel();
        let state = gateway(held_miner(asked.clone(), arrived_tx, release.clone()).await, 1);
        // One search in progress, held by its miner.
        let first = tokio::spawn(router(state.clone()).oneshot(search("/search")));
        arrived.recv().await.unwrap();
        for path in ["/search", "/search/stream"] {
            let resp = refused(&state, path).await;
            assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
            assert!(resp.headers().contains_key(axum::http::header::RETRY_AFTER), "{path}");
            let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                (v["error"]["code"].as_str(), v["error"]["details"]["request_id"].as_str()),
                (Some("INTERNAL_ERROR"), Some("r-9")),
                "{v}"
            );
        }
        assert_eq!(asked.load(SeqCst), 1, "refused searches asked no miner");
        release.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
        // Its permit came back: the next search is answered.
        let next = tokio::spawn(router(state.clone()).oneshot(search("/search")));
        arrived.recv().await.unwrap();
        release.add_permits(1);
        assert_eq!(next.await.unwrap().unwrap().status(), StatusCode::OK);
        // A stream holds its permit until it ends.
        let stream = router(state.clone()).oneshot(search("/search/stream")).await.unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        arrived.recv().await.unwrap();
        let resp = refused(&state, "/search").await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "while the stream is open");
        release.add_permits(1);
        let events = axum::body::to_bytes(stream.into_body(), 1 << 20).await.unwrap();
        assert!(String::from_utf8_lossy(&events).contains("event: done"), "{}", String::from_utf8_lossy(&events));
        assert_eq!(asked.load(SeqCst), 3);
    }
}
