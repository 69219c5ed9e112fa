//! `GET /media/<token>`: the files the validator serves to miners (remixed tasks, proxied
//! organic videos). Mounted on the gateway's server, or on its own port when the gateway is
//! off. The path segment is parsed as a [`Token`] and looked up in the registry; nothing else
//! names a file, so `..`, encoded slashes or absolute paths can only miss (404, the same as an
//! expired or unknown token). Range requests are answered by tower-http's `ServeFile`; at most
//! `max_downloads` bodies stream at once (503 + Retry-After beyond), and the bytes sent are
//! counted per token.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use futures::StreamExt;
use tower::ServiceExt;

use super::HttpError;
use crate::protocol::{ErrorCode, ProtocolError};
use crate::validator::media::{MediaRegistry, Token};

/// The `/media/{token}` routes over `registry`.
pub fn router(registry: Arc<MediaRegistry>) -> Router {
    Router::new().route("/media/{token}", get(media)).with_state(registry)
}

fn not_found() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, ProtocolError::new(ErrorCode::InvalidRequest, "no such media"))
}

async fn media(
    State(registry): State<Arc<MediaRegistry>>,
    UrlPath(token): UrlPath<String>,
    req: Request,
) -> Result<Response, HttpError> {
    let token = Token::parse(&token).ok_or_else(not_found)?;
    let served = registry.lookup(&token).ok_or_else(not_found)?;
    let permit = registry.try_download().ok_or_else(|| {
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProtocolError::new(ErrorCode::InternalError, "too many media downloads at once"),
        )
    })?;
    let resp = tower_http::services::ServeFile::new(&served.path).oneshot(req).await.map_err(|e| {
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, ProtocolError::new(ErrorCode::InternalError, e.to_string()))
    })?;
    let (mut parts, body) = resp.into_parts();
    match parts.status {
        StatusCode::RANGE_NOT_SATISFIABLE => {
            return Err(HttpError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                ProtocolError::new(ErrorCode::InvalidRequest, "requested range is outside the file"),
            ));
        }
        // Retired between the look-up and the open.
        StatusCode::NOT_FOUND => return Err(not_found()),
        _ => {}
    }
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The slot is held, and bytes counted, while the body streams.
    let counter = served.served;
    let stream = Body::new(body).into_data_stream().map(move |chunk| {
        let _slot = &permit;
        if let Ok(c) = &chunk {
            counter.fetch_add(c.len() as u64, Ordering::Relaxed);
            registry.bytes_served.fetch_add(c.len() as u64, Ordering::Relaxed);
        }
        chunk
    });
    Ok(Response::from_parts(parts, Body::from_stream(stream)))
}
