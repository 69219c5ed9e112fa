//! `chronoseek-embed-bench`: how many frames per second ChronoSeek's CLIP image tower embeds on
//! this machine's CPU or GPU, at each precision and batch size.
//!
//! Why a program of its own: it has to run on a lent GPU machine that has a driver and CUDA's
//! libraries but no Rust, no FFmpeg and none of our files, and whatever travels there is
//! limited to 64 MiB. So it links only the model crate, and it does not carry a 600 MB
//! checkpoint: it writes a ViT-B/32-shaped one with the same seeded-weights code as
//! `chronoseek model init-random --shape vit-b-32`. Embedding goes through the one
//! [`ClipEmbedder::embed_images`] that `ingest` calls, so the figures are the miner's.
//!
//! It also checks that reduced precisions agree with f32 on the same device (the smallest
//! cosine between embeddings of the same frames and queries), on the generated checkpoint and
//! on any `--parity-dir` checkpoints. `scripts/gpu-check.sh` runs it and keeps its JSON report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use serde::Serialize;

use chronoseek_model::throughput::{self, Agreement, ImageRate, TextLatency};
use chronoseek_model::tiny::{InitScheme, TinySpec, write_random_clip_with};
use chronoseek_model::{ClipEmbedder, DeviceSpec, ModelFiles, ModelOptions, Precision};

#[derive(Debug, Parser)]
#[command(version, about = "Frames per second of ChronoSeek's CLIP image tower (CPU or CUDA), f32 and 16-bit")]
// A later flag replaces an earlier one: gpu-check.sh passes its defaults first, then the caller's.
#[command(args_override_self = true)]
struct Args {
    /// `cpu`, `cuda:N`, or `auto`: cuda:0 when this build has CUDA and a GPU answers, else cpu.
    #[arg(long, env = "CHRONOSEEK_DEVICE", default_value = "auto", value_name = "DEVICE")]
    device: String,
    /// Shape of the generated checkpoint: `vit-b-32` (openai/clip-vit-base-patch32's shape and
    /// cost, seeded weights scaled by fan-in) or `tiny` (a 32-wide toy, for quick checks).
    #[arg(long, value_enum, default_value_t = Shape::VitB32)]
    shape: Shape,
    /// Measure this checkpoint (Hugging Face layout: config.json + model.safetensors) instead
    /// of generating one.
    #[arg(long, value_name = "DIR", conflicts_with = "shape")]
    model_dir: Option<PathBuf>,
    /// Precisions to measure, comma-separated (f32, f16, bf16, q8).
    #[arg(long, value_delimiter = ',', default_values = ["f32", "f16", "bf16"], value_name = "P,..")]
    precision: Vec<Precision>,
    /// Batch sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [32usize, 128, 512], value_name = "N,..")]
    batch: Vec<usize>,
    /// Seconds timed at each (precision, batch), after one warm-up batch.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    seconds: f64,
    /// Fewest frames timed at each (precision, batch).
    #[arg(long, default_value_t = 0, value_name = "N")]
    frames: usize,
    /// Text-tower runs timed per precision.
    #[arg(long, default_value_t = 20, value_name = "N")]
    text_runs: usize,
    /// Further checkpoints on which each reduced precision is compared with f32 (the measured
    /// checkpoint always is).
    #[arg(long, value_name = "DIR")]
    parity_dir: Vec<PathBuf>,
    /// Frames embedded for each agreement check.
    #[arg(long, default_value_t = 32, value_name = "N")]
    parity_frames: usize,
    /// Seed of the generated weights.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Shape {
    Tiny,
    #[value(name = "vit-b-32")]
    VitB32,
}

#[derive(Debug, Serialize)]
struct Report {
    device: String,
    cuda_build: bool,
    threads: usize,
    model: ModelInfo,
    runs: Vec<Run>,
    agreement: Vec<AgreementRow>,
    best: Option<Best>,
}

#[derive(Debug, Serialize)]
struct ModelInfo {
    /// `generated vit-b-32`, `generated tiny`, or the directory.
    source: String,
    key: String,
    image_size: usize,
    dim: usize,
    /// Time to write the generated checkpoint (0 for a given one).
    generate_ms: f64,
}

#[derive(Debug, Serialize)]
struct Run {
    precision: String,
    /// Checkpoint read and moved onto the device.
    load_ms: Option<f64>,
    image: Vec<BatchRate>,
    text: Option<TextLatency>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum BatchRate {
    Measured(ImageRate),
    Failed { batch: usize, error: String },
}

#[derive(Debug, Serialize)]
struct AgreementRow {
    model: String,
    precision: String,
    #[serde(flatten)]
    result: Option<Agreement>,
    error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Best {
    precision: String,
    batch: usize,
    frames_per_s: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let device = resolve_device(&args.device)?;
    let scratch = tempfile::tempdir().context("temporary directory for the generated checkpoint")?;
    let (dir, source, generate_ms) = match &args.model_dir {
        Some(d) => (d.clone(), d.display().to_string(), 0.0),
        None => {
            let t = Instant::now();
            let (spec, scheme) = match args.shape {
                Shape::Tiny => (TinySpec::default(), InitScheme::Fixture),
                Shape::VitB32 => (TinySpec::vit_b32(), InitScheme::Training),
            };
            let dir = scratch.path().join("model");
            write_random_clip_with(&dir, spec, args.seed, scheme).context("writing the seeded checkpoint")?;
            let name = match args.shape {
                Shape::Tiny => "generated tiny",
                Shape::VitB32 => "generated vit-b-32",
            };
            (dir, name.to_string(), t.elapsed().as_secs_f64() * 1e3)
        }
    };
    let files = ModelFiles::in_dir(&dir).with_context(|| format!("checkpoint in {}", dir.display()))?;
    println!("device {device} (cuda build: {}), {} CPU threads", cuda_build(), cpu_threads());

    let mut runs = Vec::new();
    let mut info = None;
    for &precision in &args.precision {
        let run = measure(&args, &files, device, precision, &mut info);
        runs.push(run);
    }
    let Some(model) =
        info.map(|(key, image_size, dim)| ModelInfo { source: source.clone(), key, image_size, dim, generate_ms })
    else {
        bail!("no precision could be loaded on {device}: {:?}", runs.iter().map(|r| &r.error).collect::<Vec<_>>());
    };

    let mut agreement = Vec::new();
    let reduced: Vec<Precision> = args.precision.iter().copied().filter(|p| *p != Precision::F32).collect();
    if !reduced.is_empty() {
        let mut dirs = vec![(source.clone(), dir.clone())];
        dirs.extend(args.parity_dir.iter().map(|d| (d.display().to_string(), d.clone())));
        for (name, d) in dirs {
            agreement.extend(agree(&name, &d, device, &reduced, args.parity_frames));
        }
    }

    let best = runs
        .iter()
        .flat_map(|r| r.image.iter().map(move |b| (r, b)))
        .filter_map(|(r, b)| match b {
            BatchRate::Measured(m) => {
                Some(Best { precision: r.precision.clone(), batch: m.batch, frames_per_s: m.frames_per_s })
            }
            BatchRate::Failed { .. } => None,
        })
        .max_by(|a, b| a.frames_per_s.total_cmp(&b.frames_per_s));
    if let Some(b) = &best {
        println!("best: {:.1} frames/s ({} at batch {})", b.frames_per_s, b.precision, b.batch);
    }
    let report = Report {
        device: device.to_string(),
        cuda_build: cuda_build(),
        threads: cpu_threads(),
        model,
        runs,
        agreement,
        best,
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("report: {}", path.display());
    }
    if report.best.is_none() {
        bail!("no batch size could be measured");
    }
    Ok(())
}

/// One precision: load, every batch size, the text tower. Failures are recorded, not fatal, so
/// one unsupported precision or an out-of-memory batch still leaves the other figures.
fn measure(
    args: &Args,
    files: &ModelFiles,
    device: DeviceSpec,
    precision: Precision,
    info: &mut Option<(String, usize, usize)>,
) -> Run {
    let t = Instant::now();
    let m = match ClipEmbedder::from_files(files, "bench", ModelOptions { device, precision }) {
        Ok(m) => m,
        Err(e) => {
            println!("{precision}: load failed: {e}");
            return Run {
                precision: precision.to_string(),
                load_ms: None,
                image: vec![],
                text: None,
                error: Some(e.to_string()),
            };
        }
    };
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    if precision == Precision::F32 || info.is_none() {
        *info = Some((m.key().trim_end_matches(&format!(":{precision}")).to_string(), m.image_size(), m.dim()));
    }
    println!("{precision}: loaded in {load_ms:.0} ms (image {} px, width {})", m.image_size(), m.dim());
    let seconds = Duration::from_secs_f64(args.seconds.max(0.0));
    let image = args
        .batch
        .iter()
        .map(|&batch| match throughput::image_rate(&m, batch, args.frames, seconds) {
            Ok(r) => {
                println!(
                    "{precision}: batch {:4}  {:10.1} frames/s  (first batch {:.1} ms, {} frames timed)",
                    r.batch, r.frames_per_s, r.first_batch_ms, r.frames
                );
                BatchRate::Measured(r)
            }
            Err(e) => {
                println!("{precision}: batch {batch}: failed: {e}");
                BatchRate::Failed { batch, error: e.to_string() }
            }
        })
        .collect();
    let text = match throughput::text_latency(&m, throughput::AGREEMENT_QUERIES[0], args.text_runs) {
        Ok(t) => {
            println!("{precision}: text tower one query p50 {:.2} ms (min {:.2} ms)", t.p50_ms, t.min_ms);
            Some(t)
        }
        Err(e) => {
            println!("{precision}: text tower failed: {e}");
            None
        }
    };
    Run { precision: precision.to_string(), load_ms: Some(load_ms), image, text, error: None }
}

/// Each reduced precision against f32, on one checkpoint, on the benchmark's device.
fn agree(name: &str, dir: &Path, device: DeviceSpec, reduced: &[Precision], frames: usize) -> Vec<AgreementRow> {
    let row = |precision: Precision, r: Result<Agreement, String>| {
        let (result, error) = match r {
            Ok(a) => {
                println!(
                    "agreement {name}: {precision} vs f32: min cosine images {:.5}, texts {:.5}",
                    a.min_image_cosine, a.min_text_cosine
                );
                (Some(a), None)
            }
            Err(e) => {
                println!("agreement {name}: {precision} vs f32: failed: {e}");
                (None, Some(e))
            }
        };
        AgreementRow { model: name.to_string(), precision: precision.to_string(), result, error }
    };
    let load = |precision| {
        ModelFiles::in_dir(dir)
            .and_then(|f| ClipEmbedder::from_files(&f, "parity", ModelOptions { device, precision }))
            .map_err(|e| e.to_string())
    };
    let full = match load(Precision::F32) {
        Ok(m) => m,
        Err(e) => return reduced.iter().map(|&p| row(p, Err(format!("f32 load: {e}")))).collect(),
    };
    reduced
        .iter()
        .map(|&p| row(p, load(p).and_then(|m| throughput::agreement(&full, &m, frames).map_err(|e| e.to_string()))))
        .collect()
}

fn resolve_device(s: &str) -> anyhow::Result<DeviceSpec> {
    if s.trim().eq_ignore_ascii_case("auto") {
        if cuda_build() && DeviceSpec::Cuda(0).to_candle().is_ok() {
            return Ok(DeviceSpec::Cuda(0));
        }
        return Ok(DeviceSpec::Cpu);
    }
    s.parse::<DeviceSpec>().map_err(anyhow::Error::msg).context("--device")
}

fn cuda_build() -> bool {
    candle_core::utils::cuda_is_available()
}

fn cpu_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
