//! `chronoseek ingest`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::ingest::{IngestOutcome, TranscriptOutcome, VideoSource, discover};

use super::{
    CliError, build_engine_with,
    output::{Output, count},
};
use chronoseek::library::period::Zone;
use chronoseek::library::{names, remove};
use chronoseek::query::Engine;

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Videos: paths, file:// or http(s):// URLs, or folders (every video file in them,
    /// recursively, by extension; links followed, hidden and system folders and folders
    /// holding a `.nomedia` or `.chronoseekignore` file skipped).
    #[arg(required = true, value_name = "VIDEO")]
    pub videos: Vec<String>,
    /// Leave the library index as it is (new videos are still found by `library search`, by
    /// an exact scan, until the next `library index`).
    #[arg(long, env = "CHRONOSEEK_NO_INDEX")]
    pub no_index: bool,
    #[command(flatten)]
    pub index: super::library::IndexFlags,
    #[command(flatten)]
    pub audio: super::audio::AudioOpts,
    #[command(flatten)]
    pub zone: super::library::ZoneFlag,
    /// Keep watching the folders given: rescan them every --interval and ingest video files
    /// that are new or changed (the library index follows). Runs until Ctrl-C or SIGTERM.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between two scans of the watched folders.
    #[arg(long, env = "CHRONOSEEK_WATCH_INTERVAL", value_name = "SECONDS", default_value_t = 30.0,
          requires = "watch", value_parser = positive_seconds)]
    pub interval: f64,
    /// A file is taken once it has not been modified for this many seconds (a copy or a
    /// download still being written is left for a later scan, not ingested half-written).
    #[arg(long, env = "CHRONOSEEK_WATCH_SETTLE", value_name = "SECONDS", default_value_t = 10.0,
          requires = "watch", value_parser = non_negative_seconds)]
    pub settle: f64,
    /// While watching, also take out of the store the videos whose files were all deleted from
    /// the watched folders (as `store remove --missing` does; a whole folder gone, like an
    /// unplugged drive, removes nothing).
    #[arg(long, requires = "watch")]
    pub remove_missing: bool,
}

fn positive_seconds(s: &str) -> Result<f64, String> {
    match non_negative_seconds(s)? {
        0.0 => Err(format!("'{s}' is not a positive number of seconds")),
        v => Ok(v),
    }
}

pub(super) fn non_negative_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a number of seconds (0 or more)")),
    }
}

/// The arguments with folders replaced by the video files under them (see
/// `ingest::discover`: links followed, loops not, hidden and system folders skipped). A place
/// the walk cannot go is warned about once per `warned` (a watch rescans every few seconds).
fn expand(args: &[String], warned: &mut HashSet<PathBuf>) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        let p = Path::new(a);
        if !a.contains("://") && p.is_dir() {
            let found = discover::videos_under(p);
            for problem in &found.problems {
                if warned.insert(problem.path().to_path_buf()) {
                    tracing::warn!("{problem}; skipped");
                }
            }
            if found.videos.is_empty() && warned.insert(p.to_path_buf()) {
                tracing::warn!(dir = a, "no video files in folder");
            }
            out.extend(found.videos.into_iter().map(|f| f.display().to_string()));
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// What a run (or one scan of a watch) did.
#[derive(Default)]
struct Tally {
    done: u32,
    skipped: u32,
    failed: u32,
    frames: u64,
    transcribed: u32,
    last_error: Option<CliError>,
}

impl Tally {
    fn say(&self, out: &Output, secs: f64, listening: bool) {
        out.say(format!(
            "{} ingested, {} already stored, {} failed; {} in {secs:.1} s ({:.1} frames/s){}",
            self.done,
            self.skipped,
            self.failed,
            count(self.frames, "frame"),
            self.frames as f64 / secs.max(1e-9),
            if listening { format!("; {} transcripts written", self.transcribed) } else { "; audio off".to_string() }
        ));
        out.json_line(&json!({"summary": {"ingested": self.done, "already_stored": self.skipped,
            "failed": self.failed, "frames": self.frames, "seconds": secs, "audio": listening,
            "transcripts_written": self.transcribed}}));
    }
}

/// Ingests one video and reports it.
/// Recording dates are said as days in `zone` (those `library search --from` counts).
async fn ingest_one(engine: &Engine, video: &str, listening: bool, zone: &Zone, out: &Output, tally: &mut Tally) {
    let bar = out.frames_bar(video);
    let progress = super::output::progress(&bar);
    let result = match VideoSource::parse(video) {
        Ok(source) if listening => {
            engine.ingestor().ingest_with_transcript(&source, &progress).await.map(|(o, t)| (o, Some(t)))
        }
        Ok(source) => engine.ingest(&source, &progress).await.map(|o| (o, None)),
        Err(e) => Err(e.into()),
    }
    .map_err(CliError::from);
    bar.finish_and_clear();
    match result {
        Ok((IngestOutcome::AlreadyIngested(r), Some(TranscriptOutcome::Added { segments, listen_secs }))) => {
            tally.skipped += 1;
            tally.transcribed += 1;
            out.say(format!(
                "{video}: already stored as {}; transcript added ({segments} segments in {listen_secs:.2} s), \
                 frames untouched",
                r.fingerprint
            ));
            out.json_line(&json!({"video": video, "status": "transcript_added", "fingerprint": r.fingerprint.to_hex(),
                "frames": r.frame_count, "duration_s": r.duration_s, "speech_segments": segments,
                "listen_secs": listen_secs}));
        }
        Ok((IngestOutcome::AlreadyIngested(r), _)) => {
            tally.skipped += 1;
            out.say(format!(
                "{video}: already stored as {} ({} frames{}), nothing to do",
                r.fingerprint,
                r.frame_count,
                if r.transcript_id.is_some() { ", with transcript" } else { "" }
            ));
            out.json_line(&json!({"video": video, "status": "already_stored", "fingerprint": r.fingerprint.to_hex(),
                "frames": r.frame_count, "duration_s": r.duration_s, "transcript": r.transcript_id.is_some()}));
        }
        Ok((IngestOutcome::Ingested(r, s), _)) => {
            tally.done += 1;
            tally.frames += s.frames_embedded;
            tally.transcribed += u32::from(s.speech_segments.is_some());
            let audio = match s.speech_segments {
                Some(n) => format!(", listen {:.2} s: {n} speech segments", s.listen_secs),
                None if listening => ", audio not transcribed (see the warning)".to_string(),
                None => String::new(),
            };
            let recorded = r.recorded_at_ms.map(chronoseek::library::period::rfc3339);
            let day = r.recorded_at_ms.map(|ms| zone.day(ms));
            let when = day.as_ref().map(|d| format!(", recorded {d}")).unwrap_or_default();
            out.say(format!(
                "{video}: ingested as {} — {} of {:.1} s, {}{when} ({} embedded, {} near-duplicates reused) \
                 in {:.2} s (decode {:.2} s, embed {:.2} s{audio})",
                r.fingerprint,
                count(r.frame_count, "frame"),
                r.duration_s,
                count(s.cuts, "cut"),
                s.frames_embedded,
                s.frames_reused,
                s.total_secs,
                s.decode_secs,
                s.embed_secs
            ));
            out.json_line(&json!({"video": video, "status": "ingested", "fingerprint": r.fingerprint.to_hex(),
                "frames": r.frame_count, "duration_s": r.duration_s, "recorded_at": recorded, "recorded_day": day, "tz": zone.name(), "stats": s}));
        }
        Err(e) => {
            tally.failed += 1;
            out.say(format!("{video}: failed ({}): {e}", e.code));
            out.json_line(&json!({"video": video, "status": "failed", "error": e.envelope()}));
            // Said once: on stdout above, or (--json, --quiet) as a warning.
            if !out.says() {
                tracing::warn!(video, error = %e, "ingest failed");
            }
            tally.last_error = Some(e);
        }
    }
}

/// Keeps the tables every search lists from fragmenting into one file per video (see
/// `Store::compact_small_tables`). Failure only costs speed: logged, not returned.
async fn compact(engine: &Engine) {
    match engine.store().compact_small_tables().await {
        Ok(done) => {
            for (table, before, after) in done {
                tracing::info!(table, before, after, "store table compacted (fragments)");
            }
        }
        Err(e) => tracing::warn!(error = %e, "store compaction failed (searches read more files until it succeeds)"),
    }
}

/// Brings the library index up to date with the store (new videos go into the graph now;
/// an up-to-date index is left alone after reading its manifest).
async fn refresh_index(g: &GlobalOpts, args: &IngestArgs, engine: &Arc<Engine>, out: &Output) {
    let library = chronoseek::library::Library::new(engine.clone(), &args.index.root(g));
    let bar = out.items_bar(0, "videos indexed");
    let r = library.refresh(&chronoseek::library::RefreshOptions::default(), &super::output::progress(&bar)).await;
    bar.finish_and_clear();
    match r {
        Ok(r) => super::library::report_refresh(&r, out),
        Err(e) => tracing::warn!(error = %e, "library index not updated (library search still finds the new videos)"),
    }
}

pub async fn run(g: &GlobalOpts, args: IngestArgs, out: &Output) -> Result<(), CliError> {
    if args.watch {
        return watch(g, args, out).await;
    }
    let videos = expand(&args.videos, &mut HashSet::new());
    let listener = args.audio.listener(g.device).await?;
    let listening = listener.is_some();
    let zone = args.zone.zone();
    let engine = Arc::new(build_engine_with(g, None, listener).await?);
    let started = Instant::now();
    let mut tally = Tally::default();
    // Over many videos, one more bar for the whole batch (sized by the local files' bytes).
    let size = |v: &String| std::fs::metadata(v).map(|m| m.len()).unwrap_or(0);
    let batch = (videos.len() > 1).then(|| out.batch_bar(videos.iter().map(size).sum()));
    for (i, video) in videos.iter().enumerate() {
        if let Some(bar) = &batch {
            bar.set_message(format!("video {} of {}", i + 1, videos.len()));
        }
        ingest_one(&engine, video, listening, &zone, out, &mut tally).await;
        if let Some(bar) = &batch {
            bar.inc(size(video));
        }
    }
    if let Some(bar) = batch {
        bar.finish_and_clear();
    }
    tally.say(out, started.elapsed().as_secs_f64(), listening);
    if tally.done > 0 {
        compact(&engine).await;
    }
    if !args.no_index && tally.done + tally.skipped > 0 {
        refresh_index(g, &args, &engine, out).await;
    }
    match tally.last_error {
        // Exit with the last failure's code so scripts notice; the others are already reported.
        Some(e) => Err(CliError::new(e.code, format!("{} of {} videos failed; last: {e}", tally.failed, videos.len()))),
        None => Ok(()),
    }
}

/// Removes videos whose recorded files were all under `watched` (source-key prefixes) and are
/// all gone, from folders that still exist; each is reported as `removed`.
async fn remove_deleted(g: &GlobalOpts, args: &IngestArgs, engine: &Engine, watched: &[String], out: &Output) {
    let store = engine.store();
    let result = async {
        let gone: std::collections::BTreeSet<_> = remove::missing_local(store)
            .await?
            .into_iter()
            .filter(|m| m.sources.iter().all(|s| watched.iter().any(|w| s.starts_with(w.as_str()))))
            .map(|m| m.fingerprint)
            .collect();
        if gone.is_empty() {
            return Ok(None);
        }
        let report = remove::remove(
            store,
            &args.index.root(g),
            &gone,
            &remove::RemoveOptions::default(),
            &chronoseek::progress::silent(),
        )
        .await?;
        Ok::<_, chronoseek::library::LibraryError>(Some(report))
    }
    .await;
    match result {
        Ok(Some(report)) => {
            for v in &report.removed {
                let source = v.source.clone().unwrap_or_default();
                out.say(format!("{source}: its file is gone; removed {} from the store", v.fingerprint));
                out.json_line(&json!({"video": source, "status": "removed", "fingerprint": v.fingerprint.to_hex()}));
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not remove videos whose files were deleted; next scan tries again"),
    }
}

/// `ingest --watch`: the arguments once, then the folders among them again every interval.
/// A file is handled once per (size, modification time): unchanged files are not looked at
/// again, a failed file is retried only when it changes, and a file modified less than
/// `--settle` seconds ago waits for a later scan.
async fn watch(g: &GlobalOpts, args: IngestArgs, out: &Output) -> Result<(), CliError> {
    let folders: Vec<&String> = args.videos.iter().filter(|a| !a.contains("://") && Path::new(a).is_dir()).collect();
    if folders.is_empty() {
        return Err(CliError::new(
            chronoseek::protocol::ErrorCode::InvalidRequest,
            "--watch needs at least one folder to watch among the arguments",
        ));
    }
    let listener = args.audio.listener(g.device).await?;
    let listening = listener.is_some();
    let zone = args.zone.zone();
    let engine = Arc::new(build_engine_with(g, None, listener).await?);
    let (interval, settle) = (Duration::from_secs_f64(args.interval), Duration::from_secs_f64(args.settle));
    out.say(format!(
        "watching {} (a scan every {:.0} s; files untouched for {:.0} s are taken); Ctrl-C stops",
        folders.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "),
        args.interval,
        args.settle
    ));
    let started = Instant::now();
    let mut total = Tally::default();
    let mut handled: HashMap<PathBuf, (u64, SystemTime)> = HashMap::new();
    let mut urls_done: HashSet<String> = HashSet::new();
    let shutdown = super::shutdown_signal();
    tokio::pin!(shutdown);
    let watched: Vec<String> = folders.iter().map(|f| format!("{}/", names::file_key(Path::new(f.as_str())))).collect();
    let mut warned = HashSet::new();
    'scans: loop {
        let ingested_before = total.done;
        let mut waiting = 0usize;
        let listed = expand(&args.videos, &mut warned);
        // A file deleted since is forgotten: if it comes back it is looked at again.
        let present: HashSet<PathBuf> = listed.iter().map(PathBuf::from).collect();
        handled.retain(|p, _| present.contains(p));
        for video in listed {
            let path = PathBuf::from(&video);
            let state = if video.contains("://") {
                if !urls_done.insert(video.clone()) {
                    continue;
                }
                None
            } else {
                let Ok(meta) = std::fs::metadata(&path) else { continue };
                let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                let state = (meta.len(), modified);
                if handled.get(&path) == Some(&state) {
                    continue;
                }
                if SystemTime::now().duration_since(modified).unwrap_or_default() < settle {
                    waiting += 1;
                    continue;
                }
                Some(state)
            };
            tokio::select! {
                _ = ingest_one(&engine, &video, listening, &zone, out, &mut total) => {}
                _ = &mut shutdown => break 'scans,
            }
            if let Some(state) = state {
                handled.insert(path, state);
            }
        }
        if waiting > 0 {
            tracing::info!(files = waiting, "files still being written; taken on a later scan");
        }
        if total.done > ingested_before {
            compact(&engine).await;
        }
        if total.done > ingested_before && !args.no_index {
            refresh_index(g, &args, &engine, out).await;
        }
        if args.remove_missing {
            remove_deleted(g, &args, &engine, &watched, out).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = &mut shutdown => break,
        }
    }
    out.say("stopped watching");
    total.say(out, started.elapsed().as_secs_f64(), listening);
    Ok(())
}
