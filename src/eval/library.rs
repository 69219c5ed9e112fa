//! `chronoseek eval --library`: the task set turned into one library. Every task's video is in
//! the store; each task's sentence is searched across the whole library, and a top-1 answer
//! counts only when it names the task's video *and* overlaps its ground truth (IoU ≥ t). Run
//! once through the graph and once exactly, so the approximate stage's cost in quality shows.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::metrics::{GroundTruth, Prediction, mr_r1};
use crate::fingerprint::Fingerprint;
use crate::ingest::VideoInput;
use crate::library::{Candidates, Library, LibraryQuery, LibraryTopK};
use crate::progress::{Progress, silent};
use crate::tasks::Task;

#[derive(Debug, Clone, Serialize)]
pub struct LibraryModeReport {
    /// Right video and IoU ≥ t at rank 1, in percent.
    #[serde(rename = "R1@0.3")]
    pub r1_03: f64,
    #[serde(rename = "R1@0.5")]
    pub r1_05: f64,
    #[serde(rename = "R1@0.7")]
    pub r1_07: f64,
    /// Right video at rank 1, in percent (any interval).
    pub video_r1: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LibraryEvalReport {
    pub tasks: usize,
    pub videos: usize,
    pub failed: usize,
    pub ann: LibraryModeReport,
    pub exact: LibraryModeReport,
}

fn video_path(t: &Task, base: &Path) -> String {
    if t.video_url.contains("://") || Path::new(&t.video_url).is_absolute() {
        t.video_url.clone()
    } else {
        base.join(&t.video_url).display().to_string()
    }
}

/// Runs every task through library search in both modes. Videos not in the store yet are
/// ingested first; the caller refreshes the index before (or the new videos are scanned
/// exactly, as in any library search).
pub async fn run_library(library: &Library, tasks: &[Task], base: &Path, bar: &dyn Progress) -> LibraryEvalReport {
    let engine = library.engine();
    let mut targets: Vec<Option<Fingerprint>> = Vec::with_capacity(tasks.len());
    for t in tasks {
        let fp = match VideoInput::from_cli(&video_path(t, base)) {
            Ok(input) => engine.resolve(&input, &silent()).await.map(|(r, _)| r.fingerprint).ok(),
            Err(_) => None,
        };
        targets.push(fp);
    }
    let videos = targets.iter().flatten().collect::<std::collections::HashSet<_>>().len();
    let gts: Vec<GroundTruth> = tasks
        .iter()
        .map(|t| GroundTruth {
            qid: t.task_id.clone(),
            windows: t.ground_truths.iter().map(|g| [g.start, g.end]).collect(),
        })
        .collect();
    let mut failed = 0;
    let mut reports = Vec::new();
    for mode in [Candidates::Ann, Candidates::Exact] {
        let mut preds = Vec::with_capacity(tasks.len());
        let mut right_video = 0usize;
        let mut ms = Vec::with_capacity(tasks.len());
        for (t, target) in tasks.iter().zip(&targets) {
            bar.set_message(&t.task_id);
            let mut q = LibraryQuery::new(t.query.clone(), LibraryTopK::new(1).unwrap_or_default());
            q.candidates = mode;
            let started = Instant::now();
            let window = match library.search(&q).await {
                Ok(a) => a.hits.first().map(|h| {
                    if Some(h.fingerprint) == *target {
                        right_video += 1;
                        [h.start, h.end, f64::from(h.score)]
                    } else {
                        // The wrong video: no overlap with the task's moment, whatever the times.
                        [0.0, 0.0, f64::from(h.score)]
                    }
                }),
                Err(e) => {
                    failed += 1;
                    tracing::warn!(task = %t.task_id, error = %e, "library search failed; scored as no prediction");
                    None
                }
            };
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
            preds.push(Prediction { qid: t.task_id.clone(), windows: vec![window.unwrap_or([0.0, 0.0, 0.0])] });
            bar.inc(1);
        }
        let r1 = mr_r1(&preds, &gts, &[0.3, 0.5, 0.7]);
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms.get(((ms.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
        reports.push(LibraryModeReport {
            r1_03: r1["0.3"],
            r1_05: r1["0.5"],
            r1_07: r1["0.7"],
            video_r1: (10_000.0 * right_video as f64 / tasks.len().max(1) as f64).round() / 100.0,
            p50_ms: (at(0.5) * 100.0).round() / 100.0,
            p95_ms: (at(0.95) * 100.0).round() / 100.0,
        });
    }
    let exact = reports.pop().expect("two modes");
    let ann = reports.pop().expect("two modes");
    LibraryEvalReport { tasks: tasks.len(), videos, failed, ann, exact }
}
