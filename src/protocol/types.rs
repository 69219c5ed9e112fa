//! Request and response bodies of `POST /search`.
//!
//! Python peers serialise absent optional fields as `null`; the contract says to accept that on
//! input and never send it. Hence every optional field here deserialises `null` as `None` and is
//! skipped on output when `None`.

use serde::{Deserialize, Serialize};

use super::VideoUrl;

/// The only protocol version this build speaks.
pub const PROTOCOL_VERSION: &str = "2026-04-10";
/// Bounds of `top_k` from the request schema.
pub const MIN_TOP_K: u32 = 1;
pub const MAX_TOP_K: u32 = 20;
pub const DEFAULT_TOP_K: u32 = 5;

/// A `top_k` that is known to lie in `1..=20`, so code past parsing never re-checks it.
///
/// ```
/// use chronoseek::protocol::TopK;
/// assert_eq!(TopK::new(5).map(TopK::get), Some(5));
/// assert!(TopK::new(0).is_none() && TopK::new(21).is_none());
/// assert_eq!(TopK::default().get(), 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct TopK(u32);

impl TopK {
    /// Accepts `1..=20`; anything else is the caller's error to report.
    pub fn new(k: u32) -> Option<Self> {
        (MIN_TOP_K..=MAX_TOP_K).contains(&k).then_some(Self(k))
    }
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

impl Default for TopK {
    fn default() -> Self {
        Self(DEFAULT_TOP_K)
    }
}

/// `{"url": "..."}` — the video a request is about: always an `http(s)` URL by type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoRef {
    pub url: VideoUrl,
}

/// A validated `POST /search` body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VideoSearchRequest {
    pub protocol_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub video: VideoRef,
    pub query: String,
    pub top_k: TopK,
}

impl VideoSearchRequest {
    pub fn new(url: VideoUrl, query: impl Into<String>, top_k: TopK) -> Self {
        Self {
            protocol_version: PROTOCOL_VERSION.to_string(),
            request_id: None,
            video: VideoRef { url },
            query: query.into(),
            top_k,
        }
    }
}

/// A time in seconds rounded to the millisecond, as times travel on the wire (results, task
/// ground truths) and everywhere a time is shown: one rounding for all of them, so a moment
/// reads the same in a search, a card, a clip link and a task file.
pub fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// One ranked interval, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchResult {
    pub start: f64,
    pub end: f64,
    pub confidence: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchStatus {
    Accepted,
    Processing,
    Completed,
    Failed,
}

/// The `VideoSearchResponse` schema. Extras go inside `miner_metadata`, never at the top level,
/// because Python peers parse responses with `extra="forbid"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoSearchResponse {
    pub protocol_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub status: SearchStatus,
    #[serde(default)]
    pub results: Vec<SearchResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miner_metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

impl VideoSearchResponse {
    pub fn completed(
        request_id: Option<String>,
        results: Vec<SearchResult>,
        miner_metadata: Option<serde_json::Map<String, serde_json::Value>>,
    ) -> Self {
        Self {
            protocol_version: PROTOCOL_VERSION.to_string(),
            request_id,
            status: SearchStatus::Completed,
            results,
            miner_metadata,
        }
    }
}
