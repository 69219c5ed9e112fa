//! `chronoseek doctor`: what this machine and these settings can do, checked one by one, each
//! with what to do about it. For the question before every other one: "why does X not work
//! here?" (no `ffmpeg` program for clips, a model that is not in the cache, an index behind).
//!
//! Nothing is downloaded and nothing written: models are looked up in the cache only, the
//! store is opened (a new store's folder is created, as any command does).

use std::path::Path;

use clap::Args;
use serde::Serialize;
use serde_json::json;

use super::global::GlobalOpts;
use super::{CliError, output::Output};
use chronoseek::index::Store;
use chronoseek::model::{ClipEmbedder, Download, ModelSource};
use chronoseek::protocol::ErrorCode;

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The speech model to look for (as `ingest --audio-model`).
    #[arg(long, env = "CHRONOSEEK_AUDIO_MODEL", default_value = "openai/whisper-tiny", value_name = "ID|DIR")]
    pub audio_model: String,
    #[command(flatten)]
    pub index: super::library::IndexFlags,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    /// Works.
    Ok,
    /// Works, or is not needed for the basics, but something is missing or behind.
    Warn,
    /// Search or ingest cannot work with these settings.
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    status: Status,
    detail: String,
    /// What to do about it (warnings and failures).
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
}

fn check(name: &'static str, status: Status, detail: impl Into<String>, hint: Option<&str>) -> Check {
    Check { name, status, detail: detail.into(), hint: hint.map(str::to_string) }
}

pub async fn run(g: &GlobalOpts, args: DoctorArgs, out: &Output) -> Result<(), CliError> {
    let mut checks = vec![decoders(), ffmpeg_program().await, yt_dlp(&g.pipeline.yt_dlp).await];
    let model = g.model_source();
    checks.push(clip_model(&model, g).await);
    checks.push(speech_model(&args.audio_model).await);
    let store = Store::open(&g.store_uri()).await;
    checks.push(match &store {
        Ok(s) => {
            let rows = s.row_counts().await.map_err(CliError::from)?;
            let videos = rows.iter().find(|(t, _)| *t == "videos").map(|(_, n)| *n).unwrap_or(0);
            check(
                "store",
                Status::Ok,
                format!("{} (schema {}, {videos} video rows)", s.uri(), s.schema_version()),
                None,
            )
        }
        Err(e) => {
            check("store", Status::Fail, format!("{}: {e}", g.store_uri()), Some("check --store / CHRONOSEEK_STORE"))
        }
    });
    if let Ok(s) = &store {
        checks.push(write_lock(s));
        checks.push(library_index(s, &args.index.root(g)).await);
        checks.push(cuts(s).await);
        if let Some(folder) = s.local_folder() {
            checks.push(disk(folder));
        }
    }

    checks.push(time_zones());

    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if out.json {
        out.json_line(&json!({"ok": failed == 0, "checks": checks}));
    } else {
        for c in &checks {
            let mark = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            out.say(format!("{mark}  {:<16} {}", c.name, c.detail));
            if let Some(h) = &c.hint {
                out.say(format!("{:<22} → {h}", ""));
            }
        }
    }
    match failed {
        0 => Ok(()),
        n => Err(CliError::new(ErrorCode::InvalidRequest, format!("{n} check(s) failed (see above)"))),
    }
}

/// The FFmpeg libraries this binary decodes with, and the decoders a phone or camera library needs.
fn decoders() -> Check {
    use ffmpeg_next::codec::Id;
    let wanted = [(Id::H264, "h264"), (Id::HEVC, "hevc"), (Id::VP9, "vp9"), (Id::AV1, "av1"), (Id::MPEG4, "mpeg4")];
    let missing: Vec<&str> =
        wanted.iter().filter(|(id, _)| ffmpeg_next::decoder::find(*id).is_none()).map(|(_, n)| *n).collect();
    let v = ffmpeg_next::codec::version();
    let version = format!("libavcodec {}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff);
    if missing.is_empty() {
        check("decoders", Status::Ok, format!("{version}; h264, hevc, vp9, av1, mpeg4"), None)
    } else {
        check(
            "decoders",
            Status::Warn,
            format!("{version}; no {} decoder", missing.join(", ")),
            Some(
                "videos in those codecs fail as VIDEO_UNREADABLE: install a fuller libavcodec (Debian: libavcodec-extra)",
            ),
        )
    }
}

/// The `ffmpeg` program: clips, reels and the validator's remixes encode with it.
async fn ffmpeg_program() -> Check {
    let hint = Some("clips, reels and remixed tasks need it: apt-get install ffmpeg");
    let Ok(out) = tokio::process::Command::new("ffmpeg").args(["-hide_banner", "-encoders"]).output().await else {
        return check("ffmpeg program", Status::Warn, "not found on PATH", hint);
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let has = |name: &str| text.lines().any(|l| l.split_whitespace().nth(1) == Some(name));
    let missing: Vec<&str> = ["libx264", "aac"].into_iter().filter(|e| !has(e)).collect();
    if out.status.success() && missing.is_empty() {
        check("ffmpeg program", Status::Ok, "found, with libx264 and aac", None)
    } else {
        check("ffmpeg program", Status::Warn, format!("found, but no {} encoder", missing.join(", ")), hint)
    }
}

/// yt-dlp: only for platform pages (YouTube, Vimeo, ...).
async fn yt_dlp(program: &Path) -> Check {
    match tokio::process::Command::new(program).arg("--version").output().await {
        Ok(out) if out.status.success() => {
            check("yt-dlp", Status::Ok, String::from_utf8_lossy(&out.stdout).trim().to_string(), None)
        }
        _ => check(
            "yt-dlp",
            Status::Warn,
            format!("{} not found", program.display()),
            Some("only platform pages (YouTube, Vimeo, ...) need it: pipx install yt-dlp, or --yt-dlp PATH"),
        ),
    }
}

/// The CLIP checkpoint, from its folder or the hub cache (never downloaded here), loaded.
async fn clip_model(source: &ModelSource, g: &GlobalOpts) -> Check {
    let name = source.display_name();
    let files = match source.resolve_with(Download::Never).await {
        Ok(f) => f,
        Err(e) => {
            return check(
                "CLIP model",
                Status::Fail,
                format!("{name}: {e}"),
                Some("the first search or ingest downloads a hub model (network needed), or give --model-dir DIR"),
            );
        }
    };
    let opts = g.model_options();
    let loaded = tokio::task::spawn_blocking(move || ClipEmbedder::from_files(&files, &name, opts)).await;
    match loaded {
        Ok(Ok(m)) => check(
            "CLIP model",
            Status::Ok,
            format!("{} on {}: {}-d, {} px frames", m.key(), g.device, m.dim(), m.image_size()),
            None,
        ),
        Ok(Err(e)) => check("CLIP model", Status::Fail, format!("{}: {e}", source.display_name()), None),
        Err(e) => check("CLIP model", Status::Fail, e.to_string(), None),
    }
}

/// The speech model (`ingest --audio auto` listens only when it is local).
async fn speech_model(id: &str) -> Check {
    let source = ModelSource::from_flags(Some(id), None);
    match source.resolve_with(Download::Never).await {
        Ok(_) => {
            check("speech model", Status::Ok, format!("{} available: ingest listens", source.display_name()), None)
        }
        Err(_) => check(
            "speech model",
            Status::Warn,
            format!("{} not available locally: ingest is visual only", source.display_name()),
            Some("`ingest --audio on` downloads it once (network needed), or --audio-model DIR"),
        ),
    }
}

/// The library index for the store's videos: present and current?
async fn library_index(store: &Store, root: &Path) -> Check {
    match chronoseek::library::staleness(store, root).await {
        Ok(indexes) if indexes.is_empty() => check(
            "library index",
            Status::Warn,
            "none yet: library search scans every video exactly",
            Some("chronoseek library index (ingest builds it too)"),
        ),
        Ok(indexes) => {
            let pending: usize = indexes.iter().map(|i| i.pending_videos).sum();
            let vectors: usize = indexes.iter().map(|i| i.vectors).sum();
            let detail = format!("{} index(es), {vectors} vectors, {pending} videos pending", indexes.len());
            if pending == 0 {
                check("library index", Status::Ok, detail, None)
            } else {
                check(
                    "library index",
                    Status::Warn,
                    detail,
                    Some("chronoseek library index (pending videos are scanned exactly meanwhile)"),
                )
            }
        }
        Err(e) => check("library index", Status::Warn, e.to_string(), Some("chronoseek library index --rebuild")),
    }
}

/// Whether another process holds the store's write lock now (writes wait for it).
fn write_lock(store: &Store) -> Check {
    match store.write_lock_holder() {
        None => check("store lock", Status::Ok, "free: writes go ahead", None),
        Some(holder) => check(
            "store lock",
            Status::Warn,
            format!("held by {holder}: this store's writes wait for it"),
            Some("an ingest or store command is writing; the OS releases the lock when its process ends"),
        ),
    }
}

/// Videos stored before frame-precise cuts were looked for (their moments start and end
/// midway between samples).
async fn cuts(store: &Store) -> Check {
    match store.videos_without_cuts().await {
        Ok(v) if v.is_empty() => check("shot cuts", Status::Ok, "every stored video has its frame-precise cuts", None),
        Ok(v) => check(
            "shot cuts",
            Status::Warn,
            format!("{} stored before cuts were looked for: their moments start midway between samples", v.len()),
            Some("chronoseek store cuts (decodes their files once; no model)"),
        ),
        Err(e) => check("shot cuts", Status::Warn, e.to_string(), None),
    }
}

/// The time zone database: whose days `library search --from/--until` and the page's months
/// mean (`--tz`, the browser's zone).
fn time_zones() -> Check {
    use chronoseek::library::period::{Zone, zones_known};
    let here = Zone::system().name();
    match zones_known() {
        0 => check(
            "time zones",
            Status::Warn,
            format!("no time zone database: only UTC and this machine's zone ({here}) can be named"),
            Some("install tzdata (or set TZDIR) for --tz and the page's dated searches"),
        ),
        n => match Zone::unreadable_tz() {
            Some(tz) => check(
                "time zones",
                Status::Warn,
                format!("{n} known, but TZ={tz} names none: days are UTC's"),
                Some("set TZ to an IANA name (Europe/Berlin), or unset it to use /etc/localtime"),
            ),
            None => check("time zones", Status::Ok, format!("{n} known; this machine's: {here}"), None),
        },
    }
}

/// Free space where the store writes.
fn disk(dir: &Path) -> Check {
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return check("disk", Status::Warn, "the store's path cannot be checked", None);
    };
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return check("disk", Status::Warn, format!("{}: {}", dir.display(), std::io::Error::last_os_error()), None);
    }
    let free = st.f_bavail as u64 * st.f_frsize as u64;
    let gib = free as f64 / (1u64 << 30) as f64;
    // A 1-hour video at 1 fps, 512-d: about 7 MB of frames.
    if free < 1 << 30 {
        check(
            "disk",
            Status::Warn,
            format!("{gib:.2} GiB free at the store"),
            Some("ingest needs room: ~7 MB per video hour"),
        )
    } else {
        check("disk", Status::Ok, format!("{gib:.1} GiB free at the store"), None)
    }
}
