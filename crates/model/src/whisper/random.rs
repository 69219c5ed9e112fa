//! A Whisper with seeded random weights and a real checkpoint's shape, written in the Hugging
//! Face layout: what the speech-model benchmark times when real weights cannot be downloaded
//! (its words mean nothing; its cost per second of audio is the real model's, except that a
//! random decoder talks until the token limit, so decoding is the worst case).

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use super::net::{WhisperConfig, WhisperNet};
use crate::rng::Rng;
use crate::{ConfigError, ModelError};

/// `openai/whisper-tiny`'s architecture (its `config.json`'s sizes).
pub fn whisper_tiny_config() -> WhisperConfig {
    WhisperConfig {
        num_mel_bins: 80,
        max_source_positions: 1500,
        max_target_positions: 448,
        d_model: 384,
        encoder_layers: 4,
        encoder_attention_heads: 6,
        encoder_ffn_dim: 1536,
        decoder_layers: 4,
        decoder_attention_heads: 6,
        decoder_ffn_dim: 1536,
        vocab_size: 51_865,
    }
}

/// Writes `config.json` and `model.safetensors` of a Whisper shaped as `config`, every weight
/// drawn from `seed` (uniform in ±1/sqrt(fan-in); layer norms 1 and 0).
pub fn write_random_whisper(dir: &Path, config: &WhisperConfig, seed: u64) -> Result<(), ModelError> {
    let io = |source| ModelError::Io { path: dir.to_path_buf(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    let varmap = VarMap::new();
    // Building the network on an empty map registers every weight it reads.
    WhisperNet::load(&VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu), config).map_err(ModelError::build)?;
    let mut rng = Rng::new(seed);
    let mut tensors = std::collections::HashMap::new();
    for (name, var) in crate::tiny::sorted_vars(&varmap) {
        let shape = var.shape().clone();
        let n = shape.elem_count();
        let values: Vec<f32> = if name.contains("layer_norm") {
            vec![if name.ends_with("weight") { 1.0 } else { 0.0 }; n]
        } else {
            let fan_in: usize = shape.dims().iter().skip(1).product::<usize>().max(1);
            let scale = 1.0 / (fan_in as f64).sqrt();
            (0..n).map(|_| ((rng.unit() * 2.0 - 1.0) * scale) as f32).collect()
        };
        tensors.insert(name, Tensor::from_vec(values, shape, &Device::Cpu).map_err(ModelError::build)?);
    }
    let metadata = std::collections::HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize_to_file(&tensors, Some(metadata), &dir.join("model.safetensors"))
        .map_err(|e| ModelError::Safetensors(Box::new(e)))?;
    let json = serde_json::json!({
        "model_type": "whisper",
        "architectures": ["WhisperForConditionalGeneration"],
        "num_mel_bins": config.num_mel_bins,
        "max_source_positions": config.max_source_positions,
        "max_target_positions": config.max_target_positions,
        "d_model": config.d_model,
        "encoder_layers": config.encoder_layers,
        "encoder_attention_heads": config.encoder_attention_heads,
        "encoder_ffn_dim": config.encoder_ffn_dim,
        "decoder_layers": config.decoder_layers,
        "decoder_attention_heads": config.decoder_attention_heads,
        "decoder_ffn_dim": config.decoder_ffn_dim,
        "vocab_size": config.vocab_size,
        "activation_function": "gelu",
        "scale_embedding": false,
        "decoder_start_token_id": 50258,
        "eos_token_id": 50257,
        "pad_token_id": 50257,
    });
    let text = serde_json::to_string_pretty(&json).map_err(ConfigError::Json)?;
    std::fs::write(dir.join("config.json"), text).map_err(io)?;
    Ok(())
}
