//! Progress of long work (ingesting a video, running an evaluation), reported through a trait
//! so the library does not decide how it is shown: the CLI draws bars, servers and tests show
//! nothing.

use std::sync::Arc;

/// Receives progress; every method has a do-nothing default.
pub trait Progress: Send + Sync {
    /// The total is known (or has changed).
    fn set_length(&self, _len: u64) {}
    /// Absolute position.
    fn set_position(&self, _pos: u64) {}
    /// `delta` more units done.
    fn inc(&self, _delta: u64) {}
    /// What is being worked on now.
    fn set_message(&self, _message: &str) {}
}

/// Shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A shared handle to a progress sink.
pub type ProgressHandle = Arc<dyn Progress>;

/// A handle that shows nothing.
pub fn silent() -> ProgressHandle {
    Arc::new(NoProgress)
}
