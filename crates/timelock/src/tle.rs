//! Timelock encryption of arbitrary bytes: a fresh AES-256-GCM key encrypts the message, and
//! the key is IBE-encrypted to the round's identity.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ark_bls12_381::Fr;
use ark_ff::PrimeField;

use crate::bls::{PublicKey, Signature, hash_to_g1, round_message};
use crate::{Error, ibe, wire};

/// The random values one encryption consumes. Draw them from the operating system's generator;
/// reusing them across messages would reveal the key.
#[derive(Clone)]
pub struct Randomness {
    /// Reduced mod r into the IBE's `t`.
    pub ibe: [u8; 64],
    /// The AES-256-GCM key the IBE carries.
    pub key: [u8; 32],
    pub nonce: [u8; 12],
}

/// Encrypts `plaintext` so that it opens with `beacon`'s signature of `round`, in the wire
/// format of [`crate::wire`] (`plaintext.len() + 244` bytes).
pub fn encrypt(beacon: &PublicKey, round: u64, plaintext: &[u8], randomness: &Randomness) -> Vec<u8> {
    let q = hash_to_g1(&round_message(round));
    let t = Fr::from_le_bytes_mod_order(&randomness.ibe);
    let header = ibe::encrypt(&beacon.0, &q, &randomness.key, t);
    let cipher = Aes256Gcm::new(&randomness.key.into());
    let body = cipher
        .encrypt(Nonce::from_slice(&randomness.nonce), plaintext)
        .expect("AES-GCM encrypts any message shorter than 64 GiB");
    wire::write(&header, &body, &randomness.nonce)
}

/// Opens a ciphertext with the signature of the round it was encrypted to.
pub fn decrypt(ciphertext: &[u8], signature: &Signature) -> Result<Vec<u8>, Error> {
    let parsed = wire::read(ciphertext)?;
    let key = ibe::decrypt(&parsed.header, &signature.0)?;
    let cipher = Aes256Gcm::new(&key.into());
    cipher
        .decrypt(Nonce::from_slice(&parsed.nonce), parsed.aes_ciphertext.as_slice())
        .map_err(|_| Error::BodyAuthentication)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SecretKey;

    fn rnd(seed: u8) -> Randomness {
        Randomness { ibe: [seed; 64], key: [seed.wrapping_add(1); 32], nonce: [seed.wrapping_add(2); 12] }
    }

    #[test]
    fn round_trip_with_a_dev_beacon_and_refusals() {
        let sk = SecretKey::from_random_bytes(&[7; 64]);
        let pk = sk.public_key();
        assert!(pk.verify(5, &sk.sign_round(5)));
        assert!(!pk.verify(6, &sk.sign_round(5)));
        let ct = encrypt(&pk, 5, b"weights", &rnd(1));
        assert_eq!(ct.len(), 7 + wire::OVERHEAD);
        assert_eq!(decrypt(&ct, &sk.sign_round(5)).unwrap(), b"weights");
        assert_eq!(decrypt(&ct, &sk.sign_round(4)), Err(Error::WrongSignature));
        // A flipped bit in the body fails authentication; one in V fails the header check.
        let mut body = ct.clone();
        let n = body.len();
        body[n - 40] ^= 1;
        assert_eq!(decrypt(&body, &sk.sign_round(5)), Err(Error::BodyAuthentication));
        let mut header = ct.clone();
        header[96 + 8] ^= 1;
        assert_eq!(decrypt(&header, &sk.sign_round(5)), Err(Error::WrongSignature));
        assert!(matches!(decrypt(&ct[..100], &sk.sign_round(5)), Err(Error::Malformed(_))));
        assert_eq!(SecretKey::from_bytes(&sk.to_bytes()).unwrap(), sk);
    }
}
