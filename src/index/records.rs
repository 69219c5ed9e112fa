//! Plain Rust views of the store's rows.

use crate::fingerprint::Fingerprint;

/// A video whose embeddings are complete for one model. Only complete videos exist as records:
/// the row is written last, after its frames, and is the marker that makes the video searchable.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoRecord {
    pub fingerprint: Fingerprint,
    pub model_key: String,
    /// Ties the record to the exact frames row it was written with, so rows left behind by an
    /// interrupted earlier ingest are never read.
    pub ingest_id: String,
    pub duration_s: f64,
    pub source_fps: Option<f64>,
    pub width: u32,
    pub height: u32,
    pub frame_count: u32,
    /// The sampling plan, e.g. `fixed:1` or `adaptive`.
    pub sampling: String,
    /// The first path or URL the video was ingested from (informational).
    pub source: String,
    pub created_at_ms: i64,
    /// The transcript this record vouches for (`None`: nobody listened to the video for this
    /// record: ingested with audio off, or before transcripts existed).
    pub transcript_id: Option<String>,
    /// When the video was recorded (ms since the Unix epoch, UTC), from its container's tags
    /// (`ingest::recorded`); `None` when it says nothing plausible, or was stored before dates
    /// were read.
    pub recorded_at_ms: Option<i64>,
}

/// The per-frame embeddings of one video: `timestamps_ms[i]` is the time of row `i` of the
/// row-major `len x dim` matrix `data`. Rows are L2-normalised.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FrameMatrix {
    pub dim: usize,
    pub timestamps_ms: Vec<i64>,
    pub data: Vec<f32>,
    /// Hard cuts found at frame precision while decoding (`ingest::cuts`): when each new shot's
    /// first frame is shown, in µs (frames of 29.97 fps fall between milliseconds), increasing. `None` when the video was stored before cuts
    /// were looked for (`chronoseek store cuts` finds them from its file); with none known, shot
    /// boundaries lie midway between samples.
    pub cuts_us: Option<Vec<i64>>,
}

impl FrameMatrix {
    pub fn new(dim: usize) -> Self {
        Self { dim, timestamps_ms: Vec::new(), data: Vec::new(), cuts_us: None }
    }
    pub fn len(&self) -> usize {
        self.timestamps_ms.len()
    }
    pub fn is_empty(&self) -> bool {
        self.timestamps_ms.is_empty()
    }
    pub fn push(&mut self, t_ms: i64, embedding: &[f32]) {
        debug_assert_eq!(embedding.len(), self.dim);
        self.timestamps_ms.push(t_ms);
        self.data.extend_from_slice(embedding);
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
    /// Timestamps in seconds.
    pub fn times_s(&self) -> Vec<f64> {
        self.timestamps_ms.iter().map(|&t| t as f64 / 1000.0).collect()
    }
}

/// What listening to one video found, with each spoken segment's text embedded by the CLIP
/// model of `model_key` (so a query is scored against it with one dot product).
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub fingerprint: Fingerprint,
    /// The CLIP model whose text tower embedded the segments.
    pub model_key: String,
    pub transcript_id: String,
    /// The speech model that listened (its display name).
    pub audio_model: String,
    pub heard: Heard,
    pub created_at_ms: i64,
}

/// A video's audio, as far as the speech model is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// The file has no audio stream: nothing to listen to, and nothing to retry.
    NoAudioStream,
    /// Speech segments in time order (none: silence, music, or nothing the model understood).
    Speech { language: Option<String>, segments: Vec<SpokenSegment> },
}

impl Transcript {
    /// The spoken segments (none when there is no audio stream).
    pub fn segments(&self) -> &[SpokenSegment] {
        match &self.heard {
            Heard::NoAudioStream => &[],
            Heard::Speech { segments, .. } => segments,
        }
    }
}

/// One stretch of speech: `[start_ms, end_ms)` from the start of the video.
#[derive(Debug, Clone, PartialEq)]
pub struct SpokenSegment {
    pub start_ms: i64,
    pub end_ms: i64,
    pub text: String,
    /// L2-normalised CLIP text embedding of `text`.
    pub embedding: Vec<f32>,
}
