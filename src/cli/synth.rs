//! `chronoseek synth` and `chronoseek train-tiny`: generated videos with ground truth, and the
//! bundled tiny CLIP trained on them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::ingest::{SamplerOptions, SamplingPlan, sample_frames};
use chronoseek::model::preprocess::normalize_center_crop;
use chronoseek::model::rng::Rng;
use chronoseek::model::train::{Example, TrainOptions, train};
use chronoseek::model::{ClipEmbedder, DeviceSpec, ModelFiles};
use chronoseek::synth::dataset::{GeneratedVideo, SetSpec, generate, tasks_json};
use chronoseek::synth::screens::Screen;

use super::{CliError, output::Output};

#[derive(Debug, Subcommand)]
pub enum SynthCommand {
    /// Generate the synthetic benchmark: videos of scenes with known intervals and a task file
    /// (reference task JSON) of one query per distinct scene caption.
    Bench(SynthBenchArgs),
}

#[derive(Debug, Args)]
pub struct SynthBenchArgs {
    /// Output folder (videos and tasks.json).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed (the default differs from the training seed, so no benchmark video was trained on).
    #[arg(long, default_value_t = 2)]
    pub seed: u64,
    /// Number of videos.
    #[arg(long, default_value_t = 40)]
    pub videos: usize,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Output model folder (config.json + model.safetensors, f16).
    #[arg(long, value_name = "DIR", default_value = "data/fixtures/models/chronoseek-tiny-clip")]
    pub out: PathBuf,
    /// Working folder for the generated training videos (default: a temporary folder).
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// Seed of videos, weights and batches.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Training steps. The run is deterministic for a seed and a step count; the bundled model
    /// is seed 1, 4095 steps (about 25 minutes on a 2-core machine).
    #[arg(long, default_value_t = 4095)]
    pub steps: usize,
    /// Safety limit on the training loop's wall time, in minutes; a run cut by it is no longer
    /// reproducible (the step count then depends on the machine), and says so.
    #[arg(long, default_value_t = 40.0)]
    pub minutes: f64,
    /// Number of training videos to generate (the bundled model: 120).
    #[arg(long, default_value_t = 120)]
    pub videos: usize,
}

pub async fn run_synth(_g: &GlobalOpts, cmd: SynthCommand, out: &Output) -> Result<(), CliError> {
    match cmd {
        SynthCommand::Bench(a) => {
            let spec = SetSpec { videos: a.videos, ..SetSpec::benchmark(a.seed) };
            let bar = out.items_bar(spec.videos as u64, "videos");
            let videos = generate(&a.out, &spec, |n| bar.set_position(n as u64)).map_err(CliError::internal)?;
            bar.finish_and_clear();
            let tasks = tasks_json(&videos, a.seed);
            let n = tasks["tasks"].as_array().map(Vec::len).unwrap_or(0);
            let path = a.out.join("tasks.json");
            std::fs::write(&path, serde_json::to_string_pretty(&tasks).map_err(CliError::internal)?)
                .map_err(CliError::internal)?;
            out.say(format!("{} videos, {n} tasks -> {}", videos.len(), path.display()));
            out.json_line(&json!({"videos": videos.len(), "tasks": n, "file": path}));
            Ok(())
        }
    }
}

/// The index of `text` in `captions`, appended if it is new.
fn caption_index(captions: &mut Vec<String>, text: &str) -> usize {
    captions.iter().position(|c| c == text).unwrap_or_else(|| {
        captions.push(text.to_owned());
        captions.len() - 1
    })
}

/// Frames of generated videos decoded at the model's size, paired with their scene captions.
/// Frames within half a second of a boundary (cuts and fades) are left out.
fn examples(
    dir: &Path,
    videos: &[GeneratedVideo],
    size: usize,
    captions: &mut Vec<String>,
) -> Result<Vec<Example>, CliError> {
    let opts = SamplerOptions { plan: SamplingPlan::Fixed { fps: 2.0 }, size, ..SamplerOptions::default() };
    let mut out = Vec::new();
    for v in videos {
        sample_frames(&dir.join(&v.file), &opts, |f| {
            let t = f.t_ms as f64 / 1000.0;
            if let Some(s) = v.scenes.iter().find(|s| t >= s.start + 0.5 && t < s.end - 0.5) {
                out.push(Example { pixels: f.pixels, caption: caption_index(captions, &s.caption) });
            }
            true
        })
        .map_err(|e| CliError::internal(format!("{}: {e}", v.file)))?;
    }
    Ok(out)
}

/// `per_screen` frames of every plain or split screen, each with its caption (added to
/// `captions` where new): the frames the scene grammar never makes.
fn screen_examples(rng: &mut Rng, per_screen: usize, size: usize, captions: &mut Vec<String>) -> Vec<Example> {
    let mut out = Vec::new();
    for screen in Screen::all() {
        let caption = caption_index(captions, &screen.caption());
        for _ in 0..per_screen {
            out.push(Example { pixels: normalize_center_crop(&screen.frame(rng, size), size), caption });
        }
    }
    out
}

/// Top-1 accuracy of matching each frame to its caption among `candidates`.
fn caption_accuracy(
    model: &ClipEmbedder,
    examples: &[Example],
    captions: &[String],
    candidates: &[usize],
) -> Result<f64, CliError> {
    let texts: Vec<&str> = candidates.iter().map(|&c| captions[c].as_str()).collect();
    let text_emb = model.embed_texts(&texts)?;
    let size = model.image_size();
    let mut hits = 0usize;
    for chunk in examples.chunks(64) {
        let px: Vec<f32> = chunk.iter().flat_map(|e| e.pixels.iter().copied()).collect();
        let img = model.embed_images(&px, chunk.len())?;
        debug_assert_eq!(px.len(), chunk.len() * 3 * size * size);
        for (e, v) in chunk.iter().zip(&img) {
            let best = text_emb
                .iter()
                .enumerate()
                .map(|(i, t)| (i, t.iter().zip(v).map(|(a, b)| a * b).sum::<f32>()))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(i, _)| candidates[i]);
            hits += usize::from(best == Some(e.caption));
        }
    }
    Ok(hits as f64 / examples.len().max(1) as f64)
}

pub async fn run_train(_g: &GlobalOpts, a: TrainArgs, out: &Output) -> Result<(), CliError> {
    let temp = tempfile::tempdir().map_err(CliError::internal)?;
    let work = a.work.clone().unwrap_or_else(|| temp.path().to_path_buf());
    let opts =
        TrainOptions { seed: a.seed, max_steps: a.steps, max_seconds: a.minutes * 60.0, ..TrainOptions::default() };
    let size = opts.spec.image_size;

    let bar = out.items_bar(a.videos as u64, "training videos");
    let train_spec = SetSpec { videos: a.videos, ..SetSpec::training(a.seed) };
    let train_videos =
        generate(&work.join("train"), &train_spec, |n| bar.set_position(n as u64)).map_err(CliError::internal)?;
    bar.finish_and_clear();
    let heldout_spec = SetSpec { videos: 10, ..SetSpec::training(a.seed.wrapping_add(1000)) };
    let heldout_videos = generate(&work.join("heldout"), &heldout_spec, |_| {}).map_err(CliError::internal)?;

    let mut captions = Vec::new();
    let mut train_examples = examples(&work.join("train"), &train_videos, size, &mut captions)?;
    let n_scene_captions = captions.len();
    let screens = screen_examples(&mut Rng::new(a.seed.wrapping_add(2000)), 8, size, &mut captions);
    let n_screen_frames = screens.len();
    train_examples.extend(screens);
    let n_train_captions = captions.len();
    let heldout = examples(&work.join("heldout"), &heldout_videos, size, &mut captions)?;
    let heldout_screens = screen_examples(&mut Rng::new(a.seed.wrapping_add(3000)), 2, size, &mut captions);
    out.say(format!(
        "{} training frames of {n_train_captions} captions ({n_screen_frames} frames of {} screen captions); {} held-out frames",
        train_examples.len(),
        n_train_captions - n_scene_captions,
        heldout.len()
    ));

    let bar = out.items_bar(opts.max_steps as u64, "steps");
    let trained = train(&train_examples, &captions, &opts, |step, loss| {
        bar.set_position(step as u64);
        if step % 50 == 0 {
            bar.set_message(format!("loss {loss:.3}"));
        }
    })?;
    bar.finish_and_clear();
    if trained.steps < a.steps {
        tracing::warn!(
            steps = trained.steps,
            wanted = a.steps,
            "the time limit cut training short: this model depends on the machine's speed"
        );
    }
    chronoseek::model::tiny::save_checkpoint(&a.out, &trained.varmap, opts.spec, candle_core::DType::F16)?;

    // Zero-shot caption retrieval on held-out scenes, through the normal loader.
    let model =
        Arc::new(ClipEmbedder::from_files(&ModelFiles::in_dir(&a.out)?, "chronoseek-tiny-clip", DeviceSpec::Cpu)?);
    let mut heldout_caps: Vec<usize> = heldout.iter().map(|e| e.caption).collect();
    heldout_caps.sort_unstable();
    heldout_caps.dedup();
    let unseen: Vec<usize> = heldout_caps.iter().copied().filter(|&c| c >= n_train_captions).collect();
    let acc = caption_accuracy(&model, &heldout, &captions, &heldout_caps)?;
    let unseen_examples: Vec<Example> = heldout.iter().filter(|e| e.caption >= n_train_captions).cloned().collect();
    let acc_unseen =
        if unseen.len() >= 2 { caption_accuracy(&model, &unseen_examples, &captions, &unseen)? } else { f64::NAN };
    let screen_caps: Vec<usize> = (n_scene_captions..n_train_captions).collect();
    let acc_screens = caption_accuracy(&model, &heldout_screens, &captions, &screen_caps)?;
    // The whole recipe, so anyone can re-run exactly this training.
    let report = json!({
        "seed": a.seed, "steps": trained.steps, "steps_requested": a.steps, "cut_by_time_limit": trained.steps < a.steps,
        "videos": a.videos, "command": format!("chronoseek train-tiny --seed {} --steps {} --videos {}", a.seed, a.steps, a.videos),
        "seconds": trained.seconds, "final_loss": trained.final_loss,
        "train_frames": train_examples.len(), "train_captions": n_train_captions,
        "train_screen_frames": n_screen_frames, "train_screen_captions": screen_caps.len(),
        "heldout_frames": heldout.len(), "heldout_captions": heldout_caps.len(),
        "heldout_top1": acc, "heldout_unseen_captions": unseen.len(), "heldout_unseen_top1": acc_unseen,
        "heldout_screen_frames": heldout_screens.len(), "heldout_screen_top1": acc_screens,
        "model_key": model.key(),
    });
    std::fs::write(a.out.join("training.json"), serde_json::to_string_pretty(&report).map_err(CliError::internal)?)
        .map_err(CliError::internal)?;
    out.say(format!(
        "trained {} steps in {:.0} s (loss {:.3}); held-out caption top-1 {:.1}% over {} captions ({:.1}% on {} captions never seen in training); held-out screens top-1 {:.1}% over {} captions -> {}",
        trained.steps, trained.seconds, trained.final_loss, acc * 100.0, heldout_caps.len(), acc_unseen * 100.0, unseen.len(), acc_screens * 100.0, screen_caps.len(), a.out.display()
    ));
    out.json_line(&report);
    Ok(())
}
