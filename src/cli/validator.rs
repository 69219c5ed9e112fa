//! `chronoseek validator`: synthetic evaluation of miners, weights every tempo, and the
//! optional public gateway. Flags and environment variables carry the reference's names.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args};
use tokio_util::sync::CancellationToken;

use super::connect::{ChainOpts, WalletOpts};
use super::global::GlobalOpts;
use chronoseek::ingest::{FetchOptions, Fetcher};
use chronoseek::protocol::epistula::Signer;
use chronoseek::protocol::{ErrorCode, TopK};
use chronoseek::server::gateway::{self, GatewayConfig, GatewayState, MediaProxy};
use chronoseek::validator::availability::{Availability, AvailabilityOptions};
use chronoseek::validator::client::MinerClient;
use chronoseek::validator::media::MediaRegistry;
use chronoseek::validator::remix::RemixOptions;
use chronoseek::validator::remixer::{Consistency, Remixer};
use chronoseek::validator::run::{TaskMode, Validator, ValidatorConfig};
use chronoseek::validator::scoring::ScoringMode;
use chronoseek::validator::sources::SourceCache;
use chronoseek::validator::state::StateFile;
use chronoseek::validator::tasks::{LoadOptions, TaskFormat, load_split};

use super::{CliError, output::Output};

#[derive(Debug, Args)]
pub struct ValidatorArgs {
    #[command(flatten)]
    pub chain: ChainOpts,
    #[command(flatten)]
    pub wallet: WalletOpts,

    /// Task annotations: the reference's task JSON, ActivityNet Captions JSON, QVHighlights
    /// jsonl or Charades-STA txt (a file, or a folder holding one file per split). Default:
    /// the bootstrap smoke set, data/tasks/smoke_test_tasks.json.
    #[arg(long, env = "TASK_DATASET_PATH", value_name = "PATH")]
    pub task_dataset_path: Option<PathBuf>,
    /// Split to use (a folder's file is chosen by it; labelled tasks are filtered by it).
    #[arg(long, env = "TASK_SPLIT", default_value = "validation")]
    pub task_split: String,
    /// Annotation format (default: from the file name and shape).
    #[arg(long, env = "TASK_FORMAT", value_name = "FORMAT",
          value_parser = super::choices::one_of::<TaskFormat>(TaskFormat::NAMES))]
    pub task_format: Option<TaskFormat>,

    /// `ranked` (default): reciprocal rank of the first good window among the first top_k,
    /// averaged over IoU 0.5:0.05:0.95, so coverage by many fixed windows earns little.
    /// `reference`: the Python validator's best IoU over every returned window.
    #[arg(long, env = "SCORING", default_value_t = ScoringMode::Ranked,
          value_parser = super::choices::one_of::<ScoringMode>(ScoringMode::NAMES))]
    pub scoring: ScoringMode,
    /// Weight of latency in the step score: score · (1 − w · latency/timeout). 0 = recorded only.
    #[arg(long, env = "LATENCY_WEIGHT", default_value_t = 0.0)]
    pub latency_weight: f64,
    /// Intervals asked of each miner (1 to 20).
    #[arg(long, env = "TOP_K", default_value_t = 5)]
    pub top_k: u32,
    /// Seconds each miner gets per synthetic task.
    #[arg(long, env = "MINER_TIMEOUT_SECONDS", default_value_t = 150.0)]
    pub miner_timeout: f64,
    /// Miner requests in flight at once.
    #[arg(long, env = "MAX_CONCURRENT_MINER_REQUESTS", default_value_t = 8)]
    pub max_in_flight: usize,
    /// Seconds between synthetic steps.
    #[arg(long, env = "STEP_INTERVAL_SECONDS", default_value_t = 12.0)]
    pub step_interval: f64,
    /// Seconds between health sweeps (GET /health on every served miner).
    #[arg(long, env = "HEALTH_INTERVAL_SECONDS", default_value_t = 60.0)]
    pub health_interval: f64,
    /// Seconds a health probe may take.
    #[arg(long, env = "HEALTH_TIMEOUT_SECONDS", default_value_t = 5.0)]
    pub health_timeout: f64,
    /// Re-read the metagraph every this many blocks.
    #[arg(long, env = "METAGRAPH_RESYNC_BLOCKS", default_value_t = 100)]
    pub resync_blocks: u64,
    /// Restart the loop after this many seconds without a heartbeat.
    #[arg(long, env = "WATCHDOG_SECONDS", default_value_t = 600.0)]
    pub watchdog: f64,
    /// Moving-score factor: s ← α·step + (1 − α)·s.
    #[arg(long, env = "MOVING_AVERAGE_ALPHA", default_value_t = 0.1)]
    pub alpha: f64,
    /// Stop after this many steps (default: run until stopped).
    #[arg(long, env = "MAX_STEPS")]
    pub max_steps: Option<u64>,
    /// Seed of the task sampler (default: from the clock).
    #[arg(long, env = "TASK_SEED")]
    pub seed: Option<u64>,
    /// Folder of the validator's state (scores, last weight block, availability caches, the
    /// steps log). Default: <data dir>/chronoseek/validator-<netuid>.
    #[arg(long, env = "CHRONOSEEK_VALIDATOR_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Skip tasks whose video cannot be reached (HEAD, or yt-dlp for platform pages).
    #[arg(long, env = "REQUIRE_ACCESSIBLE_VIDEOS", default_value = "true", value_parser = BoolishValueParser::new(), action = ArgAction::Set)]
    pub require_accessible_videos: bool,
    /// Tasks drawn per step before giving up.
    #[arg(long, env = "TASK_MAX_SAMPLING_ATTEMPTS", default_value_t = 50)]
    pub task_max_sampling_attempts: usize,
    /// Cache of reachable video URLs (default: in the state folder).
    #[arg(long, env = "ACCESSIBLE_VIDEO_CACHE_PATH", value_name = "FILE")]
    pub accessible_video_cache_path: Option<PathBuf>,
    /// Cache of unreachable video URLs (default: in the state folder).
    #[arg(long, env = "INACCESSIBLE_VIDEO_CACHE_PATH", value_name = "FILE")]
    pub inaccessible_video_cache_path: Option<PathBuf>,
    /// Hours a reachability verdict is trusted.
    #[arg(long, env = "VIDEO_AVAILABILITY_CACHE_TTL_HOURS", default_value_t = 24.0)]
    pub video_availability_cache_ttl_hours: f64,
    /// Seconds a reachability check may take.
    #[arg(long, env = "VIDEO_AVAILABILITY_TIMEOUT", default_value_t = 20.0)]
    pub video_availability_timeout: f64,

    /// Run synthetic evaluation and set weights (`--no-enable-synthetic-evaluation`, or
    /// ENABLE_SYNTHETIC_EVALUATION=0, runs the gateway alone).
    #[arg(long, env = "ENABLE_SYNTHETIC_EVALUATION", default_value = "true", value_parser = BoolishValueParser::new(), action = ArgAction::Set)]
    pub enable_synthetic_evaluation: bool,
    /// Turn synthetic evaluation off.
    #[arg(long)]
    pub no_enable_synthetic_evaluation: bool,
    /// Serve the public gateway API.
    #[arg(long, env = "ENABLE_VALIDATOR_API", default_value = "false", value_parser = BoolishValueParser::new(), action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub enable_validator_api: bool,
    /// Gateway listen address.
    #[arg(long, env = "VALIDATOR_API_HOST", default_value = "0.0.0.0")]
    pub validator_api_host: IpAddr,
    /// Gateway port.
    #[arg(long, env = "VALIDATOR_API_PORT", default_value_t = 8010)]
    pub validator_api_port: u16,
    /// Miners queried per gateway request (best moving scores first).
    #[arg(long, env = "VALIDATOR_API_MAX_MINERS", default_value_t = 3)]
    pub validator_api_max_miners: usize,
    /// Gateway searches answered at once (`/search` and `/search/stream` together); beyond
    /// it a request gets 503 with Retry-After before its video is fetched or a miner is asked.
    #[arg(long, env = "VALIDATOR_API_MAX_IN_FLIGHT", default_value_t = 32)]
    pub validator_api_max_in_flight: usize,
    /// Seconds each miner gets per gateway request.
    #[arg(long, env = "VALIDATOR_API_MINER_TIMEOUT_SECONDS", default_value_t = 60.0)]
    pub validator_api_miner_timeout_seconds: f64,

    /// `remix` (default): each step cuts 3 to 6 annotated moments from the task videos into a
    /// new, re-encoded video that this validator serves at /media/<token>, so answers cannot
    /// be looked up. `dataset`: the dataset's own videos and intervals (the reference's way).
    #[arg(long, env = "TASK_MODE", value_enum, default_value_t = TaskModeArg::Remix)]
    pub task_mode: TaskModeArg,
    /// The address miners reach this validator's /media at, e.g. http://203.0.113.7:8010
    /// (default: the gateway's, or the media server's, bound address when it is not 0.0.0.0).
    #[arg(long, env = "MEDIA_PUBLIC_URL", value_name = "URL")]
    pub media_public_url: Option<url::Url>,
    /// Where /media listens when the gateway is off (with the gateway on, it shares the
    /// gateway's port).
    #[arg(long, env = "MEDIA_HOST", default_value = "0.0.0.0")]
    pub media_host: IpAddr,
    /// Port of /media when the gateway is off (0: any free port).
    #[arg(long, env = "MEDIA_PORT", default_value_t = 8011)]
    pub media_port: u16,
    /// Downloads from /media at once (further requests get 503 + Retry-After).
    #[arg(long, env = "MEDIA_MAX_DOWNLOADS", default_value_t = 16)]
    pub media_max_downloads: usize,
    /// Megabytes of task videos kept to cut remixes from (least recently used go first).
    #[arg(long, env = "REMIX_SOURCE_CACHE_MB", default_value_t = 10_240)]
    pub remix_source_cache_mb: u64,
    /// Fewest annotated cuts in one remix (a lead-in comes before them).
    #[arg(long, env = "REMIX_MIN_CUTS", default_value_t = 3)]
    pub remix_min_cuts: usize,
    /// Most annotated cuts in one remix.
    #[arg(long, env = "REMIX_MAX_CUTS", default_value_t = 6)]
    pub remix_max_cuts: usize,
    /// Most source videos one remix draws from.
    #[arg(long, env = "REMIX_MAX_SOURCES", default_value_t = 3)]
    pub remix_max_sources: usize,
    /// Fraction of remix steps that also send the moment's original video; a miner whose two
    /// top windows disagree loses --consistency-penalty of the step's score.
    #[arg(long, env = "CONSISTENCY_RATE", default_value_t = 0.1)]
    pub consistency_rate: f64,
    /// Least IoU (in the original timeline) for the two answers to agree.
    #[arg(long, env = "CONSISTENCY_TOLERANCE", default_value_t = 0.5)]
    pub consistency_tolerance: f64,
    /// Fraction of the step score lost on disagreement.
    #[arg(long, env = "CONSISTENCY_PENALTY", default_value_t = 0.5)]
    pub consistency_penalty: f64,
    /// Gateway: fetch each organic video once and give miners a /media/<token> URL of the same
    /// shape as a remix's (default: on with --task-mode remix). Costs the video's bytes once in
    /// and once per queried miner out.
    #[arg(long, env = "PROXY_ORGANIC_MEDIA", value_parser = BoolishValueParser::new(), action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub proxy_organic_media: Option<bool>,
    /// Let the gateway's proxy fetch URLs that resolve to loopback or private addresses (local
    /// testing only).
    #[arg(long, env = "ALLOW_PRIVATE_VIDEO_URLS")]
    pub allow_private_video_urls: bool,
}

/// `--task-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskModeArg {
    Remix,
    Dataset,
}

/// The public base URL of /media: the operator's, or the bound address when it is specific.
fn media_base(explicit: Option<&url::Url>, bound: SocketAddr) -> Result<url::Url, CliError> {
    if let Some(u) = explicit {
        return Ok(u.clone());
    }
    if bound.ip().is_unspecified() {
        return Err(CliError::new(
            ErrorCode::InvalidRequest,
            format!(
                "remixed tasks are served by this validator, and it listens on {bound}: set --media-public-url \
                 (MEDIA_PUBLIC_URL) to the address miners reach it at, e.g. http://<public ip>:{}",
                bound.port()
            ),
        ));
    }
    url::Url::parse(&format!("http://{bound}/")).map_err(CliError::internal)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() && s > 0.0 { s } else { 0.0 })
}

pub async fn run(g: &GlobalOpts, a: ValidatorArgs, out: &Output) -> Result<(), CliError> {
    let bad = |m: String| CliError::new(ErrorCode::InvalidRequest, m);
    let top_k = TopK::new(a.top_k).ok_or_else(|| bad(format!("--top-k must be 1..=20, got {}", a.top_k)))?;
    let synthetic = a.enable_synthetic_evaluation && !a.no_enable_synthetic_evaluation;
    if !synthetic && !a.enable_validator_api {
        return Err(bad("synthetic evaluation is off and the gateway is not enabled: nothing to do".into()));
    }
    let chain = a.chain.open().await?;
    let key = a.wallet.hotkey().map_err(|e| bad(e.to_string()))?;
    let state_dir = a.state_dir.clone().unwrap_or_else(|| {
        dirs::data_dir().unwrap_or_default().join("chronoseek").join(format!("validator-{}", a.chain.netuid))
    });
    std::fs::create_dir_all(&state_dir).map_err(|e| CliError::internal(format!("{}: {e}", state_dir.display())))?;
    let remix = a.task_mode == TaskModeArg::Remix;
    let tasks = if synthetic {
        let path = a.task_dataset_path.clone().unwrap_or_else(|| PathBuf::from("data/tasks/smoke_test_tasks.json"));
        let mut tasks =
            load_split(&path, &a.task_split, a.task_format, &LoadOptions::default()).map_err(|e| bad(e.to_string()))?;
        if remix {
            chronoseek::tasks::resolve_relative_paths(&mut tasks, &path);
        }
        tasks
    } else {
        Vec::new()
    };
    let proxy = a.proxy_organic_media.unwrap_or(remix && synthetic) && a.enable_validator_api;
    let media = if (synthetic && remix) || proxy {
        Some(
            MediaRegistry::open(&state_dir.join("media"), a.media_max_downloads)
                .map_err(|e| CliError::internal(e.to_string()))?,
        )
    } else {
        None
    };
    // The listener is bound first: its address is the media URLs' default base.
    let gateway_listener = if a.enable_validator_api {
        let addr = SocketAddr::new(a.validator_api_host, a.validator_api_port);
        Some(tokio::net::TcpListener::bind(addr).await.map_err(|e| CliError::internal(format!("bind {addr}: {e}")))?)
    } else {
        None
    };
    let media_listener = match (&media, &gateway_listener) {
        (Some(_), None) => {
            let addr = SocketAddr::new(a.media_host, a.media_port);
            Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| CliError::internal(format!("bind {addr}: {e}")))?,
            )
        }
        _ => None,
    };
    let public_base = match gateway_listener.as_ref().or(media_listener.as_ref()) {
        Some(l) if media.is_some() => {
            Some(media_base(a.media_public_url.as_ref(), l.local_addr().map_err(CliError::internal)?)?)
        }
        _ => None,
    };
    let downloads = state_dir.join("downloads");
    let task_mode = match (&media, &public_base) {
        (Some(registry), Some(base)) if synthetic && remix => {
            chronoseek::validator::remix::check_ffmpeg()
                .await
                .map_err(|e| bad(format!("{e} (Debian: apt-get install ffmpeg), or run with --task-mode dataset")))?;
            let fetcher =
                Fetcher::new(FetchOptions { download_dir: Some(downloads.clone()), ..g.pipeline.fetch_options() })
                    .map_err(|e| CliError::internal(e.to_string()))?;
            let sources =
                SourceCache::open(&state_dir.join("sources"), a.remix_source_cache_mb.saturating_mul(1 << 20), fetcher)
                    .map_err(|e| CliError::internal(e.to_string()))?;
            let options = RemixOptions {
                min_cuts: a.remix_min_cuts.max(1),
                max_cuts: a.remix_max_cuts.max(a.remix_min_cuts.max(1)),
                ..RemixOptions::default()
            };
            let consistency = Consistency {
                rate: a.consistency_rate.clamp(0.0, 1.0),
                tolerance: a.consistency_tolerance.clamp(0.0, 1.0),
                penalty: a.consistency_penalty.clamp(0.0, 1.0),
            };
            let mut remixer = Remixer::new(registry.clone(), base.clone(), sources, &tasks, options, consistency)
                .map_err(|e| bad(e.to_string()))?;
            remixer.max_sources = a.remix_max_sources.max(1);
            TaskMode::Remix(Arc::new(remixer))
        }
        _ => TaskMode::Dataset,
    };
    let proxy = match (&media, &public_base) {
        (Some(registry), Some(base)) if proxy => Some(MediaProxy {
            registry: registry.clone(),
            public_base: base.clone(),
            fetcher: Fetcher::new(FetchOptions {
                download_dir: Some(downloads.clone()),
                block_private_addresses: !a.allow_private_video_urls,
                allow_local_files: false,
                ..g.pipeline.fetch_options()
            })
            .map_err(|e| CliError::internal(e.to_string()))?,
        }),
        _ => None,
    };
    let availability = Availability::new(AvailabilityOptions {
        accessible_path: a
            .accessible_video_cache_path
            .clone()
            .unwrap_or_else(|| state_dir.join("accessible_videos.json")),
        inaccessible_path: a
            .inaccessible_video_cache_path
            .clone()
            .unwrap_or_else(|| state_dir.join("inaccessible_videos.json")),
        ttl: secs(a.video_availability_cache_ttl_hours * 3600.0),
        timeout: secs(a.video_availability_timeout),
        max_attempts: a.task_max_sampling_attempts,
        required: a.require_accessible_videos,
        // The same yt-dlp (global --yt-dlp) that fetches platform videos checks them.
        yt_dlp: g.pipeline.fetch_options().yt_dlp,
    })
    .map_err(CliError::internal)?;
    let signer = Arc::new(Signer::new(key.clone()));
    let client = MinerClient::new(signer).map_err(CliError::internal)?;
    let config = ValidatorConfig {
        scoring: a.scoring,
        latency_weight: a.latency_weight,
        top_k,
        miner_timeout: secs(a.miner_timeout),
        max_in_flight: a.max_in_flight.max(1),
        step_interval: secs(a.step_interval),
        health_interval: secs(a.health_interval),
        health_timeout: secs(a.health_timeout),
        resync_blocks: a.resync_blocks,
        watchdog: secs(a.watchdog),
        alpha: a.alpha.clamp(0.0, 1.0),
        synthetic,
        max_steps: a.max_steps,
        seed: a.seed,
        steps_log: Some(state_dir.join("steps.jsonl")),
        task_mode,
    };
    let validator = Validator::start(
        chain,
        key.clone(),
        client.clone(),
        tasks,
        availability,
        StateFile::new(state_dir.join("state.json")),
        config,
    )
    .await
    .map_err(|e| CliError::internal(e.to_string()))?;
    let cancel = CancellationToken::new();
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            super::shutdown_signal().await;
            cancel.cancel();
        });
    }
    let task_mode_name = validator.config().task_mode.name();
    let media_server = match (media_listener, &media) {
        (Some(listener), Some(registry)) => {
            let local = listener.local_addr().map_err(CliError::internal)?;
            out.say(format!("media served on http://{local}/media/"));
            let c = cancel.clone();
            let app = chronoseek::server::media::router(registry.clone());
            Some(tokio::spawn(chronoseek::server::serve_with_grace(
                app,
                listener,
                async move { c.cancelled().await },
                Duration::from_secs(5),
                chronoseek::server::ServeLimits::default(),
            )))
        }
        _ => None,
    };
    let gateway = if let Some(listener) = gateway_listener {
        let local = listener.local_addr().map_err(CliError::internal)?;
        let config = GatewayConfig {
            max_miners: a.validator_api_max_miners.max(1),
            miner_timeout: secs(a.validator_api_miner_timeout_seconds),
            max_in_flight: a.validator_api_max_in_flight.max(1),
            ..GatewayConfig::default()
        };
        let state = Arc::new(GatewayState::new(validator.shared.clone(), client, config, media.clone(), proxy));
        out.say(format!("gateway listening on http://{local}"));
        let c = cancel.clone();
        Some((local, tokio::spawn(gateway::serve(state, listener, async move { c.cancelled().await }))))
    } else {
        None
    };
    out.json_line(&serde_json::json!({
        "validator": key.ss58(),
        "netuid": a.chain.netuid,
        "state_dir": state_dir.display().to_string(),
        "gateway": gateway.as_ref().map(|(l, _)| l.to_string()),
        "synthetic": synthetic,
        "task_mode": task_mode_name,
        "media_base": public_base.as_ref().map(|u| u.to_string()),
    }));
    out.say(format!(
        "validator {} on subnet {} (state in {}; synthetic evaluation {}, {} tasks)",
        key.ss58(),
        a.chain.netuid,
        state_dir.display(),
        if synthetic { "on" } else { "off" },
        task_mode_name
    ));
    let result = validator.clone().run(cancel.clone()).await;
    if !synthetic {
        // Gateway only: serve until stopped.
        cancel.cancelled().await;
    }
    cancel.cancel();
    if let Some((_, handle)) = gateway {
        let _ = handle.await;
    }
    if let Some(handle) = media_server {
        let _ = handle.await;
    }
    result.map_err(|e| match e {
        chronoseek::validator::run::ValidatorError::Chain(c) => CliError::from(c),
        other => CliError::internal(other),
    })?;
    let state = validator.shared.state.lock().clone();
    out.say(format!("stopped after {} steps; scores: {:?}", state.steps, state.scores.scores()));
    Ok(())
}
