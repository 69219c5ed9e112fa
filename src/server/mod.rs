//! HTTP servers: the miner (`/search`, `/health`, `/metrics`).

pub mod metrics;
pub mod miner;
