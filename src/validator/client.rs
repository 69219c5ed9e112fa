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
}

impl MinerCallError {
    /// The protocol code this failure counts as when a gateway reports it.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Timeout { .. } => ErrorCode::Timeout,
            Self::Protocol { code, .. } => *code,
            Self::Transport { .. } | Self::BadResponse { .. } => ErrorCode::InternalError,
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
            let text = resp.text().await.map_err(|e| transport(e.to_string()))?;
            Ok::<_, MinerCallError>((status, text))
        };
        let (status, text) = tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| MinerCallError::Timeout { url: url.clone(), seconds: timeout.as_secs_f64() })??;
        let latency = started.elapsed();
        if (200..300).contains(&status) {
            return serde_json::from_str::<VideoSearchResponse>(&text)
                .map(|response| MinerAnswer { response, latency })
                .map_err(|e| MinerCallError::BadResponse { url: url.clone(), status, message: e.to_string() });
        }
        match serde_json::from_str::<ProtocolError>(&text) {
            Ok(e) => Err(MinerCallError::Protocol { url, status, code: e.error.code, message: e.error.message }),
            Err(_) => Err(MinerCallError::BadResponse { url, status, message: truncate(&text, 200) }),
        }
    }

    /// The reference's liveness rule: `GET /health` answers `status: ok, service: miner`.
    pub async fn healthy(&self, base: &str, timeout: Duration) -> bool {
        let url = format!("{}/health", base.trim_end_matches('/'));
        let probe = async {
            let v: serde_json::Value = self.http.get(&url).send().await.ok()?.json().await.ok()?;
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
