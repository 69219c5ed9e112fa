//! How fast a loaded checkpoint embeds: frames per second through the image tower at a batch
//! size, the first batch's latency, and one query through the text tower.
//!
//! Synthetic frames only (no video, no store), so the numbers are the model's alone and the
//! same code path as `ingest` (one [`ClipEmbedder::embed_images`] call per batch) is measured.

use std::time::{Duration, Instant};

use super::{ClipEmbedder, ModelError};

/// Image-tower throughput at one batch size.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageRate {
    pub batch: usize,
    /// Frames embedded in the timed batches (after one warm-up batch).
    pub frames: usize,
    pub frames_per_s: f64,
    /// Wall time of the first (cold) batch, in milliseconds.
    pub first_batch_ms: f64,
}

/// Text-tower latency for one query.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TextLatency {
    pub runs: usize,
    pub p50_ms: f64,
    pub min_ms: f64,
}

/// Preprocessed pixels of `n` frames: smooth gradients that differ per frame (values in the
/// normalised range the tower sees after CLIP's preprocessing).
pub fn synthetic_pixels(model: &ClipEmbedder, n: usize, seed: usize) -> Vec<f32> {
    let s = model.image_size();
    let mut out = Vec::with_capacity(n * 3 * s * s);
    for i in 0..n {
        let phase = (seed + i) as f32 * 0.37;
        for c in 0..3 {
            for y in 0..s {
                for x in 0..s {
                    let v = ((x as f32 * 0.05 + phase).sin() + (y as f32 * 0.07 - c as f32).cos()) * 0.9;
                    out.push(v);
                }
            }
        }
    }
    out
}

/// Embeds one warm-up batch (timed as `first_batch_ms`), then batches until at least
/// `min_frames` frames and `min_time` have passed.
pub fn image_rate(
    model: &ClipEmbedder,
    batch: usize,
    min_frames: usize,
    min_time: Duration,
) -> Result<ImageRate, ModelError> {
    let batch = batch.max(1);
    let pixels = synthetic_pixels(model, batch, batch);
    let t = Instant::now();
    model.embed_images(&pixels, batch)?;
    let first_batch_ms = t.elapsed().as_secs_f64() * 1e3;
    let (mut frames, t) = (0, Instant::now());
    while frames < min_frames || t.elapsed() < min_time {
        let out = model.embed_images(&pixels, batch)?;
        frames += out.len();
    }
    Ok(ImageRate { batch, frames, frames_per_s: frames as f64 / t.elapsed().as_secs_f64(), first_batch_ms })
}

/// Embeds `query` once to warm up, then `runs` times.
pub fn text_latency(model: &ClipEmbedder, query: &str, runs: usize) -> Result<TextLatency, ModelError> {
    model.embed_texts(&[query])?;
    let mut ms = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        model.embed_texts(&[query])?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok(TextLatency { runs: ms.len(), p50_ms: ms[ms.len() / 2], min_ms: ms[0] })
}

/// How closely two loads of one checkpoint agree (f16 or q8 against f32, say): the smallest
/// cosine between their embeddings of the same synthetic frames and of the same queries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Agreement {
    pub frames: usize,
    pub min_image_cosine: f32,
    pub texts: usize,
    pub min_text_cosine: f32,
}

/// Queries for [`agreement`]: short, long, and a single character.
pub const AGREEMENT_QUERIES: [&str; 4] = [
    "a man jumps into the pool",
    "a red circle on a blue background",
    "the dog catches a frisbee in the park while children watch from a bench",
    "x",
];

/// Embeds `frames` synthetic frames and [`AGREEMENT_QUERIES`] with both models.
pub fn agreement(a: &ClipEmbedder, b: &ClipEmbedder, frames: usize) -> Result<Agreement, ModelError> {
    let frames = frames.max(1);
    let pixels = synthetic_pixels(a, frames, 1);
    let min_cos = |x: Vec<Vec<f32>>, y: Vec<Vec<f32>>| {
        x.iter().zip(&y).map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>()).fold(f32::INFINITY, f32::min)
    };
    let min_image_cosine = min_cos(a.embed_images(&pixels, frames)?, b.embed_images(&pixels, frames)?);
    let min_text_cosine = min_cos(a.embed_texts(&AGREEMENT_QUERIES)?, b.embed_texts(&AGREEMENT_QUERIES)?);
    Ok(Agreement { frames, min_image_cosine, texts: AGREEMENT_QUERIES.len(), min_text_cosine })
}
