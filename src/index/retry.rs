//! Commits that lost a race, tried again. LanceDB commits a table version optimistically; when
//! another writer committed first and the two cannot be rebased (two schema changes, two
//! deletes of the same rows), it refuses with a commit conflict that may be retried on the new
//! version. Several processes on one store — replicas and ingest workers on object storage, or
//! two first opens migrating a new store — meet it; every write of ours goes through
//! [`retrying`].

use std::future::Future;
use std::time::Duration;

/// Attempts before the conflict is returned.
const ATTEMPTS: u32 = 12;

/// Whether LanceDB says another writer's commit pre-empted this one.
pub fn is_commit_conflict(e: &lancedb::Error) -> bool {
    matches!(
        e,
        lancedb::Error::Lance {
            source: lance_core::Error::RetryableCommitConflict { .. } | lance_core::Error::CommitConflict { .. }
        }
    )
}

/// Runs `op` until it succeeds, fails otherwise than by a commit conflict, or has had
/// [`ATTEMPTS`] tries; waits 10 ms, doubling to at most 1 s, with jitter between tries so racing
/// writers spread out.
pub async fn retrying<T, Fut>(what: &str, mut op: impl FnMut() -> Fut) -> Result<T, lancedb::Error>
where
    Fut: Future<Output = Result<T, lancedb::Error>>,
{
    let mut delay = Duration::from_millis(10);
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if is_commit_conflict(&e) && attempt < ATTEMPTS => {
                tracing::debug!(what, attempt, error = %e, "commit pre-empted by another writer; retrying");
                let jitter = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::from(d.subsec_nanos()) % (delay.as_millis() as u64 + 1));
                tokio::time::sleep(delay + Duration::from_millis(jitter)).await;
                delay = (delay * 2).min(Duration::from_secs(1));
                attempt += 1;
            }
            r => return r,
        }
    }
}
