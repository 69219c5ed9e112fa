//! `chronoseek eval`: retrieval quality on a task file, or a QVHighlights prediction file
//! scored against its ground truth.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use chronoseek::config::GlobalOpts;
use chronoseek::eval::files::{load_ground_truth, load_predictions};
use chronoseek::eval::metrics::{GroundTruth, Prediction, by_length, mr_ap, mr_r1, qvhighlights_brief, top1_ious};
use chronoseek::protocol::{ErrorCode, TopK};
use chronoseek::validator::tasks::{LoadOptions, TaskFormat, load_tasks};

use super::{CliError, build_engine, output::Output};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Task file (reference JSON, ActivityNet JSON, QVHighlights jsonl or Charades-STA txt).
    /// Relative video paths are resolved against the file's folder.
    #[arg(long, value_name = "FILE", conflicts_with = "predictions", required_unless_present = "predictions")]
    pub tasks: Option<PathBuf>,
    /// Format of --tasks when its name does not tell (reference, activitynet, qvhighlights,
    /// charades).
    #[arg(long, value_name = "FORMAT")]
    pub task_format: Option<TaskFormat>,
    /// Evaluate only the first N tasks.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Windows requested per task (the mAP counts at most 10).
    #[arg(long, default_value_t = 10)]
    pub top_k: u32,
    /// QVHighlights prediction file (jsonl: qid, pred_relevant_windows [[start, end, score]]).
    #[arg(long, value_name = "FILE", requires = "ground_truth")]
    pub predictions: Option<PathBuf>,
    /// QVHighlights ground-truth file (jsonl: qid, relevant_windows).
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,
}

pub async fn run(g: &GlobalOpts, args: EvalArgs, out: &Output) -> Result<(), CliError> {
    if let (Some(p), Some(gt)) = (&args.predictions, &args.ground_truth) {
        let preds = load_predictions(p).map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?;
        let gts = load_ground_truth(gt).map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?;
        let brief = qvhighlights_brief(&preds, &gts);
        for (k, v) in &brief {
            out.say(format!("{k:<18} {v:>6.2}"));
        }
        out.json_line(&brief);
        return Ok(());
    }
    let Some(tasks_path) = args.tasks.as_deref() else {
        return Err(CliError::new(
            ErrorCode::InvalidRequest,
            "pass --tasks FILE, or --predictions with --ground-truth",
        ));
    };
    let top_k =
        TopK::new(args.top_k).ok_or_else(|| CliError::new(ErrorCode::InvalidRequest, "--top-k must be 1..=20"))?;
    let mut tasks = load_tasks(tasks_path, args.task_format, &LoadOptions::default())
        .map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    if let Some(n) = args.limit {
        tasks.truncate(n);
    }
    let base = tasks_path.parent().unwrap_or(Path::new("."));
    let engine = build_engine(g, None).await?;
    let bar = out.items_bar(tasks.len() as u64, "tasks");
    let (mut preds, mut gts, mut failed) = (Vec::new(), Vec::new(), 0usize);
    for t in &tasks {
        let video = if t.video_url.contains("://") || Path::new(&t.video_url).is_absolute() {
            t.video_url.clone()
        } else {
            base.join(&t.video_url).display().to_string()
        };
        bar.set_message(t.task_id.clone());
        gts.push(GroundTruth {
            qid: t.task_id.clone(),
            windows: t.ground_truths.iter().map(|g| [g.start, g.end]).collect(),
        });
        match engine.search(&video, &t.query, top_k, &indicatif::ProgressBar::hidden()).await {
            Ok(a) => preds.push(Prediction {
                qid: t.task_id.clone(),
                windows: a.results.iter().map(|r| [r.start, r.end, r.confidence]).collect(),
            }),
            Err(e) => {
                failed += 1;
                tracing::warn!(task = %t.task_id, error = %e, "task failed; scored as no prediction");
                preds.push(Prediction { qid: t.task_id.clone(), windows: vec![] });
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let report = summarize(&preds, &gts);
    let segmenter = engine.options().segmenter.name();
    out.say(format!("{} tasks ({failed} failed), segmenter {segmenter}, model {}", tasks.len(), engine.model().key()));
    for (k, v) in report.as_object().into_iter().flatten() {
        out.say(format!("{k:<14} {v}"));
    }
    out.json_line(&json!({"tasks": tasks.len(), "failed": failed, "segmenter": segmenter, "model": engine.model().key(), "metrics": report}));
    Ok(())
}

/// R1@{0.3,0.5,0.7}, mIoU, mAP@{0.5,0.75}, mAP (0.5:0.05:0.95), and mAP per length bucket.
pub fn summarize(preds: &[Prediction], gts: &[GroundTruth]) -> serde_json::Value {
    // A task without prediction scores 0 in R1 and mIoU (the metric code skips it otherwise).
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
