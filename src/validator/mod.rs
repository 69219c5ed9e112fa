//! The validator: tasks, video availability, the signed miner client, scoring, moving scores,
//! persisted state, and the loop that evaluates miners and sets weights every tempo. Remixed
//! tasks (`remix.rs` plans and renders, `sources.rs` caches the videos they are cut from,
//! `remixer.rs` makes one per step, `media.rs` serves it under a token) replace dataset tasks a
//! miner could look up.

pub mod availability;
pub mod client;
pub mod media;
pub mod remix;
pub mod remixer;
pub mod run;
pub mod scores;
pub mod scoring;
pub mod sources;
pub mod state;
pub mod view;

/// Tasks live below both the validator and `eval` (which scores the miner offline on them).
pub use crate::tasks;
