//! When a commit made now will be revealed, and so which drand round to encrypt it to — the
//! same arithmetic as the Python SDK (`bittensor-drand` 2.0: `predict_first_reveal_block`,
//! `generate_commit_v2`; 1.x: `generate_commit` for runtimes without the epoch-schedule items).
//!
//! The chain reveals a commit at the first block whose *pre-coinbase* epoch index equals the
//! commit's epoch plus `RevealPeriodEpochs`; the SDK then aims 3 blocks later so that the pulse
//! has certainly been ingested, and converts that block's expected wall time to a round:
//! `round = floor((now + blocks · block_time − genesis) / period)`.

/// Upper bound of a subnet's tempo (blocks), as the runtime enforces it.
pub const MAX_TEMPO: u64 = 50_400;
/// Blocks after the predicted reveal block that the encrypted round aims at.
pub const SECURITY_BLOCK_OFFSET: u64 = 3;
/// The commit lands in the block after the head the state was read at.
pub const COMMIT_INCLUSION_BLOCK_OFFSET: u64 = 1;

/// The subnet's epoch-schedule storage at the chain head (runtimes with `LastEpochBlock`,
/// `PendingEpochAt`, `SubnetEpochIndex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EpochScheduleState {
    pub last_epoch_block: u64,
    pub pending_epoch_at: u64,
    pub subnet_epoch_index: u64,
    pub tempo: u64,
    pub blocks_since_last_step: u64,
    pub current_block: u64,
}

impl EpochScheduleState {
    fn should_run_epoch(&self, block: u64) -> bool {
        if self.tempo == 0 {
            return false;
        }
        if self.pending_epoch_at > 0 && block >= self.pending_epoch_at {
            return true;
        }
        if self.blocks_since_last_step > MAX_TEMPO {
            return true;
        }
        block.saturating_sub(self.last_epoch_block) >= self.tempo
    }

    /// The epoch index `reveal_crv3_commits` sees at `block` (it runs before the coinbase).
    fn epoch_before_coinbase(&self, block: u64) -> u64 {
        self.subnet_epoch_index + u64::from(self.should_run_epoch(block))
    }

    /// The state after the coinbase of `block`.
    fn after_coinbase(&self, block: u64) -> Self {
        let mut next = *self;
        next.blocks_since_last_step += 1;
        next.current_block = block;
        if next.should_run_epoch(block) {
            next.last_epoch_block = block;
            next.pending_epoch_at = 0;
            next.subnet_epoch_index += 1;
            next.blocks_since_last_step = 0;
        }
        next
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the subnet's tempo is 0: it runs no epochs, so a commit would never be revealed")]
    TempoIsZero,
    #[error("no reveal block within {0} blocks of the head (the epoch schedule never reaches the reveal epoch)")]
    BoundExceeded(u64),
}

/// Where the reveal block comes from: the runtime's epoch-schedule state, or (older runtimes)
/// the fixed per-netuid epoch boundaries `(block + netuid + 1) / (tempo + 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum RevealSchedule {
    Epochs { state: EpochScheduleState, reveal_period_epochs: u64 },
    Legacy { tempo: u64, current_block: u64, netuid: u16, reveal_period_epochs: u64 },
}

impl RevealSchedule {
    pub fn current_block(&self) -> u64 {
        match self {
            Self::Epochs { state, .. } => state.current_block,
            Self::Legacy { current_block, .. } => *current_block,
        }
    }

    /// The first block at which the chain reveals a commit submitted now.
    pub fn first_reveal_block(&self) -> Result<u64, ScheduleError> {
        match *self {
            Self::Epochs { state, reveal_period_epochs } => predict_first_reveal_block(&state, reveal_period_epochs),
            Self::Legacy { tempo, current_block, netuid, reveal_period_epochs } => {
                let tempo1 = tempo + 1;
                let netuid1 = u64::from(netuid) + 1;
                let reveal_epoch = (current_block + netuid1) / tempo1 + reveal_period_epochs;
                Ok((reveal_epoch * tempo1).saturating_sub(netuid1))
            }
        }
    }

    /// The drand round to encrypt to, for a commit prepared at wall time `now_unix` (seconds):
    /// the round current `SECURITY_BLOCK_OFFSET` blocks after the reveal block.
    pub fn reveal_round(&self, now_unix: f64, block_time_s: f64, beacon: &super::Beacon) -> Result<u64, ScheduleError> {
        let target_block = self.first_reveal_block()? + SECURITY_BLOCK_OFFSET;
        let blocks = target_block.saturating_sub(self.current_block());
        let target = now_unix + blocks as f64 * block_time_s;
        Ok(beacon.round_at(target).max(1))
    }
}

/// Simulates the chain block by block from the head until the reveal epoch begins.
pub fn predict_first_reveal_block(head: &EpochScheduleState, reveal_period_epochs: u64) -> Result<u64, ScheduleError> {
    if head.tempo == 0 {
        return Err(ScheduleError::TempoIsZero);
    }
    let extrinsic_block = head.current_block + COMMIT_INCLUSION_BLOCK_OFFSET;
    let mut state = *head;
    for b in head.current_block + 1..extrinsic_block {
        state = state.after_coinbase(b);
    }
    let target_epoch = state.epoch_before_coinbase(extrinsic_block) + reveal_period_epochs;
    let budget = reveal_period_epochs.saturating_mul(MAX_TEMPO).saturating_add(MAX_TEMPO);
    for r in extrinsic_block..=extrinsic_block.saturating_add(budget) {
        if state.epoch_before_coinbase(r) == target_epoch {
            return Ok(r);
        }
        state = state.after_coinbase(r);
    }
    Err(ScheduleError::BoundExceeded(budget))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(last: u64, idx: u64, tempo: u64, since: u64, block: u64) -> EpochScheduleState {
        EpochScheduleState {
            last_epoch_block: last,
            pending_epoch_at: 0,
            subnet_epoch_index: idx,
            tempo,
            blocks_since_last_step: since,
            current_block: block,
        }
    }

    #[test]
    fn reveal_is_the_first_block_of_the_next_epochs() {
        // Epochs run at 150, 200, ...: a commit landing at 121 is in epoch 0 and reveals at
        // the block where epoch 1 starts (150); with two periods, at 200.
        let s = state(100, 0, 50, 20, 120);
        assert_eq!(predict_first_reveal_block(&s, 1), Ok(150));
        assert_eq!(predict_first_reveal_block(&s, 2), Ok(200));
        // An owner-triggered epoch pending at 130 moves the boundary.
        let p = EpochScheduleState { pending_epoch_at: 130, ..s };
        assert_eq!(predict_first_reveal_block(&p, 1), Ok(130));
        assert_eq!(predict_first_reveal_block(&state(0, 0, 0, 0, 5), 1), Err(ScheduleError::TempoIsZero));
    }

    #[test]
    fn legacy_boundaries_follow_netuid_and_tempo() {
        // tempo 360, netuid 1: epochs start where (block + 2) % 361 == 0.
        let s = RevealSchedule::Legacy { tempo: 360, current_block: 1000, netuid: 1, reveal_period_epochs: 1 };
        let b = s.first_reveal_block().unwrap();
        assert_eq!((b + 2) % 361, 0);
        assert!(b > 1000 && b <= 1000 + 361, "{b}");
    }
}
