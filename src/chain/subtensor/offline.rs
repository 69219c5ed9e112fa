//! A subxt client with no node behind it, from runtime metadata bytes: encodes calls, storage
//! keys and signed extrinsics exactly as the online client would for that runtime. Used by the
//! encoding tests against `../shared/chain/*.scale` and by `chronoseek chain check-metadata`.

use std::sync::Arc;

use subxt::config::substrate::{H256, SpecVersionForRange};
use subxt::{Metadata, OfflineClient, OfflineClientAtBlock, SubstrateConfig};

use crate::chain::{BoxError, ChainError};

/// An offline client at block 0 of a chain whose runtime has this metadata (SCALE-encoded
/// `RuntimeMetadataPrefixed`, V14 to V16) and spec version.
pub fn offline_client(metadata: &[u8], spec_version: u32) -> Result<OfflineClientAtBlock<SubstrateConfig>, ChainError> {
    let shape = |e: BoxError| ChainError::Shape { item: "runtime metadata".into(), source: e };
    let md = Metadata::decode_from(metadata).map_err(|e| shape(e.into()))?;
    let config = SubstrateConfig::builder()
        .set_genesis_hash(H256::repeat_byte(0x11))
        .set_metadata_for_spec_versions([(spec_version, Arc::new(md))])
        .set_spec_version_for_block_ranges([SpecVersionForRange {
            block_range: 0..u64::MAX,
            spec_version,
            transaction_version: 1,
        }])
        .build();
    OfflineClient::new_with_config(config).at_block(0u64).map_err(|e| shape(e.into()))
}
