//! `/metrics` in the Prometheus text format: requests by status and protocol code, cache hits
//! and misses per cache, latency histograms, requests in flight, and the engine's work counters.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::counters::Counters;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub status: u16,
    /// Protocol error code, or `OK`.
    pub code: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// `cached` (video already stored) or `cold` (ingested for this request).
    pub path: String,
}

/// The miner's metrics. Cheap to clone.
#[derive(Clone)]
pub struct MinerMetrics {
    registry: Arc<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub in_flight: Gauge,
    pub search_seconds: Family<StageLabels, Histogram>,
    pub ingest_seconds: Histogram,
}

/// Exposes the engine's counters at scrape time.
#[derive(Debug)]
struct EngineCollector(Arc<Counters>);

impl Collector for EngineCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let c = self.0.snapshot();
        let hits_misses = [
            (
                "chronoseek_video_cache_hits",
                "Searches whose video embeddings were already stored",
                c.searches.saturating_sub(c.videos_decoded),
            ),
            ("chronoseek_video_cache_misses", "Videos decoded and embedded for a search or ingest", c.videos_decoded),
            (
                "chronoseek_source_cache_hits",
                "Paths/URLs resolved to a fingerprint without fetching",
                c.source_cache_hits,
            ),
            ("chronoseek_text_cache_hits", "Query embeddings served from memory", c.text_cache_hits),
            ("chronoseek_text_store_hits", "Query embeddings served from the store", c.text_store_hits),
            ("chronoseek_text_store_reads", "Store look-ups of query embeddings", c.text_store_reads),
            ("chronoseek_text_cache_misses", "Queries run through the text tower", c.text_embeddings),
            ("chronoseek_result_cache_hits", "Searches answered from the result cache", c.result_cache_hits),
            ("chronoseek_downloads", "Video downloads", c.downloads),
            ("chronoseek_downloaded_bytes", "Bytes of video downloaded", c.bytes_downloaded),
            ("chronoseek_frames_decoded", "Frames decoded", c.frames_decoded),
            ("chronoseek_videos_refused", "Videos whose decoding failed or was refused", c.videos_refused),
            (
                "chronoseek_refusals_remembered",
                "Requests refused from memory of an earlier failure of the same bytes, without decoding",
                c.refusals_remembered,
            ),
            ("chronoseek_image_embeddings", "Frames embedded", c.image_embeddings),
            ("chronoseek_frames_reused", "Near-duplicate frames that reused the previous embedding", c.frames_reused),
        ];
        for (name, help, value) in hits_misses {
            let counter = ConstCounter::new(value);
            let metric = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            counter.encode(metric)?;
        }
        Ok(())
    }
}

impl MinerMetrics {
    pub fn new(counters: Arc<Counters>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("chronoseek_requests", "Search requests by HTTP status and protocol code", requests.clone());
        let in_flight = Gauge::default();
        registry.register("chronoseek_requests_in_flight", "Search requests being answered", in_flight.clone());
        let search_seconds = Family::<StageLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 20))
        });
        registry.register("chronoseek_search_seconds", "Search latency by path", search_seconds.clone());
        let ingest_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 16));
        registry.register(
            "chronoseek_ingest_seconds",
            "Fetch, decode and embed time of cold searches",
            ingest_seconds.clone(),
        );
        registry.register_collector(Box::new(EngineCollector(counters)));
        Self { registry: Arc::new(registry), requests, in_flight, search_seconds, ingest_seconds }
    }

    pub fn record(&self, status: u16, code: &str) {
        self.requests.get_or_create(&RequestLabels { status, code: code.to_string() }).inc();
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
