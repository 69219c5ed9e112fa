//! The validator's public gateway: `GET /health`, `GET /capabilities`, `POST /search` (fan
//! out to the best responsive miners, merge) and `POST /search/stream` (the same as
//! server-sent events: `accepted`, one `result` per miner that answers, then `done` or
//! `error`). Organic requests never touch scores or weights: the gateway only reads the
//! validator's shared view.

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
use crate::protocol::{
    ErrorCode, PROTOCOL_VERSION, ProtocolError, SearchResult, StreamEvent, StreamStatus, VideoSearchRequest,
    VideoSearchResponse, parse_search_request,
};
use crate::validator::client::{MinerCallError, MinerClient};
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
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_miners: 3,
            miner_timeout: Duration::from_secs(60),
            max_body_bytes: 64 * 1024,
            shutdown_grace: Duration::from_secs(10),
            limits: ServeLimits::default(),
        }
    }
}

pub struct GatewayState {
    pub shared: Arc<Shared>,
    pub client: MinerClient,
    pub config: GatewayConfig,
    /// Ends open event streams at shutdown (axum waits for them otherwise).
    pub shutdown: CancellationToken,
}

pub fn router(state: Arc<GatewayState>) -> Router {
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
        "max_miners_per_request": state.config.max_miners,
        "miner_timeout_seconds": state.config.miner_timeout.as_secs_f64(),
        "top_k": {"min": crate::protocol::MIN_TOP_K, "max": crate::protocol::MAX_TOP_K, "default": crate::protocol::DEFAULT_TOP_K},
    }))
    .into_response()
}

/// Parses the body and picks the miners; the request gets an opaque id if it has none.
async fn prepare(state: &GatewayState, body: Body) -> Result<(VideoSearchRequest, Vec<MinerTarget>), HttpError> {
    let body: Bytes = read_body(body, state.config.max_body_bytes, state.config.limits.body_timeout).await?;
    let mut req = parse_search_request(&body).map_err(HttpError::from_code)?;
    if req.request_id.is_none() {
        req.request_id = Some(crate::ingest::unique_id());
    }
    let miners: Vec<MinerTarget> = state.shared.responsive().into_iter().take(state.config.max_miners.max(1)).collect();
    if miners.is_empty() {
        return Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            with_id(ProtocolError::new(ErrorCode::InternalError, "no responsive miner"), &req),
        ));
    }
    Ok((req, miners))
}

fn with_id(e: ProtocolError, req: &VideoSearchRequest) -> ProtocolError {
    match &req.request_id {
        Some(id) => e.with_detail("request_id", id.clone()),
        None => e,
    }
}

/// Merges answers: all intervals, by confidence (stable), exact duplicates dropped (start and
/// end to 3 decimals, confidence to 6, as the reference does), at most `top_k`.
pub fn merge(answers: &[Vec<SearchResult>], top_k: usize) -> Vec<SearchResult> {
    let mut all: Vec<SearchResult> = answers.iter().flatten().copied().collect();
    all.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let mut seen = std::collections::HashSet::new();
    all.retain(|r| {
        let key = ((r.start * 1e3).round() as i64, (r.end * 1e3).round() as i64, (r.confidence * 1e6).round() as i64);
        seen.insert(key)
    });
    all.truncate(top_k);
    all
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
    m
}

type Answer = (u16, Result<Vec<SearchResult>, MinerCallError>);

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
            (m.uid, r)
        })
        .buffer_unordered(8)
}

async fn search(State(state): State<Arc<GatewayState>>, body: Body) -> Response {
    let (req, miners) = match prepare(&state, body).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let queried: Vec<u16> = miners.iter().map(|m| m.uid).collect();
    let answers: Vec<Answer> = fan_out(&state, &req, miners).collect().await;
    let (mut ok, mut errors, mut selected) = (Vec::new(), Vec::new(), Vec::new());
    for (uid, r) in answers {
        match r {
            Ok(results) => {
                selected.push(uid);
                ok.push(results);
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
    let (req, miners) = match prepare(&state, body).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Event, Infallible>>(16);
    let st = state.clone();
    tokio::spawn(async move {
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
            let Some((uid, r)) = next else { break };
            match r {
                Ok(results) => {
                    selected.push(uid);
                    ok.push(results);
                    let status = StreamStatus::Processing { results: merge(&ok, req.top_k.get()), source_uid: uid };
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
