//! `search()`: the miner's hot path. Resolve the video to a fingerprint (ingesting it if the
//! store does not have it), load its frame matrix, embed the query (cached), score the timeline,
//! propose segments, answer in the protocol's shape.

use std::sync::Arc;
use std::time::Instant;

use crate::progress::ProgressHandle;
use serde_json::{Map, Value, json};

use super::audio_fusion::{ScoredSegment, audio_curve, fuse};
use super::curve::Curve;
use super::frame_cache::{CachedFrames, FrameCache};
use super::result_cache::{ResultCache, ResultKey};
use super::segment::{SegmenterKind, Timeline};
use super::text_cache::{TextCacheError, TextEmbeddingCache, normalize_query};
use super::timeline::{cosine_timeline, min_max_normalize};
use crate::counters::{CounterSnapshot, Counters};
use crate::index::{Store, StoreError, VideoRecord};
use crate::ingest::{
    DecodeError, Fetcher, Fingerprint, IngestError, IngestOptions, IngestOutcome, Ingestor, VideoInput, VideoSource,
};
use crate::model::{ClipEmbedder, ModelError};
use crate::protocol::{ErrorCode, SearchResult, TopK};

pub use crate::protocol::MAX_QUERY_CHARS;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("invalid query: {0}")]
    QueryInvalid(String),
    #[error("no video with fingerprint {0} in the store")]
    UnknownFingerprint(Fingerprint),
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TextCacheError> for SearchError {
    fn from(e: TextCacheError) -> Self {
        match e {
            TextCacheError::Model(m) => Self::Model(m),
            TextCacheError::Store(s) => Self::Store(s),
        }
    }
}

impl SearchError {
    /// The protocol error code this failure is reported with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::QueryInvalid(_) => ErrorCode::QueryInvalid,
            Self::UnknownFingerprint(_) => ErrorCode::VideoFetchFailed,
            Self::Ingest(IngestError::Fetch(_)) => ErrorCode::VideoFetchFailed,
            Self::Ingest(IngestError::Decode(e)) => match **e {
                // The video may be fine; it cost more than this miner gives one video.
                DecodeError::OutOfTime { .. } => ErrorCode::Timeout,
                _ => ErrorCode::VideoUnreadable,
            },
            Self::Ingest(IngestError::ContentChanged { .. }) => ErrorCode::VideoFetchFailed,
            Self::Ingest(IngestError::Listen(_)) => ErrorCode::InferenceFailed,
            Self::Ingest(IngestError::Model(_)) | Self::Model(_) => ErrorCode::InferenceFailed,
            Self::Ingest(
                IngestError::Store(_)
                | IngestError::Task(_)
                | IngestError::DecoderPanicked
                | IngestError::Busy
                | IngestError::NoSpeechModel,
            )
            | Self::Store(_) => ErrorCode::InternalError,
        }
    }
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub ingest: IngestOptions,
    pub segmenter: SegmenterKind,
    pub text_cache_capacity: usize,
    pub result_cache_capacity: usize,
    /// Bytes of frame matrices kept in memory (0: every search reads the store).
    pub frame_cache_bytes: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            ingest: IngestOptions::default(),
            segmenter: SegmenterKind::default(),
            text_cache_capacity: 4096,
            result_cache_capacity: 4096,
            frame_cache_bytes: 256 << 20,
        }
    }
}

/// Where each millisecond of a search went.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StageTimings {
    pub resolve_ms: f64,
    pub ingest_ms: f64,
    pub load_frames_ms: f64,
    pub text_embed_ms: f64,
    pub score_ms: f64,
    pub segment_ms: f64,
    pub total_ms: f64,
}

/// A search's answer with what it cost.
#[derive(Debug, Clone)]
pub struct SearchAnswer {
    pub results: Vec<SearchResult>,
    pub video: VideoRecord,
    /// True when the video's embeddings were already stored (no decode, no image embedding).
    pub video_cached: bool,
    pub result_cached: bool,
    pub timings: StageTimings,
    pub counters: CounterSnapshot,
}

impl SearchAnswer {
    /// Extras for the response's `miner_metadata` (the only place the schema allows them).
    pub fn metadata(&self, model_name: &str, segmenter: SegmenterKind) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("cache".into(), json!(if self.video_cached { "hit" } else { "miss" }));
        m.insert("result_cache".into(), json!(if self.result_cached { "hit" } else { "miss" }));
        m.insert("fingerprint".into(), json!(self.video.fingerprint.to_hex()));
        m.insert("model".into(), json!(model_name));
        m.insert("segmenter".into(), json!(segmenter.name()));
        m.insert("frames".into(), json!(self.video.frame_count));
        // "fused": what is said raised the timeline; "none": listened to, nothing fused (no
        // speech, or no audio stream); "off": nobody listened to this video.
        let audio = match (&self.video.transcript_id, self.counters.audio_fused_searches) {
            (None, _) => "off",
            (Some(_), 0) if self.result_cached => "cached",
            (Some(_), 0) => "none",
            (Some(_), _) => "fused",
        };
        m.insert("audio".into(), json!(audio));
        m.insert("duration_s".into(), json!(self.video.duration_s));
        m.insert("timings_ms".into(), serde_json::to_value(&self.timings).unwrap_or(Value::Null));
        m
    }
}

/// The search engine: one store, one model, their caches and counters.
pub struct Engine {
    store: Store,
    model: Arc<ClipEmbedder>,
    ingestor: Ingestor,
    texts: TextEmbeddingCache,
    results: ResultCache,
    frames: FrameCache,
    counters: Arc<Counters>,
    opts: EngineOptions,
}

impl Engine {
    pub fn new(store: Store, model: Arc<ClipEmbedder>, fetcher: Fetcher, opts: EngineOptions) -> Self {
        let counters = Arc::new(Counters::default());
        let ingestor = Ingestor::new(store.clone(), model.clone(), fetcher, counters.clone(), opts.ingest.clone());
        let texts = TextEmbeddingCache::new(store.clone(), model.clone(), counters.clone(), opts.text_cache_capacity);
        let results = ResultCache::new(opts.result_cache_capacity);
        let frames = FrameCache::new(opts.frame_cache_bytes);
        Self { store, model, ingestor, texts, results, frames, counters, opts }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
    pub fn model(&self) -> &Arc<ClipEmbedder> {
        &self.model
    }
    pub fn ingestor(&self) -> &Ingestor {
        &self.ingestor
    }
    pub fn counters(&self) -> CounterSnapshot {
        self.counters.snapshot()
    }
    /// The live counters (for exporters that read them at scrape time).
    pub fn counters_handle(&self) -> Arc<Counters> {
        self.counters.clone()
    }
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// The cached, L2-normalised embedding of a query.
    pub async fn embed_query(&self, query: &str) -> Result<Arc<Vec<f32>>, SearchError> {
        Ok(self.texts.get(query).await?)
    }

    /// The L2-normalised embedding of a picture, through the image tower with CLIP's own
    /// preprocessing (a query, not a frame: not cached, counted as `picture_embeddings`).
    pub async fn embed_picture(&self, picture: crate::model::preprocess::RgbImage) -> Result<Vec<f32>, SearchError> {
        let model = self.model.clone();
        let mut out = tokio::task::spawn_blocking(move || model.embed_rgb_images(std::slice::from_ref(&picture)))
            .await
            .map_err(ModelError::PictureTask)??;
        Counters::inc(&self.counters.picture_embeddings);
        out.pop().ok_or(SearchError::Model(ModelError::NoPictureEmbedding))
    }

    /// Ingests a source (a no-op for content already stored).
    pub async fn ingest(&self, source: &VideoSource, progress: &ProgressHandle) -> Result<IngestOutcome, IngestError> {
        self.ingestor.ingest(source, progress).await
    }

    /// Finds the complete record for `video`: a fingerprint in the store, or a source that is
    /// ingested first if needed. Returns whether it was already stored.
    pub async fn resolve(
        &self,
        video: &VideoInput,
        progress: &ProgressHandle,
    ) -> Result<(VideoRecord, bool), SearchError> {
        match video {
            VideoInput::Stored(fp) => match self.store.video(fp, self.model.key()).await? {
                Some(r) => Ok((r, true)),
                None => Err(SearchError::UnknownFingerprint(*fp)),
            },
            VideoInput::Source(source) => match self.ingestor.ingest(source, progress).await? {
                IngestOutcome::AlreadyIngested(r) => Ok((r, true)),
                IngestOutcome::Ingested(r, _) => Ok((r, false)),
            },
        }
    }

    /// Waits (at most `limit`) until query embeddings computed so far are in the store. Call
    /// before a process that searched exits.
    pub async fn flush(&self, limit: std::time::Duration) -> bool {
        self.texts.flush(limit).await
    }

    /// Validates a query: non-empty after trimming, bounded length.
    pub fn check_query(query: &str) -> Result<(), SearchError> {
        if crate::protocol::query_is_blank(query) {
            return Err(SearchError::QueryInvalid("query is empty".into()));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::QueryInvalid(format!("query is longer than {MAX_QUERY_CHARS} characters")));
        }
        Ok(())
    }

    /// Ranked intervals where `query` happens in `video`.
    pub async fn search(
        &self,
        video: &VideoInput,
        query: &str,
        top_k: TopK,
        progress: &ProgressHandle,
    ) -> Result<SearchAnswer, SearchError> {
        Self::check_query(query)?;
        let started = Instant::now();
        let before = self.counters.snapshot();
        let mut timings = StageTimings::default();
        let input = video;
        let (mut video, mut video_cached) = self.resolve(input, progress).await?;
        let resolved = started.elapsed().as_secs_f64() * 1000.0;
        if video_cached {
            timings.resolve_ms = resolved;
        } else {
            timings.ingest_ms = resolved;
        }
        let answer = match self.search_record(&video, query, top_k, &mut timings).await {
            // Another process wrote this video again (a newer record) and removed the rows the
            // record read a moment ago named: search the newer record.
            Err(SearchError::Store(StoreError::MissingFrames(fp))) => {
                video = match (self.store.video(&fp, self.model.key()).await?, input) {
                    (Some(newer), _) => newer,
                    // Removed from the store since (`store remove`) while this process still
                    // remembered which video the source serves: fetch and ingest it again.
                    (None, VideoInput::Source(source)) => {
                        self.ingestor.forget_known(source);
                        let (again, cached) = self.resolve(input, progress).await?;
                        video_cached = cached;
                        again
                    }
                    (None, VideoInput::Stored(_)) => return Err(SearchError::UnknownFingerprint(fp)),
                };
                self.search_record(&video, query, top_k, &mut timings).await?
            }
            other => other?,
        };
        timings.total_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(SearchAnswer {
            results: answer.0,
            video,
            video_cached,
            result_cached: answer.1,
            timings,
            counters: self.counters.snapshot().since(&before),
        })
    }

    /// Search on a video already known to be complete.
    async fn search_record(
        &self,
        video: &VideoRecord,
        query: &str,
        top_k: TopK,
        timings: &mut StageTimings,
    ) -> Result<(Vec<SearchResult>, bool), SearchError> {
        Counters::inc(&self.counters.searches);
        let key = ResultKey {
            fingerprint: video.fingerprint.to_hex(),
            model_key: self.model.key().to_string(),
            query: normalize_query(query),
            top_k: top_k.get(),
            segmenter: self.opts.segmenter.name(),
            transcript: video.transcript_id.clone(),
        };
        if let Some(segments) = self.results.get(&key) {
            Counters::inc(&self.counters.result_cache_hits);
            return Ok((to_results(&segments), true));
        }
        let t = Instant::now();
        let cached = self.frames(video).await?;
        timings.load_frames_ms = ms(t);
        let t = Instant::now();
        let q = self.texts.get(query).await?;
        timings.text_embed_ms = ms(t);
        let t = Instant::now();
        let timeline = self.timeline(video, &cached, &q, Speech::Fuse)?;
        timings.score_ms = ms(t);
        let t = Instant::now();
        let segments = self.opts.segmenter.propose(&timeline.normalized, top_k.get());
        timings.segment_ms = ms(t);
        self.results.put(key, segments.clone());
        Ok((to_results(&segments), false))
    }
}

/// Whether a timeline also weighs what is said (BEHAVIOR.md step 5). Transcript segments are
/// embedded by the text tower, so only a query in words is comparable with them; a picture or a
/// stored frame is matched against frames alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speech {
    Fuse,
    Ignore,
}

/// One video's similarity curve for one query: the raw cosine per frame (comparable across
/// videos) and the min-max normalised timeline the segmenters read (comparable only within the
/// video).
pub struct ScoredTimeline {
    pub cosine: Vec<f32>,
    pub normalized: Timeline,
}

impl Engine {
    /// A complete video's frame matrix and the transcript its record names, through the
    /// in-memory frame cache (keyed by both: a transcript added later is a new entry).
    pub async fn frames(&self, video: &VideoRecord) -> Result<Arc<CachedFrames>, SearchError> {
        let key = CachedFrames::key(video);
        if let Some(c) = self.frames.get(&key) {
            Counters::inc(&self.counters.frame_cache_hits);
            return Ok(c);
        }
        let frames = self.store.load_frames(video).await?;
        Counters::inc(&self.counters.frame_loads);
        let transcript = match &video.transcript_id {
            Some(_) => {
                let t = self.store.transcript(video).await?;
                Counters::inc(&self.counters.transcript_loads);
                t
            }
            None => None,
        };
        let c = Arc::new(CachedFrames::new(frames).with_transcript(transcript));
        self.frames.put(&key, c.clone());
        Ok(c)
    }

    /// How well `query` (words) matches along the whole of `video`, in at most `bins` bins:
    /// the timeline a search on it reads, pooled (see [`Curve`]). Cheap after a search on the
    /// same video and words: the frames and the query's embedding are both cached.
    pub async fn curve(&self, video: &VideoRecord, query: &str, bins: usize) -> Result<Curve, SearchError> {
        Self::check_query(query)?;
        let cached = self.frames(video).await?;
        let q = self.texts.get(query).await?;
        let timeline = self.timeline(video, &cached, &q, Speech::Fuse)?;
        Ok(Curve::pool(&timeline.normalized, bins))
    }

    /// Scores every frame of `video` against a query embedding.
    pub fn timeline(
        &self,
        video: &VideoRecord,
        cached: &CachedFrames,
        query: &[f32],
        speech: Speech,
    ) -> Result<ScoredTimeline, SearchError> {
        let frames = &cached.frames;
        if query.len() != frames.dim {
            return Err(StoreError::Corrupt(format!(
                "stored frames have width {}, the model's queries {}",
                frames.dim,
                query.len()
            ))
            .into());
        }
        let cosine = cosine_timeline(frames, query);
        let change = self.opts.segmenter.needs_changes().then(|| cached.changes().to_vec());
        let visual = min_max_normalize(&cosine);
        // What is said raises the frames it is said over (BEHAVIOR.md step 5).
        let scores = match cached.speech() {
            Some(segments) if !segments.is_empty() && speech == Speech::Fuse => {
                let scored = segments
                    .iter()
                    .map(|s| {
                        if s.embedding.len() != query.len() {
                            return Err(StoreError::Corrupt(format!(
                                "stored transcript segments have width {}, the model's queries {}",
                                s.embedding.len(),
                                query.len()
                            )));
                        }
                        let cosine = s.embedding.iter().zip(query).map(|(a, b)| a * b).sum::<f32>();
                        Ok(ScoredSegment { start: s.start_ms as f64 / 1000.0, end: s.end_ms as f64 / 1000.0, cosine })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                Counters::inc(&self.counters.audio_fused_searches);
                fuse(&visual, &audio_curve(&cached.times_s, &scored))
            }
            _ => visual,
        };
        let hard_cuts_us = cached.frames.cuts_us.clone().unwrap_or_default();
        let turning = self.opts.segmenter.needs_changes().then(|| cached.turning_points().to_vec());
        let normalized = Timeline {
            times: cached.times_s.clone(),
            scores,
            duration: video.duration_s,
            change,
            hard_cuts_us,
            turning,
        };
        Ok(ScoredTimeline { cosine, normalized })
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Segments to wire results: rounded to milliseconds, clamped to the schema's ranges.
fn to_results(segments: &[super::segment::Segment]) -> Vec<SearchResult> {
    segments
        .iter()
        .map(|s| {
            let start = crate::protocol::round_ms(s.start.max(0.0));
            let end = crate::protocol::round_ms(s.end.max(s.start).max(0.0));
            SearchResult { start, end: end.max(start), confidence: (s.confidence.clamp(0.0, 1.0) * 1e6).round() / 1e6 }
        })
        .collect()
}
