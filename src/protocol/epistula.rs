//! Epistula request signing, as Python validators and miners of the subnet do it.
//!
//! Headers `X-Epistula-Timestamp` (ms since the epoch), `X-Epistula-Signature` (`0x` + 64-byte
//! sr25519 signature, signing context `substrate`) and `X-Epistula-Hotkey` (SS58, prefix 42).
//! The signed message is `"{timestamp}.{sha256_hex(canonical_json(body))}"`: the hash is of the
//! body as Python's `json.dumps(body, sort_keys=True)` prints it, not of the bytes on the wire.
//! A verifier also refuses timestamps more than the window away from its clock and a
//! (hotkey, timestamp, signature) triple it has already accepted inside the window.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use subxt_signer::sr25519;

use super::canonical::{CanonicalError, canonicalize};
use super::keys::Sr25519Key;
pub use super::keys::ss58;

pub const HEADER_TIMESTAMP: &str = "x-epistula-timestamp";
pub const HEADER_SIGNATURE: &str = "x-epistula-signature";
pub const HEADER_HOTKEY: &str = "x-epistula-hotkey";
/// How far a timestamp may be from the verifier's clock.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// The three header values of a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpistulaHeaders {
    pub timestamp_ms: String,
    pub signature: String,
    pub hotkey: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpistulaError {
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("bad timestamp '{0}': expected milliseconds since the epoch")]
    BadTimestamp(String),
    #[error("timestamp is {skew_ms} ms away from the miner's clock (allowed: {window_ms} ms)")]
    Expired { skew_ms: i128, window_ms: u128 },
    #[error("bad hotkey '{0}': expected an SS58 address with prefix 42")]
    BadHotkey(String),
    #[error("bad signature encoding: expected 0x followed by 128 hex digits")]
    BadSignatureEncoding,
    #[error("signature does not match the body and timestamp for this hotkey")]
    BadSignature,
    #[error("replayed request: this signature was already accepted")]
    Replay,
    #[error("body is not valid JSON: {0}")]
    Body(#[from] CanonicalError),
}

impl EpistulaError {
    /// A body that cannot be parsed is a bad request (400), everything else an auth failure (401).
    pub fn is_auth_failure(&self) -> bool {
        !matches!(self, Self::Body(_))
    }
}

/// The lowercase hex SHA-256 of the body's Python-canonical JSON.
pub fn body_hash(body: &[u8]) -> Result<String, CanonicalError> {
    Ok(hex::encode(Sha256::digest(canonicalize(body)?.as_bytes())))
}

/// `"{timestamp}.{body_hash}"`.
pub fn message(timestamp_ms: &str, body_hash: &str) -> String {
    format!("{timestamp_ms}.{body_hash}")
}

/// Parses an SS58 address and insists on the generic Substrate prefix (42) Bittensor uses.
pub fn parse_hotkey(ss58: &str) -> Result<sr25519::PublicKey, EpistulaError> {
    let account: subxt_utils_accountid32::AccountId32 =
        ss58.parse().map_err(|_| EpistulaError::BadHotkey(ss58.to_string()))?;
    // Re-encoding with prefix 42 must give the same text, which rules out other prefixes.
    if account.to_string() != ss58 {
        return Err(EpistulaError::BadHotkey(ss58.to_string()));
    }
    Ok(sr25519::PublicKey(account.0))
}

fn parse_signature(s: &str) -> Result<sr25519::Signature, EpistulaError> {
    let hex_part = s.strip_prefix("0x").unwrap_or(s);
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| EpistulaError::BadSignatureEncoding)?;
    Ok(sr25519::Signature(bytes))
}

fn now_ms() -> u128 {
    u128::from(crate::clock::now_ms())
}

/// Signs request bodies with a hotkey.
#[derive(Clone)]
pub struct Signer {
    keypair: Sr25519Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("hotkey", &self.hotkey()).finish()
    }
}

impl Signer {
    pub fn new(keypair: Sr25519Key) -> Self {
        Self { keypair }
    }

    /// A signer from a secret URI such as `//Alice` or a mnemonic with derivation path.
    pub fn from_uri(uri: &str) -> Result<Self, super::KeyError> {
        Sr25519Key::from_uri(uri).map(Self::new)
    }

    /// The key it signs with (also the key for chain extrinsics).
    pub fn key(&self) -> &Sr25519Key {
        &self.keypair
    }

    pub fn hotkey(&self) -> String {
        ss58(&self.keypair.public_key())
    }

    pub fn public_key(&self) -> sr25519::PublicKey {
        self.keypair.public_key()
    }

    /// Headers for `body` signed at `timestamp_ms`.
    pub fn sign_at(&self, body: &[u8], timestamp_ms: u128) -> Result<EpistulaHeaders, CanonicalError> {
        let ts = timestamp_ms.to_string();
        let msg = message(&ts, &body_hash(body)?);
        let sig = self.keypair.sign(msg.as_bytes());
        Ok(EpistulaHeaders { timestamp_ms: ts, signature: format!("0x{}", hex::encode(sig)), hotkey: self.hotkey() })
    }

    /// Headers for `body` signed now.
    pub fn sign(&self, body: &[u8]) -> Result<EpistulaHeaders, CanonicalError> {
        self.sign_at(body, now_ms())
    }
}

/// Checks a signature without clock or replay rules (golden vectors, offline tools).
pub fn verify_signature(headers: &EpistulaHeaders, body: &[u8]) -> Result<sr25519::PublicKey, EpistulaError> {
    verify_decoded(headers, body).map(|(public, _)| public)
}

/// The key and the decoded signature bytes of a valid signature.
fn verify_decoded(
    headers: &EpistulaHeaders,
    body: &[u8],
) -> Result<(sr25519::PublicKey, sr25519::Signature), EpistulaError> {
    let public = parse_hotkey(&headers.hotkey)?;
    let sig = parse_signature(&headers.signature)?;
    let msg = message(&headers.timestamp_ms, &body_hash(body)?);
    if sr25519::verify(&sig, msg.as_bytes(), &public) { Ok((public, sig)) } else { Err(EpistulaError::BadSignature) }
}

/// What the replay cache remembers: the signer's key and the signature's bytes, decoded, so
/// that spellings of one signature (with or without `0x`, upper or lower case) are one entry.
type ReplayKey = ([u8; 32], [u8; 64]);

/// How often, at most, the replay cache drops signatures that can no longer be replayed.
/// Pruning scans the whole cache; done on every request, a caller with valid signatures (any
/// key passes this check; the stake gate comes after) could make each request's cost grow
/// with the number of requests in the last window.
const PRUNE_EVERY_MS: u128 = 1000;

/// Verifies incoming requests: signature, clock window, replay.
pub struct Verifier {
    window: Duration,
    seen: Mutex<Seen>,
}

/// Signatures accepted recently, with their timestamps for expiry.
#[derive(Default)]
struct Seen {
    signatures: HashMap<ReplayKey, u128>,
    /// When the cache is next pruned (the clock of the requests, in ms).
    next_prune_ms: u128,
    /// Prunes so far (tests count them).
    prunes: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new(DEFAULT_WINDOW)
    }
}

impl Verifier {
    pub fn new(window: Duration) -> Self {
        Self { window, seen: Mutex::new(Seen::default()) }
    }

    /// Signatures the replay cache holds, and how many times it has been pruned.
    pub fn replay_cache(&self) -> (usize, u64) {
        let seen = self.seen.lock();
        (seen.signatures.len(), seen.prunes)
    }

    /// Verifies against the local clock.
    pub fn verify(&self, headers: &EpistulaHeaders, body: &[u8]) -> Result<String, EpistulaError> {
        self.verify_at(headers, body, now_ms())
    }

    /// Verifies as if the clock read `now_ms`. Returns the caller's hotkey.
    pub fn verify_at(&self, headers: &EpistulaHeaders, body: &[u8], now_ms: u128) -> Result<String, EpistulaError> {
        let ts: u128 = headers
            .timestamp_ms
            .trim()
            .parse()
            .map_err(|_| EpistulaError::BadTimestamp(headers.timestamp_ms.clone()))?;
        let skew = ts as i128 - now_ms as i128;
        let window_ms = self.window.as_millis();
        if skew.unsigned_abs() > window_ms {
            return Err(EpistulaError::Expired { skew_ms: skew, window_ms });
        }
        let (public, sig) = verify_decoded(headers, body)?;
        let key: ReplayKey = (public.0, sig.0);
        let mut seen = self.seen.lock();
        // A signature whose timestamp is more than the window old can never pass the check
        // above again, so it need not be remembered; it may be kept up to a prune later.
        if now_ms >= seen.next_prune_ms {
            seen.signatures.retain(|_, t| now_ms.saturating_sub(*t) <= window_ms);
            seen.next_prune_ms = now_ms + PRUNE_EVERY_MS;
            seen.prunes += 1;
        }
        if seen.signatures.insert(key, ts).is_some() {
            return Err(EpistulaError::Replay);
        }
        Ok(headers.hotkey.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_and_tamper() {
        let signer = Signer::from_uri("//Alice").unwrap();
        let body = br#"{"query": "x", "top_k": 5}"#;
        let h = signer.sign_at(body, 1_000_000).unwrap();
        let v = Verifier::default();
        assert_eq!(v.verify_at(&h, body, 1_000_500).unwrap(), signer.hotkey());
        // Same body, different bytes on the wire: canonical JSON makes it the same message.
        let reordered = br#"{ "top_k":5,"query":"x" }"#;
        let h2 = signer.sign_at(reordered, 1_000_001).unwrap();
        assert!(verify_signature(&h2, body).is_ok());
        // Replay of the exact headers, and of the same signature spelled differently.
        assert_eq!(v.verify_at(&h, body, 1_000_600), Err(EpistulaError::Replay));
        let bare = EpistulaHeaders { signature: h.signature.trim_start_matches("0x").to_string(), ..h.clone() };
        assert_eq!(v.verify_at(&bare, body, 1_000_600), Err(EpistulaError::Replay));
        let upper = EpistulaHeaders { signature: format!("0x{}", bare.signature.to_ascii_uppercase()), ..h.clone() };
        assert_eq!(v.verify_at(&upper, body, 1_000_600), Err(EpistulaError::Replay));
        // Tampered body.
        assert_eq!(verify_signature(&h, br#"{"query": "y", "top_k": 5}"#).err(), Some(EpistulaError::BadSignature));
        // Outside the window.
        assert!(matches!(v.verify_at(&h2, body, 1_000_001 + 60_001), Err(EpistulaError::Expired { .. })));
        // Another key's signature.
        let bob = Signer::from_uri("//Bob").unwrap();
        let forged = EpistulaHeaders { hotkey: bob.hotkey(), ..h2.clone() };
        assert_eq!(verify_signature(&forged, body).err(), Some(EpistulaError::BadSignature));
    }

    #[test]
    fn the_replay_cache_is_pruned_once_a_second_and_forgets_only_what_cannot_be_replayed() {
        let signer = Signer::from_uri("//Alice").unwrap();
        let v = Verifier::new(Duration::from_secs(60));
        let start = 10_000_000u128;
        let bodies: Vec<String> = (0..200).map(|i| format!(r#"{{"n": {i}}}"#)).collect();
        // 200 requests within one second: one prune, not one per request.
        let signed: Vec<EpistulaHeaders> =
            bodies.iter().map(|b| signer.sign_at(b.as_bytes(), start).unwrap()).collect();
        for (i, (h, body)) in signed.iter().zip(&bodies).enumerate() {
            v.verify_at(h, body.as_bytes(), start + i as u128).unwrap();
        }
        assert_eq!(v.replay_cache(), (200, 1));
        // At the window's last millisecond the signatures are still remembered, and refused.
        let first = signed[0].clone();
        let last_ms = start + 60_000;
        assert_eq!(v.verify_at(&first, bodies[0].as_bytes(), last_ms), Err(EpistulaError::Replay));
        assert_eq!(v.replay_cache(), (200, 2));
        // Past it they are expired by the clock check, and the next prune drops them.
        assert!(matches!(v.verify_at(&first, bodies[0].as_bytes(), last_ms + 1), Err(EpistulaError::Expired { .. })));
        let fresh = signer.sign_at(b"{}", last_ms + 1000).unwrap();
        v.verify_at(&fresh, b"{}", last_ms + 1000).unwrap();
        assert_eq!(v.replay_cache(), (1, 3));
    }

    #[test]
    fn header_formats_are_checked() {
        let alice = Signer::from_uri("//Alice").unwrap();
        assert_eq!(alice.hotkey(), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
        assert!(parse_hotkey("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ").is_err());
        // Polkadot prefix (0) for Alice: a valid address, but not prefix 42.
        assert!(parse_hotkey("15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5").is_err());
        let h = EpistulaHeaders { timestamp_ms: "soon".into(), signature: "0x00".into(), hotkey: alice.hotkey() };
        assert!(matches!(Verifier::default().verify_at(&h, b"{}", 0), Err(EpistulaError::BadTimestamp(_))));
        let h = EpistulaHeaders { timestamp_ms: "0".into(), signature: "0x00".into(), hotkey: alice.hotkey() };
        assert_eq!(verify_signature(&h, b"{}").err(), Some(EpistulaError::BadSignatureEncoding));
    }
}
