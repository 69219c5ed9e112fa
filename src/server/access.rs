//! An access token for `chronoseek serve`, so a library page reachable from other machines is
//! not open to everyone who can reach it.
//!
//! The Jupyter way: the server knows a secret; the URL it prints carries it once
//! (`/?token=…`), the page answers with an `HttpOnly`, `SameSite=Lax` cookie and a redirect
//! to `/`, and from then on the browser's cookie admits every request the page makes — the
//! API, thumbnails, and the `<video>` element's range requests, which cannot carry custom
//! headers. Scripts send `Authorization: Bearer <token>` instead. `Lax`, not `Strict`: a
//! bookmark or a link from a chat must open the page, while other sites' images, scripts
//! and form posts still go without the cookie. Anything else is a 401 with
//! the protocol envelope, on every route.
//!
//! Only a blake3 hash of the token is kept, and `blake3::Hash`'s equality is constant-time, so
//! comparing does not leak how much of a guess was right.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::HttpError;
use crate::protocol::{ErrorCode, ProtocolError};

/// The cookie that carries the token after the first visit.
pub const COOKIE: &str = "chronoseek_token";
/// Shortest token accepted.
pub const MIN_TOKEN_CHARS: usize = 16;
/// How long the browser keeps the cookie (30 days).
const COOKIE_MAX_AGE_S: u32 = 30 * 24 * 3600;

/// The secret a request must show.
#[derive(Clone)]
pub struct AccessToken {
    hash: blake3::Hash,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessTokenError {
    #[error("the access token must be at least {MIN_TOKEN_CHARS} characters")]
    TooShort,
    #[error("the access token may hold only letters, digits and - . _ ~ (it travels in a URL and a cookie)")]
    BadCharacter,
}

impl AccessToken {
    /// A token chosen by the operator.
    pub fn new(secret: &str) -> Result<Self, AccessTokenError> {
        if secret.chars().count() < MIN_TOKEN_CHARS {
            return Err(AccessTokenError::TooShort);
        }
        if !secret.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')) {
            return Err(AccessTokenError::BadCharacter);
        }
        Ok(Self { hash: blake3::hash(secret.as_bytes()) })
    }

    /// A fresh random token (256 bits, hex) and its secret, to print once.
    pub fn generate() -> (Self, String) {
        let bytes: [u8; 32] = rand::random();
        let secret = hex::encode(bytes);
        (Self { hash: blake3::hash(secret.as_bytes()) }, secret)
    }

    pub fn admits(&self, given: &str) -> bool {
        blake3::hash(given.as_bytes()) == self.hash
    }
}

/// What a request showed.
#[derive(Debug, PartialEq, Eq)]
enum Shown<'a> {
    Nothing,
    Header(&'a str),
    Cookie(&'a str),
}

fn shown(headers: &HeaderMap) -> Shown<'_> {
    if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Shown::Header(t.trim());
    }
    for v in headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()) {
        for pair in v.split(';') {
            if let Some((name, value)) = pair.trim().split_once('=')
                && name == COOKIE
            {
                return Shown::Cookie(value);
            }
        }
    }
    Shown::Nothing
}

fn refused(message: &str) -> Response {
    HttpError::new(StatusCode::UNAUTHORIZED, ProtocolError::new(ErrorCode::InvalidRequest, message)).into_response()
}

/// Middleware: admits a request that shows the token; turns `/?token=…` into the cookie.
pub async fn require(State(token): State<Arc<AccessToken>>, req: Request, next: Next) -> Response {
    match shown(req.headers()) {
        Shown::Header(t) | Shown::Cookie(t) if token.admits(t) => return next.run(req).await,
        Shown::Header(_) => return refused("wrong access token"),
        _ => {}
    }
    if req.uri().path() == "/" {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if let Some((_, given)) = pairs.iter().find(|(k, _)| k == "token") {
            if !token.admits(given) {
                return refused("wrong access token");
            }
            // The token leaves the address bar (and history) for the cookie; the rest of the
            // address (a search: `?q=…`) stays.
            let cookie = format!("{COOKIE}={given}; HttpOnly; SameSite=Lax; Path=/; Max-Age={COOKIE_MAX_AGE_S}");
            let rest = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs.iter().filter(|(k, _)| k != "token"))
                .finish();
            let location = if rest.is_empty() { "/".to_string() } else { format!("/?{rest}") };
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            return r;
        }
    }
    refused(
        "this library page needs its access token: open the URL `chronoseek serve` printed (…/?token=…), or send Authorization: Bearer <token>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_for_shape_and_compared_by_hash() {
        assert_eq!(AccessToken::new("short").unwrap_err(), AccessTokenError::TooShort);
        assert_eq!(AccessToken::new("sixteen chars ok").unwrap_err(), AccessTokenError::BadCharacter);
        assert_eq!(AccessToken::new("a;b=c-0123456789").unwrap_err(), AccessTokenError::BadCharacter);
        let t = AccessToken::new("correct-horse-battery").unwrap();
        assert!(t.admits("correct-horse-battery"));
        assert!(!t.admits("correct-horse-batter") && !t.admits(""));
        let (g, secret) = AccessToken::generate();
        assert_eq!(secret.len(), 64);
        assert!(g.admits(&secret) && !t.admits(&secret));
        assert_ne!(AccessToken::generate().1, secret);
        assert_eq!(format!("{t:?}"), "AccessToken(..)", "Debug never shows the secret's hash");
    }

    #[test]
    fn the_token_is_read_from_the_header_or_the_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(shown(&h), Shown::Nothing);
        h.insert(header::COOKIE, HeaderValue::from_static("theme=dark; chronoseek_token=abc; x=1"));
        assert_eq!(shown(&h), Shown::Cookie("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(shown(&h), Shown::Header("xyz"));
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("not_chronoseek_token=abc"));
        assert_eq!(shown(&h), Shown::Nothing);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(shown(&h), Shown::Nothing);
    }
}
