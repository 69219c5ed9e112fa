//! The file-backed development chain: one JSON file holds the subnet (neurons with hotkeys,
//! stakes, axons, incentives) and its clock (a block counter that advances with wall time), and
//! an append-only JSON-lines log beside it records every `set_weights`.
//!
//! Several processes share it (a validator and its miners on one machine): writers take an
//! exclusive lock on `<file>.lock` and replace the file by rename, so readers never see half a
//! file; readers re-read it whenever its modification time changes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::protocol::Sr25519Key;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{Axon, Chain, ChainError, Metagraph, ServeOutcome, WeightsOutcome, to_u16_weights};

fn default_tempo() -> u64 {
    360
}
fn default_block_seconds() -> f64 {
    12.0
}

/// The file's contents: a metagraph plus the chain's clock and parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalChainFile {
    #[serde(flatten)]
    pub metagraph: Metagraph,
    /// Blocks between weight settings.
    #[serde(default = "default_tempo")]
    pub tempo: u64,
    /// Wall-clock seconds per block.
    #[serde(default = "default_block_seconds")]
    pub block_seconds: f64,
    /// When block `metagraph.block` was current (ms since the epoch); without it the block
    /// number stands still.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis_unix_ms: Option<u64>,
    #[serde(default)]
    pub weights_version_key: u64,
}

impl LocalChainFile {
    pub fn new(metagraph: Metagraph) -> Self {
        Self {
            metagraph,
            tempo: default_tempo(),
            block_seconds: default_block_seconds(),
            genesis_unix_ms: Some(now_ms()),
            weights_version_key: 0,
        }
    }

    fn block_at(&self, now_ms: u64) -> u64 {
        match self.genesis_unix_ms {
            Some(g) if self.block_seconds > 0.0 => {
                self.metagraph.block + (now_ms.saturating_sub(g) as f64 / (self.block_seconds * 1000.0)) as u64
            }
            _ => self.metagraph.block,
        }
    }
}

/// One line of the weights log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsLogEntry {
    pub block: u64,
    pub unix_ms: u64,
    pub netuid: u16,
    pub hotkey: String,
    pub uid: u16,
    pub version_key: u64,
    pub uids: Vec<u16>,
    pub weights: Vec<u16>,
}

pub struct LocalChain {
    path: PathBuf,
    cache: Mutex<Option<(SystemTime, LocalChainFile)>>,
}

use crate::clock::now_ms;

impl LocalChain {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), cache: Mutex::new(None) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `<file stem>.weights.jsonl` beside the chain file.
    pub fn weights_log_path(&self) -> PathBuf {
        self.path.with_extension("weights.jsonl")
    }

    fn err(&self, message: impl std::fmt::Display) -> ChainError {
        ChainError::File { path: self.path.display().to_string(), message: message.to_string() }
    }

    /// Creates or replaces a chain file (used by `chain init-local` and tests).
    pub fn create(path: &Path, file: &LocalChainFile) -> Result<Self, ChainError> {
        let chain = Self::new(path);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| chain.err(e))?;
        }
        let _lock = chain.lock()?;
        chain.replace(file)?;
        Ok(chain)
    }

    /// Writes a metagraph with a still clock (tests that only need hotkeys and stakes).
    pub fn write(path: &Path, metagraph: &Metagraph) -> Result<(), ChainError> {
        let mut file = LocalChainFile::new(metagraph.clone());
        file.genesis_unix_ms = None;
        Self::create(path, &file).map(|_| ())
    }

    fn lock(&self) -> Result<File, ChainError> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.with_extension("lock"))
            .map_err(|e| self.err(e))?;
        lock.lock().map_err(|e| self.err(format!("lock: {e}")))?;
        Ok(lock)
    }

    /// Write-then-rename so readers never see half a file.
    fn replace(&self, file: &LocalChainFile) -> Result<(), ChainError> {
        let text = serde_json::to_string_pretty(file).map_err(|e| self.err(e))?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| self.err(e))?;
        *self.cache.lock() = None;
        Ok(())
    }

    /// The file as it is now (re-read only when its modification time changed).
    pub fn load(&self) -> Result<LocalChainFile, ChainError> {
        let mtime = std::fs::metadata(&self.path).and_then(|m| m.modified()).map_err(|e| self.err(e))?;
        if let Some((t, f)) = self.cache.lock().as_ref()
            && *t == mtime
        {
            return Ok(f.clone());
        }
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.err(e))?;
        let file: LocalChainFile = serde_json::from_str(&text).map_err(|e| self.err(e))?;
        *self.cache.lock() = Some((mtime, file.clone()));
        Ok(file)
    }

    /// Every `set_weights` recorded so far, oldest first.
    pub fn weights_log(&self) -> Result<Vec<WeightsLogEntry>, ChainError> {
        let text = match std::fs::read_to_string(self.weights_log_path()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err(e)),
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).map_err(|e| self.err(e)))
            .collect()
    }

    fn set_weights_now(
        &self,
        signer: &Sr25519Key,
        uids: &[u16],
        weights: &[f64],
    ) -> Result<WeightsOutcome, ChainError> {
        let file = self.load()?;
        let hotkey = signer.ss58();
        let netuid = file.metagraph.netuid;
        let uid = file
            .metagraph
            .neuron(&hotkey)
            .map(|n| n.uid)
            .ok_or(ChainError::NotRegistered { hotkey: hotkey.clone(), netuid })?;
        let converted = to_u16_weights(uids, weights)?;
        if converted.is_empty() {
            return Ok(WeightsOutcome::NothingToSet);
        }
        let now = now_ms();
        let block = file.block_at(now);
        let entry = WeightsLogEntry {
            block,
            unix_ms: now,
            netuid,
            hotkey,
            uid,
            version_key: file.weights_version_key,
            uids: converted.uids.clone(),
            weights: converted.weights.clone(),
        };
        let mut line = serde_json::to_string(&entry).map_err(|e| self.err(e))?;
        line.push('\n');
        let _lock = self.lock()?;
        let mut log =
            OpenOptions::new().create(true).append(true).open(self.weights_log_path()).map_err(|e| self.err(e))?;
        log.write_all(line.as_bytes()).and_then(|_| log.sync_data()).map_err(|e| self.err(e))?;
        Ok(WeightsOutcome::Set { block, weights: converted })
    }

    fn serve_axon_now(&self, signer: &Sr25519Key, ip: IpAddr, port: u16) -> Result<ServeOutcome, ChainError> {
        let hotkey = signer.ss58();
        let _lock = self.lock()?;
        *self.cache.lock() = None;
        let mut file = self.load()?;
        let netuid = file.metagraph.netuid;
        let neuron = file
            .metagraph
            .neurons
            .iter_mut()
            .find(|n| n.hotkey == hotkey)
            .ok_or(ChainError::NotRegistered { hotkey: hotkey.clone(), netuid })?;
        let axon = Some(Axon { ip, port });
        if neuron.axon == axon {
            return Ok(ServeOutcome::Unchanged);
        }
        neuron.axon = axon;
        self.replace(&file)?;
        Ok(ServeOutcome::Served)
    }
}

impl Chain for LocalChain {
    fn netuid(&self) -> u16 {
        self.load().map(|f| f.metagraph.netuid).unwrap_or(0)
    }

    fn metagraph(&self) -> BoxFuture<'_, Result<Metagraph, ChainError>> {
        Box::pin(async move {
            let file = self.load()?;
            let mut metagraph = file.metagraph.clone();
            metagraph.block = file.block_at(now_ms());
            Ok(metagraph)
        })
    }

    fn current_block(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
        Box::pin(async move { Ok(self.load()?.block_at(now_ms())) })
    }

    fn tempo(&self) -> BoxFuture<'_, Result<u64, ChainError>> {
        Box::pin(async move { Ok(self.load()?.tempo) })
    }

    fn set_weights<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        uids: &'a [u16],
        weights: &'a [f64],
    ) -> BoxFuture<'a, Result<WeightsOutcome, ChainError>> {
        Box::pin(async move { self.set_weights_now(signer, uids, weights) })
    }

    fn serve_axon<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        ip: IpAddr,
        port: u16,
    ) -> BoxFuture<'a, Result<ServeOutcome, ChainError>> {
        Box::pin(async move { self.serve_axon_now(signer, ip, port) })
    }
}
