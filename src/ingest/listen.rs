//! Listening to a video once, at ingest: its audio stream decoded to 16 kHz mono, transcribed
//! by Whisper into timed segments, each segment's text embedded by the same CLIP text tower that
//! embeds queries. The result is a [`Transcript`] the store keeps beside the frames, so a search
//! scores what is said with one dot product per segment and never hears the video again.

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;

use super::audio::{AudioOptions, stream_audio};
use super::{DecodeError, Fingerprint};
use crate::counters::Counters;
use crate::index::{Heard, SpokenSegment, Transcript};
use crate::model::whisper::Transcriber;
use crate::model::{ClipEmbedder, ModelError};

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("audio: {0}")]
    Decode(#[from] DecodeError),
    #[error("speech model: {0}")]
    Model(#[from] ModelError),
}

/// A transcript and how much audio it came from.
#[derive(Debug, Clone)]
pub struct Listened {
    pub transcript: Transcript,
    /// Seconds of audio decoded (0 without an audio stream).
    pub audio_secs: f64,
}

/// The speech model an ingestor listens with: one per process, behind a lock (decoding keeps
/// per-window state; on CPU one transcription already uses every core).
pub struct Listener {
    transcriber: Mutex<Transcriber>,
    name: String,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").field("name", &self.name).finish()
    }
}

impl Listener {
    /// `name` is stored with every transcript (the model's display name).
    pub fn new(transcriber: Transcriber, name: impl Into<String>) -> Arc<Self> {
        Arc::new(Self { transcriber: Mutex::new(transcriber), name: name.into() })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Listens to `path` (blocking: call from a blocking thread). Segments are embedded with
    /// `clip`'s text tower; the transcript is keyed to `clip`'s model key.
    pub fn listen(
        &self,
        path: &Path,
        audio: AudioOptions,
        fingerprint: Fingerprint,
        clip: &ClipEmbedder,
        counters: &Counters,
    ) -> Result<Listened, ListenError> {
        let _span = tracing::info_span!("listen", model = %self.name).entered();
        let started = std::time::Instant::now();
        // The decoder runs on its own thread and hands chunks over a bounded channel, so at
        // most one 30-s window plus the channel's few chunks are in memory, however long the
        // track.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<f32>>(64);
        let (decoded, transcribed) = std::thread::scope(|scope| {
            let decoder = scope.spawn(move || stream_audio(path, audio, |chunk| tx.send(chunk.to_vec()).is_ok()));
            let transcribed = {
                let mut t = self.transcriber.lock();
                let (windows, tokens) = (t.windows, t.tokens);
                let segments = t.transcribe_stream(|| rx.recv().ok());
                Counters::add(&counters.whisper_windows, t.windows - windows);
                Counters::add(&counters.whisper_tokens, t.tokens - tokens);
                segments.map(|s| (s, t.last_language()))
            };
            // A failed transcription stops the decoder at its next chunk.
            drop(rx);
            (decoder.join(), transcribed)
        });
        let decoded = decoded.map_err(|_| DecodeError::DecoderPanicked)??;
        let (segments, language) = transcribed?;
        let audio_secs = decoded.map_or(0.0, |i| i.samples as f64 / f64::from(super::audio::AUDIO_RATE));
        let heard = match decoded {
            None => Heard::NoAudioStream,
            Some(_) => {
                Counters::inc(&counters.audio_decodes);
                let texts: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
                let embeddings = if texts.is_empty() { Vec::new() } else { clip.embed_texts(&texts)? };
                Counters::add(&counters.segment_embeddings, texts.len() as u64);
                let segments = segments
                    .iter()
                    .zip(embeddings)
                    .map(|(s, embedding)| SpokenSegment {
                        start_ms: (s.start * 1000.0).round() as i64,
                        end_ms: (s.end * 1000.0).round() as i64,
                        text: s.text.clone(),
                        embedding,
                    })
                    .collect();
                tracing::info!(seconds = audio_secs, secs = started.elapsed().as_secs_f64(), "transcribed");
                Heard::Speech { language, segments }
            }
        };
        let transcript = Transcript {
            fingerprint,
            model_key: clip.key().to_string(),
            transcript_id: super::unique_id(),
            audio_model: self.name.clone(),
            heard,
            created_at_ms: crate::index::timestamp_now_ms(),
        };
        Ok(Listened { transcript, audio_secs })
    }
}
