//! `--audio` / `--audio-model` (what ingest listens with) and `chronoseek transcript`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde_json::json;

use chronoseek::index::{Heard, SpokenSegment};
use chronoseek::ingest::Listener;
use chronoseek::library::subtitles::{self, SubtitleFormat};
use chronoseek::model::whisper::{DEFAULT_WHISPER_ID, Transcriber};
use chronoseek::model::{DeviceSpec, Download, ModelSource};
use chronoseek::protocol::ErrorCode;

use super::global::GlobalOpts;
use super::{CliError, build_engine, output::Output};

/// Whether videos are listened to at ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AudioMode {
    /// Listen; the speech model is downloaded if needed, and failing to load it is an error.
    On,
    /// Never listen (visual only).
    Off,
    /// Listen when the speech model is a local directory or already in the Hugging Face
    /// cache (never downloads); otherwise visual only, said once at start.
    Auto,
}

/// What new videos are listened to with.
#[derive(Debug, Clone, Args)]
pub struct AudioOpts {
    /// Transcribe each new video's speech once at ingest (Whisper, 30-s windows with
    /// timestamps) and store it; searches then raise the frames where words like the query's
    /// are said (the reference's fusion: v + 0.25·max(0, a − v)). A video without an audio
    /// stream is stored as such. `ingest` with audio on also adds a transcript to stored videos
    /// that have none, without re-embedding their frames.
    #[arg(long, env = "CHRONOSEEK_AUDIO", value_enum, default_value_t = AudioMode::Auto, value_name = "MODE")]
    pub audio: AudioMode,

    /// Speech model: a Hugging Face hub id (optionally id@revision) or a local directory with
    /// config.json, model.safetensors and a vocabulary (vocab.json, multilingual.tiktoken or
    /// gpt2.tiktoken); mel_filters.npz is used when present.
    #[arg(long, env = "CHRONOSEEK_AUDIO_MODEL", default_value = DEFAULT_WHISPER_ID, value_name = "ID|DIR")]
    pub audio_model: String,
}

impl AudioOpts {
    /// The speech model to listen with, or `None` for visual only.
    pub async fn listener(&self, device: DeviceSpec) -> Result<Option<Arc<Listener>>, CliError> {
        let source = ModelSource::from_flags(Some(&self.audio_model), None);
        let download = match self.audio {
            AudioMode::Off => return Ok(None),
            AudioMode::On => Download::Allowed,
            AudioMode::Auto => Download::Never,
        };
        match Transcriber::load(&source, device, download).await {
            Ok(t) => {
                tracing::info!(model = %source.display_name(), "listening to new videos");
                Ok(Some(Listener::new(t, source.display_name())))
            }
            Err(e) if self.audio == AudioMode::Auto => {
                tracing::info!(model = %source.display_name(), reason = %e,
                    "audio off: the speech model is not available locally (--audio on downloads it)");
                Ok(None)
            }
            Err(e) => Err(CliError::new(
                ErrorCode::InferenceFailed,
                format!("--audio on: the speech model {} cannot be loaded: {e}", source.display_name()),
            )),
        }
    }
}

#[derive(Debug, Args)]
pub struct TranscriptArgs {
    /// A stored video: its fingerprint, or a path or URL whose content is stored.
    #[arg(value_name = "VIDEO")]
    pub video: String,

    /// What to print or write: `text` (a line per segment), or subtitles: `srt` (SubRip, what
    /// players pick up beside a video file) or `vtt` (WebVTT, for browsers). Default: by the
    /// extension of --output, else text.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<TranscriptFormat>,

    /// Write the transcript to this file instead of the terminal (`talk.srt` next to
    /// `talk.mp4` and players show it as subtitles). Written whole or not at all.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Replace --output if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
}

/// `chronoseek transcript --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TranscriptFormat {
    Text,
    Srt,
    Vtt,
}

impl TranscriptFormat {
    fn subtitles(self) -> Option<SubtitleFormat> {
        match self {
            Self::Text => None,
            Self::Srt => Some(SubtitleFormat::Srt),
            Self::Vtt => Some(SubtitleFormat::WebVtt),
        }
    }
}

/// `chronoseek transcript`: the stored segments of one video.
pub async fn run(g: &GlobalOpts, args: TranscriptArgs, out: &Output) -> Result<(), CliError> {
    let format = args
        .format
        .or_else(|| {
            let f = SubtitleFormat::from_path(args.output.as_deref()?)?;
            Some(if f == SubtitleFormat::Srt { TranscriptFormat::Srt } else { TranscriptFormat::Vtt })
        })
        .unwrap_or(TranscriptFormat::Text);
    if format != TranscriptFormat::Text && args.output.is_none() && out.json {
        return Err(CliError::new(
            ErrorCode::InvalidRequest,
            "--json with subtitles on standard output: write them with --output FILE",
        ));
    }
    let engine = build_engine(g, None).await?;
    let record = super::stored_video(&engine, &args.video).await?;
    let fp = record.fingerprint;
    let transcript = engine.store().transcript(&record).await?;
    let Some(t) = transcript else {
        if format != TranscriptFormat::Text {
            return Err(CliError::new(
                ErrorCode::InvalidRequest,
                format!(
                    "{fp}: nobody has listened to this video, so there are no subtitles (ingest it with --audio on)"
                ),
            ));
        }
        out.say(format!("{fp}: nobody has listened to this video (ingest it with --audio on)"));
        out.json_line(&json!({"fingerprint": fp.to_hex(), "status": "not_listened", "segments": []}));
        return Ok(());
    };
    let document = match format.subtitles() {
        Some(f) => subtitles::render(t.segments(), f),
        None => text_lines(t.segments()),
    };
    if format != TranscriptFormat::Text && t.segments().is_empty() {
        tracing::warn!(fingerprint = %fp, "nothing was heard in this video: the subtitles have no cues");
    }
    if let Some(path) = &args.output {
        let mut tmp = super::output_temp(path)?;
        tmp.write_all(document.as_bytes())
            .map_err(|e| CliError::new(ErrorCode::InvalidRequest, format!("cannot write {}: {e}", path.display())))?;
        super::persist_output(tmp, path, args.force)?;
    } else if format != TranscriptFormat::Text {
        out.document(&document);
        return Ok(());
    }
    let (status, language) = match &t.heard {
        Heard::NoAudioStream => ("no_audio_stream", None),
        Heard::Speech { language, .. } => ("speech", language.clone()),
    };
    let segments: Vec<_> = t
        .segments()
        .iter()
        .map(|s| json!({"start": s.start_ms as f64 / 1000.0, "end": s.end_ms as f64 / 1000.0, "text": s.text}))
        .collect();
    let written = args.output.as_ref().map(|p| p.display().to_string());
    out.json_line(&json!({"fingerprint": fp.to_hex(), "status": status, "audio_model": t.audio_model,
        "language": language, "segments": segments, "written": written}));
    match &t.heard {
        Heard::NoAudioStream => out.say(format!("{fp}: the file has no audio stream")),
        Heard::Speech { segments, .. } if segments.is_empty() => {
            out.say(format!("{fp}: listened to by {}, no speech found", t.audio_model))
        }
        Heard::Speech { segments, language } => {
            out.say(format!(
                "{fp}: {} segments ({}, language {})",
                segments.len(),
                t.audio_model,
                language.as_deref().unwrap_or("-")
            ));
            if args.output.is_none() {
                out.say(document.trim_end());
            }
        }
    }
    if let Some(path) = &args.output {
        out.say(format!("wrote {}", path.display()));
    }
    Ok(())
}

/// One line per segment: `[   12.00s →    14.50s] text`.
fn text_lines(segments: &[SpokenSegment]) -> String {
    segments
        .iter()
        .map(|s| format!("[{:>8.2}s → {:>8.2}s] {}\n", s.start_ms as f64 / 1000.0, s.end_ms as f64 / 1000.0, s.text))
        .collect()
}
