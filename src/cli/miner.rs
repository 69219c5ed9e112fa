//! `chronoseek miner`: serve `/search`, `/health` and `/metrics` to the subnet's validators.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::connect::{ChainOpts, WalletOpts};
use super::global::GlobalOpts;
use chronoseek::chain::{Chain, Network};
use chronoseek::index::Store;
use chronoseek::ingest::Fetcher;
use chronoseek::model::ClipEmbedder;
use chronoseek::protocol::ErrorCode;
use chronoseek::query::Engine;
use chronoseek::server::ServeLimits;
use chronoseek::server::miner::{MinStake, MinerConfig, MinerState, serve};

use super::{CliError, output::Output};

#[derive(Debug, Args)]
pub struct MinerArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// Callers (validators) with less stake than this, in TAO, are refused with 403. A finite
    /// number, zero or more (NaN, infinities and negatives are refused).
    #[arg(long, env = "MIN_VALIDATOR_STAKE", default_value = "10000")]
    pub min_validator_stake: MinStake,
    #[command(flatten)]
    pub chain: ChainOpts,
    #[command(flatten)]
    pub wallet: WalletOpts,
    /// Address announced on chain (serve_axon). Default: --host when it is a specific address,
    /// 127.0.0.1 on the dev chain; on a real network an unspecified --host needs this.
    #[arg(long, env = "AXON_IP", value_name = "IP")]
    pub axon_ip: Option<IpAddr>,
    /// Port announced on chain (default: --port).
    #[arg(long, env = "AXON_PORT")]
    pub axon_port: Option<u16>,
    /// Do not announce the axon on chain at start-up.
    #[arg(long, env = "NO_SERVE_AXON")]
    pub no_serve_axon: bool,
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
    /// Seconds one video's ingest may run: its picture pass (decoding and embedding), and
    /// then, apart, its listening. Past it the picture pass stops and the request gets TIMEOUT
    /// (nothing is stored), and listening stops leaving the video visual-only. The size and
    /// duration limits bound what a file may hold; this bounds what any video may cost in
    /// CPU. 0: no limit.
    #[arg(long, env = "MAX_INGEST_SECONDS", default_value_t = 900.0, value_name = "SECONDS",
          value_parser = super::ingest::non_negative_seconds)]
    pub max_ingest_seconds: f64,
    /// Cold requests that may wait for an ingest slot; beyond it requests get 503 with
    /// Retry-After.
    #[arg(long, env = "MAX_QUEUED_INGESTS", default_value_t = 8)]
    pub max_queued_ingests: usize,
    /// Seconds shutdown waits for requests in flight.
    #[arg(long, env = "SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace: u64,
    /// Open connections at most (lowered to leave file descriptors for the store); more
    /// clients wait in the listen backlog.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    #[arg(long, env = "HEADER_TIMEOUT_SECONDS", default_value_t = 10)]
    pub header_timeout: u64,
    /// Searches answered at once; more get 503 with Retry-After.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 512)]
    pub max_in_flight: usize,
    /// Seconds a client has to send a request's body (408 after it).
    #[arg(long, env = "BODY_TIMEOUT_SECONDS", default_value_t = 30)]
    pub body_timeout: u64,
    #[command(flatten)]
    pub audio: super::audio::AudioOpts,
}

/// Announces the axon at start-up, as the Python miner does; skipped when the chain already
/// holds the same ip and port.
async fn announce(
    chain: &dyn Chain,
    args: &MinerArgs,
    local_port: u16,
    dev: bool,
    out: &Output,
) -> Result<(), CliError> {
    if args.no_serve_axon {
        return Ok(());
    }
    if !args.wallet.has_hotkey() {
        if dev {
            tracing::warn!("no hotkey (wallet file or --hotkey-uri): the axon is not announced on the dev chain");
            return Ok(());
        }
        return Err(CliError::new(
            ErrorCode::InvalidRequest,
            format!(
                "no hotkey at {} (create one with `chronoseek wallet new`, or pass --no-serve-axon)",
                args.wallet.files().hotkey().display()
            ),
        ));
    }
    let key = args.wallet.hotkey().map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let ip = match (args.axon_ip, args.host.is_unspecified()) {
        (Some(ip), _) => ip,
        (None, false) => args.host,
        (None, true) if dev => IpAddr::from([127, 0, 0, 1]),
        (None, true) => {
            return Err(CliError::new(
                ErrorCode::InvalidRequest,
                "--host is 0.0.0.0: pass --axon-ip with the address validators can reach",
            ));
        }
    };
    let port = args.axon_port.unwrap_or(local_port);
    let outcome = chain.serve_axon(&key, ip, port).await.map_err(|e| {
        let e = CliError::from(e);
        CliError { message: format!("serve_axon: {}", e.message), ..e }
    })?;
    tracing::info!(hotkey = %key.ss58(), %ip, port, ?outcome, "axon announced");
    out.say(format!("axon {ip}:{port} for {} ({outcome:?})", key.ss58()));
    Ok(())
}

pub async fn run(g: &GlobalOpts, args: MinerArgs, out: &Output) -> Result<(), CliError> {
    let dev = matches!(args.chain.network(), Ok(Network::File(_)));
    let chain = args.chain.open().await?;
    chain.metagraph().await?;

    let model = Arc::new(ClipEmbedder::load(&g.model_source(), g.model_options()).await?);
    let store = Store::open(&g.store_uri()).await?;
    let mut fetch = g.pipeline.fetch_options();
    fetch.block_private_addresses = !args.allow_private_video_urls;
    // Whatever any flag says, a miner reads no local file for a caller.
    fetch.allow_local_files = false;
    let mut opts = g.pipeline.engine_options();
    opts.ingest.max_concurrent = args.max_concurrent_ingests.max(1);
    opts.ingest.max_time = ingest_budget(args.max_ingest_seconds);
    opts.ingest.max_queued = args.max_queued_ingests;
    // New videos are listened to at ingest; a stored video nobody listened to stays visual
    // until `chronoseek ingest --audio on` adds its transcript (never on the request path).
    opts.ingest.audio = args.audio.listener(g.device).await?;
    out.say(format!(
        "audio: {}",
        match &opts.ingest.audio {
            Some(l) => format!("new videos are transcribed with {}", l.name()),
            None => "off (visual only)".into(),
        }
    ));
    let engine = Arc::new(Engine::new(store, model.clone(), Fetcher::new(fetch)?, opts));
    let config = MinerConfig {
        min_validator_stake: args.min_validator_stake,
        max_body_bytes: args.max_body_bytes,
        request_timeout: Duration::from_secs(args.request_timeout.max(1)),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        max_in_flight: args.max_in_flight.max(1),
        limits: ServeLimits {
            max_connections: args.max_connections.max(1),
            header_timeout: Duration::from_secs(args.header_timeout.max(1)),
            body_timeout: Duration::from_secs(args.body_timeout.max(1)),
        },
        ..MinerConfig::default()
    };
    let state = MinerState::new(engine, chain.clone(), config);
    let addr = SocketAddr::new(args.host, args.port);
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| CliError::internal(format!("bind {addr}: {e}")))?;
    let local = listener.local_addr().map_err(CliError::internal)?;
    announce(chain.as_ref(), &args, local.port(), dev, out).await?;
    tracing::info!(%local, model = model.key(), netuid = args.chain.netuid, "miner listening");
    out.say(format!("miner listening on http://{local} (model {}, store {})", model.key(), g.store_uri()));
    out.json_line(&serde_json::json!({"listening": local.to_string(), "model": model.key()}));
    serve(state, listener, super::shutdown_signal()).await.map_err(CliError::internal)
}

/// `--max-ingest-seconds` as a budget: 0 is none, and so is a count past what a `Duration`
/// holds.
fn ingest_budget(seconds: f64) -> Option<Duration> {
    (seconds > 0.0).then(|| Duration::try_from_secs_f64(seconds).ok()).flatten()
}
