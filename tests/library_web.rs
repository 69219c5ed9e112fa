//! `chronoseek serve`'s web app over real HTTP on 127.0.0.1 (the axum app with the server's own
//! connection loop), on a store of fixture videos; and the page itself in a real headless
//! Chromium (Debian's `chromium`, driven by `tests/browser/library_page.py` over the DevTools
//! pipe): type a query, see cards with thumbnails, click one, the video seeks to the moment.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chronoseek::index::{Heard, SpokenSegment, Store, Transcript};
use chronoseek::ingest::{FetchOptions, Fetcher, IngestOutcome, VideoSource};
use chronoseek::library::{Library, RefreshOptions};
use chronoseek::progress::silent;
use chronoseek::query::{Engine, EngineOptions};
use chronoseek::server::access::AccessToken;
use chronoseek::server::library::{LibraryApp, router};
use chronoseek::server::{ServeLimits, serve_with_grace};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct App {
    base: String,
    addr: std::net::SocketAddr,
    mp4: String,
    webm: String,
    copy_fp: String,
    /// The server's engine: its counters say what a request did.
    engine: Arc<Engine>,
    _dir: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// What is said in scenes.mp4 (12-14 s, its green scene) in every test app.
const SAID: &str = "the green one is my favourite";

async fn start() -> App {
    start_with(None).await
}

async fn engine_in(dir: &Path) -> Arc<Engine> {
    let store = Store::open(&dir.join("store").display().to_string()).await.unwrap();
    Arc::new(Engine::new(
        store,
        common::bundled_model(),
        Fetcher::new(FetchOptions::default()).unwrap(),
        EngineOptions::default(),
    ))
}

/// Ingests a file; its fingerprint in hex.
async fn ingest(engine: &Engine, p: &Path) -> String {
    let src = VideoSource::parse(&p.display().to_string()).unwrap();
    match engine.ingest(&src, &silent()).await.unwrap() {
        IngestOutcome::Ingested(r, _) | IngestOutcome::AlreadyIngested(r) => r.fingerprint.to_hex(),
    }
}

/// The library's index built and the app served on 127.0.0.1; dropping the sender stops it.
async fn serve(
    library: Arc<Library>,
    access: Option<AccessToken>,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    library.refresh(&RefreshOptions::default(), &silent()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut app = LibraryApp::new(library);
    if let Some(token) = access {
        app = app.with_access(token);
    }
    let app = router(Arc::new(app));
    tokio::spawn(serve_with_grace(
        app,
        listener,
        async {
            let _ = rx.await;
        },
        Duration::from_secs(1),
        ServeLimits::default(),
    ));
    (addr, tx)
}

async fn start_with(access: Option<AccessToken>) -> App {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_in(dir.path()).await;
    let mp4 = ingest(&engine, &common::fixture("scenes.mp4")).await;
    // scenes.webm as a camera writes it: the same streams, recorded on 14 July 2024.
    let dated_webm = dir.path().join("scenes.webm");
    common::with_recording_date(&common::fixture("scenes.webm"), "2024-07-14T15:30:12Z", &dated_webm);
    let webm = ingest(&engine, &dated_webm).await;
    // What is said in scenes.mp4, as a listened video's transcript: one sentence over 12-14 s.
    let record = engine.store().video(&mp4.parse().unwrap(), engine.model().key()).await.unwrap().unwrap();
    let transcript = Transcript {
        fingerprint: record.fingerprint,
        model_key: record.model_key.clone(),
        transcript_id: "said-in-the-green-scene".into(),
        audio_model: "hand-made".into(),
        heard: Heard::Speech {
            language: Some("en".into()),
            segments: vec![SpokenSegment {
                start_ms: 12_000,
                end_ms: 14_000,
                text: SAID.into(),
                embedding: engine.embed_query(SAID).await.unwrap().to_vec(),
            }],
        },
        created_at_ms: 0,
    };
    engine.store().put_transcript(&record, &transcript).await.unwrap();
    // A copy that changes after ingest: its bytes are no longer the stored video's.
    let copy = dir.path().join("changed.mkv");
    std::fs::copy(common::fixture("odd.mkv"), &copy).unwrap();
    let copy_fp = ingest(&engine, &copy).await;
    std::fs::OpenOptions::new().append(true).open(&copy).unwrap().write_all_sync(b"more");
    let library = Arc::new(Library::new(engine.clone(), &dir.path().join("library")));
    let (addr, tx) = serve(library, access).await;
    App { base: format!("http://{addr}"), addr, mp4, webm, copy_fp, engine, _dir: dir, _stop: tx }
}

trait WriteAllSync {
    fn write_all_sync(&mut self, b: &[u8]);
}
impl WriteAllSync for std::fs::File {
    fn write_all_sync(&mut self, b: &[u8]) {
        std::io::Write::write_all(self, b).unwrap();
    }
}

/// A request line sent as is (no client-side path normalisation), the status and body back.
async fn raw_get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

async fn get_json(http: &reqwest::Client, url: String) -> serde_json::Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

fn error_code(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not an envelope: {body}"));
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("no code: {body}")).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_media_and_refusals() {
    let app = start().await;
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/", app.base)).send().await.unwrap();
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("ChronoSeek"));

    // Only videos whose stored bytes are still the local file are listed and served.
    let videos = get_json(&http, format!("{}/api/videos", app.base)).await;
    let listed: Vec<&str> =
        videos["videos"].as_array().unwrap().iter().map(|v| v["fingerprint"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 2, "{videos}");
    assert!(listed.contains(&app.mp4.as_str()) && !listed.contains(&app.copy_fp.as_str()));

    let found = get_json(&http, format!("{}/api/library/search?q=a%20red%20screen&top_k=5", app.base)).await;
    let first = &found["results"][0];
    assert_eq!(first["fingerprint"], app.mp4.as_str(), "{found}");
    assert_eq!(first["name"], "scenes.mp4");
    assert_eq!(first["media"], format!("/media/{}", app.mp4));

    // A thumbnail of the moment: a PNG, 320 wide (the fixture is 320x240).
    let thumb = http.get(format!("{}{}", app.base, first["thumbnail"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["content-type"], "image/png");
    let png = thumb.bytes().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) =
        (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!((w, h), (320, 240));

    // Range requests, as the page's <video> makes them.
    let media = format!("{}/media/{}", app.base, app.mp4);
    let size = std::fs::metadata(common::fixture("scenes.mp4")).unwrap().len();
    let part = http.get(&media).header("Range", "bytes=100-199").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 100-199/{size}").as_str());
    let bytes = part.bytes().await.unwrap();
    assert_eq!(&bytes[..], &std::fs::read(common::fixture("scenes.mp4")).unwrap()[100..200]);
    let whole = http.get(&media).send().await.unwrap();
    assert_eq!((whole.status().as_u16(), whole.bytes().await.unwrap().len() as u64), (200, size));
    let outside = http.get(&media).header("Range", format!("bytes={}-", size + 10)).send().await.unwrap();
    assert_eq!(outside.status(), 416);
    assert_eq!(error_code(&outside.text().await.unwrap()), "INVALID_REQUEST");

    // Path traversal, plain and encoded: never a file outside the store's videos.
    for target in [
        "/media/../../etc/passwd",
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/media/%252e%252e%252fetc%252fpasswd",
        "/thumb/..%2F..%2Fetc%2Fpasswd?t=0",
        "/media//etc/passwd",
    ] {
        let (status, body) = raw_get(app.addr, target).await;
        assert!(status == 400 || status == 404, "{target}: {status}");
        assert!(!body.contains("root:"), "{target} leaked a file");
        assert_eq!(error_code(&body), "INVALID_REQUEST", "{target}");
    }
    // A fingerprint the store does not have, and one whose file changed since ingest.
    for fp in ["ab".repeat(32), app.copy_fp.clone()] {
        let r = http.get(format!("{}/media/{fp}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.text().await.unwrap().contains("no local video file"));
    }
    // Bad searches get clear refusals.
    for (path, code, needle) in [
        ("/api/library/search?q=", "QUERY_INVALID", "empty"),
        ("/api/library/search?q=%20%20", "QUERY_INVALID", "empty"),
        ("/api/library/search?q=dog&top_k=100000", "INVALID_REQUEST", "1 to 100"),
        ("/api/library/search?q=dog&top_k=-1", "INVALID_REQUEST", "1 to 100"),
        ("/api/library/search?q=dog&limit=3", "INVALID_REQUEST", "unknown parameter"),
        ("/api/videos/nothex/search?q=dog", "INVALID_REQUEST", "fingerprint"),
        ("/thumb/0000?t=1", "INVALID_REQUEST", "fingerprint"),
    ] {
        let r = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body = r.text().await.unwrap();
        assert_eq!(error_code(&body), code, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    let r = http.get(format!("{}/thumb/{}?t=-3", app.base, app.mp4)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let r = http.get(format!("{}/api/videos/{}/search?q=dog", app.base, "cd".repeat(32))).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Inside one video: today's search, same card shape.
    let inside =
        get_json(&http, format!("{}/api/videos/{}/search?q=a%20blue%20screen&top_k=3", app.base, app.mp4)).await;
    let results = inside["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 3);
    assert!(results.iter().all(|r| r["fingerprint"] == app.mp4.as_str() && r["thumbnail"].is_string()));
    // ...and how well the words match along the whole video: 30 one-second bins in [0, 1],
    // one level per ten-second scene (to within the encoder's noise: the frames of a still
    // scene are not all bit-identical after H.264, and one the dedup does not reuse can score
    // a few thousandths apart), the highest where the first result is.
    let curve = &inside["curves"][app.mp4.as_str()];
    assert_eq!(curve["bin_s"], 1.0, "{inside}");
    let values: Vec<f64> = curve["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(values.len(), 30);
    assert!(values.iter().all(|v| (0.0..=1.0).contains(v)), "{values:?}");
    for scene in values.chunks(10) {
        assert!(scene.iter().all(|v| (v - scene[0]).abs() < 0.01), "one level per scene: {values:?}");
    }
    let peak = values.iter().cloned().fold(f64::MIN, f64::max);
    let (start, end) = (results[0]["start"].as_f64().unwrap(), results[0]["end"].as_f64().unwrap());
    // Bins wholly inside the first result are at the peak, bins wholly outside it are not (a
    // bin the result's edge cuts, half a frame from a cut, may be either).
    let mut inside_bins = 0;
    for (i, v) in values.iter().enumerate() {
        let (lo, hi) = (i as f64, (i + 1) as f64);
        if lo >= start && hi <= end {
            inside_bins += 1;
            assert!(peak - v < 0.01, "bin {i}, first result {start}-{end}: {values:?}");
        } else if hi <= start || lo >= end {
            assert!(*v < peak - 0.01, "bin {i}, first result {start}-{end}: {values:?}");
        }
    }
    assert!(inside_bins >= 5, "first result {start}-{end}: {values:?}");
    // The card's picture is where the moment matches best, not its first frame: the moment
    // starts half a frame before the cut, where the picture is still the green scene.
    let thumb = results[0]["thumbnail"].as_str().unwrap();
    let at: f64 = thumb.rsplit_once("?t=").unwrap().1.parse().unwrap();
    assert!(at > start && at < end && at >= 20.0, "{thumb} for {start}-{end}");
    let png = http.get(format!("{}{thumb}", app.base)).send().await.unwrap().bytes().await.unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    let [r, g, b] = img.get_pixel(img.width() / 2, img.height() / 2).0;
    assert!(b > 200 && r < 60 && g < 60, "the picture of a blue moment is blue: {:?}", [r, g, b]);
    // What was said during a moment comes with it, and only with moments it overlaps.
    let words =
        get_json(&http, format!("{}/api/videos/{}/search?q=a%20green%20screen&top_k=5", app.base, app.mp4)).await;
    let cards = words["results"].as_array().unwrap();
    assert!(cards.iter().any(|c| c["said"] == SAID), "{words}");
    for c in cards {
        let overlaps = c["start"].as_f64().unwrap() < 14.0 && c["end"].as_f64().unwrap() > 12.0;
        assert_eq!(c["said"] == SAID, overlaps, "{c}");
        assert!(overlaps || c["said"].is_null(), "{c}");
    }
    // Searching what is said: word for word in the transcripts, no model, no frames read.
    let c0 = app.engine.counters();
    // (The transcript is English: "favourites" and "the green ones" are found by their stems.)
    for (said, score) in [
        ("Favourite!", 1.0f32),
        ("my favourite", 1.0),
        ("favourite green", 0.5),
        ("FAVOURITES", 0.8),
        ("the green ones", 0.8),
    ] {
        let url = format!("{}/api/library/search?said={}", app.base, said.replace(' ', "%20"));
        let found = get_json(&http, url).await;
        assert_eq!(found["probe"], serde_json::json!({"kind": "said", "text": said}), "{found}");
        assert_eq!(found["stats"]["videos_with_speech"], 1, "scenes.mp4 alone was listened to: {found}");
        let hits = found["results"].as_array().unwrap();
        assert_eq!(hits.len(), 1, "{found}");
        let h = &hits[0];
        assert_eq!((&h["fingerprint"], &h["start"], &h["end"]), (&app.mp4.as_str().into(), &12.0.into(), &14.0.into()));
        let got = h["score"].as_f64().map(|s| s as f32);
        assert_eq!((&h["said"], got), (&SAID.into(), Some(score)), "{said}: {found}");
        let marked: Vec<&str> = h["said_parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["mark"] == true)
            .map(|p| p["text"].as_str().unwrap())
            .collect();
        let expected = match said {
            "favourite green" => vec!["green", "favourite"],
            "the green ones" => vec!["the", "green", "one"],
            "my favourite" => vec!["my", "favourite"],
            _ => vec!["favourite"],
        };
        assert_eq!(marked, expected, "{said}: {found}");
    }
    let none = get_json(&http, format!("{}/api/library/search?said=blue", app.base)).await;
    assert!(none["results"].as_array().unwrap().is_empty(), "{none}");
    let c = app.engine.counters().since(&c0);
    assert_eq!((c.library_searches, c.text_embeddings, c.frame_loads), (6, 0, 0), "{c:?}");
    assert_eq!(c.said_transcript_scans, 1, "the transcripts are read once, then held: {c:?}");
    // A recording-date range: scenes.webm alone carries a date (14 July 2024), so a search
    // of the summer finds only its moments; one of another year finds nothing; an open one
    // (empty values, as the page's empty inputs send) finds as before.
    let dated = get_json(&http, format!("{}/api/library/search?q=red&from=2024-06&until=2024-08", app.base)).await;
    let cards = dated["results"].as_array().unwrap();
    assert!(!cards.is_empty(), "{dated}");
    for c in cards {
        assert_eq!((&c["fingerprint"], &c["recorded_at"]), (&app.webm.as_str().into(), &"2024-07-14T15:30:12Z".into()));
    }
    // Days are the asker's (`tz`): 15:30 UTC on 14 July was the 15th in UTC+14, not in UTC.
    let day = |tz: &str| format!("{}/api/library/search?q=red&from=2024-07-15&until=2024-07-15&tz={tz}", app.base);
    let far = get_json(&http, day("Pacific/Kiritimati")).await;
    assert!(far["results"].as_array().unwrap().iter().any(|c| c["fingerprint"] == app.webm.as_str()), "{far}");
    let span = serde_json::json!({"from": "2024-07-14T10:00:00Z", "until": "2024-07-15T10:00:00Z", "tz": "Pacific/Kiritimati"});
    assert_eq!(far["recorded"], span, "the instants those days were there");
    assert!(get_json(&http, day("UTC")).await["results"].as_array().unwrap().is_empty());
    let other = get_json(&http, format!("{}/api/library/search?q=red&from=2023&until=2023", app.base)).await;
    assert!(other["results"].as_array().unwrap().is_empty(), "{other}");
    let open = get_json(&http, format!("{}/api/library/search?q=red&from=&until=", app.base)).await;
    assert!(open["results"].as_array().unwrap().len() > cards.len(), "{open}");
    let listed = get_json(&http, format!("{}/api/videos", app.base)).await;
    let webm_listed = listed["videos"].as_array().unwrap().iter().find(|v| v["fingerprint"] == app.webm.as_str());
    assert_eq!(webm_listed.unwrap()["recorded_at"], "2024-07-14T15:30:12Z", "{listed}");
    // Refused at the edge: no search runs, nothing is embedded, no frame or transcript read.
    let c0 = app.engine.counters();
    for (path, code, needle) in [
        ("/api/library/search?q=red&from=June", "INVALID_REQUEST", "from: 'June' is not a date"),
        ("/api/library/search?q=red&from=2025&until=2024", "INVALID_REQUEST", "ends before it starts"),
        ("/api/library/search?q=red&from=2024&tz=Mars/Base", "INVALID_REQUEST", "tz: unknown time zone 'Mars/Base'"),
        (
            "/api/library/search?q=red&from=2024&tz=..%2F..%2F..%2Fetc%2Fpasswd",
            "INVALID_REQUEST",
            "unknown time zone '../../",
        ),
        ("/api/library/search?said=", "QUERY_INVALID", "empty"),
        ("/api/library/search?said=...%20!", "QUERY_INVALID", "no words"),
        ("/api/library/search?said=dog&q=dog", "INVALID_REQUEST", "one of q"),
        ("/api/library/search?said=dog&at=3", "INVALID_REQUEST", "one of q"),
        // Not UTF-8 once decoded: refused, not searched for as U+FFFD.
        ("/api/library/search?q=red%FF", "INVALID_REQUEST", "q: not UTF-8 text once percent-decoded: 'red%FF'"),
        ("/api/library/search?q%C3=red", "INVALID_REQUEST", "a parameter name is not UTF-8 text"),
        ("/reel?m=%E2%82", "INVALID_REQUEST", "m: not UTF-8"),
    ] {
        let r = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body = r.text().await.unwrap();
        assert_eq!(error_code(&body), code, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    let c = app.engine.counters().since(&c0);
    assert_eq!(
        (c.library_searches, c.text_embeddings, c.frame_loads, c.said_transcript_scans),
        (0, 0, 0, 0),
        "refusals cost nothing: {c:?}"
    );
    // What was said, as WebVTT for the player: only for a video someone listened to.
    let r = http.get(format!("{}/subtitles/{}", app.base, app.mp4)).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()), (200, "text/vtt; charset=utf-8"));
    assert_eq!(r.text().await.unwrap(), format!("WEBVTT\n\n00:00:12.000 --> 00:00:14.000\n{SAID}\n\n"));
    let c0 = app.engine.counters();
    for (path, status, needle) in [
        (format!("/subtitles/{}", app.webm), 404, "nobody has listened"),
        (format!("/subtitles/{}", "ab".repeat(32)), 404, "no video"),
        ("/subtitles/not-a-fingerprint".to_string(), 400, "fingerprint"),
    ] {
        let r = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let body = r.text().await.unwrap();
        assert_eq!(error_code(&body), "INVALID_REQUEST", "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    let c = app.engine.counters().since(&c0);
    assert_eq!((c.frame_loads, c.videos_decoded), (0, 0), "subtitles read the transcript alone: {c:?}");
    assert!(found["stats"].get("videos_with_speech").is_none(), "only said searches count them: {found}");
    // Cards say where the captions are: scenes.mp4's, never scenes.webm's (nobody listened).
    let videos: std::collections::BTreeSet<&str> =
        found["results"].as_array().unwrap().iter().map(|c| c["fingerprint"].as_str().unwrap()).collect();
    assert!(videos.contains(app.mp4.as_str()) && videos.contains(app.webm.as_str()), "{found}");
    for card in found["results"].as_array().unwrap() {
        let listened = card["fingerprint"] == app.mp4.as_str();
        let expected: serde_json::Value =
            if listened { format!("/subtitles/{}", app.mp4).into() } else { serde_json::Value::Null };
        assert_eq!(card["subtitles"], expected, "{card}");
    }
    // A library search sends one curve per video among its results, and no other.
    let with: std::collections::BTreeSet<&str> =
        found["results"].as_array().unwrap().iter().map(|r| r["fingerprint"].as_str().unwrap()).collect();
    let curves: std::collections::BTreeSet<&str> =
        found["curves"].as_object().unwrap().keys().map(|k| k.as_str()).collect();
    assert_eq!(with, curves, "{found}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_by_picture_and_for_similar_moments_over_http() {
    let app = start().await;
    let http = reqwest::Client::new();
    let search = format!("{}/api/library/search", app.base);

    // A picture: the page's own thumbnail of scenes.mp4 at 5 s (its red scene), uploaded.
    let png = http.get(format!("{}/thumb/{}?t=5", app.base, app.mp4)).send().await.unwrap().bytes().await.unwrap();
    let r = http.post(format!("{search}?top_k=5")).header("Content-Type", "image/png").body(png).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let found: serde_json::Value = r.json().await.unwrap();
    assert_eq!(found["probe"], serde_json::json!({"kind": "picture", "format": "Png", "width": 320, "height": 240}));
    assert!(found.get("query").is_none(), "{found}");
    let first = &found["results"][0];
    assert_eq!(first["fingerprint"], app.mp4.as_str(), "{found}");
    assert!(first["start"].as_f64().unwrap() <= 5.0 && first["end"].as_f64().unwrap() >= 5.0, "{found}");
    assert!(first["thumbnail"].is_string() && first["media"].is_string());

    // Moments like a stored one: never that moment itself.
    let like = get_json(&http, format!("{search}?like={}&at=15&top_k=10", app.mp4)).await;
    assert_eq!(like["probe"], serde_json::json!({"kind": "moment", "fingerprint": app.mp4, "at": 15.0}));
    let results = like["results"].as_array().unwrap();
    assert!(!results.is_empty(), "{like}");
    assert!(
        results.iter().all(|r| !(r["fingerprint"] == app.mp4.as_str()
            && r["start"].as_f64().unwrap() <= 15.0
            && r["end"].as_f64().unwrap() >= 15.0)),
        "{like}"
    );

    // Refusals: the protocol envelope, the right code, a clear message; and, by the counters,
    // no search ran, no tower ran, no frames were read.
    let c0 = app.engine.counters();
    let stranger = "ab".repeat(32);
    for (path, status, code, needle) in [
        (format!("?q=dog&like={}&at=1", app.mp4), 400, "INVALID_REQUEST", "one of q"),
        (format!("?like={}", app.mp4), 400, "INVALID_REQUEST", "go together"),
        ("?at=3".to_string(), 400, "INVALID_REQUEST", "go together"),
        (format!("?like={}&at=soon", app.mp4), 400, "INVALID_REQUEST", "seconds"),
        (format!("?like={}&at=-2", app.mp4), 400, "INVALID_REQUEST", "seconds"),
        (format!("?like={}&at=999", app.mp4), 400, "QUERY_INVALID", "not a moment"),
        (format!("?like={stranger}&at=1"), 404, "INVALID_REQUEST", "no video"),
        ("?like=nothex&at=1".to_string(), 400, "INVALID_REQUEST", "fingerprint"),
    ] {
        let r = http.get(format!("{search}{path}")).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let body = r.text().await.unwrap();
        assert_eq!(error_code(&body), code, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body}");
    }
    let post = |query: &'static str, body: Vec<u8>| {
        let http = http.clone();
        let url = format!("{search}{query}");
        async move {
            let r = http.post(url).body(body).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = post("", b"<html>not a picture</html>".to_vec()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "QUERY_INVALID"), "{body}");
    assert!(body.contains("not a picture"), "{body}");
    let (status, body) = post("", Vec::new()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "QUERY_INVALID"), "{body}");
    let (status, body) = post("?q=dog", b"x".to_vec()).await;
    assert_eq!((status, error_code(&body).as_str()), (400, "INVALID_REQUEST"), "{body}");
    assert!(body.contains("unknown parameter"), "{body}");
    let (status, body) = post("", vec![0u8; 33 * 1024 * 1024]).await;
    assert_eq!((status, error_code(&body).as_str()), (413, "INVALID_REQUEST"), "{body}");
    let c = app.engine.counters().since(&c0);
    // The two requests the library itself refuses (a time outside the video, an unknown
    // video) count as searches; nothing else got that far.
    assert_eq!(c.library_searches, 2, "{c:?}");
    assert_eq!((c.picture_embeddings, c.text_embeddings, c.image_embeddings, c.frame_loads), (0, 0, 0, 0), "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_every_route() {
    const TOKEN: &str = "correct-horse-battery-staple";
    let app = start_with(Some(AccessToken::new(TOKEN).unwrap())).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let routes = [
        "/".to_string(),
        "/app.js".to_string(),
        "/api/videos".to_string(),
        "/api/library/search?q=a%20red%20screen".to_string(),
        format!("/media/{}", app.mp4),
        format!("/thumb/{}?t=1", app.mp4),
        format!("/subtitles/{}", app.mp4),
        "/no-such-page".to_string(),
    ];
    for route in &routes {
        let url = format!("{}{route}", app.base);
        // Nothing, a wrong bearer token, a wrong cookie: 401 with the envelope.
        for (name, value) in [
            (None, ""),
            (Some("Authorization"), "Bearer wrong-token-0123456789"),
            (Some("Cookie"), "chronoseek_token=wrong-token-0123456789"),
        ] {
            let mut req = http.get(&url);
            if let Some(name) = name {
                req = req.header(name, value);
            }
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 401, "{route} with {name:?}");
            assert_eq!(error_code(&r.text().await.unwrap()), "INVALID_REQUEST", "{route}");
        }
        // The right token, as a script sends it or as the browser's cookie carries it.
        let expected = if route == "/no-such-page" { 404 } else { 200 };
        let r = http.get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), expected, "{route} with the bearer token");
        let r = http.get(&url).header("Cookie", format!("theme=dark; chronoseek_token={TOKEN}")).send().await.unwrap();
        assert_eq!(r.status(), expected, "{route} with the cookie");
    }
    // By the counters: the refused searches above ran nothing. (The admitted ones did.)
    let c0 = app.engine.counters();
    for _ in 0..3 {
        let r = http.get(format!("{}/api/library/search?q=a%20blue%20screen", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 401);
    }
    let c = app.engine.counters().since(&c0);
    assert_eq!((c.library_searches, c.text_embeddings, c.frame_loads), (0, 0, 0), "{c:?}");
    // The printed URL: /?token= sets the cookie and sends the browser to / (the token leaves
    // the address bar); a wrong one is refused, and the token opens nothing but the page.
    let r = http.get(format!("{}/?token={TOKEN}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with(&format!("chronoseek_token={TOKEN};")), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    // A shared search address with the token in it keeps the search.
    let r = http.get(format!("{}/?q=a+red%20screen&token={TOKEN}&top_k=5", app.base)).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["location"].to_str().unwrap()), (303, "/?q=a+red+screen&top_k=5"));
    let r = http.get(format!("{}/?token=wrong-token-0123456789", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(format!("{}/api/videos?token={TOKEN}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 401, "the token in a URL is taken only by the page itself");
    // Range requests of the player go through with the cookie.
    let r = http
        .get(format!("{}/media/{}", app.base, app.mp4))
        .header("Cookie", format!("chronoseek_token={TOKEN}"))
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!((r.status().as_u16(), r.bytes().await.unwrap().len()), (206, 100));
}

/// The colour at the middle of `video`'s frame at `t` s (decoded by our thumbnail code).
fn colour_at(video: &Path, t: f64) -> [u8; 3] {
    let png = chronoseek::ingest::thumbnail::thumbnail_png(video, t, 320).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    img.get_pixel(img.width() / 2, img.height() / 2).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moment_downloads_as_a_clip() {
    let app = start().await;
    let http = reqwest::Client::new();
    // Result cards of local videos carry their clip link.
    let found = get_json(&http, format!("{}/api/library/search?q=a%20green%20screen", app.base)).await;
    let card = found["results"].as_array().unwrap().iter().find(|r| r["fingerprint"] == app.mp4.as_str()).unwrap();
    assert_eq!(
        card["clip"],
        format!("/clip/{}?start={}&end={}", app.mp4, card["start"].as_f64().unwrap(), card["end"].as_f64().unwrap())
            .as_str(),
        "{card}"
    );

    // scenes.mp4 from 12 to 17 s: inside its green scene (10-20 s).
    let r = http.get(format!("{}/clip/{}?start=12&end=17", app.base, app.mp4)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"scenes-0m12.0s-0m17.0s.mp4\"");
    let bytes = r.bytes().await.unwrap();
    let file = app._dir.path().join("clip.mp4");
    std::fs::write(&file, &bytes).unwrap();
    let info = chronoseek::ingest::probe(&file).unwrap();
    let d = info.duration_s.unwrap();
    assert!((4.8..=5.3).contains(&d), "clip lasts {d} s");
    assert!(info.has_audio, "the fixture's audio is kept");
    let [r0, g0, b0] = colour_at(&file, 0.0);
    // The fixture's green is (0, 128, 0).
    assert!(g0 > 100 && r0 < 40 && b0 < 40, "first frame {:?} is not green: cut at the wrong place", [r0, g0, b0]);
    // From 9.5 s, half a second before the cut to green: red first, green 0.8 s in (a clip
    // beginning at the key frame before the start — the fixture has one every 2 s, at 8 s —
    // would still be red there).
    let r = http.get(format!("{}/clip/{}?start=9.5&end=12", app.base, app.mp4)).send().await.unwrap();
    std::fs::write(&file, r.bytes().await.unwrap()).unwrap();
    let first = colour_at(&file, 0.0);
    let later = colour_at(&file, 0.8);
    assert!(first[0] > 200 && first[1] < 40, "{first:?}");
    assert!(later[1] > 100 && later[0] < 40, "not cut exactly at 9.5 s: {later:?} 0.8 s in");

    // Refusals.
    for (path, status, needle) in [
        (format!("/clip/{}?start=5", app.mp4), 400, "start and end"),
        (format!("/clip/{}?start=5&end=3", app.mp4), 400, "start < end"),
        (format!("/clip/{}?start=0&end=700", app.mp4), 400, "at most 600"),
        (format!("/clip/{}?start=40&end=45", app.mp4), 400, "30.0 s long"),
        (format!("/clip/{}?start=x&end=3", app.mp4), 400, "seconds"),
        (format!("/clip/{}?start=1&end=3", "ab".repeat(32)), 404, "no local video file"),
        (format!("/clip/{}?start=1&end=3", app.copy_fp), 404, "no local video file"),
    ] {
        let r = http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{path}: {body}");
        error_code(&body);
    }
}

/// `/reel`: moments of several videos as one MP4 download, as the page's "Save these moments
/// as one video" asks for it; refusals before anything renders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moments_download_as_one_reel() {
    let app = start().await;
    let http = reqwest::Client::new();
    // Green from scenes.mp4 (with sound), yellow from the silent webm, and a moment of the
    // changed copy, whose file no longer holds its video: left out.
    let url = format!("{}/reel?m={}:12:14.5&m={}:0:2&m={}:1:2", app.base, app.mp4, app.webm, app.copy_fp);
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.headers()["content-disposition"], "attachment; filename=\"chronoseek-reel-2-moments.mp4\"");
    let file = app._dir.path().join("reel.mp4");
    std::fs::write(&file, r.bytes().await.unwrap()).unwrap();
    let info = chronoseek::ingest::probe(&file).unwrap();
    assert_eq!((info.width, info.height, info.has_audio), (320, 240, true), "{info:?}");
    assert!((info.duration_s.unwrap() - 4.5).abs() < 0.15, "{info:?}");
    let [green, yellow] = [colour_at(&file, 1.2), colour_at(&file, 3.5)];
    assert!(green[1] > 100 && green[0] < 40 && green[2] < 40, "green (0, 128, 0): {green:?}");
    assert!(yellow[0] > 200 && yellow[1] > 200 && yellow[2] < 60, "{yellow:?}");

    let many: String = (0..101).map(|_| format!("m={}:0:1&", app.mp4)).collect();
    for (query, needle) in [
        (String::new(), "at least one moment"),
        (format!("m={}:3", app.mp4), "FINGERPRINT:START:END"),
        (format!("m={}:x:3", app.mp4), "seconds"),
        ("m=nothex:0:1".to_string(), "fingerprint"),
        (format!("m={}:0:1&k=2", app.mp4), "unknown parameter"),
        (format!("m={}:1:2", app.copy_fp), "local file"),
        (many, "at most 100 moments"),
    ] {
        let r = http.get(format!("{}/reel?{query}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 400, "{query}");
        let body = r.text().await.unwrap();
        assert!(body.contains(needle), "{query}: {body}");
        assert_eq!(error_code(&body), "INVALID_REQUEST", "{query}");
    }
}

fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("Debian's chromium is needed for this test (`make test` installs it)")
}

/// Runs `tests/browser/library_page.py` in headless Chromium against the page at `base`:
/// types `query`, then does what `extra` asks; its report is the last line it prints.
async fn drive_page(base: &str, query: &str, extra: Vec<std::path::PathBuf>) -> serde_json::Value {
    let (script, url, query) =
        (common::root().join("tests/browser/library_page.py"), format!("{base}/"), query.to_string());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .args(["--url", &url, "--query", &query, "--timeout", "60", "--chromium", chromium()])
            .args(extra)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "browser check failed:\n{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_in_a_real_browser() {
    let app = start().await;
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("library-page.png");
    // The picture the page uploads: scenes.mp4 at 25 s (its blue scene).
    let picture = app._dir.path().join("blue-still.png");
    let png = chronoseek::ingest::thumbnail::thumbnail_png(&common::fixture("scenes.mp4"), 25.0, 320).unwrap();
    std::fs::write(&picture, png).unwrap();
    let report =
        drive_page(&app.base, "a red screen", vec!["--screenshot".into(), shot, "--picture".into(), picture]).await;
    assert!(report["cards"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(report["first"]["fingerprint"], app.mp4.as_str(), "{report}");
    assert!(report["thumbnail_width"].as_u64().unwrap() > 0);
    let start = report["first"]["start"].as_f64().unwrap();
    let t = report["current_time"].as_f64().unwrap();
    assert!(t >= start - 0.05 && t < start + 3.0, "video at {t} s, moment starts at {start} s");
    // The strip under the player: scenes.mp4's 30 one-second bins, tallest inside the red
    // moment (0-10 s); a click at 90 % of its width plays from about 27 s, Home from 0.
    let strip = &report["strip"];
    assert_eq!(strip["bars"], 30, "{report}");
    assert_eq!(strip["duration"], 30.0, "{report}");
    assert!(strip["tallest"].as_u64().unwrap() < 10, "{report}");
    let [x, w] = [strip["mark"][0].as_f64().unwrap(), strip["mark"][1].as_f64().unwrap()];
    assert!((x - start / 30.0 * 1000.0).abs() < 1.0 && w > 100.0, "the moment's band: {report}");
    assert_eq!(strip["card_curves"].as_u64(), report["cards"].as_u64(), "every card has its small curve: {report}");
    let clicked = strip["clicked_at"].as_f64().unwrap();
    assert!((clicked - 27.0).abs() < 1.5, "clicked at 90 %, playing from {clicked} s: {report}");
    assert!(strip["home"]["t"].as_f64().unwrap() < 0.6, "{report}");
    assert!(strip["home"]["text"].as_str().unwrap().ends_with("of 0:30"), "{report}");
    // Ticks where scenes.mp4's shots start (10 s and 20 s of 30); "." from the start plays
    // from 10 s, again from 20 s, then "," goes back to 10 s.
    let ticks: Vec<f64> = strip["cut_ticks"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert!(ticks.len() == 2 && (ticks[0] - 333.33).abs() < 0.1 && (ticks[1] - 666.67).abs() < 0.1, "{report}");
    let at = |name: &str| strip[name].as_f64().unwrap_or_else(|| panic!("{name}: {report}"));
    assert!((at("next_shot") - 10.0).abs() < 0.05, "{report}");
    assert!((at("next_again") - 20.0).abs() < 0.05, "{report}");
    assert!((at("previous_shot") - 10.0).abs() < 0.05, "{report}");
    let png = std::fs::read(report["screenshot"].as_str().unwrap()).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
    // The first card offers its moment as a clip download.
    let save = report["save_href"].as_str().unwrap_or_else(|| panic!("no Save clip link: {report}"));
    assert!(save.contains(&format!("/clip/{}?start=", app.mp4)), "{save}");
    // "Save these moments as one video": every playable card's moment, in order, and it plays.
    let reel = &report["reel"];
    let href = reel["href"].as_str().unwrap();
    let playable = reel["playable"].as_u64().unwrap();
    assert!(reel["hidden"] == false && playable >= 1, "{report}");
    assert_eq!(href.matches("m=").count() as u64, playable, "{report}");
    assert!(href.starts_with(&format!("{}/reel?m={}%3A", app.base, app.mp4)), "{href}");
    assert!(reel["text"].as_str().unwrap().starts_with(&format!("Save these {playable} moment")), "{report}");
    let r = reqwest::get(href).await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["content-type"].to_str().unwrap()), (200, "video/mp4"));
    // "Similar moments" on the first card: answers, none of them that moment itself.
    let (fp, mid) = (report["first"]["fingerprint"].clone(), (start + report["first"]["end"].as_f64().unwrap()) / 2.0);
    let similar = report["similar"].as_array().unwrap();
    assert!(!similar.is_empty(), "{report}");
    assert!(
        similar.iter().all(|c| !(c["fingerprint"] == fp
            && c["start"].as_f64().unwrap() <= mid
            && c["end"].as_f64().unwrap() >= mid)),
        "{report}"
    );
    // Searches are addresses: Back from "similar" returns to the words, a loaded address runs.
    let history = &report["history"];
    assert!(history["similar"].as_str().unwrap().starts_with(&format!("?like={}&at=", app.mp4)), "{report}");
    assert_eq!(history["back"]["search"], "?q=a+red+screen&top_k=10", "{report}");
    assert_eq!((&history["back"]["first"], &history["back"]["box"]), (&fp, &"a red screen".into()), "{report}");
    let loaded = &history["loaded"];
    assert_eq!(
        (&loaded["tab"], &loaded["selected"], &loaded["query"]),
        (&"true".into(), &fp, &"a green screen".into())
    );
    // The green moment's card quotes what is said in it.
    assert_eq!(loaded["said"][0], format!("“{SAID}”"), "{report}");
    let fps = loaded["fingerprints"].as_array().unwrap();
    assert!(!fps.is_empty() && fps.len() <= 2 && fps.iter().all(|f| *f == fp), "{report}");
    // Finding a video by name: "webm" leaves scenes.webm alone, a word in no name leaves none.
    let filter = &history["filter"];
    let listed: Vec<&str> = filter["webm"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert!(listed.len() == 1 && listed[0].starts_with("scenes.webm"), "{report}");
    assert_eq!(filter["count"], "(1 of 2)", "{report}");
    assert_eq!((&filter["none"]["options"], &filter["none"]["disabled"]), (&0.into(), &true.into()), "{report}");
    // "In this video" on a card of the words' search: the same words inside that video.
    let inside = &history["inside"];
    assert_eq!(inside["search"], format!("?video={}&q=a+red+screen&top_k=10", app.mp4), "{report}");
    assert_eq!((&inside["query"], &inside["inside_buttons"]), (&"a red screen".into(), &0.into()), "{report}");
    assert!(inside["fingerprints"].as_array().unwrap().iter().all(|f| *f == fp), "{report}");
    // On a phone: no player until a moment plays; then it is on screen, at the top, although
    // the card clicked was scrolled to further down.
    let phone = &report["phone"];
    assert_eq!(phone["idle_height"], 0.0, "{report}");
    let playing = &phone["playing"];
    let (top, bottom, height) =
        (playing["top"].as_f64().unwrap(), playing["bottom"].as_f64().unwrap(), playing["height"].as_f64().unwrap());
    assert!(playing["scrolled"].as_f64().unwrap() > 0.0, "the clicked card was further down: {report}");
    assert!(top >= 0.0 && bottom <= height / 2.0, "the player is at the top of the screen: {report}");
    // The system's dark mode: a dark page with light text (and the light page the opposite).
    let (light, dark) = (&phone["light"], &phone["dark"]);
    let l = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    assert!(l(light, "body") > 200.0 && l(light, "text") < 60.0, "{report}");
    assert!(l(dark, "body") < 40.0 && l(dark, "card") < 60.0 && l(dark, "text") > 200.0, "{report}");
    // "in what is said": the word, found where it is said (12-14 s of scenes.mp4), as an address.
    let said = &history["said"];
    assert_eq!((&said["search"], &said["checked"]), (&"?said=favourite&top_k=10".into(), &true.into()), "{report}");
    assert_eq!((said["start"].as_f64(), said["end"].as_f64()), (Some(12.0), Some(14.0)), "{report}");
    assert_eq!(said["said"], format!("“{SAID}”"), "{report}");
    assert_eq!(said["marked"], serde_json::json!(["favourite"]), "the word found is marked: {report}");
    // ...and playing it shows the transcript as captions (they were offered but off before).
    let captions = &said["captions"];
    assert_eq!(
        captions["before"],
        serde_json::json!([{"kind": "captions", "label": "What is said", "mode": "disabled"}]),
        "{report}"
    );
    let cues = captions["cues"].as_array().unwrap();
    assert_eq!((captions["tracks"].as_u64(), cues.len()), (Some(1), 1), "{report}");
    assert_eq!((cues[0][0].as_f64(), cues[0][1].as_f64(), &cues[0][2]), (Some(12.0), Some(14.0), &SAID.into()));
    // "Recorded from June 2024": an address of its own, nothing found (no fixture has a date);
    // Back returns to the undated search with the input empty again.
    let dated = &history["dated"];
    assert_eq!(dated["search"], "?q=a+red+screen&top_k=10&from=2024-06", "{report}");
    // The browser is in UTC+14: the months it asked for are its own (the API request names
    // its zone, the address does not), and 15:30 UTC on 14 July was the 15th there.
    let api = dated["api"].as_str().unwrap_or_default();
    assert!(api.ends_with("&from=2024-06&tz=Pacific%2FKiritimati"), "{report}");
    let cards = dated["cards"].as_array().unwrap();
    assert!(!cards.is_empty(), "{report}");
    for c in cards {
        assert_eq!((&c[0], &c[1]), (&app.webm.as_str().into(), &"2024-07-15".into()), "{report}");
    }
    assert_eq!(dated["back"]["from"], "", "{report}");
    // ...and "Find a video" takes the date too.
    assert_eq!(filter["dated"], serde_json::json!(["scenes.webm (0:12, 2024-07-15)"]), "{report}");
    // The picture (the blue scene) finds the blue scene.
    let pic = &report["picture"];
    assert_eq!(pic["fingerprint"], app.mp4.as_str(), "{report}");
    assert!(pic["start"].as_f64().unwrap() <= 25.0 && pic["end"].as_f64().unwrap() >= 25.0, "{report}");
    println!("screenshot: {}", report["screenshot"]);
}

/// `75.25` as the page writes a moment (`1:15.3`: tenths, rounded first).
fn moment(seconds: f64) -> String {
    let tenths = (seconds * 10.0).round().max(0.0) as u64;
    format!("{}:{:04.1}", tenths / 600, (tenths % 600) as f64 / 10.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_names_the_clip_cut_from_its_video() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_in(dir.path()).await;
    // scenes.mp4 (red 0-10 s, green, blue) and 10 s cut from it at 6 s, smaller and re-encoded
    // (red 4 s, then green).
    let mp4 = ingest(&engine, &common::fixture("scenes.mp4")).await;
    let cut = dir.path().join("cut.mp4");
    let fixture = common::fixture("scenes.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-ss", "6", "-t", "10", "-i"])
        .arg(&fixture)
        .args(["-vf", "scale=160:120", "-an"])
        .arg(&cut)
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(made.success());
    let clip = ingest(&engine, &cut).await;
    let library = Arc::new(Library::new(engine.clone(), &dir.path().join("library")));
    let (addr, _stop) = serve(library, None).await;
    let base = format!("http://{addr}");
    let api =
        get_json(&reqwest::Client::new(), format!("{base}/api/library/search?q=a%20green%20screen&top_k=10")).await;

    let report = drive_page(&base, "a green screen", vec!["--cards-only".into()]).await;
    let cards = report["cards"].as_array().unwrap();
    let results = api["results"].as_array().unwrap();
    assert_eq!(cards.len(), results.len(), "one card per result: {report}\n{api}");
    // Each card says where else its moment is, in that video's own time: the clip's moment
    // under the original's ("a clip of it"), or the original's under the clip's ("cut from it").
    let mut folded = 0;
    for (card, result) in cards.iter().zip(results) {
        assert_eq!(card["fingerprint"], result["fingerprint"], "{report}\n{api}");
        let copies = result["copies"].as_array().unwrap();
        if copies.is_empty() {
            assert!(card["copies"].is_null(), "nothing folded, nothing said: {card}");
            continue;
        }
        let said: Vec<String> = copies
            .iter()
            .map(|c| {
                let at = format!("{}–{}", moment(c["start"].as_f64().unwrap()), moment(c["end"].as_f64().unwrap()));
                match (c["fingerprint"].as_str().unwrap(), c["relation"].as_str().unwrap()) {
                    (fp, "clip") if fp == clip => format!("cut.mp4 (a clip of it, {at})"),
                    (fp, "original") if fp == mp4 => format!("scenes.mp4 (cut from it, {at})"),
                    other => panic!("only the clip and its original are stored: {other:?} in {api}"),
                }
            })
            .collect();
        assert_eq!(card["copies"], format!("Also in {}", said.join(", ")), "{report}\n{api}");
        folded += 1;
    }
    assert!(folded >= 1, "the green moment is in both videos, shown once: {report}\n{api}");
    println!("cards: {}", report["cards"]);
}
