//! `chronoseek eval`: retrieval quality on a task file, or a QVHighlights prediction file
//! scored against its ground truth.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::eval::files::{load_ground_truth, load_predictions};
use chronoseek::eval::metrics::qvhighlights_brief;
use chronoseek::eval::run::{run_tasks, summarize};
use chronoseek::protocol::{ErrorCode, TopK};
use chronoseek::validator::tasks::{LoadOptions, TaskFormat, load_tasks};

use super::{CliError, build_engine, output::Output};

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Task file (reference JSON, ActivityNet JSON, QVHighlights jsonl or Charades-STA txt).
    /// Relative video paths are resolved against the file's folder.
    #[arg(long, value_name = "FILE", conflicts_with = "predictions", required_unless_present = "predictions")]
    pub tasks: Option<PathBuf>,
    /// Format of --tasks when its name does not tell.
    #[arg(long, value_name = "FORMAT",
          value_parser = super::choices::one_of::<TaskFormat>(TaskFormat::NAMES))]
    pub task_format: Option<TaskFormat>,
    /// Evaluate only the first N tasks.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Windows requested per task (the mAP counts at most 10).
    #[arg(long, default_value_t = 10)]
    pub top_k: u32,
    /// Also write the predictions of a --tasks run as a QVHighlights prediction file.
    #[arg(long, value_name = "FILE", requires = "tasks")]
    pub predictions_out: Option<PathBuf>,
    /// QVHighlights prediction file (jsonl: qid, pred_relevant_windows [[start, end, score]]).
    #[arg(long, value_name = "FILE", requires = "ground_truth")]
    pub predictions: Option<PathBuf>,
    /// QVHighlights ground-truth file (jsonl: qid, relevant_windows).
    #[arg(long, value_name = "FILE")]
    pub ground_truth: Option<PathBuf>,
    /// Also search every task's sentence across the whole library (all the tasks' videos in
    /// one store): a hit needs the right video and IoU ≥ t. Reported through the index and
    /// exactly.
    #[arg(long, requires = "tasks")]
    pub library: bool,
    #[command(flatten)]
    pub index: super::library::IndexFlags,
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
    let engine = std::sync::Arc::new(build_engine(g, None).await?);
    let bar = out.items_bar(tasks.len() as u64, "tasks");
    let run = run_tasks(&engine, &tasks, base, top_k, super::output::progress(&bar).as_ref()).await;
    engine.flush(super::FLUSH_LIMIT).await;
    bar.finish_and_clear();
    if let Some(path) = &args.predictions_out {
        let lines: Vec<String> = run
            .predictions
            .iter()
            .map(|p| json!({"qid": p.qid, "pred_relevant_windows": p.windows}).to_string())
            .collect();
        std::fs::write(path, lines.join("\n") + "\n")
            .map_err(|e| CliError::internal(format!("{}: {e}", path.display())))?;
    }
    let report = summarize(&run.predictions, &run.ground_truth);
    let segmenter = engine.options().segmenter.name();
    out.say(format!(
        "{} tasks ({} failed), segmenter {segmenter}, model {}",
        tasks.len(),
        run.failed,
        engine.model().key()
    ));
    for (k, v) in report.as_object().into_iter().flatten() {
        out.say(format!("{k:<14} {v}"));
    }
    let c = engine.counters();
    out.say(format!("frames: {} embedded, {} near-duplicates reused", c.image_embeddings, c.frames_reused));
    let library = if args.library {
        let library = chronoseek::library::Library::new(engine.clone(), &args.index.root(g));
        let r =
            library.refresh(&chronoseek::library::RefreshOptions::default(), &chronoseek::progress::silent()).await?;
        super::library::report_refresh(&r, out);
        let bar = out.items_bar(2 * tasks.len() as u64, "library searches");
        let lib =
            chronoseek::eval::library::run_library(&library, &tasks, base, super::output::progress(&bar).as_ref())
                .await;
        bar.finish_and_clear();
        out.say(format!(
            "library: {} tasks over {} videos ({} failed); a hit needs the right video",
            lib.tasks, lib.videos, lib.failed
        ));
        for (name, m) in [("index", &lib.ann), ("exact", &lib.exact)] {
            out.say(format!(
                "  {name:<6} R1@0.3 {:>6.2}  R1@0.5 {:>6.2}  R1@0.7 {:>6.2}  right video {:>6.2}  p50 {:.1} ms  p95 {:.1} ms",
                m.r1_03, m.r1_05, m.r1_07, m.video_r1, m.p50_ms, m.p95_ms
            ));
        }
        Some(lib)
    } else {
        None
    };
    out.json_line(
        &json!({"tasks": tasks.len(), "failed": run.failed, "segmenter": segmenter, "model": engine.model().key(),
        "metrics": report, "frames": {"embedded": c.image_embeddings, "reused": c.frames_reused}, "library": library}),
    );
    Ok(())
}
