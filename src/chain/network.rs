//! `NETWORK`: which chain to talk to.

use std::path::PathBuf;

/// Public endpoints the Python SDK uses for the named networks.
pub const FINNEY_ENDPOINT: &str = "wss://entrypoint-finney.opentensor.ai:443";
pub const TEST_ENDPOINT: &str = "wss://test.finney.opentensor.ai:443";
pub const LOCAL_ENDPOINT: &str = "ws://127.0.0.1:9944";

/// `NETWORK` names no chain this build knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("NETWORK must be finney, test, local, a ws:// or wss:// URL, dev, or file:PATH of a dev-chain JSON; got {0:?}")]
pub struct NetworkError(pub String);

/// The default dev-chain file: `<data dir>/chronoseek/chain.json`.
pub fn default_chain_file() -> PathBuf {
    dirs::data_dir().unwrap_or_default().join("chronoseek").join("chain.json")
}

/// `finney`, `test`, `local` (a subtensor node on this machine), a `ws://`/`wss://` URL, `dev`
/// (the file-backed development chain at the default path), or `file:PATH` (one elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    Subtensor { url: String },
    File(PathBuf),
}

impl Network {
    /// `dev_file` is where `dev` points (the `--chain-file` option).
    pub fn parse(s: &str, dev_file: &std::path::Path) -> Result<Self, NetworkError> {
        let url = |u: &str| Ok(Self::Subtensor { url: u.to_string() });
        match s {
            "finney" => url(FINNEY_ENDPOINT),
            "test" => url(TEST_ENDPOINT),
            "local" => url(LOCAL_ENDPOINT),
            _ if s.starts_with("ws://") || s.starts_with("wss://") => url(s),
            "dev" => Ok(Self::File(dev_file.to_path_buf())),
            _ if s.starts_with("file:") => Ok(Self::File(PathBuf::from(&s["file:".len()..]))),
            _ => Err(NetworkError(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_urls_and_files() {
        let dev = std::path::Path::new("/d/chain.json");
        assert_eq!(Network::parse("finney", dev).unwrap(), Network::Subtensor { url: FINNEY_ENDPOINT.into() });
        assert_eq!(Network::parse("local", dev).unwrap(), Network::Subtensor { url: LOCAL_ENDPOINT.into() });
        assert_eq!(
            Network::parse("ws://10.0.0.2:9944", dev).unwrap(),
            Network::Subtensor { url: "ws://10.0.0.2:9944".into() }
        );
        assert_eq!(Network::parse("file:/tmp/m.json", dev).unwrap(), Network::File("/tmp/m.json".into()));
        assert_eq!(Network::parse("dev", dev).unwrap(), Network::File(dev.into()));
        assert!(Network::parse("mainnet", dev).is_err());
    }
}
