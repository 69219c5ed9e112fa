//! `chronoseek miner`: serve `/search`, `/health` and `/metrics` to the subnet's validators.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use chronoseek::chain::{Chain, LocalChain};
use chronoseek::config::GlobalOpts;
use chronoseek::index::Store;
use chronoseek::ingest::Fetcher;
use chronoseek::model::ClipEmbedder;
use chronoseek::protocol::ErrorCode;
use chronoseek::query::Engine;
use chronoseek::server::miner::{MinerConfig, MinerState, serve};

use super::{CliError, output::Output};

#[derive(Debug, Args)]
pub struct MinerArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// Callers (validators) with less stake than this, in TAO, are refused with 403.
    #[arg(long, env = "MIN_VALIDATOR_STAKE", default_value_t = 10_000.0)]
    pub min_validator_stake: f64,
    /// Subnet id.
    #[arg(long, env = "NETUID", default_value_t = 1)]
    pub netuid: u16,
    /// Chain: `local` reads --metagraph-file (finney, test and ws:// URLs need the subtensor
    /// client of the chain layer).
    #[arg(long, env = "NETWORK", default_value = "local")]
    pub network: String,
    /// Metagraph JSON of the local chain (hotkeys, stakes, axons). Default:
    /// <data dir>/chronoseek/metagraph.json.
    #[arg(long, env = "METAGRAPH_FILE", value_name = "FILE")]
    pub metagraph_file: Option<PathBuf>,
    /// Fetch video URLs that resolve to loopback or private addresses (local testing only:
    /// otherwise anyone could make the miner probe its own network).
    #[arg(long, env = "ALLOW_PRIVATE_VIDEO_URLS")]
    pub allow_private_video_urls: bool,
    /// Largest request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Per-request deadline in seconds (answered with TIMEOUT after it).
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 120)]
    pub request_timeout: u64,
    /// Videos decoded and embedded at once.
    #[arg(long, env = "MAX_CONCURRENT_INGESTS", default_value_t = 1)]
    pub max_concurrent_ingests: usize,
    /// Cold requests that may wait for an ingest slot; beyond it requests get 503 with
    /// Retry-After.
    #[arg(long, env = "MAX_QUEUED_INGESTS", default_value_t = 8)]
    pub max_queued_ingests: usize,
    /// Seconds shutdown waits for requests in flight.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace: u64,
}

async fn shutdown_signal() {
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

pub async fn run(g: &GlobalOpts, args: MinerArgs, out: &Output) -> Result<(), CliError> {
    if args.network != "local" {
        return Err(CliError::new(
            ErrorCode::InvalidRequest,
            format!(
                "NETWORK={} needs the subtensor client, which this build does not have yet; use --network local with --metagraph-file",
                args.network
            ),
        ));
    }
    let metagraph_file = args
        .metagraph_file
        .clone()
        .unwrap_or_else(|| dirs::data_dir().unwrap_or_default().join("chronoseek").join("metagraph.json"));
    let chain: Arc<dyn Chain> = Arc::new(LocalChain::new(&metagraph_file));
    chain.metagraph().await.map_err(|e| CliError::internal(format!("{e} (create it, or pass --metagraph-file)")))?;

    let model = Arc::new(ClipEmbedder::load(&g.model_source(), g.device).await?);
    let store = Store::open(&g.store_uri()).await?;
    let mut fetch = g.pipeline.fetch_options();
    fetch.block_private_addresses = !args.allow_private_video_urls;
    let mut opts = g.pipeline.engine_options();
    opts.ingest.max_concurrent = args.max_concurrent_ingests.max(1);
    opts.ingest.max_queued = args.max_queued_ingests;
    let engine = Arc::new(Engine::new(store, model.clone(), Fetcher::new(fetch)?, opts));
    let config = MinerConfig {
        min_validator_stake: args.min_validator_stake,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        ..MinerConfig::default()
    };
    let state = MinerState::new(engine, chain, config);
    let addr = SocketAddr::new(args.host, args.port);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| CliError::internal(format!("bind {addr}: {e}")))?;
    let local = listener.local_addr().map_err(CliError::internal)?;
    tracing::info!(%local, model = model.key(), netuid = args.netuid, "miner listening");
    out.say(format!("miner listening on http://{local} (model {}, store {})", model.key(), g.store_uri()));
    out.json_line(&serde_json::json!({"listening": local.to_string(), "model": model.key()}));
    serve(state, listener, shutdown_signal()).await.map_err(CliError::internal)
}
