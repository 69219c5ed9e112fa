//! The chain: who is on the subnet (hotkeys, stakes, axons), the block clock, and the two
//! writes a subnet process makes (a validator's weights, a miner's axon).
//!
//! Everything else depends only on the [`Chain`] trait. Two implementations:
//! - [`LocalChain`], a metagraph JSON file with a wall-clock block counter and an append-only
//!   weights log: the embedded default for development and tests, a whole subnet on one machine;
//! - [`Subtensor`], the real node over subxt (`NETWORK=finney|test|local|ws://…`).

pub mod commit_reveal;
mod local;
mod metagraph;
mod network;
pub mod subtensor;
pub mod wallet;
pub mod weights;

pub use commit_reveal::{CommitError, PendingCommit, PreparedCommit};
pub use local::{CommitStatus, DevCommitReveal, LocalChain, LocalChainFile, LoggedCommit, WeightsLogEntry};
pub use metagraph::{Axon, Metagraph, Neuron};
pub use network::{Network, NetworkError, default_chain_file};
pub use subtensor::Subtensor;
pub use weights::{U16Weights, WeightError, to_u16_weights};

use std::net::IpAddr;

use crate::protocol::Sr25519Key;
use futures::future::BoxFuture;

/// Any error a lower library reported (subxt's several error types, I/O, JSON), kept as the
/// source of a [`ChainError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("local chain file {path}: {source}")]
    File {
        path: String,
        #[source]
        source: BoxError,
    },
    #[error("local chain file {path} does not exist (create it with `chronoseek chain init-local`)")]
    NoChainFile { path: String },
    #[error("cannot reach the chain at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: BoxError,
    },
    #[error("chain RPC: {0}")]
    Rpc(#[source] BoxError),
    #[error("could not submit the transaction: {0}")]
    Submit(#[source] BoxError),
    /// The node's transaction pool said no (`Invalid`, `Dropped` or `Error`, with its message).
    #[error("transaction rejected by the pool: {0}")]
    Rejected(String),
    #[error("transaction status stream ended before inclusion")]
    StreamEnded,
    /// The node's runtime has a storage item, call or type this build cannot read or encode:
    /// the source is what the metadata check found, or the SCALE codec's own error.
    #[error("{item}: {source}")]
    Shape {
        item: String,
        #[source]
        source: BoxError,
    },
    /// The runtime refused an extrinsic; `error` is the pallet error's name.
    #[error("the chain refused the extrinsic: {pallet}::{error}{}", if .docs.is_empty() { String::new() } else { format!(" ({})", .docs) })]
    Dispatch { pallet: String, error: String, docs: String },
    #[error("hotkey {hotkey} is not registered on subnet {netuid}")]
    NotRegistered { hotkey: String, netuid: u16 },
    /// The chain has no subnet with this netuid (`NetworksAdded` is false).
    #[error("subnet {netuid} does not exist on this chain (check --netuid / NETUID)")]
    NoSuchSubnet { netuid: u16 },
    #[error("hotkey {hotkey} has no validator permit on subnet {netuid}: weights cannot be set")]
    NoValidatorPermit { hotkey: String, netuid: u16 },
    #[error(transparent)]
    BadNetwork(#[from] NetworkError),
    #[error("subnet {netuid} has commit-reveal weights enabled: weights must be committed, not set")]
    CommitRevealEnabled { netuid: u16 },
    #[error("subnet {netuid} has commit-reveal weights disabled: set weights instead of committing them")]
    CommitRevealDisabled { netuid: u16 },
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error(transparent)]
    Weights(#[from] WeightError),
}

impl ChainError {
    /// Refusals that retrying cannot fix: only the operator can (register, pick the right
    /// subnet, earn a permit, switch to commit-reveal).
    pub fn needs_operator(&self) -> bool {
        matches!(
            self,
            Self::NotRegistered { .. }
                | Self::NoSuchSubnet { .. }
                | Self::NoValidatorPermit { .. }
                | Self::CommitRevealEnabled { .. }
                | Self::CommitRevealDisabled { .. }
                | Self::Commit(CommitError::TooLarge { .. } | CommitError::Version { .. })
        )
    }

    /// The chain could not be reached or answered with a transport error.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Connect { .. } | Self::Rpc(_) | Self::Submit(_) | Self::Rejected(_) | Self::StreamEnded)
    }
}

/// Connects to subtensor or opens the dev chain's file, checking that the subnet exists.
pub async fn open(network: &Network, netuid: u16) -> Result<std::sync::Arc<dyn Chain>, ChainError> {
    match network {
        Network::Subtensor { url } => Ok(std::sync::Arc::new(Subtensor::connect(url, netuid).await?)),
        Network::File(path) => {
            let chain = LocalChain::new(path);
            let file = chain.load().map_err(|e| match e {
                ChainError::File { path, source }
                    if source
                        .downcast_ref::<std::io::Error>()
                        .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
                {
                    ChainError::NoChainFile { path }
                }
                other => other,
            })?;
            if file.metagraph.netuid != netuid {
                return Err(ChainError::NoSuchSubnet { netuid });
            }
            Ok(std::sync::Arc::new(chain))
        }
    }
}

/// What a `set_weights` call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeightsOutcome {
    /// Included in a block (the block number, and the u16 vectors sent).
    Set { block: u64, weights: U16Weights },
    /// Committed as a timelocked commit (block of inclusion); the chain applies the weights at
    /// `reveal_block`, once drand round `reveal_round` is on chain.
    Committed { block: u64, reveal_round: u64, reveal_block: u64, payload_sha256: String, weights: U16Weights },
    /// Every weight was 0: like the Python SDK, nothing is sent.
    NothingToSet,
}

/// What a `serve_axon` call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeOutcome {
    Served,
    /// The chain already holds this ip and port: no extrinsic sent.
    Unchanged,
}

/// One subnet on one chain. Methods that write take the hotkey that signs.
pub trait Chain: Send + Sync {
    fn netuid(&self) -> u16;
    /// The current metagraph of the subnet.
    fn metagraph(&self) -> BoxFuture<'_, Result<Metagraph, ChainError>>;
    /// The current block number.
    fn current_block(&self) -> BoxFuture<'_, Result<u64, ChainError>>;
    /// The subnet's tempo in blocks (weights are set once per tempo).
    fn tempo(&self) -> BoxFuture<'_, Result<u64, ChainError>>;
    /// Converts float weights to u16 as the Python SDK does and submits them, waiting for
    /// inclusion in a block.
    fn set_weights<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        uids: &'a [u16],
        weights: &'a [f64],
    ) -> BoxFuture<'a, Result<WeightsOutcome, ChainError>>;
    /// Whether the subnet takes weights only as timelocked commits (`CommitRevealWeightsEnabled`).
    fn commit_reveal_enabled(&self) -> BoxFuture<'_, Result<bool, ChainError>>;
    /// Prepares (reads only, sends nothing) a timelocked commit of these weights by `hotkey`:
    /// the u16 conversion, payload, reveal block and round from the chain's current state, and
    /// the ciphertext, encrypted to the beacon this chain follows. `None` when every weight is 0.
    fn prepare_commit<'a>(
        &'a self,
        hotkey: [u8; 32],
        uids: &'a [u16],
        weights: &'a [f64],
        reveal_round: Option<u64>,
    ) -> BoxFuture<'a, Result<Option<PreparedCommit>, ChainError>>;
    /// Sends a prepared commit, waiting for inclusion; returns the block.
    fn submit_commit<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        commit: &'a PreparedCommit,
    ) -> BoxFuture<'a, Result<u64, ChainError>>;
    /// The extrinsic's call data for a prepared commit, where the chain has one (subtensor).
    fn commit_call_data<'a>(
        &'a self,
        _commit: &'a PreparedCommit,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, ChainError>> {
        Box::pin(async { Ok(None) })
    }
    /// Commits on the subnet that the chain has not revealed yet, every hotkey's.
    fn pending_commits(&self) -> BoxFuture<'_, Result<Vec<PendingCommit>, ChainError>>;
    /// Announces where a miner serves; skipped when the chain already holds the same values.
    fn serve_axon<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        ip: IpAddr,
        port: u16,
    ) -> BoxFuture<'a, Result<ServeOutcome, ChainError>>;
}

/// Puts weights on chain the way the subnet takes them: a timelocked commit when commit-reveal
/// is on, `set_weights` otherwise — never both.
pub async fn submit_weights(
    chain: &dyn Chain,
    signer: &Sr25519Key,
    uids: &[u16],
    weights: &[f64],
) -> Result<WeightsOutcome, ChainError> {
    if !chain.commit_reveal_enabled().await? {
        return chain.set_weights(signer, uids, weights).await;
    }
    let Some(commit) = chain.prepare_commit(signer.public_key().0, uids, weights, None).await? else {
        return Ok(WeightsOutcome::NothingToSet);
    };
    let block = chain.submit_commit(signer, &commit).await?;
    Ok(WeightsOutcome::Committed {
        block,
        reveal_round: commit.reveal_round,
        reveal_block: commit.reveal_block,
        payload_sha256: commit.payload_sha256,
        weights: U16Weights { uids: commit.payload.uids, weights: commit.payload.values },
    })
}
