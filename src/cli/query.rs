//! `chronoseek query`: call a miner the way a validator does (signed with Epistula), to test an
//! endpoint.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use chronoseek::chain::wallet::{default_wallet_path, hotkey_path, load_hotkey};
use chronoseek::config::GlobalOpts;
use chronoseek::protocol::epistula::{HEADER_HOTKEY, HEADER_SIGNATURE, HEADER_TIMESTAMP, Signer};
use chronoseek::protocol::{ErrorCode, ProtocolError, TopK, VideoSearchRequest, VideoSearchResponse};

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
    /// Wallet name (the signing hotkey is WALLET_PATH/WALLET_NAME/hotkeys/HOTKEY_NAME).
    #[arg(long, env = "WALLET_NAME", default_value = "default")]
    pub wallet_name: String,
    /// Hotkey name.
    #[arg(long, env = "HOTKEY_NAME", default_value = "default")]
    pub wallet_hotkey: String,
    /// Wallet folder (default ~/.bittensor/wallets).
    #[arg(long, env = "WALLET_PATH")]
    pub wallet_path: Option<PathBuf>,
    /// Sign with a secret URI instead of a wallet file (development keys such as //Alice).
    #[arg(long, env = "CHRONOSEEK_HOTKEY_URI", value_name = "URI")]
    pub hotkey_uri: Option<String>,
    /// Accept hotkey files readable by others.
    #[arg(long)]
    pub insecure_permissions: bool,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 150)]
    pub timeout: u64,
}

pub async fn run(_g: &GlobalOpts, args: QueryArgs, out: &Output) -> Result<(), CliError> {
    let top_k = TopK::new(args.top_k).ok_or_else(|| {
        CliError::new(ErrorCode::InvalidRequest, format!("--top-k must be 1..=20, got {}", args.top_k))
    })?;
    let signer = match &args.hotkey_uri {
        Some(uri) => Signer::from_uri(uri).map_err(|e| CliError::new(ErrorCode::InvalidRequest, e))?,
        None => {
            let path = hotkey_path(
                &args.wallet_path.clone().unwrap_or_else(default_wallet_path),
                &args.wallet_name,
                &args.wallet_hotkey,
            );
            Signer::new(
                load_hotkey(&path, args.insecure_permissions)
                    .map_err(|e| CliError::new(ErrorCode::InvalidRequest, e.to_string()))?,
            )
        }
    };
    let mut req = VideoSearchRequest::new(&args.video_url, &args.query, top_k);
    req.request_id = Some(args.request_id.clone().unwrap_or_else(chronoseek::ingest::unique_id));
    let body = serde_json::to_vec(&req).map_err(CliError::internal)?;
    let h = signer.sign(&body).map_err(CliError::internal)?;
    let url = format!("{}/search", args.endpoint.trim_end_matches('/'));
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(args.timeout)).build().map_err(CliError::internal)?;
    let resp = client
        .post(&url)
        .header("content-type", "application/json")
        .header(HEADER_TIMESTAMP, &h.timestamp_ms)
        .header(HEADER_SIGNATURE, &h.signature)
        .header(HEADER_HOTKEY, &h.hotkey)
        .body(body)
        .send()
        .await
        .map_err(|e| CliError::new(ErrorCode::VideoFetchFailed, format!("{url}: {e}")))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| CliError::internal(format!("{url}: {e}")))?;
    if status.is_success() {
        let parsed: VideoSearchResponse = serde_json::from_str(&text)
            .map_err(|e| CliError::internal(format!("the miner's answer is not a VideoSearchResponse: {e}: {text}")))?;
        if out.json {
            println!("{text}");
        } else {
            out.say(format!(
                "{status} from {url} as {} (request {})",
                signer.hotkey(),
                req.request_id.unwrap_or_default()
            ));
            for (i, r) in parsed.results.iter().enumerate() {
                out.say(format!("{:>3}. {:>8.2}s - {:>8.2}s  confidence {:.4}", i + 1, r.start, r.end, r.confidence));
            }
        }
        return Ok(());
    }
    match serde_json::from_str::<ProtocolError>(&text) {
        Ok(e) => Err(CliError::new(e.error.code, format!("{status}: {}", e.error.message))),
        Err(_) => Err(CliError::internal(format!("{status} from {url}: {text}"))),
    }
}
