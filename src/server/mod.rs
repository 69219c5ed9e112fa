//! HTTP servers: the miner (`/search`, `/health`, `/metrics`) and the validator's gateway
//! (`/health`, `/capabilities`, `/search`, `/search/stream`).

pub mod gateway;
pub mod metrics;
pub mod miner;
