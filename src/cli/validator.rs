//! `chronoseek validator`: synthetic evaluation of miners, weights every tempo, and the
//! optional public gateway. Flags and environment variables carry the reference's names.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::builder::TypedValueParser;
use clap::{ArgAction, Args};
use tokio_util::sync::CancellationToken;

use super::connect::{ChainOpts, WalletOpts};
use super::global::GlobalOpts;
use chronoseek::protocol::epistula::Signer;
use chronoseek::protocol::{ErrorCode, TopK};
use chronoseek::server::gateway::{self, GatewayConfig, GatewayState};
use chronoseek::validator::availability::{Availability, AvailabilityOptions};
use chronoseek::validator::client::MinerClient;
use chronoseek::validator::run::{Validator, ValidatorConfig};
use chronoseek::validator::scoring::ScoringMode;
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
    #[arg(long, env = "TASK_FORMAT", value_name = "FORMAT")]
    pub task_format: Option<TaskFormat>,

    /// `ranked` (default): reciprocal rank of the first good window among the first top_k,
    /// averaged over IoU 0.5:0.05:0.95, so coverage by many fixed windows earns little.
    /// `reference`: the Python validator's best IoU over every returned window.
    #[arg(long, env = "SCORING", default_value_t = ScoringMode::Ranked,
          value_parser = clap::builder::PossibleValuesParser::new(ScoringMode::NAMES).map(|s| s.parse::<ScoringMode>().unwrap_or_default()))]
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
    /// Seconds each miner gets per gateway request.
    #[arg(long, env = "VALIDATOR_API_MINER_TIMEOUT_SECONDS", default_value_t = 60.0)]
    pub validator_api_miner_timeout_seconds: f64,
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
    let tasks = if synthetic {
        let path = a.task_dataset_path.clone().unwrap_or_else(|| PathBuf::from("data/tasks/smoke_test_tasks.json"));
        load_split(&path, &a.task_split, a.task_format, &LoadOptions::default()).map_err(|e| bad(e.to_string()))?
    } else {
        Vec::new()
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
    let gateway = if a.enable_validator_api {
        let addr = SocketAddr::new(a.validator_api_host, a.validator_api_port);
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|e| CliError::internal(format!("bind {addr}: {e}")))?;
        let local = listener.local_addr().map_err(CliError::internal)?;
        let state = Arc::new(GatewayState {
            shared: validator.shared.clone(),
            client,
            config: GatewayConfig {
                max_miners: a.validator_api_max_miners.max(1),
                miner_timeout: secs(a.validator_api_miner_timeout_seconds),
                ..GatewayConfig::default()
            },
            shutdown: CancellationToken::new(),
        });
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
    }));
    out.say(format!(
        "validator {} on subnet {} (state in {}; synthetic evaluation {})",
        key.ss58(),
        a.chain.netuid,
        state_dir.display(),
        if synthetic { "on" } else { "off" }
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
    result.map_err(|e| match e {
        chronoseek::validator::run::ValidatorError::Chain(c) => CliError::from(c),
        other => CliError::internal(other),
    })?;
    let state = validator.shared.state.lock().clone();
    out.say(format!("stopped after {} steps; scores: {:?}", state.steps, state.scores.scores()));
    Ok(())
}
