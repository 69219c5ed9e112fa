//! `chronoseek weights commit`: one timelocked commit by hand, to inspect what the validator
//! sends (payload, reveal block and round, ciphertext, call data) or to test a subnet's
//! commit-reveal without running the loop.

use clap::{Args, Subcommand};

use super::connect::{ChainOpts, WalletOpts};
use super::global::GlobalOpts;
use super::{CliError, output::Output};
use chronoseek::chain::commit_reveal::{MAX_COMMIT_BYTES, max_uids_per_commit};
use chronoseek::protocol::ErrorCode;

#[derive(Debug, Subcommand)]
pub enum WeightsCommand {
    /// Timelock-encrypt weights to the reveal round and commit them
    /// (`commit_timelocked_weights`), as the validator does each tempo on a subnet with
    /// commit-reveal on. Prints the payload, reveal block and round, ciphertext and call data.
    Commit(CommitArgs),
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    #[command(flatten)]
    pub chain: ChainOpts,
    #[command(flatten)]
    pub wallet: WalletOpts,
    /// Uids, comma-separated (e.g. 1,2).
    #[arg(long, value_delimiter = ',', required = true)]
    pub uids: Vec<u16>,
    /// Weights in uid order, comma-separated (non-negative; scaled to u16 like the SDK).
    #[arg(long, value_delimiter = ',', required = true)]
    pub weights: Vec<f64>,
    /// Encrypt to this drand round instead of the one the reveal block gives.
    #[arg(long, value_name = "ROUND")]
    pub reveal_round: Option<u64>,
    /// Prepare and print everything, send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(_g: &GlobalOpts, cmd: WeightsCommand, out: &Output) -> Result<(), CliError> {
    let WeightsCommand::Commit(a) = cmd;
    let bad = |m: String| CliError::new(ErrorCode::InvalidRequest, m);
    let key = a.wallet.hotkey().map_err(|e| bad(e.to_string()))?;
    let chain = a.chain.open().await?;
    let Some(commit) = chain.prepare_commit(key.public_key().0, &a.uids, &a.weights, a.reveal_round).await? else {
        out.json_line(&serde_json::json!({"sent": false, "reason": "every weight is 0: nothing to commit"}));
        out.say("every weight is 0: nothing to commit (the SDK sends nothing either)");
        return Ok(());
    };
    let call = chain.commit_call_data(&commit).await?;
    let enabled = chain.commit_reveal_enabled().await?;
    let block = if a.dry_run {
        None
    } else {
        if !enabled {
            return Err(bad(format!(
                "subnet {} has commit-reveal off: the chain would refuse the commit (use --dry-run to inspect it)",
                a.chain.netuid
            )));
        }
        Some(chain.submit_commit(&key, &commit).await?)
    };
    out.json_line(&serde_json::json!({
        "sent": block.is_some(),
        "block": block,
        "hotkey": key.ss58(),
        "commit_reveal_enabled": enabled,
        "commit": commit,
        "commit_bytes": commit.ciphertext.len(),
        "max_commit_bytes": MAX_COMMIT_BYTES,
        "max_uids": max_uids_per_commit(),
        "call_data": call.as_ref().map(hex::encode),
    }));
    out.say(format!("payload (SCALE)  0x{}", hex::encode(&commit.payload_scale)));
    out.say(format!(
        "  uids {:?} values {:?} version_key {}",
        commit.payload.uids, commit.payload.values, commit.payload.version_key
    ));
    out.say(format!("reveal block     {}", commit.reveal_block));
    out.say(format!("reveal round     {}", commit.reveal_round));
    out.say(format!(
        "ciphertext       {} bytes (limit {MAX_COMMIT_BYTES}; at most {} uids)",
        commit.ciphertext.len(),
        max_uids_per_commit()
    ));
    if let Some(call) = &call {
        out.say(format!("call data        0x{}", hex::encode(call)));
    }
    match block {
        Some(b) => out.say(format!("committed in block {b}; the chain reveals it at block {}", commit.reveal_block)),
        None => out.say("dry run: nothing sent"),
    }
    Ok(())
}
