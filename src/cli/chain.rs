//! `chronoseek chain init-local|show|check-metadata`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::connect::ChainOpts;
use super::global::GlobalOpts;
use chronoseek::chain::subtensor::{calls, offline_client};
use chronoseek::chain::{Axon, LocalChain, LocalChainFile, Metagraph, Network, Neuron};
use chronoseek::protocol::epistula::parse_hotkey;
use chronoseek::protocol::{ErrorCode, Sr25519Key, keys::ss58};

use super::{CliError, output::Output};

#[derive(Debug, Subcommand)]
pub enum ChainCommand {
    /// Create a dev chain: one validator (uid 0, staked) and N miners on 127.0.0.1, a block
    /// clock, and an empty weights log, for a whole subnet on one machine.
    InitLocal(InitLocalArgs),
    /// Print the subnet's metagraph, block and tempo (any NETWORK).
    Show(ShowArgs),
    /// Check a runtime metadata file (SCALE, V14-V16) offline: every storage item and call this
    /// build uses must exist with the shape it expects; prints sample encodings.
    CheckMetadata(CheckMetadataArgs),
}

#[derive(Debug, Args)]
pub struct InitLocalArgs {
    #[command(flatten)]
    pub chain: ChainOpts,
    /// Number of miners (uids 1..=N).
    #[arg(long, default_value_t = 2)]
    pub miners: u16,
    /// Port of miner 1; miner i listens on base + i - 1.
    #[arg(long, default_value_t = 8001)]
    pub miner_base_port: u16,
    /// Address the miners' axons announce.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The validator's hotkey: an SS58 address or a secret URI (default //chronoseek-validator).
    #[arg(long, default_value = "//chronoseek-validator")]
    pub validator_hotkey: String,
    /// Miner hotkeys in uid order (SS58 or secret URIs); missing ones are //chronoseek-miner-<i>.
    #[arg(long = "miner-hotkey", value_name = "KEY")]
    pub miner_hotkeys: Vec<String>,
    /// The validator's stake in TAO (miners refuse callers below MIN_VALIDATOR_STAKE).
    #[arg(long, default_value_t = 20_000.0)]
    pub validator_stake: f64,
    /// Blocks between weight settings.
    #[arg(long, default_value_t = 10)]
    pub tempo: u64,
    /// Seconds per block.
    #[arg(long, default_value_t = 12.0)]
    pub block_seconds: f64,
    /// Replace an existing chain file (its weights log is kept).
    #[arg(long)]
    pub overwrite: bool,
    /// Commit-reveal weights, like subtensor today: `set_weights` is refused, timelocked
    /// commits are opened by the dev chain's own beacon at the reveal block.
    #[arg(long)]
    pub commit_reveal: bool,
    /// Epochs between a commit and its reveal (RevealPeriodEpochs).
    #[arg(long, default_value_t = 1, requires = "commit_reveal")]
    pub reveal_period_epochs: u64,
    /// Milliseconds between the dev beacon's rounds (quicknet: 3000).
    #[arg(long, default_value_t = 3000, requires = "commit_reveal", value_parser = clap::value_parser!(u64).range(1..))]
    pub beacon_period_ms: u64,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub chain: ChainOpts,
    /// List only this hotkey's pending commits (SS58).
    #[arg(long, value_name = "SS58")]
    pub hotkey: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckMetadataArgs {
    /// The metadata file (e.g. ../shared/chain/subtensor_spec393_metadata_v16.scale).
    pub file: PathBuf,
    /// The runtime's spec version (only labels the offline client).
    #[arg(long, default_value_t = 0)]
    pub spec_version: u32,
}

fn hotkey_address(s: &str) -> Result<String, CliError> {
    if parse_hotkey(s).is_ok() {
        return Ok(s.to_string());
    }
    Sr25519Key::from_uri(s).map(|k| k.ss58()).map_err(|e| {
        CliError::new(ErrorCode::InvalidRequest, format!("{s:?} is neither an SS58 address nor a secret URI: {e}"))
    })
}

pub async fn run(_g: &GlobalOpts, cmd: ChainCommand, out: &Output) -> Result<(), CliError> {
    let bad = |m: String| CliError::new(ErrorCode::InvalidRequest, m);
    match cmd {
        ChainCommand::InitLocal(a) => {
            let Network::File(path) = a.chain.network().map_err(|e| bad(e.to_string()))? else {
                return Err(bad("init-local writes a dev chain: use --network dev or file:PATH".into()));
            };
            if path.exists() && !a.overwrite {
                return Err(bad(format!("{} exists (pass --overwrite to replace it)", path.display())));
            }
            let mut neurons = vec![Neuron {
                uid: 0,
                hotkey: hotkey_address(&a.validator_hotkey)?,
                coldkey: String::new(),
                stake: a.validator_stake,
                axon: None,
                incentive: 0.0,
                validator_permit: true,
                last_update: 0,
            }];
            for i in 1..=a.miners {
                let key = a
                    .miner_hotkeys
                    .get(usize::from(i - 1))
                    .cloned()
                    .unwrap_or_else(|| format!("//chronoseek-miner-{i}"));
                let port = a.miner_base_port.checked_add(i - 1).ok_or_else(|| bad("miner ports overflow".into()))?;
                neurons.push(Neuron {
                    uid: i,
                    hotkey: hotkey_address(&key)?,
                    coldkey: String::new(),
                    stake: 0.0,
                    axon: Some(Axon { ip: a.host, port }),
                    incentive: 0.0,
                    validator_permit: false,
                    last_update: 0,
                });
            }
            let mut file = LocalChainFile::new(Metagraph { netuid: a.chain.netuid, block: 0, neurons });
            file.tempo = a.tempo;
            file.block_seconds = a.block_seconds;
            if a.commit_reveal {
                file.enable_commit_reveal(a.reveal_period_epochs, a.beacon_period_ms);
            }
            LocalChain::create(&path, &file).map_err(CliError::internal)?;
            out.json_line(&file);
            out.say(format!("dev chain for subnet {} written to {}", a.chain.netuid, path.display()));
            if let Some(cr) = &file.commit_reveal {
                out.say(format!(
                    "  commit-reveal on: reveal after {} epoch(s), beacon round every {} ms",
                    cr.reveal_period_epochs, cr.beacon.period_ms
                ));
            }
            for n in &file.metagraph.neurons {
                let role = if n.uid == 0 { "validator".to_string() } else { format!("miner {}", n.uid) };
                let axon = n.axon.map(|x| format!(" axon {}:{}", x.ip, x.port)).unwrap_or_default();
                out.say(format!("  uid {:<3} {:<10} {}{axon}", n.uid, role, n.hotkey));
            }
            Ok(())
        }
        ChainCommand::Show(a) => {
            let chain = a.chain.open().await?;
            let m = chain.metagraph().await?;
            let tempo = chain.tempo().await?;
            let commit_reveal = chain.commit_reveal_enabled().await?;
            // Runtimes without timelocked commits have none to list.
            let pending = match commit_reveal {
                false => Vec::new(),
                true => match chain.pending_commits().await {
                    Ok(p) => p,
                    // An older runtime (hash commits, no timelocked ones): nothing of ours to list.
                    Err(e @ chronoseek::chain::ChainError::Shape { .. }) => {
                        tracing::warn!(error = %e, "this runtime has no timelocked commits to list");
                        Vec::new()
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            let pending: Vec<_> =
                pending.into_iter().filter(|c| a.hotkey.as_ref().is_none_or(|h| *h == c.hotkey)).collect();
            out.json_line(&serde_json::json!({
                "metagraph": m, "tempo": tempo, "commit_reveal": commit_reveal, "pending_commits": pending,
            }));
            out.say(format!(
                "subnet {} at block {} (tempo {tempo}, commit-reveal {}), {} neurons",
                m.netuid,
                m.block,
                if commit_reveal { "on" } else { "off" },
                m.neurons.len()
            ));
            for n in &m.neurons {
                let axon = n.axon.map(|x| format!("{}:{}", x.ip, x.port)).unwrap_or_else(|| "-".into());
                out.say(format!(
                    "  uid {:<4} {} stake {:>12.3} incentive {:.4} {}{}",
                    n.uid,
                    n.hotkey,
                    n.stake,
                    n.incentive,
                    axon,
                    if n.validator_permit { " [validator]" } else { "" }
                ));
            }
            if commit_reveal {
                out.say(format!("pending commits: {}", pending.len()));
                for c in &pending {
                    let when = match (c.reveal_block, c.epoch) {
                        (Some(b), _) => format!("reveal block {b}"),
                        (None, Some(e)) => format!("epoch {e}"),
                        (None, None) => String::new(),
                    };
                    out.say(format!(
                        "  {} committed at block {} for round {} ({when}, {} bytes)",
                        c.hotkey, c.commit_block, c.reveal_round, c.commit_bytes
                    ));
                }
            }
            Ok(())
        }
        ChainCommand::CheckMetadata(a) => {
            let bytes = std::fs::read(&a.file).map_err(|e| bad(format!("{}: {e}", a.file.display())))?;
            let at = offline_client(&bytes, a.spec_version).map_err(|e| bad(e.to_string()))?;
            calls::check_metadata(at.metadata_ref()).map_err(|e| bad(e.to_string()))?;
            let set =
                at.tx().call_data(&calls::set_weights(1, &[0, 1], &[65535, 32768], 0)).map_err(CliError::internal)?;
            let serve = at
                .tx()
                .call_data(&calls::serve_axon(1, "127.0.0.1".parse().map_err(CliError::internal)?, 8000))
                .map_err(CliError::internal)?;
            let alice = Sr25519Key::from_uri("//Alice").map_err(CliError::internal)?;
            let key = at
                .storage()
                .entry(calls::storage::axons())
                .and_then(|e| e.fetch_key((1u16, subxt::utils::AccountId32(alice.public_key().0))))
                .map_err(CliError::internal)?;
            out.json_line(&serde_json::json!({
                "ok": true,
                "set_weights": hex::encode(&set),
                "serve_axon": hex::encode(&serve),
                "axons_key_alice_netuid1": hex::encode(&key),
            }));
            out.say(format!("{}: every item and call this build uses is present", a.file.display()));
            out.say(format!("  set_weights(1, [0,1], [65535,32768], 0) = 0x{}", hex::encode(&set)));
            out.say(format!("  serve_axon(1, 127.0.0.1, 8000)          = 0x{}", hex::encode(&serve)));
            out.say(format!("  Axons(1, {}) key = 0x{}", ss58(&alice.public_key()), hex::encode(&key)));
            Ok(())
        }
    }
}
