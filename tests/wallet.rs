//! Bittensor wallet files: the ones the Python `bittensor-wallet` package wrote
//! (`data/fixtures/wallets/`, made by `scripts/wallet-fixture/make_fixture.py`), and the ones
//! `chronoseek wallet new` writes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use chronoseek::chain::wallet::{
    Password, WalletError, WalletFiles, decrypt_nacl, encrypt_nacl, hotkey_path, keyfile_json, load_hotkey, load_key,
    parse_keyfile, python_password_env_name, wallet_info,
};
use chronoseek::protocol::Sr25519Key;
use chronoseek::protocol::epistula::{Signer, ss58, verify_signature};
use subxt_signer::sr25519::Keypair;

const PASSWORD: &str = "chronoseek-test-password";

fn expected() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(common::root().join("data/fixtures/wallets/expected.json")).unwrap()).unwrap()
}

/// Git does not keep 0600: copy the fixture into a temp dir with the modes the package sets.
fn fixture_wallets(dir: &Path) -> PathBuf {
    let root = dir.join("wallets");
    for rel in [
        "fixture/coldkey",
        "fixture/coldkeypub.txt",
        "fixture/hotkeys/miner",
        "fixture/hotkeys/minerpub.txt",
        "fixture/hotkeys/validator",
        "fixture/hotkeys/validatorpub.txt",
    ] {
        let to = root.join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(common::root().join(format!("data/fixtures/wallets/{rel}")), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    root
}

fn write_hotkey(dir: &Path, seed: [u8; 32], address: Option<String>, mode: u32) -> PathBuf {
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
fn loads_every_kind_of_python_hotkey_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture_wallets(dir.path());
    let e = expected();
    // From a phrase (secretPhrase wins over the other fields).
    let miner = load_key(&WalletFiles::new(&root, "fixture", "miner").hotkey(), &Password::None, false).unwrap();
    assert_eq!(miner.ss58(), e["keys"]["hotkey_miner"]["ss58Address"].as_str().unwrap());
    assert_eq!(
        format!("0x{}", hex::encode(miner.seed().unwrap())),
        e["keys"]["hotkey_miner"]["secretSeed"].as_str().unwrap()
    );
    assert_eq!(
        format!("0x{}", hex::encode(miner.secret_bytes())),
        e["keys"]["hotkey_miner"]["privateKey"].as_str().unwrap()
    );
    // A URI-derived key holds only privateKey (schnorrkel's 64 bytes).
    let validator =
        load_key(&WalletFiles::new(&root, "fixture", "validator").hotkey(), &Password::None, false).unwrap();
    assert_eq!(validator.ss58(), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    assert_eq!(validator.ss58(), Sr25519Key::from_uri("//Alice").unwrap().ss58());
    // It signs requests a verifier accepts.
    let h = Signer::new(validator).sign(br#"{"query": "q"}"#).unwrap();
    assert!(verify_signature(&h, br#"{"query":"q"}"#).is_ok());
    // Without the seed or phrase, from privateKey alone, the miner key is the same key.
    let plain = e["keys"]["hotkey_miner"]["plaintext_json"].as_str().unwrap();
    let mut v: serde_json::Value = serde_json::from_str(plain).unwrap();
    v.as_object_mut().unwrap().retain(|k, _| k == "privateKey" || k == "ss58Address");
    assert_eq!(parse_keyfile(Path::new("x"), v.to_string().as_bytes()).unwrap().ss58(), miner_ss58(&e));
    // Only an address: cannot sign.
    let pubfile = std::fs::read(WalletFiles::new(&root, "fixture", "miner").hotkeypub()).unwrap();
    assert!(matches!(parse_keyfile(Path::new("x"), &pubfile), Err(WalletError::NoSecret(_))));
}

fn miner_ss58(e: &serde_json::Value) -> String {
    e["keys"]["hotkey_miner"]["ss58Address"].as_str().unwrap().to_string()
}

#[test]
fn env_passwords_are_read_only_through_the_lookup_the_caller_passes() {
    // The library never reads the process environment: WALLET_PASSWORD and the Python
    // package's BT_PW_<path> variable come through the caller's lookup.
    let dir = tempfile::tempdir().unwrap();
    let root = fixture_wallets(dir.path());
    let cold = WalletFiles::new(&root, "fixture", "x").coldkey();
    fn wallet_password(name: &str) -> Option<String> {
        (name == "WALLET_PASSWORD").then(|| PASSWORD.to_string())
    }
    fn nothing(_: &str) -> Option<String> {
        None
    }
    let key = load_key(&cold, &Password::Env { env: wallet_password, prompt: None }, false).unwrap();
    assert_eq!(key.ss58(), expected()["keys"]["coldkey"]["ss58Address"].as_str().unwrap());
    assert!(matches!(
        load_key(&cold, &Password::Env { env: nothing, prompt: None }, false),
        Err(WalletError::NoPassword(_))
    ));
}

#[test]
fn decrypts_python_nacl_files_and_refuses_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture_wallets(dir.path());
    let e = expected();
    let cold =
        load_key(&WalletFiles::new(&root, "fixture", "x").coldkey(), &Password::Given(PASSWORD.into()), false).unwrap();
    assert_eq!(cold.ss58(), e["keys"]["coldkey"]["ss58Address"].as_str().unwrap());
    let nacl = std::fs::read(common::root().join("data/fixtures/wallets/hotkey_miner.nacl")).unwrap();
    let plain = decrypt_nacl(&nacl, PASSWORD).unwrap().expect("right password");
    assert_eq!(parse_keyfile(Path::new("x"), &plain).unwrap().ss58(), miner_ss58(&e));
    assert_eq!(decrypt_nacl(&nacl, "wrong").unwrap(), None);
    assert!(matches!(
        load_key(&WalletFiles::new(&root, "fixture", "x").coldkey(), &Password::None, false),
        Err(WalletError::NoPassword(_))
    ));
    // What we encrypt, we (and so the package, with the same KDF and box) decrypt.
    let sealed = encrypt_nacl(b"{\"secretSeed\":\"0x01\"}", "pw").unwrap();
    assert!(sealed.starts_with(b"$NACL") && sealed.len() == 5 + 24 + 16 + 21);
    assert_eq!(decrypt_nacl(&sealed, "pw").unwrap().as_deref(), Some(&b"{\"secretSeed\":\"0x01\"}"[..]));
    assert_eq!(
        python_password_env_name(Path::new("/root/.bittensor/wallets/default/coldkey")),
        "BT_PW__ROOT__BITTENSOR_WALLETS_DEFAULT_COLDKEY"
    );
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
fn refuses_loose_permissions_mismatches_and_unknown_encryption() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_hotkey(dir.path(), [7u8; 32], None, 0o644);
    assert!(matches!(load_hotkey(&path, false), Err(WalletError::Permissions(_))));
    assert!(load_hotkey(&path, true).is_ok(), "--insecure-permissions accepts it");

    let path = write_hotkey(dir.path(), [7u8; 32], Some(Signer::from_uri("//Bob").unwrap().hotkey()), 0o600);
    let e = load_hotkey(&path, false).unwrap_err();
    let bob = Signer::from_uri("//Bob").unwrap().hotkey();
    assert!(matches!(&e, WalletError::AddressMismatch { stated, .. } if *stated == bob), "{e}");
    assert!(e.to_string().contains("ss58Address"), "{e}");
    // A secret that is not one: the field is named, nothing is loaded.
    let short = parse_keyfile(Path::new("x"), br#"{"privateKey": "0x1234"}"#).unwrap_err();
    assert!(matches!(short, WalletError::PrivateKeyLength { len: 2, .. }), "{short}");
    for (file, field) in [
        (serde_json::json!({"privateKey": "zz"}), "privateKey"),
        (serde_json::json!({"secretSeed": "0x12"}), "secretSeed"),
    ] {
        let e = parse_keyfile(Path::new("x"), file.to_string().as_bytes()).unwrap_err();
        assert!(matches!(&e, WalletError::Field { field: f, .. } if *f == field), "{file}: {e}");
    }
    let e = parse_keyfile(Path::new("x"), b"not json").unwrap_err();
    assert!(matches!(&e, WalletError::NotKeyFile { .. }) && std::error::Error::source(&e).is_some(), "{e}");

    std::fs::write(&path, b"$ANSIBLE_VAULT;1.1;AES256\n6162").unwrap();
    assert!(matches!(load_hotkey(&path, false), Err(WalletError::UnsupportedEncryption { .. })));
    std::fs::write(&path, b"$NACL\x00\x01short").unwrap();
    assert!(matches!(load_key(&path, &Password::None, false), Err(WalletError::NoPassword(_))));
    assert!(load_hotkey(&dir.path().join("missing"), false).is_err());
}

#[test]
fn wallet_new_writes_files_the_loader_and_show_read_and_never_prints_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["--json", "wallet", "new", "--name", "w1", "--hotkey", "h1", "--wallet-path"])
        .arg(dir.path())
        .env("WALLET_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = WalletFiles::new(dir.path(), "w1", "h1");
    for f in [files.coldkey(), files.coldkeypub(), files.hotkey(), files.hotkeypub()] {
        assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600, "{}", f.display());
    }
    assert!(std::fs::read(files.coldkey()).unwrap().starts_with(b"$NACL"), "the coldkey is encrypted");
    let hot = load_key(&files.hotkey(), &Password::None, false).unwrap();
    assert_eq!(made["hotkey"].as_str(), Some(hot.ss58().as_str()));
    let cold = load_key(&files.coldkey(), &Password::Given(PASSWORD.into()), false).unwrap();
    assert_eq!(made["coldkey"].as_str(), Some(cold.ss58().as_str()));
    // The written JSON has the package's fields and re-parses to the same key.
    let text = std::fs::read_to_string(files.hotkey()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    for k in ["accountId", "publicKey", "privateKey", "secretPhrase", "secretSeed", "ss58Address", "cryptoType"] {
        assert!(v.get(k).is_some(), "{k} in {text}");
    }
    assert_eq!(keyfile_json(&hot, v["secretPhrase"].as_str()).len(), text.len());
    // No secret on stdout (JSON) or stderr; the human output shows the phrases once, by design.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains(v["secretPhrase"].as_str().unwrap()) && !stdout.contains(v["secretSeed"].as_str().unwrap())
    );

    // A second hotkey keeps the coldkey; the human output names addresses, not secrets.
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["wallet", "new", "--name", "w1", "--hotkey", "h2", "--wallet-path"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let h2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(WalletFiles::new(dir.path(), "w1", "h2").hotkey()).unwrap()).unwrap();
    let human = String::from_utf8_lossy(&out.stdout);
    assert!(human.contains(h2["ss58Address"].as_str().unwrap()), "{human}");
    assert!(!human.contains(h2["secretPhrase"].as_str().unwrap()), "{human}");
    let info = wallet_info(dir.path(), "w1").unwrap();
    assert_eq!(info.coldkey.as_deref(), Some(cold.ss58().as_str()));
    assert_eq!(info.hotkeys.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["h1", "h2"]);
    // Refuses to overwrite without --overwrite.
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["wallet", "new", "--name", "w1", "--hotkey", "h1", "--wallet-path"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    // show
    let out = Command::new(env!("CARGO_BIN_EXE_chronoseek"))
        .args(["wallet", "show", "--name", "w1", "--wallet-path"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&cold.ss58()) && text.contains(&hot.ss58()), "{text}");
}
