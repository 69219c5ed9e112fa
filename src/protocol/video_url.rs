//! `VideoUrl`: the only kind of video location that crosses the network boundary.
//!
//! A miner and a gateway take video locations from strangers. Whatever a flag says, such a
//! location is an `http(s)` URL with a host and nothing else: no `file:`, no bare paths, no
//! fingerprints, no credentials. It is parsed once, here, into this type; code past the edge
//! (the engine, the fetcher) receives the type and never looks at the text again, so a
//! re-parse with looser rules (the CLI's, which accept paths) cannot happen.
//!
//! Every refusal has the same message whatever the text was: a caller learns nothing about
//! the miner's file system from the answer (no existence oracle).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest accepted URL, in bytes (browsers and CDNs cap far below this; it only bounds work).
pub const MAX_VIDEO_URL_BYTES: usize = 8 * 1024;

/// The one message for every refused video location.
pub const REFUSED_VIDEO_URL: &str = "video.url must be an http:// or https:// URL with a host";

/// Why a string is not a [`VideoUrl`]. The variants exist for tests and logs; callers on the
/// network boundary show [`REFUSED_VIDEO_URL`] for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VideoUrlError {
    #[error("{REFUSED_VIDEO_URL} (not an absolute URL)")]
    NotAUrl,
    #[error("{REFUSED_VIDEO_URL} (scheme not allowed)")]
    Scheme,
    #[error("{REFUSED_VIDEO_URL} (no host)")]
    NoHost,
    #[error("{REFUSED_VIDEO_URL} (credentials in the URL)")]
    Credentials,
    #[error("{REFUSED_VIDEO_URL} (longer than {MAX_VIDEO_URL_BYTES} bytes)")]
    TooLong,
    /// A raw control character (the URL parser would silently percent-encode it, turning a
    /// malformed location into a different, valid one).
    #[error("{REFUSED_VIDEO_URL} (control character)")]
    ControlCharacter,
}

/// An `http` or `https` URL with a host and no user info.
///
/// ```
/// use chronoseek::protocol::VideoUrl;
/// assert!(VideoUrl::parse("https://example.com/a.mp4").is_ok());
/// for bad in ["file:///etc/passwd", "/etc/passwd", "ftp://e.com/a", "https://u:p@e.com/a", "data:,x"] {
///     assert!(VideoUrl::parse(bad).is_err(), "{bad}");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VideoUrl(url::Url);

impl VideoUrl {
    pub fn parse(s: &str) -> Result<Self, VideoUrlError> {
        if s.len() > MAX_VIDEO_URL_BYTES {
            return Err(VideoUrlError::TooLong);
        }
        let s = s.trim();
        if s.chars().any(char::is_control) {
            return Err(VideoUrlError::ControlCharacter);
        }
        let url = url::Url::parse(s).map_err(|_| VideoUrlError::NotAUrl)?;
        Self::from_url(url)
    }

    pub fn from_url(url: url::Url) -> Result<Self, VideoUrlError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(VideoUrlError::Scheme);
        }
        match url.host() {
            None => return Err(VideoUrlError::NoHost),
            Some(url::Host::Domain("")) => return Err(VideoUrlError::NoHost),
            Some(_) => {}
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(VideoUrlError::Credentials);
        }
        Ok(Self(url))
    }

    pub fn as_url(&self) -> &url::Url {
        &self.0
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for VideoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl std::str::FromStr for VideoUrl {
    type Err = VideoUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for VideoUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for VideoUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_and_no_credentials() {
        for good in [
            "http://e.com/v.mp4",
            "https://e.com",
            "HTTPS://E.COM/a?b=c#d",
            "http://[2606:4700::1]:8080/x",
            "http://8.8.8.8/x",
            "  https://e.com/padded  ",
        ] {
            assert!(VideoUrl::parse(good).is_ok(), "{good}");
        }
        let cases: &[(&str, VideoUrlError)] = &[
            ("file:///etc/passwd", VideoUrlError::Scheme),
            ("file://localhost/etc/passwd", VideoUrlError::Scheme),
            ("FILE:///proc/self/pagemap", VideoUrlError::Scheme),
            ("/etc/passwd", VideoUrlError::NotAUrl),
            ("./video.mp4", VideoUrlError::NotAUrl),
            ("video.mp4", VideoUrlError::NotAUrl),
            ("af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", VideoUrlError::NotAUrl),
            ("data:video/mp4;base64,AAAA", VideoUrlError::Scheme),
            ("ftp://e.com/v.mp4", VideoUrlError::Scheme),
            ("gopher://e.com/", VideoUrlError::Scheme),
            ("javascript:alert(1)", VideoUrlError::Scheme),
            ("http://", VideoUrlError::NotAUrl),
            ("https://user:pw@e.com/v.mp4", VideoUrlError::Credentials),
            ("https://user@e.com/v.mp4", VideoUrlError::Credentials),
            ("", VideoUrlError::NotAUrl),
            ("http://e.com/\u{0}x", VideoUrlError::ControlCharacter),
            ("http://e.com/a\tb", VideoUrlError::ControlCharacter),
            ("http://e.com/a\nb", VideoUrlError::ControlCharacter),
        ];
        for (s, want) in cases {
            assert_eq!(VideoUrl::parse(s).err(), Some(*want), "{s}");
        }
        assert_eq!(VideoUrl::parse(&format!("https://e.com/{}", "a".repeat(9000))).err(), Some(VideoUrlError::TooLong));
        // One message whatever was refused: no existence oracle.
        for (s, _) in cases {
            assert!(VideoUrl::parse(s).unwrap_err().to_string().starts_with(REFUSED_VIDEO_URL));
        }
    }

    #[test]
    fn round_trips_as_a_json_string() {
        let u = VideoUrl::parse("https://e.com/v.mp4").unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"https://e.com/v.mp4\"");
        assert_eq!(serde_json::from_str::<VideoUrl>("\"https://e.com/v.mp4\"").unwrap(), u);
        assert!(serde_json::from_str::<VideoUrl>("\"file:///etc/passwd\"").is_err());
    }
}
