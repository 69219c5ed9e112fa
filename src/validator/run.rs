//! The validator loop: each step draws one reachable task, sends it (signed) to every
//! responsive miner with a served axon, scores the answers and folds them into moving scores;
//! every tempo the normalised scores go on chain as weights. A health sweep runs beside it,
//! the metagraph is re-read every `resync_blocks`, and a watchdog restarts a loop that stops
//! beating. State is saved after every step, so a restart loses at most the step in flight.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::clock::now_ms;

use futures::StreamExt;
use parking_lot::{Mutex, RwLock};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::availability::Availability;
use super::client::MinerClient;
use super::remixer::{PreparedRemix, RemixSummary, Remixer};
use super::scores::MovingScores;
use super::scoring::{ScoringMode, apply_latency, score};
use super::state::{StateError, StateFile, ValidatorState};
use super::tasks::Task;
pub use super::view::{MinerTarget, Shared};
use crate::chain::weights::normalize;
use crate::chain::{Chain, ChainError, WeightsOutcome};
use crate::protocol::{SearchResult, Sr25519Key, TopK, VideoSearchRequest, VideoUrl};
use crate::tasks::Interval;

#[derive(Debug, Clone)]
pub struct ValidatorConfig {
    pub scoring: ScoringMode,
    /// 0 = latency recorded, not scored.
    pub latency_weight: f64,
    pub top_k: TopK,
    pub miner_timeout: Duration,
    pub max_in_flight: usize,
    /// Pause between synthetic steps.
    pub step_interval: Duration,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    /// Metagraph re-read every this many blocks.
    pub resync_blocks: u64,
    /// A loop without a heartbeat for this long is restarted.
    pub watchdog: Duration,
    pub alpha: f64,
    /// Run synthetic evaluation (and set weights); false = gateway only.
    pub synthetic: bool,
    /// Stop after this many step attempts in this run, completed or skipped (tests, one-off
    /// runs); a restart from saved state counts again from 0.
    pub max_steps: Option<u64>,
    /// Seed of the task sampler (None: from the clock).
    pub seed: Option<u64>,
    /// Append one JSON line per step here.
    pub steps_log: Option<PathBuf>,
    /// Where synthetic tasks come from.
    pub task_mode: TaskMode,
}

/// Where synthetic tasks come from.
#[derive(Debug, Clone, Default)]
pub enum TaskMode {
    /// The dataset's own videos and intervals (what the reference does; answerable by look-up).
    #[default]
    Dataset,
    /// A remixed video per step, served by this validator (`remixer.rs`).
    Remix(Arc<Remixer>),
}

impl TaskMode {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Dataset => "dataset",
            Self::Remix(_) => "remix",
        }
    }
}

impl Default for ValidatorConfig {
    fn default() -> Self {
        Self {
            scoring: ScoringMode::Ranked,
            latency_weight: 0.0,
            top_k: TopK::default(),
            miner_timeout: Duration::from_secs(150),
            max_in_flight: 8,
            step_interval: Duration::from_secs(30),
            health_interval: Duration::from_secs(60),
            health_timeout: Duration::from_secs(5),
            resync_blocks: 100,
            watchdog: Duration::from_secs(600),
            alpha: super::scores::DEFAULT_ALPHA,
            synthetic: true,
            max_steps: None,
            seed: None,
            steps_log: None,
            task_mode: TaskMode::Dataset,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ValidatorError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("no tasks to evaluate miners with")]
    NoTasks,
}

/// One miner's part of a step.
#[derive(Debug, Clone, Serialize)]
pub struct MinerOutcome {
    pub uid: u16,
    pub score: f64,
    pub latency_ms: f64,
    pub results: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// On a consistency probe: whether the remix and original answers agreed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub step: u64,
    pub block: u64,
    pub task_id: String,
    pub request_id: String,
    pub task_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remix: Option<RemixSummary>,
    /// Bytes miners downloaded from this validator's `/media` for this step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_bytes_served: Option<u64>,
    pub miners: Vec<MinerOutcome>,
}

/// What one step sends.
struct PreparedStep {
    task_id: String,
    url: VideoUrl,
    query: String,
    ground_truths: Vec<Interval>,
    remix: Option<PreparedRemix>,
}

pub struct Validator {
    chain: Arc<dyn Chain>,
    key: Sr25519Key,
    client: MinerClient,
    tasks: Vec<Task>,
    /// The availability cache and the task sampler's generator, used one step at a time.
    sampler: tokio::sync::Mutex<(Availability, StdRng)>,
    state_file: StateFile,
    pub shared: Arc<Shared>,
    config: ValidatorConfig,
    last_sync_block: AtomicU64,
    /// Step attempts in this run (what `max_steps` counts; never restored from state).
    attempts: AtomicU64,
    /// Serialises steps and weight setting (a restarted loop never overlaps the old one's
    /// write).
    step_lock: tokio::sync::Mutex<()>,
    save_lock: Mutex<()>,
}

impl Validator {
    /// Reads the metagraph, restores saved state (or seeds scores from the incentives).
    pub async fn start(
        chain: Arc<dyn Chain>,
        key: Sr25519Key,
        client: MinerClient,
        tasks: Vec<Task>,
        availability: Availability,
        state_file: StateFile,
        config: ValidatorConfig,
    ) -> Result<Arc<Self>, ValidatorError> {
        if config.synthetic && tasks.is_empty() {
            return Err(ValidatorError::NoTasks);
        }
        let metagraph = chain.metagraph().await?;
        let netuid = chain.netuid();
        let mut state = match state_file.load(netuid)? {
            Some(s) => {
                tracing::info!(path = %state_file.path().display(), steps = s.steps, "validator state restored");
                s
            }
            None => ValidatorState::new(netuid, MovingScores::seeded(&metagraph, config.alpha)),
        };
        state.scores.alpha = config.alpha;
        state.scores.sync(&metagraph);
        state_file.save(&state)?;
        let own_hotkey = key.ss58();
        if metagraph.neuron(&own_hotkey).is_none() {
            tracing::warn!(hotkey = %own_hotkey, netuid, "this validator's hotkey is not registered on the subnet: weights will be refused");
        }
        let block = metagraph.block;
        let seed = config.seed.unwrap_or_else(now_ms);
        let shared = Arc::new(Shared {
            metagraph: RwLock::new(metagraph),
            state: Mutex::new(state),
            healthy: RwLock::new(BTreeSet::new()),
            own_hotkey,
            heartbeat_ms: AtomicU64::new(now_ms()),
            restarts: AtomicU64::new(0),
        });
        Ok(Arc::new(Self {
            chain,
            key,
            client,
            tasks,
            sampler: tokio::sync::Mutex::new((availability, StdRng::seed_from_u64(seed))),
            state_file,
            shared,
            config,
            last_sync_block: AtomicU64::new(block),
            attempts: AtomicU64::new(0),
            step_lock: tokio::sync::Mutex::new(()),
            save_lock: Mutex::new(()),
        }))
    }

    pub fn client(&self) -> &MinerClient {
        &self.client
    }

    pub fn config(&self) -> &ValidatorConfig {
        &self.config
    }

    /// Snapshots and writes under one lock, so an older snapshot never lands after a newer one.
    fn save(&self) -> Result<(), StateError> {
        let _order = self.save_lock.lock();
        let state = self.shared.state.lock().clone();
        self.state_file.save(&state)
    }

    /// Probes `/health` on every served miner; failures are zeroed, as in the reference.
    pub async fn health_sweep(&self) -> Result<BTreeSet<u16>, ValidatorError> {
        let targets = self.shared.served();
        let timeout = self.config.health_timeout;
        let probes: Vec<(u16, bool)> = futures::stream::iter(targets)
            .map(|t| async move { (t.uid, self.client.healthy(&t.url, timeout).await) })
            .buffer_unordered(32)
            .collect()
            .await;
        let healthy: BTreeSet<u16> = probes.iter().filter(|(_, ok)| *ok).map(|(u, _)| *u).collect();
        {
            let mut state = self.shared.state.lock();
            for (uid, ok) in &probes {
                if !ok {
                    state.scores.zero(*uid);
                }
            }
        }
        self.save()?;
        tracing::info!(healthy = ?healthy, probed = probes.len(), "health sweep");
        *self.shared.healthy.write() = healthy.clone();
        Ok(healthy)
    }

    /// Re-reads the metagraph when `resync_blocks` have passed (or when forced).
    pub async fn resync(&self, force: bool) -> Result<(), ValidatorError> {
        let block = self.chain.current_block().await?;
        if !force && block.saturating_sub(self.last_sync_block.load(Ordering::Relaxed)) < self.config.resync_blocks {
            return Ok(());
        }
        let metagraph = self.chain.metagraph().await?;
        self.shared.state.lock().scores.sync(&metagraph);
        *self.shared.metagraph.write() = metagraph;
        self.last_sync_block.store(block, Ordering::Relaxed);
        self.save()?;
        tracing::info!(block, "metagraph re-synced");
        Ok(())
    }

    /// One synthetic step. `None` when no task's video is reachable, no remix can be made, or
    /// no miner responds.
    pub async fn step(&self) -> Result<Option<StepReport>, ValidatorError> {
        let _guard = self.step_lock.lock().await;
        let miners = self.shared.responsive();
        if miners.is_empty() {
            tracing::warn!("no responsive miner with a served axon; skipping this step");
            return Ok(None);
        }
        let Some(prepared) = self.prepare_step().await else { return Ok(None) };
        let mut request = VideoSearchRequest::new(prepared.url.clone(), &prepared.query, self.config.top_k);
        // The same opaque ids as organic traffic: a miner cannot tell a synthetic task apart.
        let request_id = crate::ingest::unique_id();
        request.request_id = Some(request_id.clone());
        let probe_request = prepared.remix.as_ref().and_then(|r| r.original.as_ref()).map(|(url, _)| {
            let mut r = VideoSearchRequest::new(url.clone(), &prepared.query, self.config.top_k);
            r.request_id = Some(crate::ingest::unique_id());
            r
        });
        let (req, probe, cfg, gts) = (&request, probe_request.as_ref(), &self.config, &prepared.ground_truths);
        let plan = prepared.remix.as_ref().map(|r| &r.plan);
        let consistency = match &cfg.task_mode {
            TaskMode::Remix(r) => Some(r.consistency),
            TaskMode::Dataset => None,
        };
        let outcomes: Vec<MinerOutcome> = futures::stream::iter(miners)
            .map(|m| async move {
                let started = Instant::now();
                let main = self.client.search(&m.url, req, cfg.miner_timeout);
                let (answer, original) = match probe {
                    Some(p) => {
                        let (a, o) = futures::join!(main, self.client.search(&m.url, p, cfg.miner_timeout));
                        (a, Some(o))
                    }
                    None => (main.await, None),
                };
                match answer {
                    Ok(answer) => {
                        let raw = score(cfg.scoring, &answer.response.results, gts, cfg.top_k.get());
                        let latency = answer.latency.as_secs_f64();
                        let mut outcome = MinerOutcome {
                            uid: m.uid,
                            score: apply_latency(raw, latency, cfg.miner_timeout.as_secs_f64(), cfg.latency_weight),
                            latency_ms: latency * 1000.0,
                            results: answer.response.results.len(),
                            error: None,
                            consistent: None,
                        };
                        if let (Some(original), Some(plan), Some(rule)) = (original, plan, consistency) {
                            let top = |r: &[SearchResult]| r.first().copied();
                            let orig_top = original.ok().and_then(|o| top(&o.response.results));
                            let agrees = rule.agrees(plan, top(&answer.response.results).as_ref(), orig_top.as_ref());
                            if !agrees {
                                outcome.score *= 1.0 - rule.penalty.clamp(0.0, 1.0);
                            }
                            outcome.consistent = Some(agrees);
                        }
                        outcome
                    }
                    Err(e) => MinerOutcome {
                        uid: m.uid,
                        score: 0.0,
                        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                        results: 0,
                        error: Some(e.to_string()),
                        consistent: None,
                    },
                }
            })
            .buffer_unordered(self.config.max_in_flight.max(1))
            .collect()
            .await;
        let media_bytes_served = prepared
            .remix
            .as_ref()
            .map(|r| r.published.bytes_served() + r.original.as_ref().map_or(0, |(_, p)| p.bytes_served()));
        let remix = prepared.remix.as_ref().map(PreparedRemix::summary);
        // Dropping the remix retires its tokens and deletes its files.
        drop(prepared.remix);
        let task_id = prepared.task_id;
        let block = self.chain.current_block().await.unwrap_or(0);
        let step = {
            let mut state = self.shared.state.lock();
            for o in &outcomes {
                state.scores.update(o.uid, o.score);
            }
            state.steps += 1;
            state.steps
        };
        self.save()?;
        let mut miners = outcomes;
        miners.sort_by_key(|o| o.uid);
        let report = StepReport {
            step,
            block,
            task_id,
            request_id,
            task_mode: self.config.task_mode.name(),
            remix,
            media_bytes_served,
            miners,
        };
        for o in &report.miners {
            tracing::info!(
                step,
                uid = o.uid,
                score = o.score,
                latency_ms = o.latency_ms,
                error = o.error.as_deref(),
                "miner scored"
            );
        }
        if let Some(path) = &self.config.steps_log {
            let line = serde_json::to_string(&report).unwrap_or_default();
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{line}"));
            if let Err(e) = appended {
                tracing::warn!(path = %path.display(), error = %e, "cannot append to the steps log");
            }
        }
        Ok(Some(report))
    }

    /// Draws this step's task: a dataset task as it is, or a remix around one.
    async fn prepare_step(&self) -> Option<PreparedStep> {
        let mut guard = self.sampler.lock().await;
        let (availability, rng) = &mut *guard;
        let Some(task) = availability.sample(&self.tasks, rng).await.cloned() else {
            tracing::warn!("no reachable task video after the sampling attempts; skipping this step");
            return None;
        };
        match &self.config.task_mode {
            TaskMode::Dataset => {
                // Miners fetch only http(s) URLs: a task that names anything else cannot be sent.
                let url = match VideoUrl::parse(&task.video_url) {
                    Ok(u) => u,
                    Err(e) => {
                        tracing::warn!(task = %task.task_id, url = %task.video_url, error = %e, "task video is not an http(s) URL; skipping this step");
                        return None;
                    }
                };
                Some(PreparedStep {
                    task_id: task.task_id,
                    url,
                    query: task.query,
                    ground_truths: task.ground_truths,
                    remix: None,
                })
            }
            TaskMode::Remix(remixer) => {
                // Served until every miner has had its full time, then retired.
                let ttl = self.config.miner_timeout + Duration::from_secs(30);
                match remixer.prepare(&task, rng, ttl).await {
                    Ok(r) => Some(PreparedStep {
                        task_id: format!("remix:{}", task.task_id),
                        url: r.url.clone(),
                        query: r.plan.query.clone(),
                        ground_truths: r.plan.ground_truths.clone(),
                        remix: Some(r),
                    }),
                    Err(e) => {
                        tracing::warn!(task = %task.task_id, error = %e, "no remix this step; skipping it");
                        None
                    }
                }
            }
        }
    }

    /// Puts weights on chain when a tempo has passed since the last time (or there was none):
    /// a timelocked commit when the subnet has commit-reveal on, `set_weights` otherwise.
    pub async fn maybe_set_weights(&self) -> Result<Option<WeightsOutcome>, ValidatorError> {
        let _guard = self.step_lock.lock().await;
        let block = self.chain.current_block().await?;
        let tempo = self.chain.tempo().await?;
        let last = self.shared.state.lock().last_weight_block;
        if let Some(last) = last
            && block.saturating_sub(last) < tempo
        {
            return Ok(None);
        }
        let scores = self.shared.state.lock().scores.scores();
        let uids: Vec<u16> = (0..scores.len() as u16).collect();
        let weights = normalize(&scores);
        let outcome = crate::chain::submit_weights(self.chain.as_ref(), &self.key, &uids, &weights).await?;
        let mut state = self.shared.state.lock();
        state.pending_commits.retain(|c| c.reveal_block >= block);
        match &outcome {
            WeightsOutcome::Set { block, weights } => {
                tracing::info!(block, uids = ?weights.uids, weights = ?weights.weights, "weights set")
            }
            WeightsOutcome::Committed { block, reveal_round, reveal_block, payload_sha256, weights } => {
                tracing::info!(
                    block,
                    reveal_round,
                    reveal_block,
                    uids = ?weights.uids,
                    weights = ?weights.weights,
                    "weights committed (timelocked); the chain reveals them at the reveal block"
                );
                state.pending_commits.push(super::state::OwnCommit {
                    block: *block,
                    reveal_round: *reveal_round,
                    reveal_block: *reveal_block,
                    payload_sha256: payload_sha256.clone(),
                });
            }
            WeightsOutcome::NothingToSet => tracing::info!("every score is 0: no weights to set"),
        }
        state.last_weight_block = Some(block);
        drop(state);
        self.save()?;
        Ok(Some(outcome))
    }

    /// Runs until cancelled (or `max_steps`), restarting the step loop when the watchdog fires.
    pub async fn run(self: Arc<Self>, cancel: CancellationToken) -> Result<(), ValidatorError> {
        let health = {
            let me = self.clone();
            let cancel = cancel.clone();
            tokio::spawn(async move {
                loop {
                    if let Err(e) = me.health_sweep().await {
                        tracing::error!(error = %e, "health sweep failed");
                    }
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(me.config.health_interval) => {}
                    }
                }
            })
        };
        // The first step needs to know who is alive.
        self.health_sweep().await?;
        let result = loop {
            let me = self.clone();
            let loop_cancel = cancel.child_token();
            let mut handle = tokio::spawn({
                let c = loop_cancel.clone();
                async move { me.step_loop(c).await }
            });
            let restarted = loop {
                tokio::select! {
                    r = &mut handle => break Some(r),
                    _ = tokio::time::sleep(Duration::from_secs(1).min(self.config.watchdog)) => {
                        if self.shared.since_beat() > self.config.watchdog {
                            tracing::error!(silent_s = self.shared.since_beat().as_secs(), "watchdog: the validator loop stopped beating; restarting it");
                            loop_cancel.cancel();
                            handle.abort();
                            self.shared.restarts.fetch_add(1, Ordering::Relaxed);
                            self.shared.beat();
                            break None;
                        }
                    }
                }
            };
            match restarted {
                None if cancel.is_cancelled() => break Ok(()),
                None => continue,
                Some(Ok(r)) => break r,
                Some(Err(e)) if e.is_cancelled() => break Ok(()),
                Some(Err(e)) => {
                    tracing::error!(error = %e, "the validator loop panicked; restarting it");
                    continue;
                }
            }
        };
        cancel.cancel();
        let _ = health.await;
        result
    }

    async fn step_loop(&self, cancel: CancellationToken) -> Result<(), ValidatorError> {
        loop {
            self.shared.beat();
            if let Err(e) = self.resync(false).await {
                tracing::error!(error = %e, "metagraph re-sync failed");
            }
            if self.config.synthetic {
                // Cancelling drops the step in flight (state is only ever saved whole).
                let stepped = tokio::select! {
                    r = self.step() => r,
                    _ = cancel.cancelled() => return Ok(()),
                };
                if let Err(e) = stepped {
                    tracing::error!(error = %e, "step failed");
                }
                match self.maybe_set_weights().await {
                    Ok(_) => {}
                    // Retrying cannot help: stop, loudly, so the exit code says so.
                    Err(ValidatorError::Chain(e)) if e.needs_operator() => {
                        tracing::error!(error = %e, "the chain refuses this validator's weights; stopping (operator action needed)");
                        return Err(ValidatorError::Chain(e));
                    }
                    Err(e) => tracing::error!(error = %e, "setting weights failed"),
                }
                // Attempts in this run, completed or not: a run with no reachable task still
                // ends, and a restart from saved state runs its own --max-steps.
                let attempts = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
                if self.config.max_steps.is_some_and(|m| attempts >= m) {
                    return Ok(());
                }
            }
            self.shared.beat();
            tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                _ = tokio::time::sleep(self.config.step_interval) => {}
            }
        }
    }
}
