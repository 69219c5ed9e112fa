//! The ingest pipeline: resolve a source to a fingerprint (cached), fetch, decode on one thread
//! while embedding batches on another, then write frames and the completion marker.
//!
//! Concurrent ingests of the same `(fingerprint, model)` share one run (single-flight): the
//! first caller does the work, the others wait and then find the video complete.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use crate::progress::ProgressHandle;

use super::{
    Deadline, DecodeError, FetchError, Fetcher, Fingerprint, LocalVideo, MediaTrust, NearDuplicate, SampledFrame,
    SamplerOptions, VideoSource, sample_frames,
};
use crate::counters::Counters;
use crate::index::{FrameMatrix, SourceRecord, Store, StoreError, VideoRecord, timestamp_now_ms};
use crate::model::{ClipEmbedder, ModelError};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Shared: a failure of the content is remembered and given again to the next caller of
    /// the same bytes (see [`IngestOptions::refusal_ttl`]).
    #[error(transparent)]
    Decode(Arc<DecodeError>),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("ingest task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("ingest task failed: the decoder thread panicked")]
    DecoderPanicked,
    #[error("too many videos are being ingested; try again shortly")]
    Busy,
    #[error(transparent)]
    Listen(#[from] super::ListenError),
    #[error("no speech model is loaded (--audio on, or --audio auto with the model available)")]
    NoSpeechModel,
    #[error("{origin} now has content {found}, not the stored video {expected}")]
    ContentChanged { origin: String, expected: Fingerprint, found: Fingerprint },
}

impl From<DecodeError> for IngestError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(Arc::new(e))
    }
}

/// Content failures remembered at most (the least recently seen are forgotten first).
const REMEMBERED_REFUSALS: std::num::NonZeroUsize = std::num::NonZeroUsize::new(4096).unwrap();

/// A decode of some bytes that failed because of what they hold or cost.
#[derive(Debug, Clone)]
struct Refusal {
    error: Arc<DecodeError>,
    at: Instant,
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub sampler: SamplerOptions,
    /// Frames per image-tower call.
    pub batch_size: usize,
    /// Near-duplicate consecutive frames reuse the last embedded frame's embedding
    /// (`None`: every sampled frame is embedded).
    pub dedup: Option<NearDuplicate>,
    /// Videos decoded and embedded at the same time (each uses every core).
    pub max_concurrent: usize,
    /// Cold ingests allowed to wait for a slot; beyond that new ones are refused as busy.
    pub max_queued: usize,
    /// How long a network source known to be stored is answered from memory without asking
    /// its origin. Past it the answer still comes from memory while one background request
    /// revalidates (HEAD: ETag, Last-Modified, length); a changed or unanswerable source is
    /// forgotten, so the next request fetches it again (and finds its content by fingerprint).
    pub source_ttl: Duration,
    /// Network sources remembered (least recently used are forgotten first).
    pub known_sources: usize,
    /// The speech model new videos are listened to with (`None`: visual only). A video
    /// without an audio stream is stored with a transcript saying so.
    pub audio: Option<Arc<super::Listener>>,
    /// How long one video's picture pass (decoding and embedding) may run, and then, apart,
    /// its listening: past it the picture pass fails with [`DecodeError::OutOfTime`]
    /// (`TIMEOUT`) and nothing is stored, and a listening pass leaves the video visual-only.
    /// The miner sets it (`--max-ingest-seconds`): the size and duration limits bound what a
    /// file may hold, not what its codec makes decoding cost. `None`: no limit.
    pub max_time: Option<Duration>,
    /// How long a decode that failed because of the content (unreadable, over a limit, out of
    /// time: [`DecodeError::is_of_the_content`]) is remembered by fingerprint: the same bytes
    /// asked for again within it get the same error without a decode or an ingest slot (and
    /// without a download when the source's validators are unchanged). A caller repeating an
    /// expensive bad video cannot keep the decoder busy.
    pub refusal_ttl: Duration,
}

impl Default for IngestOptions {
    fn default() -> Self {
        Self {
            sampler: SamplerOptions::default(),
            batch_size: 32,
            dedup: Some(NearDuplicate::DEFAULT),
            max_concurrent: 1,
            max_queued: 1024,
            source_ttl: Duration::from_secs(600),
            known_sources: 65_536,
            audio: None,
            max_time: None,
            refusal_ttl: Duration::from_secs(600),
        }
    }
}

/// A network source whose video is complete in the store.
#[derive(Debug, Clone)]
struct KnownSource {
    record: VideoRecord,
    /// What the origin said when the record was made (`None`: it gave no validator).
    validator: Option<String>,
    checked: Instant,
    revalidating: bool,
}

type KnownSources = Arc<parking_lot::Mutex<lru::LruCache<String, KnownSource>>>;

/// Timings and counts of one ingest that did work.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IngestStats {
    pub bytes: u64,
    pub frames_decoded: u64,
    /// Sampled frames run through the image tower.
    pub frames_embedded: u64,
    /// Sampled frames that reused the previous embedded frame's embedding (near-duplicates).
    pub frames_reused: u64,
    /// Hard cuts found at frame precision among the decoded frames (`ingest::cuts`).
    pub cuts: usize,
    pub fetch_secs: f64,
    pub decode_secs: f64,
    pub embed_secs: f64,
    /// Audio decoding, transcription and segment embedding (0 with audio off).
    pub listen_secs: f64,
    /// Transcript segments stored (`None`: not listened to).
    pub speech_segments: Option<usize>,
    /// Seconds of audio listened to (0 without an audio stream or with audio off).
    pub audio_secs: f64,
    pub total_secs: f64,
}

/// What [`Ingestor::ingest_with_transcript`] did about the transcript.
#[derive(Debug, Clone)]
pub enum TranscriptOutcome {
    /// The record already named a transcript (written at ingest or earlier).
    Present,
    /// A transcript was added to a stored video (its frames untouched).
    Added { segments: usize, listen_secs: f64 },
}

#[derive(Debug, Clone)]
pub enum IngestOutcome {
    /// The content was already in the store for this model: nothing was decoded or embedded.
    AlreadyIngested(VideoRecord),
    Ingested(VideoRecord, IngestStats),
}

impl IngestOutcome {
    pub fn record(&self) -> &VideoRecord {
        match self {
            Self::AlreadyIngested(r) | Self::Ingested(r, _) => r,
        }
    }
}

pub struct Ingestor {
    store: Store,
    model: Arc<ClipEmbedder>,
    fetcher: Fetcher,
    counters: Arc<Counters>,
    opts: IngestOptions,
    inflight: Gates<Fingerprint>,
    /// Running plus queued cold ingests.
    admission: Arc<tokio::sync::Semaphore>,
    /// Running cold ingests.
    running: Arc<tokio::sync::Semaphore>,
    /// Network sources answered from memory.
    known: KnownSources,
    /// One fetch per network source at a time: concurrent requests for one URL share it.
    fetching: Gates<String>,
    /// Bytes whose decode failed because of what they hold, by fingerprint.
    refusals: Arc<parking_lot::Mutex<lru::LruCache<Fingerprint, Refusal>>>,
}

impl Ingestor {
    pub fn new(
        store: Store,
        model: Arc<ClipEmbedder>,
        fetcher: Fetcher,
        counters: Arc<Counters>,
        opts: IngestOptions,
    ) -> Self {
        let running = opts.max_concurrent.max(1);
        let admission = Arc::new(tokio::sync::Semaphore::new(running.saturating_add(opts.max_queued)));
        let running = Arc::new(tokio::sync::Semaphore::new(running));
        let cap = std::num::NonZeroUsize::new(opts.known_sources.max(1)).unwrap_or(std::num::NonZeroUsize::MIN);
        let known = Arc::new(parking_lot::Mutex::new(lru::LruCache::new(cap)));
        Self {
            store,
            model,
            fetcher,
            counters,
            opts,
            inflight: Default::default(),
            admission,
            running,
            known,
            fetching: Default::default(),
            refusals: Arc::new(parking_lot::Mutex::new(lru::LruCache::new(REMEMBERED_REFUSALS))),
        }
    }

    /// The failure remembered for these bytes (`source` names them in the log), if it is
    /// recent enough, counted as given again.
    fn refused_again(&self, fp: &Fingerprint, source: &dyn std::fmt::Display) -> Option<IngestError> {
        let error = {
            let mut refusals = self.refusals.lock();
            match refusals.get(fp) {
                Some(r) if r.at.elapsed() < self.opts.refusal_ttl => r.error.clone(),
                Some(_) => {
                    refusals.pop(fp);
                    return None;
                }
                None => return None,
            }
        };
        Counters::inc(&self.counters.refusals_remembered);
        tracing::info!(source = %source, error = %error, "refused again: these bytes failed a moment ago");
        Some(IngestError::Decode(error))
    }

    pub fn options(&self) -> &IngestOptions {
        &self.opts
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The fingerprint of a source if the cache knows it and its validator still matches.
    pub async fn cached_fingerprint(&self, source: &VideoSource) -> Result<Option<Fingerprint>, IngestError> {
        let Some(validator) = self.fetcher.validator(source).await? else {
            return Ok(None);
        };
        let known = self.store.source(&source.cache_key()).await?;
        Ok(known.filter(|r| r.validator == validator).map(|r| r.fingerprint))
    }

    /// Makes sure the video behind `source` is in the store for the loaded model.
    ///
    /// A network source already known is answered from memory (no origin request, no store
    /// look-up); concurrent requests for one unknown network source share one fetch.
    pub async fn ingest(&self, source: &VideoSource, progress: &ProgressHandle) -> Result<IngestOutcome, IngestError> {
        if source.is_local() {
            return self.ingest_uncached(source, progress).await.map(|(o, _)| o);
        }
        let key = source.cache_key();
        if let Some(record) = self.known_hit(&key, source) {
            return Ok(IngestOutcome::AlreadyIngested(record));
        }
        let gate = self.fetching.lock().entry(key.clone()).or_default().clone();
        let result = async {
            let waited = gate.try_lock().is_err();
            let _guard = gate.lock().await;
            if let Some(record) = self.known_hit(&key, source) {
                if waited {
                    Counters::inc(&self.counters.source_fetch_shared);
                }
                return Ok(IngestOutcome::AlreadyIngested(record));
            }
            let (outcome, validator) = self.ingest_uncached(source, progress).await?;
            let known = KnownSource {
                record: outcome.record().clone(),
                validator,
                checked: Instant::now(),
                revalidating: false,
            };
            self.known.lock().put(key.clone(), known);
            Ok(outcome)
        }
        .await;
        release_gate(&self.fetching, &key, gate);
        result
    }

    /// Forgets which video a network source served (its video was removed from the store).
    pub fn forget_known(&self, source: &VideoSource) {
        self.known.lock().pop(&source.cache_key());
    }

    /// The remembered record of a network source; when it is older than the TTL, one
    /// background request revalidates it while this answer is served.
    fn known_hit(&self, key: &str, source: &VideoSource) -> Option<VideoRecord> {
        let mut known = self.known.lock();
        let entry = known.get_mut(key)?;
        Counters::inc(&self.counters.source_memory_hits);
        if entry.checked.elapsed() >= self.opts.source_ttl && !entry.revalidating {
            entry.revalidating = true;
            let expected = entry.validator.clone();
            let (known, fetcher, counters, source, key) =
                (self.known.clone(), self.fetcher.clone(), self.counters.clone(), source.clone(), key.to_string());
            tokio::spawn(async move {
                Counters::inc(&counters.source_revalidations);
                let now = fetcher.validator(&source).await;
                let mut known = known.lock();
                match now {
                    Ok(Some(v)) if Some(&v) == expected.as_ref() => {
                        if let Some(e) = known.get_mut(&key) {
                            e.checked = Instant::now();
                            e.revalidating = false;
                        }
                    }
                    other => {
                        tracing::debug!(source = %key, ?other, "known source changed or cannot be checked; forgetting it");
                        known.pop(&key);
                    }
                }
            });
        }
        Some(entry.record.clone())
    }

    /// The full path: validator, source cache, fetch, ingest. Returns the validator seen.
    async fn ingest_uncached(
        &self,
        source: &VideoSource,
        progress: &ProgressHandle,
    ) -> Result<(IngestOutcome, Option<String>), IngestError> {
        if matches!(source, VideoSource::Http(_)) {
            Counters::inc(&self.counters.source_revalidations);
        }
        let validator = self.fetcher.validator(source).await?;
        if let Some(v) = &validator
            && let Some(known) = self.store.source(&source.cache_key()).await?
            && &known.validator == v
        {
            if let Some(record) = self.store.video(&known.fingerprint, self.model.key()).await? {
                Counters::inc(&self.counters.source_cache_hits);
                return Ok((IngestOutcome::AlreadyIngested(record), validator));
            }
            // The source still serves bytes that failed a moment ago: not downloaded again.
            if let Some(refused) = self.refused_again(&known.fingerprint, source) {
                return Err(refused);
            }
        }
        // Refuse before downloading when no slot could be had anyway.
        if self.admission.available_permits() == 0 {
            return Err(IngestError::Busy);
        }
        let started = Instant::now();
        let local = self.fetcher.fetch(source).await?;
        match source {
            VideoSource::Http(_) | VideoSource::Platform(_) => {
                Counters::inc(&self.counters.downloads);
                Counters::add(&self.counters.bytes_downloaded, local.bytes);
            }
            VideoSource::File(_) => Counters::inc(&self.counters.files_hashed),
        }
        let fetch_secs = started.elapsed().as_secs_f64();
        if let Some(v) = &validator {
            self.store
                .put_source(&SourceRecord {
                    source: source.cache_key(),
                    validator: v.clone(),
                    fingerprint: local.fingerprint,
                })
                .await?;
        }
        let media = source.media_trust();
        let outcome = self.ingest_local_as(local, &source.to_string(), media, progress).await?;
        Ok((
            match outcome {
                IngestOutcome::Ingested(r, mut stats) => {
                    stats.fetch_secs = fetch_secs;
                    stats.total_secs = started.elapsed().as_secs_f64();
                    IngestOutcome::Ingested(r, stats)
                }
                other => other,
            },
            validator,
        ))
    }

    /// Ingests bytes already on disk (single-flight per fingerprint), decoding them as `media`
    /// allows.
    pub async fn ingest_local_as(
        &self,
        local: LocalVideo,
        label: &str,
        media: MediaTrust,
        progress: &ProgressHandle,
    ) -> Result<IngestOutcome, IngestError> {
        let fp = local.fingerprint;
        let gate = self.inflight.lock().entry(fp).or_default().clone();
        let result = async {
            let _guard = gate.lock().await;
            if let Some(record) = self.store.video(&fp, self.model.key()).await? {
                return Ok(IngestOutcome::AlreadyIngested(record));
            }
            if let Some(refused) = self.refused_again(&fp, &label) {
                return Err(refused);
            }
            let _admitted = self.admission.clone().try_acquire_owned().map_err(|_| IngestError::Busy)?;
            let _running = self.running.acquire().await.map_err(|_| IngestError::Busy)?;
            self.decode_embed_store(local, label, media, progress).await
        }
        .await;
        release_gate(&self.inflight, &fp, gate);
        result
    }

    async fn decode_embed_store(
        &self,
        local: LocalVideo,
        label: &str,
        media: MediaTrust,
        progress: &ProgressHandle,
    ) -> Result<IngestOutcome, IngestError> {
        let started = Instant::now();
        let model = self.model.clone();
        let counters = self.counters.clone();
        let mut sampler = self.opts.sampler.clone();
        sampler.size = model.image_size();
        sampler.trust = media;
        sampler.deadline = self.opts.max_time.map(Deadline::after);
        let batch_size = self.opts.batch_size.max(1);
        let dedup = self.opts.dedup;
        let progress = progress.clone();
        let path = local.path.clone();
        let span = tracing::info_span!("ingest", fingerprint = %fp_short(&local.fingerprint), source = label);
        let (frames, stats, sample) = tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            run_decode_embed(&path, &sampler, Batching { size: batch_size, dedup }, &model, &counters, &progress)
        })
        .await
        .map_err(IngestError::Task)?
        .inspect_err(|e| {
            if let IngestError::Decode(error) = e {
                Counters::inc(&self.counters.videos_refused);
                if error.is_of_the_content() {
                    let refusal = Refusal { error: error.clone(), at: Instant::now() };
                    self.refusals.lock().put(local.fingerprint, refusal);
                }
            }
        })?;
        let frames = thin(frames, &self.opts.sampler.plan, sample.fps, sample.duration_s);
        let listened = Instant::now();
        let transcript = match &self.opts.audio {
            None => None,
            Some(listener) => match self.listen(listener, &local.path, media, local.fingerprint).await {
                Ok(l) => Some(l),
                Err(e) => {
                    // The picture is worth storing without the sound; the video can be
                    // listened to later (`ingest --audio on`).
                    Counters::inc(&self.counters.audio_failures);
                    tracing::warn!(error = %e, source = label, "audio could not be transcribed; stored visual-only");
                    None
                }
            },
        };
        let listen_secs = if self.opts.audio.is_some() { listened.elapsed().as_secs_f64() } else { 0.0 };
        let mut record = VideoRecord {
            fingerprint: local.fingerprint,
            model_key: self.model.key().to_string(),
            ingest_id: unique_id(),
            duration_s: sample.duration_s,
            source_fps: sample.info.source_fps,
            width: sample.info.width,
            height: sample.info.height,
            frame_count: frames.len() as u32,
            sampling: self.opts.sampler.plan.label(),
            source: label.to_string(),
            created_at_ms: timestamp_now_ms(),
            transcript_id: None,
            recorded_at_ms: sample.info.recorded_at_ms,
        };
        let audio_secs = transcript.as_ref().map_or(0.0, |l| l.audio_secs);
        let transcript = transcript.map(|l| l.transcript);
        match &transcript {
            Some(t) => {
                record.transcript_id = Some(t.transcript_id.clone());
                self.store.put_video_with_transcript(&record, &frames, t).await?;
                Counters::inc(&self.counters.transcripts_stored);
            }
            None => self.store.put_video(&record, &frames).await?,
        }
        let stats = IngestStats {
            bytes: local.bytes,
            listen_secs,
            speech_segments: transcript.as_ref().map(|t| t.segments().len()),
            audio_secs,
            total_secs: started.elapsed().as_secs_f64(),
            ..stats
        };
        tracing::info!(frames = record.frame_count, secs = stats.total_secs, "ingested");
        Ok(IngestOutcome::Ingested(record, stats))
    }
}

impl Ingestor {
    /// Listens to a file on a blocking thread.
    async fn listen(
        &self,
        listener: &Arc<super::Listener>,
        path: &std::path::Path,
        media: MediaTrust,
        fingerprint: Fingerprint,
    ) -> Result<super::listen::Listened, IngestError> {
        let (listener, path, model, counters) =
            (listener.clone(), path.to_path_buf(), self.model.clone(), self.counters.clone());
        let audio = super::audio::AudioOptions {
            trust: media,
            max_seconds: self.opts.sampler.max_duration_s,
            deadline: self.opts.max_time.map(Deadline::after),
        };
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _enter = span.enter();
            listener.listen(&path, audio, fingerprint, &model, &counters)
        })
        .await
        .map_err(IngestError::Task)?
        .map_err(IngestError::from)
    }

    /// [`Ingestor::ingest`], then makes sure the record names a transcript: a stored video
    /// nobody listened to is listened to now and gets one, its frames untouched (no decode of
    /// the picture, no image embedding). Needs a speech model (`IngestOptions::audio`).
    pub async fn ingest_with_transcript(
        &self,
        source: &VideoSource,
        progress: &ProgressHandle,
    ) -> Result<(IngestOutcome, TranscriptOutcome), IngestError> {
        let listener = self.opts.audio.clone().ok_or(IngestError::NoSpeechModel)?;
        let outcome = self.ingest(source, progress).await?;
        let record = outcome.record().clone();
        if record.transcript_id.is_some() {
            return Ok((outcome, TranscriptOutcome::Present));
        }
        let fp = record.fingerprint;
        let gate = self.inflight.lock().entry(fp).or_default().clone();
        let result = async {
            let _guard = gate.lock().await;
            // Another caller may have listened while this one waited.
            let current = self.store.video(&fp, self.model.key()).await?.unwrap_or(record);
            if current.transcript_id.is_some() {
                return Ok((IngestOutcome::AlreadyIngested(current), TranscriptOutcome::Present));
            }
            let started = Instant::now();
            let local = self.fetcher.fetch(source).await?;
            if local.fingerprint != fp {
                return Err(IngestError::ContentChanged {
                    origin: source.to_string(),
                    expected: fp,
                    found: local.fingerprint,
                });
            }
            let media = source.media_trust();
            let transcript = self.listen(&listener, &local.path, media, fp).await?.transcript;
            let updated = self.store.put_transcript(&current, &transcript).await?;
            Counters::inc(&self.counters.transcripts_stored);
            // A network source remembered in memory now answers with the new record.
            if !source.is_local()
                && let Some(k) = self.known.lock().get_mut(&source.cache_key())
            {
                k.record = updated.clone();
            }
            let added = TranscriptOutcome::Added {
                segments: transcript.segments().len(),
                listen_secs: started.elapsed().as_secs_f64(),
            };
            Ok((IngestOutcome::AlreadyIngested(updated), added))
        }
        .await;
        release_gate(&self.inflight, &fp, gate);
        result
    }
}

/// A single-flight gate per key: whoever holds its lock does the work, the others wait on it.
type Gates<K> = parking_lot::Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>;

/// Drops `gate` and forgets it once nobody else holds it (the map's own copy and ours are the
/// last two).
fn release_gate<K: std::hash::Hash + Eq>(gates: &Gates<K>, key: &K, gate: Arc<tokio::sync::Mutex<()>>) {
    let mut gates = gates.lock();
    if gates.get(key).is_some_and(|g| Arc::strong_count(g) <= 2) {
        gates.remove(key);
    }
    drop(gate);
}

fn fp_short(fp: &Fingerprint) -> String {
    fp.to_hex()[..12].to_string()
}

/// An opaque id unlikely to repeat (time, process and thread hashed): names an ingest's frames
/// row, and serves as a request id for clients.
pub fn unique_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut h = blake3::Hasher::new();
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&format!("{:?}", std::thread::current().id()).into_bytes());
    h.finalize().to_hex()[..24].to_string()
}

/// Applies an adaptive plan's rate once the real duration is known (videos whose header has no
/// duration are sampled at the densest rate first).
fn thin(frames: FrameMatrix, plan: &super::SamplingPlan, sampled_fps: f64, duration_s: f64) -> FrameMatrix {
    let step = plan.thinning_step(sampled_fps, duration_s);
    if step <= 1 {
        return frames;
    }
    let mut out = FrameMatrix::new(frames.dim);
    for i in (0..frames.len()).step_by(step) {
        out.push(frames.timestamps_ms[i], frames.row(i));
    }
    out.cuts_us = frames.cuts_us;
    out
}

/// How sampled frames are grouped for the image tower.
#[derive(Debug, Clone, Copy)]
struct Batching {
    /// Frames per tower call.
    size: usize,
    dedup: Option<NearDuplicate>,
}

/// Sampled frames waiting for the tower, in time order; near-duplicates hold no pixels.
struct Pending {
    /// Timestamp and whether the frame reuses the previous embedding.
    entries: Vec<(i64, bool)>,
    /// Pixels of the frames to embed, end to end.
    pixels: Vec<f32>,
    unique: usize,
}

/// Decodes on a second thread while this one embeds full batches.
fn run_decode_embed(
    path: &std::path::Path,
    sampler: &SamplerOptions,
    batching: Batching,
    model: &ClipEmbedder,
    counters: &Counters,
    progress: &ProgressHandle,
) -> Result<(FrameMatrix, IngestStats, super::SampleStats), IngestError> {
    let info = super::probe_as(path, sampler.trust)?;
    let fps = sampler.plan.fps_for(info.duration_s);
    if let Some(d) = info.duration_s {
        progress.set_length((d * fps).ceil().max(1.0) as u64);
    }
    let batch_size = batching.size.max(1);
    // Room for two batches: the decoder keeps working while a batch is in the tower.
    let (tx, rx) = sync_channel::<SampledFrame>(batch_size * 2);
    let mut frames = FrameMatrix::new(model.dim());
    let mut embed_secs = 0.0;
    let (mut embedded, mut reused) = (0u64, 0u64);
    let size = model.image_size();
    let plane = 3 * size * size;
    let sample = std::thread::scope(|scope| -> Result<super::SampleStats, IngestError> {
        let decoder = scope.spawn(move || {
            let r = sample_frames(path, sampler, |f| tx.send(f).is_ok());
            drop(tx);
            r
        });
        let mut pending = Pending {
            entries: Vec::with_capacity(batch_size),
            pixels: Vec::with_capacity(batch_size * plane),
            unique: 0,
        };
        let mut flush = |p: &mut Pending| -> Result<(), IngestError> {
            if p.entries.is_empty() {
                return Ok(());
            }
            let emb = if p.unique > 0 {
                let t0 = Instant::now();
                let emb = model.embed_images(&p.pixels, p.unique)?;
                embed_secs += t0.elapsed().as_secs_f64();
                emb
            } else {
                Vec::new()
            };
            let mut rows = emb.iter();
            for &(t, reuse) in &p.entries {
                if reuse && !frames.is_empty() {
                    let last = frames.row(frames.len() - 1).to_vec();
                    frames.push(t, &last);
                } else if let Some(e) = rows.next() {
                    frames.push(t, e);
                }
            }
            let n_reused = (p.entries.len() - p.unique) as u64;
            embedded += p.unique as u64;
            reused += n_reused;
            Counters::add(&counters.image_embeddings, p.unique as u64);
            Counters::add(&counters.frames_reused, n_reused);
            progress.inc(p.entries.len() as u64);
            p.entries.clear();
            p.pixels.clear();
            p.unique = 0;
            Ok(())
        };
        let mut reference: Option<Vec<f32>> = None;
        let mut failure = None;
        for f in rx.iter() {
            let duplicate = match (&batching.dedup, &reference) {
                (Some(d), Some(r)) => d.is_duplicate(r, &f.pixels),
                _ => false,
            };
            pending.entries.push((f.t_ms, duplicate));
            if !duplicate {
                pending.pixels.extend_from_slice(&f.pixels);
                pending.unique += 1;
                reference = Some(f.pixels);
            }
            // A long still shot is flushed too, so progress and memory stay bounded.
            if (pending.unique == batch_size || pending.entries.len() >= 8 * batch_size)
                && let Err(e) = flush(&mut pending)
            {
                failure = Some(e);
                break;
            }
        }
        // Dropping the receiver makes the decoder stop at its next frame.
        drop(rx);
        let decoded = decoder.join().map_err(|_| IngestError::DecoderPanicked)?;
        if let Some(e) = failure {
            return Err(e);
        }
        // The last frames are embedded only for a video the decoder accepted whole: a refused
        // one (too long, corrupt) costs no more of the image tower.
        let decoded = decoded?;
        flush(&mut pending)?;
        Ok(decoded)
    })?;
    Counters::inc(&counters.videos_decoded);
    Counters::add(&counters.frames_decoded, sample.frames_decoded);
    frames.cuts_us = Some(sample.cuts_us.clone());
    progress.set_length(embedded + reused);
    progress.set_position(embedded + reused);
    if reused > 0 {
        tracing::debug!(embedded, reused, "near-duplicate frames reused the previous embedding");
    }
    let stats = IngestStats {
        frames_decoded: sample.frames_decoded,
        frames_embedded: embedded,
        frames_reused: reused,
        cuts: sample.cuts_us.len(),
        decode_secs: sample.decode_secs,
        embed_secs,
        ..Default::default()
    };
    Ok((frames, stats, sample))
}
