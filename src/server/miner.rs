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
use serde_json::json;

use super::metrics::{MinerMetrics, StageLabels};
use super::{HttpError, ServeLimits, read_body};
use crate::chain::Chain;
use crate::ingest::{IngestError, VideoInput};
use crate::protocol::epistula::{EpistulaHeaders, HEADER_HOTKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Verifier};
use crate::protocol::{ErrorCode, PROTOCOL_VERSION, ProtocolError, VideoSearchResponse, parse_search_request};
use crate::query::{Engine, SearchError};

/// The least stake a caller needs: a finite, non-negative number by construction, so the gate
/// `stake < minimum` can never be disabled by a NaN (every comparison with NaN is false).
///
/// ```
/// use chronoseek::server::miner::MinStake;
/// assert_eq!("10000".parse::<MinStake>().unwrap().get(), 10_000.0);
/// for bad in ["NaN", "nan", "inf", "-inf", "-1", "", "ten"] {
///     assert!(bad.parse::<MinStake>().is_err(), "{bad}");
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct MinStake(f64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MinStakeError {
    #[error("not a number: {0:?}")]
    NotANumber(String),
    #[error("the minimum stake must be a finite number that is zero or more, got {0}")]
    OutOfRange(String),
}

impl MinStake {
    pub fn new(v: f64) -> Result<Self, MinStakeError> {
        if v.is_finite() && v >= 0.0 { Ok(Self(v)) } else { Err(MinStakeError::OutOfRange(v.to_string())) }
    }
    pub fn get(self) -> f64 {
        self.0
    }
    /// True when `stake` meets the minimum (a NaN stake never does).
    pub fn admits(self, stake: f64) -> bool {
        stake >= self.0
    }
}

impl std::str::FromStr for MinStake {
    type Err = MinStakeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v: f64 = s.trim().parse().map_err(|_| MinStakeError::NotANumber(s.to_string()))?;
        Self::new(v)
    }
}

impl std::fmt::Display for MinStake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Miner settings (the CLI maps flags and environment variables onto this).
#[derive(Debug, Clone)]
pub struct MinerConfig {
    /// Callers whose stake (TAO) is below this are refused with 403.
    pub min_validator_stake: MinStake,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Whole-request deadline; past it the answer is TIMEOUT (504).
    pub request_timeout: Duration,
    /// Accepted clock difference of signed timestamps.
    pub signature_window: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// Connection cap and header/body deadlines.
    pub limits: ServeLimits,
    /// Searches answered at once; beyond it a request gets 503 with Retry-After at once
    /// instead of every request in a burst missing its deadline together.
    pub max_in_flight: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            min_validator_stake: MinStake(10_000.0),
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_secs(120),
            signature_window: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
            limits: ServeLimits::default(),
            max_in_flight: 512,
        }
    }
}

pub struct MinerState {
    pub engine: Arc<Engine>,
    pub chain: Arc<dyn Chain>,
    pub verifier: Verifier,
    pub config: MinerConfig,
    pub metrics: MinerMetrics,
    /// Admission: one permit per search in progress.
    admission: tokio::sync::Semaphore,
}

impl MinerState {
    pub fn new(engine: Arc<Engine>, chain: Arc<dyn Chain>, config: MinerConfig) -> Arc<Self> {
        let metrics = MinerMetrics::new(engine.counters_handle());
        let verifier = Verifier::new(config.signature_window);
        let admission = tokio::sync::Semaphore::new(config.max_in_flight.max(1));
        Arc::new(Self { engine, chain, verifier, config, metrics, admission })
    }
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
    HttpError::new(StatusCode::NOT_FOUND, ProtocolError::new(ErrorCode::InvalidRequest, "no such endpoint"))
        .into_response()
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
        Err(err) => {
            let e = &err.error.error;
            tracing::info!(status = err.status.as_u16(), code = %e.code, message = %e.message, "search refused");
            (err.status, e.code.to_string(), err.into_response())
        }
    };
    state.metrics.record(status.as_u16(), &code);
    resp
}

async fn handle_search(state: &MinerState, headers: &HeaderMap, body: Body) -> Result<Response, HttpError> {
    let limits = state.config.limits;
    let body: Bytes = read_body(body, state.config.max_body_bytes, limits.body_timeout).await?;

    // 1. Who is calling: Epistula signature over the canonical body.
    let unauthorized =
        |msg: String| HttpError::new(StatusCode::UNAUTHORIZED, ProtocolError::new(ErrorCode::InvalidRequest, msg));
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
            HttpError::new(StatusCode::BAD_REQUEST, ProtocolError::new(ErrorCode::InvalidRequest, e.to_string()))
        }
    })?;

    // 2. Is the caller a validator with enough stake.
    let metagraph = state.chain.metagraph().await.map_err(|e| {
        tracing::error!(error = %e, "metagraph unavailable");
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProtocolError::new(ErrorCode::InternalError, "metagraph unavailable"),
        )
    })?;
    let stake = metagraph.stake_of(&hotkey);
    if !state.config.min_validator_stake.admits(stake) {
        return Err(HttpError::new(
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
            .with_detail("min_stake", state.config.min_validator_stake.get()),
        ));
    }

    // 3. What is asked.
    let req = parse_search_request(&body).map_err(HttpError::from_code)?;
    let request_id = req.request_id.clone();
    let with_id = |mut e: ProtocolError| {
        if let Some(id) = &request_id {
            e = e.with_detail("request_id", id.clone());
        }
        e
    };

    // 4. Admission, then the answer within the deadline.
    let _admitted = state.admission.try_acquire().map_err(|_| {
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            with_id(ProtocolError::new(ErrorCode::InternalError, "too many searches in progress; retry shortly")),
        )
    })?;
    let started = Instant::now();
    let hidden = crate::progress::silent();
    // The URL is typed: it becomes a network source, never a path or a fingerprint.
    let video = VideoInput::from_network(&req.video.url);
    let search = state.engine.search(&video, &req.query, req.top_k, &hidden);
    let answer = match tokio::time::timeout(state.config.request_timeout, search).await {
        Err(_) => {
            return Err(HttpError::new(
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

fn search_refusal(e: SearchError, with_id: impl Fn(ProtocolError) -> ProtocolError) -> HttpError {
    let code = e.code();
    if code == ErrorCode::InternalError || code == ErrorCode::InferenceFailed {
        tracing::error!(error = %e, "search failed");
    }
    let refusal = HttpError::from_code(with_id(ProtocolError::new(code, e.to_string())));
    match &e {
        SearchError::Ingest(IngestError::Busy) => HttpError { status: StatusCode::SERVICE_UNAVAILABLE, ..refusal },
        _ => refusal,
    }
}

/// Serves until `shutdown` resolves, then lets requests in flight finish for up to the grace
/// period.
pub async fn serve(
    state: Arc<MinerState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (grace, limits) = (state.config.shutdown_grace, state.config.limits);
    super::serve_with_grace(router(state), listener, shutdown, grace, limits).await
}
