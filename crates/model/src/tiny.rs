//! Small CLIP checkpoints with generated weights, written in the Hugging Face layout.
//!
//! Tests and offline demos need a model without a download. The weights come from a seeded
//! generator (not candle's RNG, which cannot be seeded on the CPU), so the same seed gives the
//! same file on every machine; the checkpoint is then loaded through the normal code path.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarBuilder, VarMap};
use candle_transformers::models::clip::{
    ClipConfig, ClipModel,
    text_model::{Activation, ClipTextConfig},
    vision_model::ClipVisionConfig,
};

use super::{ConfigError, ModelError, config::hf_config_json};

/// Shape of a generated model.
#[derive(Debug, Clone, Copy)]
pub struct TinySpec {
    /// Width of the image tower (and of the text tower unless `text_width` says otherwise).
    pub width: usize,
    pub layers: usize,
    pub heads: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub projection_dim: usize,
    /// Width and heads of the text tower.
    pub text_width: usize,
    pub text_heads: usize,
    /// MLP hidden width as a multiple of the tower's width.
    pub mlp_ratio: usize,
}

impl Default for TinySpec {
    fn default() -> Self {
        Self::square(32, 2, 4, 32, 8, 32)
    }
}

impl TinySpec {
    /// Both towers `width` wide with `heads` heads and an MLP twice as wide (the test models).
    pub const fn square(
        width: usize,
        layers: usize,
        heads: usize,
        image_size: usize,
        patch_size: usize,
        projection_dim: usize,
    ) -> Self {
        Self {
            width,
            layers,
            heads,
            image_size,
            patch_size,
            projection_dim,
            text_width: width,
            text_heads: heads,
            mlp_ratio: 2,
        }
    }

    /// The shape (and so the compute cost) of `openai/clip-vit-base-patch32`, the reference
    /// miner's model: 12 layers per tower, image tower 768 wide with 12 heads over 7x7 patches
    /// of 32 px, text tower 512 wide with 8 heads, MLPs 4x, 512-d embeddings.
    pub const fn vit_b32() -> Self {
        Self {
            width: 768,
            layers: 12,
            heads: 12,
            image_size: 224,
            patch_size: 32,
            projection_dim: 512,
            text_width: 512,
            text_heads: 8,
            mlp_ratio: 4,
        }
    }

    pub fn clip_config(&self) -> ClipConfig {
        ClipConfig {
            text_config: ClipTextConfig {
                vocab_size: 49408,
                embed_dim: self.text_width,
                activation: Activation::QuickGelu,
                intermediate_size: self.text_width * self.mlp_ratio,
                max_position_embeddings: 77,
                pad_with: None,
                num_hidden_layers: self.layers,
                num_attention_heads: self.text_heads,
                projection_dim: self.projection_dim,
            },
            vision_config: ClipVisionConfig {
                embed_dim: self.width,
                activation: Activation::QuickGelu,
                intermediate_size: self.width * self.mlp_ratio,
                num_hidden_layers: self.layers,
                num_attention_heads: self.heads,
                projection_dim: self.projection_dim,
                num_channels: 3,
                image_size: self.image_size,
                patch_size: self.patch_size,
            },
            logit_scale_init_value: 2.6592,
            image_size: self.image_size,
        }
    }
}

/// splitmix64: tiny, seedable, and identical everywhere.
struct SplitMix(u64);
impl SplitMix {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// How generated weights are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitScheme {
    /// Uniform in +-0.1 everywhere (fixtures: exercises every weight, means nothing).
    Fixture,
    /// Scaled for training: +-1/sqrt(fan_in) for matrices, small embeddings, zero biases.
    Training,
}

/// A map's variables by name: the order seeded weights are drawn in, so a seed always gives
/// the same checkpoint.
pub(crate) fn sorted_vars(varmap: &VarMap) -> Vec<(String, candle_core::Var)> {
    let mut vars: Vec<(String, candle_core::Var)> = varmap
        .data()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    vars
}

/// A VarMap holding every weight of a CLIP of this shape, drawn from `seed`, and the model
/// built on it (the model reads the map's variables, so training updates it in place).
pub fn init_varmap(spec: TinySpec, seed: u64, scheme: InitScheme) -> Result<(VarMap, ClipModel), ModelError> {
    let config = spec.clip_config();
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    // Registered first so ClipModel::new finds them in the map (see CRATE-NOTES).
    varmap
        .get(spec.width, "vision_model.embeddings.class_embedding", Init::Const(0.0), DType::F32, &dev)
        .map_err(ModelError::build)?;
    varmap.get((), "logit_scale", Init::Const(2.6592), DType::F32, &dev).map_err(ModelError::build)?;
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let model = ClipModel::new(vb, &config).map_err(ModelError::build)?;
    let mut rng = SplitMix(seed);
    for (name, var) in sorted_vars(&varmap) {
        let shape = var.shape().clone();
        let n = shape.elem_count();
        let scale = match scheme {
            InitScheme::Fixture => 0.1,
            InitScheme::Training if name.contains("embedding") => 0.02,
            InitScheme::Training if name.ends_with("bias") => 0.0,
            InitScheme::Training => {
                let fan_in = *shape.dims().last().unwrap_or(&1) as f32;
                1.0 / fan_in.sqrt()
            }
        };
        let values: Vec<f32> = if name.ends_with("logit_scale") {
            vec![2.6592]
        } else if name.contains("layer_norm") || name.contains("layrnorm") {
            // LayerNorm: weight 1, bias 0, like a fresh model.
            vec![if name.ends_with("weight") { 1.0 } else { 0.0 }; n]
        } else {
            (0..n).map(|_| (rng.next_f32() * 2.0 - 1.0) * scale).collect()
        };
        let t = Tensor::from_vec(values, shape, &dev).map_err(ModelError::build)?;
        var.set(&t).map_err(ModelError::build)?;
    }
    Ok((varmap, model))
}

/// Writes a checkpoint in the Hugging Face layout: `config.json` and `model.safetensors`, the
/// weights stored as `dtype` (f16 halves the size of a bundled model).
pub fn save_checkpoint(dir: &Path, varmap: &VarMap, spec: TinySpec, dtype: DType) -> Result<(), ModelError> {
    let io = |source| ModelError::Io { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let tensors: std::collections::HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().to_dtype(dtype)?)))
        .collect::<Result<_, candle_core::Error>>()
        .map_err(ModelError::build)?;
    // With `format: pt` in the header, as Hugging Face checkpoints have it: transformers refuses
    // a file without it, and the Python side loads these checkpoints for comparisons.
    let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(&tensors, Some(metadata), &dir.join("model.safetensors"))
        .map_err(|e| ModelError::Safetensors(Box::new(e)))?;
    let json = serde_json::to_string_pretty(&hf_config_json(&spec.clip_config())).map_err(ConfigError::Json)?;
    std::fs::write(dir.join("config.json"), json).map_err(io)?;
    Ok(())
}

/// Writes `config.json` and `model.safetensors` for a random model with this seed into `dir`.
pub fn write_random_clip(dir: &Path, spec: TinySpec, seed: u64) -> Result<(), ModelError> {
    write_random_clip_with(dir, spec, seed, InitScheme::Fixture)
}

/// [`write_random_clip`] with the weights drawn by `scheme`.
pub fn write_random_clip_with(dir: &Path, spec: TinySpec, seed: u64, scheme: InitScheme) -> Result<(), ModelError> {
    let (varmap, _) = init_varmap(spec, seed, scheme)?;
    save_checkpoint(dir, &varmap, spec, DType::F32)
}
