//! `chronoseek remix`: makes remixed tasks from a task file exactly as a validator in remix
//! mode does (same sources cache, plan and render), and writes them out instead of serving
//! them: to see what miners are sent, check a task by eye, or time generation.

use std::path::PathBuf;

use clap::Args;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::global::GlobalOpts;
use super::{CliError, output::Output};
use chronoseek::ingest::{FetchOptions, Fetcher};
use chronoseek::protocol::ErrorCode;
use chronoseek::validator::remix::{RemixOptions, RemixPlan, render};
use chronoseek::validator::remixer::{moments_by_video, source_video};
use chronoseek::validator::sources::SourceCache;
use chronoseek::validator::tasks::{LoadOptions, TaskFormat, load_split};

#[derive(Debug, Args)]
pub struct RemixArgs {
    /// Task annotations (any format the validator reads); relative video paths are relative
    /// to the file.
    #[arg(long, env = "TASK_DATASET_PATH", value_name = "PATH")]
    pub tasks: PathBuf,
    /// Split to use (a generated set's tasks are `synthetic`).
    #[arg(long, env = "TASK_SPLIT", default_value = "validation")]
    pub task_split: String,
    /// Annotation format (default: from the file name and shape).
    #[arg(long, env = "TASK_FORMAT", value_name = "FORMAT",
          value_parser = super::choices::one_of::<TaskFormat>(TaskFormat::NAMES))]
    pub task_format: Option<TaskFormat>,
    /// Output folder: remix-<n>.mp4 and remix-<n>.json (query, ground truth, cuts).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Remixes to make.
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Seed of the draws (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fewest annotated cuts in one remix (a lead-in comes before them).
    #[arg(long, env = "REMIX_MIN_CUTS", default_value_t = 3)]
    pub min_cuts: usize,
    /// Most annotated cuts in one remix.
    #[arg(long, env = "REMIX_MAX_CUTS", default_value_t = 6)]
    pub max_cuts: usize,
    /// Most source videos one remix draws from.
    #[arg(long, env = "REMIX_MAX_SOURCES", default_value_t = 3)]
    pub max_sources: usize,
    /// Source cache folder (default: <cache dir>/chronoseek/remix-sources).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Megabytes of source videos kept.
    #[arg(long, env = "REMIX_SOURCE_CACHE_MB", default_value_t = 10_240)]
    pub cache_mb: u64,
}

pub async fn run(g: &GlobalOpts, a: RemixArgs, out: &Output) -> Result<(), CliError> {
    let bad = |m: String| CliError::new(ErrorCode::InvalidRequest, m);
    let mut tasks =
        load_split(&a.tasks, &a.task_split, a.task_format, &LoadOptions::default()).map_err(|e| bad(e.to_string()))?;
    chronoseek::tasks::resolve_relative_paths(&mut tasks, &a.tasks);
    let moments = moments_by_video(&tasks);
    let videos: Vec<&String> = moments.iter().filter(|(_, m)| !m.is_empty()).map(|(v, _)| v).collect();
    if videos.is_empty() {
        return Err(bad("no task has a ground-truth interval to cut around".into()));
    }
    let cache_dir = a
        .cache
        .clone()
        .unwrap_or_else(|| dirs::cache_dir().unwrap_or_default().join("chronoseek").join("remix-sources"));
    let fetcher = Fetcher::new(FetchOptions { ..g.pipeline.fetch_options() }).map_err(|e| bad(e.to_string()))?;
    let mut cache =
        SourceCache::open(&cache_dir, a.cache_mb.saturating_mul(1 << 20), fetcher).map_err(CliError::internal)?;
    std::fs::create_dir_all(&a.out).map_err(|e| CliError::internal(format!("{}: {e}", a.out.display())))?;
    let options = RemixOptions {
        min_cuts: a.min_cuts.max(1),
        max_cuts: a.max_cuts.max(a.min_cuts.max(1)),
        ..RemixOptions::default()
    };
    let mut rng = StdRng::seed_from_u64(a.seed.unwrap_or_else(chronoseek::clock::now_ms));
    let bar = out.items_bar(a.count as u64, "remixes");
    let (mut seconds, mut bytes, mut duration) = (0.0, 0u64, 0.0);
    for n in 0..a.count {
        let want = rng.random_range(1..=a.max_sources.max(1)).min(videos.len());
        let mut pool = videos.clone();
        let mut sources = Vec::new();
        while sources.len() < want && !pool.is_empty() {
            let origin = pool.swap_remove(rng.random_range(0..pool.len()));
            match cache.ensure(origin).await {
                Ok(s) => sources.push(source_video(&cache, &s, &moments)),
                Err(e) => tracing::warn!(error = %e, "skipping a source video"),
            }
        }
        let plan = RemixPlan::draw(&sources, &options, &mut rng)
            .ok_or_else(|| bad("no reachable source video has an annotated moment".into()))?;
        let file = a.out.join(format!("remix-{n}.mp4"));
        let stats = render(&plan, &sources, &file).await.map_err(CliError::internal)?;
        let report = json!({
            "file": file,
            "query": plan.query,
            "ground_truths": plan.ground_truths,
            "duration_s": plan.duration,
            "render_s": stats.seconds,
            "bytes": stats.bytes,
            "sources": sources.iter().map(|s| s.origin.clone()).collect::<Vec<_>>(),
            "lookup_iou": plan.lookup_iou(&sources),
            "plan": plan,
        });
        let meta = a.out.join(format!("remix-{n}.json"));
        std::fs::write(&meta, serde_json::to_vec_pretty(&report).map_err(CliError::internal)?)
            .map_err(CliError::internal)?;
        out.json_line(&report);
        bar.set_position(n as u64 + 1);
        out.say(format!(
            "{}: {:.1} s from {} source(s), {} cuts, {}x{}: rendered in {:.2} s, {} bytes; \"{}\" at {:?}",
            file.display(),
            plan.duration,
            sources.len(),
            plan.cuts.len(),
            plan.encoding.width,
            plan.encoding.height,
            stats.seconds,
            stats.bytes,
            plan.query,
            plan.ground_truths.iter().map(|g| [g.start, g.end]).collect::<Vec<_>>()
        ));
        seconds += stats.seconds;
        bytes += stats.bytes;
        duration += plan.duration;
    }
    bar.finish_and_clear();
    let n = a.count.max(1) as f64;
    out.say(format!(
        "{} remixes: mean {:.1} s long, rendered in {:.2} s ({:.1}x real time), {:.0} bytes each (what each miner downloads)",
        a.count,
        duration / n,
        seconds / n,
        duration / seconds.max(1e-9),
        bytes as f64 / n
    ));
    Ok(())
}
