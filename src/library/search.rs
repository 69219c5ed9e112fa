//! `Library::search`: candidates from the graph (and an exact scan of what it does not hold
//! yet), then intervals from each candidate video's exact timeline.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;

use crate::protocol::round_ms;

use super::copies::{self, CopyOf, CopyPairs, nearest_index};
use super::index::{CurrentIngests, LoadedIndex, current_videos};
use super::layout::IndexDir;
use super::period::RecordedRange;
use super::probe::Probe;
use super::{LibraryError, RefreshOptions, RefreshReport, refresh};
use crate::counters::Counters;
use crate::fingerprint::Fingerprint;
use crate::index::VideoRecord;
use crate::progress::ProgressHandle;
use crate::query::frame_cache::shorten_said;
use crate::query::{CURVE_BINS, Curve, Engine, SearchError, Speech};

/// A search of what is said looks for clips among its first `k` x this many matches (copies
/// as long are found among all of them).
const CLIP_WINDOW: usize = 4;

/// Most results one library search returns.
pub const MAX_LIBRARY_TOP_K: usize = 100;

/// A number of results in `1..=MAX_LIBRARY_TOP_K`, by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LibraryTopK(usize);

impl LibraryTopK {
    pub fn new(n: usize) -> Option<Self> {
        (1..=MAX_LIBRARY_TOP_K).contains(&n).then_some(Self(n))
    }
    pub fn get(self) -> usize {
        self.0
    }
}

impl Default for LibraryTopK {
    fn default() -> Self {
        Self(10)
    }
}

/// What to do with moments of videos that are copies of each other ([`super::copies`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Copies {
    /// A moment of a copy is listed under the better-ranked moment it repeats.
    #[default]
    Fold,
    /// Every copy's moments are results of their own.
    Keep,
}

/// Where candidates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Candidates {
    /// The graph, plus an exact scan of the videos it does not hold yet.
    #[default]
    Ann,
    /// Every video scanned exactly (the reference the graph's cost in quality is measured
    /// against, and what `--video` restrictions use).
    Exact,
}

#[derive(Debug, Clone)]
pub struct LibraryQuery {
    pub probe: Probe,
    pub top_k: LibraryTopK,
    /// Only these videos (searched exactly); empty: the whole library.
    pub videos: Vec<Fingerprint>,
    pub candidates: Candidates,
    pub copies: Copies,
    /// Only videos recorded in this range (open: every video, dated or not).
    pub recorded: RecordedRange,
}

impl LibraryQuery {
    pub fn new(probe: impl Into<Probe>, top_k: LibraryTopK) -> Self {
        Self {
            probe: probe.into(),
            top_k,
            videos: Vec::new(),
            candidates: Candidates::Ann,
            copies: Copies::Fold,
            recorded: RecordedRange::default(),
        }
    }
}

/// One moment somewhere in the library.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LibraryHit {
    pub rank: usize,
    pub fingerprint: Fingerprint,
    /// The path or URL the video was first ingested from.
    pub source: String,
    pub start: f64,
    pub end: f64,
    /// Cosine similarity between the query and the best-matching frame inside the interval
    /// (comparable across videos).
    pub score: f32,
    pub duration_s: f64,
    /// When the video was recorded (RFC 3339, UTC, in JSON), when its container says.
    #[serde(
        rename = "recorded_at",
        serialize_with = "super::period::serialize_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub recorded_at_ms: Option<i64>,
    /// What was said during the moment, for videos that were listened to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub said: Option<String>,
    /// For a search of what is said: where in `said` the words asked for are (bytes).
    #[serde(skip)]
    pub said_marks: Vec<std::ops::Range<usize>>,
    /// Whether anything was heard in the video at all (its transcript has subtitles to show).
    #[serde(skip)]
    pub speech: bool,
    /// The same moment in copies of this video (folded into this result).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<CopyOf>,
}

/// What a library search looked at.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LibraryStats {
    /// The index generation searched (None: no index; every video was scanned exactly).
    pub generation: Option<String>,
    pub videos_in_library: usize,
    pub ann_hits: usize,
    pub videos_scanned_exact: usize,
    pub candidate_videos: usize,
    pub embed_ms: f64,
    pub candidates_ms: f64,
    pub intervals_ms: f64,
    pub total_ms: f64,
    /// For [`Probe::Said`]: the videos with a transcript that holds speech (the ones searched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub videos_with_speech: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct LibraryAnswer {
    pub hits: Vec<LibraryHit>,
    pub stats: LibraryStats,
    /// For each video among the hits, the probe's relevance along the whole video (the page
    /// draws it: where else in that video the probe matches).
    pub curves: BTreeMap<Fingerprint, Curve>,
}

/// One graph neighbour, named by the video entry it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnHit {
    pub fingerprint: Fingerprint,
    pub ingest_id: String,
    pub similarity: f32,
}

/// What the graph proposes for one query.
#[derive(Debug, Clone, Default)]
pub struct AnnCandidates {
    pub generation: Option<String>,
    pub hits: Vec<AnnHit>,
    /// Videos the graph holds live (the others are scanned exactly).
    pub indexed: std::collections::HashSet<Fingerprint>,
}

/// Intervals proposed per candidate video before the cross-video ranking.
const PER_VIDEO: usize = 3;

/// Library search over one engine's store and model.
pub struct Library {
    engine: Arc<Engine>,
    root: PathBuf,
    dir: IndexDir,
    loaded: Mutex<Option<Arc<LoadedIndex>>>,
    /// Transcripts already read for `Probe::Said`, split into words.
    said: super::said::SaidCache,
    /// Beam width of the graph search (at least the number of neighbours asked for).
    pub ef_search: usize,
}

impl Library {
    pub fn new(engine: Arc<Engine>, root: &Path) -> Self {
        let dir = IndexDir::new(root, engine.model().key());
        Self {
            engine,
            root: root.to_path_buf(),
            dir,
            loaded: Mutex::new(None),
            said: Default::default(),
            ef_search: 256,
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Brings this model's index up to date with the store (see [`refresh`]).
    pub async fn refresh(
        &self,
        opts: &RefreshOptions,
        progress: &ProgressHandle,
    ) -> Result<RefreshReport, LibraryError> {
        refresh(self.engine.store(), self.engine.model().key(), &self.root, opts, progress).await
    }

    /// The live generation, reloaded when a writer has published a newer one.
    pub async fn index(&self) -> Result<Option<Arc<LoadedIndex>>, LibraryError> {
        let current = self.dir.current()?;
        let held = self.loaded.lock().clone();
        match (&current, &held) {
            (None, _) => return Ok(None),
            (Some(c), Some(h)) if *c == h.generation => return Ok(Some(h.clone())),
            _ => {}
        }
        let (dir, key) = (self.dir.clone(), self.engine.model().key().to_string());
        let loaded = tokio::task::spawn_blocking(move || LoadedIndex::load(&dir, &key)).await??.map(Arc::new);
        *self.loaded.lock() = loaded.clone();
        Ok(loaded)
    }

    /// The complete videos of this model in the store, newest first.
    pub async fn videos(&self) -> Result<Vec<VideoRecord>, LibraryError> {
        current_videos(self.engine.store(), self.engine.model().key()).await
    }

    /// The graph's `k` nearest vectors to `query` among live entries (videos whose store record
    /// still names the frames row the entry was built from), and which videos the graph holds
    /// live. `records` are the store's current videos ([`Library::videos`]).
    pub async fn ann_candidates(
        &self,
        query: &[f32],
        k: usize,
        records: &[VideoRecord],
    ) -> Result<AnnCandidates, LibraryError> {
        let mut out = AnnCandidates::default();
        let Some(ix) = self.index().await? else { return Ok(out) };
        if ix.manifest.dim != query.len() {
            return Ok(out);
        }
        out.generation = Some(ix.generation.clone());
        let ingests = CurrentIngests::of(records);
        let m = &ix.manifest;
        let live: Vec<bool> = m.videos.iter().map(|v| ingests.is_live(v)).collect();
        out.indexed = m.videos.iter().zip(&live).filter(|(_, l)| **l).map(|(v, _)| v.fingerprint).collect();
        if out.indexed.is_empty() {
            return Ok(out);
        }
        let accept = |id: usize| m.entry_of(id).is_some_and(|e| live[e]);
        let hits = ix.graph.search(query, k, self.ef_search.max(k), Some(&accept));
        Counters::inc(&self.engine.counters_handle().ann_searches);
        out.hits = hits
            .into_iter()
            .filter_map(|h| {
                let e = &m.videos[m.entry_of(h.id)?];
                Some(AnnHit { fingerprint: e.fingerprint, ingest_id: e.ingest_id.clone(), similarity: h.similarity })
            })
            .collect();
        Ok(out)
    }

    pub async fn search(&self, q: &LibraryQuery) -> Result<LibraryAnswer, LibraryError> {
        if let Probe::Text(text) = &q.probe {
            Engine::check_query(text)?;
        }
        if let Probe::Said(text) = &q.probe {
            return self.search_said(text, q).await;
        }
        let started = Instant::now();
        let counters = self.engine.counters_handle();
        Counters::inc(&counters.library_searches);
        let mut stats = LibraryStats::default();
        let records = self.videos().await?;
        stats.videos_in_library = records.len();
        let by_fp: HashMap<Fingerprint, &VideoRecord> = records.iter().map(|r| (r.fingerprint, r)).collect();

        let t = Instant::now();
        let query = self.probe_vector(&q.probe, &by_fp).await?;
        let speech = if q.probe.matches_speech() { Speech::Fuse } else { Speech::Ignore };
        stats.embed_ms = ms(t);

        let t = Instant::now();
        // Best cosine per video so far (the candidate ranking).
        let mut best: HashMap<Fingerprint, f32> = HashMap::new();
        let mut exact: Vec<&VideoRecord> = Vec::new();
        if !q.videos.is_empty() {
            for fp in &q.videos {
                let r = by_fp.get(fp).copied().ok_or(LibraryError::UnknownVideo(*fp))?;
                if q.recorded.contains(r.recorded_at_ms) {
                    exact.push(r);
                }
            }
        } else if q.candidates == Candidates::Exact || !q.recorded.is_open() {
            // A date range is a restriction like --video: the videos in it are scored exactly
            // (the graph would propose videos outside it and leave too few inside).
            exact.extend(records.iter().filter(|r| q.recorded.contains(r.recorded_at_ms)));
        } else {
            let k = (q.top_k.get() * 20).clamp(64, 1000);
            let found = self.ann_candidates(&query, k, &records).await?;
            stats.generation = found.generation;
            stats.ann_hits = found.hits.len();
            for h in found.hits {
                let b = best.entry(h.fingerprint).or_insert(f32::NEG_INFINITY);
                *b = b.max(h.similarity);
            }
            exact.extend(records.iter().filter(|r| !found.indexed.contains(&r.fingerprint)));
        }
        stats.videos_scanned_exact = exact.len();
        for r in &exact {
            let cached = self.engine.frames(r).await?;
            let tl = self.engine.timeline(r, &cached, &query, speech)?;
            let peak = tl.cosine.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            best.insert(r.fingerprint, peak);
        }
        Counters::add(&counters.videos_scanned_exact, exact.len() as u64);
        stats.candidates_ms = ms(t);

        let t = Instant::now();
        let mut ranked: Vec<(Fingerprint, f32)> = best.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(q.top_k.get().max(10));
        stats.candidate_videos = ranked.len();
        let segmenter = self.engine.options().segmenter;
        let mut hits = Vec::new();
        let mut curves = BTreeMap::new();
        for (fp, _) in ranked {
            let Some(r) = by_fp.get(&fp) else { continue };
            let cached = self.engine.frames(r).await?;
            let tl = self.engine.timeline(r, &cached, &query, speech)?;
            curves.insert(fp, Curve::pool(&tl.normalized, CURVE_BINS));
            for s in segmenter.propose(&tl.normalized, PER_VIDEO) {
                // "Moments like this one" leaves this one out.
                if let Probe::Moment { video, at_s } = q.probe
                    && video == fp
                    && (s.start..=s.end).contains(&at_s)
                {
                    continue;
                }
                let inside = tl.normalized.times.iter().zip(&tl.cosine).filter(|(t, _)| **t >= s.start && **t <= s.end);
                let score = inside.map(|(_, c)| *c).fold(f32::NEG_INFINITY, f32::max);
                let score = if score.is_finite() { score } else { nearest(&tl.normalized.times, &tl.cosine, s.start) };
                // Unit vectors' dot product can round past 1 (a picture of a stored frame).
                let score = score.clamp(-1.0, 1.0);
                hits.push(LibraryHit {
                    rank: 0,
                    fingerprint: fp,
                    source: r.source.clone(),
                    start: round_ms(s.start.max(0.0)),
                    end: round_ms(s.end.max(s.start).max(0.0)),
                    score,
                    duration_s: r.duration_s,
                    recorded_at_ms: r.recorded_at_ms,
                    said: cached.said_during(s.start, s.end),
                    said_marks: Vec::new(),
                    speech: cached.has_speech(),
                    copies: Vec::new(),
                });
            }
        }
        sort_hits(&mut hits);
        if q.copies == Copies::Fold {
            let mut videos: Vec<Fingerprint> = hits.iter().map(|h| h.fingerprint).collect();
            if let Probe::Moment { video, .. } = q.probe {
                videos.push(video);
            }
            let pairs = self.copy_pairs(&videos, &by_fp).await?;
            // "Moments like this one" leaves this one out of its copies too.
            if let Probe::Moment { video, at_s } = q.probe {
                hits.retain(|h| {
                    !pairs
                        .between(video, h.fingerprint)
                        .is_some_and(|s| (h.start..=h.end).contains(&(at_s + s.shift_s)))
                });
            }
            hits = fold(hits, &pairs, |_, _| true);
        }
        hits.truncate(q.top_k.get());
        for (i, h) in hits.iter_mut().enumerate() {
            h.rank = i + 1;
        }
        curves.retain(|fp, _| hits.iter().any(|h| h.fingerprint == *fp));
        stats.intervals_ms = ms(t);
        stats.total_ms = ms(started);
        Ok(LibraryAnswer { hits, stats, curves })
    }
}

impl Library {
    /// [`Probe::Said`]: the words in the transcripts the store's current records name.
    async fn search_said(&self, text: &str, q: &LibraryQuery) -> Result<LibraryAnswer, LibraryError> {
        Engine::check_query(text)?;
        let wanted = super::said::SaidQuery::new(text);
        if wanted.is_empty() {
            return Err(SearchError::QueryInvalid("no words to look for in what is said".into()).into());
        }
        let started = Instant::now();
        Counters::inc(&self.engine.counters_handle().library_searches);
        let records = self.videos().await?;
        let by_fp: HashMap<Fingerprint, &VideoRecord> = records.iter().map(|r| (r.fingerprint, r)).collect();
        for fp in &q.videos {
            by_fp.get(fp).ok_or(LibraryError::UnknownVideo(*fp))?;
        }
        // Nothing is scanned frame by frame: only `candidate_videos` (videos with a match) counts.
        let mut stats = LibraryStats { videos_in_library: records.len(), ..LibraryStats::default() };
        let mut hits = Vec::new();
        let counters = self.engine.counters_handle();
        let held = self.said.current(self.engine.store(), self.engine.model().key(), &records, &counters).await?;
        stats.videos_with_speech = Some(held.len());
        for t in held.iter().filter(|t| q.videos.is_empty() || q.videos.contains(&t.text.fingerprint)) {
            let r = by_fp[&t.text.fingerprint];
            if !q.recorded.contains(r.recorded_at_ms) {
                continue;
            }
            for m in super::said::matches(t, &wanted) {
                let start = round_ms((m.start_ms as f64 / 1000.0).max(0.0));
                let said = shorten_said(m.text.clone());
                // A shortened text keeps its beginning: marks inside it stay.
                let kept = if said == m.text { said.len() } else { said.len() - '…'.len_utf8() };
                let said_marks = m.marks.into_iter().filter(|r| r.end <= kept).collect();
                hits.push(LibraryHit {
                    rank: 0,
                    fingerprint: r.fingerprint,
                    source: r.source.clone(),
                    start,
                    end: round_ms((m.end_ms as f64 / 1000.0).max(start)),
                    score: m.score,
                    duration_s: r.duration_s,
                    recorded_at_ms: r.recorded_at_ms,
                    said: Some(said),
                    said_marks,
                    speech: true,
                    copies: Vec::new(),
                });
            }
        }
        sort_hits(&mut hits);
        if q.copies == Copies::Fold {
            // A copy's moment is the same words at the same time in a video as long; a clip's,
            // the same words in a shorter or longer video among the first matches. Only the
            // videos of such moments have their frames compared (most searches read none).
            let window = q.top_k.get() * CLIP_WINDOW;
            let same_words = |a: &LibraryHit, b: &LibraryHit| a.fingerprint != b.fingerprint && a.said == b.said;
            // Each match with its position (for the window), grouped by what was said, so
            // thousands of matches cost no quadratic scan.
            let copy_suspects = |(i, a): (usize, &LibraryHit), (j, b): (usize, &LibraryHit)| {
                same_words(a, b)
                    && ((copies::same_length(a.duration_s, b.duration_s) && (a.start - b.start).abs() <= 1.0)
                        || (i < window && j < window))
            };
            let mut by_text: HashMap<Option<&str>, Vec<(usize, &LibraryHit)>> = HashMap::new();
            for (i, h) in hits.iter().enumerate() {
                by_text.entry(h.said.as_deref()).or_default().push((i, h));
            }
            let suspects: Vec<Fingerprint> = by_text
                .values()
                .flat_map(|g| g.iter().filter(|a| g.iter().any(|b| copy_suspects(**a, *b))).map(|(_, h)| h.fingerprint))
                .collect();
            let pairs = self.copy_pairs(&suspects, &by_fp).await?;
            hits = fold(hits, &pairs, same_words);
        }
        hits.truncate(q.top_k.get());
        for (i, h) in hits.iter_mut().enumerate() {
            h.rank = i + 1;
        }
        stats.candidate_videos = hits.iter().map(|h| h.fingerprint).collect::<std::collections::HashSet<_>>().len();
        stats.total_ms = ms(started);
        stats.intervals_ms = stats.total_ms;
        Ok(LibraryAnswer { hits, stats, curves: BTreeMap::new() })
    }

    /// Which of `videos` hold the same footage as which (copies and clips,
    /// [`copies::same_footage_of`]), on frames a search has just cached.
    async fn copy_pairs(
        &self,
        videos: &[Fingerprint],
        by_fp: &HashMap<Fingerprint, &VideoRecord>,
    ) -> Result<CopyPairs, LibraryError> {
        let mut distinct: Vec<&VideoRecord> = videos.iter().filter_map(|fp| by_fp.get(fp).copied()).collect();
        distinct.sort_by_key(|r| r.fingerprint);
        distinct.dedup_by_key(|r| r.fingerprint);
        let mut pairs = CopyPairs::default();
        for (i, a) in distinct.iter().enumerate() {
            for b in &distinct[i + 1..] {
                if let Some(same) = copies::same_footage_of(&self.engine, a, b).await? {
                    pairs.add(a.fingerprint, b.fingerprint, same.shift_s, same.relation);
                }
            }
        }
        Ok(pairs)
    }

    /// The unit-length query vector a probe stands for.
    async fn probe_vector(
        &self,
        probe: &Probe,
        videos: &HashMap<Fingerprint, &VideoRecord>,
    ) -> Result<Arc<Vec<f32>>, LibraryError> {
        match probe {
            Probe::Text(text) => Ok(self.engine.embed_query(text).await?),
            Probe::Picture(p) => Ok(Arc::new(self.engine.embed_picture(p.image.clone()).await?)),
            Probe::Moment { video, at_s } => {
                let record = videos.get(video).ok_or(LibraryError::UnknownVideo(*video))?;
                let outside =
                    || LibraryError::MomentOutside { video: *video, at_s: *at_s, duration_s: record.duration_s };
                if !(at_s.is_finite() && *at_s >= 0.0 && *at_s <= record.duration_s.max(0.0) + 0.5) {
                    return Err(outside());
                }
                let cached = self.engine.frames(record).await?;
                let i = nearest_index(&cached.times_s, *at_s).ok_or_else(outside)?;
                Ok(Arc::new(cached.frames.row(i).to_vec()))
            }
            // `search` answers these from the transcripts before asking for a vector.
            Probe::Said(_) => Err(SearchError::QueryInvalid("words said are matched, not embedded".into()).into()),
        }
    }
}

/// Best first; ties by video, then time (a stable order for equal scores).
fn sort_hits(hits: &mut [LibraryHit]) {
    hits.sort_by(|a, b| {
        b.score.total_cmp(&a.score).then(a.fingerprint.cmp(&b.fingerprint)).then(a.start.total_cmp(&b.start))
    });
}

/// `hits` (best first) with each moment that repeats a better-ranked one in a copy or clip of
/// its video (`pairs`, the two moments `also` alike and [`copies::same_moment`]) listed under
/// it instead. Only the kept moments of a hit's copies are looked at, so a library without
/// copies costs one pass.
fn fold(hits: Vec<LibraryHit>, pairs: &CopyPairs, also: impl Fn(&LibraryHit, &LibraryHit) -> bool) -> Vec<LibraryHit> {
    let mut kept: Vec<LibraryHit> = Vec::with_capacity(hits.len());
    let mut kept_of: HashMap<Fingerprint, Vec<usize>> = HashMap::new();
    for h in hits {
        let repeated = pairs
            .of(h.fingerprint)
            .iter()
            .filter_map(|same| Some((same, kept_of.get(&same.other)?)))
            .flat_map(|(same, ks)| ks.iter().map(move |i| (same, *i)))
            .filter(|(same, i)| {
                let k = &kept[*i];
                also(k, &h)
                    && copies::same_moment((k.start, k.end), k.duration_s, (h.start, h.end), h.duration_s, same.shift_s)
            })
            .min_by_key(|(_, i)| *i);
        match repeated {
            Some((same, i)) => kept[i].copies.push(CopyOf {
                fingerprint: h.fingerprint,
                source: h.source,
                start: h.start,
                end: h.end,
                // What the folded video is to the kept one.
                relation: same.relation.reverse(),
            }),
            None => {
                kept_of.entry(h.fingerprint).or_default().push(kept.len());
                kept.push(h);
            }
        }
    }
    kept
}

fn nearest(times: &[f64], cosine: &[f32], t: f64) -> f32 {
    nearest_index(times, t).and_then(|i| cosine.get(i).copied()).unwrap_or(0.0)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}
