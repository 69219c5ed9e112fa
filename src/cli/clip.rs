//! `chronoseek clip`: a moment as an MP4 file (what the page's "Save clip" downloads).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::global::GlobalOpts;
use super::{CliError, output::Output};
use chronoseek::fingerprint::Fingerprint;
use chronoseek::index::Store;
use chronoseek::library::clip::{ClipSpan, cut};
use chronoseek::protocol::ErrorCode;

#[derive(Debug, Args)]
pub struct ClipArgs {
    /// The video: a local file, or the fingerprint of a stored video whose file is still where
    /// it was ingested from.
    #[arg(value_name = "VIDEO")]
    pub video: String,
    /// Where the clip starts: seconds (75.5) or [h:]m:ss (1:15.5).
    #[arg(value_name = "START", value_parser = super::library::parse_clock)]
    pub start: f64,
    /// Where it ends (the clip is at most 600 s long).
    #[arg(value_name = "END", value_parser = super::library::parse_clock)]
    pub end: f64,
    /// The MP4 file to write (default: <video name>-<start>-<end>.mp4 in this folder).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

pub async fn run(g: &GlobalOpts, args: ClipArgs, out: &Output) -> Result<(), CliError> {
    let invalid = |m: String| CliError::new(ErrorCode::InvalidRequest, m);
    let named = PathBuf::from(&args.video);
    let input = if named.is_file() {
        named
    } else if let Ok(fp) = args.video.parse::<Fingerprint>() {
        let store = Store::open(&g.store_uri()).await?;
        let mut local = chronoseek::library::names::local_files_of(&store, &[fp]).await?;
        local.remove(&fp).ok_or_else(|| invalid(format!("no local file of video {fp} in the store")))?
    } else {
        return Err(invalid(format!("{}: no such file, and not a fingerprint", args.video)));
    };
    let info = chronoseek::ingest::probe(&input)
        .map_err(|e| CliError::new(ErrorCode::VideoUnreadable, format!("{}: {e}", input.display())))?;
    let duration = info.duration_s.unwrap_or(f64::INFINITY);
    let span = ClipSpan::new(args.start, args.end, duration).map_err(|e| invalid(e.to_string()))?;
    let stem = input.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let target = args.output.unwrap_or_else(|| PathBuf::from(span.file_name(&stem)));
    if target.exists() && !args.force {
        return Err(invalid(format!("{} exists (--force replaces it)", target.display())));
    }
    let started = std::time::Instant::now();
    // Cut beside the target and renamed to it when whole: Ctrl-C never leaves half a clip.
    let tmp = super::output_temp(&target)?;
    cut(&input, span, tmp.path()).await.map_err(|e| CliError::new(e.code(), e.to_string()))?;
    let bytes = tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
    super::persist_output(tmp, &target, args.force)?;
    let secs = started.elapsed().as_secs_f64();
    out.say(format!(
        "{}: {:.1} s to {:.1} s of {} ({:.1} MB, cut in {secs:.1} s)",
        target.display(),
        span.start(),
        span.end(),
        input.display(),
        bytes as f64 / 1e6
    ));
    out.json_line(&json!({"clip": target.display().to_string(), "video": input.display().to_string(),
        "start": span.start(), "end": span.end(), "bytes": bytes, "seconds": secs}));
    Ok(())
}
