//! The validator: tasks, video availability, the signed miner client, scoring, moving scores,
//! persisted state, and the loop that evaluates miners and sets weights every tempo.

pub mod availability;
pub mod client;
pub mod run;
pub mod scores;
pub mod scoring;
pub mod state;
pub mod view;

/// Tasks live below both the validator and `eval` (which scores the miner offline on them).
pub use crate::tasks;
