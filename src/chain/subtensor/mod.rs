//! The real chain: a subtensor node over subxt's dynamic API, decoding against the metadata
//! the node serves (so one build works across runtime upgrades, and a shape it cannot handle
//! fails with the item's name instead of garbage).

pub mod calls;
mod offline;

pub use offline::offline_client;

use std::net::IpAddr;

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use subxt::client::{ClientAtBlock, OnlineClientAtBlockImpl};
use subxt::error::{DispatchError, TransactionEventsError};
use subxt::ext::frame_decode::storage::{IntoDecodableValues, IntoEncodableValues};
use subxt::ext::scale_decode::DecodeAsType;
use subxt::storage::{Address, DynamicAddress};
use subxt::transactions::TransactionStatus;
use subxt::utils::{AccountId32, MultiSignature};
use subxt::{OnlineClient, SubstrateConfig};

use super::commit_reveal::{
    self, Beacon, COMMIT_REVEAL_VERSION, CommitError, CommitRequest, EpochScheduleState, MAX_PENDING_COMMITS,
    PendingCommit, PreparedCommit, RevealSchedule,
};
use super::{Axon, BoxError, Chain, ChainError, Metagraph, Neuron, ServeOutcome, WeightsOutcome, to_u16_weights};
use crate::protocol::Sr25519Key;
use calls::storage;

type At = ClientAtBlock<SubstrateConfig, OnlineClientAtBlockImpl<SubstrateConfig>>;

/// RAO per TAO (and per alpha unit).
const RAO: f64 = 1e9;

/// Signs extrinsics with our sr25519 key (MultiSignature::Sr25519, as every Bittensor key).
pub struct ExtrinsicSigner<'a>(pub &'a Sr25519Key);

impl subxt::tx::Signer<SubstrateConfig> for ExtrinsicSigner<'_> {
    fn account_id(&self) -> AccountId32 {
        AccountId32(self.0.public_key().0)
    }
    fn sign(&self, payload: &[u8]) -> MultiSignature {
        MultiSignature::Sr25519(self.0.sign(payload))
    }
}

pub struct Subtensor {
    api: OnlineClient<SubstrateConfig>,
    url: String,
    netuid: u16,
}

fn rpc(e: impl Into<BoxError>) -> ChainError {
    ChainError::Rpc(e.into())
}

impl Subtensor {
    /// Connects (ws:// only to loopback unless `allow_insecure`; wss:// anywhere) and checks
    /// that the runtime has every item and call this build uses.
    pub async fn connect(url: &str, netuid: u16) -> Result<Self, ChainError> {
        let connect_err =
            |e: subxt::error::OnlineClientError| ChainError::Connect { url: url.to_string(), source: e.into() };
        let api = if url.starts_with("ws://") {
            // Plain WebSocket: a local node or a private network the operator chose.
            OnlineClient::<SubstrateConfig>::from_insecure_url(url).await.map_err(connect_err)?
        } else {
            OnlineClient::<SubstrateConfig>::from_url(url).await.map_err(connect_err)?
        };
        let chain = Self { api, url: url.to_string(), netuid };
        let at = chain.at().await?;
        calls::check_metadata(at.metadata_ref())?;
        // A subnet that does not exist reads as an empty metagraph: refuse it by name instead.
        if !get(&at, storage::networks_added(), (netuid,)).await? {
            return Err(ChainError::NoSuchSubnet { netuid });
        }
        tracing::info!(url, spec_version = at.spec_version(), block = at.block_number(), "connected to subtensor");
        Ok(chain)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn at(&self) -> Result<At, ChainError> {
        self.api.at_current_block().await.map_err(rpc)
    }

    async fn read_metagraph(&self) -> Result<Metagraph, ChainError> {
        let at = self.at().await?;
        let netuid = self.netuid;
        let n: u16 = get(&at, storage::subnetwork_n(), (netuid,)).await?;
        let mut hotkeys: Vec<(u16, AccountId32)> = Vec::with_capacity(n as usize);
        let mut it = at.storage().iter(storage::keys(), (netuid,)).await.map_err(rpc)?;
        while let Some(kv) = it.next().await {
            let kv = kv.map_err(rpc)?;
            let (_, uid): (u16, u16) = kv.key().and_then(|k| k.decode()).map_err(|e| shape_err("Keys", e))?;
            let hotkey: AccountId32 = kv.value().decode().map_err(|e| shape_err("Keys", e))?;
            hotkeys.push((uid, hotkey));
        }
        let incentive = get(&at, storage::incentive(), (netuid,)).await?;
        let permits = get(&at, storage::validator_permit(), (netuid,)).await?;
        let last_update = get(&at, storage::last_update(), (netuid,)).await?;

        let (at, incentive, permits, last_update) = (&at, &incentive, &permits, &last_update);
        let mut neurons: Vec<Neuron> = futures::stream::iter(hotkeys)
            .map(|(uid, hotkey)| async move {
                let coldkey = get(at, storage::owner(), (hotkey,)).await?;
                let axon = get_opt(at, storage::axons(), (netuid, hotkey)).await?;
                let alpha = get(at, storage::total_hotkey_alpha(), (hotkey, netuid)).await?;
                let i = uid as usize;
                Ok::<_, ChainError>(Neuron {
                    uid,
                    hotkey: hotkey.to_string(),
                    coldkey: coldkey.to_string(),
                    stake: alpha as f64 / RAO,
                    axon: axon.and_then(|a| served_axon(&a)),
                    incentive: incentive.get(i).map_or(0.0, |v| f64::from(*v) / f64::from(u16::MAX)),
                    validator_permit: permits.get(i).copied().unwrap_or(false),
                    last_update: last_update.get(i).copied().unwrap_or(0),
                })
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
        neurons.sort_by_key(|n| n.uid);
        Ok(Metagraph { netuid, block: at.block_number(), neurons })
    }

    async fn submit(
        &self,
        payload: &subxt::tx::DynamicPayload<Vec<subxt::dynamic::Value>>,
        key: &Sr25519Key,
    ) -> Result<u64, ChainError> {
        let mut tx = self.at().await?.tx();
        let signer = ExtrinsicSigner(key);
        let mut progress =
            tx.sign_and_submit_then_watch_default(payload, &signer).await.map_err(|e| ChainError::Submit(e.into()))?;
        // Wait for inclusion (not finalization), as the Python SDK's set_weights does by default.
        let in_block = loop {
            match progress.next().await {
                Some(Ok(TransactionStatus::InBestBlock(b) | TransactionStatus::InFinalizedBlock(b))) => break b,
                Some(Ok(
                    TransactionStatus::Invalid { message }
                    | TransactionStatus::Dropped { message }
                    | TransactionStatus::Error { message },
                )) => return Err(ChainError::Rejected(message)),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(rpc(e)),
                None => return Err(ChainError::StreamEnded),
            }
        };
        if let Err(e) = in_block.wait_for_success().await {
            return Err(dispatch_error(e));
        }
        let block = self.api.at_block(in_block.block_hash()).await.map_err(rpc)?.block_number();
        Ok(block)
    }
}

impl Subtensor {
    /// Seconds per block: Aura's slot duration (12 s on finney, 0.25 s on fast-block dev
    /// nodes), or 12 s where the runtime has no Aura constant.
    fn block_time_s(at: &At) -> f64 {
        at.constants()
            .entry(subxt::dynamic::constant::<u64>("Aura", "SlotDuration"))
            .ok()
            .filter(|ms| *ms > 0)
            .map_or(12.0, |ms| ms as f64 / 1000.0)
    }

    async fn read_pending_commits(&self, at: &At) -> Result<Vec<PendingCommit>, ChainError> {
        let mut out = Vec::new();
        let mut it = at.storage().iter(storage::timelocked_weight_commits(), (self.netuid,)).await.map_err(rpc)?;
        while let Some(kv) = it.next().await {
            let kv = kv.map_err(rpc)?;
            let (_, epoch): (u16, u64) =
                kv.key().and_then(|k| k.decode()).map_err(|e| shape_err("TimelockedWeightCommits", e))?;
            let commits: Vec<storage::TimelockedCommit> =
                kv.value().decode().map_err(|e| shape_err("TimelockedWeightCommits", e))?;
            out.extend(commits.into_iter().map(|(who, commit_block, commit, reveal_round)| PendingCommit {
                hotkey: who.to_string(),
                commit_block,
                reveal_round,
                epoch: Some(epoch),
                reveal_block: None,
                commit_bytes: commit.len(),
            }));
        }
        out.sort_by_key(|c| c.commit_block);
        Ok(out)
    }

    async fn prepare_commit_now(
        &self,
        hotkey: [u8; 32],
        uids: &[u16],
        weights: &[f64],
        reveal_round: Option<u64>,
    ) -> Result<Option<PreparedCommit>, ChainError> {
        let at = self.at().await?;
        let netuid = self.netuid;
        let epoch_model = calls::check_commit_reveal(at.metadata_ref())?;
        let account = AccountId32(hotkey);
        if get_opt(&at, storage::uids(), (netuid, account)).await?.is_none() {
            return Err(ChainError::NotRegistered { hotkey: account.to_string(), netuid });
        }
        let version = get(&at, storage::commit_reveal_version(), ()).await?;
        if version != COMMIT_REVEAL_VERSION {
            return Err(CommitError::Version { chain: version }.into());
        }
        let pending = self.read_pending_commits(&at).await?;
        let ours = pending.iter().filter(|c| c.hotkey == account.to_string()).count();
        if ours >= MAX_PENDING_COMMITS {
            return Err(CommitError::TooManyPending { pending: ours }.into());
        }
        let converted = to_u16_weights(uids, weights)?;
        if converted.is_empty() {
            return Ok(None);
        }
        let version_key = get(&at, storage::weights_version_key(), (netuid,)).await?;
        let tempo = u64::from(get(&at, storage::tempo(), (netuid,)).await?);
        let reveal_period_epochs = get(&at, storage::reveal_period_epochs(), (netuid,)).await?;
        let current_block = at.block_number();
        let schedule = if epoch_model {
            let [last, pending_at, index] = storage::EPOCH_SCHEDULE_ITEMS;
            RevealSchedule::Epochs {
                state: EpochScheduleState {
                    last_epoch_block: get(&at, storage::epoch_item(last), (netuid,)).await?,
                    pending_epoch_at: get(&at, storage::epoch_item(pending_at), (netuid,)).await?,
                    subnet_epoch_index: get(&at, storage::epoch_item(index), (netuid,)).await?,
                    tempo,
                    blocks_since_last_step: get(&at, storage::blocks_since_last_step(), (netuid,)).await?,
                    current_block,
                },
                reveal_period_epochs,
            }
        } else {
            RevealSchedule::Legacy { tempo, current_block, netuid, reveal_period_epochs }
        };
        let prepared = commit_reveal::prepare_commit(CommitRequest {
            beacon: &Beacon::quicknet(),
            hotkey,
            weights: &converted,
            version_key,
            schedule,
            block_time_s: Self::block_time_s(&at),
            now_unix: crate::clock::now_ms() as f64 / 1000.0,
            reveal_round,
        })?;
        Ok(Some(prepared))
    }
}

fn shape_err(item: &str, e: impl Into<BoxError>) -> ChainError {
    ChainError::Shape { item: format!("{}::{item}", calls::PALLET), source: e.into() }
}

/// Reads one storage value (the metadata's default when absent), naming the item when it does
/// not decode as this build expects.
async fn get<K, V>(at: &At, addr: DynamicAddress<K, V>, keys: K) -> Result<V, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    let item = addr.entry_name().to_string();
    at.storage().fetch(addr, keys).await.map_err(rpc)?.decode().map_err(|e| shape_err(&item, e))
}

/// Reads one optional storage value: `None` when the chain holds nothing there.
async fn get_opt<K, V>(at: &At, addr: DynamicAddress<K, V>, keys: K) -> Result<Option<V>, ChainError>
where
    K: IntoEncodableValues + IntoDecodableValues,
    V: DecodeAsType,
{
    let item = addr.entry_name().to_string();
    match at.storage().try_fetch(addr, keys).await.map_err(rpc)? {
        Some(v) => v.decode().map(Some).map_err(|e| shape_err(&item, e)),
        None => Ok(None),
    }
}

/// The runtime error's pallet and name (e.g. `SubtensorModule::SettingWeightsTooFast`).
fn dispatch_error(e: TransactionEventsError) -> ChainError {
    if let TransactionEventsError::ExtrinsicFailed(DispatchError::Module(me)) = &e
        && let Ok(d) = me.details()
    {
        return ChainError::Dispatch {
            pallet: d.pallet.name().to_string(),
            error: d.variant.name.clone(),
            docs: d.variant.docs.join(" ").trim().to_string(),
        };
    }
    ChainError::Rpc(e.into())
}

/// `None` for an axon that was never served (ip 0).
fn served_axon(a: &calls::AxonInfo) -> Option<Axon> {
    let ip = calls::int_to_ip(a.ip, a.ip_type)?;
    (!ip.is_unspecified() && a.port != 0).then_some(Axon { ip, port: a.port })
}

impl Chain for Subtensor {
    fn netuid(&self) -> u16 {
        self.netuid
    }

    fn metagraph(&self) -> BoxFuture<'_, Result<Metagraph, ChainError>> {
        Box::pin(self.read_metagraph())
    }

    fn current_block(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
        Box::pin(async move { Ok(self.at().await?.block_number()) })
    }

    fn tempo(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
        Box::pin(async move {
            let at = self.at().await?;
            Ok(u64::from(get(&at, storage::tempo(), (self.netuid,)).await?))
        })
    }

    fn set_weights<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        uids: &'a [u16],
        weights: &'a [f64],
    ) -> BoxFuture<'a, Result<WeightsOutcome, ChainError>> {
        Box::pin(async move {
            let at = self.at().await?;
            if get(&at, storage::commit_reveal_enabled(), (self.netuid,)).await? {
                return Err(ChainError::CommitRevealEnabled { netuid: self.netuid });
            }
            let hotkey = AccountId32(signer.public_key().0);
            if get_opt(&at, storage::uids(), (self.netuid, hotkey)).await?.is_none() {
                return Err(ChainError::NotRegistered { hotkey: signer.ss58(), netuid: self.netuid });
            }
            let version_key = get(&at, storage::weights_version_key(), (self.netuid,)).await?;
            let converted = to_u16_weights(uids, weights)?;
            if converted.is_empty() {
                return Ok(WeightsOutcome::NothingToSet);
            }
            let payload = calls::set_weights(self.netuid, &converted.uids, &converted.weights, version_key);
            let block = self.submit(&payload, signer).await?;
            Ok(WeightsOutcome::Set { block, weights: converted })
        })
    }

    fn commit_reveal_enabled(&self) -> BoxFuture<'_, Result<bool, ChainError>> {
        Box::pin(async move {
            let at = self.at().await?;
            get(&at, storage::commit_reveal_enabled(), (self.netuid,)).await
        })
    }

    fn prepare_commit<'a>(
        &'a self,
        hotkey: [u8; 32],
        uids: &'a [u16],
        weights: &'a [f64],
        reveal_round: Option<u64>,
    ) -> BoxFuture<'a, Result<Option<PreparedCommit>, ChainError>> {
        Box::pin(self.prepare_commit_now(hotkey, uids, weights, reveal_round))
    }

    fn submit_commit<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        commit: &'a PreparedCommit,
    ) -> BoxFuture<'a, Result<u64, ChainError>> {
        Box::pin(async move {
            let payload = calls::commit_timelocked_weights(
                self.netuid,
                &commit.ciphertext,
                commit.reveal_round,
                COMMIT_REVEAL_VERSION,
            );
            self.submit(&payload, signer).await
        })
    }

    fn commit_call_data<'a>(
        &'a self,
        commit: &'a PreparedCommit,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, ChainError>> {
        Box::pin(async move {
            let at = self.at().await?;
            let payload = calls::commit_timelocked_weights(
                self.netuid,
                &commit.ciphertext,
                commit.reveal_round,
                COMMIT_REVEAL_VERSION,
            );
            at.tx().call_data(&payload).map(Some).map_err(|e| shape_err("commit_timelocked_weights", e))
        })
    }

    fn pending_commits(&self) -> BoxFuture<'_, Result<Vec<PendingCommit>, ChainError>> {
        Box::pin(async move {
            let at = self.at().await?;
            calls::check_commit_reveal(at.metadata_ref())?;
            self.read_pending_commits(&at).await
        })
    }

    fn serve_axon<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        ip: IpAddr,
        port: u16,
    ) -> BoxFuture<'a, Result<ServeOutcome, ChainError>> {
        Box::pin(async move {
            let at = self.at().await?;
            let hotkey = AccountId32(signer.public_key().0);
            // The runtime stores an axon even for a key that is not registered on the subnet.
            if get_opt(&at, storage::uids(), (self.netuid, hotkey)).await?.is_none() {
                return Err(ChainError::NotRegistered { hotkey: signer.ss58(), netuid: self.netuid });
            }
            if let Some(current) = get_opt(&at, storage::axons(), (self.netuid, hotkey)).await? {
                let (want_ip, want_type) = calls::ip_to_int(ip);
                if current.ip == want_ip
                    && current.ip_type == want_type
                    && current.port == port
                    && current.protocol == calls::AXON_PROTOCOL
                {
                    return Ok(ServeOutcome::Unchanged);
                }
            }
            self.submit(&calls::serve_axon(self.netuid, ip, port), signer).await?;
            Ok(ServeOutcome::Served)
        })
    }
}
