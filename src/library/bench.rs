//! `chronoseek library bench`: the approximate stage measured on its own, side by side with an
//! exact scan and LanceDB's IVF_PQ index, on the same synthetic vectors.
//!
//! The vectors imitate a library's frame embeddings, which vary along few directions (CLIP
//! embeddings of one video's frames lie near a low-dimensional set, not in a 512-d ball):
//! `clusters` random unit directions (one per "video"), each with its own random
//! `SUBSPACE`-dimensional subspace; a vector is its cluster's centre plus a Gaussian step in
//! that subspace (scaled so its cosine with the centre is about 0.8) plus a little isotropic
//! noise (cosine about 0.99), re-normalised. Queries are drawn the same way with much more
//! isotropic noise (cosine about 0.5 with the centre), as text embeddings sit further from the
//! images they describe. Recall@k is measured against the exact top-k of the same vectors.

use std::path::Path;
use std::time::Instant;

use chronoseek_ann::{Graph, GraphParams, Hit, exact_top_k};
use rand::{Rng, SeedableRng, rngs::StdRng};
use rayon::prelude::*;
use serde::Serialize;

use super::{IndexParams, LibraryError};
use crate::index::vectors::VectorTable;
use crate::progress::ProgressHandle;

#[derive(Debug, Clone)]
pub struct AnnBenchOptions {
    pub vectors: usize,
    pub dim: usize,
    pub clusters: usize,
    pub queries: usize,
    pub k: usize,
    /// Graph search beam widths to measure.
    pub ef: Vec<usize>,
    pub params: IndexParams,
    pub seed: u64,
    /// Also measure LanceDB (flat scan and IVF_PQ) in this folder.
    pub lance_dir: Option<std::path::PathBuf>,
    /// IVF partitions LanceDB probes per query, each measured.
    pub lance_nprobes: Vec<usize>,
    /// Build and measure the HNSW graph (off: only the exact scan and LanceDB, on the same
    /// seeded vectors — to add LanceDB beside an earlier graph run without rebuilding it).
    pub hnsw: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct EfResult {
    pub ef: usize,
    pub recall: f64,
    pub latency: Latency,
}

/// LanceDB's IVF_PQ at one probe count.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeResult {
    pub nprobes: usize,
    pub recall: f64,
    pub latency: Latency,
}

#[derive(Debug, Clone, Serialize)]
pub struct LanceResult {
    pub write_s: f64,
    pub index_build_s: f64,
    pub partitions: u32,
    pub sub_vectors: u32,
    pub refine_factor: u32,
    pub probes: Vec<ProbeResult>,
    pub flat_scan_latency: Latency,
    pub bytes_on_disk: u64,
}

/// The HNSW graph's part of a bench run.
#[derive(Debug, Clone, Serialize)]
pub struct GraphResult {
    pub max_connections: usize,
    pub ef_construction: usize,
    pub build_s: f64,
    pub resident_mb: f64,
    pub dump_s: f64,
    pub load_s: f64,
    pub bytes_on_disk: u64,
    pub ef: Vec<EfResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnnBenchReport {
    pub vectors: usize,
    pub dim: usize,
    pub clusters: usize,
    pub queries: usize,
    pub k: usize,
    pub seed: u64,
    pub generate_s: f64,
    pub hnsw: Option<GraphResult>,
    /// Exact scan over all vectors in memory, one query at a time over every core.
    pub exact: Latency,
    pub lance: Option<LanceResult>,
}

fn gaussian(rng: &mut StdRng) -> f32 {
    // Box-Muller.
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

fn normalise(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

/// Directions each cluster varies along.
const SUBSPACE: usize = 16;

/// `n` vectors around `centres` (row-major): a step of `sigma_sub` per coordinate in the
/// cluster's subspace (`bases`, `SUBSPACE` unit rows per cluster) plus `sigma_iso` isotropic
/// noise, seeded per chunk so the data do not depend on the thread count.
fn around(centres: &[f32], bases: &[f32], dim: usize, n: usize, sigma_sub: f32, sigma_iso: f32, seed: u64) -> Vec<f32> {
    let clusters = centres.len() / dim;
    let mut out = vec![0f32; n * dim];
    out.par_chunks_mut(dim * 1024).enumerate().for_each(|(chunk, block)| {
        let mut rng = StdRng::seed_from_u64(seed ^ (chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for v in block.chunks_exact_mut(dim) {
            let c = rng.random_range(0..clusters);
            v.copy_from_slice(&centres[c * dim..(c + 1) * dim]);
            for b in bases[c * SUBSPACE * dim..(c + 1) * SUBSPACE * dim].chunks_exact(dim) {
                let z = sigma_sub * gaussian(&mut rng);
                v.iter_mut().zip(b).for_each(|(x, d)| *x += z * d);
            }
            v.iter_mut().for_each(|x| *x += sigma_iso * gaussian(&mut rng));
            normalise(v);
        }
    });
    out
}

fn latency(mut ms: Vec<f64>) -> Latency {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms.get(((ms.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
    Latency { p50_ms: at(0.5), p95_ms: at(0.95) }
}

fn recall(truth: &[Vec<usize>], got: &[Vec<usize>]) -> f64 {
    let mut hit = 0usize;
    let mut total = 0usize;
    for (t, g) in truth.iter().zip(got) {
        total += t.len();
        hit += g.iter().filter(|id| t.contains(id)).count();
    }
    hit as f64 / total.max(1) as f64
}

fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    if let Ok(it) = std::fs::read_dir(dir) {
        for e in it.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_bytes(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Exact top-k of one query over every vector, split over the cores.
fn exact(data: &[f32], dim: usize, q: &[f32], k: usize) -> Vec<Hit> {
    let per = (data.len() / dim).div_ceil(rayon::current_num_threads().max(1)).max(1);
    let mut hits: Vec<Hit> = data
        .par_chunks(per * dim)
        .enumerate()
        .flat_map_iter(|(c, block)| {
            exact_top_k(q, block.chunks_exact(dim).enumerate().map(|(i, v)| (c * per + i, v)), k)
        })
        .collect();
    hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    hits.truncate(k);
    hits
}

pub async fn ann_bench(opts: &AnnBenchOptions, progress: &ProgressHandle) -> Result<AnnBenchReport, LibraryError> {
    let dim = opts.dim;
    let t = Instant::now();
    progress.set_message("generating vectors");
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut centres: Vec<f32> = (0..opts.clusters * dim).map(|_| gaussian(&mut rng)).collect();
    centres.chunks_exact_mut(dim).for_each(normalise);
    let mut bases: Vec<f32> = (0..opts.clusters * SUBSPACE * dim).map(|_| gaussian(&mut rng)).collect();
    bases.chunks_exact_mut(dim).for_each(normalise);
    // cos(v, centre) = 1 / sqrt(1 + |step|^2): |step|^2 = SUBSPACE sigma_sub^2 (+ dim sigma_iso^2).
    let sigma_sub = (0.5625 / SUBSPACE as f32).sqrt(); // cos ~ 0.8
    let sigma_data = (0.02 / dim as f32).sqrt(); // isotropic part: cos ~ 0.99
    let sigma_query = (3.0 / dim as f32).sqrt(); // cos ~ 0.5
    let data = around(&centres, &bases, dim, opts.vectors, sigma_sub, sigma_data, opts.seed + 1);
    let queries = around(&centres, &bases, dim, opts.queries, sigma_sub, sigma_query, opts.seed + 2);
    let generate_s = t.elapsed().as_secs_f64();

    progress.set_message("exact scan");
    let mut exact_ms = Vec::new();
    let mut truth = Vec::new();
    for q in queries.chunks_exact(dim) {
        let t = Instant::now();
        let hits = exact(&data, dim, q, opts.k);
        exact_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        truth.push(hits.iter().map(|h| h.id).collect::<Vec<_>>());
    }

    let hnsw = if opts.hnsw { Some(graph_bench(opts, &data, &queries, &truth, progress)?) } else { None };

    let lance = match &opts.lance_dir {
        None => None,
        Some(dir) => {
            progress.set_message("LanceDB: writing");
            let uri = dir.display().to_string();
            let t = Instant::now();
            let table = VectorTable::create(&uri, "bench_vectors", dim, &data, 100_000).await?;
            let write_s = t.elapsed().as_secs_f64();
            let mut flat_ms = Vec::new();
            for q in queries.chunks_exact(dim).take(10) {
                let t = Instant::now();
                table.search(q, opts.k, None).await?;
                flat_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            // LanceDB's guidance: about sqrt(rows) partitions, dim/8 or dim/16 sub-vectors.
            let partitions = ((opts.vectors as f64).sqrt() as u32).clamp(1, 4096);
            let sub_vectors = (dim / 16).max(1) as u32;
            progress.set_message("LanceDB: building IVF_PQ");
            let t = Instant::now();
            table.create_ivf_pq(partitions, sub_vectors).await?;
            let index_build_s = t.elapsed().as_secs_f64();
            let refine_factor = 10u32;
            let mut probes = Vec::new();
            for &nprobes in &opts.lance_nprobes {
                progress.set_message(&format!("LanceDB: IVF_PQ search, nprobes {nprobes}"));
                let mut ms = Vec::new();
                let mut got = Vec::new();
                for q in queries.chunks_exact(dim) {
                    let t = Instant::now();
                    let ids = table.search(q, opts.k, Some((nprobes, refine_factor))).await?;
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    got.push(ids.into_iter().map(|i| i as usize).collect::<Vec<_>>());
                }
                probes.push(ProbeResult { nprobes, recall: recall(&truth, &got), latency: latency(ms) });
            }
            Some(LanceResult {
                write_s,
                index_build_s,
                partitions,
                sub_vectors,
                refine_factor,
                probes,
                flat_scan_latency: latency(flat_ms),
                bytes_on_disk: dir_bytes(dir),
            })
        }
    };

    Ok(AnnBenchReport {
        vectors: opts.vectors,
        dim,
        clusters: opts.clusters,
        queries: opts.queries,
        k: opts.k,
        seed: opts.seed,
        generate_s,
        hnsw,
        exact: latency(exact_ms),
        lance,
    })
}

/// Builds the graph over `data`, dumps and reloads it, and measures recall and latency per ef.
fn graph_bench(
    opts: &AnnBenchOptions,
    data: &[f32],
    queries: &[f32],
    truth: &[Vec<usize>],
    progress: &ProgressHandle,
) -> Result<GraphResult, LibraryError> {
    let dim = opts.dim;
    progress.set_message("building the graph");
    let rss_before = resident_bytes();
    let t = Instant::now();
    let mut graph = Graph::new(dim, opts.vectors, GraphParams::from(opts.params))?;
    let chunk = 50_000;
    progress.set_length(opts.vectors as u64);
    for (c, block) in data.chunks(chunk * dim).enumerate() {
        let items: Vec<(&[f32], usize)> =
            block.chunks_exact(dim).enumerate().map(|(i, v)| (v, c * chunk + i)).collect();
        graph.insert(&items)?;
        progress.inc(items.len() as u64);
    }
    let build_s = t.elapsed().as_secs_f64();
    let graph_resident_mb = resident_bytes().saturating_sub(rss_before) as f64 / 1e6;

    let tmp = tempfile::tempdir().map_err(LibraryError::io(std::env::temp_dir()))?;
    let t = Instant::now();
    let name = graph.dump(tmp.path(), "bench")?;
    let dump_s = t.elapsed().as_secs_f64();
    let bytes_on_disk = dir_bytes(tmp.path());
    drop(graph);
    let t = Instant::now();
    let graph = Graph::load(tmp.path(), &name, dim, GraphParams::from(opts.params))?;
    let load_s = t.elapsed().as_secs_f64();

    let mut results = Vec::new();
    for &ef in &opts.ef {
        progress.set_message(&format!("graph search, ef {ef}"));
        let mut ms = Vec::new();
        let mut got = Vec::new();
        for q in queries.chunks_exact(dim) {
            let t = Instant::now();
            let hits = graph.search(q, opts.k, ef, None);
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            got.push(hits.iter().map(|h| h.id).collect::<Vec<_>>());
        }
        results.push(EfResult { ef, recall: recall(truth, &got), latency: latency(ms) });
    }
    drop(graph);
    Ok(GraphResult {
        max_connections: opts.params.max_connections,
        ef_construction: opts.params.ef_construction,
        build_s,
        resident_mb: graph_resident_mb,
        dump_s,
        load_s,
        bytes_on_disk,
        ef: results,
    })
}

/// End-to-end library search on a store of many videos.
#[derive(Debug, Clone)]
pub struct LibraryBenchOptions {
    pub videos: usize,
    pub frames_per_video: usize,
    pub shots_per_video: usize,
    pub queries: usize,
    pub top_k: usize,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LibraryBenchReport {
    pub videos: usize,
    pub vectors: usize,
    pub dim: usize,
    pub write_s: f64,
    pub index_build_s: f64,
    pub queries: usize,
    /// Warm: query embeddings cached, frame matrices of candidates in the frame cache.
    pub ann: Latency,
    pub exact: Latency,
    /// Top-1 video agreement between the two paths.
    pub top1_same_video: f64,
}

/// Fills the engine's (empty) store with `videos` synthetic videos of the model's width (each a
/// few "shots" of near-identical frames around random directions), builds the index, and times
/// library searches for `queries` sentences through the real text tower, once to warm the
/// caches and once measured, through the index and exactly.
pub async fn library_bench(
    library: &super::Library,
    opts: &LibraryBenchOptions,
    progress: &ProgressHandle,
) -> Result<LibraryBenchReport, LibraryError> {
    use crate::index::{FrameMatrix, VideoRecord};
    let engine = library.engine();
    let dim = engine.embed_query("warm up").await?.len();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    progress.set_length(opts.videos as u64);
    progress.set_message("writing videos");
    let t = Instant::now();
    let sigma = (0.1 / dim as f32).sqrt(); // cos(frame, shot centre) ~ 0.95
    let mut batch = Vec::new();
    for v in 0..opts.videos {
        let mut m = FrameMatrix::new(dim);
        let shots = opts.shots_per_video.max(1);
        let per_shot = opts.frames_per_video.div_ceil(shots);
        let mut centre = vec![0f32; dim];
        for f in 0..opts.frames_per_video {
            if f % per_shot == 0 {
                centre.iter_mut().for_each(|x| *x = gaussian(&mut rng));
                normalise(&mut centre);
            }
            let mut row: Vec<f32> = centre.iter().map(|c| c + sigma * gaussian(&mut rng)).collect();
            normalise(&mut row);
            m.push(f as i64 * 1000, &row);
        }
        let fp = crate::fingerprint::Fingerprint::of(format!("library bench {} {v}", opts.seed).as_bytes());
        let record = VideoRecord {
            fingerprint: fp,
            model_key: engine.model().key().to_string(),
            ingest_id: crate::ingest::unique_id(),
            duration_s: opts.frames_per_video as f64,
            source_fps: Some(30.0),
            width: 1280,
            height: 720,
            frame_count: opts.frames_per_video as u32,
            sampling: "fixed:1".into(),
            source: format!("bench://video-{v}"),
            created_at_ms: crate::clock::now_ms() as i64,
            transcript_id: None,
            recorded_at_ms: None,
        };
        batch.push((record, m));
        if batch.len() == 100 || v + 1 == opts.videos {
            engine.store().put_videos(&batch).await?;
            progress.inc(batch.len() as u64);
            batch.clear();
        }
    }
    let write_s = t.elapsed().as_secs_f64();
    progress.set_message("building the index");
    let t = Instant::now();
    let report = library.refresh(&super::RefreshOptions::default(), progress).await?;
    let index_build_s = t.elapsed().as_secs_f64();
    let words = ["dog", "beach", "kitchen", "red car", "crowd", "snow", "guitar", "night street", "child", "boat"];
    let sentences: Vec<String> = (0..opts.queries)
        .map(|i| format!("a {} near a {} ({i})", words[i % words.len()], words[(i * 7 + 3) % words.len()]))
        .collect();
    let top_k = super::LibraryTopK::new(opts.top_k).unwrap_or_default();
    let mut results = Vec::new();
    for mode in [super::Candidates::Ann, super::Candidates::Exact] {
        progress.set_message(if mode == super::Candidates::Ann {
            "searching through the index"
        } else {
            "searching exactly"
        });
        let mut ms = Vec::new();
        let mut firsts = Vec::new();
        for pass in 0..2 {
            for s in &sentences {
                let mut q = super::LibraryQuery::new(s.clone(), top_k);
                q.candidates = mode;
                let t = Instant::now();
                let a = library.search(&q).await?;
                if pass == 1 {
                    ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    firsts.push(a.hits.first().map(|h| h.fingerprint));
                }
            }
        }
        results.push((latency(ms), firsts));
    }
    let (exact, exact_first) = results.pop().expect("two modes");
    let (ann, ann_first) = results.pop().expect("two modes");
    let same = ann_first.iter().zip(&exact_first).filter(|(a, b)| a == b).count();
    Ok(LibraryBenchReport {
        videos: opts.videos,
        vectors: report.vectors,
        dim,
        write_s,
        index_build_s,
        queries: opts.queries,
        ann,
        exact,
        top1_same_video: same as f64 / opts.queries.max(1) as f64,
    })
}
