//! The serialised timelock ciphertext: arkworks `CanonicalSerialize` (compressed) of
//!
//! ```text
//! TLECiphertext { header: { u: G2, v: Vec<u8>, w: Vec<u8> }, body: Vec<u8>, cipher_suite: Vec<u8> }
//! body = AESOutput { ciphertext: Vec<u8> /* with the 16-byte tag */, nonce: Vec<u8> /* 12 */ }
//! ```
//!
//! where a `Vec<u8>` is its length as a u64 little-endian, then the bytes. A commit of `n`
//! payload bytes is therefore `n + 244` bytes long.

use ark_bls12_381::G2Affine;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize};

use crate::Error;
use crate::ibe::IbeCiphertext;

/// The only cipher suite the chain's decrypter knows.
pub(crate) const CIPHER_SUITE: &[u8] = b"AES_GCM_";
pub(crate) const NONCE_LEN: usize = 12;
/// Bytes a ciphertext adds to its plaintext.
pub const OVERHEAD: usize = 96 + (8 + 32) * 2 + 8 + (8 + 16) + (8 + NONCE_LEN) + 8 + CIPHER_SUITE.len();

pub(crate) struct Parsed {
    pub header: IbeCiphertext,
    pub aes_ciphertext: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
}

fn put_vec(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

pub(crate) fn write(header: &IbeCiphertext, aes_ciphertext: &[u8], nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let mut body = Vec::with_capacity(aes_ciphertext.len() + 8 + 8 + NONCE_LEN);
    put_vec(&mut body, aes_ciphertext);
    put_vec(&mut body, nonce);
    let mut out = Vec::with_capacity(aes_ciphertext.len() + OVERHEAD);
    header.u.serialize_compressed(&mut out).expect("writing to a Vec cannot fail");
    put_vec(&mut out, &header.v);
    put_vec(&mut out, &header.w);
    put_vec(&mut out, &body);
    put_vec(&mut out, CIPHER_SUITE);
    out
}

/// A cursor that refuses to read past the end (lengths come from untrusted bytes).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::Malformed(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn vec(&mut self, what: &'static str) -> Result<&'a [u8], Error> {
        let len = u64::from_le_bytes(self.take(8, what)?.try_into().expect("8 bytes"));
        let len = usize::try_from(len).map_err(|_| Error::Malformed(what))?;
        self.take(len, what)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Error> {
        self.vec(what)?.try_into().map_err(|_| Error::Malformed(what))
    }
}

pub(crate) fn read(bytes: &[u8]) -> Result<Parsed, Error> {
    let mut r = Reader(bytes);
    let u = G2Affine::deserialize_compressed(r.take(96, "header U")?).map_err(|_| Error::BadPoint("header U (G2)"))?;
    let v = r.array::<32>("header V")?;
    let w = r.array::<32>("header W")?;
    let body = r.vec("body")?;
    let suite = r.vec("cipher suite")?;
    if !r.0.is_empty() {
        return Err(Error::Malformed("trailing bytes after the cipher suite"));
    }
    if suite != CIPHER_SUITE {
        return Err(Error::CipherSuite(String::from_utf8_lossy(suite).into_owned()));
    }
    let mut b = Reader(body);
    let aes_ciphertext = b.vec("AES ciphertext")?.to_vec();
    let nonce = b.array::<NONCE_LEN>("AES nonce")?;
    if !b.0.is_empty() {
        return Err(Error::Malformed("trailing bytes in the body"));
    }
    Ok(Parsed { header: IbeCiphertext { u, v, w }, aes_ciphertext, nonce })
}
