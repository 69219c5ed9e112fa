//! `chronoseek library ...` (search the whole library, build its index, benchmark the ANN
//! stage) and `chronoseek serve` (the library's web page).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::fingerprint::Fingerprint;
use chronoseek::index::VideoRecord;
use chronoseek::ingest::VideoInput;
use chronoseek::library::bench::{AnnBenchOptions, ann_bench};
use chronoseek::library::copies::Relation;
use chronoseek::library::period::{Period, RecordedRange, Zone};
use chronoseek::library::playlist::{Moment, PlaylistFormat, render};
use chronoseek::library::reel::{self, ReelError, ReelSize, Wanted};
use chronoseek::library::{
    Candidates, Copies, IndexParams, IndexUnit, Library, LibraryError, LibraryHit, LibraryQuery, LibraryTopK,
    MAX_LIBRARY_TOP_K, Picture, Probe, RefreshOptions, RefreshReport, default_root,
};
use chronoseek::protocol::ErrorCode;
use chronoseek::query::Engine;
use chronoseek::server::ServeLimits;
use chronoseek::server::library::{LibraryApp, router};

use super::{
    CliError, build_engine,
    output::{Output, count},
};

impl From<LibraryError> for CliError {
    fn from(e: LibraryError) -> Self {
        CliError::new(e.code(), e.to_string())
    }
}

#[derive(Debug, Subcommand)]
pub enum LibraryCommand {
    /// Ranked moments across every video in the store (for the current model).
    Search(LibrarySearchArgs),
    /// Build the library index, or bring it up to date with the store (ingest does this too).
    Index(LibraryIndexArgs),
    /// Videos stored more than once as other bytes (re-encodes, other sizes or containers of
    /// the same footage), and clips cut from longer stored videos (with where they were cut):
    /// what searches fold into one result. Keep one of each group and `store remove` the
    /// others to reclaim the space.
    Copies(LibraryCopiesArgs),
    /// Measure the ANN stage alone on synthetic vectors: recall@k against an exact scan, query
    /// latency, build time, size; with LanceDB's IVF_PQ index side by side.
    Bench(LibraryBenchArgs),
}

#[derive(Debug, Args)]
pub struct LibraryCopiesArgs {
    /// Only among these videos (repeat the flag): a fingerprint, a path, a folder or a URL, as
    /// for `library search --video`. Default: every stored video.
    #[arg(long = "video", value_name = "VIDEO")]
    pub videos: Vec<String>,
    /// Only copies of the same length: do not look for clips cut from longer videos.
    #[arg(long)]
    pub no_clips: bool,
    #[command(flatten)]
    pub index: IndexFlags,
}

/// `--tz`: the zone whose calendar days dates mean and are shown in, one flag for every
/// command that reads or shows recording dates (so `store list` and `library search --from`
/// agree on which day a video was recorded).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ZoneFlag {
    /// The time zone whose calendar days recording dates are shown in (and --from and --until
    /// of `library search` mean): an IANA name (Europe/Berlin, America/New_York) or UTC.
    /// Default: the machine's (TZ, else /etc/localtime, else UTC).
    #[arg(long, env = "CHRONOSEEK_TZ", value_name = "ZONE")]
    pub tz: Option<Zone>,
}

impl ZoneFlag {
    /// The zone asked for, else the machine's.
    pub fn zone(&self) -> Zone {
        self.tz.clone().unwrap_or_else(Zone::system)
    }
}

/// Where the index lives and how it is shaped (shared by `library index` and `ingest`).
#[derive(Debug, Clone, Args)]
pub struct IndexFlags {
    /// Folder of library indexes (default: `library/` inside a local store; a cache folder
    /// for an object-store URI).
    #[arg(long, env = "CHRONOSEEK_LIBRARY_DIR", value_name = "DIR")]
    pub library_dir: Option<PathBuf>,
}

impl IndexFlags {
    pub fn root(&self, g: &GlobalOpts) -> PathBuf {
        self.library_dir.clone().unwrap_or_else(|| default_root(&g.store_uri()))
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("probe").required(true).args(["query", "picture", "like", "said"])))]
pub struct LibrarySearchArgs {
    /// What to find, in words.
    #[arg(value_name = "QUERY")]
    pub query: Option<String>,
    /// Instead of words: moments that look like this picture (PNG, JPEG, WebP, GIF, BMP; its
    /// EXIF orientation is applied).
    #[arg(long, alias = "image", value_name = "FILE")]
    pub picture: Option<PathBuf>,
    /// Instead of words: moments like one already in the library, in this video (a
    /// fingerprint, or a path or URL whose content is stored), at --at. The moment itself is
    /// left out of the results.
    #[arg(long, value_name = "VIDEO", requires = "at")]
    pub like: Option<String>,
    /// Instead of what is seen: where these words were said, in the transcripts of videos
    /// ingested with --audio (word for word, any case; the phrase in order ranks first).
    #[arg(long, value_name = "WORDS")]
    pub said: Option<String>,
    /// The time of the --like moment: seconds (75.5) or [h:]m:ss (1:15.5).
    #[arg(long, value_name = "TIME", value_parser = parse_clock, requires = "like")]
    pub at: Option<f64>,
    /// Number of moments to return (1 to 100).
    #[arg(long, short = 'k', default_value_t = 10, value_name = "N")]
    pub top_k: usize,
    /// Only these videos (repeat the flag): a fingerprint, a path (that file's content and what
    /// was ingested from that path), a folder (everything ingested from under it) or a URL.
    /// They are scanned exactly.
    #[arg(long = "video", value_name = "VIDEO")]
    pub videos: Vec<String>,
    /// Score every video exactly instead of taking candidates from the index.
    #[arg(long)]
    pub exact: bool,
    /// Only videos recorded from the start of this year, month or day (2024, 2024-06,
    /// 2024-06-21; days in --tz), by the date their container holds; videos without one are
    /// left out.
    #[arg(long, value_name = "DATE")]
    pub from: Option<Period>,
    /// Only videos recorded until the end of this year, month or day (`--from 2024-06 --until
    /// 2024-08`: June through August).
    #[arg(long, value_name = "DATE")]
    pub until: Option<Period>,
    #[command(flatten)]
    pub zone: ZoneFlag,
    /// List moments of copies of a video (the same footage stored twice: a re-encode, another
    /// size or container) and of clips cut from it as results of their own, instead of under
    /// the best-ranked one.
    #[arg(long)]
    pub keep_copies: bool,
    /// Also write the moments as a playlist: FILE.m3u or .m3u8 (VLC and most players: each
    /// moment's start and stop) or FILE.edl (mpv: the moments as one continuous timeline).
    /// Moments of videos without a local file are left out.
    #[arg(long, value_name = "FILE")]
    pub playlist: Option<PathBuf>,
    /// Also render the moments, in rank order, into one MP4 file (H.264/AAC; the first
    /// moment's video sets the frame, the others fit into it; at most an hour). Moments of
    /// videos without a local file are left out.
    #[arg(long, value_name = "FILE")]
    pub reel: Option<PathBuf>,
    /// Replace an existing --playlist or --reel file (otherwise it is kept and the search
    /// refused).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub index: IndexFlags,
}

#[derive(Debug, Args)]
pub struct LibraryIndexArgs {
    /// Rebuild from the store instead of extending the current index.
    #[arg(long)]
    pub rebuild: bool,
    /// What the index holds: every stored frame (`frame`, the default for a new index) or one
    /// vector per shot (`shot`). Default: the current index's. Changing it rebuilds.
    #[arg(long, env = "CHRONOSEEK_INDEX_UNIT", value_name = "UNIT",
          value_parser = super::choices::one_of::<IndexUnit>(IndexUnit::NAMES))]
    pub unit: Option<IndexUnit>,
    /// HNSW neighbours per node (M; 32 for a new index). Changing it rebuilds.
    #[arg(long, value_name = "M", requires = "ef_construction")]
    pub max_connections: Option<usize>,
    /// HNSW beam width while inserting (200 for a new index). Changing it rebuilds.
    #[arg(long, value_name = "EF", requires = "max_connections")]
    pub ef_construction: Option<usize>,
    #[command(flatten)]
    pub index: IndexFlags,
}

#[derive(Debug, Args)]
pub struct LibraryBenchArgs {
    /// Vectors in the synthetic library.
    #[arg(long, default_value_t = 1_000_000)]
    pub vectors: usize,
    /// Vector width.
    #[arg(long, default_value_t = 512)]
    pub dim: usize,
    /// Clusters ("videos") the vectors are drawn around.
    #[arg(long, default_value_t = 1000)]
    pub clusters: usize,
    /// Queries measured.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Neighbours per query (recall@k).
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Search beam widths to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "32,64,128,256")]
    pub ef: Vec<usize>,
    /// HNSW neighbours per node (M).
    #[arg(long, default_value_t = IndexParams::default().max_connections)]
    pub max_connections: usize,
    /// HNSW beam width while inserting.
    #[arg(long, default_value_t = IndexParams::default().ef_construction)]
    pub ef_construction: usize,
    /// Skip LanceDB's flat scan and IVF_PQ index.
    #[arg(long)]
    pub no_lance: bool,
    /// IVF partitions LanceDB probes per query (refine factor 10), each measured, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "20,50,100")]
    pub lance_nprobes: Vec<usize>,
    /// Skip the HNSW graph (the exact scan and LanceDB only, on the same seeded vectors as a
    /// graph run with the same --seed, --vectors, --dim and --clusters).
    #[arg(long)]
    pub no_hnsw: bool,
    /// Instead: end-to-end library search on a temporary store of this many synthetic videos
    /// (written with the current model's width; queries go through its text tower).
    #[arg(long, value_name = "N")]
    pub library_videos: Option<usize>,
    /// Frames per synthetic video (with --library-videos).
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub frames_per_video: usize,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. The page serves your videos: keep it on loopback unless you mean
    /// to share them.
    #[arg(long, env = "CHRONOSEEK_SERVE_HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0: any free port).
    #[arg(long, env = "CHRONOSEEK_SERVE_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Access token every request must show (at least 16 letters, digits, - . _ ~): open
    /// http://HOST:PORT/?token=TOKEN once (the browser keeps a cookie) or send
    /// `Authorization: Bearer TOKEN`. Without it, a --host other than loopback gets a random
    /// token, printed with the URL to open.
    #[arg(long, env = "CHRONOSEEK_SERVE_TOKEN", value_name = "TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Serve beyond loopback without a token: anyone who reaches the port can search and watch
    /// your videos.
    #[arg(long, conflicts_with = "token")]
    pub no_token: bool,
    #[command(flatten)]
    pub index: IndexFlags,
}

pub async fn run(g: &GlobalOpts, cmd: LibraryCommand, out: &Output) -> Result<(), CliError> {
    match cmd {
        LibraryCommand::Search(a) => search(g, a, out).await,
        LibraryCommand::Index(a) => index(g, a, out).await,
        LibraryCommand::Copies(a) => copies(g, a, out).await,
        LibraryCommand::Bench(a) if a.library_videos.is_some() => library_bench(g, a, out).await,
        LibraryCommand::Bench(a) => bench(a, out).await,
    }
}

/// The videos `--video` flags name, in order, each once. A path or folder can name videos stored
/// only for other models: those are not among `here`. A fingerprint stays as given (an unknown
/// one is refused by the search).
async fn named_videos(engine: &Engine, here: &[VideoRecord], names: &[String]) -> Result<Vec<Fingerprint>, CliError> {
    let here: std::collections::HashSet<_> = here.iter().map(|r| r.fingerprint).collect();
    let mut out: Vec<Fingerprint> = Vec::new();
    for name in names {
        let input = VideoInput::from_cli(name)?;
        let by_fingerprint = matches!(input, VideoInput::Stored(_));
        let found = chronoseek::library::names::named(engine.store(), &input).await?;
        let found: Vec<_> = found.into_iter().filter(|fp| by_fingerprint || here.contains(fp)).collect();
        if found.is_empty() {
            return Err(CliError::new(
                ErrorCode::InvalidRequest,
                format!("--video {name}: not in the store for this model"),
            ));
        }
        for fp in found {
            if !out.contains(&fp) {
                out.push(fp);
            }
        }
    }
    Ok(out)
}

/// `chronoseek library copies`: groups of stored videos that are the same footage, and clips
/// cut from longer stored videos.
async fn copies(g: &GlobalOpts, args: LibraryCopiesArgs, out: &Output) -> Result<(), CliError> {
    let engine = Arc::new(build_engine(g, None).await?);
    let mut videos = chronoseek::library::current_videos(engine.store(), engine.model().key()).await?;
    if !args.videos.is_empty() {
        let named = named_videos(&engine, &videos, &args.videos).await?;
        videos.retain(|r| named.contains(&r.fingerprint));
    }
    let bar = out.items_bar(0, "pairs compared");
    let found = chronoseek::library::copies::find_copies(&engine, &videos, &super::output::progress(&bar)).await;
    bar.finish_and_clear();
    let found = found?;
    let clips = if args.no_clips {
        None
    } else {
        let library = Library::new(engine.clone(), &args.index.root(g));
        let bar = out.items_bar(0, "videos looked for in longer ones");
        let clips = library.find_clips(&videos, &super::output::progress(&bar)).await;
        bar.finish_and_clear();
        Some(clips?)
    };
    let by_fp: std::collections::HashMap<Fingerprint, &VideoRecord> =
        videos.iter().map(|r| (r.fingerprint, r)).collect();
    let video = |fp: &Fingerprint| json!({"fingerprint": fp.to_hex(), "source": by_fp[fp].source, "duration_s": by_fp[fp].duration_s});
    if out.json {
        let groups: Vec<Vec<serde_json::Value>> = found.groups.iter().map(|g| g.iter().map(video).collect()).collect();
        let mut line = json!({"groups": groups, "videos": found.videos, "pairs_compared": found.pairs_compared});
        if let Some(c) = &clips {
            line["clips"] = c
                .clips
                .iter()
                .map(|c| {
                    json!({"clip": video(&c.clip), "of": video(&c.of), "from_s": c.from_s, "to_s": c.to_s,
                        "also_from_s": c.also_from_s})
                })
                .collect();
            line["clip_pairs_compared"] = json!(c.pairs_compared);
        }
        out.json_line(&line);
        return Ok(());
    }
    let copies: usize = found.groups.iter().map(|g| g.len() - 1).sum();
    out.say(format!(
        "{} videos, {} pairs of the same length compared: {} group(s) of copies, {copies} video(s) stored again",
        found.videos,
        found.pairs_compared,
        found.groups.len()
    ));
    for (i, group) in found.groups.iter().enumerate() {
        out.say(format!("group {} ({})", i + 1, format_clock(by_fp[&group[0]].duration_s)));
        for fp in group {
            out.say(format!("  {}  {}", fp.to_hex(), by_fp[fp].source));
        }
    }
    if copies > 0 {
        out.say("keep one of each group; `chronoseek store remove FINGERPRINT` takes the others out of the store");
    }
    if let Some(c) = &clips {
        let how = if c.indexed { "proposed by the library index" } else { "no library index: every longer video" };
        out.say(format!(
            "{} clip(s) cut from longer videos ({} pairs compared, {how})",
            c.clips.len(),
            c.pairs_compared
        ));
        for clip in &c.clips {
            // With other places that agree as well, the best is a guess.
            let is = if clip.also_from_s.is_empty() { "is" } else { "may be" };
            out.say(format!(
                "  {}  {}\n    {is} {}–{} of {}  {}",
                clip.clip.to_hex(),
                by_fp[&clip.clip].source,
                format_clock(clip.from_s.max(0.0)),
                format_clock(clip.to_s),
                &clip.of.to_hex()[..12],
                by_fp[&clip.of].source
            ));
            if !clip.also_from_s.is_empty() {
                let also: Vec<String> = clip.also_from_s.iter().map(|s| format_clock(s.max(0.0))).collect();
                out.say(format!(
                    "    or starting at {} (the footage repeats: which one it was cut from is not known)",
                    also.join(", ")
                ));
            }
        }
    }
    Ok(())
}

async fn search(g: &GlobalOpts, args: LibrarySearchArgs, out: &Output) -> Result<(), CliError> {
    let top_k = LibraryTopK::new(args.top_k).ok_or_else(|| {
        CliError::new(ErrorCode::InvalidRequest, format!("--top-k must be 1..={MAX_LIBRARY_TOP_K}, got {}", args.top_k))
    })?;
    for text in args.query.iter().chain(&args.said) {
        chronoseek::query::Engine::check_query(text)?;
    }
    let playlist = match &args.playlist {
        Some(path) => Some((path.clone(), PlaylistFormat::for_path(path).map_err(|e| invalid(e.to_string()))?)),
        None => None,
    };
    for target in args.playlist.iter().chain(&args.reel) {
        if target.exists() && !args.force {
            return Err(invalid(format!("{} exists (--force replaces it)", target.display())));
        }
    }
    // A picture that cannot be read fails before the model loads.
    let picture = match &args.picture {
        Some(path) => Some((path.display().to_string(), Picture::open(path).map_err(LibraryError::from)?)),
        None => None,
    };
    let engine = Arc::new(build_engine(g, None).await?);
    let library = Library::new(engine.clone(), &args.index.root(g));
    let (probe, described, asked) = match (args.said, args.query, picture, args.like, args.at) {
        (Some(text), ..) => (json!({"kind": "said", "text": text}), format!("said \"{text}\""), Probe::Said(text)),
        (None, Some(text), ..) => (json!({"kind": "text", "text": text}), format!("\"{text}\""), Probe::Text(text)),
        (None, None, Some((path, picture)), ..) => {
            (json!({"kind": "picture", "path": path}), format!("like picture {path}"), Probe::Picture(picture))
        }
        (None, None, None, Some(like), Some(at_s)) => {
            let video = super::stored_video(&engine, &like).await?.fingerprint;
            (
                json!({"kind": "moment", "fingerprint": video.to_hex(), "at": at_s}),
                format!("like {} at {at_s:.1} s", &video.to_hex()[..12]),
                Probe::Moment { video, at_s },
            )
        }
        _ => {
            return Err(CliError::new(
                ErrorCode::InvalidRequest,
                "give a QUERY, --said WORDS, --picture FILE, or --like VIDEO --at TIME",
            ));
        }
    };
    let mut q = LibraryQuery::new(asked, top_k);
    if !args.videos.is_empty() {
        let here = library.videos().await?;
        q.videos = named_videos(&engine, &here, &args.videos).await?;
    }
    if args.exact {
        q.candidates = Candidates::Exact;
    }
    if args.keep_copies {
        q.copies = Copies::Keep;
    }
    let zone = args.zone.zone();
    q.recorded = RecordedRange::new(args.from, args.until, &zone).map_err(|e| invalid(e.to_string()))?;
    let answer = library.search(&q).await;
    engine.flush(super::FLUSH_LIMIT).await;
    let answer = answer?;
    let s = &answer.stats;
    let written = match &playlist {
        Some((path, format)) => Some(write_playlist(engine.store(), &answer.hits, path, *format, args.force).await?),
        None => None,
    };
    let rendered = match &args.reel {
        Some(path) => Some(write_reel(engine.store(), &answer.hits, path, args.force, out).await?),
        None => None,
    };
    if out.json {
        let curves: serde_json::Map<String, serde_json::Value> =
            answer.curves.iter().map(|(fp, c)| (fp.to_hex(), json!(c))).collect();
        let mut line = json!({"probe": probe, "model_key": engine.model().key(), "results": answer.hits, "stats": s,
            "curves": curves});
        if let Some(text) = probe.get("text") {
            line["query"] = text.clone();
        }
        if let Some(asked) = q.recorded.asked(&zone) {
            line["recorded"] = json!(asked);
        }
        if let (Some(w), Some((path, _))) = (&written, &playlist) {
            line["playlist"] =
                json!({"path": path.display().to_string(), "moments": w.moments, "left_out": w.left_out});
        }
        if let (Some(r), Some(path)) = (&rendered, &args.reel) {
            line["reel"] = json!({"path": path.display().to_string(), "moments": r.moments, "left_out": r.left_out,
                "seconds": r.seconds, "width": r.size.width(), "height": r.size.height()});
        }
        out.json_line(&line);
        return Ok(());
    }
    let searched = match s.videos_with_speech {
        // Said: the transcripts are searched, not the index.
        Some(n) => format!("{n} with speech"),
        None => format!(
            "{} ({} scanned exactly)",
            s.generation.as_deref().map(|g| format!("index {g}")).unwrap_or_else(|| "no index".into()),
            s.videos_scanned_exact
        ),
    };
    out.say(format!("{described} — {} videos, {searched}, {:.1} ms", s.videos_in_library, s.total_ms));
    if answer.hits.is_empty() {
        out.say(if s.videos_in_library == 0 {
            "no videos in the store for this model; ingest some first"
        } else if s.videos_with_speech == Some(0) {
            "no video has a transcript with speech yet: ingest with --audio on to listen to them"
        } else if s.videos_with_speech.is_some() {
            "nobody says that in the transcripts"
        } else {
            "no other moments found"
        });
    }
    for h in &answer.hits {
        // Times as `clip` and `--at` take them: copy a line's interval into `chronoseek clip`.
        let interval = format!("{} – {}", format_clock(h.start), format_clock(h.end));
        let recorded = h.recorded_at_ms.map(|ms| format!("{}  ", zone.day(ms))).unwrap_or_default();
        out.say(format!(
            // Width 7: a negative cosine (a moment unlike the sentence) keeps the columns.
            "{:>3}  {:>7.4}  {interval:>21}  {}  {recorded}{}",
            h.rank,
            h.score,
            &h.fingerprint.to_hex()[..12],
            h.source
        ));
        if let Some(said) = &h.said {
            // The words a search of what is said found, in bold on a terminal.
            let said = if out.styled { emphasise(said, &h.said_marks) } else { said.clone() };
            out.say(format!("{:>33}“{said}”", ""));
        }
        for c in &h.copies {
            let (what, at) = match c.relation {
                Relation::Copy => ("a copy", String::new()),
                Relation::Clip => ("a clip", format!(" at {}–{}", format_clock(c.start), format_clock(c.end))),
                Relation::Original => {
                    ("the video it was cut from", format!(" at {}–{}", format_clock(c.start), format_clock(c.end)))
                }
            };
            out.say(format!("{:>33}also in {what}: {}  {}{at}", "", &c.fingerprint.to_hex()[..12], c.source));
        }
    }
    if let (Some(w), Some((path, _))) = (&written, &playlist) {
        let left_out = match w.left_out {
            0 => String::new(),
            n => format!(" ({n} without a local file left out)"),
        };
        out.say(format!("playlist: {} moments → {}{left_out}", w.moments, path.display()));
    }
    if let (Some(r), Some(path)) = (&rendered, &args.reel) {
        let left_out = match r.left_out {
            0 => String::new(),
            n => format!("; {n} without a local file left out"),
        };
        out.say(format!(
            "reel: {} moments, {:.1} s at {}x{} → {} ({:.1} MB, rendered in {:.1} s{left_out})",
            r.moments,
            r.seconds,
            r.size.width(),
            r.size.height(),
            path.display(),
            r.bytes as f64 / 1e6,
            r.render_secs
        ));
    }
    Ok(())
}

fn invalid(message: String) -> CliError {
    CliError::new(ErrorCode::InvalidRequest, message)
}

struct PlaylistWritten {
    moments: usize,
    left_out: usize,
}

/// Writes the hits whose videos have a local file as a playlist, whole or not at all.
async fn write_playlist(
    store: &chronoseek::index::Store,
    hits: &[LibraryHit],
    path: &Path,
    format: PlaylistFormat,
    force: bool,
) -> Result<PlaylistWritten, CliError> {
    let fps: Vec<_> = hits.iter().map(|h| h.fingerprint).collect();
    let local = chronoseek::library::names::local_files_of(store, &fps).await?;
    let moments: Vec<Moment> = hits
        .iter()
        .filter_map(|h| {
            let file = local.get(&h.fingerprint)?;
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let title = format!("{name} {}–{} ({:.3})", format_clock(h.start), format_clock(h.end), h.score);
            Moment::new(file, h.start, h.end, title)
        })
        .collect();
    let text = render(format, &moments);
    let mut tmp = super::output_temp(path)?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .map_err(|e| invalid(format!("cannot write {}: {e}", path.display())))?;
    super::persist_output(tmp, path, force)?;
    Ok(PlaylistWritten { moments: moments.len(), left_out: hits.len() - moments.len() })
}

struct ReelWritten {
    moments: usize,
    left_out: usize,
    seconds: f64,
    size: ReelSize,
    bytes: u64,
    render_secs: f64,
}

/// Renders the hits whose videos have a local file into one MP4, whole or not at all.
async fn write_reel(
    store: &chronoseek::index::Store,
    hits: &[LibraryHit],
    path: &Path,
    force: bool,
    out: &Output,
) -> Result<ReelWritten, CliError> {
    let wanted: Vec<Wanted> =
        hits.iter().map(|h| Wanted { video: h.fingerprint, start: h.start, end: h.end }).collect();
    let failed = |e: ReelError| CliError::new(e.code(), e.to_string());
    let plan = reel::plan(store, &wanted).await.map_err(failed)?;
    let tmp = super::output_temp(path)?;
    let started = std::time::Instant::now();
    let spinner = out.spinner(&format!("rendering a reel of {} moments ({:.0} s)", plan.parts.len(), plan.seconds()));
    let rendered = reel::render(&plan, tmp.path()).await;
    spinner.finish_and_clear();
    rendered.map_err(failed)?;
    let bytes = tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0);
    super::persist_output(tmp, path, force)?;
    Ok(ReelWritten {
        moments: plan.parts.len(),
        left_out: plan.left_out,
        seconds: plan.seconds(),
        size: plan.size,
        bytes,
        render_secs: started.elapsed().as_secs_f64(),
    })
}

/// A time as people read it and [`parse_clock`] takes it back: `m:ss.s`, or `h:mm:ss.s` from
/// an hour on (tenths of a second, rounded).
pub(super) fn format_clock(seconds: f64) -> String {
    let tenths = (seconds.max(0.0) * 10.0).round() as u64;
    let (h, m, s) = (tenths / 36_000, tenths / 600 % 60, (tenths % 600) as f64 / 10.0);
    if h > 0 { format!("{h}:{m:02}:{s:04.1}") } else { format!("{m}:{s:04.1}") }
}

/// A time on the command line: seconds (`75.5`) or `[h:]m:ss[.s]` (`1:15.5`, `1:02:05`).
pub(super) fn parse_clock(s: &str) -> Result<f64, String> {
    let bad = || format!("'{s}' is not a time: give seconds (75.5) or [h:]m:ss (1:15.5)");
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let (last, whole) = parts.split_last().ok_or_else(bad)?;
    let seconds: f64 = last.parse().map_err(|_| bad())?;
    if !seconds.is_finite() || seconds < 0.0 || (!whole.is_empty() && seconds >= 60.0) {
        return Err(bad());
    }
    let mut total = 0.0;
    for (i, p) in whole.iter().enumerate() {
        let n: u32 = p.parse().map_err(|_| bad())?;
        // Minutes below hours stay under 60.
        if i > 0 && n >= 60 {
            return Err(bad());
        }
        total = total * 60.0 + f64::from(n);
    }
    Ok(if whole.is_empty() { seconds } else { total * 60.0 + seconds })
}

/// Says what a refresh did (`library index` and `ingest`).
pub fn report_refresh(r: &RefreshReport, out: &Output) {
    let Some(generation) = &r.generation else { return };
    let what = if r.rebuilt {
        "built".to_string()
    } else if r.added_videos > 0 {
        format!("extended by {} ({})", count(r.added_videos, "video"), count(r.added_vectors, "vector"))
    } else {
        "already up to date".to_string()
    };
    out.say(format!(
        "library index {generation} {what}: {}, {}, {} dead, {:.2} s",
        count(r.videos, "video"),
        count(r.vectors, "vector"),
        r.dead_vectors,
        r.seconds
    ));
    out.json_line(&json!({"library_index": r}));
}

async fn index(g: &GlobalOpts, args: LibraryIndexArgs, out: &Output) -> Result<(), CliError> {
    let engine = Arc::new(build_engine(g, None).await?);
    let library = Library::new(engine, &args.index.root(g));
    let params = match (args.max_connections, args.ef_construction) {
        (Some(max_connections), Some(ef_construction)) => Some(IndexParams { max_connections, ef_construction }),
        _ => None,
    };
    let opts = RefreshOptions { unit: args.unit, params, rebuild: args.rebuild, ..RefreshOptions::default() };
    let bar = out.items_bar(0, "videos");
    let report = library.refresh(&opts, &super::output::progress(&bar)).await;
    bar.finish_and_clear();
    report_refresh(&report?, out);
    Ok(())
}

async fn bench(args: LibraryBenchArgs, out: &Output) -> Result<(), CliError> {
    let lance = if args.no_lance {
        None
    } else {
        Some(tempfile::tempdir().map_err(|e| CliError::internal(format!("temporary folder: {e}")))?)
    };
    let opts = AnnBenchOptions {
        vectors: args.vectors,
        dim: args.dim,
        clusters: args.clusters.max(1),
        queries: args.queries.max(1),
        k: args.k.max(1),
        ef: args.ef,
        params: IndexParams { max_connections: args.max_connections, ef_construction: args.ef_construction },
        seed: args.seed,
        lance_dir: lance.as_ref().map(|d| d.path().to_path_buf()),
        hnsw: !args.no_hnsw,
        lance_nprobes: args.lance_nprobes.clone(),
    };
    let bar = out.items_bar(args.vectors as u64, "vectors");
    let report = ann_bench(&opts, &super::output::progress(&bar)).await;
    bar.finish_and_clear();
    let r = report?;
    if out.json {
        out.json_line(&r);
        return Ok(());
    }
    out.say(format!(
        "{} vectors x {} around {} clusters, {} queries, recall@{} (generated in {:.1} s)",
        r.vectors, r.dim, r.clusters, r.queries, r.k, r.generate_s
    ));
    if let Some(h) = &r.hnsw {
        out.say(format!(
            "hnsw (M {}, ef_construction {}): built in {:.1} s, {:.0} MB resident, {:.0} MB on disk (dump {:.1} s, load {:.1} s)",
            h.max_connections,
            h.ef_construction,
            h.build_s,
            h.resident_mb,
            h.bytes_on_disk as f64 / 1e6,
            h.dump_s,
            h.load_s
        ));
        for e in &h.ef {
            out.say(format!(
                "  ef {:>4}: recall {:.4}, p50 {:.2} ms, p95 {:.2} ms",
                e.ef, e.recall, e.latency.p50_ms, e.latency.p95_ms
            ));
        }
    }
    out.say(format!("exact scan (all cores): p50 {:.2} ms, p95 {:.2} ms", r.exact.p50_ms, r.exact.p95_ms));
    if let Some(l) = &r.lance {
        out.say(format!(
            "LanceDB flat scan: p50 {:.2} ms, p95 {:.2} ms (written in {:.1} s)",
            l.flat_scan_latency.p50_ms, l.flat_scan_latency.p95_ms, l.write_s
        ));
        out.say(format!(
            "LanceDB IVF_PQ ({} partitions, {} sub-vectors, refine {}): built in {:.1} s, {:.0} MB on disk",
            l.partitions,
            l.sub_vectors,
            l.refine_factor,
            l.index_build_s,
            l.bytes_on_disk as f64 / 1e6
        ));
        for p in &l.probes {
            out.say(format!(
                "  nprobes {:>4}: recall {:.4}, p50 {:.2} ms, p95 {:.2} ms",
                p.nprobes, p.recall, p.latency.p50_ms, p.latency.p95_ms
            ));
        }
    }
    Ok(())
}

async fn library_bench(g: &GlobalOpts, args: LibraryBenchArgs, out: &Output) -> Result<(), CliError> {
    use chronoseek::library::bench::{LibraryBenchOptions, library_bench};
    let tmp = tempfile::tempdir().map_err(|e| CliError::internal(format!("temporary folder: {e}")))?;
    let model = Arc::new(chronoseek::model::ClipEmbedder::load(&g.model_source(), g.model_options()).await?);
    let store = chronoseek::index::Store::open(&tmp.path().join("store").display().to_string()).await?;
    let fetcher = chronoseek::ingest::Fetcher::new(g.pipeline.fetch_options())?;
    let engine = Arc::new(chronoseek::query::Engine::new(store, model, fetcher, g.pipeline.engine_options()));
    let library = Library::new(engine, &tmp.path().join("library"));
    let opts = LibraryBenchOptions {
        videos: args.library_videos.unwrap_or(1000),
        frames_per_video: args.frames_per_video.max(1),
        shots_per_video: 6,
        queries: args.queries.max(1),
        top_k: args.k.clamp(1, MAX_LIBRARY_TOP_K),
        seed: args.seed,
    };
    let bar = out.items_bar(opts.videos as u64, "videos");
    let r = library_bench(&library, &opts, &super::output::progress(&bar)).await;
    bar.finish_and_clear();
    let r = r?;
    if out.json {
        out.json_line(&r);
        return Ok(());
    }
    out.say(format!(
        "{} videos, {} index vectors of width {} (store written in {:.1} s, index built in {:.1} s)",
        r.videos, r.vectors, r.dim, r.write_s, r.index_build_s
    ));
    out.say(format!("library search through the index, warm: p50 {:.1} ms, p95 {:.1} ms", r.ann.p50_ms, r.ann.p95_ms));
    out.say(format!("library search exactly, warm: p50 {:.1} ms, p95 {:.1} ms", r.exact.p50_ms, r.exact.p95_ms));
    out.say(format!("same top-1 video on {:.0}% of {} queries", 100.0 * r.top1_same_video, r.queries));
    Ok(())
}

pub async fn serve(g: &GlobalOpts, args: ServeArgs, out: &Output) -> Result<(), CliError> {
    use chronoseek::server::access::AccessToken;
    // Settle the token before anything loads: a bad one is a usage error.
    let (access, printed) = match (&args.token, args.no_token || args.host.is_loopback()) {
        (Some(t), _) => (
            Some(AccessToken::new(t).map_err(|e| CliError::new(ErrorCode::InvalidRequest, format!("--token: {e}")))?),
            None,
        ),
        (None, true) => (None, None),
        (None, false) => {
            let (token, secret) = AccessToken::generate();
            (Some(token), Some(secret))
        }
    };
    if access.is_none() && !args.host.is_loopback() {
        tracing::warn!(host = %args.host, "serving the library page beyond this machine without a token (--no-token): anyone who reaches it can watch your stored videos");
    }
    let engine = Arc::new(build_engine(g, None).await?);
    let library = Arc::new(Library::new(engine.clone(), &args.index.root(g)));
    let addr = SocketAddr::new(args.host, args.port);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| CliError::internal(format!("bind {addr}: {e}")))?;
    let local = listener.local_addr().map_err(CliError::internal)?;
    let videos = library.videos().await?.len();
    let url = match &printed {
        Some(secret) => format!("http://{local}/?token={secret}"),
        None => format!("http://{local}/"),
    };
    let guarded = match (&access, &printed) {
        (Some(_), Some(_)) => "; a random access token, in the URL",
        (Some(_), None) => "; open it with ?token=<your --token>",
        _ => "",
    };
    out.say(format!(
        "library page on {url} ({videos} videos, model {}, store {}{guarded})",
        engine.model().key(),
        g.store_uri()
    ));
    if args.host.is_unspecified() {
        out.say("(from other machines, use this machine's address in place of the unspecified one)");
    }
    out.json_line(&json!({"listening": local.to_string(), "url": url, "token_required": access.is_some(),
        "videos": videos, "model": engine.model().key()}));
    let mut app = LibraryApp::new(library);
    if let Some(token) = access {
        app = app.with_access(token);
    }
    chronoseek::server::serve_with_grace(
        router(Arc::new(app)),
        listener,
        super::shutdown_signal(),
        Duration::from_secs(5),
        ServeLimits::default(),
    )
    .await
    .map_err(CliError::internal)?;
    engine.flush(super::FLUSH_LIMIT).await;
    Ok(())
}

/// `text` with the byte ranges `marks` in bold (ANSI).
fn emphasise(text: &str, marks: &[std::ops::Range<usize>]) -> String {
    chronoseek::library::said::marked_parts(text, marks)
        .into_iter()
        .map(|(part, mark)| if mark { format!("\x1b[1m{part}\x1b[22m") } else { part.to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{emphasise, format_clock, parse_clock};

    #[test]
    fn found_words_are_bold() {
        assert_eq!(emphasise("the café is open", &[4..9, 10..12]), "the \x1b[1mcafé\x1b[22m \x1b[1mis\x1b[22m open");
        assert_eq!(emphasise("abc", &[]), "abc");
        assert_eq!(emphasise("café", &[0..4, 9..12]), "café", "ranges off a character or the text are left alone");
    }

    #[test]
    fn times_read_back_as_they_were_printed() {
        for (t, shown) in
            [(0.0, "0:00.0"), (9.5, "0:09.5"), (59.96, "1:00.0"), (75.25, "1:15.3"), (3725.0, "1:02:05.0")]
        {
            assert_eq!(format_clock(t), shown);
            assert!((parse_clock(shown).unwrap() - t).abs() <= 0.05, "{shown}");
        }
    }

    #[test]
    fn times_on_the_command_line() {
        for (s, want) in [("75.5", 75.5), ("0", 0.0), ("1:15.5", 75.5), ("1:02:05", 3725.0), ("90:00", 5400.0)] {
            assert_eq!(parse_clock(s), Ok(want), "{s}");
        }
        for s in ["", "-5", "nan", "inf", "1:60", "1:75:00", "a:10", "1::5", "1:2:3:4", "1.5:10"] {
            assert!(parse_clock(s).is_err(), "{s} accepted");
        }
    }
}
