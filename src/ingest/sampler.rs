//! The ffmpeg frame sampler: one sequential decode pass that keeps a frame per sampling
//! interval and converts only the frames it keeps, scaling them straight to the model's input
//! size (shortest side to `size` with swscale's bicubic), applying rotation metadata, then
//! centre-cropping and normalising like CLIP's processor.
//!
//! At 1 fps a sequential pass is as fast as seeking (a seek re-decodes a whole GOP anyway), and
//! frame threading uses every core like the ffmpeg command-line tool does.

use std::path::Path;
use std::time::{Duration, Instant};

use ffmpeg::{Rational, codec::threading, format::Pixel, software::scaling, util::frame::video::Video as VideoFrame};
use ffmpeg_next as ffmpeg;

use super::plan::SamplingPlan;
use crate::model::preprocess::{RgbImage, normalize_center_crop};

/// Why a file cannot be turned into frames (or samples, or a thumbnail). Every variant is the
/// protocol's `VIDEO_UNREADABLE`; where FFmpeg (or the PNG encoder) said why, its error is kept
/// as the source.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("FFmpeg's libraries could not start: {0}")]
    Init(#[source] ffmpeg::Error),
    #[error("not a readable media file: {0}")]
    Open(#[source] ffmpeg::Error),
    #[error("not a readable media file: {0} (network media must be a single-file container)")]
    OpenFromNetwork(#[source] ffmpeg::Error),
    #[error("not a readable media file: container format '{0}' is not accepted from the network")]
    RefusedFormat(String),
    #[error("not a readable media file: the video stream has no frame size")]
    NoFrameSize,
    #[error("the file has no video stream")]
    NoVideoStream,
    #[error("unsupported {media} codec: {source}")]
    Codec {
        media: Media,
        #[source]
        source: ffmpeg::Error,
    },
    #[error("no conversion from pixel format {from:?}: {source}")]
    PixelFormat {
        from: Pixel,
        #[source]
        source: ffmpeg::Error,
    },
    #[error("scaling a frame failed: {0}")]
    Scale(#[source] ffmpeg::Error),
    #[error("resampling audio failed: {0}")]
    Resample(#[source] ffmpeg::Error),
    #[error("an audio frame of {0} samples is too large to resample")]
    AudioFrameTooLarge(usize),
    #[error("the thumbnail cannot be encoded as PNG: {0}")]
    Png(#[source] png::EncodingError),
    #[error("video resolution {width}x{height} exceeds the limit of {max_pixels} pixels")]
    TooLarge { width: u32, height: u32, max_pixels: u64 },
    #[error("video duration {duration_s:.0} s exceeds the limit of {max_s} s")]
    TooLong { duration_s: f64, max_s: f64 },
    #[error("video has more than {max} frames, more than {MAX_MEAN_FPS} a second over the longest accepted duration")]
    TooManyFrames { max: u64 },
    #[error("decoding ran past its time limit of {budget_s} s")]
    OutOfTime { budget_s: f64 },
    #[error("video is truncated or corrupt: too many corrupt packets")]
    CorruptPackets,
    #[error("video is truncated or corrupt: read error: {0}")]
    Read(#[source] ffmpeg::Error),
    #[error("video is truncated or corrupt: header says {header_s:.1} s but frames end at {frames_end_s:.1} s")]
    EndsEarly { header_s: f64, frames_end_s: f64 },
    #[error("no frame could be decoded")]
    NoFrames,
    #[error("decoding stopped by the consumer")]
    Cancelled,
    #[error("decoding stopped: the audio decoder thread panicked")]
    DecoderPanicked,
}

/// Which kind of stream a codec was wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    Video,
    Audio,
}

impl DecodeError {
    pub(super) fn video_codec(source: ffmpeg::Error) -> Self {
        DecodeError::Codec { media: Media::Video, source }
    }

    pub(super) fn audio_codec(source: ffmpeg::Error) -> Self {
        DecodeError::Codec { media: Media::Audio, source }
    }

    /// Whether the same bytes under the same limits would fail the same way: what the file
    /// holds (unreadable, over a limit, corrupt) or what it costs (`OutOfTime`), rather than
    /// this process (FFmpeg failing to start, the consumer stopping, a thread panicking).
    pub fn is_of_the_content(&self) -> bool {
        !matches!(self, Self::Init(_) | Self::Cancelled | Self::DecoderPanicked | Self::Png(_))
    }
}

impl std::fmt::Display for Media {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Media::Video => "video",
            Media::Audio => "audio",
        })
    }
}

/// Limits and output shape of a sampling pass.
#[derive(Debug, Clone)]
pub struct SamplerOptions {
    pub plan: SamplingPlan,
    /// Side of the square frames handed to the model.
    pub size: usize,
    /// Largest decoded frame area accepted (width x height); bigger videos are refused before
    /// any frame is decoded.
    pub max_pixels: u64,
    /// Longest accepted duration: the header's, when it states one, and the frames' times
    /// while decoding (a raw stream states none; a crafted header can understate it).
    pub max_duration_s: f64,
    /// Whose bytes these are: network media is opened with FFmpeg restricted to plain
    /// container demuxers reading this one file.
    pub trust: MediaTrust,
    /// When the pass must end ([`DecodeError::OutOfTime`] at the first packet or frame past
    /// it): the miner's per-video time budget. `None`: as long as the video takes.
    pub deadline: Option<Deadline>,
}

/// A point in time a decoding pass must not run past, with the budget it was set from (for
/// the message). The limits on size, duration and frame rate bound what a file may hold;
/// this bounds what it may cost, however its codec makes decoding slow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Deadline {
    /// `None` when `budget` reaches past what the clock can represent.
    at: Option<Instant>,
    budget: Duration,
}

impl Deadline {
    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self { at: Instant::now().checked_add(budget), budget }
    }

    pub fn passed(&self) -> bool {
        self.at.is_some_and(|at| Instant::now() >= at)
    }

    /// [`DecodeError::OutOfTime`] once the deadline has passed.
    pub fn check(&self) -> Result<(), DecodeError> {
        if self.passed() { Err(DecodeError::OutOfTime { budget_s: self.budget.as_secs_f64() }) } else { Ok(()) }
    }
}

impl Default for SamplerOptions {
    fn default() -> Self {
        Self {
            plan: SamplingPlan::default(),
            size: 224,
            max_pixels: 8192 * 4320,
            max_duration_s: 4.0 * 3600.0,
            trust: MediaTrust::Local,
            deadline: None,
        }
    }
}

/// Most frames a second, on average over the longest accepted duration, a video may have:
/// decoding stops with [`DecodeError::TooManyFrames`] past `max_duration_s` times this many.
/// Frames whose times do not advance (all stamped alike, or unstamped with an absurd stated
/// rate) would otherwise keep a decoder busy without ever passing the duration limit; a
/// high-speed camera's 1,000 frames a second for the whole four hours still fits.
pub const MAX_MEAN_FPS: f64 = 1000.0;

/// Where the bytes being decoded came from.
///
/// FFmpeg's playlist and reference demuxers (HLS, DASH, concat, image sequences, ...) open
/// further files and URLs named *inside* the media: a downloaded "video" that is an HLS
/// playlist listing `file:///etc/...` segments makes the decoder read local files. Bytes from
/// the network are therefore opened with a demuxer whitelist ([`NETWORK_DEMUXERS`], single-file
/// containers only) and a protocol whitelist of `file` (the downloaded file itself, nothing it
/// names over any other protocol); a format outside the list is `VIDEO_UNREADABLE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MediaTrust {
    /// The user's own files (the CLI): any format FFmpeg reads.
    #[default]
    Local,
    /// Bytes downloaded for a network caller.
    Network,
}

/// Demuxers allowed for network media: single-file containers and elementary streams that
/// open nothing else.
pub const NETWORK_DEMUXERS: &str =
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,flv,mpegts,ogg,asf,mpeg,m4v,h264,hevc,ivf,nut";

/// What the container says about the video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    pub duration_s: Option<f64>,
    pub width: u32,
    pub height: u32,
    pub source_fps: Option<f64>,
    /// Clockwise rotation to apply for display (0, 90, 180, 270).
    pub rotation: u32,
    /// The container also holds an audio stream.
    pub has_audio: bool,
    /// When it was recorded, from the container's (or the video stream's) tags.
    pub recorded_at_ms: Option<i64>,
}

/// One kept frame: its time and its `3 x size x size` normalised pixels.
#[derive(Debug, Clone)]
pub struct SampledFrame {
    pub t_ms: i64,
    pub pixels: Vec<f32>,
}

#[derive(Debug, Clone)]
pub struct SampleStats {
    pub info: VideoInfo,
    /// Duration from the header, or else the end of the last decoded frame.
    pub duration_s: f64,
    /// The rate frames were kept at.
    pub fps: f64,
    pub frames_decoded: u64,
    pub frames_kept: u64,
    pub decode_secs: f64,
    /// Hard cuts found at frame precision among all decoded frames (`ingest::cuts`): the
    /// times of the first frames of new shots, in µs.
    pub cuts_us: Vec<i64>,
}

fn init() -> Result<(), DecodeError> {
    static INIT: std::sync::OnceLock<Result<(), ffmpeg::Error>> = std::sync::OnceLock::new();
    let started = *INIT.get_or_init(|| {
        ffmpeg::init()?;
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
        Ok(())
    });
    started.map_err(DecodeError::Init)
}

pub(super) fn seconds(ts: i64, tb: Rational) -> f64 {
    ts as f64 * f64::from(tb)
}

/// The clockwise rotation to apply for display, from a display matrix, snapped to a multiple
/// of 90: the ffmpeg tool's `-av_display_rotation_get(m)`, where `av_display_rotation_get`
/// returns the counter-clockwise angle `-atan2(m[1], m[0])`.
fn rotation_from_matrix(data: &[u8]) -> u32 {
    if data.len() < 36 {
        return 0;
    }
    let m: Vec<f64> =
        data.chunks_exact(4).take(9).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64 / 65536.0).collect();
    let scale0 = m[0].hypot(m[3]);
    let scale1 = m[1].hypot(m[4]);
    if scale0 == 0.0 || scale1 == 0.0 {
        return 0;
    }
    let theta = (m[1] / scale1).atan2(m[0] / scale0).to_degrees().round();
    let theta = theta - 360.0 * (theta / 360.0 + 0.9 / 360.0).floor();
    (((theta / 90.0).round() as i64).rem_euclid(4) * 90) as u32
}

pub(super) fn open(path: &Path, trust: MediaTrust) -> Result<ffmpeg::format::context::Input, DecodeError> {
    init()?;
    match trust {
        MediaTrust::Local => ffmpeg::format::input(path).map_err(DecodeError::Open),
        MediaTrust::Network => {
            let mut options = ffmpeg::Dictionary::new();
            options.set("format_whitelist", NETWORK_DEMUXERS);
            options.set("protocol_whitelist", "file");
            let ictx = ffmpeg::format::input_with_dictionary(&path, options).map_err(DecodeError::OpenFromNetwork)?;
            // FFmpeg enforces the list when it picks the demuxer; check the pick as well.
            let name = ictx.format().name().to_string();
            if !name.split(',').any(|n| NETWORK_DEMUXERS.split(',').any(|a| a == n)) {
                return Err(DecodeError::RefusedFormat(name));
            }
            Ok(ictx)
        }
    }
}

pub(super) fn stream_info(
    ictx: &ffmpeg::format::context::Input,
    stream: &ffmpeg::format::stream::Stream,
    params: &ffmpeg::codec::Parameters,
) -> VideoInfo {
    let (width, height) = unsafe {
        // SAFETY: `params` wraps a valid AVCodecParameters owned by the open stream.
        let p = params.as_ptr();
        ((*p).width.max(0) as u32, (*p).height.max(0) as u32)
    };
    let tb = stream.time_base();
    let container = ictx.duration();
    let duration_s = if container > 0 {
        Some(container as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE))
    } else if stream.duration() > 0 {
        Some(seconds(stream.duration(), tb))
    } else {
        None
    };
    let rate = stream.avg_frame_rate();
    let source_fps = (rate.numerator() > 0 && rate.denominator() > 0).then(|| f64::from(rate));
    let rotation = stream
        .side_data()
        .find(|sd| sd.kind() == ffmpeg::codec::packet::side_data::Type::DisplayMatrix)
        .map(|sd| rotation_from_matrix(sd.data()))
        .unwrap_or(0);
    let has_audio = ictx.streams().best(ffmpeg::media::Type::Audio).is_some();
    let (container_tags, stream_tags) = (ictx.metadata(), stream.metadata());
    let tags: Vec<(&str, &str)> = container_tags.iter().chain(stream_tags.iter()).collect();
    let recorded_at_ms = super::recorded::recorded_at_ms(tags.iter().copied(), crate::clock::now_ms() as i64);
    VideoInfo { duration_s, width, height, source_fps, rotation, has_audio, recorded_at_ms }
}

/// The best video stream of an opened file, ready to decode: what the sampler and thumbnails
/// both start from.
pub(super) struct VideoStream {
    pub index: usize,
    pub time_base: ffmpeg::Rational,
    /// The stream's first timestamp (0 when the container gives none): times are measured from it.
    pub start_ts: i64,
    pub info: VideoInfo,
    /// A codec context from the stream's parameters (threading not yet set).
    pub codec: ffmpeg::codec::context::Context,
}

pub(super) fn video_stream(ictx: &ffmpeg::format::context::Input) -> Result<VideoStream, DecodeError> {
    let stream = ictx.streams().best(ffmpeg::media::Type::Video).ok_or(DecodeError::NoVideoStream)?;
    let start_ts = if stream.start_time() == ffmpeg::ffi::AV_NOPTS_VALUE { 0 } else { stream.start_time() };
    let params = stream.parameters();
    let info = stream_info(ictx, &stream, &params);
    let codec = ffmpeg::codec::context::Context::from_parameters(params).map_err(DecodeError::video_codec)?;
    Ok(VideoStream { index: stream.index(), time_base: stream.time_base(), start_ts, info, codec })
}

/// Reads the header only (the user's own file).
pub fn probe(path: &Path) -> Result<VideoInfo, DecodeError> {
    probe_as(path, MediaTrust::Local)
}

/// Reads the header only, opening the file as `trust` allows.
pub fn probe_as(path: &Path, trust: MediaTrust) -> Result<VideoInfo, DecodeError> {
    let ictx = open(path, trust)?;
    let stream = ictx.streams().best(ffmpeg::media::Type::Video).ok_or(DecodeError::NoVideoStream)?;
    let params = stream.parameters();
    Ok(stream_info(&ictx, &stream, &params))
}

pub(super) fn rotate(img: RgbImage, rotation: u32) -> RgbImage {
    let (w, h) = (img.width, img.height);
    match rotation {
        90 | 270 => {
            let mut out = vec![0u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    // 90 clockwise: (x, y) -> (h-1-y, x); 270: (x, y) -> (y, w-1-x).
                    let (nx, ny) = if rotation == 90 { (h - 1 - y, x) } else { (y, w - 1 - x) };
                    let src = (y * w + x) * 3;
                    let dst = (ny * h + nx) * 3;
                    out[dst..dst + 3].copy_from_slice(&img.data[src..src + 3]);
                }
            }
            RgbImage { width: h, height: w, data: out }
        }
        180 => {
            let mut data = img.data;
            let px: Vec<[u8; 3]> = data.chunks_exact(3).rev().map(|c| [c[0], c[1], c[2]]).collect();
            for (i, p) in px.iter().enumerate() {
                data[i * 3..i * 3 + 3].copy_from_slice(p);
            }
            RgbImage { width: w, height: h, data }
        }
        _ => img,
    }
}

/// Converts a kept frame: one swscale call straight to the model's scale, then rotation, crop
/// and normalisation on the small image.
struct Converter {
    scaler: Option<(scaling::Context, Pixel, u32, u32)>,
    size: usize,
    rotation: u32,
}

impl Converter {
    fn convert(&mut self, frame: &VideoFrame) -> Result<Vec<f32>, DecodeError> {
        let (fw, fh, fmt) = (frame.width(), frame.height(), frame.format());
        let (tw, th) = crate::model::preprocess::shortest_edge_size(fw as usize, fh as usize, self.size);
        // One scaler per frame format and size (they change mid-stream in some files).
        let scaler = match &mut self.scaler {
            Some((scaler, f, w, h)) if *f == fmt && *w == fw && *h == fh => scaler,
            slot => {
                let ctx =
                    scaling::Context::get(fmt, fw, fh, Pixel::RGB24, tw as u32, th as u32, scaling::Flags::BICUBIC)
                        .map_err(|source| DecodeError::PixelFormat { from: fmt, source })?;
                &mut slot.insert((ctx, fmt, fw, fh)).0
            }
        };
        let mut rgb = VideoFrame::empty();
        scaler.run(frame, &mut rgb).map_err(DecodeError::Scale)?;
        let stride = rgb.stride(0);
        let plane = rgb.data(0);
        let mut data = Vec::with_capacity(tw * th * 3);
        for y in 0..th {
            data.extend_from_slice(&plane[y * stride..y * stride + tw * 3]);
        }
        let img = RgbImage { width: tw, height: th, data };
        Ok(normalize_center_crop(&rotate(img, self.rotation), self.size))
    }
}

/// The hard cuts of a local file (`ingest::cuts`, µs) from one decode pass, no model: what
/// `chronoseek store cuts` gives videos stored before cuts were looked for. Frames are kept at
/// 1 fps, tiny, and dropped; converting them is a sliver of the decoding. `limits` are the
/// user's (`--max-video-seconds`, `--max-pixels`): a video ingested under raised limits is
/// read under them again.
pub fn find_cuts(path: &Path, limits: &SamplerOptions) -> Result<Vec<i64>, DecodeError> {
    Ok(sample_frames(path, &SamplerOptions { size: 8, ..limits.clone() }, |_| true)?.cuts_us)
}

/// Decodes `path` once and hands every kept frame to `on_frame`; returning `false` from it
/// stops decoding with [`DecodeError::Cancelled`].
pub fn sample_frames(
    path: &Path,
    opts: &SamplerOptions,
    mut on_frame: impl FnMut(SampledFrame) -> bool,
) -> Result<SampleStats, DecodeError> {
    let started = Instant::now();
    let mut ictx = open(path, opts.trust)?;
    let VideoStream { index, time_base: tb, start_ts, info, codec: mut ctx } = video_stream(&ictx)?;
    if info.width == 0 || info.height == 0 {
        return Err(DecodeError::NoFrameSize);
    }
    let check_size = |w: u32, h: u32| {
        if u64::from(w) * u64::from(h) > opts.max_pixels {
            Err(DecodeError::TooLarge { width: w, height: h, max_pixels: opts.max_pixels })
        } else {
            Ok(())
        }
    };
    check_size(info.width, info.height)?;
    if let Some(d) = info.duration_s
        && d > opts.max_duration_s
    {
        return Err(DecodeError::TooLong { duration_s: d, max_s: opts.max_duration_s });
    }
    let fps = opts.plan.fps_for(info.duration_s);
    let step = 1.0 / fps;
    let max_frames = (opts.max_duration_s * MAX_MEAN_FPS).ceil() as u64;

    // Frame threads as the ffmpeg tool sets them for "auto": one per core, plus one.
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) + 1;
    ctx.set_threading(threading::Config { count: threads, ..threading::Config::kind(threading::Type::Frame) });
    let mut decoder = ctx.decoder().video().map_err(DecodeError::video_codec)?;

    let mut conv = Converter { scaler: None, size: opts.size, rotation: info.rotation };
    let mut next_target = 0.0f64;
    let mut last_t = 0.0f64;
    let mut frames_decoded = 0u64;
    let mut frames_kept = 0u64;
    let mut frame = VideoFrame::empty();
    let frame_dur = info.source_fps.map(|f| 1.0 / f).unwrap_or(1.0 / 30.0);
    let mut synthetic_t = 0.0f64;
    let mut bad_packets = 0u32;
    let mut cuts = super::cuts::CutWatch::default();

    // Borrows the pass's state until its last call, after the final drain below.
    let check_time = || opts.deadline.as_ref().map_or(Ok(()), Deadline::check);
    let mut handle = |frame: &VideoFrame| -> Result<(), DecodeError> {
        // Embedding holds the decoder back when it is slower, so its time counts too.
        check_time()?;
        frames_decoded += 1;
        if frames_decoded > max_frames {
            return Err(DecodeError::TooManyFrames { max: max_frames });
        }
        check_size(frame.width(), frame.height())?;
        let t = match frame.timestamp().or(frame.pts()) {
            Some(ts) => seconds(ts - start_ts, tb).max(0.0),
            None => synthetic_t,
        };
        synthetic_t = t + frame_dur;
        // The header's duration was checked before decoding; a stream that states none, or
        // understates it, is held to the limit by its frames (a second's slack for rounding).
        if t > opts.max_duration_s + 1.0 {
            return Err(DecodeError::TooLong { duration_s: t, max_s: opts.max_duration_s });
        }
        last_t = last_t.max(t);
        cuts.observe((t * 1e6).round() as i64, frame);
        // Keep the first frame at or after each grid point (a millisecond of slack for
        // timestamps rounded by the container).
        if t + 0.001 >= next_target {
            let pixels = conv.convert(frame)?;
            frames_kept += 1;
            if !on_frame(SampledFrame { t_ms: (t * 1000.0).round() as i64, pixels }) {
                return Err(DecodeError::Cancelled);
            }
            while next_target <= t + 0.001 {
                next_target += step;
            }
        }
        Ok(())
    };

    let mut packet = ffmpeg::Packet::empty();
    loop {
        // Packets that yield no frame (other streams, undecodable data) cost time too.
        check_time()?;
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::InvalidData) => {
                bad_packets += 1;
                if bad_packets > 100 {
                    return Err(DecodeError::CorruptPackets);
                }
                continue;
            }
            Err(e) => return Err(DecodeError::Read(e)),
        }
        if packet.stream() != index {
            continue;
        }
        // A corrupt packet is skipped like the ffmpeg tool does; truncation is judged below.
        if decoder.send_packet(&packet).is_err() {
            bad_packets += 1;
            continue;
        }
        while decoder.receive_frame(&mut frame).is_ok() {
            handle(&frame)?;
        }
    }
    let _ = decoder.send_eof();
    while decoder.receive_frame(&mut frame).is_ok() {
        handle(&frame)?;
    }
    if frames_kept == 0 {
        return Err(DecodeError::NoFrames);
    }
    let decoded_end = last_t + frame_dur;
    if let Some(d) = info.duration_s {
        // The header promised more than the data holds: the file was cut short.
        if decoded_end + (0.1 * d).max(2.0) < d {
            return Err(DecodeError::EndsEarly { header_s: d, frames_end_s: decoded_end });
        }
    }
    let cuts_us = cuts.finish();
    tracing::debug!(cuts = cuts_us.len(), frames_decoded, "hard cuts found at frame precision");
    Ok(SampleStats {
        duration_s: info.duration_s.unwrap_or(decoded_end),
        info,
        fps,
        frames_decoded,
        frames_kept,
        decode_secs: started.elapsed().as_secs_f64(),
        cuts_us,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(deg: f64) -> Vec<u8> {
        // av_display_rotation_set(matrix, deg): a clockwise rotation by `deg`.
        let r = -deg.to_radians();
        let (c, s) = (r.cos(), r.sin());
        let fix = |v: f64| ((v * 65536.0).round() as i32).to_le_bytes();
        let vals = [fix(c), fix(-s), [0; 4], fix(s), fix(c), [0; 4], [0; 4], [0; 4], (1i32 << 30).to_le_bytes()];
        vals.concat()
    }

    #[test]
    fn display_matrix_rotation() {
        // ffprobe shows these as "rotation=-90" and "rotation=90" (counter-clockwise).
        assert_eq!(rotation_from_matrix(&matrix(90.0)), 90);
        assert_eq!(rotation_from_matrix(&matrix(-90.0)), 270);
        assert_eq!(rotation_from_matrix(&matrix(270.0)), 270);
        assert_eq!(rotation_from_matrix(&matrix(180.0)), 180);
        assert_eq!(rotation_from_matrix(&matrix(0.0)), 0);
        assert_eq!(rotation_from_matrix(&[0; 8]), 0);
    }

    #[test]
    fn rotate_moves_pixels_clockwise() {
        // 2x1 image: red, green. 90 clockwise -> 1x2: red on top, green below.
        let img = RgbImage { width: 2, height: 1, data: vec![255, 0, 0, 0, 255, 0] };
        let r = rotate(img.clone(), 90);
        assert_eq!((r.width, r.height), (1, 2));
        assert_eq!(r.data, vec![255, 0, 0, 0, 255, 0]);
        let r = rotate(img.clone(), 270);
        assert_eq!(r.data, vec![0, 255, 0, 255, 0, 0]);
        let r = rotate(img, 180);
        assert_eq!(r.data, vec![0, 255, 0, 255, 0, 0]);
    }
}
