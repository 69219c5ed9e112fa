//! ChronoSeek: semantic video moment retrieval for the ChronoSeek Bittensor subnet.
//!
//! Data flows one way: **fetch → fingerprint → decode → embed → store → score → segment →
//! answer**. See `ARCHITECTURE.md` for the map of modules and their invariants.

pub mod chain;
pub mod clock;
pub mod counters;
pub mod eval;
pub mod ffmpeg_tool;
pub mod fingerprint;
pub mod index;
pub mod ingest;
pub mod library;
pub use chronoseek_model as model;
pub mod progress;
pub mod protocol;
pub mod query;
pub mod server;
pub mod synth;
pub mod tasks;
pub mod validator;

pub use counters::{CounterSnapshot, Counters};
