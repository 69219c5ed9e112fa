//! Answering queries: the text-embedding cache, the similarity timeline, segment proposal, the
//! result cache, and [`Engine::search`].

pub mod audio_fusion;
pub mod curve;
mod engine;
pub mod frame_cache;
mod result_cache;
pub mod segment;
pub mod text_cache;
pub mod timeline;

pub use curve::{CURVE_BINS, Curve};
pub use engine::{
    Engine, EngineOptions, MAX_QUERY_CHARS, ScoredTimeline, SearchAnswer, SearchError, Speech, StageTimings,
};
pub use segment::{Segment, SegmenterKind, Timeline};
