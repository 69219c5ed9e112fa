//! Remixed tasks with real parts: remixes of the colour-scene fixtures rendered by ffmpeg,
//! decoded, their ground truth checked against the colours on screen; the source cache fetching
//! over HTTP; and `/media/<token>` on a real server (Range, expiry, path tricks, the download
//! cap).

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chronoseek::ingest::{FetchOptions, Fetcher, probe};
use chronoseek::validator::media::MediaRegistry;
use chronoseek::validator::remix::{Moment, RemixOptions, RemixPlan, SourceVideo, render};
use chronoseek::validator::remixer::{Consistency, Remixer};
use chronoseek::validator::sources::SourceCache;
use chronoseek::validator::tasks::{Interval, Task};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

/// The two colour-scene fixtures as sources, one moment per scene ("a red screen", ...).
fn fixture_sources() -> Vec<SourceVideo> {
    let scenes: Value = serde_json::from_slice(&std::fs::read(common::fixture("scenes.json")).unwrap()).unwrap();
    ["scenes.mp4", "scenes.webm"]
        .iter()
        .map(|name| {
            let info = probe(&common::fixture(name)).unwrap();
            SourceVideo {
                origin: name.to_string(),
                path: common::fixture(name),
                duration: info.duration_s.unwrap(),
                width: info.width,
                height: info.height,
                has_audio: info.has_audio,
                moments: scenes[name]["scenes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| Moment {
                        query: format!("a {} screen", s["colour"].as_str().unwrap()),
                        start: s["start"].as_f64().unwrap(),
                        end: s["end"].as_f64().unwrap(),
                    })
                    .collect(),
            }
        })
        .collect()
}

/// ffmpeg's named colours of the fixtures.
const COLOURS: [(&str, [f64; 3]); 6] = [
    ("red", [255.0, 0.0, 0.0]),
    ("green", [0.0, 128.0, 0.0]),
    ("blue", [0.0, 0.0, 255.0]),
    ("yellow", [255.0, 255.0, 0.0]),
    ("magenta", [255.0, 0.0, 255.0]),
    ("cyan", [0.0, 255.0, 255.0]),
];

/// The named colour nearest the centre of the frame at `t` (decoded by the ffmpeg program).
fn colour_at(path: &std::path::Path, t: f64) -> &'static str {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-ss", &format!("{t:.3}"), "-i"])
        .arg(path)
        .args(["-frames:v", "1", "-vf", "scale=16:16", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout.len() == 16 * 16 * 3, "{}", String::from_utf8_lossy(&out.stderr));
    let px = &out.stdout[(8 * 16 + 8) * 3..(8 * 16 + 8) * 3 + 3];
    let d = |c: [f64; 3]| (0..3).map(|i| (f64::from(px[i]) - c[i]).powi(2)).sum::<f64>();
    COLOURS.iter().min_by(|a, b| d(a.1).total_cmp(&d(b.1))).unwrap().0
}

fn small() -> RemixOptions {
    RemixOptions { heights: vec![144, 180, 240], ..RemixOptions::default() }
}

#[tokio::test]
async fn remixes_decode_their_ground_truth_shows_the_query_and_no_two_share_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let sources = fixture_sources();
    let mut fingerprints = std::collections::HashSet::new();
    for seed in [11u64, 12, 13] {
        let plan = RemixPlan::draw(&sources, &small(), &mut StdRng::seed_from_u64(seed)).unwrap();
        let out = dir.path().join(format!("remix-{seed}.mp4"));
        let stats = render(&plan, &sources, &out).await.unwrap();
        eprintln!(
            "seed {seed}: {} cuts, {:.1} s, {}x{} @ {} fps crf {}: rendered in {:.2} s, {} bytes; query {:?} at {:?}",
            plan.cuts.len(),
            plan.duration,
            plan.encoding.width,
            plan.encoding.height,
            plan.encoding.fps,
            plan.encoding.crf,
            stats.seconds,
            stats.bytes,
            plan.query,
            plan.ground_truths
        );
        // It decodes, with the planned duration, size and an audio track.
        let info = probe(&out).unwrap();
        assert!((info.duration_s.unwrap() - plan.duration).abs() < 0.5, "{info:?} vs {}", plan.duration);
        assert_eq!((info.width, info.height), (plan.encoding.width, plan.encoding.height));
        assert!(info.has_audio, "every remix has sound (silence where the source had none)");
        // The query's colour is on screen inside every ground truth, and every cut shows its
        // anchor's colour at the anchor's mapped middle.
        let colour = plan.query.trim_start_matches("a ").trim_end_matches(" screen").to_string();
        assert!(!plan.ground_truths.is_empty());
        for g in &plan.ground_truths {
            for t in [g.start + 0.3, (g.start + g.end) / 2.0, g.end - 0.3] {
                assert_eq!(colour_at(&out, t), colour, "t = {t} in {g:?}");
            }
        }
        for (k, c) in plan.cuts.iter().enumerate() {
            let Some(m) = &c.anchor else { continue };
            let mid = (m.start.max(c.src_start) + m.end.min(c.src_end)) / 2.0;
            let want = m.query.trim_start_matches("a ").trim_end_matches(" screen");
            assert_eq!(colour_at(&out, plan.to_remix(k, mid).unwrap()), want, "cut {k}: {c:?}");
        }
        // No container metadata or encoder tag in the file.
        let bytes = std::fs::read(&out).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"Lavf"), "no muxer version tag");
        assert!(!bytes.windows(10).any(|w| w == b"x264 - cor"), "no x264 settings message");
        assert!(fingerprints.insert(blake3::hash(&bytes)), "a new fingerprint per task");
    }
    // The same sources again with the same plan seed still differ from a different seed's.
    assert_eq!(fingerprints.len(), 3);
}

#[tokio::test]
async fn the_source_cache_fetches_once_checks_and_stays_within_its_budget() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    let fetcher =
        Fetcher::new(FetchOptions { download_dir: Some(dir.path().join("dl")), ..FetchOptions::default() }).unwrap();
    let budget = 170_000; // scenes.mp4 (158 KB) + scenes.webm (5 KB), not a third
    let mut cache = SourceCache::open(&dir.path().join("sources"), budget, fetcher.clone()).unwrap();
    let mp4 = cache.ensure(&server.url("scenes.mp4")).await.unwrap();
    assert!((mp4.duration - 30.0).abs() < 0.2 && mp4.has_audio, "{mp4:?}");
    let gets = server.gets.load(std::sync::atomic::Ordering::SeqCst);
    cache.ensure(&server.url("scenes.mp4")).await.unwrap();
    assert_eq!(server.gets.load(std::sync::atomic::Ordering::SeqCst), gets, "fetched once");
    let webm = cache.ensure(&server.url("scenes.webm")).await.unwrap();
    assert!(!webm.has_audio);
    // Not a video: refused, nothing kept.
    assert!(cache.ensure(&server.url("not-a-video.mp4")).await.is_err());
    assert_eq!(cache.all().count(), 2);
    // Over budget: the least recently used goes.
    cache.touch(&[&server.url("scenes.webm")]);
    cache.ensure(&server.url("truncated.mp4")).await.ok();
    assert!(cache.bytes() <= budget, "{}", cache.bytes());
    // Reopened: the index survives; a stray file (a fetch cut short) is removed.
    std::fs::write(dir.path().join("sources/.half.video.part"), b"x").unwrap();
    let cache2 = SourceCache::open(&dir.path().join("sources"), budget, fetcher).unwrap();
    assert_eq!(cache2.all().count(), cache.all().count());
    assert!(!dir.path().join("sources/.half.video.part").exists());
    for s in cache2.all() {
        assert!(cache2.path_of(s).is_file());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_is_served_by_token_with_ranges_and_only_while_live() {
    let dir = tempfile::tempdir().unwrap();
    let registry = MediaRegistry::open(&dir.path().join("media"), 1).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = url::Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
    let app = chronoseek::server::media::router(registry.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    // A secret beside the media folder that no URL may reach.
    std::fs::write(dir.path().join("state.json"), b"secret").unwrap();

    let server = common::TestServer::start(common::root().join("data/fixtures/videos")).await;
    let tasks: Vec<Task> = fixture_sources()
        .into_iter()
        .flat_map(|s| {
            let url = server.url(&s.origin);
            s.moments.into_iter().map(move |m| Task {
                task_id: format!("{}:{}", url, m.query),
                video_url: url.clone(),
                query: m.query,
                ground_truths: vec![Interval { start: m.start, end: m.end }],
                duration: None,
                split: None,
            })
        })
        .collect();
    let fetcher = Fetcher::new(FetchOptions::default()).unwrap();
    let sources = SourceCache::open(&dir.path().join("sources"), 1 << 30, fetcher).unwrap();
    let remixer = Remixer::new(
        registry.clone(),
        base.clone(),
        sources,
        &tasks,
        small(),
        Consistency { rate: 1.0, ..Consistency::default() },
    )
    .unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let remix = remixer.prepare(&tasks[0], &mut rng, Duration::from_secs(30)).await.unwrap();
    let url = remix.url.as_str().to_string();
    assert!(url.starts_with(&format!("{base}media/")) && !url.contains("remix") && !url.contains("synth"), "{url}");
    let (original_url, _) = remix.original.as_ref().expect("rate 1: a consistency probe");
    assert_ne!(original_url.as_str(), url);

    let http = reqwest::Client::new();
    let full = http.get(&url).send().await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(full.headers()["content-type"], "video/mp4");
    let body = full.bytes().await.unwrap();
    assert_eq!(body.len() as u64, remix.render.bytes);
    let part = http.get(&url).header("range", "bytes=10-19").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), body.slice(10..20));
    let past = http.get(&url).header("range", format!("bytes={}-", body.len() + 10)).send().await.unwrap();
    assert_eq!(past.status(), 416);
    assert!(remix.published.bytes_served() >= body.len() as u64 + 10, "downloads are counted");

    // Path tricks and guesses: the same 404 with the protocol envelope.
    for path in ["media/..%2Fstate.json", "media/../state.json", "media/%2e%2e%2fstate.json", "media/state.json"] {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let guess = format!("{base}media/{}", "A".repeat(43));
    let r = http.get(&guess).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    common::assert_valid(&common::schema("protocol-error.schema.json"), &v);

    // The download cap (1 here): a second download while one streams gets 503.
    let slot = registry.try_download().unwrap();
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    drop(slot);

    // Retired with the step: 404 and the files are gone.
    let files: Vec<_> = std::fs::read_dir(registry.dir()).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 2, "the remix and the original's link: {files:?}");
    drop(remix);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 404);
    assert_eq!(std::fs::read_dir(registry.dir()).unwrap().count(), 0);
    assert!(dir.path().join("sources").read_dir().unwrap().count() >= 2, "the source copy stays cached");

    // Expiry: a token past its time answers 404 even before it is retired.
    let remix = remixer.prepare(&tasks[1], &mut rng, Duration::from_millis(200)).await.unwrap();
    assert_eq!(http.get(remix.url.as_str()).send().await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(http.get(remix.url.as_str()).send().await.unwrap().status(), 404);
    let _ = Arc::clone(&registry);
}
