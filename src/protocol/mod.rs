//! The wire contract (`../shared/protocol/`, version `2026-04-10`): request and response types,
//! the error envelope and its HTTP status table.
//!
//! Everything that crosses the network is defined here so the miner, the validator, the gateway
//! and the CLI's `--json` output agree byte for byte with the Python peers of the subnet.

mod error;
mod types;

pub use error::{ErrorBody, ErrorCode, ProtocolError};
pub use types::{
    DEFAULT_TOP_K, MAX_TOP_K, MIN_TOP_K, PROTOCOL_VERSION, SearchResult, SearchStatus, TopK, VideoRef,
    VideoSearchRequest, VideoSearchResponse,
};
