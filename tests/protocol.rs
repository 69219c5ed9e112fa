//! Wire compatibility with the Python peers: the golden Epistula vectors (canonical JSON, body
//! hash, message, sr25519 signature, SS58 hotkey), property tests of the canonical printer, and
//! the request validator's outputs against the published schemas.

mod common;

use chronoseek::protocol::canonical::{PyJson, canonicalize, dumps, from_serde, loads, py_float_repr};
use chronoseek::protocol::epistula::{EpistulaHeaders, Signer, Verifier, body_hash, message, ss58, verify_signature};
use chronoseek::protocol::{ErrorCode, ProtocolError, parse_search_request};
use proptest::prelude::*;
use serde_json::Value;

fn golden() -> Value {
    let p = common::shared().join("protocol/golden/epistula_vectors.json");
    serde_json::from_str(&std::fs::read_to_string(p).expect("golden vectors")).expect("json")
}

#[test]
fn golden_vectors_canonicalize_hash_and_verify() {
    let g = golden();
    let signer = &g["signer"];
    let vectors = g["vectors"].as_array().expect("vectors");
    assert!(vectors.len() >= 5);
    for v in vectors {
        let body = v["body_json"].as_str().unwrap().as_bytes();
        assert_eq!(canonicalize(body).unwrap(), v["python_canonical"].as_str().unwrap());
        let hash = body_hash(body).unwrap();
        assert_eq!(hash, v["sha256_hex"].as_str().unwrap());
        let ts = v["timestamp_ms"].as_str().unwrap();
        assert_eq!(message(ts, &hash), v["message"].as_str().unwrap());
        let headers = EpistulaHeaders {
            timestamp_ms: ts.to_string(),
            signature: v["signature"].as_str().unwrap().to_string(),
            hotkey: signer["ss58_address"].as_str().unwrap().to_string(),
        };
        let public = verify_signature(&headers, body).expect("golden signature verifies");
        assert_eq!(hex::encode(public.0), signer["public_key_hex"].as_str().unwrap());
        // The verifier with its clock at the vector's time accepts it once.
        let verifier = Verifier::default();
        let now: u128 = ts.parse().unwrap();
        assert!(verifier.verify_at(&headers, body, now + 1000).is_ok());
        assert!(verifier.verify_at(&headers, body, now + 1000).is_err(), "replay refused");
        // One changed byte of the signature fails.
        let mut bad = headers.clone();
        let last = bad.signature.pop().unwrap();
        bad.signature.push(if last == '0' { '1' } else { '0' });
        assert!(verify_signature(&bad, body).is_err());
    }
}

#[test]
fn our_signer_derives_the_golden_key_and_python_would_accept_our_signatures() {
    let g = golden();
    let signer = Signer::from_uri(g["signer"]["uri"].as_str().unwrap()).unwrap();
    assert_eq!(signer.hotkey(), g["signer"]["ss58_address"].as_str().unwrap());
    assert_eq!(hex::encode(signer.public_key().0), g["signer"]["public_key_hex"].as_str().unwrap());
    assert_eq!(ss58(&signer.public_key()), signer.hotkey());
    for v in g["vectors"].as_array().unwrap() {
        let body = v["body_json"].as_str().unwrap().as_bytes();
        let h = signer.sign_at(body, 1_767_225_600_000).unwrap();
        // sr25519 signatures are randomised: not equal to the golden one, but they verify the
        // same way, against the same message.
        assert_ne!(h.signature, v["signature"].as_str().unwrap());
        assert!(verify_signature(&h, body).is_ok());
        assert_eq!(h.timestamp_ms, v["timestamp_ms"].as_str().unwrap());
    }
}

fn arb_json() -> impl Strategy<Value = PyJson> {
    let leaf = prop_oneof![
        Just(PyJson::Null),
        any::<bool>().prop_map(PyJson::Bool),
        any::<i64>().prop_map(|i| PyJson::Int(i.to_string())),
        "[1-9][0-9]{18,40}".prop_map(PyJson::Int),
        any::<f64>().prop_filter("NaN is not equal to itself", |f| !f.is_nan()).prop_map(PyJson::Float),
        // Every code point class: ASCII, controls, BMP, surrogates (lone), beyond the BMP.
        prop::collection::vec(prop_oneof![0u32..0x80, 0x80u32..0xD800, 0xD800u32..0xE000, 0xE000u32..0x11_0000], 0..12)
            .prop_map(PyJson::Str),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(PyJson::Array),
            prop::collection::btree_map(prop::collection::vec(0x20u32..0x3000, 0..6), inner, 0..6)
                .prop_map(|m| PyJson::Object(m.into_iter().collect())),
        ]
    })
}

/// A lone high surrogate followed by a lone low one prints as a pair, which Python (and we)
/// read back as one code point.
fn join_surrogates(s: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if (0xD800..0xDC00).contains(&s[i]) && i + 1 < s.len() && (0xDC00..0xE000).contains(&s[i + 1]) {
            out.push(0x10000 + ((s[i] - 0xD800) << 10) + (s[i + 1] - 0xDC00));
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// Objects compare as sets of members (the printer sorts them).
fn normalise(v: &PyJson) -> PyJson {
    match v {
        PyJson::Str(s) => PyJson::Str(join_surrogates(s)),
        PyJson::Array(a) => PyJson::Array(a.iter().map(normalise).collect()),
        PyJson::Object(o) => {
            let mut m: Vec<_> = o.iter().map(|(k, v)| (join_surrogates(k), normalise(v))).collect();
            m.sort_by(|a, b| a.0.cmp(&b.0));
            PyJson::Object(m)
        }
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn canonical_output_parses_back_to_the_same_value(v in arb_json()) {
        let text = dumps(&v);
        prop_assert!(text.is_ascii(), "ensure_ascii output");
        let back = loads(text.as_bytes()).unwrap();
        prop_assert_eq!(normalise(&back), normalise(&v));
        // Canonicalising is idempotent.
        prop_assert_eq!(canonicalize(text.as_bytes()).unwrap(), text);
    }

    #[test]
    fn strings_survive_serde_and_canonical_escaping(s in "\\PC*|[\\x00-\\x1f\\x7f\"\\\\]*") {
        let wire = serde_json::to_string(&s).unwrap();
        let canon = canonicalize(wire.as_bytes()).unwrap();
        prop_assert!(canon.is_ascii());
        let back: String = serde_json::from_str(&canon).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn float_repr_round_trips(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let r = py_float_repr(f);
        let parsed: f64 = r.parse().unwrap();
        prop_assert_eq!(parsed.to_bits(), f.to_bits());
        prop_assert!(r.contains('.') || r.contains('e'), "{} must read back as a float", r);
    }

    #[test]
    fn serde_values_canonicalise_like_their_text(v in arb_serde()) {
        let wire = serde_json::to_vec(&v).unwrap();
        prop_assert_eq!(canonicalize(&wire).unwrap(), dumps(&from_serde(&v)));
    }
}

fn arb_serde() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,5}", inner, 0..5).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn validator_errors_match_the_error_schema() {
    let schema = common::schema("protocol-error.schema.json");
    let bodies = [
        "not json",
        r#"{"video": {"url": "https://e.com"}, "query": "   "}"#,
        r#"{"protocol_version": "1999", "video": {"url": "https://e.com"}, "query": "q", "request_id": "r"}"#,
        r#"{"video": {"url": "https://e.com"}, "query": "q", "top_k": 0}"#,
    ];
    for body in bodies {
        let e: ProtocolError = parse_search_request(body.as_bytes()).unwrap_err();
        common::assert_valid(&schema, &serde_json::to_value(&e).unwrap());
    }
    // And a request we accept serialises to a schema-valid request (legacy form included).
    let req_schema = common::schema("video-search-request.schema.json");
    for body in [
        r#"{"video_url": "https://e.com/v.mp4", "query": "q"}"#,
        r#"{"protocol_version": "2026-04-10", "request_id": null, "video": {"url": "https://e.com/v.mp4"}, "query": "a dog", "top_k": 5}"#,
    ] {
        let r = parse_search_request(body.as_bytes()).unwrap();
        common::assert_valid(&req_schema, &serde_json::to_value(&r).unwrap());
    }
    assert_eq!(ErrorCode::VideoUnreadable.http_status(), 422);
}

#[test]
fn float_repr_matches_cpython_on_recorded_values() {
    // Including values whose two shortest candidates are equally close (CPython takes the even).
    let text = std::fs::read_to_string(common::root().join("tests/data/python_float_repr.txt")).unwrap();
    let mut checked = 0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (bits, want) = line.split_once(' ').unwrap();
        let f = f64::from_bits(bits.parse().unwrap());
        assert_eq!(py_float_repr(f), want, "bits {bits}");
        checked += 1;
    }
    assert!(checked > 5000);
}
