//! A video's sound as Whisper hears it: the best audio stream decoded with FFmpeg and resampled
//! (libswresample) to 16 kHz mono f32. Any channel layout is downmixed (a stream that does not
//! say its layout gets FFmpeg's default for its channel count), any rate resampled. A file with
//! no audio stream has no audio (`Ok(None)`), which is not an error: most of a visual library is
//! silent. The samples cover the audio stream as it is, whether it is shorter or longer than the
//! picture, up to the video's duration limit: past it the track is refused (`TooLong`), and the
//! ingest stores the picture without a transcript.

use std::path::Path;

use ffmpeg::software::resampling;
use ffmpeg::util::format::sample::{Sample, Type as SampleType};
use ffmpeg::{ChannelLayout, frame::Audio as AudioFrame};

use ffmpeg_next as ffmpeg;

use super::sampler::{DecodeError, MediaTrust, open};

/// The rate Whisper listens at.
pub const AUDIO_RATE: u32 = 16_000;

/// A decoded audio stream.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// 16 kHz mono, in [-1, 1].
    pub samples: Vec<f32>,
    /// What the stream was before resampling.
    pub source_rate: u32,
    pub source_channels: u16,
}

impl DecodedAudio {
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(AUDIO_RATE)
    }
}

/// Whose audio this is and how long it may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioOptions {
    pub trust: MediaTrust,
    /// Longest track accepted, in seconds (a second's slack for rounding): the video's own
    /// limit (`SamplerOptions::max_duration_s`). A file of a second of picture can carry a
    /// track of thousands of hours of silence in a few hundred megabytes, which a speech model
    /// would otherwise listen to window by window.
    pub max_seconds: f64,
    /// When listening must stop ([`DecodeError::OutOfTime`]): the miner's per-video budget,
    /// counted afresh for the sound. The speech model holds the decoder back when it is
    /// slower, so its time counts too.
    pub deadline: Option<super::Deadline>,
}

impl Default for AudioOptions {
    fn default() -> Self {
        Self { trust: MediaTrust::Local, max_seconds: super::SamplerOptions::default().max_duration_s, deadline: None }
    }
}

/// Decodes the best audio stream of `path` to 16 kHz mono; `None` when it has none.
pub fn decode_audio(path: &Path, opts: AudioOptions) -> Result<Option<DecodedAudio>, DecodeError> {
    let mut samples = Vec::new();
    let info = stream_audio(path, opts, |chunk| {
        samples.extend_from_slice(chunk);
        true
    })?;
    Ok(info.map(|i| DecodedAudio { samples, source_rate: i.source_rate, source_channels: i.source_channels }))
}

/// What [`stream_audio`] decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioStreamInfo {
    pub source_rate: u32,
    pub source_channels: u16,
    /// 16-kHz samples handed to the sink.
    pub samples: u64,
}

/// Decodes the best audio stream of `path` to 16 kHz mono, handing the samples to `sink` as
/// they come (a few milliseconds at a time) instead of holding the whole track: a 4-hour
/// track is 230 million samples. `sink` returns false to stop early. `None` when the file has
/// no audio stream (the sink is never called). A track longer than `opts.max_seconds` stops
/// with [`DecodeError::TooLong`] once that much has been handed over.
pub fn stream_audio(
    path: &Path,
    opts: AudioOptions,
    mut sink: impl FnMut(&[f32]) -> bool,
) -> Result<Option<AudioStreamInfo>, DecodeError> {
    let mut ictx = open(path, opts.trust)?;
    let Some(stream) = ictx.streams().best(ffmpeg::media::Type::Audio) else {
        return Ok(None);
    };
    let index = stream.index();
    let context =
        ffmpeg::codec::context::Context::from_parameters(stream.parameters()).map_err(DecodeError::audio_codec)?;
    let mut decoder = context.decoder().audio().map_err(DecodeError::audio_codec)?;
    let mut out = Output { resampler: None, samples: Vec::new(), source_rate: 0, source_channels: 0 };
    let mut handed = 0u64;
    let max_samples = ((opts.max_seconds + 1.0) * f64::from(AUDIO_RATE)) as u64;
    let check_time = || opts.deadline.as_ref().map_or(Ok(()), super::Deadline::check);
    let mut hand = |out: &mut Output| -> Result<bool, DecodeError> {
        check_time()?;
        handed += out.samples.len() as u64;
        if handed > max_samples {
            let duration_s = handed as f64 / f64::from(AUDIO_RATE);
            return Err(DecodeError::TooLong { duration_s, max_s: opts.max_seconds });
        }
        let more = out.samples.is_empty() || sink(&out.samples);
        out.samples.clear();
        Ok(more)
    };
    let mut frame = AudioFrame::empty();
    let mut stopped = false;
    'packets: for (s, packet) in ictx.packets() {
        // Packets of other streams cost time too.
        check_time()?;
        if s.index() != index {
            continue;
        }
        // A damaged packet loses its few milliseconds, not the transcript.
        if decoder.send_packet(&packet).is_err() {
            continue;
        }
        while decoder.receive_frame(&mut frame).is_ok() {
            out.push(&mut frame)?;
            if !hand(&mut out)? {
                stopped = true;
                break 'packets;
            }
        }
    }
    if !stopped {
        let _ = decoder.send_eof();
        while decoder.receive_frame(&mut frame).is_ok() {
            out.push(&mut frame)?;
        }
        out.flush()?;
        hand(&mut out)?;
    }
    Ok(Some(AudioStreamInfo { source_rate: out.source_rate, source_channels: out.source_channels, samples: handed }))
}

struct Output {
    resampler: Option<resampling::Context>,
    samples: Vec<f32>,
    source_rate: u32,
    source_channels: u16,
}

impl Output {
    fn push(&mut self, frame: &mut AudioFrame) -> Result<(), DecodeError> {
        if frame.samples() == 0 {
            return Ok(());
        }
        let channels = frame.channels().max(1);
        let mut layout = frame.channel_layout();
        if layout.is_empty() || layout.channels() != i32::from(channels) {
            layout = ChannelLayout::default(i32::from(channels));
            frame.set_channel_layout(layout);
        }
        if self.resampler.is_none() {
            self.source_rate = frame.rate();
            self.source_channels = channels;
            self.resampler = Some(
                resampling::Context::get(
                    frame.format(),
                    layout,
                    frame.rate(),
                    Sample::F32(SampleType::Packed),
                    ChannelLayout::MONO,
                    AUDIO_RATE,
                )
                .map_err(DecodeError::Resample)?,
            );
        }
        let Some(resampler) = self.resampler.as_mut() else { return Ok(()) };
        // SAFETY: `frame` is a decoded frame whose extended_data holds `samples()` samples per
        // channel in the format and layout the context was made for.
        let input = unsafe { (*frame.as_ptr()).extended_data as *mut *const u8 };
        convert(resampler, &mut self.samples, input, frame.samples())
    }

    /// The samples the resampler still holds.
    fn flush(&mut self) -> Result<(), DecodeError> {
        let Some(resampler) = self.resampler.as_mut() else { return Ok(()) };
        convert(resampler, &mut self.samples, std::ptr::null_mut(), 0)
    }
}

/// `swr_convert` into `samples` (mono f32). The frame API (`swr_convert_frame`) is not used: on
/// FFmpeg 5.1, ffmpeg-next sets only the deprecated channel-layout field of the frames it
/// allocates, which the new API reads as "output changed".
fn convert(
    resampler: &mut resampling::Context,
    samples: &mut Vec<f32>,
    input: *mut *const u8,
    in_count: usize,
) -> Result<(), DecodeError> {
    // SAFETY: the pointer is used only while `resampler` is borrowed here.
    let ctx = unsafe { resampler.as_mut_ptr() };
    let in_count = i32::try_from(in_count).map_err(|_| DecodeError::AudioFrameTooLarge(in_count))?;
    loop {
        // SAFETY: `ctx` is a configured resampler; the output buffer holds `room` mono f32
        // samples, the most swr_get_out_samples says this call can write.
        let room = unsafe { ffmpeg::ffi::swr_get_out_samples(ctx, in_count) }.max(256);
        let start = samples.len();
        samples.resize(start + room as usize, 0.0);
        let mut out = samples[start..].as_mut_ptr() as *mut u8;
        let input_now = if in_count > 0 { input } else { std::ptr::null_mut() };
        // SAFETY: as above; `input_now` is the frame's planes (or null to flush).
        let written = unsafe { ffmpeg::ffi::swr_convert(ctx, &mut out, room, input_now, in_count) };
        if written < 0 {
            samples.truncate(start);
            return Err(DecodeError::Resample(ffmpeg::Error::from(written)));
        }
        samples.truncate(start + written as usize);
        // Converting: one call takes the frame. Flushing: until nothing comes out.
        if in_count > 0 || written == 0 {
            return Ok(());
        }
    }
}
