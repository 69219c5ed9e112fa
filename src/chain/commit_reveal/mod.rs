//! Commit-reveal weights as subtensor runs them today: the validator encrypts its weights to a
//! future drand round (timelock, `chronoseek-timelock`), commits the ciphertext with
//! `commit_timelocked_weights`, and the chain itself decrypts and applies them at the reveal
//! block with that round's beacon signature. Nobody — the validator included — sends a reveal.
//!
//! This module prepares a commit exactly as the Python SDK does (payload SCALE encoding, reveal
//! block, reveal round, size limit); `subtensor/` and `local.rs` submit it.

mod beacon;
pub mod schedule;

pub use beacon::{
    Beacon, DevBeacon, DevBeaconError, QUICKNET_GENESIS_UNIX, QUICKNET_PERIOD_S, QUICKNET_PUBLIC_KEY_HEX,
};
pub use schedule::{EpochScheduleState, RevealSchedule, ScheduleError};

use parity_scale_codec::{Decode, Encode};
use serde::Serialize;

use super::U16Weights;

/// `MAX_CRV3_COMMIT_SIZE_BYTES`: the chain's bound on one commit's ciphertext.
pub const MAX_COMMIT_BYTES: usize = 5000;
/// The `commit_reveal_version` this build's payload format is (the chain's
/// `CommitRevealWeightsVersion` must equal it).
pub const COMMIT_REVEAL_VERSION: u16 = 4;
/// Unrevealed commits the chain keeps per hotkey and subnet.
pub const MAX_PENDING_COMMITS: usize = 10;

/// What the chain decrypts: `WeightsTlockPayload` in subtensor, SCALE-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, Serialize)]
pub struct WeightsTlockPayload {
    /// The committer's 32-byte public key: the chain refuses a payload naming another hotkey.
    #[serde(with = "hex_bytes")]
    pub hotkey: Vec<u8>,
    pub uids: Vec<u16>,
    pub values: Vec<u16>,
    pub version_key: u64,
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(b))
    }
}

/// Ciphertext length for `n` uids: payload (32-byte key, two compact-prefixed `u16` lists, a
/// `u64`) plus the timelock overhead.
pub fn commit_len(n: usize) -> usize {
    let compact = |n: usize| parity_scale_codec::Compact(n as u32).encoded_size();
    1 + 32 + 2 * (compact(n) + 2 * n) + 8 + chronoseek_timelock::OVERHEAD
}

/// The most uids one commit can carry within [`MAX_COMMIT_BYTES`].
pub fn max_uids_per_commit() -> usize {
    (0..=u16::MAX as usize).take_while(|n| commit_len(*n) <= MAX_COMMIT_BYTES).last().unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(
        "a commit of {uids} uids is {bytes} bytes, over the chain's {MAX_COMMIT_BYTES}-byte limit (at most {max} uids fit)"
    )]
    TooLarge { uids: usize, bytes: usize, max: usize },
    #[error(
        "the chain expects commit-reveal version {chain}, this build writes version {COMMIT_REVEAL_VERSION}: upgrade chronoseek"
    )]
    Version { chain: u16 },
    #[error("{pending} commits of this hotkey are still unrevealed (the chain keeps at most {MAX_PENDING_COMMITS})")]
    TooManyPending { pending: usize },
}

/// A commit ready to send, with everything an operator wants to see about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreparedCommit {
    pub payload: WeightsTlockPayload,
    #[serde(with = "hex_bytes")]
    pub payload_scale: Vec<u8>,
    pub schedule: RevealSchedule,
    /// The first block at which the chain reveals it.
    pub reveal_block: u64,
    pub reveal_round: u64,
    #[serde(with = "hex_bytes")]
    pub ciphertext: Vec<u8>,
    /// sha256 of the payload, to recognise it later without keeping the weights.
    pub payload_sha256: String,
}

/// The inputs of one commit.
pub struct CommitRequest<'a> {
    pub beacon: &'a Beacon,
    pub hotkey: [u8; 32],
    pub weights: &'a U16Weights,
    pub version_key: u64,
    pub schedule: RevealSchedule,
    pub block_time_s: f64,
    /// Wall time the reveal round is computed from (seconds since the epoch).
    pub now_unix: f64,
    /// Encrypt to this round instead of the computed one (tests, `weights commit --reveal-round`).
    pub reveal_round: Option<u64>,
}

/// Builds the payload, picks the round and encrypts (fresh randomness from the OS).
pub fn prepare_commit(req: CommitRequest<'_>) -> Result<PreparedCommit, CommitError> {
    let n = req.weights.uids.len();
    let bytes = commit_len(n);
    if bytes > MAX_COMMIT_BYTES {
        return Err(CommitError::TooLarge { uids: n, bytes, max: max_uids_per_commit() });
    }
    let payload = WeightsTlockPayload {
        hotkey: req.hotkey.to_vec(),
        uids: req.weights.uids.clone(),
        values: req.weights.weights.clone(),
        version_key: req.version_key,
    };
    let payload_scale = payload.encode();
    let reveal_block = req.schedule.first_reveal_block()?;
    let reveal_round = match req.reveal_round {
        Some(r) => r,
        None => req.schedule.reveal_round(req.now_unix, req.block_time_s, req.beacon)?,
    };
    let mut randomness = chronoseek_timelock::Randomness { ibe: [0; 64], key: [0; 32], nonce: [0; 12] };
    rand::fill(&mut randomness.ibe[..]);
    rand::fill(&mut randomness.key[..]);
    rand::fill(&mut randomness.nonce[..]);
    let ciphertext = chronoseek_timelock::encrypt(&req.beacon.public_key, reveal_round, &payload_scale, &randomness);
    debug_assert_eq!(ciphertext.len(), bytes);
    let payload_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&payload_scale));
    Ok(PreparedCommit {
        payload,
        payload_scale,
        schedule: req.schedule,
        reveal_block,
        reveal_round,
        ciphertext,
        payload_sha256,
    })
}

/// A commit the chain holds and has not revealed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PendingCommit {
    pub hotkey: String,
    pub commit_block: u64,
    pub reveal_round: u64,
    /// The epoch the chain files it under (subtensor) or its reveal block (dev chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal_block: Option<u64>,
    pub commit_bytes: usize,
}
