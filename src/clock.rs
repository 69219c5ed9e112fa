//! Wall-clock time as the wire and the stores spell it: milliseconds since the Unix epoch.

/// Milliseconds since the Unix epoch (0 if the clock reads before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
