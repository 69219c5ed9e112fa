//! What a validator must not forget across restarts: moving scores (with the hotkey each
//! belongs to), the block of the last weight setting, and step counters. Written after every
//! step by write-to-temp, fsync, rename: a kill -9 at any moment leaves the previous state or
//! the new one, never a torn file, and loses at most the step in flight.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::scores::MovingScores;

#[derive(Debug, thiserror::Error)]
#[error("validator state {path}: {message}")]
pub struct StateError {
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidatorState {
    /// Format version of this file.
    pub version: u32,
    pub netuid: u16,
    pub scores: MovingScores,
    /// Block at which weights were last set (None: never).
    #[serde(default)]
    pub last_weight_block: Option<u64>,
    /// Completed synthetic steps, over the validator's whole life.
    #[serde(default)]
    pub steps: u64,
    /// Timelocked commits this validator sent that the chain has not revealed yet (as far as
    /// it knows: pruned once their reveal block has passed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_commits: Vec<OwnCommit>,
}

/// One timelocked commit this validator sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnCommit {
    pub block: u64,
    pub reveal_round: u64,
    pub reveal_block: u64,
    /// sha256 of the SCALE payload (the weights themselves are not kept).
    pub payload_sha256: String,
}

impl ValidatorState {
    pub const VERSION: u32 = 1;

    pub fn new(netuid: u16, scores: MovingScores) -> Self {
        Self { version: Self::VERSION, netuid, scores, last_weight_block: None, steps: 0, pending_commits: Vec::new() }
    }
}

/// The state file of one validator.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, message: impl std::fmt::Display) -> StateError {
        StateError { path: self.path.display().to_string(), message: message.to_string() }
    }

    /// The saved state, or None when there is none yet. A file for another subnet or of an
    /// unknown version is an error, not something to overwrite silently.
    pub fn load(&self, netuid: u16) -> Result<Option<ValidatorState>, StateError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.err(e)),
        };
        let state: ValidatorState = serde_json::from_str(&text).map_err(|e| self.err(e))?;
        if state.version != ValidatorState::VERSION {
            return Err(self.err(format!(
                "format version {} (this build reads {})",
                state.version,
                ValidatorState::VERSION
            )));
        }
        if state.netuid != netuid {
            return Err(
                self.err(format!("it belongs to subnet {}, not {netuid}; use another --state-dir", state.netuid))
            );
        }
        Ok(Some(state))
    }

    pub fn save(&self, state: &ValidatorState) -> Result<(), StateError> {
        write_atomic(&self.path, &serde_json::to_vec_pretty(state).map_err(|e| self.err(e))?).map_err(|e| self.err(e))
    }
}

/// Write-to-temp, fsync, rename, fsync the folder. Each call has its own temp file, so
/// concurrent writers never rename each other's half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp.{}.{seq}", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}
