//! The wire contract (`../shared/protocol/`, version `2026-04-10`): request and response types,
//! request validation, the error envelope and its HTTP status table, Python-compatible
//! canonical JSON, and Epistula signing.
//!
//! Everything that crosses the network is defined here so the miner, the validator, the gateway
//! and the CLI's `--json` output agree byte for byte with the Python peers of the subnet.

pub mod canonical;
pub mod epistula;
mod error;
pub mod keys;
mod request;
mod stream;
mod types;
mod video_url;

pub use error::{ErrorBody, ErrorCode, ProtocolError};
pub use keys::{KeyError, Sr25519Key};
pub use request::{MAX_QUERY_CHARS, parse_search_request, query_is_blank};
pub use stream::{StreamEvent, StreamStatus};
pub use types::{
    DEFAULT_TOP_K, MAX_TOP_K, MIN_TOP_K, PROTOCOL_VERSION, SearchResult, SearchStatus, TopK, VideoRef,
    VideoSearchRequest, VideoSearchResponse, round_ms,
};
pub use video_url::{MAX_VIDEO_URL_BYTES, REFUSED_VIDEO_URL, VideoUrl, VideoUrlError};
