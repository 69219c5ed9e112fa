//! The dev chain: `chain init-local`, its block clock, the weights log with the SDK's u16
//! conversion, serve_axon, and the refusals a real chain would give.

use std::process::Command;

use chronoseek::chain::{Chain, ChainError, LocalChain, ServeOutcome, WeightsOutcome};
use chronoseek::protocol::Sr25519Key;

fn init(dir: &std::path::Path, extra: &[&str]) -> std::path::PathBuf {
    let file = dir.join("chain.json");
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["--json", "chain", "init-local", "--network"])
        .arg(format!("file:{}", file.display()))
        .args(["--netuid", "7", "--miners", "2"])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    file
}

#[tokio::test]
async fn a_dev_subnet_counts_blocks_logs_weights_and_serves_axons() {
    let dir = tempfile::tempdir().unwrap();
    let file = init(dir.path(), &["--block-seconds", "0.05", "--tempo", "3", "--miner-base-port", "9100"]);
    let chain = LocalChain::new(&file);
    let m = chain.metagraph().await.unwrap();
    assert_eq!((m.netuid, m.neurons.len()), (7, 3));
    let validator = Sr25519Key::from_uri("//chronoseek-validator").unwrap();
    assert_eq!(m.neurons[0].hotkey, validator.ss58());
    assert!(m.neurons[0].validator_permit && m.neurons[0].stake >= 10_000.0);
    assert_eq!(m.neurons[2].axon.map(|a| a.port), Some(9101));
    assert_eq!(chain.tempo().await.unwrap(), 3);

    // The clock advances with wall time.
    let b0 = chain.current_block().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(chain.current_block().await.unwrap() >= b0 + 3);

    // set_weights: u16 conversion, appended to the log with the caller's uid.
    let out = chain.set_weights(&validator, &[0, 1, 2], &[0.0, 0.75, 0.25]).await.unwrap();
    let WeightsOutcome::Set { weights, .. } = out else { panic!("{out:?}") };
    assert_eq!((weights.uids.clone(), weights.weights.clone()), (vec![1, 2], vec![65535, 21845]));
    assert_eq!(chain.set_weights(&validator, &[1], &[0.0]).await.unwrap(), WeightsOutcome::NothingToSet);
    let log = chain.weights_log().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].uid, log[0].netuid, log[0].weights.clone()), (0, 7, vec![65535, 21845]));
    assert!(matches!(chain.set_weights(&validator, &[1, 2], &[1.0]).await, Err(ChainError::Weights(_))));
    let stranger = Sr25519Key::from_uri("//stranger").unwrap();
    assert!(matches!(chain.set_weights(&stranger, &[1], &[1.0]).await, Err(ChainError::NotRegistered { .. })));

    // serve_axon: recorded, skipped when unchanged, refused for unregistered hotkeys.
    let miner = Sr25519Key::from_uri("//chronoseek-miner-1").unwrap();
    let ip = "127.0.0.1".parse().unwrap();
    assert_eq!(chain.serve_axon(&miner, ip, 9555).await.unwrap(), ServeOutcome::Served);
    assert_eq!(chain.serve_axon(&miner, ip, 9555).await.unwrap(), ServeOutcome::Unchanged);
    assert_eq!(chain.metagraph().await.unwrap().neurons[1].axon.map(|a| a.port), Some(9555));
    assert!(matches!(chain.serve_axon(&stranger, ip, 1).await, Err(ChainError::NotRegistered { .. })));

    // `chain show` reads it through the same options.
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["--json", "chain", "show", "--netuid", "7", "--network"])
        .arg(format!("file:{}", file.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tempo"], 3);
    assert_eq!(v["metagraph"]["neurons"][1]["axon"]["port"], 9555);
    // A different NETUID is refused rather than read as the wrong subnet.
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["chain", "show", "--netuid", "8", "--network"])
        .arg(format!("file:{}", file.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn init_local_refuses_to_overwrite_and_check_metadata_reads_both_runtimes() {
    let dir = tempfile::tempdir().unwrap();
    let file = init(dir.path(), &[]);
    let again = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["chain", "init-local", "--netuid", "7", "--network"])
        .arg(format!("file:{}", file.display()))
        .output()
        .unwrap();
    assert!(!again.status.success());
    for f in ["subtensor_spec218_metadata_v14.scale", "subtensor_spec393_metadata_v16.scale"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/chain").join(f);
        let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
            .args(["--json", "chain", "check-metadata"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{f}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["set_weights"].as_str().unwrap().starts_with("0700"), "{v}");
    }
}

fn cli(args: &[&str], file: &std::path::Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .arg("--json")
        .args(args)
        .arg("--network")
        .arg(format!("file:{}", file.display()))
        .args(["--netuid", "7"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn weights_commit_by_hand_then_the_dev_chain_reveals_it() {
    let dir = tempfile::tempdir().unwrap();
    let file =
        init(dir.path(), &["--block-seconds", "0.05", "--tempo", "3", "--commit-reveal", "--beacon-period-ms", "100"]);
    let key = ["--hotkey-uri", "//chronoseek-validator"];
    let commit = ["weights", "commit", "--uids", "1,2", "--weights", "0.7,0.3"];
    let dry = cli(&[&commit[..], &key[..], &["--dry-run"]].concat(), &file);
    assert_eq!(dry["sent"], false);
    assert_eq!(dry["commit"]["payload"]["uids"], serde_json::json!([1, 2]));
    assert_eq!(dry["commit"]["payload"]["values"], serde_json::json!([65535, 28086]));
    assert_eq!(dry["commit_bytes"].as_u64().unwrap() as usize, dry["commit"]["ciphertext"].as_str().unwrap().len() / 2);
    assert_eq!(dry["max_uids"], 1177);
    let chain = LocalChain::new(&file);
    assert!(chain.commits().unwrap().is_empty(), "a dry run sends nothing");

    let sent = cli(&[&commit[..], &key[..]].concat(), &file);
    assert_eq!(sent["sent"], true);
    let shown = cli(&["chain", "show"], &file);
    assert_eq!(shown["commit_reveal"], true);
    let pending = shown["pending_commits"].as_array().unwrap();
    // Revealed already if the beacon and block clock got there first; otherwise listed.
    if let Some(p) = pending.first() {
        assert_eq!(p["hotkey"], Sr25519Key::from_uri("//chronoseek-validator").unwrap().ss58());
        assert_eq!(p["reveal_round"], sent["commit"]["reveal_round"]);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let log = loop {
        let log = chain.weights_log().unwrap();
        if !log.is_empty() {
            break log;
        }
        assert!(std::time::Instant::now() < deadline, "{:#?}", chain.commits().unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!((log[0].uids.clone(), log[0].weights.clone()), (vec![1, 2], vec![65535, 28086]));
    assert!(log[0].block >= sent["commit"]["reveal_block"].as_u64().unwrap());
    assert!(cli(&["chain", "show"], &file)["pending_commits"].as_array().unwrap().is_empty());
}

/// A dev chain file that is not there says how to make one; one that is not JSON keeps the
/// parser's error as its source.
#[tokio::test]
async fn a_missing_or_broken_chain_file_is_said_as_such() {
    use chronoseek::chain::Network;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.json");
    let err = chronoseek::chain::open(&Network::File(missing.clone()), 7).await.err().unwrap();
    assert!(matches!(&err, ChainError::NoChainFile { path } if path.ends_with("none.json")), "{err}");
    assert!(err.to_string().contains("chain init-local"), "{err}");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{ not json").unwrap();
    let err = chronoseek::chain::open(&Network::File(broken), 7).await.err().unwrap();
    let source = std::error::Error::source(&err).expect("the parser's error is kept");
    assert!(matches!(err, ChainError::File { .. }) && source.is::<serde_json::Error>(), "{err}");
}
