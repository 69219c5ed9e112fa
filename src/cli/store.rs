//! `chronoseek store ...`.

use clap::Subcommand;
use serde_json::json;

use super::global::GlobalOpts;
use super::library::ZoneFlag;
use chronoseek::index::{Store, VideoRecord};

use super::{CliError, output::Output};

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Row counts, schema version and location; library indexes with their size and how far
    /// they are behind the store.
    Stats(StatsArgs),
    /// List stored videos (complete ones only), with the day each was recorded (in --tz).
    List(ListArgs),
    /// Compact files, fold new rows into indices and remove versions older than a week (safe
    /// while miners read: they read the newest version, and a reader holding an older one is
    /// never that old).
    Optimize,
    /// Store speed on this store (a folder or object storage): writes of synthetic videos, the
    /// cold and warm read of one long video's frame row, and how long a write takes to be seen
    /// by another handle. Writes under a fresh model key and deletes what it wrote at the end.
    Bench(StoreBenchArgs),
    /// Take videos out of the store (for every model) and so out of every search: by
    /// fingerprint, path, URL or folder (every video ingested from under it, files since
    /// deleted included), or `--missing`. The library index is brought up to date. Deleted rows
    /// stay in the tables' older versions until `--purge` (or a week's `optimize`).
    Remove(RemoveArgs),
    /// Read the recording date of stored videos that have none from their files (videos
    /// stored before dates were read; their frames and transcripts are kept as they are).
    /// Videos without a local file that still holds their bytes are skipped.
    Dates(DatesArgs),
    /// Find the hard cuts, to the frame, of stored videos that have none (stored before cuts
    /// were looked for: their moments start and end midway between samples) by decoding their
    /// files once — no model runs; frames, transcripts and dates are kept. Videos without a
    /// local file that still holds their bytes are skipped. The library index is brought up
    /// to date.
    Cuts(CutsArgs),
}

#[derive(Debug, clap::Args)]
pub struct CutsArgs {
    /// Decode and report what would be stored; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Download videos that have no local file again from the http(s) URL they were ingested
    /// from (within --max-video-bytes), if it still serves the same bytes.
    #[arg(long)]
    pub download: bool,
    #[command(flatten)]
    pub index: super::library::IndexFlags,
}

#[derive(Debug, clap::Args)]
pub struct DatesArgs {
    /// Only report what would be dated; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub zone: ZoneFlag,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub zone: ZoneFlag,
}

#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// What to remove: a fingerprint, a path (the file's content, and whatever was ingested
    /// from that path), a folder (everything ingested from under it), or a URL.
    #[arg(value_name = "VIDEO", required_unless_present = "missing")]
    pub videos: Vec<String>,
    /// Also remove every video whose recorded files are all gone from folders that still
    /// exist (a video also known by URL is kept; so is one whose whole folder is gone, as on an
    /// unplugged drive: name that folder to remove it).
    #[arg(long)]
    pub missing: bool,
    /// Show what would be removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Make the removal final on disk now: compact the tables, delete their older versions and
    /// rebuild the affected library indexes. Only while no other process (miner, serve, ingest)
    /// uses the store: one that holds an older version would find its files gone.
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub index: super::library::IndexFlags,
}

#[derive(Debug, clap::Args)]
pub struct StoreBenchArgs {
    /// Frames of the long video read back (3600 = one hour at 1 fps).
    #[arg(long, default_value_t = 3600, value_name = "N")]
    pub frames: usize,
    /// Embedding width.
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub dim: usize,
    /// Short videos written one by one (each write is what an ingest commits).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub writes: usize,
    /// Warm reads of the long video timed.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub reads: usize,
}

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub index: super::library::IndexFlags,
}

pub async fn run(g: &GlobalOpts, cmd: StoreCommand, out: &Output) -> Result<(), CliError> {
    let store = Store::open(&g.store_uri()).await?;
    match cmd {
        StoreCommand::Stats(args) => {
            let counts = store.row_counts().await?;
            out.say(format!("store {} (schema version {})", store.uri(), store.schema_version()));
            for (table, n) in &counts {
                out.say(format!("  {table:<16} {n:>8} rows"));
            }
            let root = args.index.root(g);
            let indexes = chronoseek::library::staleness(&store, &root).await?;
            if indexes.is_empty() {
                out.say(format!("library index: none in {} (chronoseek library index builds one)", root.display()));
            }
            for s in &indexes {
                out.say(format!(
                    "library index {} ({}, by {}): {} vectors of {} videos, {:.1} MB; behind the store: {} videos \
                     pending, {} dead vectors",
                    s.generation,
                    s.model_key,
                    s.unit.name(),
                    s.vectors,
                    s.indexed_videos,
                    s.bytes as f64 / 1e6,
                    s.pending_videos,
                    s.dead_vectors
                ));
            }
            let map: serde_json::Map<String, serde_json::Value> =
                counts.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            out.json_line(&json!({"uri": store.uri(), "schema_version": store.schema_version(), "rows": map,
                "library_indexes": indexes}));
        }
        StoreCommand::List(args) => {
            use chronoseek::library::period::rfc3339;
            let zone = args.zone.zone();
            for v in store.list_videos().await? {
                // The day in the zone asked for (what `library search --from` counts), and in
                // JSON also the instant itself.
                let day = v.recorded_at_ms.map(|ms| zone.day(ms));
                out.say(format!(
                    "{}  {:>8.1} s  {:>6} frames  {:<24}  {:<10}  {}",
                    v.fingerprint,
                    v.duration_s,
                    v.frame_count,
                    v.model_key,
                    day.as_deref().unwrap_or("-"),
                    v.source
                ));
                out.json_line(&json!({"fingerprint": v.fingerprint.to_hex(), "model_key": v.model_key,
                    "duration_s": v.duration_s, "frames": v.frame_count, "width": v.width, "height": v.height,
                    "sampling": v.sampling, "source": v.source, "recorded_at": v.recorded_at_ms.map(rfc3339),
                    "recorded_day": day, "tz": zone.name()}));
            }
        }
        StoreCommand::Bench(a) => bench(&store, g, a, out).await?,
        StoreCommand::Remove(a) => remove(&store, g, a, out).await?,
        StoreCommand::Dates(a) => dates(&store, a, out).await?,
        StoreCommand::Cuts(a) => cuts(&store, g, a, out).await?,
        StoreCommand::Optimize => {
            store.optimize().await?;
            out.say("optimized");
            out.json_line(&json!({"optimized": true}));
        }
    }
    Ok(())
}

/// `chronoseek store dates`: recording dates for stored videos that have none.
async fn dates(store: &Store, args: DatesArgs, out: &Output) -> Result<(), CliError> {
    let zone = args.zone.zone();
    let undated: Vec<VideoRecord> =
        store.list_videos().await?.into_iter().filter(|r| r.recorded_at_ms.is_none()).collect();
    let mut fingerprints: Vec<_> = undated.iter().map(|r| r.fingerprint).collect();
    fingerprints.sort();
    fingerprints.dedup();
    let local = chronoseek::library::names::local_files_of(store, &fingerprints).await?;
    let bar = out.items_bar(fingerprints.len() as u64, "videos");
    let (mut dated, mut no_date, mut no_file, mut unreadable) = (0usize, 0usize, 0usize, 0usize);
    for fp in &fingerprints {
        bar.inc(1);
        let Some(path) = local.get(fp).cloned() else {
            no_file += 1;
            continue;
        };
        let probed = tokio::task::spawn_blocking({
            let path = path.clone();
            move || chronoseek::ingest::probe(&path)
        })
        .await
        .map_err(|e| CliError::new(chronoseek::protocol::ErrorCode::InternalError, e.to_string()))?;
        let at = match probed {
            Ok(info) => info.recorded_at_ms,
            Err(e) => {
                tracing::warn!(video = %path.display(), error = %e, "cannot read the file's header");
                unreadable += 1;
                continue;
            }
        };
        let Some(at) = at else {
            no_date += 1;
            continue;
        };
        dated += 1;
        if !args.dry_run {
            // Every model's record of these bytes.
            for r in undated.iter().filter(|r| r.fingerprint == *fp) {
                match store.set_recorded_at(r, Some(at)).await {
                    Ok(_) => {}
                    // Removed meanwhile by another process: nothing is written.
                    Err(chronoseek::index::StoreError::Removed(_)) => {
                        tracing::info!(video = %fp, model = r.model_key, "removed meanwhile");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        out.say(format!("{fp}  {}  {}", zone.time(at), path.display()));
    }
    bar.finish_and_clear();
    let verb = if args.dry_run { "would date" } else { "dated" };
    out.say(format!(
        "{} videos without a date: {verb} {dated}; {no_date} say nothing in their files, {no_file} have no local file, \
         {unreadable} could not be read",
        fingerprints.len()
    ));
    out.json_line(&json!({"undated": fingerprints.len(), "dated": dated, "no_date_in_file": no_date,
        "no_local_file": no_file, "unreadable": unreadable, "dry_run": args.dry_run}));
    Ok(())
}

/// `chronoseek store cuts`: frame-precise cuts for stored videos that have none.
async fn cuts(store: &Store, g: &GlobalOpts, args: CutsArgs, out: &Output) -> Result<(), CliError> {
    use chronoseek::library::backfill::{Origin, Outcome, backfill_cuts};
    let bar = out.items_bar(0, "videos");
    let limits = g.pipeline.engine_options().ingest.sampler;
    let fetcher =
        if args.download { Some(chronoseek::ingest::Fetcher::new(g.pipeline.fetch_options())?) } else { None };
    let progress = super::output::progress(&bar);
    let report = backfill_cuts(store, &args.index.root(g), &limits, fetcher.as_ref(), args.dry_run, &progress).await;
    bar.finish_and_clear();
    let report = report?;
    let (mut found, mut cuts, mut no_file, mut unreadable, mut changed) = (0usize, 0usize, 0usize, 0usize, 0usize);
    // Where the bytes came from: the JSON field that names it, and its text.
    let origin = |from: &Origin| match from {
        Origin::File(path) => ("path", path.display().to_string()),
        Origin::Url(url) => ("url", url.clone()),
    };
    for v in &report.videos {
        let fp = v.fingerprint.to_hex();
        let mut line = json!({"fingerprint": fp, "models": v.models});
        match &v.outcome {
            Outcome::Found { from, cuts: n } => {
                found += 1;
                cuts += n;
                let (field, said) = origin(from);
                out.say(format!("{fp}  {}  {said}", super::output::count(*n, "cut")));
                (line["status"], line["cuts"], line[field]) = (json!("found"), json!(n), json!(said));
            }
            Outcome::NoLocalFile => {
                no_file += 1;
                line["status"] = json!("no_local_file");
            }
            Outcome::Changed { url } => {
                changed += 1;
                (line["status"], line["url"]) = (json!("changed"), json!(url));
            }
            Outcome::Unreadable { from } => {
                unreadable += 1;
                let (field, said) = origin(from);
                (line["status"], line[field]) = (json!("unreadable"), json!(said));
            }
        }
        out.json_line(&line);
    }
    let verb = if report.dry_run { "would give" } else { "gave" };
    if report.videos.is_empty() {
        out.say("every stored video has its frame-precise cuts");
    } else {
        out.say(format!(
        "{} videos without cuts: {verb} {found} their cuts ({cuts} in all); {no_file} have no local file, {unreadable} \
         could not be read, {changed} whose URL serves other bytes now",
            report.videos.len()
        ));
    }
    out.json_line(&json!({"summary": {"without_cuts": report.videos.len(), "found": found, "cuts": cuts,
        "no_local_file": no_file, "unreadable": unreadable, "changed": changed, "dry_run": report.dry_run}}));
    for r in report.indexes.values() {
        super::library::report_refresh(r, out);
    }
    Ok(())
}

/// `chronoseek store remove`.
async fn remove(store: &Store, g: &GlobalOpts, args: RemoveArgs, out: &Output) -> Result<(), CliError> {
    use chronoseek::ingest::VideoInput;
    use chronoseek::library::names;
    use chronoseek::library::remove::{self, RemoveOptions};
    use std::collections::BTreeSet;
    let mut wanted = BTreeSet::new();
    let mut named = Vec::new();
    for arg in &args.videos {
        let fps = names::named(store, &VideoInput::from_cli(arg)?).await?;
        wanted.extend(fps.iter().copied());
        named.push((arg, fps));
    }
    if args.missing {
        for m in remove::missing_local(store).await? {
            wanted.insert(m.fingerprint);
        }
    }
    let videos = store.list_videos().await?;
    let stored: BTreeSet<_> = videos.iter().map(|v| v.fingerprint).collect();
    if args.dry_run {
        for fp in &wanted {
            let records: Vec<_> = videos.iter().filter(|v| v.fingerprint == *fp).collect();
            let Some(first) = records.first() else { continue };
            let models: Vec<&str> = records.iter().map(|r| r.model_key.as_str()).collect();
            out.say(format!("would remove {fp}  {}  ({})", first.source, models.join(", ")));
            out.json_line(&json!({"fingerprint": fp.to_hex(), "status": "would_remove", "source": first.source,
                "models": models}));
        }
        let n = wanted.intersection(&stored).count();
        out.say(format!("{n} videos would be removed (dry run: nothing changed)"));
        out.json_line(&json!({"summary": {"would_remove": n, "dry_run": true}}));
    } else {
        let bar = out.items_bar(0, "videos removed");
        let report = remove::remove(
            store,
            &args.index.root(g),
            &wanted,
            &RemoveOptions { purge: args.purge },
            &super::output::progress(&bar),
        )
        .await;
        bar.finish_and_clear();
        let report = report?;
        for r in report.removed.iter().filter(|r| r.rows.total() > 0) {
            let what = if r.models.is_empty() {
                "rows an interrupted write left".to_string()
            } else {
                format!("{}  ({})", r.source.as_deref().unwrap_or("-"), r.models.join(", "))
            };
            out.say(format!(
                "removed {}  {what}; rows: markers {}, frames {}, transcripts {}, paths/URLs {}",
                r.fingerprint, r.rows.videos, r.rows.frames, r.rows.transcripts, r.rows.sources
            ));
            out.json_line(&json!({"fingerprint": r.fingerprint.to_hex(), "status": "removed", "source": r.source,
                "models": r.models, "sources": r.sources, "rows": r.rows}));
        }
        let n = report.removed.iter().filter(|r| !r.models.is_empty()).count();
        out.say(format!(
            "{n} videos removed ({} rows){}",
            report.rows.total(),
            if report.purged { "; purged: old table versions deleted, indexes rebuilt" } else { "" }
        ));
        out.json_line(&json!({"summary": {"removed": n, "rows": report.rows, "purged": report.purged}}));
        for r in report.indexes.values() {
            super::library::report_refresh(r, out);
        }
    }
    // An argument that named nothing stored is reported (after the others were removed), so a
    // typo does not pass for a removal.
    let unknown: Vec<&str> =
        named.iter().filter(|(_, fps)| !fps.iter().any(|fp| stored.contains(fp))).map(|(a, _)| a.as_str()).collect();
    if !unknown.is_empty() {
        return Err(CliError::new(
            chronoseek::protocol::ErrorCode::InvalidRequest,
            format!("not in the store: {}", unknown.join(", ")),
        ));
    }
    Ok(())
}

fn synthetic(n: usize, dim: usize, seed: u64) -> chronoseek::index::FrameMatrix {
    let mut m = chronoseek::index::FrameMatrix::new(dim);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in 0..n {
        let row: Vec<f32> = (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect();
        m.push(i as i64 * 1000, &row);
    }
    m
}

fn p50(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

async fn bench(store: &Store, g: &GlobalOpts, a: StoreBenchArgs, out: &Output) -> Result<(), CliError> {
    use chronoseek::index::VideoRecord;
    use std::time::Instant;
    let model_key = format!("store-bench:{}", chronoseek::ingest::unique_id());
    let record = |name: String, frames: usize, stamp: i64| VideoRecord {
        fingerprint: chronoseek::ingest::Fingerprint::of(name.as_bytes()),
        model_key: model_key.clone(),
        ingest_id: chronoseek::ingest::unique_id(),
        duration_s: frames as f64,
        source_fps: None,
        width: 0,
        height: 0,
        frame_count: frames as u32,
        sampling: "fixed:1".into(),
        source: format!("store bench {name}"),
        created_at_ms: stamp,
        transcript_id: None,
        recorded_at_ms: None,
    };
    let stamp = || chronoseek::clock::now_ms() as i64;
    // Writes: one video per commit, as ingests commit them (60 frames each).
    let t = Instant::now();
    for i in 0..a.writes {
        let frames = synthetic(60, a.dim, i as u64);
        store.put_video(&record(format!("{model_key}/{i}"), 60, stamp()), &frames).await?;
    }
    let write_s = t.elapsed().as_secs_f64() / a.writes.max(1) as f64;
    // The long video, read cold by a new handle, then warm.
    let long = record(format!("{model_key}/long"), a.frames, stamp());
    store.put_video(&long, &synthetic(a.frames, a.dim, 99)).await?;
    let t = Instant::now();
    let cold_store = Store::open(&g.store_uri()).await?;
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let rec = cold_store
        .video(&long.fingerprint, &model_key)
        .await?
        .ok_or_else(|| CliError::internal("written video not found"))?;
    let frames = cold_store.load_frames(&rec).await?;
    let cold_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut warm = Vec::new();
    for _ in 0..a.reads.max(1) {
        let t = Instant::now();
        cold_store.load_frames(&rec).await?;
        warm.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let warm_ms = p50(&mut warm);
    // Visibility: written through one handle, polled through another.
    let seen = record(format!("{model_key}/seen"), 10, stamp());
    let t = Instant::now();
    store.put_video(&seen, &synthetic(10, a.dim, 7)).await?;
    let written_ms = t.elapsed().as_secs_f64() * 1000.0;
    let t = Instant::now();
    let visible_ms = loop {
        if cold_store.video(&seen.fingerprint, &model_key).await?.is_some() {
            break t.elapsed().as_secs_f64() * 1000.0;
        }
        if t.elapsed() > std::time::Duration::from_secs(30) {
            return Err(CliError::internal("a write was not visible to another handle within 30 s"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    store.forget_model(&model_key).await?;
    let mb = (frames.data.len() * 4) as f64 / 1e6;
    out.say(format!("store {} — {} frames x {} ({mb:.1} MB) long video", store.uri(), a.frames, a.dim));
    out.say(format!("write (one 60-frame video per commit, marker and cleanup included): {:.1} ms", write_s * 1000.0));
    out.say(format!(
        "open a new handle {open_ms:.1} ms; cold read of the long video {cold_ms:.1} ms; warm read p50 {warm_ms:.1} ms"
    ));
    out.say(format!(
        "a write ({written_ms:.0} ms) seen by another handle {visible_ms:.0} ms after it returned \
         (read consistency interval {} ms)",
        chronoseek::index::READ_CONSISTENCY.as_millis()
    ));
    out.json_line(&json!({"uri": store.uri(), "frames": a.frames, "dim": a.dim, "write_ms": write_s * 1000.0,
        "open_ms": open_ms, "cold_read_ms": cold_ms, "warm_read_p50_ms": warm_ms, "write_visible_after_ms": visible_ms,
        "read_consistency_ms": chronoseek::index::READ_CONSISTENCY.as_millis() as u64}));
    Ok(())
}
