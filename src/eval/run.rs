//! Running search over a task set and summarising it with the standard metrics.

use std::path::Path;

use crate::progress::{Progress, silent};
use serde_json::json;

use super::metrics::{GroundTruth, Prediction, by_length, mr_ap, mr_r1, top1_ious};
use crate::ingest::VideoInput;
use crate::protocol::TopK;
use crate::query::Engine;
use crate::tasks::Task;

/// Predictions and ground truth of an evaluation run.
#[derive(Debug, Clone, Default)]
pub struct EvalRun {
    pub predictions: Vec<Prediction>,
    pub ground_truth: Vec<GroundTruth>,
    pub failed: usize,
}

/// Searches every task (relative video paths resolved against `base`). A failed search counts
/// as an empty prediction.
pub async fn run_tasks(engine: &Engine, tasks: &[Task], base: &Path, top_k: TopK, bar: &dyn Progress) -> EvalRun {
    let mut run = EvalRun::default();
    for t in tasks {
        let video = if t.video_url.contains("://") || Path::new(&t.video_url).is_absolute() {
            t.video_url.clone()
        } else {
            base.join(&t.video_url).display().to_string()
        };
        bar.set_message(&t.task_id);
        run.ground_truth.push(GroundTruth {
            qid: t.task_id.clone(),
            windows: t.ground_truths.iter().map(|g| [g.start, g.end]).collect(),
        });
        let found = match VideoInput::from_cli(&video) {
            Ok(input) => engine.search(&input, &t.query, top_k, &silent()).await,
            Err(e) => Err(crate::ingest::IngestError::from(e).into()),
        };
        let windows = match found {
            Ok(a) => a.results.iter().map(|r| [r.start, r.end, r.confidence]).collect(),
            Err(e) => {
                run.failed += 1;
                tracing::warn!(task = %t.task_id, error = %e, "task failed; scored as no prediction");
                Vec::new()
            }
        };
        run.predictions.push(Prediction { qid: t.task_id.clone(), windows });
        bar.inc(1);
    }
    run
}

/// R1@{0.3,0.5,0.7}, mIoU, mAP@{0.5,0.75}, mAP (0.5:0.05:0.95), and mAP per length bucket, in
/// percent.
pub fn summarize(preds: &[Prediction], gts: &[GroundTruth]) -> serde_json::Value {
    // A task without a prediction scores 0 in R1 and mIoU (the metric code would skip it).
    let scored: Vec<Prediction> = preds
        .iter()
        .map(|p| {
            if p.windows.is_empty() {
                Prediction { qid: p.qid.clone(), windows: vec![[0.0, 0.0, 0.0]] }
            } else {
                p.clone()
            }
        })
        .collect();
    let r1 = mr_r1(&scored, gts, &[0.3, 0.5, 0.7]);
    let ious = top1_ious(&scored, gts);
    let miou = if ious.is_empty() { 0.0 } else { 100.0 * ious.iter().sum::<f64>() / ious.len() as f64 };
    let ap = mr_ap(&scored, gts, 10);
    let mut v = json!({
        "R1@0.3": r1["0.3"], "R1@0.5": r1["0.5"], "R1@0.7": r1["0.7"],
        "mIoU": (miou * 100.0).round() / 100.0,
        "mAP@0.5": ap["0.5"], "mAP@0.75": ap["0.75"], "mAP": ap["average"],
    });
    for (name, lo, hi) in [("short", 0.0, 10.0), ("middle", 10.0, 30.0), ("long", 30.0, 150.0)] {
        let (p, g) = by_length(&scored, gts, lo, hi);
        v[format!("mAP-{name}")] = json!(if g.is_empty() { 0.0 } else { mr_ap(&p, &g, 10)["average"] });
    }
    v
}
