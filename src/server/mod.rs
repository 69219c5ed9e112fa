//! HTTP servers: the miner (`/search`, `/health`, `/metrics`) and the validator's gateway
//! (`/health`, `/capabilities`, `/search`, `/search/stream`).
//!
//! Both face strangers, so both are served by [`serve_with_grace`], which bounds what a slow or
//! stalled client can hold: a connection cap (kept below the process's file-descriptor limit so
//! the store and the model can still open files), a deadline for a request's headers (which
//! also ends idle keep-alive connections), and a deadline for its body ([`read_body`]). A
//! client that trickles bytes loses its connection; `/health` keeps answering.

pub mod access;
pub mod gateway;
pub mod library;
pub mod media;
pub mod metrics;
pub mod miner;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use crate::protocol::{ErrorCode, ProtocolError};

/// A refusal: an HTTP status and the protocol's error envelope. Miner and gateway answer every
/// failure with it (even 404, 408, 413 and 503).
#[derive(Debug, Clone)]
pub struct HttpError {
    pub status: StatusCode,
    pub error: ProtocolError,
}

impl HttpError {
    pub fn new(status: StatusCode, error: ProtocolError) -> Self {
        Self { status, error }
    }
    /// The contract's status for a protocol code.
    pub fn from_code(error: ProtocolError) -> Self {
        let status = StatusCode::from_u16(error.error.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self { status, error }
    }
    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.error = self.error.with_detail(key, value);
        self
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let retry = self.status == StatusCode::SERVICE_UNAVAILABLE;
        let mut resp = (self.status, axum::Json(self.error)).into_response();
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if retry {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

/// Limits on what one client can hold.
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    /// Open connections at most; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// A request's headers must arrive within this (idle keep-alive connections too).
    pub header_timeout: Duration,
    /// A request's body must arrive within this.
    pub body_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self { max_connections: 1024, header_timeout: Duration::from_secs(10), body_timeout: Duration::from_secs(30) }
    }
}

impl ServeLimits {
    /// `max_connections`, lowered to leave file descriptors for everything else the process
    /// opens (store files, model, downloads, outgoing connections).
    pub fn effective_max_connections(&self) -> usize {
        const RESERVED: u64 = 256;
        match open_files_limit() {
            Some(limit) => self.max_connections.min(limit.saturating_sub(RESERVED).max(16) as usize),
            None => self.max_connections,
        }
    }
}

/// The soft `RLIMIT_NOFILE` of this process, from `/proc/self/limits` (Linux).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Reads a request body: at most `limit` bytes, within `timeout`.
pub async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, HttpError> {
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(HttpError::new(
            StatusCode::REQUEST_TIMEOUT,
            ProtocolError::new(
                ErrorCode::InvalidRequest,
                format!("request body not received within {} s", timeout.as_secs()),
            ),
        )),
        Ok(Err(_)) => Err(HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ProtocolError::new(ErrorCode::InvalidRequest, format!("request body exceeds {limit} bytes")),
        )),
        Ok(Ok(b)) => Ok(b),
    }
}

/// Serves `app` until `shutdown` resolves, then lets requests in flight finish for up to
/// `grace` (never forever: a stuck connection must not keep the process alive).
pub async fn serve_with_grace(
    app: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: ServeLimits,
) -> std::io::Result<()> {
    let max = limits.effective_max_connections();
    let permits = Arc::new(tokio::sync::Semaphore::new(max));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tracing::debug!(max_connections = max, header_timeout_s = limits.header_timeout.as_secs_f64(), "serving");
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // Take a connection slot first: at the cap, new clients wait in the kernel's backlog
        // instead of costing a file descriptor each.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(app.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection task holds a permit until it ends: all permits back = all drained.
    let drained = async {
        let _all = permits.acquire_many(max as u32).await;
    };
    if tokio::time::timeout(grace, drained).await.is_err() {
        tracing::warn!(grace_s = grace.as_secs(), "requests still running after the shutdown grace period; exiting");
    }
    Ok(())
}
