//! `chronoseek miner` and `chronoseek query` as processes: a signed request from the client to
//! the server over 127.0.0.1, graceful shutdown on SIGTERM, and two replicas sharing one store
//! on an S3 server (moto on 127.0.0.1).

mod common;

use std::process::Command;

use chronoseek::chain::{LocalChain, Metagraph, Neuron};
use chronoseek::protocol::epistula::Signer;

/// A dev-chain metagraph where `//ChronoSeekTestValidator` holds enough stake to be served.
fn staked_validator_metagraph(dir: &std::path::Path) -> std::path::PathBuf {
    let validator = Signer::from_uri("//ChronoSeekTestValidator").unwrap();
    let metagraph = dir.join("metagraph.json");
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
    metagraph
}

#[test]
fn query_client_talks_to_the_miner_process() {
    let dir = tempfile::tempdir().unwrap();
    let metagraph = staked_validator_metagraph(dir.path());
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

#[test]
fn miner_replicas_on_one_s3_store_share_what_either_ingested() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let metagraph = staked_validator_metagraph(dir.path());
    let s3 = common::S3Server::get();
    let uri = s3.new_uri();
    // Two replicas on one store on object storage, as behind a load balancer.
    let replica = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
            .envs(s3.env())
            .args(["--store", &uri, "--model-dir"])
            .arg(common::tiny_model_dir())
            .args(["--json", "miner", "--host", "127.0.0.1", "--port", "0", "--allow-private-video-urls"])
            .args(["--audio", "off", "--metagraph-file"])
            .arg(&metagraph)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut first = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        let info: serde_json::Value = serde_json::from_str(&first).expect("the miner prints where it listens");
        let port: u16 = info["listening"].as_str().and_then(|l| l.rsplit(':').next()).unwrap().parse().unwrap();
        (child, format!("http://127.0.0.1:{port}"))
    };
    let (mut a, endpoint_a) = replica();
    let (mut b, endpoint_b) = replica();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(common::TestServer::start(common::root().join("data/fixtures/videos")));
    let ask = |endpoint: &str| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
            .args([
                "--json",
                "query",
                "--endpoint",
                endpoint,
                "--hotkey-uri",
                "//ChronoSeekTestValidator",
                "--video-url",
            ])
            .arg(server.url("scenes.webm"))
            .args(["--query", "a cyan screen", "--top-k", "2"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = ask(&endpoint_a);
    assert_eq!(first["miner_metadata"]["cache"], "miss", "replica A ingests the new video");
    // Within the store's read-consistency interval the other replica sees it.
    std::thread::sleep(chronoseek::index::READ_CONSISTENCY + std::time::Duration::from_millis(300));
    let gets = server.gets.load(std::sync::atomic::Ordering::SeqCst);
    let second = ask(&endpoint_b);
    assert_eq!(second["miner_metadata"]["cache"], "hit", "replica B finds what A ingested: {second}");
    assert_eq!(second["miner_metadata"]["fingerprint"], first["miner_metadata"]["fingerprint"]);
    assert_eq!(server.gets.load(std::sync::atomic::Ordering::SeqCst), gets, "B downloaded nothing");
    assert_eq!(second["results"], first["results"]);
    for m in [&mut a, &mut b] {
        let _ = m.kill();
        let _ = m.wait();
    }
}
