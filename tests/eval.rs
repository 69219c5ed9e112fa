//! Annotation loaders on the real files in ../shared/data, and the QVHighlights metrics on
//! prediction files built here (including the known figure for whole-video predictions).

mod common;

use std::io::Write;

use chronoseek::eval::files::{load_ground_truth, load_predictions};
use chronoseek::eval::metrics::{Prediction, mr_r1, qvhighlights_brief};
use chronoseek::validator::tasks::{LoadOptions, TaskFormat, load_tasks};

fn data(rel: &str) -> std::path::PathBuf {
    common::shared().join("data").join(rel)
}

#[test]
fn loads_every_annotation_format() {
    let opts = LoadOptions::default();
    let anet = load_tasks(&data("activitynet/val_1.json"), None, &opts).unwrap();
    assert!(anet.len() > 15_000, "{} ActivityNet tasks", anet.len());
    let t = anet.iter().find(|t| t.task_id.starts_with("v_uqiMw7tQ1Cc#")).unwrap();
    assert_eq!(t.video_url, "https://www.youtube.com/watch?v=uqiMw7tQ1Cc");
    assert_eq!(t.query, "A weight lifting tutorial is given.");
    assert_eq!((t.ground_truths[0].start, t.ground_truths[0].end), (0.28, 55.15));
    assert!(anet.iter().all(|t| !t.query.starts_with(' ') && t.ground_truths.iter().all(|g| g.end >= g.start)));

    let qv = load_tasks(&data("qvhighlights/highlight_val_release.jsonl"), None, &opts).unwrap();
    assert_eq!(qv.len(), 1550);
    let t = qv.iter().find(|t| t.task_id == "2579").unwrap();
    // Clip NUsG9BgSes0_210.0_360.0, window [82, 150] relative to the clip start.
    assert_eq!(t.video_url, "https://www.youtube.com/watch?v=NUsG9BgSes0&t=210");
    assert_eq!((t.ground_truths[0].start, t.ground_truths[0].end), (292.0, 360.0));

    let ch = load_tasks(&data("charades/charades_sta_test.txt"), None, &opts).unwrap();
    assert!(ch.len() > 3000 && ch.len() <= 3720);
    assert!(ch[0].video_url.contains("3MSZA"));

    let smoke = load_tasks(&data("smoke_test_tasks.json"), None, &opts).unwrap();
    assert!(!smoke.is_empty());
    assert!(smoke.iter().all(|t| t.video_url.starts_with("http")));
    // Explicit format wins over detection; a wrong one fails clearly.
    assert!(load_tasks(&data("smoke_test_tasks.json"), Some(TaskFormat::QvHighlights), &opts).is_err());
}

#[test]
fn whole_video_predictions_give_the_known_r1() {
    let gt_path = data("qvhighlights/highlight_val_release.jsonl");
    let gts = load_ground_truth(&gt_path).unwrap();
    assert_eq!(gts.len(), 1550);
    // Predict the whole clip for every query, written as a QVHighlights prediction file.
    let dir = tempfile::tempdir().unwrap();
    let pred_path = dir.path().join("whole.jsonl");
    let mut f = std::fs::File::create(&pred_path).unwrap();
    let text = std::fs::read_to_string(&gt_path).unwrap();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let d = v["duration"].as_f64().unwrap();
        writeln!(f, "{}", serde_json::json!({"qid": v["qid"], "pred_relevant_windows": [[0.0, d, 1.0]]})).unwrap();
    }
    drop(f);
    let preds = load_predictions(&pred_path).unwrap();
    let brief = qvhighlights_brief(&preds, &gts);
    assert_eq!(brief["MR-full-R1@0.5"], 9.03, "{brief:?}");
    for key in [
        "MR-full-R1@0.7",
        "MR-full-mAP",
        "MR-full-mAP@0.5",
        "MR-full-mAP@0.75",
        "MR-short-mAP",
        "MR-middle-mAP",
        "MR-long-mAP",
    ] {
        assert!(brief.contains_key(key), "{key}");
    }
}

#[test]
fn ground_truth_as_predictions_is_perfect_and_shifting_hurts() {
    let gts = load_ground_truth(&data("qvhighlights/highlight_val_release.jsonl")).unwrap();
    let perfect: Vec<Prediction> = gts
        .iter()
        .map(|g| Prediction {
            qid: g.qid.clone(),
            windows: g.windows.iter().enumerate().map(|(i, w)| [w[0], w[1], 1.0 - i as f64 * 0.01]).collect(),
        })
        .collect();
    let b = qvhighlights_brief(&perfect, &gts);
    // Only the first 10 windows count, so queries with more ground truths lose recall, as in the
    // standard evaluation; every other query is perfect.
    assert!(b["MR-full-mAP"] > 99.0 && b["MR-full-mAP"] < 100.0, "{b:?}");
    assert_eq!(b["MR-full-R1@0.7"], 100.0);
    let few: Vec<_> = gts.iter().filter(|g| g.windows.len() <= 10).cloned().collect();
    let few_preds: Vec<_> = perfect.iter().filter(|p| few.iter().any(|g| g.qid == p.qid)).cloned().collect();
    assert_eq!(qvhighlights_brief(&few_preds, &few)["MR-full-mAP"], 100.0);
    let shifted: Vec<Prediction> = perfect
        .iter()
        .map(|p| Prediction {
            qid: p.qid.clone(),
            windows: p.windows.iter().map(|w| [w[0] + 4.0, w[1] + 4.0, w[2]]).collect(),
        })
        .collect();
    let s = qvhighlights_brief(&shifted, &gts);
    assert!(s["MR-full-mAP"] < b["MR-full-mAP"] && s["MR-full-mAP"] > 0.0, "{s:?}");
    assert!(s["MR-full-R1@0.7"] <= s["MR-full-R1@0.5"]);
    // R1 at 0.3 is the easiest threshold.
    let r = mr_r1(&shifted, &gts, &[0.3, 0.5, 0.7]);
    assert!(r["0.3"] >= r["0.5"] && r["0.5"] >= r["0.7"]);
}

#[test]
fn malformed_prediction_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.jsonl");
    std::fs::write(&p, "{\"qid\": 1, \"pred_relevant_windows\": [[1, 2]]}\n").unwrap();
    let e = load_predictions(&p).unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
}
