//! Flags every chain-using command shares (`NETWORK`, `NETUID`, the dev-chain file, the
//! wallet), and turning them into a [`Chain`] and a signing key.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use chronoseek::chain::wallet::{Password, WalletError, WalletFiles, default_wallet_path, load_key};
use chronoseek::chain::{Chain, ChainError, Network, NetworkError, default_chain_file};
use chronoseek::protocol::Sr25519Key;

#[derive(Debug, Clone, Args)]
pub struct ChainOpts {
    /// Chain: finney, test, local (a subtensor node at ws://127.0.0.1:9944), a ws:// or wss://
    /// URL, dev (the file-backed development chain at --chain-file), or file:PATH.
    #[arg(long, env = "NETWORK", default_value = "dev", value_name = "NETWORK")]
    pub network: String,
    /// Subnet id. On the dev chain the file names its subnet; this must match it.
    #[arg(long, env = "NETUID", default_value_t = 1)]
    pub netuid: u16,
    /// The dev chain's file (created by `chronoseek chain init-local`). Default:
    /// <data dir>/chronoseek/chain.json.
    #[arg(long, env = "CHRONOSEEK_CHAIN_FILE", alias = "metagraph-file", value_name = "FILE")]
    pub chain_file: Option<PathBuf>,
}

impl ChainOpts {
    pub fn network(&self) -> Result<Network, NetworkError> {
        Network::parse(&self.network, &self.chain_file.clone().unwrap_or_else(default_chain_file))
    }

    /// Connects (subtensor) or opens (dev chain), checking the subnet id.
    pub async fn open(&self) -> Result<Arc<dyn Chain>, ChainError> {
        chronoseek::chain::open(&self.network()?, self.netuid).await
    }
}

#[derive(Debug, Clone, Args)]
pub struct WalletOpts {
    /// Wallet name (the hotkey is WALLET_PATH/WALLET_NAME/hotkeys/HOTKEY_NAME).
    #[arg(long, env = "WALLET_NAME", default_value = "default")]
    pub wallet_name: String,
    /// Hotkey name.
    #[arg(long, env = "HOTKEY_NAME", default_value = "default")]
    pub wallet_hotkey: String,
    /// Wallet folder (default ~/.bittensor/wallets).
    #[arg(long, env = "WALLET_PATH", value_name = "DIR")]
    pub wallet_path: Option<PathBuf>,
    /// Use a secret URI instead of a wallet file (development keys such as //Alice).
    #[arg(long, env = "CHRONOSEEK_HOTKEY_URI", value_name = "URI")]
    pub hotkey_uri: Option<String>,
    /// Accept key files readable by others.
    #[arg(long)]
    pub insecure_permissions: bool,
}

impl WalletOpts {
    pub fn wallet_path(&self) -> PathBuf {
        self.wallet_path.clone().unwrap_or_else(default_wallet_path)
    }

    pub fn files(&self) -> WalletFiles {
        WalletFiles::new(&self.wallet_path(), &self.wallet_name, &self.wallet_hotkey)
    }

    /// The hotkey: from --hotkey-uri, else the wallet file (decrypted with WALLET_PASSWORD or
    /// a prompt when it is `$NACL`).
    pub fn hotkey(&self) -> Result<Sr25519Key, WalletError> {
        if let Some(uri) = &self.hotkey_uri {
            return Sr25519Key::from_uri(uri)
                .map_err(|source| WalletError::Key { path: "--hotkey-uri".into(), source });
        }
        load_key(
            &self.files().hotkey(),
            &Password::Env { env: process_env, prompt: Some(terminal_prompt) },
            self.insecure_permissions,
        )
    }

    /// Whether a hotkey is configured at all (a URI, or a wallet file that exists).
    pub fn has_hotkey(&self) -> bool {
        self.hotkey_uri.is_some() || self.files().hotkey().exists()
    }
}

/// Asks on the terminal, when there is one.
fn terminal_prompt(path: &std::path::Path) -> Option<String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password(format!("Password for {}: ", path.display())).ok()
}

/// The process environment, for the wallet's password variables.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}
