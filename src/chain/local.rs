//! The file-backed development chain: one JSON file holds the subnet (neurons with hotkeys,
//! stakes, axons, incentives) and its clock (a block counter that advances with wall time), and
//! an append-only JSON-lines log beside it records every `set_weights`.
//!
//! With commit-reveal on (`chain init-local --commit-reveal`) it behaves like subtensor: plain
//! `set_weights` is refused, `commit_timelocked_weights` goes into `<stem>.commits.json`, and the
//! chain's own beacon (same scheme as drand quicknet, a key in the chain file, a round every
//! `period_ms`) opens each commit at its reveal block: the weights are applied to the weights
//! log as the committer's, or the commit is marked rejected with the reason. Reveals happen
//! lazily, under the file lock, whenever any process reads the chain — there is no node.
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

use super::commit_reveal::{
    self, Beacon, CommitError, CommitRequest, DevBeacon, MAX_COMMIT_BYTES, MAX_PENDING_COMMITS, PendingCommit,
    PreparedCommit, RevealSchedule, WeightsTlockPayload,
};
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
    /// Commit-reveal settings; absent: weights are set in the clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_reveal: Option<DevCommitReveal>,
}

/// The dev chain's commit-reveal: like `CommitRevealWeightsEnabled`, `RevealPeriodEpochs` and
/// `CommitRevealWeightsVersion`, plus the beacon it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DevCommitReveal {
    pub reveal_period_epochs: u64,
    pub version: u16,
    pub beacon: DevBeacon,
}

/// One `commit_timelocked_weights` the dev chain received, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedCommit {
    pub hotkey: String,
    pub uid: u16,
    pub commit_block: u64,
    pub reveal_block: u64,
    pub reveal_round: u64,
    pub version: u16,
    pub commit_hex: String,
    #[serde(flatten)]
    pub status: CommitStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CommitStatus {
    Pending,
    /// Decrypted and applied to the weights log at `block`.
    Revealed {
        block: u64,
    },
    /// Opened (or not) at `block` and refused, like the runtime's reveal refuses: undecryptable,
    /// a payload naming another hotkey, an old version key, malformed weights.
    Rejected {
        block: u64,
        reason: String,
    },
}
impl LocalChainFile {
    pub fn new(metagraph: Metagraph) -> Self {
        Self {
            metagraph,
            tempo: default_tempo(),
            block_seconds: default_block_seconds(),
            genesis_unix_ms: Some(now_ms()),
            weights_version_key: 0,
            commit_reveal: None,
        }
    }

    /// Turns commit-reveal on with a freshly keyed beacon whose round 1 is the chain's genesis.
    pub fn enable_commit_reveal(&mut self, reveal_period_epochs: u64, beacon_period_ms: u64) {
        let genesis = self.genesis_unix_ms.unwrap_or_else(now_ms);
        self.commit_reveal = Some(DevCommitReveal {
            reveal_period_epochs,
            version: commit_reveal::COMMIT_REVEAL_VERSION,
            beacon: DevBeacon::generate(genesis, beacon_period_ms.max(1)),
        });
    }

    /// The block at which the chain reveals a commit included at `block`: the first block of
    /// the epoch `reveal_period_epochs` after the commit's (fixed per-netuid boundaries).
    fn schedule_at(&self, block: u64, cr: &DevCommitReveal) -> RevealSchedule {
        RevealSchedule::Legacy {
            tempo: self.tempo,
            current_block: block,
            netuid: self.metagraph.netuid,
            reveal_period_epochs: cr.reveal_period_epochs,
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

/// Why the dev chain refused a commit at its reveal block (recorded as the commit's reason).
#[derive(Debug, thiserror::Error)]
enum RevealRefusal {
    #[error("the stored commit is not hex")]
    NotHex,
    #[error("undecryptable: {0}")]
    Undecryptable(#[from] chronoseek_timelock::Error),
    #[error("the decrypted payload is not a WeightsTlockPayload: {0}")]
    Payload(#[from] parity_scale_codec::Error),
    #[error("the payload names another hotkey than the committer's")]
    OtherHotkey,
    #[error("version key {got} is below the subnet's {need}")]
    OldVersionKey { got: u64, need: u64 },
    #[error("the weights do not match the subnet's uids")]
    BadUids,
}

/// Opens a commit with its round's signature and checks the payload as the runtime does,
/// giving the weights-log entry to append.
fn open_commit(
    file: &LocalChainFile,
    c: &LoggedCommit,
    signature: &chronoseek_timelock::Signature,
    block: u64,
    now: u64,
) -> Result<WeightsLogEntry, RevealRefusal> {
    let ciphertext = hex::decode(&c.commit_hex).map_err(|_| RevealRefusal::NotHex)?;
    let plain = chronoseek_timelock::decrypt(&ciphertext, signature)?;
    let payload = <WeightsTlockPayload as parity_scale_codec::DecodeAll>::decode_all(&mut &plain[..])?;
    let committer = crate::protocol::epistula::parse_hotkey(&c.hotkey).map_err(|_| RevealRefusal::OtherHotkey)?;
    if payload.hotkey != committer.0 {
        return Err(RevealRefusal::OtherHotkey);
    }
    if payload.version_key < file.weights_version_key {
        return Err(RevealRefusal::OldVersionKey { got: payload.version_key, need: file.weights_version_key });
    }
    let n = file.metagraph.neurons.len();
    if payload.uids.len() != payload.values.len() || payload.uids.iter().any(|u| usize::from(*u) >= n) {
        return Err(RevealRefusal::BadUids);
    }
    Ok(WeightsLogEntry {
        block,
        unix_ms: now,
        netuid: file.metagraph.netuid,
        hotkey: c.hotkey.clone(),
        uid: c.uid,
        version_key: payload.version_key,
        uids: payload.uids,
        weights: payload.values,
    })
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

    /// `<file stem>.commits.json` beside the chain file (commit-reveal only).
    pub fn commits_path(&self) -> PathBuf {
        self.path.with_extension("commits.json")
    }

    /// Every commit received so far, oldest first, after revealing those that are due.
    pub fn commits(&self) -> Result<Vec<LoggedCommit>, ChainError> {
        self.settle()?;
        self.read_commits()
    }

    fn read_commits(&self) -> Result<Vec<LoggedCommit>, ChainError> {
        match std::fs::read(self.commits_path()) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| self.err(e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.err(e)),
        }
    }

    fn write_commits(&self, commits: &[LoggedCommit]) -> Result<(), ChainError> {
        let bytes = serde_json::to_vec_pretty(commits).map_err(|e| self.err(e))?;
        let tmp = self.path.with_extension("commits.json.tmp");
        std::fs::write(&tmp, bytes).map_err(|e| self.err(e))?;
        std::fs::rename(&tmp, self.commits_path()).map_err(|e| self.err(e))
    }

    /// Reveals every pending commit whose reveal block has come and whose round the beacon has
    /// published, as the runtime's `reveal_crv3_commits` does at the start of a block.
    fn settle(&self) -> Result<(), ChainError> {
        let file = self.load()?;
        let Some(cr) = file.commit_reveal.clone() else { return Ok(()) };
        if !self.commits_path().exists() {
            return Ok(());
        }
        let _lock = self.lock()?;
        let mut commits = self.read_commits()?;
        let now = now_ms();
        let block = file.block_at(now);
        let mut changed = false;
        let mut failure = None;
        for c in commits.iter_mut().filter(|c| c.status == CommitStatus::Pending && block >= c.reveal_block) {
            let Some(signature) = cr.beacon.signature(c.reveal_round, now).map_err(|e| self.err(e))? else {
                continue; // the round is not out yet: the chain waits for the pulse
            };
            let outcome = match open_commit(&file, c, &signature, block, now) {
                Ok(entry) => match self.append_weights(&entry) {
                    Ok(()) => Ok(()),
                    // Record what was settled so far, then report: nothing is applied twice.
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                },
                Err(refusal) => Err(refusal),
            };
            c.status = match outcome {
                Ok(()) => CommitStatus::Revealed { block },
                Err(refusal) => {
                    tracing::warn!(hotkey = %c.hotkey, block, %refusal, "dev chain: commit rejected at reveal");
                    CommitStatus::Rejected { block, reason: refusal.to_string() }
                }
            };
            changed = true;
        }
        if changed {
            self.write_commits(&commits)?;
        }
        failure.map_or(Ok(()), Err)
    }

    fn append_weights(&self, entry: &WeightsLogEntry) -> Result<(), ChainError> {
        let mut line = serde_json::to_string(entry).map_err(|e| self.err(e))?;
        line.push('\n');
        let mut log =
            OpenOptions::new().create(true).append(true).open(self.weights_log_path()).map_err(|e| self.err(e))?;
        log.write_all(line.as_bytes()).and_then(|_| log.sync_data()).map_err(|e| self.err(e))
    }

    fn prepare_commit_now(
        &self,
        hotkey: [u8; 32],
        uids: &[u16],
        weights: &[f64],
        reveal_round: Option<u64>,
    ) -> Result<Option<PreparedCommit>, ChainError> {
        let file = self.load()?;
        let netuid = file.metagraph.netuid;
        let cr = file.commit_reveal.clone().ok_or(ChainError::CommitRevealDisabled { netuid })?;
        let ss58 = crate::protocol::keys::ss58(&subxt_signer::sr25519::PublicKey(hotkey));
        if file.metagraph.neuron(&ss58).is_none() {
            return Err(ChainError::NotRegistered { hotkey: ss58, netuid });
        }
        let converted = to_u16_weights(uids, weights)?;
        if converted.is_empty() {
            return Ok(None);
        }
        let now = now_ms();
        let beacon: Beacon = cr.beacon.public().map_err(|e| self.err(e))?;
        let prepared = commit_reveal::prepare_commit(CommitRequest {
            beacon: &beacon,
            hotkey,
            weights: &converted,
            version_key: file.weights_version_key,
            schedule: file.schedule_at(file.block_at(now), &cr),
            block_time_s: file.block_seconds,
            now_unix: now as f64 / 1000.0,
            reveal_round,
        })?;
        Ok(Some(prepared))
    }

    /// `commit_timelocked_weights` as the runtime checks it at inclusion.
    fn submit_commit_now(&self, signer: &Sr25519Key, commit: &PreparedCommit, version: u16) -> Result<u64, ChainError> {
        let file = self.load()?;
        let netuid = file.metagraph.netuid;
        let cr = file.commit_reveal.clone().ok_or(ChainError::CommitRevealDisabled { netuid })?;
        let hotkey = signer.ss58();
        let uid = file
            .metagraph
            .neuron(&hotkey)
            .map(|n| n.uid)
            .ok_or(ChainError::NotRegistered { hotkey: hotkey.clone(), netuid })?;
        let refuse = |error: &str| ChainError::Dispatch {
            pallet: "SubtensorModule".into(),
            error: error.into(),
            docs: String::new(),
        };
        if version != cr.version {
            return Err(refuse("IncorrectCommitRevealVersion"));
        }
        if commit.ciphertext.len() > MAX_COMMIT_BYTES {
            return Err(ChainError::Commit(CommitError::TooLarge {
                uids: commit.payload.uids.len(),
                bytes: commit.ciphertext.len(),
                max: commit_reveal::max_uids_per_commit(),
            }));
        }
        self.settle()?;
        let _lock = self.lock()?;
        let mut commits = self.read_commits()?;
        if commits.iter().filter(|c| c.hotkey == hotkey && c.status == CommitStatus::Pending).count()
            >= MAX_PENDING_COMMITS
        {
            return Err(refuse("TooManyUnrevealedCommits"));
        }
        let block = file.block_at(now_ms());
        let reveal_block = file.schedule_at(block, &cr).first_reveal_block().map_err(CommitError::from)?;
        commits.push(LoggedCommit {
            hotkey,
            uid,
            commit_block: block,
            reveal_block,
            reveal_round: commit.reveal_round,
            version,
            commit_hex: hex::encode(&commit.ciphertext),
            status: CommitStatus::Pending,
        });
        self.write_commits(&commits)?;
        Ok(block)
    }

    /// Sends a commit with an explicit `commit_reveal_version` (tests of the version check).
    pub fn submit_commit_with_version(
        &self,
        signer: &Sr25519Key,
        commit: &PreparedCommit,
        version: u16,
    ) -> Result<u64, ChainError> {
        self.submit_commit_now(signer, commit, version)
    }

    /// `<file stem>.weights.jsonl` beside the chain file.
    pub fn weights_log_path(&self) -> PathBuf {
        self.path.with_extension("weights.jsonl")
    }

    fn err(&self, source: impl Into<super::BoxError>) -> ChainError {
        ChainError::File { path: self.path.display().to_string(), source: source.into() }
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
        self.settle()?;
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
        if file.commit_reveal.is_some() {
            return Err(ChainError::CommitRevealEnabled { netuid });
        }
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
        let _lock = self.lock()?;
        self.append_weights(&entry)?;
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
        Box::pin(async move {
            self.settle()?;
            Ok(self.load()?.block_at(now_ms()))
        })
    }

    fn commit_reveal_enabled(&self) -> BoxFuture<'_, Result<bool, ChainError>> {
        Box::pin(async move { Ok(self.load()?.commit_reveal.is_some()) })
    }

    fn prepare_commit<'a>(
        &'a self,
        hotkey: [u8; 32],
        uids: &'a [u16],
        weights: &'a [f64],
        reveal_round: Option<u64>,
    ) -> BoxFuture<'a, Result<Option<PreparedCommit>, ChainError>> {
        Box::pin(async move { self.prepare_commit_now(hotkey, uids, weights, reveal_round) })
    }

    fn submit_commit<'a>(
        &'a self,
        signer: &'a Sr25519Key,
        commit: &'a PreparedCommit,
    ) -> BoxFuture<'a, Result<u64, ChainError>> {
        Box::pin(async move { self.submit_commit_now(signer, commit, commit_reveal::COMMIT_REVEAL_VERSION) })
    }

    fn pending_commits(&self) -> BoxFuture<'_, Result<Vec<PendingCommit>, ChainError>> {
        Box::pin(async move {
            Ok(self
                .commits()?
                .into_iter()
                .filter(|c| c.status == CommitStatus::Pending)
                .map(|c| PendingCommit {
                    hotkey: c.hotkey,
                    commit_block: c.commit_block,
                    reveal_round: c.reveal_round,
                    epoch: None,
                    reveal_block: Some(c.reveal_block),
                    commit_bytes: c.commit_hex.len() / 2,
                })
                .collect())
        })
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
