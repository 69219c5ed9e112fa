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
pub mod whisper;

pub use clip::ClipEmbedder;
pub use config::{hf_config_json, parse_clip_config};
pub use device::{DeviceError, DeviceSpec};
pub use precision::{ModelOptions, Precision, UnknownPrecision};
pub use source::{DEFAULT_MODEL_ID, Download, ModelFiles, ModelSource};
pub use tokenizer::{CONTEXT_LENGTH, ClipTokenizer, END_OF_TEXT, START_OF_TEXT, preprocess_query};

/// Everything that can go wrong getting or running a model. Each variant keeps what failed
/// (path, hub id, tower) and the error underneath as its source.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{} not found (a model directory needs config.json and model.safetensors)", path.display())]
    MissingFile { path: std::path::PathBuf },
    #[error("{id} is not in the Hugging Face cache ({}) and may not be downloaded now (HF_HUB_OFFLINE is set, or only cached models are used)", cache.display())]
    NotCached { id: String, cache: std::path::PathBuf },
    #[error("{id}/{file}: download failed: {source} (download it elsewhere and pass --model-dir, or set HF_ENDPOINT)")]
    Download {
        id: String,
        /// `config.json` or `model.safetensors`; empty when the hub client itself could not start.
        file: &'static str,
        #[source]
        source: Box<hf_hub::api::tokio::ApiError>,
    },
    #[error("bad model config: {0}")]
    Config(#[from] ConfigError),
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot load the weights: {source}", path.display())]
    Weights {
        path: std::path::PathBuf,
        #[source]
        source: Box<candle_core::Error>,
    },
    /// Building or writing a checkpoint in memory (seeded weights, `save_checkpoint`).
    #[error("building the checkpoint failed: {0}")]
    Build(#[source] candle_core::Error),
    #[error("writing model.safetensors failed: {0}")]
    Safetensors(#[source] Box<safetensors::SafeTensorError>),
    #[error("{}: line {line} is not `<base64 token> <rank>` in rank order", path.display())]
    Vocabulary { path: std::path::PathBuf, line: usize },
    #[error("the model loader task failed: {0}")]
    LoaderTask(#[source] tokio::task::JoinError),
    #[error("cuda:{ordinal} requested but this build has no CUDA support (build it with `make cuda-miner`)")]
    NoCuda { ordinal: usize },
    #[error("cuda:{ordinal}: {source}")]
    Cuda {
        ordinal: usize,
        #[source]
        source: Box<candle_core::Error>,
    },
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
    #[error("picture embedding task: {0}")]
    PictureTask(#[source] tokio::task::JoinError),
    #[error("the image tower returned no embedding")]
    NoPictureEmbedding,
}

/// What is wrong with a `config.json`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config.json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("model_type is '{0}', expected 'clip'")]
    NotClip(String),
    #[error("model_type is '{0}', expected 'whisper'")]
    NotWhisper(String),
    #[error("{tower} hidden_size {width} is not divisible by num_attention_heads {heads}")]
    Heads { tower: &'static str, width: usize, heads: usize },
    #[error("vision image_size {image_size} is not a multiple of patch_size {patch_size}")]
    PatchSize { image_size: usize, patch_size: usize },
    #[error("{tower} hidden_act '{name}' is not supported (candle's CLIP implements quick_gelu only)")]
    Activation { tower: &'static str, name: String },
    #[error("the tokenizer vocabulary has {vocabulary} ids, config.json's vocab_size is {config}")]
    VocabularyMismatch { vocabulary: usize, config: usize },
}

impl ModelError {
    pub(crate) fn inference(e: candle_core::Error) -> Self {
        Self::Inference(e)
    }
    pub(crate) fn build(e: candle_core::Error) -> Self {
        Self::Build(e)
    }
}
