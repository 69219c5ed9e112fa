//! `chronoseek wallet new|show`: bittensor wallets the Python SDK reads.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::global::GlobalOpts;
use chronoseek::chain::wallet::{PASSWORD_ENV, WalletFiles, create_wallet, default_wallet_path, wallet_info};
use chronoseek::protocol::ErrorCode;

use super::{CliError, output::Output};

#[derive(Debug, Subcommand)]
pub enum WalletCommand {
    /// Create a wallet: a coldkey ($NACL-encrypted with a password from WALLET_PASSWORD or a
    /// prompt, unless --no-password) with coldkeypub.txt, and a plain hotkey with its pub file.
    /// An existing coldkey is kept; only the hotkey is added. Prints addresses, never secrets.
    New(NewArgs),
    /// Print a wallet's coldkey and hotkey addresses (nothing is decrypted).
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// Wallet name.
    #[arg(long, env = "WALLET_NAME", default_value = "default")]
    pub name: String,
    /// Hotkey name.
    #[arg(long, env = "HOTKEY_NAME", default_value = "default")]
    pub hotkey: String,
    /// Wallet folder (default ~/.bittensor/wallets).
    #[arg(long, env = "WALLET_PATH", value_name = "DIR")]
    pub wallet_path: Option<PathBuf>,
    /// Leave the coldkey unencrypted (development only).
    #[arg(long)]
    pub no_password: bool,
    /// Replace existing key files.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Wallet name.
    #[arg(long, env = "WALLET_NAME", default_value = "default")]
    pub name: String,
    /// Wallet folder (default ~/.bittensor/wallets).
    #[arg(long, env = "WALLET_PATH", value_name = "DIR")]
    pub wallet_path: Option<PathBuf>,
}

fn coldkey_password(no_password: bool) -> Result<Option<String>, CliError> {
    if no_password {
        return Ok(None);
    }
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(Some(p));
    }
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            ErrorCode::InvalidRequest,
            format!("the coldkey needs a password: set {PASSWORD_ENV}, run in a terminal, or pass --no-password"),
        ));
    }
    let a = rpassword::prompt_password("Coldkey password: ").map_err(CliError::internal)?;
    let b = rpassword::prompt_password("Repeat it: ").map_err(CliError::internal)?;
    if a != b {
        return Err(CliError::new(ErrorCode::InvalidRequest, "the passwords differ"));
    }
    Ok(Some(a))
}

fn files_note(path: &std::path::Path) -> String {
    format!("recovery phrase stored in {}; back that file up offline", path.display())
}

pub async fn run(_g: &GlobalOpts, cmd: WalletCommand, out: &Output) -> Result<(), CliError> {
    let bad = |e: chronoseek::chain::wallet::WalletError| CliError::new(ErrorCode::InvalidRequest, e.to_string());
    match cmd {
        WalletCommand::New(a) => {
            let root = a.wallet_path.clone().unwrap_or_else(default_wallet_path);
            let files = WalletFiles::new(&root, &a.name, &a.hotkey);
            let password =
                if files.coldkeypub().exists() && !a.overwrite { None } else { coldkey_password(a.no_password)? };
            let made = tokio::task::spawn_blocking(move || create_wallet(&files, password.as_deref(), a.overwrite))
                .await
                .map_err(CliError::internal)?
                .map_err(bad)?;
            let (hotkey, _) = &made.hotkey;
            out.json_line(&serde_json::json!({
                "wallet": root.join(&a.name).display().to_string(),
                "coldkey": made.coldkey.as_ref().map(|(k, _)| k.ss58()),
                "hotkey": hotkey.ss58(),
            }));
            // Secrets are never printed: the recovery phrases live in the key files themselves
            // (`secretPhrase`, the coldkey's encrypted), which are what to back up.
            if let Some((cold, _)) = &made.coldkey {
                out.say(format!("coldkey {}  ({})", cold.ss58(), files_note(&root.join(&a.name).join("coldkey"))));
            } else {
                out.say("coldkey kept (it exists already)");
            }
            out.say(format!(
                "hotkey  {} {}  ({})",
                a.hotkey,
                hotkey.ss58(),
                files_note(&WalletFiles::new(&root, &a.name, &a.hotkey).hotkey())
            ));
            Ok(())
        }
        WalletCommand::Show(a) => {
            let root = a.wallet_path.clone().unwrap_or_else(default_wallet_path);
            let info = wallet_info(&root, &a.name).map_err(bad)?;
            out.json_line(&info);
            out.say(format!("wallet {} ({})", info.name, info.path));
            out.say(format!("  coldkey  {}", info.coldkey.as_deref().unwrap_or("(no coldkeypub.txt)")));
            for h in &info.hotkeys {
                let enc = if h.encrypted { "  [encrypted]" } else { "" };
                out.say(format!("  hotkey   {:<16} {}{enc}", h.name, h.ss58.as_deref().unwrap_or("(unreadable)")));
            }
            Ok(())
        }
    }
}
