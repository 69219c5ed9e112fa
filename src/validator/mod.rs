//! The validator: tasks and (in later parts) the miner client, scoring and the weight loop.

pub mod tasks;
