//! Commit-reveal against the Python SDK, offline: `../shared/chain/drand_quicknet_vectors.json`
//! holds real drand quicknet signatures (rounds 1 and 1,000,000), ciphertexts that
//! `bittensor-drand` 2.0.0 made of SCALE weight payloads, and reveal rounds it computed for
//! recorded epoch-schedule states. Our decryption must open theirs, theirs must open ours
//! (a throwaway venv with bittensor-drand from PyPI), and the call must encode against the
//! spec-393 runtime metadata.

mod common;

use chronoseek::chain::U16Weights;
use chronoseek::chain::commit_reveal::{
    Beacon, CommitError, CommitRequest, EpochScheduleState, MAX_COMMIT_BYTES, RevealSchedule, WeightsTlockPayload,
    commit_len, max_uids_per_commit, prepare_commit,
};
use chronoseek::chain::subtensor::{calls, offline_client};
use chronoseek_timelock::{Error, Signature, decrypt};
use parity_scale_codec::{Decode, Encode};
use serde_json::Value;

fn vectors() -> Value {
    let path = common::shared().join("chain/drand_quicknet_vectors.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn hex_of(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn signature(v: &Value, round: u64) -> Signature {
    Signature::from_bytes(&hex_of(&v["signatures"][round.to_string()])).unwrap()
}

fn u16s(v: &Value) -> Vec<u16> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u16).collect()
}

/// `bittensor_drand.encrypt_at_round` wraps the timelock ciphertext as SCALE
/// `UserData { encrypted_data: Vec<u8>, reveal_round: u64 }`.
fn unwrap_user_data(bytes: &[u8]) -> (Vec<u8>, u64) {
    <(Vec<u8>, u64)>::decode(&mut &bytes[..]).unwrap()
}

#[test]
fn quicknet_signatures_verify_against_the_public_key() {
    let v = vectors();
    let beacon = Beacon::quicknet();
    assert_eq!(hex::encode(beacon.public_key.to_bytes()), v["quicknet"]["public_key_hex"].as_str().unwrap());
    assert_eq!(beacon.genesis_unix_ms / 1000, v["quicknet"]["genesis_time"].as_u64().unwrap());
    assert_eq!(beacon.period_ms / 1000, v["quicknet"]["period_s"].as_u64().unwrap());
    for round in [1u64, 1_000_000] {
        assert!(beacon.public_key.verify(round, &signature(&v, round)), "round {round}");
    }
    assert!(!beacon.public_key.verify(2, &signature(&v, 1)), "a signature verifies only for its round");
}

#[test]
fn python_ciphertexts_open_with_their_rounds_signature_and_payloads_match() {
    let v = vectors();
    let commits = v["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 6);
    for c in commits {
        let round = c["round"].as_u64().unwrap();
        let (ciphertext, wrapped_round) = unwrap_user_data(&hex_of(&c["ciphertext_hex"]));
        assert_eq!(wrapped_round, round);
        let expected = hex_of(&c["payload_scale_hex"]);
        // Our SCALE encoding of the same payload is Python's byte for byte.
        let payload = WeightsTlockPayload {
            hotkey: hex_of(&c["hotkey_hex"]),
            uids: u16s(&c["uids"]),
            values: u16s(&c["values"]),
            version_key: c["version_key"].as_u64().unwrap(),
        };
        assert_eq!(payload.encode(), expected, "payload encoding, {} uids", payload.uids.len());
        assert_eq!(ciphertext.len(), expected.len() + chronoseek_timelock::OVERHEAD);
        assert_eq!(decrypt(&ciphertext, &signature(&v, round)).unwrap(), expected);
        let other = if round == 1 { 1_000_000 } else { 1 };
        assert_eq!(decrypt(&ciphertext, &signature(&v, other)), Err(Error::WrongSignature));
    }
}

fn weights(uids: &[u16], values: &[u16]) -> U16Weights {
    U16Weights { uids: uids.to_vec(), weights: values.to_vec() }
}

fn schedule() -> RevealSchedule {
    RevealSchedule::Legacy { tempo: 360, current_block: 1000, netuid: 1, reveal_period_epochs: 1 }
}

fn commit_for(round: u64, w: &U16Weights) -> Result<chronoseek::chain::PreparedCommit, CommitError> {
    prepare_commit(CommitRequest {
        beacon: &Beacon::quicknet(),
        hotkey: [0xd4; 32],
        weights: w,
        version_key: 843_000,
        schedule: schedule(),
        block_time_s: 12.0,
        now_unix: 1_796_016_031.0,
        reveal_round: Some(round),
    })
}

/// A venv with bittensor-drand 2.0.0, or the reason there is none.
fn python_drand(dir: &std::path::Path) -> Result<std::path::PathBuf, String> {
    let venv = dir.join("venv");
    let ok = |c: &mut std::process::Command| c.status().map(|s| s.success()).unwrap_or(false);
    if !ok(std::process::Command::new("python3").arg("--version").stdout(std::process::Stdio::null())) {
        return Err("python3 is not installed".into());
    }
    if !ok(std::process::Command::new("python3").args(["-m", "venv"]).arg(&venv)) {
        panic!("python3 is installed but cannot create a venv (install python3-venv: `make deps`)");
    }
    let python = venv.join("bin/python");
    let installed = ok(std::process::Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "bittensor-drand==2.0.0",
    ]));
    assert!(installed, "pip could not install bittensor-drand 2.0.0 from PyPI");
    Ok(python)
}

#[test]
fn our_commits_open_with_real_signatures_here_and_in_python() {
    let v = vectors();
    let w = weights(&[0, 1, 7], &[65535, 32768, 1]);
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    for round in [1u64, 1_000_000] {
        let c = commit_for(round, &w).unwrap();
        assert_eq!(c.reveal_round, round);
        assert_eq!(c.ciphertext.len(), commit_len(3));
        assert_eq!(decrypt(&c.ciphertext, &signature(&v, round)).unwrap(), c.payload_scale);
        // Fresh randomness every time: the same payload never gives the same bytes.
        assert_ne!(commit_for(round, &w).unwrap().ciphertext, c.ciphertext);
        let wrapped = (c.ciphertext.clone(), round).encode();
        let sig = v["signatures"][round.to_string()].as_str().unwrap().to_string();
        cases.push(
            serde_json::json!({"data": hex::encode(wrapped), "sig": sig, "payload": hex::encode(&c.payload_scale)}),
        );
    }
    let python = match python_drand(dir.path()) {
        Ok(p) => p,
        Err(reason) => {
            eprintln!("SKIPPED the Python half of this test: {reason}");
            return;
        }
    };
    let cases_path = dir.path().join("cases.json");
    std::fs::write(&cases_path, serde_json::to_vec(&cases).unwrap()).unwrap();
    let script = r#"
import json, sys, bittensor_drand as b
for c in json.load(open(sys.argv[1])):
    out = b.decrypt_with_signature(bytes.fromhex(c["data"]), c["sig"])
    assert out.hex() == c["payload"], (out.hex(), c["payload"])
    print("python opened", len(out), "bytes")
"#;
    let out = std::process::Command::new(&python).arg("-c").arg(script).arg(&cases_path).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "bittensor-drand could not decrypt our commit:\n{text}");
    assert_eq!(text.matches("python opened").count(), 2, "{text}");
}

#[test]
fn reveal_rounds_equal_pythons_within_one_round() {
    let v = vectors();
    let beacon = Beacon::quicknet();
    for case in v["reveal_round_cases"].as_array().unwrap() {
        let n = |k: &str| case[k].as_u64().unwrap();
        let schedule = RevealSchedule::Epochs {
            state: EpochScheduleState {
                last_epoch_block: n("last_epoch_block"),
                pending_epoch_at: n("pending_epoch_at"),
                subnet_epoch_index: n("subnet_epoch_index"),
                tempo: n("tempo"),
                blocks_since_last_step: n("blocks_since_last_step"),
                current_block: n("current_block"),
            },
            reveal_period_epochs: n("subnet_reveal_period_epochs"),
        };
        let ours = schedule
            .reveal_round(case["now_unix"].as_f64().unwrap(), case["block_time"].as_f64().unwrap(), &beacon)
            .unwrap();
        let theirs = n("reveal_round");
        assert!(ours.abs_diff(theirs) <= 1, "ours {ours}, python {theirs}: {case}");
        eprintln!(
            "reveal round: ours {ours}, python {theirs} (reveal block {})",
            schedule.first_reveal_block().unwrap()
        );
    }
}

#[test]
fn the_commit_call_encodes_against_spec_393_and_older_runtimes_are_named() {
    let md = std::fs::read(common::shared().join("chain/subtensor_spec393_metadata_v16.scale")).unwrap();
    let at = offline_client(&md, 393).unwrap();
    let epoch_model = calls::check_commit_reveal(at.metadata_ref()).unwrap();
    eprintln!("spec 393 epoch-schedule items present: {epoch_model}");
    let c = commit_for(1, &weights(&[0, 1], &[65535, 1])).unwrap();
    let call = at.tx().call_data(&calls::commit_timelocked_weights(7, &c.ciphertext, 123_456, 4)).unwrap();
    // pallet index, call index, netuid (u16 LE), commit (compact length + bytes), round (u64 LE),
    // version (u16 LE).
    let mut tail = 7u16.encode();
    tail.extend(c.ciphertext.encode());
    tail.extend(123_456u64.encode());
    tail.extend(4u16.encode());
    assert_eq!(call.len(), 2 + tail.len());
    assert_eq!(&call[2..], &tail[..]);
    let md = subxt::Metadata::decode_from(&md[..]).unwrap();
    let pallet = md.pallet_by_name("SubtensorModule").unwrap();
    assert_eq!(call[0], pallet.call_index(), "pallet index");
    assert_eq!(call[1], pallet.call_variant_by_name("commit_timelocked_weights").unwrap().index);

    let old = std::fs::read(common::shared().join("chain/subtensor_spec218_metadata_v14.scale")).unwrap();
    let old = offline_client(&old, 218).unwrap();
    let err = calls::check_commit_reveal(old.metadata_ref()).unwrap_err().to_string();
    assert!(err.contains("SubtensorModule::"), "{err}");
}

#[test]
fn commits_over_5000_bytes_are_refused_before_sending() {
    let max = max_uids_per_commit();
    assert_eq!(max, 1177, "the largest uid count one commit can carry");
    assert!(commit_len(max) <= MAX_COMMIT_BYTES && commit_len(max + 1) > MAX_COMMIT_BYTES);
    let uids: Vec<u16> = (0..max as u16 + 1).collect();
    let over = weights(&uids, &vec![1; uids.len()]);
    match commit_for(5, &over) {
        Err(CommitError::TooLarge { uids, bytes, max: m }) => {
            assert_eq!((uids, bytes, m), (max + 1, commit_len(max + 1), max));
        }
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let fits = weights(&uids[..max], &vec![1; max]);
    assert_eq!(commit_for(5, &fits).unwrap().ciphertext.len(), commit_len(max));
}
