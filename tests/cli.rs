//! The `chronoseek` binary as a user runs it: --help, --json output that validates against the
//! protocol schemas, distinct exit codes, and an ingest killed with SIGKILL mid-way.

mod common;

use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chronoseek"));
    // Keep the user's environment from leaking into tests.
    for k in [
        "CHRONOSEEK_STORE",
        "CHRONOSEEK_MODEL",
        "CHRONOSEEK_MODEL_DIR",
        "CHRONOSEEK_DEVICE",
        "CHRONOSEEK_AUDIO",
        "CHRONOSEEK_AUDIO_MODEL",
        "CHRONOSEEK_SERVE_TOKEN",
        "RUST_LOG",
        "LOG_LEVEL",
    ] {
        c.env_remove(k);
    }
    c
}

fn with_store(store: &std::path::Path) -> Command {
    let mut c = bin();
    c.arg("--store").arg(store).arg("--model-dir").arg(common::tiny_model_dir());
    c
}

#[test]
fn help_explains_every_global_flag_and_its_variable() {
    let out = bin().args(["search", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--store",
        "CHRONOSEEK_STORE",
        "--model ",
        "CHRONOSEEK_MODEL=",
        "--model-dir",
        "CHRONOSEEK_MODEL_DIR",
        "--device",
        "CHRONOSEEK_DEVICE",
        "--json",
        "--verbose",
        "--quiet",
        "--top-k",
        "--sampling",
        "CHRONOSEEK_SAMPLING",
    ] {
        assert!(help.contains(needle), "search --help lacks {needle}:\n{help}");
    }
    // The command's own flags come first; the twenty shared ones follow under their own heading.
    let own = help.find("--top-k").unwrap();
    let global = help.find("Global options:").expect("a 'Global options' heading");
    assert!(own < global && global < help.find("--store").unwrap(), "search --help order:\n{help}");
}

/// The bash completion script, loaded into a real bash, completes commands, flags and the
/// names a flag takes (and nothing for a shell it does not know).
#[test]
fn bash_completion_completes_commands_flags_and_names() {
    let out = bin().args(["--quiet", "completions", "bash"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("chronoseek.bash");
    std::fs::write(&script, &out.stdout).unwrap();
    let complete = |words: &[&str]| -> Vec<String> {
        // What bash does on Tab: COMP_WORDS/COMP_CWORD set, the function called with the
        // command, the word being completed and the one before it.
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let cword = words.len() - 1;
        let prev = if cword > 0 { words[cword - 1] } else { "" };
        let line = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={cword}; _chronoseek chronoseek '{}' '{prev}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            quoted.join(" "),
            words[cword],
        );
        let out = Command::new("bash").arg("-c").arg(&line).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
    };
    assert_eq!(complete(&["chronoseek", "lib"]), ["library"]);
    assert_eq!(complete(&["chronoseek", "library", "search", "--pi"]), ["--picture"]);
    assert_eq!(complete(&["chronoseek", "--precision", ""]), ["f32", "f16", "bf16", "q8"]);
    assert_eq!(complete(&["chronoseek", "library", "index", "--unit", ""]), ["frame", "shot"]);
    assert!(complete(&["chronoseek", "completions", ""]).contains(&"zsh".to_string()));

    let out = bin().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}

/// `library search --reel`: the moments, in rank order, as one MP4 anyone can play: the first
/// moment's frame, sound where there was sound (silence for the silent webm), each part the
/// right picture, and an existing file kept unless --force.
#[test]
fn library_search_renders_a_reel() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let folder = dir.path().join("videos");
    std::fs::create_dir_all(&folder).unwrap();
    for name in ["scenes.mp4", "scenes.webm", "rotated.mp4"] {
        std::fs::copy(common::fixture(name), folder.join(name)).unwrap();
    }
    let out = with_store(&store).args(["-q", "ingest"]).arg(&folder).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reel = dir.path().join("reel.mp4");
    let search = || {
        let mut c = with_store(&store);
        c.args(["--json", "library", "search", "a red screen", "-k", "3", "--reel"]).arg(&reel);
        c
    };
    let out = search().output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&common::repo_schema("library-search-response.schema.json"), &answer);
    let results = answer["results"].as_array().unwrap();
    let r = &answer["reel"];
    assert_eq!((r["moments"].as_u64(), r["left_out"].as_u64()), (Some(results.len() as u64), Some(0)), "{answer}");
    let spans: Vec<(f64, f64)> =
        results.iter().map(|h| (h["start"].as_f64().unwrap(), h["end"].as_f64().unwrap())).collect();
    let total: f64 = spans.iter().map(|(s, e)| e - s).sum();
    assert!((r["seconds"].as_f64().unwrap() - total).abs() < 1e-6, "{answer}");

    let probe = chronoseek::ingest::probe(&reel).unwrap();
    let first = chronoseek::ingest::probe(
        &folder.join(std::path::Path::new(results[0]["source"].as_str().unwrap()).file_name().unwrap()),
    )
    .unwrap();
    let upright = if first.rotation % 180 == 90 { (first.height, first.width) } else { (first.width, first.height) };
    assert_eq!((probe.width, probe.height), upright, "the first moment's frame");
    assert_eq!((r["width"].as_u64(), r["height"].as_u64()), (Some(upright.0 as u64), Some(upright.1 as u64)));
    assert!(probe.has_audio, "sound throughout (silence for silent parts)");
    assert!((probe.duration_s.unwrap() - total).abs() < 0.1 * spans.len() as f64, "{probe:?} vs {total}");
    // The middle of each part is the middle of its moment.
    let colour = |video: &std::path::Path, t: f64| {
        let png = chronoseek::ingest::thumbnail::thumbnail_png(video, t, 64).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        // A quarter down the middle: inside the picture when it is fitted into the reel with
        // bars, and off the seam of rotated.mp4's red-over-blue halves.
        img.get_pixel(img.width() / 2, img.height() / 4).0
    };
    let mut at = 0.0;
    for (hit, (start, end)) in results.iter().zip(&spans) {
        let source = folder.join(std::path::Path::new(hit["source"].as_str().unwrap()).file_name().unwrap());
        let (want, got) = (colour(&source, (start + end) / 2.0), colour(&reel, at + (end - start) / 2.0));
        assert!(
            want.iter().zip(got).all(|(a, b)| a.abs_diff(b) < 48),
            "{hit}: {want:?} in the source, {got:?} in the reel"
        );
        at += end - start;
    }

    // An existing reel is kept (exit 2, bytes unchanged) unless --force.
    let before = std::fs::read(&reel).unwrap();
    let out = search().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&reel).unwrap(), before);
    assert!(search().arg("--force").output().unwrap().status.success());
    // Nowhere to write: refused, and nothing left behind.
    let out = with_store(&store)
        .args(["library", "search", "a red screen", "--reel"])
        .arg(dir.path().join("no/such/dir/r.mp4"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".chronoseek-"))
        .collect();
    assert!(leftovers.is_empty());
}

/// `chronoseek doctor`: every check with a status, what fails makes the exit code, and a
/// missing `ffmpeg` program is a warning that says what needs it.
#[test]
fn doctor_checks_what_this_machine_can_do() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let run = |c: &mut Command| -> (Option<i32>, std::collections::HashMap<String, serde_json::Value>) {
        let out = c.output().unwrap();
        let first = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or_default().to_string();
        let v: serde_json::Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
        let checks = v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), c.clone()))
            .collect();
        (out.status.code(), checks)
    };
    let (code, checks) = run(with_store(&store).args(["--json", "doctor"]));
    assert_eq!(code, Some(0), "{checks:?}");
    let status = |checks: &std::collections::HashMap<String, serde_json::Value>, name: &str| {
        checks[name]["status"].as_str().unwrap().to_string()
    };
    for name in ["decoders", "ffmpeg program", "CLIP model", "store", "store lock", "disk", "time zones", "shot cuts"] {
        assert_eq!(status(&checks, name), "ok", "{name}: {:?}", checks[name]);
    }
    let zones = checks["time zones"]["detail"].as_str().unwrap();
    assert!(zones.contains(" known; this machine's: "), "{zones}");
    // A TZ that names no zone (a typo) is said, not silently taken for UTC.
    let (code, typo) = run(with_store(&store).env("TZ", "Europe/Berln").args(["--json", "doctor"]));
    assert_eq!((code, status(&typo, "time zones")), (Some(0), "warn".to_string()), "{typo:?}");
    assert!(typo["time zones"]["detail"].as_str().unwrap().contains("TZ=Europe/Berln names none"), "{typo:?}");
    let name = common::tiny_model_dir().file_name().unwrap().to_string_lossy().into_owned();
    let model = checks["CLIP model"]["detail"].as_str().unwrap();
    assert!(model.starts_with(&format!("{name}:")) && model.contains(" on cpu: "), "{checks:?}");
    assert_eq!(status(&checks, "library index"), "warn", "a new store has no index yet");
    assert!(checks["library index"]["hint"].as_str().unwrap().contains("library index"));

    // Another process writing to the store: said, with who it is.
    let lock_path = store.join(chronoseek::index::WRITE_LOCK_FILE);
    let lock = std::fs::File::create(&lock_path).unwrap();
    lock.lock().unwrap();
    std::fs::write(&lock_path, "pid 4242 (chronoseek)\n").unwrap();
    let (code, held) = run(with_store(&store).args(["--json", "doctor"]));
    assert_eq!((code, status(&held, "store lock")), (Some(0), "warn".to_string()), "{held:?}");
    assert!(held["store lock"]["detail"].as_str().unwrap().contains("held by pid 4242 (chronoseek)"), "{held:?}");
    lock.unlock().unwrap();

    // No ffmpeg program on PATH: clips and reels cannot work, search still can.
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, checks) = run(with_store(&store).env("PATH", &empty).args(["--json", "doctor"]));
    assert_eq!((code, status(&checks, "ffmpeg program")), (Some(0), "warn".to_string()));
    assert!(checks["ffmpeg program"]["hint"].as_str().unwrap().contains("clips"), "{checks:?}");

    // A model folder that is not there: search cannot work; exit code 2.
    let (code, checks) =
        run(bin().arg("--store").arg(&store).args(["--model-dir", "/no/such/model", "--json", "doctor"]));
    assert_eq!((code, status(&checks, "CLIP model")), (Some(2), "fail".to_string()), "{checks:?}");
}

#[test]
fn search_json_is_a_protocol_response() {
    let dir = tempfile::tempdir().unwrap();
    let out = with_store(dir.path())
        .args(["--json", "search"])
        .arg(common::fixture("scenes.webm"))
        .args(["a cyan screen", "--top-k", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    common::assert_valid(&common::schema("video-search-response.schema.json"), &v);
    assert!(v["results"].as_array().unwrap().len() <= 3);
    assert_eq!(v["miner_metadata"]["cache"], "miss");
    // Second run: the video is cached.
    let out = with_store(dir.path())
        .args(["--json", "search"])
        .arg(common::fixture("scenes.webm"))
        .arg("a cyan screen")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["miner_metadata"]["cache"], "hit");

    // For people: the ranked table, then the relevance along the video, one block character
    // per second of scenes.webm (yellow, magenta, cyan: four seconds each), highest where the
    // first result is.
    let out =
        with_store(dir.path()).arg("search").arg(common::fixture("scenes.webm")).arg("a cyan screen").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with(" 0 s  ")).unwrap_or_else(|| panic!("no relevance line:\n{text}"));
    let blocks: Vec<char> = line.trim_start_matches(" 0 s  ").chars().take_while(|c| ('▁'..='█').contains(c)).collect();
    assert_eq!(blocks.len(), 12, "{line}");
    assert!(line.ends_with(" 12 s"), "{line}");
    let first: Vec<f64> = text
        .lines()
        .find(|l| l.trim_start().starts_with("1 "))
        .unwrap()
        .split_whitespace()
        .skip(1)
        .take(2)
        .map(|s| s.trim_end_matches('s').parse().unwrap())
        .collect();
    let top = *blocks.iter().max().unwrap();
    for (i, b) in blocks.iter().enumerate() {
        assert_eq!(
            *b == top,
            (i as f64) < first[1] && (i + 1) as f64 > first[0],
            "second {i}, first result {first:?}: {line}"
        );
    }
}

#[test]
fn failures_have_distinct_exit_codes_and_json_envelopes() {
    let dir = tempfile::tempdir().unwrap();
    let err_schema = common::schema("protocol-error.schema.json");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec![common::fixture("not-a-video.mp4").display().to_string(), "x".into()], 4, "VIDEO_UNREADABLE"),
        (vec!["/no/such/video.mp4".into(), "x".into()], 3, "VIDEO_FETCH_FAILED"),
        (vec![common::fixture("scenes.webm").display().to_string(), "  ".into()], 5, "QUERY_INVALID"),
        (
            vec![common::fixture("scenes.webm").display().to_string(), "x".into(), "--top-k".into(), "0".into()],
            2,
            "INVALID_REQUEST",
        ),
        (
            vec![common::fixture("scenes.webm").display().to_string(), "x".into(), "--top-k".into(), "21".into()],
            2,
            "INVALID_REQUEST",
        ),
    ];
    for (args, code, name) in cases {
        let out = with_store(dir.path()).arg("--json").arg("search").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("error envelope on stdout");
        common::assert_valid(&err_schema, &v);
        assert_eq!(v["error"]["code"], name);
        assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty(), "a human message on stderr too");
    }
}

#[test]
fn ingest_reports_already_stored_content() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        with_store(dir.path())
            .args(["--json", "ingest"])
            .arg(common::fixture("odd.mkv"))
            .arg(common::fixture("rotated.mp4"))
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(first.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().filter(|l| l["status"] == "ingested").count(), 2);
    let second = run();
    let lines: Vec<serde_json::Value> =
        String::from_utf8(second.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().filter(|l| l["status"] == "already_stored").count(), 2);
    let summary = lines.iter().find(|l| l.get("summary").is_some()).expect("summary line");
    assert_eq!(summary["summary"]["already_stored"], 2);
    // Nothing new: the library index is left as it was ("already up to date").
    let index = lines.iter().find_map(|l| l.get("library_index")).expect("index line");
    assert_eq!((index["rebuilt"].as_bool(), index["added_videos"].as_u64()), (Some(false), Some(0)));
}

/// `make demo` is the first thing a user runs: with the bundled model every fixture scene must
/// be the top result of its sentence (IoU >= 0.5), across the library too, and repeats must be
/// answered from the store.
#[test]
fn the_demo_finds_every_scene_with_the_bundled_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin().arg("--json").arg("--store").arg(dir.path().join("store")).arg("demo").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["model"].as_str().unwrap().starts_with("chronoseek-tiny-clip:"), "{}", report["model"]);
    let searches = report["searches"].as_array().unwrap();
    assert_eq!(searches.len(), 10, "one search per fixture scene");
    for s in searches {
        assert!(s["top_iou"].as_f64().unwrap() >= 0.5, "missed: {s}");
        assert_eq!(s["repeat_counters"]["videos_decoded"], 0, "{s}");
        assert_eq!(s["repeat_counters"]["image_embeddings"], 0, "{s}");
    }
    for l in report["library"].as_array().unwrap() {
        assert!(l["top_iou"].as_f64().unwrap() >= 0.5, "library missed: {l}");
    }
    assert_eq!(report["found"]["scenes"], 10, "{}", report["found"]);
    assert_eq!(report["found"]["library"], report["found"]["of_library"], "{}", report["found"]);
}

/// `train-tiny` end to end on a tiny budget: generated videos and plain screens in, a model the
/// normal loader reads and the recipe that made it out.
#[test]
fn train_tiny_writes_a_model_and_its_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    let out = bin()
        .arg("--json")
        .args(["train-tiny", "--steps", "3", "--videos", "2", "--out"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("training.json")).unwrap()).unwrap();
    assert_eq!(report["command"], "chronoseek train-tiny --seed 1 --steps 3 --videos 2", "{report}");
    assert_eq!(report["steps"], 3, "{report}");
    // 13 colours alone and 13 x 12 ordered pairs, 8 frames each; 2 held out of each.
    assert_eq!(report["train_screen_captions"], 169, "{report}");
    assert_eq!(report["train_screen_frames"], 169 * 8, "{report}");
    assert_eq!(report["heldout_screen_frames"], 169 * 2, "{report}");
    assert!(report["train_captions"].as_u64().unwrap() > 169, "scene captions too: {report}");
    let top1 = report["heldout_screen_top1"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&top1), "{report}");
    // The stdout line is the same report, and the model searches a video through --model-dir.
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["model_key"], report["model_key"]);
    let search = bin()
        .arg("--model-dir")
        .arg(&model)
        .arg("--store")
        .arg(dir.path().join("store"))
        .arg("--json")
        .arg("search")
        .arg(common::root().join("data/fixtures/videos/scenes.webm"))
        .arg("a red screen")
        .output()
        .unwrap();
    assert!(search.status.success(), "{}", String::from_utf8_lossy(&search.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&search.stdout).unwrap();
    assert!(!answer["results"].as_array().unwrap().is_empty(), "{answer}");
}

#[test]
fn kill_minus_nine_mid_ingest_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("long.mkv");
    // One hour of small MPEG-4 video at 4 fps, every frame sampled (14,400 frames): several
    // seconds of work, so the kill lands mid-way however busy the machine is. (At 1 fps the
    // tiny model ingested it in about a second and a loaded machine sometimes let it finish
    // before the kill.) No index: the process ends when the video is stored.
    common::long_video(&video);
    let store = dir.path().join("store");
    let mut child = with_store(&store)
        .args(["-q", "--sampling", "4", "ingest", "--no-index"])
        .arg(&video)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the store exists (the process got going), then a little more, then SIGKILL.
    let started = std::time::Instant::now();
    while !store.join("frames.lance").exists() && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!finished_early, "the ingest finished before it could be killed; make the video longer");

    // Nothing half-written is visible.
    let out = bin().arg("--store").arg(&store).args(["--json", "store", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.trim().is_empty(), "no complete video after the kill, but store list says:\n{listed}");

    // The next run redoes it and completes.
    let out = with_store(&store).args(["--json", "--sampling", "4", "ingest"]).arg(&video).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["status"], "ingested");
    assert_eq!(first["frames"], 14_400);
    let out = bin().arg("--store").arg(&store).args(["--json", "store", "stats"]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["rows"]["videos"], 1);
    assert_eq!(stats["rows"]["frames"], 1);
}

#[test]
fn bad_settings_are_refused_at_parse_time() {
    // A NaN minimum stake would let every key through (`stake < NaN` is false).
    for bad in ["NaN", "inf", "-5"] {
        let out = bin().arg("miner").arg(format!("--min-validator-stake={bad}")).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("min-validator-stake"), "{bad}");
    }
    // The same through the environment variable.
    let out = bin().arg("miner").env("MIN_VALIDATOR_STAKE", "nan").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("finite"), "{}", String::from_utf8_lossy(&out.stderr));
    // An unparsable LOG_LEVEL is an error, not "log nothing".
    let dir = tempfile::tempdir().unwrap();
    let out = with_store(dir.path()).args(["store", "stats"]).env("LOG_LEVEL", "loud").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOG_LEVEL"));
}

#[test]
fn warnings_show_by_default_without_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    // A dev chain file for another subnet: the miner refuses it, loudly, and no ANSI escapes
    // reach a stderr that is not a terminal.
    let chain = dir.path().join("chain.json");
    let out = bin()
        .args(["chain", "init-local", "--network"])
        .arg(format!("file:{}", chain.display()))
        .args(["--miners", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = bin()
        .args(["chain", "show", "--netuid", "99", "--network"])
        .arg(format!("file:{}", chain.display()))
        .output()
        .unwrap();
    // No such subnet: the operator's mistake to fix, exit 9 (not an empty metagraph).
    assert_eq!(out.status.code(), Some(9), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("subnet 99 does not exist"));
    // A warning with no -v, RUST_LOG or LOG_LEVEL: the stale download sweep logs at info, so
    // use a miner without a hotkey on the dev chain, which warns.
    let mut child = with_store(&dir.path().join("store"))
        .args(["miner", "--port", "0", "--host", "127.0.0.1", "--network"])
        .arg(format!("file:{}", chain.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut seen = Vec::new();
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&seen).contains("WARN") {
                break;
            }
        }
        seen
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let seen = String::from_utf8_lossy(&reader.join().unwrap()).to_string();
    assert!(seen.contains("WARN") && seen.contains("hotkey"), "{seen}");
    assert!(!seen.contains('\u{1b}'), "no ANSI escapes when stderr is not a terminal: {seen:?}");
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let v = common::fixture("scenes.webm");
    let out = with_store(dir.path()).arg("ingest").arg(&v).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // `store list | head -0`: the reader is gone before the first line.
    let mut child =
        with_store(dir.path()).args(["store", "list"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?} {stderr}", out.status);
}

#[test]
fn ingest_a_folder_then_search_the_library_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // A folder with two videos (and a file that is not one, which is skipped by extension).
    let folder = dir.path().join("videos");
    std::fs::create_dir_all(folder.join("nested")).unwrap();
    std::fs::copy(common::fixture("scenes.webm"), folder.join("a.webm")).unwrap();
    std::fs::copy(common::fixture("odd.mkv"), folder.join("nested/b.mkv")).unwrap();
    std::fs::write(folder.join("notes.txt"), "not a video").unwrap();
    // What a Mac-formatted drive and a desktop trash leave beside videos, a folder marked
    // `.nomedia`, and a link back up: none of it is ingested, and none of it fails the run.
    std::fs::write(folder.join("._a.webm"), "AppleDouble metadata").unwrap();
    std::fs::create_dir_all(folder.join(".Trash-1000/files")).unwrap();
    std::fs::copy(common::fixture("scenes.mp4"), folder.join(".Trash-1000/files/deleted.mp4")).unwrap();
    std::fs::create_dir_all(folder.join("private")).unwrap();
    std::fs::write(folder.join("private/.nomedia"), "").unwrap();
    std::fs::copy(common::fixture("scenes.mp4"), folder.join("private/secret.mp4")).unwrap();
    std::os::unix::fs::symlink(&folder, folder.join("nested/up")).unwrap();
    let out = with_store(&store).args(["--json", "ingest"]).arg(&folder).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(warnings.contains("nested/up") && warnings.contains("loop"), "{warnings}");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().filter(|l| l["status"] == "ingested").count(), 2, "{lines:?}");
    assert_eq!(lines.iter().filter(|l| l.get("status").is_some()).count(), 2, "{lines:?}");
    // Ingest built the library index.
    let index = lines.iter().find_map(|l| l.get("library_index")).expect("index report");
    assert_eq!((index["videos"].as_u64(), index["rebuilt"].as_bool()), (Some(2), Some(true)));

    let out =
        with_store(&store).args(["--json", "library", "search", "a yellow screen", "--top-k", "4"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema = common::repo_schema("library-search-response.schema.json");
    common::assert_valid(&schema, &answer);
    let results = answer["results"].as_array().unwrap();
    assert!(!results.is_empty() && results.len() <= 4);
    assert_eq!(answer["stats"]["generation"], "gen-000001");
    assert_eq!(answer["stats"]["videos_scanned_exact"], 0);
    // One relevance curve per video among the results.
    let with: std::collections::BTreeSet<&str> = results.iter().map(|r| r["fingerprint"].as_str().unwrap()).collect();
    let curves: std::collections::BTreeSet<&str> =
        answer["curves"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(with, curves, "{answer}");

    // For people: each moment's interval as [h:]m:ss.s, the form `clip` and `--at` take.
    let out = with_store(&store).args(["library", "search", "a yellow screen", "--top-k", "4"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let clock = |t: f64| {
        format!("{}:{:04.1}", (t * 10.0).round() as u64 / 600, ((t * 10.0).round() as u64 % 600) as f64 / 10.0)
    };
    let first = &results[0];
    let interval = format!("{} – {}", clock(first["start"].as_f64().unwrap()), clock(first["end"].as_f64().unwrap()));
    let line = text.lines().nth(1).unwrap_or_default();
    assert!(
        line.contains(&interval) && line.contains(&first["fingerprint"].as_str().unwrap()[..12]),
        "{interval}:\n{text}"
    );

    // The same moments as playlists: VLC's M3U (start and stop per moment) and mpv's EDL.
    let m3u = dir.path().join("moments.m3u");
    let out = with_store(&store)
        .args(["--json", "library", "search", "a yellow screen", "--top-k", "4", "--playlist"])
        .arg(&m3u)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&schema, &listed);
    let n = listed["results"].as_array().unwrap().len();
    assert_eq!(
        (listed["playlist"]["moments"].as_u64(), listed["playlist"]["left_out"].as_u64()),
        (Some(n as u64), Some(0))
    );
    let text = std::fs::read_to_string(&m3u).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!((lines[0], lines.len()), ("#EXTM3U", 1 + 4 * n), "{text}");
    for (i, hit) in listed["results"].as_array().unwrap().iter().enumerate() {
        let entry = &lines[1 + 4 * i..5 + 4 * i];
        assert_eq!(entry[1], format!("#EXTVLCOPT:start-time={:.3}", hit["start"].as_f64().unwrap()), "{text}");
        assert_eq!(entry[2], format!("#EXTVLCOPT:stop-time={:.3}", hit["end"].as_f64().unwrap()), "{text}");
        let file = std::path::Path::new(entry[3]);
        assert!(file.is_absolute() && file.is_file(), "{text}");
        let fp = chronoseek::fingerprint::Fingerprint::of(&std::fs::read(file).unwrap()).to_hex();
        assert_eq!(fp, hit["fingerprint"].as_str().unwrap(), "the moment's own video");
    }
    let edl = dir.path().join("reel.edl");
    let out = with_store(&store)
        .args(["library", "search", "a yellow screen", "-k", "2", "--playlist"])
        .arg(&edl)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("playlist: 2 moments"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&edl).unwrap();
    assert!(text.starts_with("# mpv EDL v0\n") && text.lines().count() == 3, "{text}");
    for line in text.lines().skip(1) {
        let (len, rest) = line[1..].split_once('%').unwrap();
        let (file, times) = rest.split_at(len.parse().unwrap());
        assert!(std::path::Path::new(file).is_file() && times.starts_with(','), "{line}");
    }
    let out = with_store(&store).args(["library", "search", "x", "--playlist", "moments.txt"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(".m3u"));

    // What is said: nobody was listened to here, so nothing, in the same JSON shape.
    let out = with_store(&store).args(["--json", "library", "search", "--said", "hello there"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&schema, &said);
    assert_eq!(said["probe"], serde_json::json!({"kind": "said", "text": "hello there"}));
    assert!(said["results"].as_array().unwrap().is_empty(), "{said}");
    let out = with_store(&store).args(["library", "search", "dog", "--said", "dog"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "one kind of query at a time");

    // store stats shows the index and that it is current.
    let out = bin().arg("--store").arg(&store).args(["--json", "store", "stats"]).output().unwrap();
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ix = &stats["library_indexes"][0];
    assert_eq!((ix["indexed_videos"].as_u64(), ix["pending_videos"].as_u64()), (Some(2), Some(0)), "{stats}");
    assert!(ix["bytes"].as_u64().unwrap() > 0);

    // Refusals with clear messages and exit codes.
    let out = with_store(&store).args(["library", "search", "dog", "--top-k", "500"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("1..=100"));
    let out = with_store(&store).args(["library", "search", "dog", "--video", &"ab".repeat(32)]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no video with fingerprint"));
    assert_eq!(answer["probe"], serde_json::json!({"kind": "text", "text": "a yellow screen"}));

    // Restricted to a folder (everything ingested from under it), to a file, or to both.
    let restricted = |names: &[&std::path::Path]| {
        let mut c = with_store(&store);
        c.args(["--json", "library", "search", "a screen", "--top-k", "10"]);
        for n in names {
            c.arg("--video").arg(n);
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut sources: Vec<String> =
            v["results"].as_array().unwrap().iter().map(|r| r["source"].as_str().unwrap().to_string()).collect();
        sources.sort();
        sources.dedup();
        sources
    };
    let nested = folder.join("nested");
    let b = std::fs::canonicalize(nested.join("b.mkv")).unwrap().display().to_string();
    let a = std::fs::canonicalize(folder.join("a.webm")).unwrap().display().to_string();
    let short = |s: &[String]| s.iter().map(|p| p.rsplit('/').next().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(short(&restricted(&[&nested])), ["b.mkv"], "{b}");
    assert_eq!(short(&restricted(&[&folder.join("a.webm")])), ["a.webm"], "{a}");
    assert_eq!(short(&restricted(&[&nested, &folder.join("a.webm")])), ["a.webm", "b.mkv"]);
    let out = with_store(&store)
        .args(["library", "search", "dog", "--video"])
        .arg(dir.path().join("elsewhere"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the store"));
    assert_eq!(answer["query"], "a yellow screen");

    // By picture: a still of a.webm at 6 s (its magenta scene) finds that scene.
    let still = dir.path().join("still.png");
    std::fs::write(&still, chronoseek::ingest::thumbnail::thumbnail_png(&folder.join("a.webm"), 6.0, 320).unwrap())
        .unwrap();
    let out = with_store(&store).args(["--json", "library", "search", "--picture"]).arg(&still).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let by_picture: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&schema, &by_picture);
    assert_eq!(by_picture["probe"]["kind"], "picture");
    let top = &by_picture["results"][0];
    assert!(top["source"].as_str().unwrap().ends_with("a.webm"), "{by_picture}");
    assert!(top["start"].as_f64().unwrap() <= 6.0 && top["end"].as_f64().unwrap() >= 6.0, "{by_picture}");

    // Like a stored moment, named by the file's path and a clock time: never that moment.
    let out = with_store(&store)
        .args(["--json", "library", "search", "--like"])
        .arg(folder.join("a.webm"))
        .args(["--at", "0:06"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let like: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&schema, &like);
    assert_eq!((like["probe"]["kind"].as_str(), like["probe"]["at"].as_f64()), (Some("moment"), Some(6.0)));
    let webm_fp = like["probe"]["fingerprint"].clone();
    assert!(
        like["results"].as_array().unwrap().iter().all(|r| !(r["fingerprint"] == webm_fp
            && r["start"].as_f64().unwrap() <= 6.0
            && r["end"].as_f64().unwrap() >= 6.0)),
        "{like}"
    );
    assert!(like.get("query").is_none());

    // Refusals: exactly one probe; a picture that is missing (2) or is not one (5); a time
    // the video does not have (5); a video the store does not have (2).
    let notes = folder.join("notes.txt");
    let missing = dir.path().join("missing.png");
    let stranger = "cd".repeat(32);
    for (args, code, needle) in [
        (vec!["dog".as_ref(), "--picture".as_ref(), still.as_os_str()], 2, "cannot be used with"),
        (vec!["--at".as_ref(), "3".as_ref()], 2, "--like"),
        (vec![], 2, "required"),
        (vec!["--picture".as_ref(), missing.as_os_str()], 2, "cannot read picture"),
        (vec!["--picture".as_ref(), notes.as_os_str()], 5, "not a picture"),
        (
            vec!["--like".as_ref(), folder.join("a.webm").as_os_str(), "--at".as_ref(), "1:00:00".as_ref()],
            5,
            "not a moment",
        ),
        (vec!["--like".as_ref(), stranger.as_ref(), "--at".as_ref(), "1".as_ref()], 2, "not in the store"),
        (vec!["--like".as_ref(), stranger.as_ref(), "--at".as_ref(), "1:99".as_ref()], 2, "not a time"),
    ] {
        let out = with_store(&store).args(["library", "search"]).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn store_remove_takes_videos_out_of_the_store_and_the_library_search() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let folder = dir.path().join("videos");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::copy(common::fixture("scenes.webm"), folder.join("a.webm")).unwrap();
    std::fs::copy(common::fixture("odd.mkv"), folder.join("b.mkv")).unwrap();
    std::fs::copy(common::fixture("rotated.mp4"), folder.join("sub/c.mp4")).unwrap();
    let out = with_store(&store).args(["--json", "ingest"]).arg(&folder).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fp = |name: &str| {
        json_lines(&out)
            .iter()
            .find(|l| l["video"].as_str().is_some_and(|v| v.ends_with(name)))
            .map(|l| l["fingerprint"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (a, b, c) = (fp("a.webm"), fp("b.mkv"), fp("c.mp4"));
    let listed = || -> Vec<String> {
        let out = bin().arg("--store").arg(&store).args(["--json", "store", "list"]).output().unwrap();
        let mut fps: Vec<String> = json_lines(&out).iter().map(|l| l["fingerprint"].as_str().unwrap().into()).collect();
        fps.sort();
        fps
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let remove = |args: &[&str]| with_store(&store).args(["--json", "store", "remove"]).args(args).output().unwrap();

    // A fingerprint that is not stored: refused by name, nothing removed.
    let out = remove(&[&"ab".repeat(32)]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the store"));
    assert_eq!(listed(), sorted(vec![a.clone(), b.clone(), c.clone()]));

    // By path: gone from the store and from library search (which looked at it before).
    let search = || {
        let out =
            with_store(&store).args(["--json", "library", "search", "a screen", "--top-k", "20"]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["fingerprint"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(search().contains(&a));
    let out = remove(&[folder.join("a.webm").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let removed = lines.iter().find(|l| l["status"] == "removed").unwrap();
    assert_eq!(removed["fingerprint"], a.as_str());
    assert_eq!((removed["rows"]["videos"].as_u64(), removed["rows"]["frames"].as_u64()), (Some(1), Some(1)));
    let index = lines.iter().find_map(|l| l.get("library_index")).expect("the index was refreshed");
    assert!(index["dead_vectors"].as_u64().unwrap() > 0 || index["rebuilt"] == true, "{index}");
    assert_eq!(listed(), sorted(vec![b.clone(), c.clone()]));
    let found = search();
    assert!(!found.is_empty() && !found.contains(&a), "{found:?}");

    // --missing: a file deleted from its folder; a dry run changes nothing.
    std::fs::remove_file(folder.join("b.mkv")).unwrap();
    let out = remove(&["--missing", "--dry-run"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let would: Vec<String> = json_lines(&out)
        .iter()
        .filter(|l| l["status"] == "would_remove")
        .map(|l| l["fingerprint"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(would, vec![b.clone()]);
    assert_eq!(listed(), sorted(vec![b.clone(), c.clone()]));
    let out = remove(&["--missing"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(listed(), vec![c.clone()]);

    // A folder gone as a whole (an unplugged drive looks the same) is kept by --missing;
    // naming the folder removes what was ingested from under it, and --purge makes it final.
    std::fs::remove_dir_all(folder.join("sub")).unwrap();
    let out = remove(&["--missing"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(listed(), vec![c.clone()]);
    let out = remove(&["--purge", folder.join("sub").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = json_lines(&out).into_iter().find_map(|l| l.get("summary").cloned()).unwrap();
    assert_eq!((summary["removed"].as_u64(), summary["purged"].as_bool()), (Some(1), Some(true)), "{summary}");
    assert!(listed().is_empty());
    // Ingesting it again works (the store and index are whole after a purge).
    std::fs::copy(common::fixture("rotated.mp4"), folder.join("again.mp4")).unwrap();
    let out = with_store(&store).arg("ingest").arg(folder.join("again.mp4")).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(listed(), vec![c]);
}

#[test]
fn audio_flags_listen_and_transcript_prints_what_was_said() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // 8 s of colour with the shared speech file as its sound track.
    let talk = dir.path().join("talk.mp4");
    let speech = common::shared().join("model/tiny-random-whisper/speech16k.wav");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=64x48:r=10:d=8", "-i"])
        .arg(&speech)
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"])
        .arg(&talk)
        .status()
        .unwrap();
    assert!(status.success());
    // The tiny random Whisper as a user's model folder.
    let whisper = dir.path().join("whisper");
    std::fs::create_dir(&whisper).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::os::unix::fs::symlink(common::shared().join("model/tiny-random-whisper").join(f), whisper.join(f))
            .unwrap();
    }
    std::os::unix::fs::symlink(
        common::shared().join("model/whisper-assets/multilingual.tiktoken"),
        whisper.join("multilingual.tiktoken"),
    )
    .unwrap();
    let json = |out: &std::process::Output| -> Vec<serde_json::Value> {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };

    let help = String::from_utf8(bin().args(["ingest", "--help"]).output().unwrap().stdout).unwrap();
    for needle in
        ["--audio <MODE>", "CHRONOSEEK_AUDIO=", "--audio-model", "CHRONOSEEK_AUDIO_MODEL=", "openai/whisper-tiny"]
    {
        assert!(help.contains(needle), "ingest --help lacks {needle}:\n{help}");
    }

    // Visual only: nobody listened.
    let out =
        with_store(&store).args(["--json", "ingest", "--no-index", "--audio", "off"]).arg(&talk).output().unwrap();
    let fp = json(&out)[0]["fingerprint"].as_str().unwrap().to_string();
    let out = with_store(&store).args(["--json", "transcript", &fp]).output().unwrap();
    assert_eq!(json(&out)[0]["status"], "not_listened");
    let out = with_store(&store).args(["transcript", &fp, "--format", "srt"]).output().unwrap();
    assert!(!out.status.success() && out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nobody has listened"), "{out:?}");

    // --audio on with a model that is not there: refused before any work, naming the flag.
    let out = with_store(&store)
        .args(["ingest", "--no-index", "--audio", "on", "--audio-model"])
        .arg(dir.path().join("no-such-model"))
        .arg(&talk)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--audio on") && err.contains("config.json"), "{err}");
    // --audio auto with the same: visual only, and the run succeeds.
    let out = with_store(&store)
        .args(["--json", "ingest", "--no-index", "--audio", "auto", "--audio-model"])
        .arg(dir.path().join("no-such-model"))
        .arg(&talk)
        .output()
        .unwrap();
    let lines = json(&out);
    assert_eq!(lines[0]["status"], "already_stored");
    assert_eq!(lines.last().unwrap()["summary"]["audio"], false);

    // --audio on with the folder: the stored video gets its transcript.
    let out = with_store(&store)
        .args(["--json", "ingest", "--no-index", "--audio", "on", "--audio-model"])
        .arg(&whisper)
        .arg(&talk)
        .output()
        .unwrap();
    let lines = json(&out);
    assert_eq!(lines[0]["status"], "transcript_added", "{lines:?}");
    assert_eq!(lines.last().unwrap()["summary"]["transcripts_written"], 1);

    // `transcript` by path and by fingerprint: the same segments, well formed.
    let by_path = json(&with_store(&store).args(["--json", "transcript"]).arg(&talk).output().unwrap());
    let by_fp = json(&with_store(&store).args(["--json", "transcript", &fp]).output().unwrap());
    assert_eq!(by_path, by_fp);
    let t = &by_fp[0];
    assert_eq!((t["status"].as_str(), t["audio_model"].as_str()), (Some("speech"), Some("whisper")));
    for s in t["segments"].as_array().unwrap() {
        let (a, b) = (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap());
        assert!(0.0 <= a && a < b && b <= 5.2, "{s}");
    }
    let text = with_store(&store).args(["transcript", &fp]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("{fp}: ")));

    // Subtitles: SubRip on standard output, one cue per segment said, at the segment's times.
    let clock = |s: f64, sep: char| {
        let ms = (s * 1000.0).round() as i64;
        format!("{:02}:{:02}:{:02}{sep}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
    };
    let said: Vec<&serde_json::Value> =
        t["segments"].as_array().unwrap().iter().filter(|s| !s["text"].as_str().unwrap().trim().is_empty()).collect();
    assert!(!said.is_empty(), "the random whisper says something: {t}");
    let srt = with_store(&store).args(["transcript", &fp, "--format", "srt"]).output().unwrap();
    assert!(srt.status.success(), "{}", String::from_utf8_lossy(&srt.stderr));
    let srt = String::from_utf8(srt.stdout).unwrap();
    let cues: Vec<&str> = srt.split("\n\n").filter(|c| !c.trim().is_empty()).collect();
    assert_eq!(cues.len(), said.len(), "{srt}");
    for (i, (cue, s)) in cues.iter().zip(&said).enumerate() {
        let lines: Vec<&str> = cue.lines().collect();
        let times =
            format!("{} --> {}", clock(s["start"].as_f64().unwrap(), ','), clock(s["end"].as_f64().unwrap(), ','));
        assert_eq!(lines[..2], [(i + 1).to_string().as_str(), times.as_str()], "{cue}");
        assert_eq!(lines.len(), 3, "one line of text per cue: {cue}");
    }
    // WebVTT into a file, its format from the extension; kept unless --force.
    let vtt = dir.path().join("talk.vtt");
    let out = with_store(&store).args(["--json", "transcript", &fp, "-o"]).arg(&vtt).output().unwrap();
    assert_eq!(json(&out)[0]["written"], vtt.display().to_string());
    let written = std::fs::read_to_string(&vtt).unwrap();
    assert!(written.starts_with("WEBVTT\n\n"), "{written}");
    let first = format!("{} --> ", clock(said[0]["start"].as_f64().unwrap(), '.'));
    assert_eq!(written.matches(" --> ").count(), said.len(), "{written}");
    assert!(written.contains(&first), "{written}");
    let again = with_store(&store).args(["transcript", &fp, "--format", "srt", "-o"]).arg(&vtt).output().unwrap();
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("--force"), "{again:?}");
    assert_eq!(std::fs::read_to_string(&vtt).unwrap(), written, "the file is kept");
    let forced =
        with_store(&store).args(["transcript", &fp, "--format", "srt", "--force", "-o"]).arg(&vtt).output().unwrap();
    assert!(forced.status.success(), "{forced:?}");
    assert!(std::fs::read_to_string(&vtt).unwrap().starts_with("1\n"), "--format wins over the extension");
    let refused = with_store(&store).args(["--json", "transcript", &fp, "--format", "vtt"]).output().unwrap();
    let envelope = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success() && envelope.contains("INVALID_REQUEST"), "{refused:?}");
    assert!(envelope.contains("--output FILE") && !envelope.contains("WEBVTT"), "{envelope}");
}

/// `chronoseek` on a store on the S3 server the tests start, configured the standard way
/// (the `AWS_*` environment).
fn on_s3(uri: &str) -> Command {
    let mut c = bin();
    for (k, v) in common::S3Server::get().env() {
        c.env(k, v);
    }
    c.arg("--store").arg(uri).arg("--model-dir").arg(common::tiny_model_dir());
    c
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn ingest_workers_and_readers_share_one_store_on_s3() {
    let uri = common::S3Server::get().new_uri();
    let videos = ["scenes.mp4", "scenes.webm", "odd.mkv", "rotated.mp4"].map(common::fixture);
    // Two workers at once: different videos each, and the same video (scenes.mp4) in both.
    let worker = |list: &[&std::path::PathBuf]| {
        let mut c = on_s3(&uri);
        c.args(["--json", "ingest", "--no-index", "--audio", "off"]);
        for v in list {
            c.arg(v);
        }
        c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let a = worker(&[&videos[0], &videos[2]]);
    let b = worker(&[&videos[0], &videos[1], &videos[3]]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    json_lines(&a);
    json_lines(&b);

    // Every video exactly once, each one whole: a reader process finds each by fingerprint and
    // searches it without ingesting anything.
    let listed = json_lines(&on_s3(&uri).args(["--json", "store", "list"]).output().unwrap());
    assert_eq!(listed.len(), 4, "{listed:?}");
    for v in &listed {
        let fp = v["fingerprint"].as_str().unwrap();
        let out = on_s3(&uri).args(["--json", "search", fp, "a cyan screen", "--audio", "off"]).output().unwrap();
        let answer = &json_lines(&out)[0];
        assert_eq!(answer["status"], "completed", "{answer}");
        assert_eq!(answer["miner_metadata"]["cache"], "hit");
    }
    // Maintenance on the remote store, then the store still answers.
    let out = on_s3(&uri).args(["store", "optimize"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = &json_lines(&on_s3(&uri).args(["--json", "store", "stats"]).output().unwrap())[0];
    assert_eq!(stats["uri"], uri.as_str());
    assert!(stats["rows"]["videos"].as_u64().unwrap() >= 4);
    let again = json_lines(&on_s3(&uri).args(["--json", "store", "list"]).output().unwrap());
    assert_eq!(again.len(), 4);
}

#[test]
fn ingests_killed_at_any_moment_on_s3_leave_a_store_a_clean_ingest_completes() {
    let uri = common::S3Server::get().new_uri();
    let video = common::fixture("scenes.webm");
    // Killed at staggered moments: while opening and migrating, decoding, or committing.
    for delay_ms in [150u64, 400, 700, 1000, 1400] {
        let mut child = on_s3(&uri)
            .args(["-q", "ingest", "--no-index", "--audio", "off"])
            .arg(&video)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
        // Whatever the moment, the store opens and lists only whole videos.
        let listed = json_lines(&on_s3(&uri).args(["--json", "store", "list"]).output().unwrap());
        assert!(listed.len() <= 1, "{listed:?}");
        for v in &listed {
            let fp = v["fingerprint"].as_str().unwrap();
            let out = on_s3(&uri).args(["--json", "search", fp, "a red screen", "--audio", "off"]).output().unwrap();
            assert_eq!(json_lines(&out)[0]["status"], "completed", "after a kill at {delay_ms} ms");
        }
    }
    let out = on_s3(&uri).args(["--json", "ingest", "--no-index", "--audio", "off"]).arg(&video).output().unwrap();
    let first = &json_lines(&out)[0];
    assert!(first["status"] == "ingested" || first["status"] == "already_stored", "{first}");
    let listed = json_lines(&on_s3(&uri).args(["--json", "store", "list"]).output().unwrap());
    assert_eq!(listed.len(), 1);
}

/// Status of `GET path` on 127.0.0.1:port, with an optional bearer token.
fn http_status(port: u16, path: &str, bearer: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let auth = bearer.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[test]
fn serve_beyond_loopback_wants_the_random_token_it_prints() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let mut child = with_store(&store)
        .args(["--json", "serve", "--host", "0.0.0.0", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let info: serde_json::Value = serde_json::from_str(&first).unwrap_or_else(|_| panic!("not JSON: {first}"));
    let port: u16 = info["listening"].as_str().unwrap().rsplit(':').next().unwrap().parse().unwrap();
    let url = info["url"].as_str().unwrap().to_string();
    let token = url.split_once("/?token=").map(|(_, t)| t.to_string()).unwrap_or_else(|| panic!("{info}"));
    let statuses = (
        info["token_required"].as_bool(),
        token.len(),
        http_status(port, "/api/videos", None),
        http_status(port, "/api/videos", Some("not-the-token-0123456789")),
        http_status(port, "/api/videos", Some(&token)),
        http_status(port, &format!("/?token={token}"), None),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(statuses, (Some(true), 64, 401, 401, 200, 303), "{info}");

    // A chosen token is checked before anything starts; it and --no-token exclude each other.
    for (args, needle) in [
        (vec!["--token", "short"], "at least 16"),
        (vec!["--token", "has spaces in it ok?"], "letters, digits"),
        (vec!["--token", "long-enough-token-123", "--no-token"], "cannot be used with"),
    ] {
        let out =
            with_store(&store).args(["serve", "--host", "127.0.0.1", "--port", "0"]).args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn ingest_watch_takes_new_files_once_they_are_whole() {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let folder = dir.path().join("videos");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(common::fixture("scenes.webm"), folder.join("a.webm")).unwrap();
    let mut child = with_store(&store)
        .args(["--json", "ingest", "--watch", "--interval", "0.5", "--settle", "1.5", "--remove-missing"])
        .arg(&folder)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let mut seen: Vec<serde_json::Value> = Vec::new();
    let mut wait_for = |what: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(v) = seen.iter().find(|v| what(v)) {
                return v.clone();
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(v) => seen.push(v),
                Err(_) => panic!("timed out; output so far: {seen:#?}"),
            }
        }
    };
    let video =
        |name: &'static str| move |v: &serde_json::Value| v["video"].as_str().is_some_and(|p| p.ends_with(name));
    assert_eq!(wait_for(&video("a.webm"))["status"], "ingested");
    wait_for(&|v| v.get("library_index").is_some());

    // A file still being written (appended to every 300 ms for 3 s) is left alone until it
    // has been quiet for --settle, then ingested once, whole.
    let whole = std::fs::read(common::fixture("scenes.mp4")).unwrap();
    let growing = folder.join("c.mp4");
    let chunk = whole.len() / 10 + 1;
    let mut f = std::fs::File::create(&growing).unwrap();
    for part in whole.chunks(chunk) {
        f.write_all(part).unwrap();
        f.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    drop(f);
    // Meanwhile, not a video: never looked at.
    std::fs::write(folder.join("notes.txt"), "not a video").unwrap();
    let c = wait_for(&video("c.mp4"));
    assert_eq!(c["status"], "ingested", "{c}");
    assert!(c["duration_s"].as_f64().unwrap() > 29.0, "ingested before it was whole: {c}");
    // A file deleted from the watched folder: its video leaves the store (--remove-missing).
    std::fs::remove_file(folder.join("a.webm")).unwrap();
    let gone = wait_for(&|v: &serde_json::Value| v["status"] == "removed");
    assert!(gone["video"].as_str().unwrap().ends_with("a.webm"), "{gone}");
    // Stop: one summary, exit 0; every file was reported exactly once.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let summary = wait_for(&|v| v.get("summary").is_some());
    assert_eq!((summary["summary"]["ingested"].as_u64(), summary["summary"]["failed"].as_u64()), (Some(2), Some(0)));
    assert!(child.wait().unwrap().success());
    let reported: Vec<&str> = seen.iter().filter_map(|v| v["video"].as_str()).collect();
    assert_eq!(reported.len(), 3, "two ingests and one removal: {reported:?}");
    let out = with_store(&store).args(["--json", "store", "list"]).output().unwrap();
    let listed: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(listed[0]["source"].as_str().unwrap().ends_with("c.mp4"), "{listed:?}");

    // Watching needs a folder.
    let out = with_store(&store).args(["ingest", "--watch"]).arg(folder.join("a.webm")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("folder to watch"));
}

#[test]
fn clip_writes_the_moment_as_an_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let out_file = dir.path().join("blue.mp4");
    // scenes.mp4's blue scene is 20-30 s.
    let out = with_store(&store)
        .args(["--json", "clip"])
        .arg(common::fixture("scenes.mp4"))
        .args(["0:21", "26", "-o"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["start"].as_f64(), report["end"].as_f64()), (Some(21.0), Some(26.0)), "{report}");
    assert_eq!(report["bytes"].as_u64(), Some(std::fs::metadata(&out_file).unwrap().len()));
    let d = chronoseek::ingest::probe(&out_file).unwrap().duration_s.unwrap();
    assert!((4.8..=5.3).contains(&d), "{d}");
    let png = chronoseek::ingest::thumbnail::thumbnail_png(&out_file, 0.0, 64).unwrap();
    let img = image::load_from_memory(&png).unwrap().to_rgb8();
    let [r, g, b] = img.get_pixel(img.width() / 2, img.height() / 2).0;
    assert!(b > 200 && r < 40 && g < 40, "not the blue scene: {:?}", [r, g, b]);

    // Refusals: an existing output, a bad span, not a file, not a video.
    let not_a_video = common::fixture("not-a-video.mp4");
    let scenes = common::fixture("scenes.mp4");
    for (args, code, needle) in [
        (vec![scenes.as_os_str(), "1".as_ref(), "2".as_ref(), "-o".as_ref(), out_file.as_os_str()], 2, "exists"),
        (vec![scenes.as_os_str(), "5".as_ref(), "3".as_ref()], 2, "start < end"),
        (vec![scenes.as_os_str(), "0:25".as_ref(), "0:40".as_ref()], 2, "30.0 s long"),
        (vec!["nothing-here.mp4".as_ref(), "1".as_ref(), "2".as_ref()], 2, "no such file"),
        (vec![not_a_video.as_os_str(), "0".as_ref(), "1".as_ref()], 4, "not-a-video.mp4"),
    ] {
        let out = with_store(&store).current_dir(dir.path()).arg("clip").args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    // --force replaces; without -o the name says what it holds.
    let out =
        with_store(&store).arg("clip").arg(&scenes).args(["1", "2", "--force", "-o"]).arg(&out_file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let d = chronoseek::ingest::probe(&out_file).unwrap().duration_s.unwrap();
    assert!(d < 1.5, "the 1-s clip replaced the 5-s one: {d}");
    let out = with_store(&store).current_dir(dir.path()).arg("clip").arg(&scenes).args(["1", "2"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("scenes-0m01.0s-0m02.0s.mp4").is_file());
}

#[test]
fn library_copies_lists_the_same_footage_stored_twice_and_search_folds_it() {
    // The bundled model: the random one sees every frame alike, so it cannot tell where a clip
    // was cut (and rightly finds none).
    let with_store = |store: &std::path::Path| {
        let mut c = bin();
        c.arg("--store")
            .arg(store)
            .arg("--model-dir")
            .arg(common::root().join("data/fixtures/models/chronoseek-tiny-clip"));
        c
    };
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let folder = dir.path().join("videos");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(common::fixture("scenes.webm"), folder.join("a.webm")).unwrap();
    std::fs::copy(common::fixture("odd.mkv"), folder.join("b.mkv")).unwrap();
    // scenes.webm again, as a messenger would send it: smaller, another codec and container.
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-i"])
        .arg(common::fixture("scenes.webm"))
        .args(["-vf", "scale=128:72", "-c:v", "mpeg4", "-q:v", "10"])
        .arg(folder.join("a-small.mkv"))
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(ok.success());
    // And a 7 s clip cut from it at 2 s (yellow, magenta, cyan), re-encoded.
    let ok = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-ss", "2", "-t", "7", "-i"])
        .arg(common::fixture("scenes.webm"))
        .args(["-c:v", "libx264"])
        .arg(folder.join("a-clip.mp4"))
        .status()
        .expect("the ffmpeg tool is installed");
    assert!(ok.success());
    let out = with_store(&store).args(["--json", "ingest"]).arg(&folder).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fp_of = |name: &str| -> String {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|l| l["video"].as_str().is_some_and(|v| v.ends_with(name)))
            .unwrap()["fingerprint"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, small, clip) = (fp_of("a.webm"), fp_of("a-small.mkv"), fp_of("a-clip.mp4"));

    let out = with_store(&store).args(["--json", "library", "copies"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema = common::repo_schema("library-copies.schema.json");
    common::assert_valid(&schema, &found);
    let groups = found["groups"].as_array().unwrap();
    assert_eq!((groups.len(), found["videos"].as_u64()), (1, Some(4)), "{found}");
    // The clip: cut from the original or its copy (either is right), at 2 s, 7 s long.
    let clips = found["clips"].as_array().unwrap();
    assert!(!clips.is_empty() && clips.len() <= 2, "{found}");
    for c in clips {
        assert_eq!(c["clip"]["fingerprint"], clip.as_str(), "{found}");
        assert!([a.as_str(), small.as_str()].contains(&c["of"]["fingerprint"].as_str().unwrap()), "{found}");
        let (from, to) = (c["from_s"].as_f64().unwrap(), c["to_s"].as_f64().unwrap());
        assert!((from - 2.0).abs() <= 1.0 && (to - from - 7.0).abs() <= 0.5, "cut at 2 s for 7 s: {c}");
        assert_eq!(c["also_from_s"], serde_json::json!([]), "one place: {c}");
    }
    let mut members: Vec<&str> =
        groups[0].as_array().unwrap().iter().map(|v| v["fingerprint"].as_str().unwrap()).collect();
    members.sort();
    let mut expected = [a.as_str(), small.as_str()];
    expected.sort();
    assert_eq!(members, expected, "{found}");
    let text = with_store(&store).args(["library", "copies"]).output().unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("1 group(s) of copies, 1 video(s) stored again") && text.contains("store remove"), "{text}");
    assert!(text.contains("clip(s) cut from longer videos") && text.contains(" of ") && text.contains(&clip), "{text}");
    let out = with_store(&store).args(["--json", "library", "copies", "--no-clips"]).output().unwrap();
    let no_clips: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&schema, &no_clips);
    assert!(no_clips.get("clips").is_none() && no_clips["groups"] == found["groups"], "{no_clips}");
    // Only among named videos: b.mkv alone has no copy.
    let out = with_store(&store).args(["--json", "library", "copies", "--video"]).arg(folder.join("b.mkv")).output();
    let alone: serde_json::Value = serde_json::from_slice(&out.unwrap().stdout).unwrap();
    assert_eq!((alone["groups"].as_array().map(Vec::len), alone["videos"].as_u64()), (Some(0), Some(1)), "{alone}");

    // A search lists the yellow moment once, the copy under it (in the documented schema).
    let schema = common::repo_schema("library-search-response.schema.json");
    let search = |extra: &[&str]| -> serde_json::Value {
        let out =
            with_store(&store).args(["--json", "library", "search", "a yellow screen"]).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        common::assert_valid(&schema, &answer);
        answer
    };
    let folded = search(&[]);
    let yellow = |r: &&serde_json::Value| r["start"].as_f64().unwrap() < 3.0;
    let of_three: Vec<&serde_json::Value> = folded["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| [a.as_str(), small.as_str(), clip.as_str()].contains(&r["fingerprint"].as_str().unwrap()))
        .filter(yellow)
        .collect();
    assert_eq!(of_three.len(), 1, "one of the three, the others under it: {folded}");
    let mut under: Vec<(&str, &str)> = of_three[0]["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["fingerprint"].as_str().unwrap(), c["relation"].as_str().unwrap()))
        .collect();
    under.sort();
    let mut expected: Vec<(&str, &str)> = match of_three[0]["fingerprint"].as_str().unwrap() {
        f if f == a => vec![(&small, "copy"), (&clip, "clip")],
        f if f == small => vec![(&a, "copy"), (&clip, "clip")],
        _ => vec![(&a, "original"), (&small, "original")],
    };
    expected.sort();
    assert_eq!(under, expected, "{folded}");
    let kept = search(&["--keep-copies"]);
    let results = kept["results"].as_array().unwrap();
    assert!(results.iter().all(|r| r.get("copies").is_none()), "{kept}");
    assert!(results.len() > folded["results"].as_array().unwrap().len(), "{kept}\n{folded}");
}

#[test]
fn recording_dates_are_listed_and_bound_a_search() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // scenes.mp4 with the recording date a camera writes, beside odd.mkv (none).
    let dated = dir.path().join("camera.mp4");
    common::with_recording_date(&common::fixture("scenes.mp4"), "2024-07-14T15:30:12.000000Z", &dated);
    let out = with_store(&store)
        .args(["--json", "ingest", "--tz", "Australia/Sydney"])
        .arg(&dated)
        .arg(common::fixture("odd.mkv"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ingested = json_lines(&out);
    assert_eq!(
        (&ingested[0]["recorded_at"], &ingested[0]["recorded_day"], &ingested[0]["tz"]),
        (&"2024-07-14T15:30:12Z".into(), &"2024-07-15".into(), &"Australia/Sydney".into()),
        "{ingested:?}"
    );
    assert_eq!(ingested[1]["recorded_at"], serde_json::Value::Null, "{ingested:?}");
    assert_eq!(ingested[1]["recorded_day"], serde_json::Value::Null, "{ingested:?}");
    let listed = json_lines(&with_store(&store).args(["--json", "store", "list"]).output().unwrap());
    let recorded: std::collections::BTreeMap<String, serde_json::Value> = listed
        .iter()
        .map(|v| (v["source"].as_str().unwrap().rsplit('/').next().unwrap().to_string(), v["recorded_at"].clone()))
        .collect();
    assert_eq!(recorded["camera.mp4"], "2024-07-14T15:30:12Z", "{listed:?}");
    assert_eq!(recorded["odd.mkv"], serde_json::Value::Null, "{listed:?}");
    // Days are shown in --tz, as `library search --from` counts them: 15:30 UTC on 14 July was
    // already the 15th in Sydney.
    let list_in = |zone: &str| {
        String::from_utf8(with_store(&store).args(["store", "list", "--tz", zone]).output().unwrap().stdout).unwrap()
    };
    let (utc, sydney) = (list_in("UTC"), list_in("Australia/Sydney"));
    assert!(utc.lines().any(|l| l.contains("  2024-07-14  ") && l.ends_with("camera.mp4")), "{utc}");
    assert!(sydney.lines().any(|l| l.contains("  2024-07-15  ") && l.ends_with("camera.mp4")), "{sydney}");
    let listed = json_lines(
        &with_store(&store)
            .env("CHRONOSEEK_TZ", "Australia/Sydney")
            .args(["--json", "store", "list"])
            .output()
            .unwrap(),
    );
    let camera = listed.iter().find(|v| v["source"].as_str().unwrap().ends_with("camera.mp4")).unwrap();
    assert_eq!(
        (&camera["recorded_at"], &camera["recorded_day"], &camera["tz"]),
        (&"2024-07-14T15:30:12Z".into(), &"2024-07-15".into(), &"Australia/Sydney".into()),
        "{camera}"
    );

    let schema = common::repo_schema("library-search-response.schema.json");
    let search = |extra: &[&str]| {
        let out =
            with_store(&store).args(["--json", "library", "search", "a red screen"]).args(extra).output().unwrap();
        assert!(out.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&out.stderr));
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        common::assert_valid(&schema, &answer);
        answer["results"].as_array().unwrap().iter().map(|r| r["recorded_at"].clone()).collect::<Vec<_>>()
    };
    let all = search(&[]);
    assert!(all.contains(&serde_json::Value::Null) && all.contains(&"2024-07-14T15:30:12Z".into()), "{all:?}");
    let summer = search(&["--from", "2024-06", "--until", "2024-08"]);
    assert!(!summer.is_empty() && summer.iter().all(|r| r == "2024-07-14T15:30:12Z"), "{summer:?}");
    assert!(search(&["--until", "2024-07-13", "--tz", "UTC"]).is_empty());
    // Days are the zone's: 15:30 UTC on 14 July was 01:30 on the 15th in Sydney.
    let day = ["--from", "2024-07-15", "--until", "2024-07-15", "--tz"];
    assert!(!search(&[&day[..], &["Australia/Sydney"]].concat()).is_empty());
    assert!(search(&[&day[..], &["UTC"]].concat()).is_empty());
    // The answer says which instants those days were (10 hours ahead of UTC in July).
    let out = with_store(&store)
        .args(["--json", "library", "search", "a red screen", "--from", "2024-07-15", "--tz", "Australia/Sydney"])
        .output()
        .unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    common::assert_valid(&schema, &answer);
    assert_eq!(answer["recorded"], serde_json::json!({"from": "2024-07-14T14:00:00Z", "tz": "Australia/Sydney"}));
    let out = with_store(&store).args(["--json", "library", "search", "a red screen"]).output().unwrap();
    let open: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(open.get("recorded").is_none(), "no range asked for: {open}");
    let from_in = |var: &str, zone: &str, from: &str| {
        with_store(&store).env(var, zone).args(["library", "search", "a red screen", "--from", from]).output().unwrap()
    };
    let out = from_in("CHRONOSEEK_TZ", "Australia/Sydney", "2024-07-15");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("  2024-07-15  ") && !text.contains("2024-07-14"), "{out:?}");
    // A TZ that names no zone: days are UTC's, and a warning says so.
    let out = from_in("TZ", "Europe/Berln", "2024-07-14");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("TZ names no time zone"), "{out:?}");
    for (args, needle) in [
        (["--tz", "Mars/Base"], "unknown time zone 'Mars/Base'"),
        (["--from", "2024-13"], "not a date"),
        (["--from", "14.07.2024"], "not a date"),
        (["--until", "2024-07-1"], "not a date"),
    ] {
        let out = with_store(&store).args(["library", "search", "a red screen"]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle), "{args:?}: {out:?}");
    }
    let out = with_store(&store)
        .args(["library", "search", "a red screen", "--from", "2025", "--until", "2024"])
        .output()
        .unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("ends before it starts"), "{out:?}");

    // A video stored before dates were read (its record says nothing): `store dates` reads the
    // date from its file, and only writes with no --dry-run.
    let recorded_at = |name: &str| {
        let listed = json_lines(&with_store(&store).args(["--json", "store", "list"]).output().unwrap());
        listed.iter().find(|v| v["source"].as_str().unwrap().ends_with(name)).unwrap()["recorded_at"].clone()
    };
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let s = chronoseek::index::Store::open(store.to_str().unwrap()).await.unwrap();
        let old = s.list_videos().await.unwrap().into_iter().find(|v| v.source.ends_with("camera.mp4")).unwrap();
        s.set_recorded_at(&old, None).await.unwrap();
    });
    assert_eq!(recorded_at("camera.mp4"), serde_json::Value::Null);
    let dry = json_lines(&with_store(&store).args(["--json", "store", "dates", "--dry-run"]).output().unwrap());
    assert_eq!(
        (&dry[0]["undated"], &dry[0]["dated"], &dry[0]["no_date_in_file"]),
        (&2.into(), &1.into(), &1.into()),
        "{dry:?}"
    );
    assert_eq!(recorded_at("camera.mp4"), serde_json::Value::Null, "a dry run writes nothing");
    let done = with_store(&store).args(["store", "dates", "--tz", "America/New_York"]).output().unwrap();
    let text = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success() && text.contains("dated 1; 1 say nothing"), "{done:?}");
    assert!(text.contains("  2024-07-14 11:30:12 -04:00  "), "the time in --tz, with its offset: {text}");
    assert_eq!(recorded_at("camera.mp4"), "2024-07-14T15:30:12Z");
    let summer = search(&["--from", "2024-07", "--until", "2024-07"]);
    assert!(!summer.is_empty(), "the dated record is searched, its frames untouched");
}

#[test]
fn a_still_video_is_answered_whole() {
    // Four seconds of one colour: every frame scores the same, so nothing in the curve says
    // where the sentence is, and the default segmenter answers the whole video.
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let still = dir.path().join("still.mp4");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=yellow:s=64x48:r=10:d=4"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(&still)
        .status()
        .unwrap();
    assert!(status.success());
    let out = with_store(&store).arg("ingest").arg(&still).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains(" — 4 frames of 4.0 s") && said.contains(": 1 video, 1 vector, "), "{said}");
    let first = |segmenter: &str| first_moment(with_store(&store), &still, "a yellow screen", segmenter);
    assert_eq!(first("snap"), (0.0, 4.0));
    // The reference's heuristics trim an arbitrary stretch off the ends.
    let (start, end) = first("baseline");
    assert!(end - start < 4.0, "{start}..{end}");

    // One frame is said as one.
    let one = dir.path().join("one.mp4");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=green:s=64x48:r=10:d=0.1"])
        .args(["-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(&one)
        .status()
        .unwrap();
    assert!(status.success());
    let out = with_store(&store).arg("ingest").arg(&one).output().unwrap();
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains(" — 1 frame of ") && said.contains("extended by 1 video (1 vector)"), "{said}");
}

/// Red, green, blue at 25 fps cut at 2.36 s and 5.72 s (frames 59 and 143), between the 1-fps
/// samples, encoded with `codec` (encoder, pixel format); `seed` varies the noise on top.
fn red_green_blue(path: &std::path::Path, codec: [&str; 2], seed: u32) {
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "color=c=red:s=96x64:r=25:d=2.36"])
        .args(["-f", "lavfi", "-i", "color=c=green:s=96x64:r=25:d=3.36"])
        .args(["-f", "lavfi", "-i", "color=c=blue:s=96x64:r=25:d=3.28"])
        .args(["-filter_complex", &format!("[0][1][2]concat=n=3,noise=alls=6:allf=t:all_seed={seed}")])
        .args(["-c:v", codec[0], "-pix_fmt", codec[1]])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The bundled trained model (it knows the colours), on `store`.
fn with_bundled(store: &std::path::Path) -> Command {
    let mut c = bin();
    c.arg("--store")
        .arg(store)
        .arg("--model-dir")
        .arg(common::root().join("data/fixtures/models/chronoseek-tiny-clip"));
    c
}

/// The first result's interval for `query` in `video`, `search` run as `cli` sets it up.
fn first_moment(mut cli: Command, video: &std::path::Path, query: &str, segmenter: &str) -> (f64, f64) {
    let out = cli.args(["--json", "search", "--segmenter", segmenter]).arg(video).arg(query).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let r = &answer["results"][0];
    (r["start"].as_f64().unwrap(), r["end"].as_f64().unwrap())
}

/// The first result's interval for "a green screen" in `video`, with the bundled model.
fn green_moment(store: &std::path::Path, video: &std::path::Path, segmenter: &str) -> (f64, f64) {
    first_moment(with_bundled(store), video, "a green screen", segmenter)
}

#[test]
fn moments_start_on_the_cut_to_the_frame() {
    // The green moment is 2.36-5.72, not 2.5-5.5 (midway between samples, which starts the
    // player in the red shot). In 8-bit H.264 and in 10-bit FFV1 (the decoded planes are read
    // differently).
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    for (name, codec) in [("cuts.mp4", ["libx264", "yuv420p"]), ("cuts10.mkv", ["ffv1", "yuv420p10le"])] {
        let video = dir.path().join(name);
        red_green_blue(&video, codec, 1);
        let out = with_bundled(&store).arg("ingest").arg(&video).output().unwrap();
        let said = String::from_utf8(out.stdout).unwrap();
        assert!(said.contains(" — 9 frames of 9.0 s, 2 cuts ("), "{said}");
        assert_eq!(green_moment(&store, &video, "snap"), (2.36, 5.72), "{name}");
        assert_eq!(green_moment(&store, &video, "contrast"), (2.36, 5.72), "{name}");
    }

    // At 29.97 fps frames fall between milliseconds: green's first frame (71) is shown at
    // 2.369033 s and blue's (171) at 5.705700 s. The moment starts on the first millisecond
    // at or after its first frame and ends on the last one before the next shot's, so a
    // player or clip given these times shows no frame of red or blue.
    let ntsc = dir.path().join("ntsc.mp4");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "color=c=red:s=96x64:r=30000/1001,trim=end_frame=71"])
        .args(["-f", "lavfi", "-i", "color=c=green:s=96x64:r=30000/1001,trim=end_frame=100"])
        .args(["-f", "lavfi", "-i", "color=c=blue:s=96x64:r=30000/1001,trim=end_frame=90"])
        .args(["-filter_complex", "[0][1][2]concat=n=3,noise=alls=6:allf=t:all_seed=1"])
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-video_track_timescale", "30000"])
        .arg(&ntsc)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(green_moment(&store, &ntsc, "snap"), (2.37, 5.705));
    assert_eq!(green_moment(&store, &ntsc, "contrast"), (2.37, 5.705));
}

/// Makes every record in `store` (there are `n`, each a `red_green_blue` video) what a store
/// from before schema 4 holds: frames without cuts.
fn forget_cuts(store: &std::path::Path, n: usize) {
    let uri = store.to_str().unwrap().to_string();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let s = chronoseek::index::Store::open(&uri).await.unwrap();
        for r in s.list_videos().await.unwrap() {
            let mut frames = s.load_frames(&r).await.unwrap();
            assert_eq!(frames.cuts_us, Some(vec![2_360_000, 5_720_000]), "ingest stores the cuts");
            frames.cuts_us = None;
            let old = chronoseek::index::VideoRecord {
                ingest_id: format!("{}-old", r.ingest_id),
                created_at_ms: r.created_at_ms + 1,
                ..r.clone()
            };
            s.put_video(&old, &frames).await.unwrap();
        }
        assert_eq!(s.videos_without_cuts().await.unwrap().len(), n);
    });
}

/// `chronoseek --json store cuts EXTRA...`: its per-video lines and its summary.
fn store_cuts(store: &std::path::Path, extra: &[&str]) -> (Vec<serde_json::Value>, serde_json::Value) {
    let out = with_bundled(store).args(["--json", "store", "cuts"]).args(extra).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = lines.iter().find_map(|l| l.get("summary").cloned()).unwrap();
    lines.retain(|l| l.get("status").is_some());
    (lines, summary)
}

#[test]
fn store_cuts_downloads_a_video_known_by_its_url_if_it_still_serves_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let served = dir.path().join("served");
    std::fs::create_dir_all(&served).unwrap();
    let (video, other) = (served.join("rgb.mp4"), dir.path().join("other.mp4"));
    red_green_blue(&video, ["libx264", "yuv420p"], 3);
    red_green_blue(&other, ["libx264", "yuv420p"], 4);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server = rt.block_on(common::TestServer::start(served.clone()));
    let url = server.url("rgb.mp4");
    let out = with_bundled(&store).args(["ingest", &url]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    forget_cuts(&store, 1);
    let gets = || server.gets.load(std::sync::atomic::Ordering::SeqCst);
    let fetched = gets();

    // Known only by its URL: without --download nothing is fetched.
    let (_, summary) = store_cuts(&store, &[]);
    assert_eq!((&summary["no_local_file"], &summary["found"]), (&1.into(), &0.into()), "{summary}");
    assert_eq!(gets(), fetched, "nothing fetched");
    // The URL serving other bytes now: downloaded, not used.
    let original = std::fs::read(&video).unwrap();
    std::fs::copy(&other, &video).unwrap();
    let (lines, summary) = store_cuts(&store, &["--download"]);
    assert_eq!((&summary["changed"], &summary["found"]), (&1.into(), &0.into()), "{summary}");
    assert_eq!(lines[0]["url"], url.as_str());
    // The same bytes again: its cuts are found and stored.
    std::fs::write(&video, &original).unwrap();
    let (lines, summary) = store_cuts(&store, &["--download"]);
    assert_eq!((&summary["found"], &summary["cuts"], &summary["without_cuts"]), (&1.into(), &2.into(), &1.into()));
    assert_eq!((&lines[0]["status"], &lines[0]["url"]), (&"found".into(), &url.as_str().into()));
    assert_eq!(store_cuts(&store, &[]).1["without_cuts"], 0, "every video has its cuts");
    let uri = store.to_str().unwrap().to_string();
    rt.block_on(async {
        let s = chronoseek::index::Store::open(&uri).await.unwrap();
        let r = s.list_videos().await.unwrap().remove(0);
        assert_eq!(s.load_frames(&r).await.unwrap().cuts_us, Some(vec![2_360_000, 5_720_000]));
    });
}

#[test]
fn store_cuts_gives_videos_stored_before_cuts_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (kept, gone) = (dir.path().join("kept.mp4"), dir.path().join("gone.mp4"));
    red_green_blue(&kept, ["libx264", "yuv420p"], 1);
    red_green_blue(&gone, ["libx264", "yuv420p"], 2);
    for v in [&kept, &gone] {
        let out = with_bundled(&store).arg("ingest").arg(v).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    forget_cuts(&store, 2);
    assert_eq!(green_moment(&store, &kept, "snap"), (2.5, 5.5), "no cuts: midway between samples");
    std::fs::remove_file(&gone).unwrap();
    // `doctor` says so, and what to run.
    let out = with_bundled(&store).args(["--json", "doctor"]).output().unwrap();
    let doctor: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = doctor["checks"].as_array().unwrap().iter().find(|c| c["name"] == "shot cuts").unwrap().clone();
    assert_eq!(check["status"], "warn", "{check}");
    assert!(check["detail"].as_str().unwrap().starts_with("2 stored before cuts"), "{check}");
    assert!(check["hint"].as_str().unwrap().starts_with("chronoseek store cuts"), "{check}");

    let run = |extra: &[&str]| store_cuts(&store, extra).1;
    let summary = run(&["--dry-run"]);
    assert_eq!(
        (&summary["without_cuts"], &summary["found"], &summary["cuts"], &summary["no_local_file"]),
        (&2.into(), &1.into(), &2.into(), &1.into()),
        "{summary}"
    );
    assert_eq!(green_moment(&store, &kept, "snap"), (2.5, 5.5), "a dry run writes nothing");
    // The files are read under the user's limits: the 9-s video is refused under a 3-s one.
    let summary = run(&["--dry-run", "--max-video-seconds", "3"]);
    assert_eq!((&summary["found"], &summary["unreadable"]), (&0.into(), &1.into()), "{summary}");
    let summary = run(&[]);
    assert_eq!((&summary["found"], &summary["cuts"], &summary["dry_run"]), (&1.into(), &2.into(), &false.into()));
    assert_eq!(green_moment(&store, &kept, "snap"), (2.36, 5.72));
    // Only the video whose file is gone is left without cuts.
    assert_eq!((&run(&[])["without_cuts"], &run(&[])["found"]), (&1.into(), &0.into()));
}

#[test]
fn hard_cuts_are_found_in_moving_noisy_footage_and_a_fade_or_flash_is_none() {
    // Five 4-s shots of FFmpeg's moving test sources (a test card, a zooming fractal, two
    // cellular automata that change every frame), the first with a one-frame and a two-frame
    // white flash, the last fading to black, with noise on top, at a low bit rate: exactly
    // the four cuts, none for motion, noise, the flashes or the fade.
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("motion.mp4");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i", "testsrc2=s=640x360:r=30:d=4"])
        .args(["-f", "lavfi", "-i", "mandelbrot=s=640x360:r=30,trim=duration=4"])
        .args(["-f", "lavfi", "-i", "cellauto=s=640x360:r=30:rule=110:seed=1,trim=duration=4"])
        .args(["-f", "lavfi", "-i", "life=s=640x360:r=30:mold=10:ratio=0.5:seed=1,trim=duration=4"])
        .args(["-f", "lavfi", "-i", "testsrc=s=640x360:r=30:d=4"])
        .args([
            "-filter_complex",
            "[0]format=yuv420p,drawbox=enable='eq(n,30)+between(n,60,61)':color=white:t=fill[a];[1]format=yuv420p[b];[2]format=yuv420p[c];[3]format=yuv420p[d];\
             [4]format=yuv420p,fade=t=out:st=3:d=1[e];[a][b][c][d][e]concat=n=5,noise=alls=4:allf=t:all_seed=1",
        ])
        .args(["-c:v", "libx264", "-crf", "35", "-g", "15", "-pix_fmt", "yuv420p"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(status.success());
    let out = with_store(&dir.path().join("store")).args(["--json", "ingest"]).arg(&video).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let stats = lines.iter().find_map(|l| l.get("stats").filter(|s| s.get("cuts").is_some())).unwrap();
    assert_eq!((&stats["cuts"], &stats["frames_decoded"]), (&4.into(), &600.into()), "{stats}");
}
