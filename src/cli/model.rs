//! `chronoseek model ...`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::model::tiny::{InitScheme, TinySpec, write_random_clip_with};
use chronoseek::model::{ClipEmbedder, ModelFiles, throughput};

use super::{CliError, output::Output};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Write a small CLIP with seeded random weights in the Hugging Face layout (for tests and
    /// offline trials; its answers mean nothing).
    InitRandom(InitRandomArgs),
    /// Write a Whisper with seeded random weights and whisper-tiny's exact architecture (for
    /// timing the speech path offline; its words mean nothing), with a tokenizer vocabulary
    /// copied beside it so `--audio-model DIR` loads it.
    InitRandomWhisper(InitRandomWhisperArgs),
    /// Load the configured model and print its identity and sizes.
    Info,
    /// Measure the configured model's embedding speed on synthetic frames (no video, no
    /// store): image-tower frames/s at each batch size, the first batch's latency, and one
    /// query through the text tower.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Batch sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 8, 32], value_name = "N,..")]
    pub batch: Vec<usize>,
    /// Frames to time at each batch size (after one warm-up batch); at least 3 s are timed.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub frames: usize,
    /// Text-tower runs to time.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub text_runs: usize,
}

#[derive(Debug, Args)]
pub struct InitRandomArgs {
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the weight generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Shape of the model: `tiny` (both towers --width wide, two layers) or `vit-b-32` (the
    /// shape and compute cost of openai/clip-vit-base-patch32, ~600 MB, for benchmarks).
    #[arg(long, value_enum, default_value_t = Shape::Tiny)]
    pub shape: Shape,
    /// Transformer width of both towers (tiny only).
    #[arg(long, default_value_t = 32, conflicts_with = "shape")]
    pub width: usize,
    /// Input image side in pixels (tiny only).
    #[arg(long, default_value_t = 32, conflicts_with = "shape")]
    pub image_size: usize,
}

#[derive(Debug, Args)]
pub struct InitRandomWhisperArgs {
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the weight generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// The tokenizer vocabulary to copy beside the weights: openai-whisper's
    /// multilingual.tiktoken, or a Hugging Face vocab.json.
    #[arg(long, value_name = "FILE")]
    pub vocabulary: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shape {
    Tiny,
    #[value(name = "vit-b-32")]
    VitB32,
}

pub async fn run(g: &GlobalOpts, cmd: ModelCommand, out: &Output) -> Result<(), CliError> {
    match cmd {
        ModelCommand::InitRandom(a) => {
            // The big shape gets weights scaled by fan-in, so its activations look like a trained
            // model's (what reduced-precision and quantized paths are checked against).
            let (spec, scheme) = match a.shape {
                Shape::Tiny => {
                    (TinySpec { width: a.width, image_size: a.image_size, ..TinySpec::default() }, InitScheme::Fixture)
                }
                Shape::VitB32 => (TinySpec::vit_b32(), InitScheme::Training),
            };
            write_random_clip_with(&a.out, spec, a.seed, scheme)?;
            let m = ClipEmbedder::from_files(&ModelFiles::in_dir(&a.out)?, "random", g.device)?;
            out.say(format!("wrote {} (key {})", a.out.display(), m.key()));
            out.json_line(&json!({"dir": a.out, "key": m.key()}));
        }
        ModelCommand::InitRandomWhisper(a) => {
            let config = chronoseek::model::whisper::random::whisper_tiny_config();
            chronoseek::model::whisper::random::write_random_whisper(&a.out, &config, a.seed)?;
            let name = a.vocabulary.file_name().ok_or_else(|| {
                CliError::new(chronoseek::protocol::ErrorCode::InvalidRequest, "--vocabulary names no file")
            })?;
            std::fs::copy(&a.vocabulary, a.out.join(name))
                .map_err(|e| CliError::internal(format!("{}: {e}", a.vocabulary.display())))?;
            // Loaded once through the user's path, so a bad vocabulary fails here.
            let source = chronoseek::model::ModelSource::Dir(a.out.clone());
            let t =
                chronoseek::model::whisper::Transcriber::load(&source, g.device, chronoseek::model::Download::Never)
                    .await?;
            out.say(format!(
                "wrote {} (whisper-tiny shape: d_model {}, {}+{} layers, {} ids)",
                a.out.display(),
                config.d_model,
                config.encoder_layers,
                config.decoder_layers,
                t.tokenizer.n_vocab()
            ));
            out.json_line(&json!({"dir": a.out, "d_model": config.d_model, "vocab_size": t.tokenizer.n_vocab()}));
        }
        ModelCommand::Info => {
            let m = ClipEmbedder::load(&g.model_source(), g.model_options()).await?;
            out.say(format!("{}: key {}, image {} px, embedding width {}", m.name(), m.key(), m.image_size(), m.dim()));
            out.json_line(&json!({"name": m.name(), "key": m.key(), "image_size": m.image_size(), "dim": m.dim()}));
        }
        ModelCommand::Bench(a) => {
            let m = ClipEmbedder::load(&g.model_source(), g.model_options()).await?;
            out.say(format!(
                "{} on {} ({}): image {} px, embedding width {}, {} threads",
                m.key(),
                g.device,
                g.precision,
                m.image_size(),
                m.dim(),
                rayon::current_num_threads()
            ));
            let mut rates = Vec::new();
            for &batch in &a.batch {
                let r = throughput::image_rate(&m, batch, a.frames, std::time::Duration::from_secs(3))?;
                out.say(format!(
                    "image tower: batch {:4}  {:8.2} frames/s  (first batch {:.0} ms, {} frames timed)",
                    r.batch, r.frames_per_s, r.first_batch_ms, r.frames
                ));
                rates.push(r);
            }
            let text = throughput::text_latency(&m, "a man jumps into the pool", a.text_runs)?;
            out.say(format!(
                "text tower: one query p50 {:.1} ms (min {:.1} ms, {} runs)",
                text.p50_ms, text.min_ms, text.runs
            ));
            out.json_line(&json!({"model": m.key(), "device": g.device.to_string(),
                "precision": g.precision.name(), "threads": rayon::current_num_threads(), "image": rates, "text": text}));
        }
    }
    Ok(())
}
