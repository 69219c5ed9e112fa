//! `chronoseek ingest`.

use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::ingest::{IngestOutcome, VideoSource};

use super::{CliError, build_engine, output::Output};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Videos: paths, file:// or http(s):// URLs.
    #[arg(required = true, value_name = "VIDEO")]
    pub videos: Vec<String>,
}

pub async fn run(g: &GlobalOpts, args: IngestArgs, out: &Output) -> Result<(), CliError> {
    let engine = build_engine(g, None).await?;
    let started = Instant::now();
    let (mut done, mut skipped, mut failed, mut frames) = (0u32, 0u32, 0u32, 0u64);
    let mut last_error = None;
    for video in &args.videos {
        let bar = out.frames_bar(video);
        let result = match VideoSource::parse(video) {
            Ok(source) => engine.ingest(&source, &super::output::progress(&bar)).await.map_err(CliError::from),
            Err(e) => Err(CliError::from(e)),
        };
        bar.finish_and_clear();
        match result {
            Ok(IngestOutcome::AlreadyIngested(r)) => {
                skipped += 1;
                out.say(format!(
                    "{video}: already stored as {} ({} frames), nothing to do",
                    r.fingerprint, r.frame_count
                ));
                out.json_line(
                    &json!({"video": video, "status": "already_stored", "fingerprint": r.fingerprint.to_hex(),
                    "frames": r.frame_count, "duration_s": r.duration_s}),
                );
            }
            Ok(IngestOutcome::Ingested(r, s)) => {
                done += 1;
                frames += s.frames_embedded;
                out.say(format!(
                    "{video}: ingested as {} — {} frames of {:.1} s ({} embedded, {} near-duplicates reused) in {:.2} s \
                     (decode {:.2} s, embed {:.2} s)",
                    r.fingerprint, r.frame_count, r.duration_s, s.frames_embedded, s.frames_reused, s.total_secs,
                    s.decode_secs, s.embed_secs
                ));
                out.json_line(&json!({"video": video, "status": "ingested", "fingerprint": r.fingerprint.to_hex(),
                    "frames": r.frame_count, "duration_s": r.duration_s, "stats": s}));
            }
            Err(e) => {
                failed += 1;
                out.say(format!("{video}: failed ({}): {e}", e.code));
                out.json_line(&json!({"video": video, "status": "failed", "error": e.envelope()}));
                tracing::warn!(video, error = %e, "ingest failed");
                last_error = Some(e);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    out.say(format!(
        "{done} ingested, {skipped} already stored, {failed} failed; {frames} frames in {secs:.1} s ({:.1} frames/s)",
        frames as f64 / secs.max(1e-9)
    ));
    out.json_line(&json!({"summary": {"ingested": done, "already_stored": skipped, "failed": failed,
        "frames": frames, "seconds": secs}}));
    match last_error {
        // Exit with the last failure's code so scripts notice; the others are already reported.
        Some(e) => Err(CliError::new(e.code, format!("{failed} of {} videos failed; last: {e}", args.videos.len()))),
        None => Ok(()),
    }
}
