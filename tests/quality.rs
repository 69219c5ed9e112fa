//! Retrieval quality end to end with the bundled tiny CLIP on generated videos whose scene
//! intervals are known: the model must find scenes far better than chance, and the `contrast`
//! segmenter must rank windows better (mAP) than the reference `baseline`, and the default
//! `snap` must match or beat it on every headline metric, on the same embeddings.

mod common;

use chronoseek::eval::run::{run_tasks, summarize};
use chronoseek::index::Store;
use chronoseek::ingest::{FetchOptions, Fetcher};
use chronoseek::protocol::TopK;
use chronoseek::query::{Engine, EngineOptions, SegmenterKind};
use chronoseek::synth::dataset::{SetSpec, generate, tasks_json};
use chronoseek::validator::tasks::parse_reference;

#[tokio::test]
async fn bundled_model_finds_scenes_and_better_segmenters_win() {
    let model = common::bundled_model();
    let dir = tempfile::tempdir().unwrap();
    // Held-out material: a seed the model was not trained on.
    let spec = SetSpec {
        videos: 6,
        min_scenes: 4,
        max_scenes: 6,
        min_scene_s: 3.0,
        max_scene_s: 20.0,
        ..SetSpec::benchmark(2)
    };
    let videos = generate(dir.path(), &spec, |_| {}).unwrap();
    let tasks = parse_reference(&tasks_json(&videos, 2).to_string()).unwrap();
    assert!(tasks.len() >= 20);
    let store = Store::open(&dir.path().join("store").display().to_string()).await.unwrap();
    let mut rows = Vec::new();
    for segmenter in [SegmenterKind::Baseline, SegmenterKind::Contrast, SegmenterKind::Snap] {
        let engine = Engine::new(
            store.clone(),
            model.clone(),
            Fetcher::new(FetchOptions::default()).unwrap(),
            EngineOptions { segmenter, ..EngineOptions::default() },
        );
        let run =
            run_tasks(&engine, &tasks, dir.path(), TopK::new(10).unwrap(), &chronoseek::progress::NoProgress).await;
        assert_eq!(run.failed, 0);
        rows.push(summarize(&run.predictions, &run.ground_truth));
    }
    let (base, contrast, snap) = (&rows[0], &rows[1], &rows[2]);
    eprintln!("baseline {base}\ncontrast {contrast}\nsnap {snap}");
    let r = |v: &serde_json::Value, k: &str| v[k].as_f64().unwrap();
    // Chance is a few percent here; a working model and pipeline are far above it.
    for row in [base, contrast, snap] {
        assert!(r(row, "R1@0.5") >= 60.0 && r(row, "mIoU") >= 60.0, "{row}");
    }
    // Ranking several windows per query is where shot-snapped contrast windows win.
    assert!(r(contrast, "mAP") > r(base, "mAP"), "contrast mAP {} vs baseline {}", r(contrast, "mAP"), r(base, "mAP"));
    // The default segmenter never does worse than the reference on the same embeddings.
    for k in ["R1@0.5", "R1@0.7", "mIoU", "mAP"] {
        assert!(r(snap, k) >= r(base, k), "snap {k} {} < baseline {}", r(snap, k), r(base, k));
    }
}
