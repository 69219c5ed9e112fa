//! scripts/gpu-check.sh's CPU fallback, run for real: the script finds no GPU (or is told
//! `--cpu`), runs this crate's binary on a tiny generated checkpoint, and writes one JSON
//! report with the machine, the libraries and the bench's figures.

use std::path::Path;
use std::process::Command;

#[test]
fn gpu_check_script_falls_back_to_the_cpu_and_writes_its_report() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::tempdir().unwrap();
    let status = Command::new("bash")
        .arg(root.join("scripts/gpu-check.sh"))
        .args(["--cpu", "--bin", env!("CARGO_BIN_EXE_chronoseek-embed-bench"), "--out"])
        .arg(out.path())
        .args(["--", "--seconds", "0.05"])
        .status()
        .unwrap();
    assert!(status.success(), "gpu-check.sh exited {status}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("gpu-check.json")).unwrap()).unwrap();
    assert_eq!(report["status"], 0, "{report:#}");
    assert_eq!(report["machine"]["mode"], "cpu");
    assert_eq!(report["machine"]["missing"], serde_json::json!([]), "a CPU build links no CUDA library");
    let bench = &report["bench"];
    assert_eq!(bench["device"], "cpu");
    assert_eq!(bench["model"]["source"], "generated tiny");

    // Every precision loaded and measured at both batch sizes, with real frame rates.
    let runs = bench["runs"].as_array().unwrap();
    let precisions: Vec<&str> = runs.iter().map(|r| r["precision"].as_str().unwrap()).collect();
    assert_eq!(precisions, ["f32", "f16", "bf16"]);
    for r in runs {
        let batches: Vec<u64> = r["image"].as_array().unwrap().iter().map(|b| b["batch"].as_u64().unwrap()).collect();
        assert_eq!(batches, [8, 32], "{r:#}");
        for b in r["image"].as_array().unwrap() {
            assert!(b["frames_per_s"].as_f64().unwrap() > 0.0, "{b:#}");
            assert!(b["frames"].as_u64().unwrap() >= b["batch"].as_u64().unwrap(), "{b:#}");
        }
        assert!(r["text"]["p50_ms"].as_f64().unwrap() > 0.0, "{r:#}");
    }
    assert!(bench["best"]["frames_per_s"].as_f64().unwrap() > 0.0);

    // f16 and bf16 against f32 on the same checkpoint: f16 within the 0.999.
    let agreement = bench["agreement"].as_array().unwrap();
    assert_eq!(agreement.len(), 2, "{agreement:#?}");
    let f16 = agreement.iter().find(|a| a["precision"] == "f16").unwrap();
    for k in ["min_image_cosine", "min_text_cosine"] {
        let c = f16[k].as_f64().unwrap();
        assert!((0.999..=1.0001).contains(&c), "f16 {k} {c}");
    }
    let bf16 = agreement.iter().find(|a| a["precision"] == "bf16").unwrap();
    assert!(bf16["min_image_cosine"].as_f64().unwrap() > 0.99, "{bf16:#}");

    let log = std::fs::read_to_string(out.path().join("bench.log")).unwrap();
    assert!(log.contains("f16: batch    8"), "{log}");
}

#[test]
fn gpu_check_script_refuses_a_missing_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = tempfile::tempdir().unwrap();
    let o = Command::new("bash")
        .arg(root.join("scripts/gpu-check.sh"))
        .args(["--bin", "/nonexistent/chronoseek-embed-bench", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no chronoseek-embed-bench binary"));
}
