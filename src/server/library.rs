//! `chronoseek serve`: a web page for one's own library. Search the whole library (two-stage
//! library search: by words, by an uploaded picture, or for moments like a result) or inside
//! one video (the single-video search), see result cards with a thumbnail at each moment's
//! start, click to play the video from there.
//!
//! What it serves is the store's, never the file system's: `/media/<fingerprint>` and
//! `/thumb/<fingerprint>` accept only a fingerprint (64 hex digits, parsed at the edge), look it
//! up among the store's videos for the current model, and serve the local file a `sources` row
//! maps to it, only while that file's size and modification time still match the row (same
//! bytes). Videos known only by URL are listed by search but have no media. The page itself is
//! three static files compiled into the binary (`page/`), no build step.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lru::LruCache;
use parking_lot::Mutex;
use serde_json::json;
use tower::ServiceExt;

use super::access::AccessToken;
use super::{HttpError, read_body};
use crate::fingerprint::{Fingerprint, FingerprintError};
use crate::index::VideoRecord;
use crate::ingest::{VideoInput, thumbnail::thumbnail_png};
use crate::library::clip::{ClipSpan, cut};
use crate::library::copies::CopyOf;
use crate::library::period::{Period, PeriodError, RecordedRange, Zone, ZoneError, rfc3339};
use crate::library::reel::{self, ReelError, Wanted};
use crate::library::said::marked_parts;
use crate::library::subtitles::{self, SubtitleFormat};
use crate::library::{
    Library, LibraryError, LibraryHit, LibraryQuery, LibraryTopK, MAX_LIBRARY_TOP_K, Picture, PictureError, Probe,
};
use crate::protocol::round_ms;
use crate::protocol::{ErrorCode, ProtocolError, TopK};
use crate::query::{CURVE_BINS, Curve, SearchError};

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const STYLE_CSS: &str = include_str!("page/style.css");

/// Thumbnail width in pixels.
const THUMB_WIDTH: u32 = 320;
/// Thumbnails kept in memory.
const THUMB_CACHE: usize = 1024;
/// Largest query picture accepted (a phone photo is a few MB).
const MAX_PICTURE_BYTES: usize = 32 * 1024 * 1024;
/// A query picture's upload must arrive within this.
const PICTURE_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The web app's state.
pub struct LibraryApp {
    library: Arc<Library>,
    /// When set, every route wants it ([`super::access`]).
    access: Option<Arc<AccessToken>>,
    thumbs: Mutex<LruCache<(Fingerprint, i64), Bytes>>,
    /// Thumbnail decodes at once (each is a seek and a few frames of decoding).
    decodes: tokio::sync::Semaphore,
}

impl LibraryApp {
    pub fn new(library: Arc<Library>) -> Self {
        let cap = std::num::NonZeroUsize::new(THUMB_CACHE).expect("non-zero");
        Self { library, access: None, thumbs: Mutex::new(LruCache::new(cap)), decodes: tokio::sync::Semaphore::new(2) }
    }

    /// Every route then wants this token (cookie, bearer header, or `/?token=` once).
    pub fn with_access(mut self, token: AccessToken) -> Self {
        self.access = Some(Arc::new(token));
        self
    }
}

pub fn router(app: Arc<LibraryApp>) -> Router {
    let access = app.access.clone();
    let routes = Router::new()
        .route("/", get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }))
        .route("/app.js", get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/style.css", get(|| async { page(STYLE_CSS, "text/css; charset=utf-8") }))
        .route("/api/videos", get(videos))
        .route("/api/library/search", get(library_search).post(library_search))
        .route("/api/videos/{fingerprint}/search", get(video_search))
        .route("/media/{fingerprint}", get(media))
        .route("/thumb/{fingerprint}", get(thumb))
        .route("/clip/{fingerprint}", get(clip))
        .route("/reel", get(reel))
        .route("/subtitles/{fingerprint}", get(subtitles))
        .fallback(|| async { not_found("no such page") })
        .with_state(app);
    match access {
        Some(token) => routes.layer(axum::middleware::from_fn_with_state(token, super::access::require)),
        None => routes,
    }
}

fn page(body: &'static str, content_type: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn bad(message: impl Into<String>) -> HttpError {
    HttpError::new(StatusCode::BAD_REQUEST, ProtocolError::new(ErrorCode::InvalidRequest, message))
}

fn not_found(message: impl Into<String>) -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, ProtocolError::new(ErrorCode::InvalidRequest, message))
}

fn internal(e: impl std::fmt::Display) -> HttpError {
    tracing::error!(error = %e, "library page request failed");
    HttpError::from_code(ProtocolError::new(ErrorCode::InternalError, e.to_string()))
}

impl From<PictureError> for HttpError {
    fn from(e: PictureError) -> Self {
        LibraryError::from(e).into()
    }
}

impl From<LibraryError> for HttpError {
    fn from(e: LibraryError) -> Self {
        match &e {
            LibraryError::UnknownVideo(_) => not_found(e.to_string()),
            _ if e.code() == ErrorCode::InternalError => internal(&e),
            _ => HttpError::from_code(ProtocolError::new(e.code(), e.to_string())),
        }
    }
}

// The edge helpers below return the refusal the handler sends: the protocol envelope, as big
// as it is, once per request.

/// The query string's `name=value` pairs in order, decoded as a form is (`+` a space, `%XX` a
/// byte). Text that is not UTF-8 once decoded (`q=%FF`) is refused: `url::form_urlencoded`
/// would put U+FFFD in its place and search for that.
#[allow(clippy::result_large_err)]
fn query_pairs(raw: Option<String>) -> Result<Vec<(String, String)>, HttpError> {
    let decode = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " ")).decode_utf8().map(|s| s.into_owned())
    };
    let raw = raw.unwrap_or_default();
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k).map_err(|_| bad(format!("a parameter name is not UTF-8 text: '{k}'")))?;
            let v = decode(v).map_err(|_| bad(format!("{k}: not UTF-8 text once percent-decoded: '{v}'")))?;
            Ok((k, v))
        })
        .collect()
}

/// The query string's parameters (the last of a repeated name wins), with a clear refusal for
/// names the endpoint does not know.
#[allow(clippy::result_large_err)]
fn params(raw: Option<String>, known: &[&str]) -> Result<HashMap<String, String>, HttpError> {
    let mut out = HashMap::new();
    for (k, v) in query_pairs(raw)? {
        if !known.contains(&k.as_str()) {
            return Err(bad(format!("unknown parameter '{k}' (known: {})", known.join(", "))));
        }
        out.insert(k, v);
    }
    Ok(out)
}

#[allow(clippy::result_large_err)]
fn query_text(p: &HashMap<String, String>, name: &str) -> Result<String, HttpError> {
    let q = p.get(name).map(String::as_str).unwrap_or("");
    crate::query::Engine::check_query(q).map_err(|e| {
        HttpError::new(StatusCode::BAD_REQUEST, ProtocolError::new(ErrorCode::QueryInvalid, e.to_string()))
    })?;
    Ok(q.to_string())
}

#[allow(clippy::result_large_err)]
fn top_k(p: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, HttpError> {
    match p.get("top_k") {
        None => Ok(default),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(bad(format!("top_k must be a whole number from 1 to {max}, got '{s}'"))),
        },
    }
}

/// A time parameter: seconds, 0 or more.
#[allow(clippy::result_large_err)]
fn seconds(name: &str, s: &str) -> Result<f64, HttpError> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(bad(format!("{name} must be a time in seconds (0 or more), got '{s}'"))),
    }
}

/// `from` and `until`: a year, month or day each (empty: not given), days in `tz` (an IANA
/// name: the page sends the browser's; default the server machine's zone).
#[allow(clippy::result_large_err)]
fn recorded_range(p: &HashMap<String, String>) -> Result<(RecordedRange, Zone), HttpError> {
    let zone = match p.get("tz").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Zone::system(),
        Some(name) => name.parse().map_err(|e: ZoneError| bad(format!("tz: {e}")))?,
    };
    let period = |name: &str| -> Result<Option<Period>, HttpError> {
        match p.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|e: PeriodError| bad(format!("{name}: {e}"))),
        }
    };
    let range = RecordedRange::new(period("from")?, period("until")?, &zone).map_err(|e| bad(e.to_string()))?;
    Ok((range, zone))
}

#[allow(clippy::result_large_err)]
fn fingerprint(s: &str) -> Result<Fingerprint, HttpError> {
    s.parse().map_err(|e: FingerprintError| bad(format!("not a video fingerprint: {e}")))
}

/// The still-valid local files of every stored video (the video list).
async fn local_files(app: &LibraryApp) -> Result<HashMap<Fingerprint, PathBuf>, HttpError> {
    crate::library::names::local_files(app.library.engine().store()).await.map_err(internal)
}

/// ...of these videos only: a page of results, one thumbnail or one range request reads and
/// checks only its own videos' sources, whatever the library's size.
async fn local_files_of(app: &LibraryApp, videos: &[Fingerprint]) -> Result<HashMap<Fingerprint, PathBuf>, HttpError> {
    crate::library::names::local_files_of(app.library.engine().store(), videos).await.map_err(internal)
}

/// What a page card says about its video: from a store record, or from a library hit (which
/// carries the same fields, so a library search needs no second read of the videos table).
struct CardVideo<'a> {
    fingerprint: Fingerprint,
    source: &'a str,
    duration_s: f64,
    /// Something was heard in it: the player offers its transcript as captions.
    speech: bool,
    recorded_at_ms: Option<i64>,
}

impl<'a> CardVideo<'a> {
    fn of_record(r: &'a VideoRecord, speech: bool) -> Self {
        Self {
            fingerprint: r.fingerprint,
            source: &r.source,
            duration_s: r.duration_s,
            speech,
            recorded_at_ms: r.recorded_at_ms,
        }
    }
}

impl<'a> From<&'a LibraryHit> for CardVideo<'a> {
    fn from(h: &'a LibraryHit) -> Self {
        Self {
            fingerprint: h.fingerprint,
            source: &h.source,
            duration_s: h.duration_s,
            speech: h.speech,
            recorded_at_ms: h.recorded_at_ms,
        }
    }
}

fn display_name(video: &CardVideo, local: Option<&PathBuf>) -> String {
    local
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| last_part(video.source).map(str::to_string))
        .unwrap_or_else(|| video.fingerprint.to_hex()[..12].to_string())
}

/// The file name at the end of a path or URL.
fn last_part(source: &str) -> Option<&str> {
    source.rsplit(['/', '\\']).find(|p| !p.is_empty())
}

/// One moment, as the page draws it; `said` is what was said during it (listened videos),
/// `copies` the same moment in copies and clips of the video (or the video it was cut from).
struct CardMoment<'a> {
    rank: usize,
    start: f64,
    end: f64,
    score: f64,
    said: Option<&'a str>,
    /// Where in `said` the words asked for are (bytes).
    said_marks: &'a [std::ops::Range<usize>],
    copies: &'a [CopyOf],
    /// Seconds: where the card's picture is taken ([`thumbnail_at`]).
    thumbnail_at: f64,
}

/// Where a card's picture is taken: where the video's curve is highest inside the moment, else
/// its middle. Never its start: `snap` puts a moment's start midway between the last frame of
/// the shot before and the first of its own, so the frame there is the shot before.
fn thumbnail_at(curve: Option<&Curve>, start: f64, end: f64) -> f64 {
    round_ms(curve.and_then(|c| c.peak_within(start, end)).unwrap_or((start + end) / 2.0))
}

fn card(video: CardVideo, local: Option<&PathBuf>, m: CardMoment) -> serde_json::Value {
    let CardMoment { rank, start, end, score, said, said_marks, copies, thumbnail_at } = m;
    let fp = video.fingerprint.to_hex();
    let copies: Vec<serde_json::Value> = copies
        .iter()
        .map(|c| json!({"fingerprint": c.fingerprint.to_hex(), "name": last_part(&c.source).unwrap_or(&c.source), "start": c.start, "end": c.end, "relation": c.relation}))
        .collect();
    // What was said, cut into plain and marked parts (the words a search of what is said found).
    let said_parts: Option<Vec<serde_json::Value>> = said.filter(|_| !said_marks.is_empty()).map(|text| {
        marked_parts(text, said_marks).into_iter().map(|(text, mark)| json!({"text": text, "mark": mark})).collect()
    });
    json!({
        "recorded_at": video.recorded_at_ms.map(rfc3339),
        "said_parts": said_parts,
        "copies": copies,
        "said": said,
        "rank": rank,
        "fingerprint": fp,
        "name": display_name(&video, local),
        "source": local.map(|p| p.display().to_string()).unwrap_or_else(|| video.source.to_string()),
        "start": start,
        "end": end,
        "score": score,
        "duration": video.duration_s,
        "thumbnail": local.map(|_| format!("/thumb/{fp}?t={thumbnail_at}")),
        "media": local.map(|_| format!("/media/{fp}")),
        "clip": local.map(|_| format!("/clip/{fp}?start={start}&end={end}")),
        "subtitles": local.filter(|_| video.speech).map(|_| format!("/subtitles/{fp}")),
    })
}

async fn videos(State(app): State<Arc<LibraryApp>>) -> Result<Response, HttpError> {
    let records = app.library.videos().await?;
    let local = local_files(&app).await?;
    let list: Vec<serde_json::Value> = records
        .iter()
        .filter_map(|r| {
            let path = local.get(&r.fingerprint)?;
            Some(json!({"fingerprint": r.fingerprint.to_hex(), "name": display_name(&CardVideo::of_record(r, false), Some(path)),
                "source": path.display().to_string(), "duration": r.duration_s, "frames": r.frame_count,
                "media": format!("/media/{}", r.fingerprint), "recorded_at": r.recorded_at_ms.map(rfc3339)}))
        })
        .collect();
    Ok(axum::Json(json!({"videos": list})).into_response())
}

/// `GET /api/library/search?q=WORDS` or `?like=FINGERPRINT&at=SECONDS` (moments like a stored
/// one), and `POST /api/library/search` with a picture as the body (moments that look like it).
async fn library_search(
    State(app): State<Arc<LibraryApp>>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Result<Response, HttpError> {
    let started = Instant::now();
    let post = req.method() == axum::http::Method::POST;
    let known: &[&str] = if post {
        &["top_k", "from", "until", "tz"]
    } else {
        &["q", "said", "like", "at", "top_k", "from", "until", "tz"]
    };
    let p = params(raw, known)?;
    let k = LibraryTopK::new(top_k(&p, 10, MAX_LIBRARY_TOP_K)?).unwrap_or_default();
    let (recorded, zone) = recorded_range(&p)?;
    let (probe, described) = if post {
        let body = read_body(req.into_body(), MAX_PICTURE_BYTES, PICTURE_BODY_TIMEOUT).await?;
        let picture = tokio::task::spawn_blocking(move || Picture::decode(&body)).await.map_err(internal)??;
        let described = json!({"kind": "picture", "format": picture.format, "width": picture.image.width,
            "height": picture.image.height});
        (Probe::Picture(picture), described)
    } else {
        let kinds = ["q", "said", "like"].iter().filter(|k| p.contains_key(**k)).count();
        if kinds > 1 || (p.contains_key("at") && kinds > 0 && !p.contains_key("like")) {
            return Err(bad("give one of q (words seen), said (words said) or like and at (a stored moment)"));
        }
        match (p.get("like"), p.get("at")) {
            _ if p.contains_key("said") => {
                let text = query_text(&p, "said")?;
                (Probe::Said(text.clone()), json!({"kind": "said", "text": text}))
            }
            (Some(like), Some(at)) => {
                let video = fingerprint(like)?;
                let at_s = seconds("at", at)?;
                (Probe::Moment { video, at_s }, json!({"kind": "moment", "fingerprint": video.to_hex(), "at": at_s}))
            }
            (Some(_), None) | (None, Some(_)) => return Err(bad("like and at go together")),
            (None, None) => {
                let text = query_text(&p, "q")?;
                (Probe::Text(text.clone()), json!({"kind": "text", "text": text}))
            }
        }
    };
    let mut query = LibraryQuery::new(probe, k);
    query.recorded = recorded;
    let answer = app.library.search(&query).await?;
    let local = local_files_of(&app, &answer.hits.iter().map(|h| h.fingerprint).collect::<Vec<_>>()).await?;
    let results: Vec<serde_json::Value> = answer
        .hits
        .iter()
        .map(|h| {
            let m = CardMoment {
                rank: h.rank,
                start: h.start,
                end: h.end,
                score: f64::from(h.score),
                said: h.said.as_deref(),
                said_marks: &h.said_marks,
                copies: &h.copies,
                thumbnail_at: thumbnail_at(answer.curves.get(&h.fingerprint), h.start, h.end),
            };
            card(h.into(), local.get(&h.fingerprint), m)
        })
        .collect();
    let curves: serde_json::Map<String, serde_json::Value> =
        answer.curves.iter().map(|(fp, c)| (fp.to_hex(), json!(c))).collect();
    let mut body = json!({"probe": described, "took_ms": ms(started), "stats": answer.stats, "results": results,
        "curves": curves});
    if let Some(text) = body["probe"].get("text").cloned() {
        body["query"] = text;
    }
    if let Some(asked) = recorded.asked(&zone) {
        body["recorded"] = json!(asked);
    }
    Ok(axum::Json(body).into_response())
}

async fn video_search(
    State(app): State<Arc<LibraryApp>>,
    UrlPath(fp): UrlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, HttpError> {
    let started = Instant::now();
    let fp = fingerprint(&fp)?;
    let p = params(raw, &["q", "top_k"])?;
    let text = query_text(&p, "q")?;
    let k = TopK::new(top_k(&p, 5, 20)? as u32).unwrap_or_default();
    let engine = app.library.engine();
    let Some(record) = engine.store().video(&fp, engine.model().key()).await.map_err(internal)? else {
        return Err(not_found(format!("no video with fingerprint {fp} in the store")));
    };
    let answer =
        engine.search(&VideoInput::Stored(fp), &text, k, &crate::progress::silent()).await.map_err(search_failed)?;
    let curve = engine.curve(&answer.video, &text, CURVE_BINS).await.map_err(search_failed)?;
    let local = local_files_of(&app, &[fp]).await?;
    // Cached by the search a moment ago: what was said during each moment.
    let frames = engine.frames(&answer.video).await.map_err(search_failed)?;
    let results: Vec<serde_json::Value> = answer
        .results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let said = frames.said_during(r.start, r.end);
            let m = CardMoment {
                rank: i + 1,
                start: r.start,
                end: r.end,
                score: r.confidence,
                said: said.as_deref(),
                said_marks: &[],
                copies: &[],
                thumbnail_at: thumbnail_at(Some(&curve), r.start, r.end),
            };
            card(CardVideo::of_record(&record, frames.has_speech()), local.get(&fp), m)
        })
        .collect();
    let curves = json!({ fp.to_hex(): curve });
    Ok(axum::Json(json!({"query": text, "took_ms": ms(started), "results": results, "curves": curves})).into_response())
}

fn search_failed(e: SearchError) -> HttpError {
    coded(e.code(), &e)
}

/// The local file of a stored video, or a 404 that says only that there is none to serve.
async fn media_path(app: &LibraryApp, fp: &str) -> Result<(VideoRecord, PathBuf), HttpError> {
    let fp = fingerprint(fp)?;
    let engine = app.library.engine();
    let stored = engine.store().video(&fp, engine.model().key()).await.map_err(internal)?;
    let found = match stored {
        Some(r) => local_files_of(app, &[fp]).await?.remove(&fp).map(|p| (r, p)),
        None => None,
    };
    found.ok_or_else(|| not_found(format!("no local video file for fingerprint {fp} in the store")))
}

/// `GET /subtitles/{fingerprint}`: what was said in a stored video, as WebVTT for the player's
/// `<track>` (404 when nobody listened to it).
async fn subtitles(State(app): State<Arc<LibraryApp>>, UrlPath(fp): UrlPath<String>) -> Result<Response, HttpError> {
    let fp = fingerprint(&fp)?;
    let engine = app.library.engine();
    let Some(record) = engine.store().video(&fp, engine.model().key()).await.map_err(internal)? else {
        return Err(not_found(format!("no video with fingerprint {fp} in the store")));
    };
    let Some(transcript) = engine.store().transcript(&record).await.map_err(internal)? else {
        return Err(not_found(format!("nobody has listened to video {fp}: no subtitles")));
    };
    let format = SubtitleFormat::WebVtt;
    let mut r = subtitles::render(transcript.segments(), format).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// `GET /clip/{fingerprint}?start=S&end=E`: the moment as an MP4 download.
async fn clip(
    State(app): State<Arc<LibraryApp>>,
    UrlPath(fp): UrlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, HttpError> {
    let p = params(raw, &["start", "end"])?;
    let (start, end) = match (p.get("start"), p.get("end")) {
        (Some(s), Some(e)) => (seconds("start", s)?, seconds("end", e)?),
        _ => return Err(bad("a clip needs start and end (seconds)")),
    };
    let (record, path) = media_path(&app, &fp).await?;
    let span = ClipSpan::new(start, end, record.duration_s).map_err(|e| bad(e.to_string()))?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let _slot = app.decodes.acquire().await.map_err(internal)?;
    let dir = tempfile::tempdir().map_err(internal)?;
    let out = dir.path().join("clip.mp4");
    cut(&path, span, &out).await.map_err(|e| coded(e.code(), &e))?;
    mp4_download(&out, &span.file_name(&stem)).await
}

/// A failure with its protocol code (an internal one is also logged).
fn coded(code: ErrorCode, e: &impl std::fmt::Display) -> HttpError {
    match code {
        ErrorCode::InternalError => internal(e),
        code => HttpError::from_code(ProtocolError::new(code, e.to_string())),
    }
}

/// An MP4 the server just rendered, as a download named `name`.
async fn mp4_download(file: &std::path::Path, name: &str) -> Result<Response, HttpError> {
    let bytes = tokio::fs::read(file).await.map_err(internal)?;
    let mut r = bytes.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `GET /reel?m=FP:START:END&m=…`: the moments, in order, joined into one MP4 download.
async fn reel(State(app): State<Arc<LibraryApp>>, RawQuery(raw): RawQuery) -> Result<Response, HttpError> {
    let mut wanted = Vec::new();
    for (k, v) in query_pairs(raw)? {
        if k != "m" {
            return Err(bad(format!("unknown parameter '{k}' (known: m)")));
        }
        let parts: Vec<&str> = v.split(':').collect();
        let [video, start, end] = parts[..] else {
            return Err(bad(format!("a reel moment is FINGERPRINT:START:END, not '{v}'")));
        };
        wanted.push(Wanted { video: fingerprint(video)?, start: seconds("start", start)?, end: seconds("end", end)? });
    }
    let failed = |e: ReelError| coded(e.code(), &e);
    let plan = reel::plan(app.library.engine().store(), &wanted).await.map_err(failed)?;
    let _slot = app.decodes.acquire().await.map_err(internal)?;
    let dir = tempfile::tempdir().map_err(internal)?;
    let out = dir.path().join("reel.mp4");
    reel::render(&plan, &out).await.map_err(failed)?;
    mp4_download(&out, &format!("chronoseek-reel-{}-moments.mp4", plan.parts.len())).await
}

async fn media(
    State(app): State<Arc<LibraryApp>>,
    UrlPath(fp): UrlPath<String>,
    req: Request,
) -> Result<Response, HttpError> {
    let (_, path) = media_path(&app, &fp).await?;
    // tower-http's ServeFile answers Range (206 + Content-Range, 416), HEAD and conditional
    // requests, with the content type from the extension.
    let resp = tower_http::services::ServeFile::new(&path).oneshot(req).await.map_err(internal)?;
    let (parts, body) = resp.into_parts();
    if parts.status == StatusCode::RANGE_NOT_SATISFIABLE {
        return Err(HttpError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            ProtocolError::new(ErrorCode::InvalidRequest, "requested range is outside the file"),
        ));
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}

async fn thumb(
    State(app): State<Arc<LibraryApp>>,
    UrlPath(fp): UrlPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, HttpError> {
    let p = params(raw, &["t"])?;
    let t = match p.get("t") {
        Some(s) => seconds("t", s)?,
        None => 0.0,
    };
    let (record, path) = media_path(&app, &fp).await?;
    let fp = record.fingerprint;
    let key = (fp, (t * 10.0).round() as i64);
    let cached = app.thumbs.lock().get(&key).cloned();
    let png = match cached {
        Some(b) => b,
        None => {
            let _slot = app.decodes.acquire().await.map_err(internal)?;
            let bytes = tokio::task::spawn_blocking(move || thumbnail_png(&path, t, THUMB_WIDTH))
                .await
                .map_err(internal)?
                .map_err(|e| HttpError::from_code(ProtocolError::new(ErrorCode::VideoUnreadable, e.to_string())))?;
            let bytes = Bytes::from(bytes);
            app.thumbs.lock().put(key, bytes.clone());
            bytes
        }
    };
    let mut r = png.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    Ok(r)
}

fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e4).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_names_its_copies_and_offers_captions_only_with_speech_and_a_file() {
        let fp = Fingerprint::from_bytes([7; 32]);
        let copy = CopyOf {
            fingerprint: Fingerprint::from_bytes([8; 32]),
            source: "/videos/phone/VID_1 (copy).mp4".into(),
            start: 1.0,
            end: 9.0,
            relation: crate::library::copies::Relation::Copy,
        };
        let local = PathBuf::from("/videos/VID_1.mp4");
        let video = |speech| CardVideo {
            fingerprint: fp,
            source: "/videos/VID_1.mp4",
            duration_s: 30.0,
            speech,
            recorded_at_ms: Some(1_720_971_012_000),
        };
        let moment = |copies| CardMoment {
            rank: 1,
            start: 0.0,
            end: 9.5,
            score: 0.6,
            said: None,
            said_marks: &[],
            copies,
            thumbnail_at: 4.75,
        };
        let c = card(video(true), Some(&local), moment(std::slice::from_ref(&copy)));
        assert_eq!(
            c["copies"],
            json!([{"fingerprint": copy.fingerprint.to_hex(), "name": "VID_1 (copy).mp4",
            "start": 1.0, "end": 9.0, "relation": "copy"}])
        );
        assert_eq!(c["subtitles"], format!("/subtitles/{fp}"));
        assert_eq!(c["recorded_at"], "2024-07-14T15:30:12Z");
        let c = card(video(false), Some(&local), moment(&[]));
        assert_eq!((c["copies"].as_array().map(Vec::len), &c["subtitles"]), (Some(0), &serde_json::Value::Null));
        let c = card(video(true), None, moment(&[]));
        assert_eq!(c["subtitles"], serde_json::Value::Null, "nothing to play, no captions");
    }

    #[test]
    fn what_was_said_comes_in_parts_with_the_words_found_marked() {
        let video = CardVideo {
            fingerprint: Fingerprint::from_bytes([7; 32]),
            source: "a.mp4",
            duration_s: 30.0,
            speech: true,
            recorded_at_ms: None,
        };
        let said = "Ça va, the café is open";
        let marks = [8..11, 12..17];
        let m = CardMoment {
            rank: 1,
            start: 0.0,
            end: 2.0,
            score: 1.0,
            said: Some(said),
            said_marks: &marks,
            copies: &[],
            thumbnail_at: 1.0,
        };
        let c = card(video, None, m);
        assert_eq!(
            c["said_parts"],
            json!([{"text": "Ça va, ", "mark": false}, {"text": "the", "mark": true}, {"text": " ", "mark": false},
                {"text": "café", "mark": true}, {"text": " is open", "mark": false}])
        );
        let parts: String = c["said_parts"].as_array().unwrap().iter().map(|p| p["text"].as_str().unwrap()).collect();
        assert_eq!(parts, said, "the parts are the whole text");
    }
}
