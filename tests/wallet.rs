//! Bittensor hotkey files as the Python wallet writes them.

use std::os::unix::fs::PermissionsExt;

use chronoseek::chain::wallet::{WalletError, hotkey_path, load_hotkey};
use chronoseek::protocol::epistula::{Signer, ss58, verify_signature};
use subxt_signer::sr25519::Keypair;

fn write_hotkey(dir: &std::path::Path, seed: [u8; 32], address: Option<String>, mode: u32) -> std::path::PathBuf {
    let kp = Keypair::from_secret_key(seed).unwrap();
    let public = kp.public_key();
    let path = hotkey_path(dir, "default", "miner1");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = serde_json::json!({
        "accountId": format!("0x{}", hex::encode(public.0)),
        "publicKey": format!("0x{}", hex::encode(public.0)),
        "secretPhrase": null,
        "secretSeed": format!("0x{}", hex::encode(seed)),
        "ss58Address": address.unwrap_or_else(|| ss58(&public)),
    });
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn loads_a_python_wallet_hotkey_and_signs_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_hotkey(dir.path(), [7u8; 32], None, 0o600);
    let signer = Signer::new(load_hotkey(&path, false).unwrap());
    let h = signer.sign(br#"{"query": "q"}"#).unwrap();
    assert!(verify_signature(&h, br#"{"query":"q"}"#).is_ok());
    assert_eq!(h.hotkey, ss58(&Keypair::from_secret_key([7u8; 32]).unwrap().public_key()));
}

#[test]
fn refuses_loose_permissions_encryption_and_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_hotkey(dir.path(), [7u8; 32], None, 0o644);
    assert!(matches!(load_hotkey(&path, false), Err(WalletError::Permissions(_))));
    assert!(load_hotkey(&path, true).is_ok(), "--insecure-permissions accepts it");

    let path = write_hotkey(dir.path(), [7u8; 32], Some(Signer::from_uri("//Bob").unwrap().hotkey()), 0o600);
    let e = load_hotkey(&path, false).unwrap_err();
    assert!(e.to_string().contains("ss58Address"), "{e}");

    std::fs::write(&path, b"$NACL\x00\x01encrypted").unwrap();
    assert!(matches!(load_hotkey(&path, false), Err(WalletError::Encrypted(_))));
    assert!(load_hotkey(&dir.path().join("missing"), false).is_err());
}
