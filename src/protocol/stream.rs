//! The server-sent events of `POST /search/stream`, one variant per event and schema
//! (`video-search-stream-{accepted,result,done,error}-event.schema.json`): the event name and
//! the `status` field come from the variant, so they cannot disagree, and no field outside the
//! schemas can be added by accident.

use serde::Serialize;

use super::{ErrorBody, PROTOCOL_VERSION, SearchResult};

/// What the gateway says in one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StreamStatus {
    /// First event: the miners that will be asked.
    Accepted { queried_uids: Vec<u16> },
    /// After each answering miner: the merge so far.
    Processing { results: Vec<SearchResult>, source_uid: u16 },
    /// Last event on success.
    Completed { results: Vec<SearchResult>, miner_metadata: serde_json::Map<String, serde_json::Value> },
    /// Last event on failure (every miner failed, or the gateway is shutting down).
    Failed { error: ErrorBody },
}

/// One event: the envelope fields every schema shares, and the status-specific ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamEvent {
    pub protocol_version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub status: StreamStatus,
}

impl StreamEvent {
    pub fn new(request_id: Option<String>, status: StreamStatus) -> Self {
        Self { protocol_version: PROTOCOL_VERSION, request_id, status }
    }

    /// The SSE `event:` name.
    pub fn name(&self) -> &'static str {
        match self.status {
            StreamStatus::Accepted { .. } => "accepted",
            StreamStatus::Processing { .. } => "result",
            StreamStatus::Completed { .. } => "done",
            StreamStatus::Failed { .. } => "error",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ErrorCode, ProtocolError};

    #[test]
    fn names_and_statuses_come_from_one_variant() {
        let r = SearchResult { start: 1.0, end: 2.0, confidence: 0.5 };
        let cases = [
            (StreamStatus::Accepted { queried_uids: vec![1, 2] }, "accepted", "accepted"),
            (StreamStatus::Processing { results: vec![r], source_uid: 1 }, "result", "processing"),
            (StreamStatus::Completed { results: vec![r], miner_metadata: Default::default() }, "done", "completed"),
            (StreamStatus::Failed { error: ProtocolError::new(ErrorCode::Timeout, "slow").error }, "error", "failed"),
        ];
        for (status, name, field) in cases {
            let ev = StreamEvent::new(Some("r1".into()), status);
            let v = serde_json::to_value(&ev).unwrap();
            assert_eq!((ev.name(), v["status"].as_str().unwrap()), (name, field));
            assert_eq!(v["protocol_version"], PROTOCOL_VERSION);
            assert_eq!(v["request_id"], "r1");
        }
        let v = serde_json::to_value(StreamEvent::new(
            None,
            StreamStatus::Failed { error: ProtocolError::new(ErrorCode::Timeout, "slow").error },
        ))
        .unwrap();
        assert_eq!(v["error"]["code"], "TIMEOUT");
        assert!(v.get("request_id").is_none());
    }
}
