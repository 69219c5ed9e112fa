//! The beacon a subnet's commits are encrypted to: drand quicknet on subtensor (a constant:
//! no network at run time), or the dev chain's own beacon (same scheme, a key in the chain
//! file, rounds advancing with wall time).

use chronoseek_timelock::{PublicKey, SecretKey, Signature};
use serde::{Deserialize, Serialize};

/// drand quicknet (chain hash 52db9ba7…e971), which subtensor's `pallet_drand` follows.
pub const QUICKNET_PUBLIC_KEY_HEX: &str = "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a";
pub const QUICKNET_GENESIS_UNIX: u64 = 1_692_803_367;
pub const QUICKNET_PERIOD_S: u64 = 3;

/// A beacon's public parameters: enough to encrypt to any of its future rounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Beacon {
    pub public_key: PublicKey,
    /// Unix time (ms) at which round 1 was published; round `r` follows `(r − 1)·period` later.
    pub genesis_unix_ms: u64,
    pub period_ms: u64,
}

impl Beacon {
    pub fn quicknet() -> Self {
        let bytes = hex::decode(QUICKNET_PUBLIC_KEY_HEX).expect("constant hex");
        Self {
            public_key: PublicKey::from_bytes(&bytes).expect("quicknet's public key is a valid G2 point"),
            genesis_unix_ms: QUICKNET_GENESIS_UNIX * 1000,
            period_ms: QUICKNET_PERIOD_S * 1000,
        }
    }

    /// The round the SDK's formula gives for wall time `unix_s`:
    /// `floor((t − genesis) / period)` (0 before genesis).
    pub fn round_at(&self, unix_s: f64) -> u64 {
        let since = unix_s - self.genesis_unix_ms as f64 / 1000.0;
        if since <= 0.0 { 0 } else { (since / (self.period_ms as f64 / 1000.0)).floor() as u64 }
    }

    /// The latest round published at `unix_ms` (drand publishes round `r` at
    /// `genesis + (r − 1)·period`).
    pub fn latest_round(&self, unix_ms: u64) -> u64 {
        if unix_ms < self.genesis_unix_ms { 0 } else { (unix_ms - self.genesis_unix_ms) / self.period_ms + 1 }
    }
}

/// The dev chain's beacon, stored in its file: the secret key signs rounds as they come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevBeacon {
    /// 32 bytes, hex (arkworks' little-endian scalar).
    pub secret_key: String,
    pub genesis_unix_ms: u64,
    pub period_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dev beacon: {0}")]
pub struct DevBeaconError(#[from] chronoseek_timelock::Error);

impl DevBeacon {
    /// A new beacon with a key from the operating system's generator.
    pub fn generate(genesis_unix_ms: u64, period_ms: u64) -> Self {
        let mut seed = [0u8; 64];
        rand::fill(&mut seed[..]);
        Self { secret_key: hex::encode(SecretKey::from_random_bytes(&seed).to_bytes()), genesis_unix_ms, period_ms }
    }

    fn secret(&self) -> Result<SecretKey, DevBeaconError> {
        let bytes =
            hex::decode(&self.secret_key).map_err(|_| chronoseek_timelock::Error::BadPoint("secret key hex"))?;
        Ok(SecretKey::from_bytes(&bytes)?)
    }

    pub fn public(&self) -> Result<Beacon, DevBeaconError> {
        Ok(Beacon {
            public_key: self.secret()?.public_key(),
            genesis_unix_ms: self.genesis_unix_ms,
            period_ms: self.period_ms.max(1),
        })
    }

    /// The signature of `round`, if that round has been published by `unix_ms`.
    pub fn signature(&self, round: u64, unix_ms: u64) -> Result<Option<Signature>, DevBeaconError> {
        let beacon = self.public()?;
        if round > beacon.latest_round(unix_ms) {
            return Ok(None);
        }
        Ok(Some(self.secret()?.sign_round(round)))
    }
}
