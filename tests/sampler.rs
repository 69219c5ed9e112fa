//! The ffmpeg sampler on real fixture files: containers, codecs, rotation, odd sizes, variable
//! frame rate, and broken inputs.

mod common;

use chronoseek::ingest::{DecodeError, SamplerOptions, SamplingPlan, probe, sample_frames};
use chronoseek::model::preprocess::{CLIP_MEAN, CLIP_STD};

/// Sample times (ms), each frame's pixels, and the pass's statistics.
type Sampled = (Vec<i64>, Vec<Vec<f32>>, chronoseek::ingest::SampleStats);

fn sample(name: &str, opts: &SamplerOptions) -> Result<Sampled, DecodeError> {
    let mut times = Vec::new();
    let mut pixels = Vec::new();
    let stats = sample_frames(&common::fixture(name), opts, |f| {
        times.push(f.t_ms);
        pixels.push(f.pixels);
        true
    })?;
    Ok((times, pixels, stats))
}

fn opts(size: usize) -> SamplerOptions {
    SamplerOptions { size, ..SamplerOptions::default() }
}

/// Mean of one channel, de-normalised back to [0, 1].
fn channel_mean(px: &[f32], size: usize, c: usize, rows: std::ops::Range<usize>) -> f32 {
    let plane = &px[c * size * size..(c + 1) * size * size];
    let vals: Vec<f32> = rows.flat_map(|y| plane[y * size..(y + 1) * size].to_vec()).collect();
    vals.iter().map(|v| v * CLIP_STD[c] + CLIP_MEAN[c]).sum::<f32>() / vals.len() as f32
}

#[test]
fn h264_mp4_at_one_fps_keeps_one_frame_per_second_with_the_right_colours() {
    let (times, pixels, stats) = sample("scenes.mp4", &opts(32)).unwrap();
    assert_eq!(times.len(), 30, "{times:?}");
    assert_eq!(times[0], 0);
    assert!(times.windows(2).all(|w| (w[1] - w[0] - 1000).abs() <= 50), "{times:?}");
    assert_eq!(stats.frames_decoded, 720);
    assert!((stats.duration_s - 30.0).abs() < 0.1);
    // red 0-10, green 10-20, blue 20-30
    for (t, px) in times.iter().zip(&pixels) {
        let dominant =
            (0..3).max_by(|&a, &b| channel_mean(px, 32, a, 0..32).total_cmp(&channel_mean(px, 32, b, 0..32))).unwrap();
        assert_eq!(dominant, (*t / 10_000) as usize, "frame at {t} ms");
    }
}

#[test]
fn vp9_webm_without_duration_in_header() {
    let info = probe(&common::fixture("scenes.webm")).unwrap();
    assert_eq!((info.width, info.height), (256, 144));
    let (times, _, stats) = sample("scenes.webm", &opts(32)).unwrap();
    assert_eq!(times.len(), 12, "{times:?}");
    assert!((stats.duration_s - 12.0).abs() < 0.2, "{}", stats.duration_s);
}

#[test]
fn rotation_metadata_is_applied() {
    let info = probe(&common::fixture("rotated.mp4")).unwrap();
    assert_eq!(info.rotation, 90);
    let (_, pixels, _) = sample("rotated.mp4", &opts(32)).unwrap();
    // Coded: left red, right blue. Displayed (rotated 90 clockwise): top red, bottom blue.
    let first = &pixels[0];
    let top_red = channel_mean(first, 32, 0, 0..12);
    let top_blue = channel_mean(first, 32, 2, 0..12);
    let bottom_red = channel_mean(first, 32, 0, 20..32);
    let bottom_blue = channel_mean(first, 32, 2, 20..32);
    assert!(top_red > 0.8 && top_blue < 0.2, "top red {top_red} blue {top_blue}");
    assert!(bottom_blue > 0.8 && bottom_red < 0.2, "bottom red {bottom_red} blue {bottom_blue}");
}

#[test]
fn odd_size_and_variable_frame_rate() {
    let info = probe(&common::fixture("odd.mkv")).unwrap();
    assert_eq!((info.width, info.height), (97, 61));
    let (times, pixels, _) = sample("odd.mkv", &opts(24)).unwrap();
    assert_eq!(times.len(), 6, "{times:?}");
    for (i, t) in times.iter().enumerate() {
        assert!((t - i as i64 * 1000).abs() <= 60, "frame {i} at {t} ms");
    }
    assert!(pixels.iter().all(|p| p.len() == 3 * 24 * 24));
}

#[test]
fn other_rates_and_the_adaptive_plan() {
    let two = SamplerOptions { plan: SamplingPlan::Fixed { fps: 2.0 }, ..opts(16) };
    let (times, _, _) = sample("scenes.webm", &two).unwrap();
    assert_eq!(times.len(), 24);
    let adaptive = SamplerOptions { plan: SamplingPlan::Adaptive, ..opts(16) };
    let (times, _, stats) = sample("scenes.mp4", &adaptive).unwrap();
    // 30 s < 60 s: 1 fps.
    assert_eq!(stats.fps, 1.0);
    assert_eq!(times.len(), 30);
}

#[test]
fn broken_inputs_are_unreadable_not_panics() {
    for name in ["not-a-video.mp4", "empty.mp4"] {
        let err = sample(name, &opts(16)).unwrap_err();
        assert!(matches!(err, DecodeError::Open(_)), "{name}: {err:?}");
        // FFmpeg's own reason is kept as the source, and said in the message.
        let source = std::error::Error::source(&err).map(ToString::to_string).unwrap_or_default();
        assert!(!source.is_empty() && err.to_string().ends_with(&source), "{name}: {err}");
    }
    let err = sample("truncated.mp4", &opts(16)).unwrap_err();
    assert!(matches!(err, DecodeError::EndsEarly { .. }), "truncated: {err:?}");
}

#[test]
fn oversized_and_overlong_videos_are_refused_before_decoding() {
    let small = SamplerOptions { max_pixels: 320 * 240 - 1, ..opts(16) };
    let err = sample("scenes.mp4", &small).unwrap_err();
    assert!(matches!(err, DecodeError::TooLarge { width: 320, height: 240, .. }), "{err:?}");
    let short = SamplerOptions { max_duration_s: 10.0, ..opts(16) };
    let err = sample("scenes.mp4", &short).unwrap_err();
    assert!(matches!(err, DecodeError::TooLong { .. }), "{err:?}");
}

/// A video of FFmpeg's `testsrc` at `rate` frames a second for `seconds`, encoded and muxed
/// by the ffmpeg tool with `output` (codec and format options) into `path`.
fn testsrc(path: &std::path::Path, rate: u32, seconds: u32, output: &[&str]) {
    let ok = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size=64x36:rate={rate}:duration={seconds}"))
        .args(output)
        .arg(path)
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(ok.success());
}

#[test]
fn a_stream_that_states_no_duration_is_held_to_the_limit_by_its_frames() {
    let dir = tempfile::tempdir().unwrap();
    // A raw H.264 stream (one of the formats accepted from the network) states no duration.
    let raw = dir.path().join("twelve.h264");
    testsrc(&raw, 25, 12, &["-c:v", "libx264", "-f", "h264"]);
    assert_eq!(probe(&raw).unwrap().duration_s, None);
    let sample = |max_duration_s: f64| {
        let mut kept = 0;
        let r = sample_frames(&raw, &SamplerOptions { max_duration_s, ..opts(16) }, |_| {
            kept += 1;
            true
        });
        (r, kept)
    };
    let (r, kept) = sample(20.0);
    assert_eq!((r.unwrap().frames_decoded, kept), (300, 12));
    // Past the limit and its second of slack, decoding stops with the duration refused.
    let (r, kept) = sample(5.5);
    let err = r.unwrap_err();
    assert!(
        matches!(err, DecodeError::TooLong { duration_s, max_s: 5.5 } if duration_s > 6.5 && duration_s < 6.6),
        "{err:?}"
    );
    assert_eq!(kept, 7, "frames 0 to 6 s kept before the refusal");
}

#[test]
fn frames_that_outnumber_the_limit_stop_decoding() {
    let dir = tempfile::tempdir().unwrap();
    // 3,000 frames in one second: within a 1.5-s duration limit, but more than the 1,500 that
    // 1,000 frames a second over 1.5 s allows.
    let fast = dir.path().join("fast.nut");
    testsrc(&fast, 3000, 1, &["-c:v", "mpeg4", "-q:v", "20"]);
    let limit = SamplerOptions { max_duration_s: 1.5, ..opts(16) };
    let err = sample_frames(&fast, &limit, |_| true).unwrap_err();
    assert!(matches!(err, DecodeError::TooManyFrames { max: 1500 }), "{err:?}");
    // With room for them it decodes all 3,000.
    let roomy = SamplerOptions { max_duration_s: 3.0, ..opts(16) };
    assert_eq!(sample_frames(&fast, &roomy, |_| true).unwrap().frames_decoded, 3000);
}

#[test]
fn a_pass_past_its_deadline_stops_with_what_it_kept() {
    use chronoseek::ingest::Deadline;
    use std::time::Duration;
    // A budget already spent: not one frame is handed over.
    let spent = SamplerOptions { deadline: Some(Deadline::after(Duration::ZERO)), ..opts(32) };
    let mut handed = 0;
    let err = sample_frames(&common::fixture("scenes.mp4"), &spent, |_| {
        handed += 1;
        true
    })
    .unwrap_err();
    assert!(matches!(err, DecodeError::OutOfTime { budget_s } if budget_s == 0.0), "{err}");
    assert_eq!(handed, 0);
    // A consumer slower than the budget (an image tower on a slow machine: 200 ms a frame)
    // holds the decoder back, and the decoder stops once the budget is spent.
    let slow = SamplerOptions { deadline: Some(Deadline::after(Duration::from_millis(1500))), ..opts(32) };
    let mut handed = 0;
    let err = sample_frames(&common::fixture("scenes.mp4"), &slow, |_| {
        handed += 1;
        std::thread::sleep(Duration::from_millis(200));
        true
    })
    .unwrap_err();
    assert!(matches!(err, DecodeError::OutOfTime { .. }), "{err}");
    assert_eq!(err.to_string(), "decoding ran past its time limit of 1.5 s");
    assert!((2..=8).contains(&handed), "{handed} of 30 frames before the budget ran out");
    // Within its budget the same pass is whole.
    let ample = SamplerOptions { deadline: Some(Deadline::after(Duration::from_secs(600))), ..opts(32) };
    assert_eq!(sample("scenes.mp4", &ample).unwrap().0.len(), 30);
}

#[test]
fn consumer_can_stop_decoding() {
    let mut n = 0;
    let err = sample_frames(&common::fixture("scenes.mp4"), &opts(16), |_| {
        n += 1;
        n < 3
    })
    .unwrap_err();
    assert!(matches!(err, DecodeError::Cancelled));
    assert_eq!(n, 3);
}

#[test]
fn network_media_cannot_make_the_decoder_open_local_files() {
    use chronoseek::ingest::{MediaTrust, probe_as};
    let dir = tempfile::tempdir().unwrap();
    let list = common::playlist_with_local_segment(dir.path());
    // The hazard is real: trusted (the user's own file), FFmpeg follows the playlist into the
    // local segment and decodes it.
    let mut frames = 0;
    let local = SamplerOptions { size: 16, ..SamplerOptions::default() };
    sample_frames(&list, &local, |_| {
        frames += 1;
        true
    })
    .expect("a local playlist is the user's business");
    assert!(frames > 0);
    // From the network: refused before any segment is opened.
    let network = SamplerOptions { trust: MediaTrust::Network, ..local.clone() };
    let mut frames = 0;
    let err = sample_frames(&list, &network, |_| {
        frames += 1;
        true
    })
    .unwrap_err();
    // FFmpeg's own demuxer list refuses the playlist (the format check after it is a second line).
    assert!(matches!(err, DecodeError::OpenFromNetwork(_)), "{err}");
    assert_eq!(frames, 0);
    let refused = probe_as(&list, MediaTrust::Network);
    assert!(matches!(refused, Err(DecodeError::OpenFromNetwork(_))), "{refused:?}");
    // Ordinary containers still open from the network.
    for name in ["scenes.mp4", "scenes.webm", "odd.mkv"] {
        assert!(probe_as(&common::fixture(name), MediaTrust::Network).is_ok(), "{name}");
    }
}
