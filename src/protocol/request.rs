//! Validation of `POST /search` bodies, with the contract's rules a schema cannot express:
//! `null` is absent for optional fields, the legacy `video_url` form is mapped to `video` and
//! dropped, unknown fields are refused, and every failure names its protocol code.

use serde_json::{Map, Value};

/// True for a query with no words: only whitespace and control characters (the tokenizer
/// drops both). Shared by the request parser and the engine.
pub fn query_is_blank(query: &str) -> bool {
    query.chars().all(|c| c.is_whitespace() || c.is_control())
}

/// Longest query accepted, in characters (CLIP reads 75 tokens; this only bounds work).
pub const MAX_QUERY_CHARS: usize = 2000;

use super::{
    ErrorCode, PROTOCOL_VERSION, ProtocolError, REFUSED_VIDEO_URL, TopK, VideoRef, VideoSearchRequest, VideoUrl,
};

fn invalid(msg: impl Into<String>) -> ProtocolError {
    ProtocolError::new(ErrorCode::InvalidRequest, msg)
}

/// Optional field: absent and `null` are the same (Python peers send `null`).
fn optional<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// Parses and validates a request body. Errors carry the `request_id` when one was readable.
// The error is the protocol's envelope, built once per bad request; boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub fn parse_search_request(body: &[u8]) -> Result<VideoSearchRequest, ProtocolError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("body is not valid JSON: {e}")))?;
    let Value::Object(mut obj) = value else {
        return Err(invalid("body must be a JSON object"));
    };
    let request_id = match optional(&obj, "request_id") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err(invalid("request_id must be a non-empty string")),
    };
    let with_id = |e: ProtocolError| match &request_id {
        Some(id) => e.with_detail("request_id", id.clone()),
        None => e,
    };

    // Legacy form: {"video_url": ...} without "video" becomes {"video": {"url": ...}}, and the
    // legacy key is dropped so it is not refused as unknown below.
    let legacy = obj.remove("video_url").filter(|v| !v.is_null());
    if let Some(url) = legacy {
        if optional(&obj, "video").is_some() {
            return Err(with_id(invalid("send either video or the legacy video_url, not both")));
        }
        let mut v = Map::new();
        v.insert("url".into(), url);
        obj.insert("video".into(), Value::Object(v));
    }

    const KNOWN: [&str; 5] = ["protocol_version", "request_id", "video", "query", "top_k"];
    let mut unknown: Vec<&str> = obj.keys().map(String::as_str).filter(|k| !KNOWN.contains(k)).collect();
    if !unknown.is_empty() {
        unknown.sort();
        return Err(with_id(invalid(format!("unknown field(s): {}", unknown.join(", ")))));
    }

    let protocol_version = match optional(&obj, "protocol_version") {
        None => PROTOCOL_VERSION.to_string(),
        Some(Value::String(v)) if v == PROTOCOL_VERSION => v.clone(),
        Some(Value::String(v)) => {
            return Err(with_id(
                ProtocolError::new(
                    ErrorCode::UnsupportedProtocolVersion,
                    format!("protocol version '{v}' is not supported (supported: {PROTOCOL_VERSION})"),
                )
                .with_detail("supported_versions", vec![PROTOCOL_VERSION]),
            ));
        }
        Some(_) => return Err(with_id(invalid("protocol_version must be a string"))),
    };

    let video = match optional(&obj, "video") {
        None => return Err(with_id(invalid("video is required"))),
        Some(Value::Object(v)) => {
            if let Some(k) = v.keys().find(|k| k.as_str() != "url") {
                return Err(with_id(invalid(format!("unknown field video.{k}"))));
            }
            match v.get("url") {
                // One answer for every refused location, whatever it names.
                Some(Value::String(u)) => VideoUrl::parse(u).map_err(|_| with_id(invalid(REFUSED_VIDEO_URL)))?,
                _ => return Err(with_id(invalid("video.url must be a string"))),
            }
        }
        Some(_) => return Err(with_id(invalid("video must be an object with a url"))),
    };

    let query = match optional(&obj, "query") {
        Some(Value::String(q)) => q.clone(),
        None => return Err(with_id(invalid("query is required"))),
        Some(_) => return Err(with_id(invalid("query must be a string"))),
    };
    // Control characters carry no words (the tokenizer drops them): a query of nothing else is
    // as empty as one of spaces.
    if query_is_blank(&query) {
        return Err(with_id(ProtocolError::new(ErrorCode::QueryInvalid, "query is empty")));
    }
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(with_id(ProtocolError::new(
            ErrorCode::QueryInvalid,
            format!("query is longer than {MAX_QUERY_CHARS} characters"),
        )));
    }

    let top_k = match optional(&obj, "top_k") {
        None => TopK::default(),
        Some(Value::Number(n)) => {
            // pydantic's lax mode takes 5.0 for an int field; so do we, but not 5.5.
            let k = n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64));
            match k.and_then(|k| u32::try_from(k).ok()).and_then(TopK::new) {
                Some(k) => k,
                None => return Err(with_id(invalid(format!("top_k must be an integer from 1 to 20, got {n}")))),
            }
        }
        Some(_) => return Err(with_id(invalid("top_k must be an integer from 1 to 20"))),
    };

    Ok(VideoSearchRequest { protocol_version, request_id, video: VideoRef { url: video }, query, top_k })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> ErrorCode {
        parse_search_request(body.as_bytes()).unwrap_err().error.code
    }

    #[test]
    fn accepts_the_forms_python_peers_send() {
        let r = parse_search_request(
            br#"{"protocol_version": "2026-04-10", "request_id": null, "video": {"url": "https://e.com/v.mp4"}, "query": "a dog", "top_k": 3}"#,
        )
        .unwrap();
        assert_eq!(r.request_id, None);
        assert_eq!(r.top_k.get(), 3);
        let r = parse_search_request(br#"{"video_url": "https://e.com/v.mp4", "query": "q", "top_k": null}"#).unwrap();
        assert_eq!(r.video.url.as_str(), "https://e.com/v.mp4");
        assert_eq!(r.top_k, TopK::default());
        assert_eq!(r.protocol_version, PROTOCOL_VERSION);
        // The legacy key is gone from what we would forward.
        assert!(!serde_json::to_string(&r).unwrap().contains("video_url"));
        let r = parse_search_request(br#"{"video": {"url": "https://e.com/v"}, "query": "q", "top_k": 5.0}"#).unwrap();
        assert_eq!(r.top_k.get(), 5);
    }

    #[test]
    fn refuses_with_the_right_codes() {
        assert_eq!(code("not json"), ErrorCode::InvalidRequest);
        assert_eq!(code("[1]"), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"video": {"url": "https://e.com"}, "query": "q", "extra": 1}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"video": {"url": "https://e.com", "x": 1}, "query": "q"}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"video": {"url": "https://e.com"}, "query": "   "}"#), ErrorCode::QueryInvalid);
        assert_eq!(code(r#"{"video": {"url": "https://e.com"}, "query": 5}"#), ErrorCode::InvalidRequest);
        for k in ["0", "21", "-1", "2.5", "\"5\"", "true", "99999999999"] {
            assert_eq!(
                code(&format!(r#"{{"video": {{"url": "https://e.com"}}, "query": "q", "top_k": {k}}}"#)),
                ErrorCode::InvalidRequest,
                "{k}"
            );
        }
        assert_eq!(code(r#"{"video": {"url": "not a url"}, "query": "q"}"#), ErrorCode::InvalidRequest);
        assert_eq!(code(r#"{"query": "q"}"#), ErrorCode::InvalidRequest);
        assert_eq!(
            code(r#"{"protocol_version": "2025-01-01", "video": {"url": "https://e.com"}, "query": "q"}"#),
            ErrorCode::UnsupportedProtocolVersion
        );
        assert_eq!(
            code(r#"{"video_url": "https://e.com", "video": {"url": "https://e.com"}, "query": "q"}"#),
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            code(r#"{"request_id": "", "video": {"url": "https://e.com"}, "query": "q"}"#),
            ErrorCode::InvalidRequest
        );
        let e = parse_search_request(br#"{"request_id": "r-9", "video": {"url": "https://e.com"}, "query": ""}"#)
            .unwrap_err();
        assert_eq!(e.error.details.unwrap()["request_id"], "r-9");
    }
}
