//! `chronoseek query`: call a miner the way a validator does (signed with Epistula), to test an
//! endpoint.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::connect::WalletOpts;
use super::global::GlobalOpts;
use chronoseek::protocol::epistula::Signer;
use chronoseek::protocol::{ErrorCode, TopK, VideoSearchRequest, VideoUrl};
use chronoseek::validator::client::{MinerCallError, MinerClient};

use super::{CliError, output::Output};

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The miner's base URL, e.g. http://1.2.3.4:8000.
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// Video URL the miner should search.
    #[arg(long, value_name = "URL")]
    pub video_url: String,
    /// The query sentence.
    #[arg(long, value_name = "TEXT")]
    pub query: String,
    /// Number of intervals (1 to 20).
    #[arg(long, default_value_t = 5)]
    pub top_k: u32,
    /// Request id to send (default: a random opaque id).
    #[arg(long)]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub wallet: WalletOpts,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 150)]
    pub timeout: u64,
}

pub async fn run(_g: &GlobalOpts, args: QueryArgs, out: &Output) -> Result<(), CliError> {
    let top_k = TopK::new(args.top_k).ok_or_else(|| {
        CliError::new(ErrorCode::InvalidRequest, format!("--top-k must be 1..=20, got {}", args.top_k))
    })?;
    let signer =
        Signer::new(args.wallet.hotkey().map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?);
    let url = VideoUrl::parse(&args.video_url).map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?;
    let mut req = VideoSearchRequest::new(url, &args.query, top_k);
    req.request_id = Some(args.request_id.clone().unwrap_or_else(chronoseek::ingest::unique_id));
    let signer = Arc::new(signer);
    let client = MinerClient::new(signer.clone()).map_err(CliError::internal)?;
    let answer = client.search(&args.endpoint, &req, Duration::from_secs(args.timeout)).await.map_err(|e| {
        let code = match &e {
            MinerCallError::Transport { .. } => ErrorCode::VideoFetchFailed,
            other => other.code(),
        };
        CliError::new(code, e.to_string())
    })?;
    if out.json {
        out.json_line(&answer.response);
    } else {
        out.say(format!(
            "answer from {} in {:.0} ms, signed as {} (request {})",
            args.endpoint,
            answer.latency.as_secs_f64() * 1000.0,
            signer.hotkey(),
            req.request_id.unwrap_or_default()
        ));
        for (i, r) in answer.response.results.iter().enumerate() {
            out.say(format!("{:>3}. {:>8.2}s - {:>8.2}s  confidence {:.4}", i + 1, r.start, r.end, r.confidence));
        }
    }
    Ok(())
}
