//! Command-line interface: argument definitions and dispatch.

mod audio;
mod bench;
mod chain;
mod choices;
mod clip;
mod completions;
pub mod connect;
mod demo;
mod doctor;
mod eval;
pub mod global;
mod ingest;
mod library;
mod load;
mod miner;
mod model;
pub mod output;
mod query;
mod remix;
mod search;
mod store;
mod synth;
mod validator;
mod wallet;
mod weights;

use std::sync::Arc;

use clap::{Parser, Subcommand};

use chronoseek::chain::ChainError;
use chronoseek::index::{Store, StoreError};
use chronoseek::ingest::{FetchError, Fetcher, IngestError};
use chronoseek::model::{ClipEmbedder, ModelError, ModelSource};
use chronoseek::protocol::{ErrorCode, ProtocolError};
use chronoseek::query::{Engine, SearchError};
use global::GlobalOpts;

use output::Output;

/// ChronoSeek: find the moments in a video that match a sentence.
///
/// Videos are fingerprinted (blake3), their frames embedded once with CLIP and kept in a
/// LanceDB store; later searches on the same content are a vector scan, not a re-decode.
#[derive(Debug, Parser)]
#[command(name = "chronoseek", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fetch, fingerprint, decode and embed videos into the store (a no-op for content already
    /// stored, whatever path or URL it comes from).
    Ingest(ingest::IngestArgs),
    /// Ranked intervals where a sentence happens in a video (path, URL or fingerprint); an
    /// unknown video is ingested first.
    Search(search::SearchArgs),
    /// Offline demo: ingest the fixture videos with the bundled model, run a few queries, show
    /// cold and cached latency.
    Demo(demo::DemoArgs),
    /// Cold and cached search latency (p50/p95) and decode and embedding throughput; with
    /// --endpoint, signed load on a running miner (latency percentiles, requests/s).
    Bench(bench::BenchArgs),
    /// Retrieval quality (R1, mIoU, mAP) on a task file, or a QVHighlights prediction file
    /// scored like the standard evaluation.
    Eval(eval::EvalArgs),
    /// Serve the subnet's validators: `POST /search` (Epistula-signed, stake-gated),
    /// `GET /health`, `GET /metrics`.
    Miner(miner::MinerArgs),
    /// Call a miner as a validator does (signed request) to test an endpoint.
    Query(query::QueryArgs),
    /// Evaluate miners on synthetic tasks, score them, set weights every tempo; optionally
    /// serve the public gateway API (`/search`, `/search/stream`).
    Validator(Box<validator::ValidatorArgs>),
    /// Make remixed tasks from a task file as the validator does (video, query, ground truth,
    /// cost), without serving them.
    Remix(remix::RemixArgs),
    /// Bittensor wallets (created so the Python SDK reads them).
    #[command(subcommand)]
    Wallet(wallet::WalletCommand),
    /// The chain: create a dev chain, show a metagraph, check runtime metadata.
    #[command(subcommand)]
    Chain(chain::ChainCommand),
    /// Weights by hand: a timelocked commit (what the validator sends on commit-reveal subnets).
    #[command(subcommand)]
    Weights(weights::WeightsCommand),
    /// Generated videos with known scene intervals (the synthetic benchmark).
    #[command(subcommand)]
    Synth(synth::SynthCommand),
    /// Train the bundled tiny CLIP on generated scenes and plain colour screens (deterministic for a
    /// seed).
    TrainTiny(synth::TrainArgs),
    /// Search the whole library (every stored video) and manage its index.
    #[command(subcommand)]
    Library(library::LibraryCommand),
    /// A web page for your library: search box, result cards with thumbnails, the video
    /// playing from the moment (binds to 127.0.0.1).
    Serve(library::ServeArgs),
    /// The stored transcript of a video (what was said, when), by fingerprint, path or URL.
    Transcript(audio::TranscriptArgs),
    /// A moment as an MP4 file (H.264/AAC, cut exactly at START): from a local video or a stored
    /// one's file.
    Clip(clip::ClipArgs),
    /// Inspect or maintain the store.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Model utilities.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Check what this machine and these settings can do (FFmpeg decoders and program, yt-dlp,
    /// the CLIP and speech models, the store, the library index, disk space), each with what to
    /// do about it. Downloads nothing.
    Doctor(doctor::DoctorArgs),
    /// The completion script for a shell (bash, zsh, fish, elvish, powershell): commands, flags,
    /// their values and file names complete on Tab.
    Completions(completions::CompletionsArgs),
}

/// A temporary file beside `target`, for an output that [`persist_output`] then renames to
/// it: a crash, Ctrl-C or a failed render never leaves half a file under the name asked for.
/// Its mode is what the user's umask makes of 0666, as for any file they write.
pub(crate) fn output_temp(target: &std::path::Path) -> Result<tempfile::NamedTempFile, CliError> {
    let folder = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let mode = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o666);
    tempfile::Builder::new()
        .prefix(".chronoseek-")
        .permissions(mode)
        .tempfile_in(folder)
        .map_err(|e| CliError::new(ErrorCode::InvalidRequest, format!("cannot write into {}: {e}", folder.display())))
}

/// Renames a finished [`output_temp`] to `target`; an existing `target` is replaced only with
/// `force` (the check and the rename are one step: no race with another writer).
pub(crate) fn persist_output(
    tmp: tempfile::NamedTempFile,
    target: &std::path::Path,
    force: bool,
) -> Result<(), CliError> {
    let kept = if force { tmp.persist(target) } else { tmp.persist_noclobber(target) };
    kept.map(|_| ()).map_err(|e| {
        let why = if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            "it exists (--force replaces it)".to_string()
        } else {
            e.error.to_string()
        };
        CliError::new(ErrorCode::InvalidRequest, format!("cannot write {}: {why}", target.display()))
    })
}

pub async fn run(cli: Cli, out: &Output) -> Result<(), CliError> {
    match cli.command {
        Command::Ingest(a) => ingest::run(&cli.global, a, out).await,
        Command::Search(a) => search::run(&cli.global, a, out).await,
        Command::Demo(a) => demo::run(&cli.global, a, out).await,
        Command::Bench(a) => bench::run(&cli.global, a, out).await,
        Command::Eval(a) => eval::run(&cli.global, a, out).await,
        Command::Miner(a) => miner::run(&cli.global, a, out).await,
        Command::Query(a) => query::run(&cli.global, a, out).await,
        Command::Validator(a) => validator::run(&cli.global, *a, out).await,
        Command::Remix(a) => remix::run(&cli.global, a, out).await,
        Command::Wallet(c) => wallet::run(&cli.global, c, out).await,
        Command::Chain(c) => chain::run(&cli.global, c, out).await,
        Command::Weights(c) => weights::run(&cli.global, c, out).await,
        Command::Store(c) => store::run(&cli.global, c, out).await,
        Command::Transcript(a) => audio::run(&cli.global, a, out).await,
        Command::Library(c) => library::run(&cli.global, c, out).await,
        Command::Serve(a) => library::serve(&cli.global, a, out).await,
        Command::Clip(a) => clip::run(&cli.global, a, out).await,
        Command::Synth(c) => synth::run_synth(&cli.global, c, out).await,
        Command::TrainTiny(a) => synth::run_train(&cli.global, a, out).await,
        Command::Model(c) => model::run(&cli.global, c, out).await,
        Command::Completions(a) => completions::run(a, out),
        Command::Doctor(a) => doctor::run(&cli.global, a, out).await,
    }
}

/// Exit code when the chain or an endpoint cannot be reached (retrying later may work).
pub const EXIT_UNAVAILABLE: u8 = 8;
/// Exit code when the chain refuses for a reason only the operator can fix (not registered,
/// no such subnet, no validator permit, commit-reveal on).
pub const EXIT_NEEDS_OPERATOR: u8 = 9;

/// A failure with the protocol code that classifies it, and its exit code (the code's own, or
/// one of the two above, which have no protocol code of their own).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub code: ErrorCode,
    pub message: String,
    exit: u8,
}

impl CliError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), exit: code.exit_code() as u8 }
    }
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::InternalError, message.to_string())
    }
    /// The chain or an endpoint could not be reached.
    pub fn unavailable(message: impl std::fmt::Display) -> Self {
        Self { exit: EXIT_UNAVAILABLE, ..Self::internal(message) }
    }
    /// Something only the operator can fix.
    pub fn needs_operator(message: impl std::fmt::Display) -> Self {
        Self { exit: EXIT_NEEDS_OPERATOR, ..Self::new(ErrorCode::InvalidRequest, message.to_string()) }
    }
    pub fn exit_code(&self) -> u8 {
        self.exit
    }
    /// The protocol's error envelope (printed on stdout with --json).
    pub fn envelope(&self) -> ProtocolError {
        ProtocolError::new(self.code, self.message.clone())
    }
}

impl From<SearchError> for CliError {
    fn from(e: SearchError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<IngestError> for CliError {
    fn from(e: IngestError) -> Self {
        SearchError::from(e).into()
    }
}

impl From<FetchError> for CliError {
    fn from(e: FetchError) -> Self {
        Self::new(ErrorCode::VideoFetchFailed, e.to_string())
    }
}

impl From<ModelError> for CliError {
    fn from(e: ModelError) -> Self {
        Self::new(ErrorCode::InferenceFailed, e.to_string())
    }
}

impl From<ChainError> for CliError {
    fn from(e: ChainError) -> Self {
        if e.is_unavailable() {
            Self::unavailable(e)
        } else if e.needs_operator() {
            Self::needs_operator(e)
        } else if matches!(e, ChainError::File { .. } | ChainError::NoChainFile { .. } | ChainError::BadNetwork(_)) {
            Self::new(ErrorCode::InvalidRequest, e.to_string())
        } else {
            Self::internal(e)
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

/// How long a command waits at exit for cached query embeddings to reach the store.
pub const FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Loads the model and opens the store named by the global options.
pub async fn build_engine(g: &GlobalOpts, source: Option<ModelSource>) -> Result<Engine, CliError> {
    build_engine_with(g, source, None).await
}

/// [`build_engine`] whose new videos are listened to with `audio`.
pub async fn build_engine_with(
    g: &GlobalOpts,
    source: Option<ModelSource>,
    audio: Option<Arc<chronoseek::ingest::Listener>>,
) -> Result<Engine, CliError> {
    let source = source.unwrap_or_else(|| g.model_source());
    let model = Arc::new(ClipEmbedder::load(&source, g.model_options()).await?);
    let store = Store::open(&g.store_uri()).await?;
    let fetcher = Fetcher::new(g.pipeline.fetch_options())?;
    let mut opts = g.pipeline.engine_options();
    opts.ingest.audio = audio;
    Ok(Engine::new(store, model, fetcher, opts))
}

/// The stored record of a video named on the command line: a fingerprint, or a path or URL
/// whose content is stored (a local file is fingerprinted; nothing is ingested or downloaded).
pub async fn stored_video(engine: &Engine, name: &str) -> Result<chronoseek::index::VideoRecord, CliError> {
    use chronoseek::ingest::VideoInput;
    let not_stored = || {
        CliError::new(ErrorCode::InvalidRequest, format!("{name} is not in the store; `chronoseek ingest` it first"))
    };
    let fp = match VideoInput::from_cli(name)? {
        VideoInput::Stored(fp) => fp,
        VideoInput::Source(source) => match engine.ingestor().cached_fingerprint(&source).await? {
            Some(fp) => fp,
            None if source.is_local() => engine.ingestor().fetcher().fetch(&source).await?.fingerprint,
            None => return Err(not_stored()),
        },
    };
    engine.store().video(&fp, engine.model().key()).await?.ok_or_else(not_stored)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}
