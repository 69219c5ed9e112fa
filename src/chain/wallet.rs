//! Bittensor wallet files: `{WALLET_PATH}/{WALLET_NAME}/hotkeys/{HOTKEY_NAME}`, JSON written by
//! the Python wallet (`secretSeed`, `ss58Address`, ...).

use std::path::{Path, PathBuf};

use subxt_signer::sr25519::Keypair;

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error(
        "{0}: the hotkey file is encrypted ($NACL); encrypted hotkeys are not supported yet, use an unencrypted hotkey"
    )]
    Encrypted(String),
    #[error("{0}: permissions are wider than 0600; fix them (chmod 600) or pass --insecure-permissions")]
    Permissions(String),
}

/// `~/.bittensor/wallets` unless WALLET_PATH says otherwise.
pub fn default_wallet_path() -> PathBuf {
    dirs::home_dir().unwrap_or_default().join(".bittensor").join("wallets")
}

pub fn hotkey_path(wallet_path: &Path, wallet_name: &str, hotkey_name: &str) -> PathBuf {
    wallet_path.join(wallet_name).join("hotkeys").join(hotkey_name)
}

#[derive(serde::Deserialize)]
struct HotkeyFile {
    #[serde(rename = "secretSeed")]
    secret_seed: String,
    #[serde(rename = "ss58Address", default)]
    ss58_address: Option<String>,
}

/// Loads a hotkey keypair, checking the file's permissions and that the seed matches the
/// address stored beside it.
pub fn load_hotkey(path: &Path, insecure_permissions: bool) -> Result<Keypair, WalletError> {
    let p = path.display().to_string();
    let err = |message: String| WalletError::File { path: p.clone(), message };
    #[cfg(unix)]
    if !insecure_permissions {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map_err(|e| err(e.to_string()))?.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(WalletError::Permissions(p));
        }
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if bytes.starts_with(b"$NACL") {
        return Err(WalletError::Encrypted(p));
    }
    let file: HotkeyFile = serde_json::from_slice(&bytes).map_err(|e| err(format!("not a hotkey file: {e}")))?;
    let mut seed = [0u8; 32];
    hex::decode_to_slice(file.secret_seed.trim_start_matches("0x"), &mut seed)
        .map_err(|_| err("secretSeed is not 32 hex bytes".into()))?;
    let keypair = Keypair::from_secret_key(seed).map_err(|e| err(format!("bad secretSeed: {e}")))?;
    let derived = crate::protocol::epistula::ss58(&keypair.public_key());
    if let Some(addr) = file.ss58_address
        && addr != derived
    {
        return Err(err(format!("secretSeed gives {derived}, but the file says ss58Address {addr}")));
    }
    Ok(keypair)
}
