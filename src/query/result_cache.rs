//! Finished answers keyed by `(fingerprint, model, normalised query, top_k, segmenter)`: an
//! identical request is answered without touching the store.

use std::num::NonZeroUsize;

use lru::LruCache;
use parking_lot::Mutex;

use super::segment::Segment;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResultKey {
    pub fingerprint: String,
    pub model_key: String,
    pub query: String,
    pub top_k: usize,
    pub segmenter: &'static str,
    /// The transcript fused into the answer (a transcript added later is a new answer).
    pub transcript: Option<String>,
}

/// An LRU of answers; capacity 0 disables it (benchmarks measure the path behind it).
pub struct ResultCache {
    lru: Option<Mutex<LruCache<ResultKey, Vec<Segment>>>>,
}

impl ResultCache {
    pub fn new(capacity: usize) -> Self {
        Self { lru: NonZeroUsize::new(capacity).map(|c| Mutex::new(LruCache::new(c))) }
    }
    pub fn get(&self, key: &ResultKey) -> Option<Vec<Segment>> {
        self.lru.as_ref()?.lock().get(key).cloned()
    }
    pub fn put(&self, key: ResultKey, value: Vec<Segment>) {
        if let Some(lru) = &self.lru {
            lru.lock().put(key, value);
        }
    }
}
