//! Timelock encryption to a drand round, byte for byte as subtensor's commit-reveal reads it.
//!
//! A drand beacon in *unchained, G1-signature* mode (quicknet) publishes, every period, the BLS
//! signature of `sha256(round as 8 big-endian bytes)` under one long-lived key. Such a
//! signature is also the Boneh–Franklin IBE private key of the identity "that message", so a
//! message encrypted to the identity today opens only when the round's signature exists
//! (Gailly, Melissaris, Romailler: *tlock*, 2023). Subtensor's `pallet_drand` stores every
//! quicknet pulse and, at a commit's reveal block, decrypts the validator's weights with it.
//!
//! Why this crate exists instead of a dependency: the chain and the Python SDK
//! (`bittensor-drand`) use Ideal Labs' `timelock` crate, which is published only as a git
//! repository and pins `w3f-bls`; neither can be fetched here. What matters is the bytes, and
//! those are small and fully specified:
//!
//! - the IBE is FullIdent (Boneh–Franklin with the Fujisaki–Okamoto check) in the "tiny BLS"
//!   arrangement: public key in G2, signatures and identities in G1; identities hash to G1 with
//!   RFC 9380 `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_`; [`ibe`];
//! - the IBE carries a 32-byte AES-256-GCM key; the message itself is AES-GCM encrypted; [`tle`];
//! - everything is serialised with arkworks' `CanonicalSerialize` (compressed points, field
//!   elements little-endian, `Vec<u8>` as a u64 little-endian length then the bytes); [`wire`].
//!
//! Every random value is an input ([`Randomness`]): callers draw it from the OS, tests fix it.
//! The golden tests (`tests/timelock.rs` in the main crate) decrypt ciphertexts the Python
//! package made with real quicknet signatures, and the Python package decrypts ours.

mod bls;
mod ibe;
mod tle;
mod wire;

pub use bls::{PublicKey, SecretKey, Signature, round_message};
pub use tle::{Randomness, decrypt, encrypt};

/// Why a ciphertext, key or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes are not a timelock ciphertext of the expected layout.
    #[error("malformed timelock ciphertext: {0}")]
    Malformed(&'static str),
    /// Bytes that are not a point of the right group (or not in its prime-order subgroup).
    #[error("not a valid {0} (compressed BLS12-381 point in the prime-order subgroup)")]
    BadPoint(&'static str),
    /// The signature does not open this ciphertext: another round's, another beacon's, or a
    /// ciphertext whose IBE header was altered.
    #[error("this signature does not open the ciphertext (wrong round or beacon, or a tampered header)")]
    WrongSignature,
    /// The IBE header opened but the AES-GCM body did not authenticate (a tampered body).
    #[error("the ciphertext body does not authenticate (tampered)")]
    BodyAuthentication,
    /// A cipher suite other than the one this crate writes.
    #[error("unsupported cipher suite {0:?}")]
    CipherSuite(String),
}
pub use wire::OVERHEAD;
