//! Query embeddings: an in-memory LRU in front of the store's `text_embeddings` table, keyed by
//! `blake3(model key, normalised query)` so a query is embedded once per model, ever.
//!
//! Writing a new embedding to the store is a cache fill, not part of the answer: it goes to a
//! background writer that commits whatever has queued up within a few milliseconds as one
//! batch (one table version per batch, not per query), retries a failed commit (LanceDB refuses
//! commits when too many writers race), and logs what it finally could not write. A search
//! never fails, and never waits, because of a cache write.
//!
//! Reading is shaped by the same table: a look-up by key reads every data fragment, and each
//! write batch adds one. So the cache loads the keys the store holds for its model once, adds
//! the keys it queues, and reads the store only for a key it knows is there — a query nobody
//! asked before goes straight to the text tower. (Keys another process writes after that load
//! are not known here: such a query is embedded once more, which costs time, never
//! correctness.) The writer compacts the table every [`COMPACT_EVERY`] batches, so the
//! look-ups that do happen stay a few fragments wide.

use std::collections::HashSet;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lru::LruCache;
use parking_lot::Mutex;

use tokio::sync::mpsc;

use crate::counters::Counters;
use crate::index::{Store, StoreError, TextEmbeddingRow};
use crate::model::{ClipEmbedder, ModelError};

/// The text a query is cached under: cleaned like the tokenizer does, lower-cased.
pub fn normalize_query(q: &str) -> String {
    crate::model::preprocess_query(q)
}

pub fn cache_key(model_key: &str, query: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(model_key.as_bytes());
    h.update(&[0]);
    h.update(normalize_query(query).as_bytes());
    h.finalize().to_hex().to_string()
}

#[derive(Debug, thiserror::Error)]
pub enum TextCacheError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rows waiting for the writer; beyond this, new rows are dropped (and counted as failures):
/// the cache stays correct, it only forgets to persist.
const WRITE_QUEUE: usize = 4096;
/// Most rows in one commit.
const WRITE_BATCH: usize = 512;
/// Attempts per batch before its rows are given up (with a warning).
const WRITE_ATTEMPTS: u32 = 5;
/// How long the writer waits for more rows after the first of a batch: under load new queries
/// finish a few milliseconds apart, so a burst becomes a few commits instead of one per query.
const WRITE_LINGER: Duration = Duration::from_millis(20);
/// Write batches between compactions of the table's fragments.
pub const COMPACT_EVERY: u64 = 32;

/// A cache key as 32 bytes (the blake3 hash its hex spells).
type KeyBytes = [u8; 32];

fn key_bytes(hex_key: &str) -> Option<KeyBytes> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut out).ok().map(|()| out)
}

pub struct TextEmbeddingCache {
    lru: Mutex<LruCache<String, Arc<Vec<f32>>>>,
    store: Store,
    model: Arc<ClipEmbedder>,
    counters: Arc<Counters>,
    /// Started on the first write (inside the runtime that serves searches).
    writer: std::sync::OnceLock<mpsc::Sender<TextEmbeddingRow>>,
    /// Rows queued and not yet committed or given up.
    pending: Arc<AtomicUsize>,
    /// Text-tower runs at once (one per core): a burst of new queries queues here in arrival
    /// order instead of every request slowing every other down.
    tower: tokio::sync::Semaphore,
    /// Keys the store holds (loaded on first use) plus those queued since; `None` if the key
    /// list could not be read, and then every miss reads the store.
    stored: tokio::sync::OnceCell<Option<Mutex<HashSet<KeyBytes>>>>,
}

impl TextEmbeddingCache {
    pub fn new(store: Store, model: Arc<ClipEmbedder>, counters: Arc<Counters>, capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            lru: Mutex::new(LruCache::new(cap)),
            store,
            model,
            counters,
            writer: std::sync::OnceLock::new(),
            pending: Default::default(),
            tower: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            stored: tokio::sync::OnceCell::new(),
        }
    }

    /// The keys the store is known to hold for this model (read once).
    async fn stored_keys(&self) -> Option<&Mutex<HashSet<KeyBytes>>> {
        self.stored
            .get_or_init(|| async {
                match self.store.text_embedding_keys(self.model.key()).await {
                    Ok(keys) => Some(Mutex::new(keys.iter().filter_map(|k| key_bytes(k)).collect())),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not list stored query embeddings; every new query will read the store");
                        None
                    }
                }
            })
            .await
            .as_ref()
    }

    /// Whether the store may hold `key`: known there, or the key list is unavailable.
    async fn maybe_stored(&self, key: &str) -> bool {
        match (self.stored_keys().await, key_bytes(key)) {
            (Some(keys), Some(k)) => keys.lock().contains(&k),
            _ => true,
        }
    }

    /// Waits until every queued row is committed or given up (at most `limit`). Commands that
    /// exit after a search call this so the next process finds the embedding stored.
    pub async fn flush(&self, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.pending.load(Ordering::SeqCst) > 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        true
    }

    /// Queues a row for the background writer.
    fn persist(&self, row: TextEmbeddingRow) {
        let tx = self.writer.get_or_init(|| {
            let (tx, rx) = mpsc::channel(WRITE_QUEUE);
            tokio::spawn(write_loop(self.store.clone(), self.counters.clone(), self.pending.clone(), rx));
            tx
        });
        if let (Some(Some(keys)), Some(k)) = (self.stored.get(), key_bytes(&row.key)) {
            keys.lock().insert(k);
        }
        self.pending.fetch_add(1, Ordering::SeqCst);
        if tx.try_send(row).is_err() {
            self.pending.fetch_sub(1, Ordering::SeqCst);
            Counters::inc(&self.counters.text_cache_write_failures);
            tracing::warn!("query-embedding write queue is full; this embedding stays in memory only");
        }
    }

    /// The L2-normalised embedding of `query`: memory, then store, then the text tower.
    pub async fn get(&self, query: &str) -> Result<Arc<Vec<f32>>, TextCacheError> {
        let key = cache_key(self.model.key(), query);
        if let Some(e) = self.lru.lock().get(&key) {
            Counters::inc(&self.counters.text_cache_hits);
            return Ok(e.clone());
        }
        if self.maybe_stored(&key).await
            && let Some(e) = {
                Counters::inc(&self.counters.text_store_reads);
                self.store.text_embedding(&key).await?
            }
            && e.len() == self.model.dim()
        {
            Counters::inc(&self.counters.text_store_hits);
            let e = Arc::new(e);
            self.lru.lock().put(key, e.clone());
            return Ok(e);
        }
        let _turn = self.tower.acquire().await.map_err(|_| ModelError::TowerClosed)?;
        // Another request may have embedded the same query while this one waited.
        if let Some(e) = self.lru.lock().get(&key) {
            Counters::inc(&self.counters.text_cache_hits);
            return Ok(e.clone());
        }
        let model = self.model.clone();
        let q = query.to_string();
        let mut out = tokio::task::spawn_blocking(move || model.embed_texts(&[q.as_str()]))
            .await
            .map_err(ModelError::TextTask)??;
        let e = out.pop().ok_or(ModelError::NoTextEmbedding)?;
        Counters::inc(&self.counters.text_embeddings);
        let shared = Arc::new(e);
        self.lru.lock().put(key.clone(), shared.clone());
        self.persist(TextEmbeddingRow {
            key,
            model_key: self.model.key().to_string(),
            query: normalize_query(query),
            embedding: shared.as_ref().clone(),
        });
        Ok(shared)
    }
}

/// Commits queued rows in batches until every sender is gone.
async fn write_loop(
    store: Store,
    counters: Arc<Counters>,
    pending: Arc<AtomicUsize>,
    mut rx: mpsc::Receiver<TextEmbeddingRow>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    let mut batches_since_compaction = 0u64;
    while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let deadline = tokio::time::Instant::now() + WRITE_LINGER;
        while batch.len() < WRITE_BATCH {
            let room = WRITE_BATCH - batch.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut batch, room)).await {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
        let received = batch.len();
        // The same query embedded twice while its first write was queued: one row is enough.
        batch.sort_by(|a, b| a.key.cmp(&b.key));
        batch.dedup_by(|a, b| a.key == b.key);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match store.put_text_embeddings(&batch).await {
                Ok(()) => {
                    Counters::add(&counters.text_cache_writes, batch.len() as u64);
                    Counters::inc(&counters.text_cache_write_batches);
                    batches_since_compaction += 1;
                    break;
                }
                Err(e) if attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(error = %e, attempt, "query-embedding write failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
                Err(e) => {
                    Counters::add(&counters.text_cache_write_failures, batch.len() as u64);
                    tracing::warn!(error = %e, rows = batch.len(), "query embeddings not written to the store");
                    break;
                }
            }
        }
        batch.clear();
        pending.fetch_sub(received, Ordering::SeqCst);
        if batches_since_compaction >= COMPACT_EVERY {
            batches_since_compaction = 0;
            match store.compact_text_embeddings().await {
                Ok(()) => Counters::inc(&counters.text_cache_compactions),
                Err(e) => tracing::warn!(error = %e, "compacting the query-embedding table failed; retried later"),
            }
        }
    }
}
