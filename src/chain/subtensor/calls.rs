//! The SubtensorModule calls and storage items this project uses, as dynamic subxt payloads and
//! addresses: one definition shared by the online client and the offline encoding tests
//! (`tests/chain_metadata.rs`, against the runtime metadata of subtensor spec 218 / V14 and
//! spec 393 / V16 in `../shared/chain/`).
//!
//! Shapes that matter across runtime versions (checked against both metadata files):
//! - netuid is a plain `u16` on the wire in both (`NetUid` is only a type-name hint in V16);
//! - `Incentive` and `LastUpdate` are keyed by `NetUidStorageIndex` in V16 (`netuid + mecid·4096`),
//!   which equals the netuid for the main mechanism, so the same key works in both;
//! - per-hotkey stake: `Stake` (TAO) is gone in V16; `TotalHotkeyAlpha(hotkey, netuid)` exists in
//!   both and is the subnet stake the metagraph reports here;
//! - `register_network` lost its `mechid` argument in V16 (not used here).

use std::net::IpAddr;

use subxt::dynamic::{self, Value};
use subxt::storage::DynamicAddress;
use subxt::tx::DynamicPayload;
use subxt::utils::AccountId32;

pub const PALLET: &str = "SubtensorModule";
/// Axon protocol number the Python SDK announces (4 = HTTP).
pub const AXON_PROTOCOL: u8 = 4;

/// `set_weights(netuid, dests, weights, version_key)`.
pub fn set_weights(netuid: u16, uids: &[u16], weights: &[u16], version_key: u64) -> DynamicPayload<Vec<Value>> {
    dynamic::tx(
        PALLET,
        "set_weights",
        vec![
            Value::from(netuid),
            Value::from(uids.to_vec()),
            Value::from(weights.to_vec()),
            Value::u128(version_key.into()),
        ],
    )
}

/// `commit_timelocked_weights(netuid, commit, reveal_round, commit_reveal_version)`: the
/// timelocked commit of the main mechanism (the SDK's mechanism variant with `mecid = 0`
/// stores under the same index).
pub fn commit_timelocked_weights(
    netuid: u16,
    commit: &[u8],
    reveal_round: u64,
    version: u16,
) -> DynamicPayload<Vec<Value>> {
    dynamic::tx(
        PALLET,
        "commit_timelocked_weights",
        vec![Value::from(netuid), Value::from_bytes(commit), Value::u128(reveal_round.into()), Value::from(version)],
    )
}

/// `(ip as u128, ip_type)` as the Python SDK's `net.ip_to_int` / `ip_version` give them.
pub fn ip_to_int(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u32::from(v4) as u128, 4),
        IpAddr::V6(v6) => (u128::from(v6), 6),
    }
}

/// The inverse of [`ip_to_int`]; `None` for an unknown ip type.
pub fn int_to_ip(ip: u128, ip_type: u8) -> Option<IpAddr> {
    match ip_type {
        4 => u32::try_from(ip).ok().map(|v| IpAddr::from(std::net::Ipv4Addr::from(v))),
        6 => Some(IpAddr::from(std::net::Ipv6Addr::from(ip))),
        _ => None,
    }
}

/// Our version as the SDK encodes its own: `100·100·major + 100·minor + patch`.
pub fn version_as_int() -> u32 {
    let mut parts = env!("CARGO_PKG_VERSION").split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    10_000 * major + 100 * minor + patch
}

/// `serve_axon(netuid, version, ip, port, ip_type, protocol, placeholder1, placeholder2)`.
pub fn serve_axon(netuid: u16, ip: IpAddr, port: u16) -> DynamicPayload<Vec<Value>> {
    let (ip, ip_type) = ip_to_int(ip);
    dynamic::tx(
        PALLET,
        "serve_axon",
        vec![
            Value::from(netuid),
            Value::from(version_as_int()),
            Value::u128(ip),
            Value::from(port),
            Value::from(ip_type),
            Value::from(AXON_PROTOCOL),
            Value::from(0u8),
            Value::from(0u8),
        ],
    )
}

/// `AxonInfo` as stored (both versions have the same fields).
#[derive(Debug, Clone, PartialEq, Eq, subxt::ext::scale_decode::DecodeAsType)]
#[decode_as_type(crate_path = "subxt::ext::scale_decode")]
pub struct AxonInfo {
    pub block: u64,
    pub version: u32,
    pub ip: u128,
    pub port: u16,
    pub ip_type: u8,
    pub protocol: u8,
}

/// Storage items, by name, with their key and value types.
pub mod storage {
    use super::*;

    fn at<K: subxt::ext::frame_decode::storage::IntoEncodableValues, V: subxt::ext::scale_decode::DecodeAsType>(
        item: &str,
    ) -> DynamicAddress<K, V> {
        dynamic::storage::<K, V>(PALLET, item)
    }

    /// `SubnetworkN(netuid) -> u16`: how many uids the subnet has.
    pub fn subnetwork_n() -> DynamicAddress<(u16,), u16> {
        at("SubnetworkN")
    }
    /// `Keys(netuid, uid) -> hotkey`.
    pub fn keys() -> DynamicAddress<(u16, u16), AccountId32> {
        at("Keys")
    }
    /// `Uids(netuid, hotkey) -> uid` (absent when not registered).
    pub fn uids() -> DynamicAddress<(u16, AccountId32), u16> {
        at("Uids")
    }
    /// `Owner(hotkey) -> coldkey`.
    pub fn owner() -> DynamicAddress<(AccountId32,), AccountId32> {
        at("Owner")
    }
    /// `Axons(netuid, hotkey) -> AxonInfo` (absent when never served).
    pub fn axons() -> DynamicAddress<(u16, AccountId32), AxonInfo> {
        at("Axons")
    }
    /// `TotalHotkeyAlpha(hotkey, netuid) -> u64` (rao of the subnet's alpha).
    pub fn total_hotkey_alpha() -> DynamicAddress<(AccountId32, u16), u64> {
        at("TotalHotkeyAlpha")
    }
    /// `Incentive(netuid) -> Vec<u16>` (u16-normalised, per uid).
    pub fn incentive() -> DynamicAddress<(u16,), Vec<u16>> {
        at("Incentive")
    }
    /// `ValidatorPermit(netuid) -> Vec<bool>`.
    pub fn validator_permit() -> DynamicAddress<(u16,), Vec<bool>> {
        at("ValidatorPermit")
    }
    /// `LastUpdate(netuid) -> Vec<u64>` (block of each uid's last weights).
    pub fn last_update() -> DynamicAddress<(u16,), Vec<u64>> {
        at("LastUpdate")
    }
    /// `Tempo(netuid) -> u16`.
    pub fn tempo() -> DynamicAddress<(u16,), u16> {
        at("Tempo")
    }
    /// `WeightsVersionKey(netuid) -> u64`: set_weights must send at least this.
    pub fn weights_version_key() -> DynamicAddress<(u16,), u64> {
        at("WeightsVersionKey")
    }
    /// `CommitRevealWeightsEnabled(netuid) -> bool`.
    pub fn commit_reveal_enabled() -> DynamicAddress<(u16,), bool> {
        at("CommitRevealWeightsEnabled")
    }
    /// `NetworksAdded(netuid) -> bool`: whether the subnet exists.
    pub fn networks_added() -> DynamicAddress<(u16,), bool> {
        at("NetworksAdded")
    }
    /// `CommitRevealWeightsVersion -> u16`: the payload version commits must declare.
    pub fn commit_reveal_version() -> DynamicAddress<(), u16> {
        at("CommitRevealWeightsVersion")
    }
    /// `RevealPeriodEpochs(netuid) -> u64`: epochs between a commit and its reveal.
    pub fn reveal_period_epochs() -> DynamicAddress<(u16,), u64> {
        at("RevealPeriodEpochs")
    }
    /// `BlocksSinceLastStep(netuid) -> u64`.
    pub fn blocks_since_last_step() -> DynamicAddress<(u16,), u64> {
        at("BlocksSinceLastStep")
    }
    /// Epoch-schedule items of newer runtimes (`LastEpochBlock`, `PendingEpochAt`,
    /// `SubnetEpochIndex`, each `(netuid) -> u64`); older runtimes use fixed boundaries.
    pub fn epoch_item(name: &'static str) -> DynamicAddress<(u16,), u64> {
        at(name)
    }
    pub const EPOCH_SCHEDULE_ITEMS: [&str; 3] = ["LastEpochBlock", "PendingEpochAt", "SubnetEpochIndex"];
    /// `TimelockedWeightCommits(netuid_index, epoch) -> [(hotkey, commit_block, commit, reveal_round)]`.
    pub fn timelocked_weight_commits() -> DynamicAddress<(u16, u64), Vec<TimelockedCommit>> {
        at("TimelockedWeightCommits")
    }
    /// One queued commit: `(hotkey, commit_block, ciphertext, reveal_round)`.
    pub type TimelockedCommit = (AccountId32, u64, Vec<u8>, u64);
    /// Items commit-reveal needs (absent from runtimes before timelocked commits).
    pub const COMMIT_REVEAL_ITEMS: &[(&str, usize)] = &[
        ("CommitRevealWeightsVersion", 0),
        ("RevealPeriodEpochs", 1),
        ("BlocksSinceLastStep", 1),
        ("TimelockedWeightCommits", 2),
    ];
    /// Names of every item above, for the start-up shape check.
    pub const ITEMS: &[(&str, usize)] = &[
        ("NetworksAdded", 1),
        ("SubnetworkN", 1),
        ("Keys", 2),
        ("Uids", 2),
        ("Owner", 1),
        ("Axons", 2),
        ("TotalHotkeyAlpha", 2),
        ("Incentive", 1),
        ("ValidatorPermit", 1),
        ("LastUpdate", 1),
        ("Tempo", 1),
        ("WeightsVersionKey", 1),
        ("CommitRevealWeightsEnabled", 1),
    ];
}

/// `SubtensorModule` and its storage, or the shape error naming what is missing.
fn subtensor_pallet(
    md: &subxt::Metadata,
) -> Result<(subxt::metadata::PalletMetadata<'_>, &subxt::metadata::StorageMetadata), crate::chain::ChainError> {
    let shape = |message: &str| crate::chain::ChainError::Shape { item: PALLET.into(), source: message.into() };
    let pallet = md.pallet_by_name(PALLET).ok_or_else(|| shape("pallet not in the chain's metadata"))?;
    let entries = pallet.storage().ok_or_else(|| shape("pallet has no storage"))?;
    Ok((pallet, entries))
}

/// Whether this runtime can take timelocked commits, and with which reveal-block model: `Ok(true)`
/// when it has the epoch-schedule items, `Ok(false)` for the fixed per-netuid boundaries; an
/// error names the first missing item or call.
pub fn check_commit_reveal(md: &subxt::Metadata) -> Result<bool, crate::chain::ChainError> {
    use crate::chain::ChainError;
    let shape = |item: String, message: String| ChainError::Shape { item, source: message.into() };
    let (pallet, entries) = subtensor_pallet(md)?;
    for (item, keys) in storage::COMMIT_REVEAL_ITEMS {
        let name = format!("{PALLET}::{item}");
        let e = entries.entry_by_name(item).ok_or_else(|| {
            shape(name.clone(), "storage item not in the chain's metadata (runtime without timelocked commits)".into())
        })?;
        if e.keys().count() != *keys {
            return Err(shape(name, format!("has {} keys, this build passes {keys}", e.keys().count())));
        }
    }
    let call = "commit_timelocked_weights";
    let v = pallet
        .call_variant_by_name(call)
        .ok_or_else(|| shape(format!("{PALLET}::{call}"), "call not in the chain's metadata".into()))?;
    if v.fields.len() != 4 {
        return Err(shape(
            format!("{PALLET}::{call}"),
            format!("takes {} arguments, this build sends 4", v.fields.len()),
        ));
    }
    Ok(storage::EPOCH_SCHEDULE_ITEMS.iter().all(|i| entries.entry_by_name(i).is_some()))
}

/// Checks that the node's metadata has every storage item (with the number of keys this code
/// passes) and call this project uses, naming the first that is missing or shaped otherwise.
pub fn check_metadata(md: &subxt::Metadata) -> Result<(), crate::chain::ChainError> {
    use crate::chain::ChainError;
    let shape = |item: String, message: String| ChainError::Shape { item, source: message.into() };
    let (pallet, entries) = subtensor_pallet(md)?;
    for (item, keys) in storage::ITEMS {
        let name = format!("{PALLET}::{item}");
        let e = entries
            .entry_by_name(item)
            .ok_or_else(|| shape(name.clone(), "storage item not in the chain's metadata".into()))?;
        let n = e.keys().count();
        if n != *keys {
            return Err(shape(name, format!("has {n} keys, this build passes {keys}")));
        }
    }
    for (call, args) in [("set_weights", 4usize), ("serve_axon", 8)] {
        let name = format!("{PALLET}::{call}");
        let v = pallet
            .call_variant_by_name(call)
            .ok_or_else(|| shape(name.clone(), "call not in the chain's metadata".into()))?;
        if v.fields.len() != args {
            return Err(shape(name, format!("takes {} arguments, this build sends {args}", v.fields.len())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ips_round_trip_like_the_sdk() {
        let v4: IpAddr = "1.2.3.4".parse().unwrap();
        assert_eq!(ip_to_int(v4), (16909060, 4));
        assert_eq!(int_to_ip(16909060, 4), Some(v4));
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(ip_to_int(v6), (1, 6));
        assert_eq!(int_to_ip(1, 6), Some(v6));
        assert_eq!(int_to_ip(1 << 40, 4), None);
        assert_eq!(int_to_ip(1, 5), None);
    }
}
