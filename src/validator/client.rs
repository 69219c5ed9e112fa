//! The validator's side of the wire: signed `POST /search` calls and `GET /health` probes to
//! miners, shared by the synthetic loop, the gateway and `chronoseek query`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::chain::Axon;
use crate::protocol::epistula::{HEADER_HOTKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Signer};
use crate::protocol::{ErrorCode, ProtocolError, VideoSearchRequest, VideoSearchResponse};

/// Why a miner gave no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MinerCallError {
    #[error("{url}: no answer within {seconds:.1} s")]
    Timeout { url: String, seconds: f64 },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    /// The miner answered with the protocol's error envelope.
    #[error("{url}: HTTP {status} {code}: {message}")]
    Protocol { url: String, status: u16, code: ErrorCode, message: String },
    /// The miner answered something that is not the protocol.
    #[error("{url}: HTTP {status}, not a protocol answer: {message}")]
    BadResponse { url: String, status: u16, message: String },
    /// The miner's answer ran past [`MAX_ANSWER_BYTES`]; reading stopped there.
    #[error("{url}: HTTP {status}, an answer larger than {max_bytes} bytes (not read further)")]
    TooLarge { url: String, status: u16, max_bytes: usize },
}

/// Largest body read from a miner's `/search` answer. An answer is a few kilobytes (at most
/// [`MAX_TOP_K`](crate::protocol::MAX_TOP_K) intervals and a little metadata); a miner that sends more is cut off here, not
/// buffered: a validator calls every miner at once, and one that streamed gigabytes within the
/// timeout would otherwise be held in memory whole.
pub const MAX_ANSWER_BYTES: usize = 1 << 20;
/// ... and from `/health`, whose answer is two short fields.
pub const MAX_HEALTH_BYTES: usize = 64 << 10;

/// Why a body was not read whole.
enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// The body of `resp`, refused as soon as it is known to exceed `max` bytes: from its
/// `Content-Length` before any of it is read, or from the bytes as they arrive.
async fn read_body(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl MinerCallError {
    /// The protocol code this failure counts as when a gateway reports it.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Timeout { .. } => ErrorCode::Timeout,
            Self::Protocol { code, .. } => *code,
            Self::Transport { .. } | Self::BadResponse { .. } | Self::TooLarge { .. } => ErrorCode::InternalError,
        }
    }
}

/// A miner's answer and how long it took.
#[derive(Debug, Clone)]
pub struct MinerAnswer {
    pub response: VideoSearchResponse,
    pub latency: Duration,
}

/// `http://ip:port` of an axon (IPv6 in brackets).
pub fn axon_url(axon: &Axon) -> String {
    format!("http://{}", SocketAddr::new(axon.ip, axon.port))
}

#[derive(Clone)]
pub struct MinerClient {
    http: reqwest::Client,
    signer: Arc<Signer>,
}

impl MinerClient {
    /// One connection pool for every miner. Redirects are not followed: a miner that redirects
    /// a signed request elsewhere has not answered it.
    pub fn new(signer: Arc<Signer>) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self { http, signer })
    }

    pub fn hotkey(&self) -> String {
        self.signer.hotkey()
    }

    /// Sends a signed search to `base` (e.g. `http://1.2.3.4:8000`) and waits at most `timeout`.
    pub async fn search(
        &self,
        base: &str,
        request: &VideoSearchRequest,
        timeout: Duration,
    ) -> Result<MinerAnswer, MinerCallError> {
        let url = format!("{}/search", base.trim_end_matches('/'));
        let transport = |message: String| MinerCallError::Transport { url: url.clone(), message };
        let body = serde_json::to_vec(request).map_err(|e| transport(e.to_string()))?;
        let h = self.signer.sign(&body).map_err(|e| transport(e.to_string()))?;
        let started = Instant::now();
        let call = async {
            let resp = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header(HEADER_TIMESTAMP, &h.timestamp_ms)
                .header(HEADER_SIGNATURE, &h.signature)
                .header(HEADER_HOTKEY, &h.hotkey)
                .body(body)
                .send()
                .await
                .map_err(|e| transport(e.to_string()))?;
            let status = resp.status().as_u16();
            let body = read_body(resp, MAX_ANSWER_BYTES).await.map_err(|e| match e {
                BodyError::Transport(e) => transport(e.to_string()),
                BodyError::TooLarge => {
                    MinerCallError::TooLarge { url: url.clone(), status, max_bytes: MAX_ANSWER_BYTES }
                }
            })?;
            Ok::<_, MinerCallError>((status, body))
        };
        let (status, body) = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| MinerCallError::Timeout { url: url.clone(), seconds: timeout.as_secs_f64() })??;
        let latency = started.elapsed();
        if (200..300).contains(&status) {
            return serde_json::from_slice::<VideoSearchResponse>(&body)
                .map(|response| MinerAnswer { response, latency })
                .map_err(|e| MinerCallError::BadResponse { url: url.clone(), status, message: e.to_string() });
        }
        match serde_json::from_slice::<ProtocolError>(&body) {
            Ok(e) => Err(MinerCallError::Protocol { url, status, code: e.error.code, message: e.error.message }),
            Err(_) => Err(MinerCallError::BadResponse {
                url,
                status,
                message: truncate(&String::from_utf8_lossy(&body), 200),
            }),
        }
    }

    /// The reference's liveness rule: `GET /health` answers `status: ok, service: miner` (in at
    /// most [`MAX_HEALTH_BYTES`]).
    pub async fn healthy(&self, base: &str, timeout: Duration) -> bool {
        let url = format!("{}/health", base.trim_end_matches('/'));
        let probe = async {
            let resp = self.http.get(&url).send().await.ok()?;
            let v: serde_json::Value = serde_json::from_slice(&read_body(resp, MAX_HEALTH_BYTES).await.ok()?).ok()?;
            Some(v.get("status")?.as_str()? == "ok" && v.get("service")?.as_str()? == "miner")
        };
        matches!(tokio::time::timeout(timeout, probe).await, Ok(Some(true)))
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
