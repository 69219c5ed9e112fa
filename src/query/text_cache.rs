//! Query embeddings: an in-memory LRU in front of the store's `text_embeddings` table, keyed by
//! `blake3(model key, normalised query)` so a query is embedded once per model, ever.
//!
//! Writing a new embedding to the store is a cache fill, not part of the answer: it goes to a
//! background writer that commits whatever has queued up as one batch (one table version per
//! batch, not per query), retries a failed commit (LanceDB refuses commits when too many
//! writers race), and logs what it finally could not write. A search never fails, and never
//! waits, because of a cache write.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
        if let Some(e) = self.store.text_embedding(&key).await?
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
    while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
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
    }
}
