//! `chronoseek model ...`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::global::GlobalOpts;
use chronoseek::model::tiny::{TinySpec, write_random_clip};
use chronoseek::model::{ClipEmbedder, ModelFiles};

use super::{CliError, output::Output};

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Write a small CLIP with seeded random weights in the Hugging Face layout (for tests and
    /// offline trials; its answers mean nothing).
    InitRandom(InitRandomArgs),
    /// Load the configured model and print its identity and sizes.
    Info,
}

#[derive(Debug, Args)]
pub struct InitRandomArgs {
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the weight generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Transformer width of both towers.
    #[arg(long, default_value_t = 32)]
    pub width: usize,
    /// Input image side in pixels.
    #[arg(long, default_value_t = 32)]
    pub image_size: usize,
}

pub async fn run(g: &GlobalOpts, cmd: ModelCommand, out: &Output) -> Result<(), CliError> {
    match cmd {
        ModelCommand::InitRandom(a) => {
            let spec = TinySpec { width: a.width, image_size: a.image_size, ..TinySpec::default() };
            write_random_clip(&a.out, spec, a.seed)?;
            let m = ClipEmbedder::from_files(&ModelFiles::in_dir(&a.out)?, "random", g.device)?;
            out.say(format!("wrote {} (key {})", a.out.display(), m.key()));
            out.json_line(&json!({"dir": a.out, "key": m.key()}));
        }
        ModelCommand::Info => {
            let m = ClipEmbedder::load(&g.model_source(), g.device).await?;
            out.say(format!("{}: key {}, image {} px, embedding width {}", m.name(), m.key(), m.image_size(), m.dim()));
            out.json_line(&json!({"name": m.name(), "key": m.key(), "image_size": m.image_size(), "dim": m.dim()}));
        }
    }
    Ok(())
}
