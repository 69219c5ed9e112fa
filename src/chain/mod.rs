//! The chain: who is on the subnet, their stakes and axons.
//!
//! Everything else depends only on the [`Chain`] trait. This build has the file-backed local
//! chain (the embedded default for development and tests); the subtensor implementation over
//! subxt plugs in behind the same trait.

mod local;
mod metagraph;
pub mod wallet;

pub use local::LocalChain;
pub use metagraph::{Axon, Metagraph, Neuron};

use futures::future::BoxFuture;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("metagraph file {path}: {message}")]
    File { path: String, message: String },
    #[error("chain: {0}")]
    Other(String),
}

/// Read access to the chain state a miner needs.
pub trait Chain: Send + Sync {
    /// The current metagraph of the configured subnet.
    fn metagraph(&self) -> BoxFuture<'_, Result<Metagraph, ChainError>>;
}
