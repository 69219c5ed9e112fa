//! The miner's HTTP server: `POST /search` (Epistula-signed, stake-gated), `GET /health`,
//! `GET /metrics`. Wire-compatible with the subnet's Python validators.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use indicatif::ProgressBar;
use serde_json::json;

use super::metrics::{MinerMetrics, StageLabels};
use crate::chain::Chain;
use crate::ingest::IngestError;
use crate::protocol::epistula::{EpistulaHeaders, HEADER_HOTKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Verifier};
use crate::protocol::{ErrorCode, PROTOCOL_VERSION, ProtocolError, VideoSearchResponse, parse_search_request};
use crate::query::{Engine, SearchError};

/// Miner settings (the CLI maps flags and environment variables onto this).
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Callers whose stake (TAO) is below this are refused with 403.
    pub min_validator_stake: f64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Whole-request deadline; past it the answer is TIMEOUT (504).
    pub request_timeout: Duration,
    /// Accepted clock difference of signed timestamps.
    pub signature_window: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            min_validator_stake: 10_000.0,
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(120),
            signature_window: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

pub struct MinerState {
    pub engine: Arc<Engine>,
    pub chain: Arc<dyn Chain>,
    pub verifier: Verifier,
    pub config: MinerConfig,
    pub metrics: MinerMetrics,
}

impl MinerState {
    pub fn new(engine: Arc<Engine>, chain: Arc<dyn Chain>, config: MinerConfig) -> Arc<Self> {
        let metrics = MinerMetrics::new(engine.counters_handle());
        let verifier = Verifier::new(config.signature_window);
        Arc::new(Self { engine, chain, verifier, config, metrics })
    }
}

/// The error envelope as an HTTP response.
pub fn error_response(status: StatusCode, err: ProtocolError) -> Response {
    let mut resp = (status, axum::Json(err)).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub fn router(state: Arc<MinerState>) -> Router {
    Router::new()
        .route("/search", post(search))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        // The body limit is enforced in the handler so even that refusal is an envelope.
        .layer(DefaultBodyLimit::disable())
        .fallback(not_found)
        .with_state(state)
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, ProtocolError::new(ErrorCode::InvalidRequest, "no such endpoint"))
}

async fn health() -> Response {
    axum::Json(json!({"ok": true, "status": "ok", "service": "miner", "protocol_versions": [PROTOCOL_VERSION]}))
        .into_response()
}

async fn metrics(State(state): State<Arc<MinerState>>) -> Response {
    let mut resp = state.metrics.render().into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

fn header_value(headers: &HeaderMap, name: &'static str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Decrements the in-flight gauge however the handler ends.
struct InFlight(MinerMetrics);
impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

async fn search(State(state): State<Arc<MinerState>>, headers: HeaderMap, body: Body) -> Response {
    state.metrics.in_flight.inc();
    let _guard = InFlight(state.metrics.clone());
    let (status, code, resp) = match handle_search(&state, &headers, body).await {
        Ok(resp) => (StatusCode::OK, "OK".to_string(), resp),
        Err((status, err)) => {
            tracing::info!(status = status.as_u16(), code = %err.error.code, message = %err.error.message, "search refused");
            (status, err.error.code.to_string(), error_response(status, err))
        }
    };
    state.metrics.record(status.as_u16(), &code);
    let mut resp = resp;
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    resp
}

type Refusal = (StatusCode, ProtocolError);

fn status_of(code: ErrorCode) -> StatusCode {
    StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn handle_search(state: &MinerState, headers: &HeaderMap, body: Body) -> Result<Response, Refusal> {
    let limit = state.config.max_body_bytes;
    let body: Bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            ProtocolError::new(ErrorCode::InvalidRequest, format!("request body exceeds {limit} bytes")),
        )
    })?;

    // 1. Who is calling: Epistula signature over the canonical body.
    let unauthorized = |msg: String| (StatusCode::UNAUTHORIZED, ProtocolError::new(ErrorCode::InvalidRequest, msg));
    let sig = EpistulaHeaders {
        timestamp_ms: header_value(headers, HEADER_TIMESTAMP)
            .ok_or_else(|| unauthorized("missing X-Epistula-Timestamp header".into()))?,
        signature: header_value(headers, HEADER_SIGNATURE)
            .ok_or_else(|| unauthorized("missing X-Epistula-Signature header".into()))?,
        hotkey: header_value(headers, HEADER_HOTKEY)
            .ok_or_else(|| unauthorized("missing X-Epistula-Hotkey header".into()))?,
    };
    let hotkey = state.verifier.verify(&sig, &body).map_err(|e| {
        if e.is_auth_failure() {
            unauthorized(e.to_string())
        } else {
            (StatusCode::BAD_REQUEST, ProtocolError::new(ErrorCode::InvalidRequest, e.to_string()))
        }
    })?;

    // 2. Is the caller a validator with enough stake.
    let metagraph = state.chain.metagraph().await.map_err(|e| {
        tracing::error!(error = %e, "metagraph unavailable");
        (StatusCode::SERVICE_UNAVAILABLE, ProtocolError::new(ErrorCode::InternalError, "metagraph unavailable"))
    })?;
    let stake = metagraph.stake_of(&hotkey);
    if stake < state.config.min_validator_stake {
        return Err((
            StatusCode::FORBIDDEN,
            ProtocolError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "caller stake {stake} is below the minimum validator stake {}",
                    state.config.min_validator_stake
                ),
            )
            .with_detail("hotkey", hotkey.clone())
            .with_detail("stake", stake)
            .with_detail("min_stake", state.config.min_validator_stake),
        ));
    }

    // 3. What is asked.
    let req = parse_search_request(&body).map_err(|e| (status_of(e.error.code), e))?;
    let request_id = req.request_id.clone();
    let with_id = |mut e: ProtocolError| {
        if let Some(id) = &request_id {
            e = e.with_detail("request_id", id.clone());
        }
        e
    };

    // 4. Answer within the deadline.
    let started = Instant::now();
    let hidden = ProgressBar::hidden();
    let search = state.engine.search(&req.video.url, &req.query, req.top_k, &hidden);
    let answer = match tokio::time::timeout(state.config.request_timeout, search).await {
        Err(_) => {
            return Err((
                StatusCode::GATEWAY_TIMEOUT,
                with_id(ProtocolError::new(
                    ErrorCode::Timeout,
                    format!("no answer within {} s", state.config.request_timeout.as_secs()),
                )),
            ));
        }
        Ok(Err(e)) => return Err(search_refusal(e, with_id)),
        Ok(Ok(a)) => a,
    };
    let path = if answer.video_cached { "cached" } else { "cold" };
    state
        .metrics
        .search_seconds
        .get_or_create(&StageLabels { path: path.into() })
        .observe(started.elapsed().as_secs_f64());
    if !answer.video_cached {
        state.metrics.ingest_seconds.observe(answer.timings.ingest_ms / 1000.0);
    }
    tracing::info!(caller = %hotkey, cache = path, ms = answer.timings.total_ms, results = answer.results.len(), "search answered");
    let meta = answer.metadata(state.engine.model().name(), state.engine.options().segmenter);
    let resp = VideoSearchResponse::completed(request_id, answer.results, Some(meta));
    Ok(axum::Json(resp).into_response())
}

fn search_refusal(e: SearchError, with_id: impl Fn(ProtocolError) -> ProtocolError) -> Refusal {
    let code = e.code();
    let status = match &e {
        SearchError::Ingest(IngestError::Busy) => StatusCode::SERVICE_UNAVAILABLE,
        _ => status_of(code),
    };
    if code == ErrorCode::InternalError || code == ErrorCode::InferenceFailed {
        tracing::error!(error = %e, "search failed");
    }
    (status, with_id(ProtocolError::new(code, e.to_string())))
}

/// Serves until `shutdown` resolves, then lets requests in flight finish for up to the grace
/// period.
pub async fn serve(
    state: Arc<MinerState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = state.config.shutdown_grace;
    super::serve_with_grace(router(state), listener, shutdown, grace).await
}
