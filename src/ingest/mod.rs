//! Turning a path or URL into stored frame embeddings: fetch (with limits and a source cache),
//! blake3 fingerprint, ffmpeg frame sampling, batched embedding, and the single-flight pipeline.

mod fetch;
mod fingerprint;
mod pipeline;
mod plan;
pub mod platform;
mod sampler;
pub mod ssrf;

pub use fetch::{FetchError, FetchOptions, Fetcher, LocalVideo, VideoSource};
pub use fingerprint::{Fingerprint, HashingWriter};
pub use pipeline::{IngestError, IngestOptions, IngestOutcome, IngestStats, Ingestor, unique_id};
pub use plan::SamplingPlan;
pub use sampler::{DecodeError, SampleStats, SampledFrame, SamplerOptions, VideoInfo, probe, sample_frames};
