//! The CLIP image and text towers (candle-transformers), loaded from Hugging Face safetensors,
//! with batched, L2-normalised embedding calls.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::clip::{ClipConfig, div_l2_norm};

use super::{
    ClipTokenizer, ModelError, ModelFiles, ModelOptions, ModelSource, Precision,
    config::parse_clip_config,
    preprocess::{RgbImage, clip_preprocess},
    towers::Towers,
};

/// A loaded CLIP checkpoint.
///
/// `key` identifies the exact weights (blake3 of config and safetensors), so embeddings made by
/// one checkpoint are never mixed with another's in the store, whatever the checkpoint is called.
pub struct ClipEmbedder {
    model: Towers,
    config: ClipConfig,
    tokenizer: ClipTokenizer,
    device: Device,
    /// What the towers compute in; pixels are converted to it, features back to f32.
    dtype: DType,
    name: String,
    key: String,
    /// Most images per tower pass: callers' batches are split into passes of this size.
    pass: usize,
}

impl std::fmt::Debug for ClipEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipEmbedder")
            .field("name", &self.name)
            .field("key", &self.key)
            .field("image_size", &self.image_size())
            .field("dim", &self.dim())
            .finish()
    }
}

impl ClipEmbedder {
    /// Resolves the source (downloading if needed) and loads it.
    pub async fn load(source: &ModelSource, opts: impl Into<ModelOptions>) -> Result<Self, ModelError> {
        let opts = opts.into();
        let files = source.resolve().await?;
        let name = source.display_name();
        tokio::task::spawn_blocking(move || Self::from_files(&files, &name, opts))
            .await
            .map_err(ModelError::LoaderTask)?
    }

    /// Loads a checkpoint from files in the Hugging Face layout.
    pub fn from_files(files: &ModelFiles, name: &str, opts: impl Into<ModelOptions>) -> Result<Self, ModelError> {
        let ModelOptions { device, precision } = opts.into();
        let config_text = std::fs::read_to_string(&files.config)
            .map_err(|source| ModelError::Io { path: files.config.clone(), source })?;
        let config = parse_clip_config(&config_text)?;
        let mut key = checkpoint_key(name, config_text.as_bytes(), &files.weights)?;
        if precision != Precision::F32 {
            // Not the f32 numbers: stored apart from them.
            key = format!("{key}:{precision}");
        }
        let device = device.to_candle()?;
        // SAFETY: the file is mapped read-only; like every safetensors user we rely on nobody
        // truncating the checkpoint while the process runs.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&files.weights], precision.dtype(), &device) }
            .map_err(|e| ModelError::Weights { path: files.weights.clone(), source: Box::new(e) })?;
        let model = Towers::load(vb, &config, precision)
            .map_err(|e| ModelError::Weights { path: files.weights.clone(), source: Box::new(e) })?;
        let tokenizer = ClipTokenizer::new(config.text_config.max_position_embeddings);
        tracing::info!(model = name, key = %key, %precision, image_size = config.image_size,
            dim = config.text_config.projection_dim, "model loaded");
        // candle's 8-bit CPU kernels quantise each pass's activations up front and fall out of
        // cache past a few hundred rows: 8 images per pass measured fastest for ViT-B/32
        // (19.2 frames/s against 15.4 at 32); f32's gemm prefers big passes.
        let pass = match (precision, device.is_cpu()) {
            (Precision::Q8, true) => 8,
            _ => usize::MAX,
        };
        Ok(Self { model, config, tokenizer, device, dtype: precision.dtype(), name: name.to_string(), key, pass })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    /// Identity of the weights; the store keys embeddings by it.
    pub fn key(&self) -> &str {
        &self.key
    }
    /// Side of the square input image.
    pub fn image_size(&self) -> usize {
        self.config.image_size
    }
    /// Embedding width.
    pub fn dim(&self) -> usize {
        self.config.text_config.projection_dim
    }
    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// Projected, not normalised, image features of preprocessed CHW images.
    pub fn image_features_raw(&self, pixels: &[f32], n: usize) -> Result<Vec<Vec<f32>>, ModelError> {
        self.image_features(pixels, n)?.to_vec2::<f32>().map_err(ModelError::inference)
    }

    /// The image tower's projected features as f32, whatever dtype the tower computes in.
    fn image_features(&self, pixels: &[f32], n: usize) -> Result<Tensor, ModelError> {
        let t = self.pixel_tensor(pixels, n)?;
        self.model.vision.forward(&t).and_then(|f| f.to_dtype(DType::F32)).map_err(ModelError::inference)
    }

    /// The text tower's projected features as f32, whatever dtype the tower computes in.
    fn text_features(&self, texts: &[&str]) -> Result<Tensor, ModelError> {
        let ids = self.token_tensor(texts)?;
        self.model.text.forward(&ids).and_then(|f| f.to_dtype(DType::F32)).map_err(ModelError::inference)
    }

    /// L2-normalised image embeddings of `n` preprocessed CHW images laid end to end.
    pub fn embed_images(&self, pixels: &[f32], n: usize) -> Result<Vec<Vec<f32>>, ModelError> {
        if n == 0 {
            return Ok(Vec::new());
        }
        if n > self.pass {
            let (c, s) = (self.config.vision_config.num_channels, self.image_size());
            let plane = c * s * s;
            if pixels.len() != n * plane {
                return Err(ModelError::PixelCount { images: n, channels: c, size: s, got: pixels.len() });
            }
            let mut out = Vec::with_capacity(n);
            for (i, chunk) in pixels.chunks(self.pass * plane).enumerate() {
                let m = (n - i * self.pass).min(self.pass);
                out.extend(self.embed_images(chunk, m)?);
            }
            return Ok(out);
        }
        let f = self.image_features(pixels, n)?;
        div_l2_norm(&f).and_then(|f| f.to_vec2::<f32>()).map_err(ModelError::inference)
    }

    /// Preprocesses (CLIPImageProcessor-exact) and embeds RGB images.
    pub fn embed_rgb_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>, ModelError> {
        let size = self.image_size();
        let pixels: Vec<f32> = images.iter().flat_map(|im| clip_preprocess(im, size)).collect();
        self.embed_images(&pixels, images.len())
    }

    /// Projected, not normalised, text features.
    pub fn text_features_raw(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.text_features(texts)?.to_vec2::<f32>().map_err(ModelError::inference)
    }

    /// L2-normalised text embeddings.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let f = self.text_features(texts)?;
        div_l2_norm(&f).and_then(|f| f.to_vec2::<f32>()).map_err(ModelError::inference)
    }

    fn pixel_tensor(&self, pixels: &[f32], n: usize) -> Result<Tensor, ModelError> {
        let s = self.image_size();
        let c = self.config.vision_config.num_channels;
        if pixels.len() != n * c * s * s {
            return Err(ModelError::PixelCount { images: n, channels: c, size: s, got: pixels.len() });
        }
        Tensor::from_slice(pixels, (n, c, s, s), &self.device)
            .and_then(|t| t.to_dtype(self.dtype))
            .map_err(ModelError::inference)
    }

    /// Token ids padded with 0 to the longest text of the batch. The text tower pools at the end
    /// token (argmax of the ids) under a causal mask, so padding never changes an embedding.
    fn token_tensor(&self, texts: &[&str]) -> Result<Tensor, ModelError> {
        let encoded: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t)).collect();
        let len = encoded.iter().map(Vec::len).max().unwrap_or(2);
        let mut flat = Vec::with_capacity(encoded.len() * len);
        for ids in &encoded {
            flat.extend_from_slice(ids);
            flat.extend(std::iter::repeat_n(0u32, len - ids.len()));
        }
        Tensor::from_vec(flat, (encoded.len(), len), &self.device).map_err(ModelError::inference)
    }
}

/// `name:` + 16 hex digits of blake3(config, weights).
fn checkpoint_key(name: &str, config: &[u8], weights: &Path) -> Result<String, ModelError> {
    let mut hasher = blake3::Hasher::new();
    hasher.update(config);
    let io = |source| ModelError::Io { path: weights.to_path_buf(), source };
    let mut f = std::fs::File::open(weights).map_err(io)?;
    std::io::copy(&mut f, &mut hasher).map_err(io)?;
    let short: String = name.rsplit('/').next().unwrap_or(name).chars().take(48).collect();
    Ok(format!("{short}:{}", &hasher.finalize().to_hex()[..16]))
}
