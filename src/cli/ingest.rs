//! `chronoseek ingest`.

use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::ingest::{IngestOutcome, TranscriptOutcome, VideoSource};

use super::{CliError, build_engine_with, output::Output};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Videos: paths, file:// or http(s):// URLs, or folders (every video file in them,
    /// recursively, by extension).
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
}

/// File extensions `ingest FOLDER` picks up.
const VIDEO_EXTENSIONS: &[&str] =
    &["mp4", "m4v", "mov", "mkv", "webm", "avi", "mpg", "mpeg", "ts", "m2ts", "flv", "wmv", "3gp", "ogv"];

/// The arguments with folders replaced by the video files under them (sorted).
fn expand(args: &[String]) -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            tracing::warn!(dir = %dir.display(), "cannot read folder; skipped");
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| VIDEO_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
            {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for a in args {
        let p = std::path::Path::new(a);
        if !a.contains("://") && p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found);
            found.sort();
            if found.is_empty() {
                tracing::warn!(dir = a, "no video files in folder");
            }
            out.extend(found.into_iter().map(|f| f.display().to_string()));
        } else {
            out.push(a.clone());
        }
    }
    out
}

pub async fn run(g: &GlobalOpts, args: IngestArgs, out: &Output) -> Result<(), CliError> {
    let videos = expand(&args.videos);
    let listener = args.audio.listener(g.device).await?;
    let listening = listener.is_some();
    let engine = std::sync::Arc::new(build_engine_with(g, None, listener).await?);
    let started = Instant::now();
    let (mut done, mut skipped, mut failed, mut frames, mut transcribed) = (0u32, 0u32, 0u32, 0u64, 0u32);
    let mut last_error = None;
    for video in &videos {
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
                skipped += 1;
                transcribed += 1;
                out.say(format!(
                    "{video}: already stored as {}; transcript added ({segments} segments in {listen_secs:.2} s), \
                     frames untouched",
                    r.fingerprint
                ));
                out.json_line(
                    &json!({"video": video, "status": "transcript_added", "fingerprint": r.fingerprint.to_hex(),
                    "frames": r.frame_count, "duration_s": r.duration_s, "speech_segments": segments,
                    "listen_secs": listen_secs}),
                );
            }
            Ok((IngestOutcome::AlreadyIngested(r), _)) => {
                skipped += 1;
                out.say(format!(
                    "{video}: already stored as {} ({} frames{}), nothing to do",
                    r.fingerprint,
                    r.frame_count,
                    if r.transcript_id.is_some() { ", with transcript" } else { "" }
                ));
                out.json_line(
                    &json!({"video": video, "status": "already_stored", "fingerprint": r.fingerprint.to_hex(),
                    "frames": r.frame_count, "duration_s": r.duration_s, "transcript": r.transcript_id.is_some()}),
                );
            }
            Ok((IngestOutcome::Ingested(r, s), _)) => {
                done += 1;
                frames += s.frames_embedded;
                transcribed += u32::from(s.speech_segments.is_some());
                let audio = match s.speech_segments {
                    Some(n) => format!(", listen {:.2} s: {n} speech segments", s.listen_secs),
                    None if listening => ", audio not transcribed (see the warning)".to_string(),
                    None => String::new(),
                };
                out.say(format!(
                    "{video}: ingested as {} — {} frames of {:.1} s ({} embedded, {} near-duplicates reused) in {:.2} s \
                     (decode {:.2} s, embed {:.2} s{audio})",
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
        "{done} ingested, {skipped} already stored, {failed} failed; {frames} frames in {secs:.1} s ({:.1} frames/s){}",
        frames as f64 / secs.max(1e-9),
        if listening { format!("; {transcribed} transcripts written") } else { "; audio off".to_string() }
    ));
    out.json_line(&json!({"summary": {"ingested": done, "already_stored": skipped, "failed": failed,
        "frames": frames, "seconds": secs, "audio": listening, "transcripts_written": transcribed}}));
    if !args.no_index && done + skipped > 0 {
        // Keep the library index current: new videos go into the graph now (an up-to-date
        // index is left alone after reading its manifest).
        let library = chronoseek::library::Library::new(engine.clone(), &args.index.root(g));
        let bar = out.items_bar(0, "videos indexed");
        let r = library.refresh(&chronoseek::library::RefreshOptions::default(), &super::output::progress(&bar)).await;
        bar.finish_and_clear();
        match r {
            Ok(r) => super::library::report_refresh(&r, out),
            Err(e) => {
                tracing::warn!(error = %e, "library index not updated (library search still finds the new videos)")
            }
        }
    }
    match last_error {
        // Exit with the last failure's code so scripts notice; the others are already reported.
        Some(e) => Err(CliError::new(e.code, format!("{failed} of {} videos failed; last: {e}", videos.len()))),
        None => Ok(()),
    }
}
