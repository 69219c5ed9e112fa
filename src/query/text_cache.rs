//! Query embeddings: an in-memory LRU in front of the store's `text_embeddings` table, keyed by
//! `blake3(model key, normalised query)` so a query is embedded once per model, ever.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;
use parking_lot::Mutex;

use crate::counters::Counters;
use crate::index::{Store, StoreError};
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

pub struct TextEmbeddingCache {
    lru: Mutex<LruCache<String, Arc<Vec<f32>>>>,
    store: Store,
    model: Arc<ClipEmbedder>,
    counters: Arc<Counters>,
}

impl TextEmbeddingCache {
    pub fn new(store: Store, model: Arc<ClipEmbedder>, counters: Arc<Counters>, capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self { lru: Mutex::new(LruCache::new(cap)), store, model, counters }
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
        let model = self.model.clone();
        let q = query.to_string();
        let mut out = tokio::task::spawn_blocking(move || model.embed_texts(&[q.as_str()]))
            .await
            .map_err(|e| ModelError::Inference(format!("text task: {e}")))??;
        let e = out.pop().ok_or_else(|| ModelError::Inference("no text embedding returned".into()))?;
        Counters::inc(&self.counters.text_embeddings);
        self.store.put_text_embedding(&key, self.model.key(), &normalize_query(query), &e).await?;
        let e = Arc::new(e);
        self.lru.lock().put(key, e.clone());
        Ok(e)
    }
}
