//! The metagraph: the subnet's neurons as the chain reports them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Where a neuron serves (`0.0.0.0` on chain means not served, which is `None` here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axon {
    pub ip: IpAddr,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Neuron {
    pub uid: u16,
    pub hotkey: String,
    #[serde(default)]
    pub coldkey: String,
    /// Stake in TAO.
    #[serde(default)]
    pub stake: f64,
    #[serde(default)]
    pub axon: Option<Axon>,
    #[serde(default)]
    pub incentive: f64,
    #[serde(default)]
    pub validator_permit: bool,
    #[serde(default)]
    pub last_update: u64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metagraph {
    pub netuid: u16,
    #[serde(default)]
    pub block: u64,
    #[serde(default)]
    pub neurons: Vec<Neuron>,
}

impl Metagraph {
    /// The stake of a hotkey; 0 for hotkeys not registered on the subnet.
    pub fn stake_of(&self, hotkey: &str) -> f64 {
        self.neurons.iter().find(|n| n.hotkey == hotkey).map(|n| n.stake).unwrap_or(0.0)
    }

    pub fn neuron(&self, hotkey: &str) -> Option<&Neuron> {
        self.neurons.iter().find(|n| n.hotkey == hotkey)
    }
}
