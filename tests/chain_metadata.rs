//! Offline encoding against the runtime metadata of two subtensor versions (spec 218 with
//! metadata V14, spec 393 with V16, `../shared/chain/`): the calls and storage keys the chain
//! layer uses encode to the bytes the runtime expects, signed extrinsics build and decode, and a
//! wrong argument fails loudly.

mod common;

use chronoseek::chain::subtensor::{ExtrinsicSigner, calls, offline_client};
use chronoseek::protocol::Sr25519Key;
use sp_crypto_hashing::{blake2_128, twox_128};
use subxt::config::DefaultExtrinsicParamsBuilder;
use subxt::dynamic::Value;
use subxt::utils::AccountId32;
use subxt::{OfflineClientAtBlock, SubstrateConfig};

const VERSIONS: [(&str, u32); 2] =
    [("subtensor_spec218_metadata_v14.scale", 218), ("subtensor_spec393_metadata_v16.scale", 393)];

fn clients() -> Vec<(u32, OfflineClientAtBlock<SubstrateConfig>)> {
    VERSIONS
        .iter()
        .map(|(file, spec)| {
            let bytes = std::fs::read(common::shared().join("chain").join(file)).expect("metadata file");
            (*spec, offline_client(&bytes, *spec).expect("offline client"))
        })
        .collect()
}

fn compact_len(n: usize) -> Vec<u8> {
    assert!(n < 64);
    vec![(n as u8) << 2]
}

#[test]
fn every_item_and_call_we_use_exists_in_both_runtimes() {
    for (spec, at) in clients() {
        calls::check_metadata(at.metadata_ref()).unwrap_or_else(|e| panic!("spec {spec}: {e}"));
    }
}

#[test]
fn set_weights_encodes_to_the_runtime_layout() {
    for (spec, at) in clients() {
        let bytes = at.tx().call_data(&calls::set_weights(7, &[0, 3], &[65535, 32768], 42)).unwrap();
        // pallet 7 (SubtensorModule), call 0, netuid u16, Vec<u16> dests, Vec<u16> weights, u64.
        let mut want = vec![7u8, 0, 7, 0];
        want.extend(compact_len(2));
        want.extend([0, 0, 3, 0]);
        want.extend(compact_len(2));
        want.extend([0xff, 0xff, 0x00, 0x80]);
        want.extend(42u64.to_le_bytes());
        assert_eq!(bytes, want, "spec {spec}");
    }
}

#[test]
fn serve_axon_encodes_ip_as_u128_with_its_type() {
    for (spec, at) in clients() {
        let bytes = at.tx().call_data(&calls::serve_axon(1, "10.1.2.3".parse().unwrap(), 8091)).unwrap();
        let mut want = vec![7u8, 4];
        want.extend(1u16.to_le_bytes());
        want.extend(calls::version_as_int().to_le_bytes());
        want.extend(0x0a010203u128.to_le_bytes());
        want.extend(8091u16.to_le_bytes());
        want.extend([4, calls::AXON_PROTOCOL, 0, 0]);
        assert_eq!(bytes, want, "spec {spec}");
        let v6 = at.tx().call_data(&calls::serve_axon(1, "2001:db8::1".parse().unwrap(), 1)).unwrap();
        assert_eq!(v6[2 + 2 + 4 + 16 + 2], 6, "ip type 6 for IPv6");
    }
}

#[test]
fn wrong_arguments_fail_to_encode() {
    for (spec, at) in clients() {
        // Three arguments where the runtime wants four.
        let short = subxt::dynamic::tx(
            calls::PALLET,
            "set_weights",
            vec![Value::from(1u16), Value::from(vec![0u16]), Value::from(vec![1u16])],
        );
        let e = at.tx().call_data(&short).unwrap_err().to_string();
        assert!(!e.is_empty(), "spec {spec}");
        // A netuid that does not fit in u16.
        let wide = subxt::dynamic::tx(
            calls::PALLET,
            "set_weights",
            vec![Value::from(70_000u32), Value::from(vec![0u16]), Value::from(vec![1u16]), Value::from(0u64)],
        );
        assert!(at.tx().call_data(&wide).is_err(), "spec {spec}: 70000 is not a u16");
        // A call the runtime does not have.
        let missing = subxt::dynamic::tx(calls::PALLET, "set_weights_v99", Vec::<Value>::new());
        assert!(at.tx().call_data(&missing).is_err(), "spec {spec}");
    }
}

#[test]
fn storage_keys_follow_the_hashers_of_both_runtimes() {
    let hotkey = AccountId32(Sr25519Key::from_uri("//Alice").unwrap().public_key().0);
    let prefix = |item: &str| [twox_128(b"SubtensorModule").to_vec(), twox_128(item.as_bytes()).to_vec()].concat();
    let b2c = |a: &AccountId32| [blake2_128(&a.0).to_vec(), a.0.to_vec()].concat();
    for (spec, at) in clients() {
        let st = at.storage();
        let keys = st.entry(calls::storage::keys()).unwrap().fetch_key((5u16, 9u16)).unwrap();
        assert_eq!(keys, [prefix("Keys"), 5u16.to_le_bytes().to_vec(), 9u16.to_le_bytes().to_vec()].concat(), "{spec}");
        let axons = st.entry(calls::storage::axons()).unwrap().fetch_key((5u16, hotkey)).unwrap();
        assert_eq!(axons, [prefix("Axons"), 5u16.to_le_bytes().to_vec(), b2c(&hotkey)].concat(), "{spec}");
        let alpha = st.entry(calls::storage::total_hotkey_alpha()).unwrap().fetch_key((hotkey, 5u16)).unwrap();
        assert_eq!(alpha, [prefix("TotalHotkeyAlpha"), b2c(&hotkey), 5u16.to_le_bytes().to_vec()].concat(), "{spec}");
        let owner = st.entry(calls::storage::owner()).unwrap().fetch_key((hotkey,)).unwrap();
        assert_eq!(owner, [prefix("Owner"), b2c(&hotkey)].concat(), "{spec}");
        for (item, key) in [
            ("SubnetworkN", st.entry(calls::storage::subnetwork_n()).unwrap().fetch_key((5u16,)).unwrap()),
            ("Incentive", st.entry(calls::storage::incentive()).unwrap().fetch_key((5u16,)).unwrap()),
            ("ValidatorPermit", st.entry(calls::storage::validator_permit()).unwrap().fetch_key((5u16,)).unwrap()),
            ("LastUpdate", st.entry(calls::storage::last_update()).unwrap().fetch_key((5u16,)).unwrap()),
            ("Tempo", st.entry(calls::storage::tempo()).unwrap().fetch_key((5u16,)).unwrap()),
            ("WeightsVersionKey", st.entry(calls::storage::weights_version_key()).unwrap().fetch_key((5u16,)).unwrap()),
            (
                "CommitRevealWeightsEnabled",
                st.entry(calls::storage::commit_reveal_enabled()).unwrap().fetch_key((5u16,)).unwrap(),
            ),
        ] {
            assert_eq!(key, [prefix(item), 5u16.to_le_bytes().to_vec()].concat(), "{spec} {item}");
        }
        let uids = st.entry(calls::storage::uids()).unwrap().fetch_key((5u16, hotkey)).unwrap();
        assert_eq!(uids, [prefix("Uids"), 5u16.to_le_bytes().to_vec(), b2c(&hotkey)].concat(), "{spec}");
        // Wrong number of key parts is refused, not silently encoded.
        let wrong = subxt::dynamic::storage::<(u16,), AccountId32>(calls::PALLET, "Keys");
        assert!(st.entry(wrong).unwrap().fetch_key((5u16,)).is_err(), "{spec}");
    }
}

#[test]
fn signed_extrinsics_build_and_decode_for_both_runtimes() {
    let key = Sr25519Key::from_uri("//ChronoSeekTestValidator").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (spec, at) in clients() {
        let payload = calls::set_weights(3, &[1, 2], &[65535, 100], 0);
        let params = DefaultExtrinsicParamsBuilder::<SubstrateConfig>::new().nonce(7).immortal().build();
        let mut signable = at.tx().create_signable_offline(&payload, params).unwrap();
        let to_sign = signable.signer_payload().unwrap();
        let signed = signable.sign(&ExtrinsicSigner(&key)).unwrap();
        let bytes = signed.encoded().to_vec();
        let exts = rt.block_on(at.extrinsics().from_bytes(vec![bytes.clone()]));
        let ext = exts.iter().next().expect("one extrinsic").expect("decodes");
        assert!(ext.is_signed(), "spec {spec}");
        assert_eq!((ext.pallet_name(), ext.call_name()), ("SubtensorModule", "set_weights"), "spec {spec}");
        assert_eq!(ext.transaction_extensions().and_then(|x| x.nonce()), Some(7), "spec {spec}");
        // MultiAddress::Id(account): variant 0 then the 32 bytes of our public key.
        assert_eq!(ext.address_bytes().unwrap(), [vec![0u8], key.public_key().0.to_vec()].concat(), "spec {spec}");
        // MultiSignature::Sr25519 (variant 1) over the signer payload, verifiable with our key.
        let sig = ext.signature_bytes().unwrap();
        assert_eq!(sig[0], 1, "spec {spec}");
        let sig: [u8; 64] = sig[1..65].try_into().unwrap();
        assert!(subxt_signer::sr25519::verify(&subxt_signer::sr25519::Signature(sig), &to_sign, &key.public_key()));
    }
}

#[test]
fn runtime_errors_we_report_exist_by_name_in_both() {
    for (spec, at) in clients() {
        let pallet = at.metadata_ref().pallet_by_name(calls::PALLET).unwrap();
        for name in
            ["SettingWeightsTooFast", "CommitRevealEnabled", "WeightVecNotEqualSize", "HotKeyNotRegisteredInSubNet"]
        {
            assert!(pallet.error_variants().is_some_and(|v| v.iter().any(|x| x.name == name)), "spec {spec}: {name}");
        }
    }
}
