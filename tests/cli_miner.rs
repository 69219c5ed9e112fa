//! `chronoseek miner` and `chronoseek query` as processes: a signed request from the client to
//! the server over 127.0.0.1, and graceful shutdown on SIGTERM.

mod common;

use std::process::Command;

use chronoseek::chain::{LocalChain, Metagraph, Neuron};
use chronoseek::protocol::epistula::Signer;

#[test]
fn query_client_talks_to_the_miner_process() {
    let dir = tempfile::tempdir().unwrap();
    let validator = Signer::from_uri("//ChronoSeekTestValidator").unwrap();
    let metagraph = dir.path().join("metagraph.json");
    LocalChain::write(
        &metagraph,
        &Metagraph {
            netuid: 1,
            block: 0,
            neurons: vec![Neuron {
                uid: 0,
                hotkey: validator.hotkey(),
                coldkey: String::new(),
                stake: 50_000.0,
                axon: None,
                incentive: 0.0,
                validator_permit: true,
                last_update: 0,
            }],
        },
    )
    .unwrap();
    let store = dir.path().join("store");
    let metagraph_arg = metagraph.display().to_string();
    let (mut miner, port) = common::spawn_miner(
        &["--store".as_ref(), store.as_os_str(), "--model-dir".as_ref(), common::tiny_model_dir().as_os_str()],
        &["--metagraph-file", &metagraph_arg],
    );
    let endpoint = format!("http://127.0.0.1:{port}");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(common::TestServer::start(common::root().join("data/fixtures/videos")));
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["--json", "query", "--endpoint", &endpoint, "--hotkey-uri", "//ChronoSeekTestValidator", "--video-url"])
        .arg(server.url("scenes.webm"))
        .args(["--query", "a cyan screen", "--top-k", "2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&common::schema("video-search-response.schema.json"), &v);
    assert!(v["results"].as_array().unwrap().len() <= 2);

    // An unstaked key is refused: exit code 2 (INVALID_REQUEST) and the miner's message.
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["query", "--endpoint", &endpoint, "--hotkey-uri", "//Nobody", "--video-url"])
        .arg(server.url("scenes.webm"))
        .args(["--query", "q"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("403"), "{}", String::from_utf8_lossy(&out.stderr));

    // SIGTERM: the miner exits cleanly.
    let pid = miner.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = miner.wait().unwrap();
    assert!(status.success(), "{status}");
}
