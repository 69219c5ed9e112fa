//! The validator's shared view: the subnet as last read, the scores, who is healthy. The loop
//! writes it; the gateway (in `server/`) only reads it. This is the one thing the two share, so
//! the gateway never reaches into the loop itself.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};

use super::client::axon_url;
use super::state::ValidatorState;
use crate::chain::Metagraph;

/// What the gateway and the loop share: the subnet as last read, the scores, who is healthy.
pub struct Shared {
    pub metagraph: RwLock<Metagraph>,
    pub state: Mutex<ValidatorState>,
    /// Uids whose last `/health` probe passed.
    pub healthy: RwLock<BTreeSet<u16>>,
    /// The validator's own hotkey (never queried as a miner).
    pub own_hotkey: String,
    pub(crate) heartbeat_ms: AtomicU64,
    /// Times the watchdog restarted the loop.
    pub restarts: AtomicU64,
}

/// A miner the validator can query.
#[derive(Debug, Clone, PartialEq)]
pub struct MinerTarget {
    pub uid: u16,
    pub url: String,
    pub score: f64,
}

pub(crate) use crate::clock::now_ms;

impl Shared {
    /// Neurons with a served axon, other than this validator.
    pub fn served(&self) -> Vec<MinerTarget> {
        let m = self.metagraph.read();
        let state = self.state.lock();
        m.neurons
            .iter()
            .filter(|n| n.hotkey != self.own_hotkey)
            .filter_map(|n| {
                let axon = n.axon.filter(|a| !a.ip.is_unspecified() && a.port != 0)?;
                Some(MinerTarget { uid: n.uid, url: axon_url(&axon), score: state.scores.get(n.uid) })
            })
            .collect()
    }

    /// Served and healthy miners, best moving score first (ties by uid).
    pub fn responsive(&self) -> Vec<MinerTarget> {
        let healthy = self.healthy.read().clone();
        let mut v: Vec<MinerTarget> = self.served().into_iter().filter(|t| healthy.contains(&t.uid)).collect();
        v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.uid.cmp(&b.uid)));
        v
    }

    pub(crate) fn beat(&self) {
        self.heartbeat_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub(crate) fn since_beat(&self) -> Duration {
        Duration::from_millis(now_ms().saturating_sub(self.heartbeat_ms.load(Ordering::Relaxed)))
    }
}
