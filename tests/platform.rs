//! Platform URLs through yt-dlp, tested with a stand-in executable that writes a fixture video
//! where yt-dlp would (the real program cannot reach the network here).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use chronoseek::index::Store;
use chronoseek::ingest::platform::YtDlpOptions;
use chronoseek::ingest::{FetchOptions, Fetcher};
use chronoseek::protocol::{ErrorCode, TopK};
use chronoseek::query::{Engine, EngineOptions};

/// A script that logs its arguments and copies `fixture` to the `-o` template (ext mp4), or
/// fails like yt-dlp does when `fail` is set.
fn stand_in(dir: &Path, fixture: &Path, fail: bool) -> (PathBuf, PathBuf) {
    let log = dir.join("calls.log");
    let script = dir.join("yt-dlp");
    let body = if fail {
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\necho 'ERROR: [youtube] abc: Video unavailable' >&2\nexit 1\n",
            log.display()
        )
    } else {
        format!(
            "#!/bin/sh\necho \"$@\" >> '{log}'\nout=''\nprev=''\nfor a in \"$@\"; do\n  if [ \"$prev\" = '-o' ]; then out=\"$a\"; fi\n  prev=\"$a\"\ndone\ncp '{fixture}' \"$(echo \"$out\" | sed 's/%(ext)s/mp4/')\"\n",
            log = log.display(),
            fixture = fixture.display()
        )
    };
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

async fn engine(dir: &Path, yt_dlp: YtDlpOptions) -> Engine {
    let store = Store::open(&dir.join("store").display().to_string()).await.unwrap();
    let fetcher = Fetcher::new(FetchOptions { yt_dlp, ..FetchOptions::default() }).unwrap();
    Engine::new(store, common::tiny_model(), fetcher, EngineOptions::default())
}

#[tokio::test]
async fn platform_video_is_fetched_once_per_video_id() {
    let dir = tempfile::tempdir().unwrap();
    let (script, log) = stand_in(dir.path(), &common::fixture("scenes.webm"), false);
    let cookies = dir.path().join("cookies.txt");
    std::fs::write(&cookies, "# Netscape HTTP Cookie File\n").unwrap();
    let e = engine(
        dir.path(),
        YtDlpOptions { program: script, cookies: Some(cookies.clone()), cookies_from_browser: None },
    )
    .await;
    let hidden = chronoseek::progress::silent();
    let first = e
        .search(
            &chronoseek::ingest::VideoInput::from_cli("https://www.youtube.com/watch?v=abc123XYZ_-").unwrap(),
            "a cyan screen",
            TopK::default(),
            &hidden,
        )
        .await
        .unwrap();
    assert_eq!(first.counters.downloads, 1);
    assert_eq!(first.video.frame_count, 12);
    // Another URL form of the same video id: no download, no decode.
    let again = e
        .search(
            &chronoseek::ingest::VideoInput::from_cli("https://youtu.be/abc123XYZ_-?t=42").unwrap(),
            "a yellow screen",
            TopK::default(),
            &hidden,
        )
        .await
        .unwrap();
    assert_eq!(again.counters.downloads + again.counters.videos_decoded, 0);
    assert_eq!(again.video.fingerprint, first.video.fingerprint);
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(calls.lines().count(), 1, "{calls}");
    assert!(calls.contains("best[height<=720]"), "{calls}");
    assert!(calls.contains(&format!("--cookies {}", cookies.display())), "{calls}");
    assert!(calls.trim_end().ends_with("https://www.youtube.com/watch?v=abc123XYZ_-"), "{calls}");
}

#[tokio::test]
async fn yt_dlp_failures_and_absence_are_fetch_failures() {
    let dir = tempfile::tempdir().unwrap();
    let (script, _) = stand_in(dir.path(), &common::fixture("scenes.webm"), true);
    let e = engine(dir.path(), YtDlpOptions { program: script, cookies: None, cookies_from_browser: None }).await;
    let hidden = chronoseek::progress::silent();
    let err = e
        .search(
            &chronoseek::ingest::VideoInput::from_cli("https://www.youtube.com/watch?v=gone").unwrap(),
            "q",
            TopK::default(),
            &hidden,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VideoFetchFailed);
    assert!(err.to_string().contains("Video unavailable"), "{err}");

    let missing =
        YtDlpOptions { program: dir.path().join("no-such-yt-dlp"), cookies: None, cookies_from_browser: None };
    let e = engine(&dir.path().join("b"), missing).await;
    let err = e
        .search(
            &chronoseek::ingest::VideoInput::from_cli("https://youtu.be/abc").unwrap(),
            "q",
            TopK::default(),
            &hidden,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::VideoFetchFailed);
    assert!(err.to_string().contains("pip install yt-dlp"), "{err}");
}
