//! `chronoseek validator` as a process on a dev subnet with a real `chronoseek miner` process:
//! the miner announces its axon, the validator evaluates it, and a `kill -9` mid-run loses
//! nothing but the step in flight: the restarted validator continues from the saved scores.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chronoseek::chain::{Chain, LocalChain};

fn chronoseek() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chronoseek"))
}

fn state_steps(path: &Path) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["steps"].as_u64()
}

fn validator(dir: &Path, chain: &str, tasks: &Path, extra: &[&str]) -> Child {
    chronoseek()
        .args(["validator", "--network", chain, "--hotkey-uri", "//cli-validator", "--task-dataset-path"])
        .arg(tasks)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(["--step-interval", "0.2", "--miner-timeout", "60", "--seed", "3", "--top-k", "3"])
        // Remixed tasks (the default), served from 127.0.0.1 on any free port.
        .args(["--media-host", "127.0.0.1", "--media-port", "0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn the_validator_survives_kill_9_and_continues_from_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let chain_file = dir.path().join("chain.json");
    let chain = format!("file:{}", chain_file.display());
    let out = chronoseek()
        .args(["chain", "init-local", "--network", &chain, "--miners", "1", "--miner-base-port", "1"])
        .args(["--validator-hotkey", "//cli-validator", "--block-seconds", "0.05", "--tempo", "4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let store = dir.path().join("store");
    let model = common::root().join("data/fixtures/models/chronoseek-tiny-clip");
    let (mut miner, port) = common::spawn_miner(
        &["--store".as_ref(), store.as_os_str(), "--model-dir".as_ref(), model.as_os_str()],
        &["--network", &chain, "--hotkey-uri", "//chronoseek-miner-1"],
    );
    // The miner announced its real port on the chain (serve_axon).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let m = rt.block_on(LocalChain::new(&chain_file).metagraph()).unwrap();
    assert_eq!(m.neurons[1].axon.map(|a| a.port), Some(port));

    let server = rt.block_on(common::TestServer::start(common::root().join("data/fixtures/videos")));
    let tasks = dir.path().join("tasks.json");
    let task = |id: &str, q: &str, s: f64, e: f64| {
        serde_json::json!({"task_id": id, "video_url": server.url("scenes.mp4"), "query": q,
                           "ground_truths": [{"start": s, "end": e}]})
    };
    let file =
        serde_json::json!({"tasks": [task("r", "a red screen", 0.0, 10.0), task("g", "a green screen", 10.0, 20.0)]});
    std::fs::write(&tasks, file.to_string()).unwrap();

    // Run until two steps are saved, then kill -9.
    let state = dir.path().join("state/state.json");
    let mut v = validator(dir.path(), &chain, &tasks, &[]);
    let deadline = Instant::now() + Duration::from_secs(120);
    while state_steps(&state).unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "the validator made no progress");
        assert!(v.try_wait().unwrap().is_none(), "the validator exited early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // ... and the next remix is being rendered.
    let media_dir = dir.path().join("state/media");
    let rendering = || {
        std::fs::read_dir(&media_dir)
            .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(".part-")))
            .unwrap_or(false)
    };
    while !rendering() {
        assert!(Instant::now() < deadline, "no remix was seen being rendered");
        std::thread::sleep(Duration::from_millis(5));
    }
    v.kill().unwrap(); // SIGKILL, mid-render
    v.wait().unwrap();
    // The encoder died with it (parent-death signal): no process still writes into the folder.
    let encoders = || {
        let needle = media_dir.display().to_string();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .filter(|c| String::from_utf8_lossy(c).contains(&needle))
            .count()
    };
    let gone = Instant::now() + Duration::from_millis(500);
    while encoders() > 0 {
        assert!(Instant::now() < gone, "an ffmpeg outlived the killed validator");
        std::thread::sleep(Duration::from_millis(20));
    }
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state).unwrap()).expect("state is whole after kill -9");
    let n = saved["steps"].as_u64().unwrap();
    let score_before = saved["scores"]["uids"][1]["score"].as_f64().unwrap();
    assert!(score_before > 0.0, "{saved}");

    // Restart: it continues from the saved state (steps and scores), and stops after
    // --max-steps more steps (the limit counts this run, it is not restored from the state).
    let mut v = validator(dir.path(), &chain, &tasks, &["--max-steps", "2"]);
    let status = loop {
        if let Some(s) = v.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline + Duration::from_secs(60), "the restarted validator did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    let after: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(after["steps"].as_u64(), Some(n + 2));
    let score_after = after["scores"]["uids"][1]["score"].as_f64().unwrap();
    // Two more steps can at most move the score by 1 - 0.9^2 of the way: it was not re-seeded.
    assert!(score_after >= score_before * 0.81 - 1e-9, "{score_before} -> {score_after}");
    assert!(!LocalChain::new(&chain_file).weights_log().unwrap().is_empty(), "weights were set");
    // The kill left no served token and no half-made file behind: the restart emptied the
    // media folder and every step retired its own; the source cache holds the one video.
    let media: Vec<_> =
        std::fs::read_dir(dir.path().join("state/media")).unwrap().flatten().map(|e| e.path()).collect();
    assert!(media.is_empty(), "{media:?}");
    let mut sources: Vec<String> = std::fs::read_dir(dir.path().join("state/sources"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    sources.sort();
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(sources[0].ends_with(".video") && sources[1] == "index.json", "{sources:?}");
    let steps = std::fs::read_to_string(dir.path().join("state/steps.jsonl")).unwrap();
    assert!(steps.lines().all(|l| l.contains(r#""task_mode":"remix""#)), "{steps}");

    Command::new("kill").args(["-TERM", &miner.id().to_string()]).status().unwrap();
    assert!(miner.wait().unwrap().success());
}

#[test]
fn max_steps_ends_a_run_whose_tasks_are_all_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let chain_file = dir.path().join("chain.json");
    let chain = format!("file:{}", chain_file.display());
    let out = chronoseek()
        .args(["chain", "init-local", "--network", &chain, "--miners", "1", "--miner-base-port", "1"])
        .args(["--validator-hotkey", "//cli-validator", "--block-seconds", "0.05", "--tempo", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tasks = dir.path().join("tasks.json");
    let file = serde_json::json!({"tasks": [{"task_id": "gone", "video_url": "http://127.0.0.1:9/gone.mp4",
        "query": "q", "ground_truths": [{"start": 0.0, "end": 1.0}]}]});
    std::fs::write(&tasks, file.to_string()).unwrap();
    // Remixed tasks (the default) need an address miners can reach: listening on 0.0.0.0
    // without --media-public-url is refused with a message that says so.
    let out = chronoseek()
        .args(["validator", "--network", &chain, "--hotkey-uri", "//cli-validator", "--task-dataset-path"])
        .arg(&tasks)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--media-port", "0", "--max-steps", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--media-public-url") && stderr.contains("MEDIA_PUBLIC_URL"), "{stderr}");

    let mut v = chronoseek()
        .args(["validator", "--network", &chain, "--hotkey-uri", "//cli-validator", "--task-dataset-path"])
        .arg(&tasks)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--step-interval", "0.1", "--max-steps", "3", "--task-mode", "dataset"])
        .env("ACCESSIBLE_VIDEO_CACHE_PATH", dir.path().join("ok.json"))
        .env("INACCESSIBLE_VIDEO_CACHE_PATH", dir.path().join("bad.json"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = v.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            v.kill().unwrap();
            panic!("--max-steps did not end a run with no reachable task");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}
