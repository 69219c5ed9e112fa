//! Turning a path or URL into stored frame embeddings: fetch (with limits and a source cache),
//! blake3 fingerprint, ffmpeg frame sampling, batched embedding, and the single-flight pipeline.

pub mod audio;
pub mod cuts;
mod dedup;
pub mod discover;
mod fetch;
pub mod listen;
mod pipeline;
mod plan;
pub mod platform;
pub mod recorded;
mod sampler;
pub mod ssrf;
pub mod thumbnail;

pub use crate::fingerprint::{Fingerprint, HashingWriter};
pub use dedup::{DedupSetting, NearDuplicate};
pub(crate) use fetch::hash_file;
pub use fetch::{
    FetchError, FetchOptions, Fetcher, InvalidUrl, LocalVideo, NetworkFailure, VideoInput, VideoSource, file_validator,
};
pub use listen::{ListenError, Listened, Listener};
pub use pipeline::{IngestError, IngestOptions, IngestOutcome, IngestStats, Ingestor, TranscriptOutcome, unique_id};
pub use plan::SamplingPlan;
pub use sampler::{
    Deadline, DecodeError, Media, MediaTrust, NETWORK_DEMUXERS, SampleStats, SampledFrame, SamplerOptions, VideoInfo,
    find_cuts, probe, probe_as, sample_frames,
};
