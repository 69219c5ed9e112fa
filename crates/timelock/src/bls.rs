//! Keys and signatures of a drand-style beacon: public keys in G2 (96 bytes compressed),
//! signatures in G1 (48 bytes), messages hashed to G1 with RFC 9380 and quicknet's domain tag.

use ark_bls12_381::{Bls12_381, Fr, G1Affine, G1Projective, G2Affine, g1};
use ark_ec::hashing::HashToCurve;
use ark_ec::hashing::curve_maps::wb::WBMap;
use ark_ec::hashing::map_to_curve_hasher::MapToCurveBasedHasher;
use ark_ec::pairing::{Pairing, PairingOutput};
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::PrimeField;
use ark_ff::field_hashers::DefaultFieldHasher;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};
use sha2::{Digest, Sha256};

use crate::Error;

/// Domain separation tag of drand quicknet (`bls-unchained-g1-rfc9380`).
const DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";

/// What a beacon signs for `round`: `sha256(round as 8 big-endian bytes)`. This is also the
/// identity a commit for that round is encrypted to.
pub fn round_message(round: u64) -> [u8; 32] {
    Sha256::digest(round.to_be_bytes()).into()
}

/// The message hashed onto G1 (RFC 9380 hash_to_curve, SSWU + isogeny, random-oracle variant).
pub(crate) fn hash_to_g1(message: &[u8]) -> G1Affine {
    let hasher = MapToCurveBasedHasher::<G1Projective, DefaultFieldHasher<Sha256, 128>, WBMap<g1::Config>>::new(DST)
        .expect("the BLS12-381 G1 map parameters are valid");
    hasher.hash(message).expect("hashing to G1 cannot fail for the SSWU map")
}

/// A beacon's public key (a G2 point).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub(crate) G2Affine);

impl PublicKey {
    /// From 96 compressed bytes (what drand's `/info` gives as hex).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        G2Affine::deserialize_compressed(bytes).map(Self).map_err(|_| Error::BadPoint("beacon public key (G2)"))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        self.0.serialize_compressed(&mut out).expect("writing to a Vec cannot fail");
        out
    }

    /// Whether `signature` is this beacon's signature of `round`: e(sig, g2) = e(H(m), pk).
    pub fn verify(&self, round: u64, signature: &Signature) -> bool {
        let h = hash_to_g1(&round_message(round));
        // One product of two pairings: e(sig, g2) * e(-H(m), pk) is the identity of GT.
        Bls12_381::multi_pairing([signature.0, -h], [G2Affine::generator(), self.0]) == PairingOutput::default()
    }
}

/// A beacon's signature of one round (a G1 point): the key that opens that round's commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub(crate) G1Affine);

impl Signature {
    /// From 48 compressed bytes (drand's `signature` field, hex-decoded).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        G1Affine::deserialize_compressed(bytes).map(Self).map_err(|_| Error::BadPoint("beacon signature (G1)"))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48);
        self.0.serialize_compressed(&mut out).expect("writing to a Vec cannot fail");
        out
    }
}

/// A beacon's secret key: for a development beacon that signs rounds itself (quicknet's key
/// is a threshold key nobody holds).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(Fr);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// From uniformly random bytes (reduced mod r; 64 bytes give a negligible bias).
    pub fn from_random_bytes(bytes: &[u8; 64]) -> Self {
        Self(Fr::from_le_bytes_mod_order(bytes))
    }

    /// 32 bytes, little-endian (arkworks' scalar serialisation).
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = Vec::with_capacity(32);
        self.0.serialize_compressed(&mut out).expect("writing to a Vec cannot fail");
        out.try_into().expect("a BLS12-381 scalar is 32 bytes")
    }

    /// The inverse of [`SecretKey::to_bytes`]; refuses non-canonical scalars and zero.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let s = Fr::deserialize_compressed(bytes).map_err(|_| Error::BadPoint("beacon secret key (scalar)"))?;
        if s == Fr::from(0u64) {
            return Err(Error::BadPoint("beacon secret key (scalar)"));
        }
        Ok(Self(s))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey((G2Affine::generator() * self.0).into_affine())
    }

    /// The beacon's signature of `round` (what the beacon publishes when the round comes).
    pub fn sign_round(&self, round: u64) -> Signature {
        Signature((hash_to_g1(&round_message(round)) * self.0).into_affine())
    }
}
