//! Work counters the library exposes, so tests (and `/metrics`) can prove what a request did —
//! e.g. that a repeat search decoded nothing and embedded no image — without timing anything.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde::Serialize;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Live counters, shared by every part of one engine.
        #[derive(Debug, Default)]
        pub struct Counters { $($(#[$doc])* pub $name: AtomicU64,)* }

        /// A copy of the counters at one moment.
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
        pub struct CounterSnapshot { $($(#[$doc])* pub $name: u64,)* }

        impl Counters {
            pub fn snapshot(&self) -> CounterSnapshot {
                CounterSnapshot { $($name: self.$name.load(Relaxed),)* }
            }
        }

        impl CounterSnapshot {
            /// What happened between `earlier` and `self`.
            pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
                CounterSnapshot { $($name: self.$name.saturating_sub(earlier.$name),)* }
            }
        }
    };
}

counters! {
    /// HTTP downloads of video bytes.
    downloads,
    /// Bytes received by those downloads.
    bytes_downloaded,
    /// Local files read to fingerprint them.
    files_hashed,
    /// Source (path/URL) look-ups answered from the fingerprint cache.
    source_cache_hits,
    /// Videos decoded with ffmpeg.
    videos_decoded,
    /// Frames the decoder produced (kept or not).
    frames_decoded,
    /// Videos whose decoding failed (unreadable, over a limit, out of time).
    videos_refused,
    /// Ingests refused from memory of an earlier content failure of the same bytes, without
    /// decoding (`IngestOptions::refusal_ttl`).
    refusals_remembered,
    /// Frames run through the image tower.
    image_embeddings,
    /// Sampled frames that reused the previous frame's embedding (near-duplicates).
    frames_reused,
    /// Queries run through the text tower.
    text_embeddings,
    /// Query pictures (library search by picture) run through the image tower.
    picture_embeddings,
    /// Query embeddings served from the in-memory LRU.
    text_cache_hits,
    /// Query embeddings served from the store.
    text_store_hits,
    /// Store look-ups of a query embedding (made only for keys the store is known to hold).
    text_store_reads,
    /// Frame matrices read from the store.
    frame_loads,
    /// Frame matrices served from the in-memory frame cache.
    frame_cache_hits,
    /// Searches answered from the result cache.
    result_cache_hits,
    /// Searches answered.
    searches,
    /// Origin requests (HEAD) made to check that a known URL still has the same content.
    source_revalidations,
    /// Known network sources answered from memory (no origin request, no store look-up).
    source_memory_hits,
    /// Requests that waited for another request's fetch of the same source instead of
    /// downloading it again.
    source_fetch_shared,
    /// Query embeddings written to the store (in batches).
    text_cache_writes,
    /// Commits of those batches.
    text_cache_write_batches,
    /// Query embeddings that could not be written (logged; the search still answered).
    text_cache_write_failures,
    /// Compactions of the query-embedding table's fragments by the writer.
    text_cache_compactions,
    /// Library searches answered.
    library_searches,
    /// Library searches whose candidates came from the ANN graph.
    ann_searches,
    /// Videos whose every frame a library search scored exactly (not in the graph yet, or an
    /// exact search).
    videos_scanned_exact,
    /// Audio streams decoded to 16 kHz for the speech model.
    audio_decodes,
    /// 30-s windows the speech model's encoder ran on.
    whisper_windows,
    /// Tokens the speech model's decoder produced.
    whisper_tokens,
    /// Transcript segments whose text ran through the CLIP text tower.
    segment_embeddings,
    /// Transcripts written to the store (a file without audio writes one too, saying so).
    transcripts_stored,
    /// Videos whose audio could not be listened to (logged; the video was stored visual-only).
    audio_failures,
    /// Transcripts read from the store.
    transcript_loads,
    /// Searches whose timeline fused a transcript.
    audio_fused_searches,
    /// Scans of every transcript's words for a search of what is said (once, then held).
    said_transcript_scans,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}
