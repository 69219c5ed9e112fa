//! sr25519 keys as Substrate and the Python bittensor wallet make them: from a 32-byte seed (a
//! "mini secret", expanded in Ed25519 mode), from a BIP-39 phrase (substrate-bip39: PBKDF2 over
//! the phrase's *entropy*, not over the words), from a secret URI with `//hard` and `/soft`
//! derivation, or from the 64-byte secret a wallet file stores as `privateKey`.
//!
//! `subxt_signer::sr25519::Keypair` cannot be built from that 64-byte form (which is all a
//! wallet file of a URI-derived key holds), so this type keeps the schnorrkel pair itself and
//! signs with the `substrate` context exactly as `subxt_signer`, `sp_core` and the Python
//! wallet do.

use schnorrkel::derive::{ChainCode, Derivation};
use schnorrkel::{ExpansionMode, MiniSecretKey, SecretKey};
use sha2::Sha512;
use subxt_signer::sr25519::PublicKey;
use subxt_signer::{DeriveJunction, ExposeSecret, SecretUri, bip39};

const SIGNING_CONTEXT: &[u8] = b"substrate";

/// Why a key could not be made; the parser's or the curve library's own error is kept.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("bad secret URI: {0}")]
    Uri(#[source] subxt_signer::SecretUriError),
    #[error("bad secret URI: the seed after 0x is not 32 bytes of hex: {0}")]
    SeedHex(#[source] hex::FromHexError),
    #[error("bad mnemonic: {0}")]
    Phrase(#[source] bip39::Error),
    /// (schnorrkel's error is kept, but is not a `std::error::Error` without its `std` feature.)
    #[error("bad secret key bytes: {0}")]
    Secret(schnorrkel::SignatureError),
}

/// An sr25519 key pair (hotkey or coldkey).
#[derive(Clone)]
pub struct Sr25519Key {
    pair: schnorrkel::Keypair,
    /// The mini secret it was expanded from, when known (derived keys have none).
    seed: Option<[u8; 32]>,
}

impl std::fmt::Debug for Sr25519Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("Sr25519Key").field("ss58", &self.ss58()).finish()
    }
}

/// The substrate-bip39 mini secret of a phrase: PBKDF2-HMAC-SHA512 over the phrase's entropy,
/// salt `"mnemonic" + password`, 2048 rounds, first 32 bytes.
pub fn seed_from_phrase(phrase: &str, password: &str) -> Result<[u8; 32], KeyError> {
    let mnemonic = bip39::Mnemonic::parse_normalized(phrase.trim()).map_err(KeyError::Phrase)?;
    let (entropy, len) = mnemonic.to_entropy_array();
    let mut out = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<Sha512>(&entropy[..len], format!("mnemonic{password}").as_bytes(), 2048, &mut out);
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&out[..32]);
    Ok(seed)
}

impl Sr25519Key {
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, KeyError> {
        let mini = MiniSecretKey::from_bytes(&seed).map_err(KeyError::Secret)?;
        Ok(Self { pair: mini.expand_to_keypair(ExpansionMode::Ed25519), seed: Some(seed) })
    }

    pub fn from_phrase(phrase: &str, password: &str) -> Result<Self, KeyError> {
        Self::from_seed(seed_from_phrase(phrase, password)?)
    }

    /// The 64 bytes of schnorrkel's `SecretKey::to_bytes` (key then nonce), the wallet's
    /// `privateKey`.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let secret = SecretKey::from_bytes(bytes).map_err(KeyError::Secret)?;
        Ok(Self { pair: secret.to_keypair(), seed: None })
    }

    /// `//Alice`, `<phrase>//hard/soft///password`, `0x<seed hex>//path`.
    pub fn from_uri(uri: &str) -> Result<Self, KeyError> {
        let uri: SecretUri = uri.parse().map_err(KeyError::Uri)?;
        let phrase = uri.phrase.expose_secret();
        let root = if let Some(hex_seed) = phrase.strip_prefix("0x") {
            let mut seed = [0u8; 32];
            hex::decode_to_slice(hex_seed, &mut seed).map_err(KeyError::SeedHex)?;
            Self::from_seed(seed)?
        } else {
            Self::from_phrase(phrase, uri.password.as_ref().map(|p| p.expose_secret()).unwrap_or(""))?
        };
        if uri.junctions.is_empty() {
            return Ok(root);
        }
        // The same derivation as sp_core and subxt_signer.
        let secret = uri.junctions.iter().fold(root.pair.secret.clone(), |acc, j| match *j {
            DeriveJunction::Soft(cc) => acc.derived_key_simple(ChainCode(cc), []).0,
            DeriveJunction::Hard(cc) => {
                acc.hard_derive_mini_secret_key(Some(ChainCode(cc)), b"").0.expand(ExpansionMode::Ed25519)
            }
        });
        Ok(Self { pair: secret.to_keypair(), seed: None })
    }

    /// A fresh key from a fresh 12-word phrase (returned so the user can write it down).
    pub fn generate() -> Result<(Self, String), KeyError> {
        let entropy: [u8; 16] = rand::random();
        let mnemonic = bip39::Mnemonic::from_entropy(&entropy).map_err(KeyError::Phrase)?;
        let phrase = mnemonic.to_string();
        Ok((Self::from_phrase(&phrase, "")?, phrase))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.pair.public.to_bytes())
    }

    /// The SS58 address (prefix 42).
    pub fn ss58(&self) -> String {
        ss58(&self.public_key())
    }

    /// A signature over `message` with the `substrate` signing context.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.pair.sign(schnorrkel::signing_context(SIGNING_CONTEXT).bytes(message)).to_bytes()
    }

    /// The wallet file's `privateKey` (schnorrkel `SecretKey::to_bytes`).
    pub fn secret_bytes(&self) -> [u8; 64] {
        self.pair.secret.to_bytes()
    }

    /// The mini secret (`secretSeed`), when the key was made from one.
    pub fn seed(&self) -> Option<[u8; 32]> {
        self.seed
    }
}

/// The SS58 address (prefix 42) of a public key.
pub fn ss58(public: &PublicKey) -> String {
    subxt_utils_accountid32::AccountId32(public.0).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_subxt_signer_for_uris_and_phrases() {
        for uri in [
            "//Alice",
            "//Alice/stash",
            "//ChronoSeekTestValidator",
            &format!("{}//x/y///pw", subxt_signer::DEV_PHRASE),
        ] {
            let ours = Sr25519Key::from_uri(uri).unwrap();
            let theirs = subxt_signer::sr25519::Keypair::from_uri(&uri.parse().unwrap()).unwrap();
            assert_eq!(ours.public_key().0, theirs.public_key().0, "{uri}");
            let sig = subxt_signer::sr25519::Signature(ours.sign(b"msg"));
            assert!(subxt_signer::sr25519::verify(&sig, b"msg", &theirs.public_key()));
        }
        let (key, phrase) = Sr25519Key::generate().unwrap();
        assert_eq!(phrase.split_whitespace().count(), 12);
        let back = Sr25519Key::from_secret_bytes(&key.secret_bytes()).unwrap();
        assert_eq!(back.public_key().0, key.public_key().0);
        assert_eq!(Sr25519Key::from_seed(key.seed().unwrap()).unwrap().ss58(), key.ss58());
        assert!(Sr25519Key::from_phrase("not a phrase", "").is_err());
    }
}
