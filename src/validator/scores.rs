//! Moving scores per uid: `s ← α·step + (1 − α)·s` (α = 0.1 as in the reference), seeded from
//! the metagraph's incentives, following the metagraph as it grows, shrinks, or gives a uid to a
//! new hotkey.

use serde::{Deserialize, Serialize};

use crate::chain::Metagraph;

pub const DEFAULT_ALPHA: f64 = 0.1;

/// One uid's moving score, with the hotkey it belongs to: a score never follows a uid to the
/// next hotkey that registers on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UidScore {
    pub hotkey: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovingScores {
    pub alpha: f64,
    /// Indexed by uid.
    pub uids: Vec<UidScore>,
}

impl MovingScores {
    /// Scores seeded from the incentives the chain reports, as the reference does at start-up.
    pub fn seeded(metagraph: &Metagraph, alpha: f64) -> Self {
        let mut s = Self { alpha, uids: Vec::new() };
        s.sync(metagraph);
        s
    }

    /// Follows a new metagraph: new uids start from their incentive, uids whose hotkey changed
    /// restart from 0 (a new miner inherits nothing), uids beyond `n` are dropped.
    pub fn sync(&mut self, metagraph: &Metagraph) {
        let n = metagraph.neurons.iter().map(|x| x.uid as usize + 1).max().unwrap_or(0);
        let mut next = vec![UidScore { hotkey: String::new(), score: 0.0 }; n];
        for neuron in &metagraph.neurons {
            let slot = &mut next[neuron.uid as usize];
            slot.hotkey = neuron.hotkey.clone();
            slot.score = match self.uids.get(neuron.uid as usize) {
                Some(old) if old.hotkey == neuron.hotkey => old.score,
                Some(_) => 0.0,
                None => finite_unit(neuron.incentive),
            };
        }
        self.uids = next;
    }

    /// Folds one step's score into a uid's moving score.
    pub fn update(&mut self, uid: u16, step: f64) {
        if let Some(u) = self.uids.get_mut(uid as usize) {
            u.score = self.alpha * finite_unit(step) + (1.0 - self.alpha) * u.score;
        }
    }

    /// Zeroes a uid (a miner that failed the health sweep).
    pub fn zero(&mut self, uid: u16) {
        if let Some(u) = self.uids.get_mut(uid as usize) {
            u.score = 0.0;
        }
    }

    pub fn get(&self, uid: u16) -> f64 {
        self.uids.get(uid as usize).map_or(0.0, |u| u.score)
    }

    pub fn scores(&self) -> Vec<f64> {
        self.uids.iter().map(|u| u.score).collect()
    }
}

fn finite_unit(x: f64) -> f64 {
    if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::Neuron;

    fn mg(hotkeys: &[(&str, f64)]) -> Metagraph {
        Metagraph {
            netuid: 1,
            block: 0,
            neurons: hotkeys
                .iter()
                .enumerate()
                .map(|(i, (h, inc))| Neuron {
                    uid: i as u16,
                    hotkey: h.to_string(),
                    coldkey: String::new(),
                    stake: 0.0,
                    axon: None,
                    incentive: *inc,
                    validator_permit: false,
                    last_update: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn seeds_updates_and_follows_the_metagraph() {
        let mut s = MovingScores::seeded(&mg(&[("a", 0.5), ("b", 0.0)]), DEFAULT_ALPHA);
        assert_eq!(s.scores(), vec![0.5, 0.0]);
        s.update(0, 1.0);
        assert!((s.get(0) - 0.55).abs() < 1e-12);
        s.update(1, 1.0);
        assert!((s.get(1) - 0.1).abs() < 1e-12);
        // uid 1 changes hands, uid 2 appears with an incentive.
        s.sync(&mg(&[("a", 0.0), ("c", 0.9), ("d", 0.3)]));
        assert!((s.get(0) - 0.55).abs() < 1e-12, "same hotkey keeps its score");
        assert_eq!(s.get(1), 0.0, "a new hotkey on a uid starts from 0");
        assert_eq!(s.get(2), 0.3);
        s.sync(&mg(&[("a", 0.0)]));
        assert_eq!(s.uids.len(), 1);
        s.zero(0);
        assert_eq!(s.get(0), 0.0);
        s.update(9, 1.0); // unknown uid: ignored
        assert_eq!(s.uids.len(), 1);
    }
}
