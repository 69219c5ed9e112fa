//! CLIP: loading checkpoints (hub id, local directory, generated tiny models), the tokenizer,
//! CLIPImageProcessor-exact preprocessing, device selection, and batched embedding.

mod clip;
mod config;
mod device;
mod kernels;
mod precision;
pub mod preprocess;
pub mod rng;
mod source;
pub mod throughput;
pub mod tiny;
mod tokenizer;
mod towers;
pub mod train;

pub use clip::ClipEmbedder;
pub use config::{hf_config_json, parse_clip_config};
pub use device::DeviceSpec;
pub use precision::{ModelOptions, Precision};
pub use source::{DEFAULT_MODEL_ID, ModelFiles, ModelSource};
pub use tokenizer::{CONTEXT_LENGTH, ClipTokenizer, END_OF_TEXT, START_OF_TEXT, preprocess_query};

/// Everything that can go wrong getting or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model files missing: {0}")]
    Missing(String),
    #[error("model download failed: {0}")]
    Download(String),
    #[error("bad model config: {0}")]
    Config(String),
    #[error("model load failed: {0}")]
    Load(String),
    #[error("device: {0}")]
    Device(String),
    #[error("inference failed: {0}")]
    Inference(#[source] candle_core::Error),
    #[error("expected {images} images of {channels}x{size}x{size} floats, got {got} floats")]
    PixelCount { images: usize, channels: usize, size: usize, got: usize },
    #[error("training failed: {0}")]
    Training(#[source] candle_core::Error),
    #[error("training needs examples of at least two captions")]
    TooFewCaptions,
    /// The text tower's admission semaphore was closed (the engine is shutting down).
    #[error("the text tower is shut down")]
    TowerClosed,
    #[error("text embedding task: {0}")]
    TextTask(#[source] tokio::task::JoinError),
    #[error("the text tower returned no embedding")]
    NoTextEmbedding,
}

impl ModelError {
    pub(crate) fn inference(e: candle_core::Error) -> Self {
        Self::Inference(e)
    }
    pub(crate) fn load(e: candle_core::Error) -> Self {
        Self::Load(e.to_string())
    }
}
