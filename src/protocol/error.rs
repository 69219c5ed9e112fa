//! The one error envelope every failure is answered with, and its HTTP status table.

use serde::{Deserialize, Serialize};

use super::PROTOCOL_VERSION;

/// Protocol error codes, exactly the schema's enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidRequest,
    UnsupportedProtocolVersion,
    VideoFetchFailed,
    VideoUnreadable,
    QueryInvalid,
    InferenceFailed,
    Timeout,
    InternalError,
}

impl ErrorCode {
    /// The wire spelling, e.g. `VIDEO_FETCH_FAILED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "INVALID_REQUEST",
            Self::UnsupportedProtocolVersion => "UNSUPPORTED_PROTOCOL_VERSION",
            Self::VideoFetchFailed => "VIDEO_FETCH_FAILED",
            Self::VideoUnreadable => "VIDEO_UNREADABLE",
            Self::QueryInvalid => "QUERY_INVALID",
            Self::InferenceFailed => "INFERENCE_FAILED",
            Self::Timeout => "TIMEOUT",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }

    /// HTTP status from the contract's table (the stake-gate 403 and the signature 401 are
    /// decided by the server, which knows why it refused).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidRequest | Self::UnsupportedProtocolVersion | Self::QueryInvalid => 400,
            Self::VideoFetchFailed => 502,
            Self::VideoUnreadable => 422,
            Self::Timeout => 504,
            Self::InferenceFailed | Self::InternalError => 500,
        }
    }

    /// Distinct CLI exit codes, so scripts can tell failures apart without parsing text.
    pub fn exit_code(self) -> i32 {
        match self {
            Self::InternalError => 1,
            Self::InvalidRequest | Self::UnsupportedProtocolVersion => 2,
            Self::VideoFetchFailed => 3,
            Self::VideoUnreadable => 4,
            Self::QueryInvalid => 5,
            Self::InferenceFailed => 6,
            Self::Timeout => 7,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `{"protocol_version": ..., "error": {"code", "message", "details"?}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolError {
    pub protocol_version: String,
    pub error: ErrorBody,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if message.trim().is_empty() {
            // The schema requires a non-empty message.
            message = code.as_str().to_string();
        }
        Self { protocol_version: PROTOCOL_VERSION.to_string(), error: ErrorBody { code, message, details: None } }
    }

    pub fn with_detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.error.details.get_or_insert_with(Default::default).insert(key.to_string(), value.into());
        self
    }
}
