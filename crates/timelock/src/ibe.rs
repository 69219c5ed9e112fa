//! Boneh–Franklin FullIdent (the IBE with the Fujisaki–Okamoto transform) on BLS12-381 in the
//! tiny-BLS arrangement: master public key `P_pub = s·g2` in G2, identity `Q = H(id)` in G1,
//! identity secret `s·Q` in G1 — which is exactly a beacon's signature of `id`.
//!
//! Encrypting a 32-byte message `m` (the AES key) to `Q` with fresh `t`:
//! `σ = H4(t)`, `r = H3(σ, m)`, `U = r·g2`, `V = σ ⊕ H2(e(Q, r·P_pub))`, `W = m ⊕ H4(σ)`.
//! Decrypting with the signature `d = s·Q`: `σ = V ⊕ H2(e(d, U))`, `m = W ⊕ H4(σ)`, and the
//! ciphertext is accepted only if `U = H3(σ, m)·g2` — a wrong signature or an altered header
//! fails that check instead of yielding garbage.
//!
//! The hash functions are those of Ideal Labs' `timelock` crate (which the chain runs):
//! `H2(g) = sha256(compressed bytes of g ∈ GT)`, `H3(a, b) = sha256(a‖b)` read big-endian mod r,
//! `H4(x) = sha256(x)` truncated to `len(x)`.

use ark_bls12_381::{Bls12_381, Fq12, Fr, G1Affine, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::PrimeField;
use ark_serialize::CanonicalSerialize;
use sha2::{Digest, Sha256};

use crate::Error;

/// `(U, V, W)`: the IBE part of a timelock ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IbeCiphertext {
    pub u: G2Affine,
    pub v: [u8; 32],
    pub w: [u8; 32],
}

fn xor32(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

fn h2(g: &Fq12) -> [u8; 32] {
    let mut bytes = Vec::with_capacity(576);
    g.serialize_compressed(&mut bytes).expect("writing to a Vec cannot fail");
    Sha256::digest(&bytes).into()
}

fn h3(a: &[u8; 32], b: &[u8; 32]) -> Fr {
    let mut h = Sha256::new();
    h.update(a);
    h.update(b);
    Fr::from_be_bytes_mod_order(&h.finalize())
}

fn h4(x: &[u8; 32]) -> [u8; 32] {
    Sha256::digest(x).into()
}

/// Encrypts `message` to the identity point `q` under the master public key `p_pub`; `t` is
/// the fresh randomness (any scalar).
pub(crate) fn encrypt(p_pub: &G2Affine, q: &G1Affine, message: &[u8; 32], t: Fr) -> IbeCiphertext {
    let mut t_bytes = Vec::with_capacity(32);
    t.serialize_compressed(&mut t_bytes).expect("writing to a Vec cannot fail");
    let t_bytes: [u8; 32] = t_bytes.try_into().expect("a BLS12-381 scalar is 32 bytes");
    let sigma = h4(&t_bytes);
    let r = h3(&sigma, message);
    let u = (G2Affine::generator() * r).into_affine();
    let g_id = Bls12_381::pairing(*q, (*p_pub * r).into_affine()).0;
    IbeCiphertext { u, v: xor32(&sigma, &h2(&g_id)), w: xor32(message, &h4(&sigma)) }
}

/// Recovers the 32-byte message with the identity's secret (the beacon signature `d`).
pub(crate) fn decrypt(ct: &IbeCiphertext, d: &G1Affine) -> Result<[u8; 32], Error> {
    let sigma = xor32(&ct.v, &h2(&Bls12_381::pairing(*d, ct.u).0));
    let m = xor32(&ct.w, &h4(&sigma));
    let r = h3(&sigma, &m);
    if (G2Affine::generator() * r).into_affine() != ct.u {
        return Err(Error::WrongSignature);
    }
    Ok(m)
}
