//! Content fingerprints: blake3 of a video's bytes, computed while the bytes stream past.

use std::io::Write;
use std::str::FromStr;

/// The identity of a video's content. Two URLs serving the same bytes share one fingerprint, so
/// they share one set of embeddings.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Hashes a whole buffer (tests and small inputs).
    pub fn of(data: &[u8]) -> Self {
        Self(*blake3::hash(data).as_bytes())
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({})", &self.to_hex()[..12])
    }
}

/// Why a string is not a fingerprint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FingerprintError {
    #[error("a fingerprint has 64 hex digits, got {0} characters")]
    Length(usize),
    #[error("bad fingerprint: {0}")]
    Hex(#[source] hex::FromHexError),
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;
    /// Exactly 64 hex digits (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(FingerprintError::Length(s.len()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(FingerprintError::Hex)?;
        Ok(Self(out))
    }
}

/// Serialised as its 64 hex digits (index manifests, JSON answers).
impl serde::Serialize for Fingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Fingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A writer that hashes everything written through it, so a download is fingerprinted in the
/// same pass that stores it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        Self { inner, hasher: blake3::Hasher::new(), written: 0 }
    }
    pub fn written(&self) -> u64 {
        self.written
    }
    /// Flushes and returns the inner writer, the fingerprint and the byte count.
    pub fn finish(mut self) -> std::io::Result<(W, Fingerprint, u64)> {
        self.inner.flush()?;
        Ok((self.inner, Fingerprint(*self.hasher.finalize().as_bytes()), self.written))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_hash_equals_one_shot_hash() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = HashingWriter::new(Vec::new());
        for chunk in data.chunks(777) {
            w.write_all(chunk).unwrap();
        }
        let (inner, fp, n) = w.finish().unwrap();
        assert_eq!(inner, data);
        assert_eq!(n, data.len() as u64);
        assert_eq!(fp, Fingerprint::of(&data));
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let fp = Fingerprint::of(b"x");
        assert_eq!(fp.to_hex().parse::<Fingerprint>().unwrap(), fp);
        assert_eq!("abc".parse::<Fingerprint>(), Err(FingerprintError::Length(3)));
        assert!(matches!("z".repeat(64).parse::<Fingerprint>(), Err(FingerprintError::Hex(_))));
    }
}
