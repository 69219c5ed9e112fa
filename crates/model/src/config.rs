//! Reading a Hugging Face `CLIPModel` `config.json` into candle's `ClipConfig`.
//!
//! Hugging Face configs omit fields equal to their defaults, so every field falls back to the
//! default of transformers' `CLIPTextConfig`/`CLIPVisionConfig`. The projection width is the
//! top-level `projection_dim` (the per-tower `projection_dim` entries are unused leftovers).

use candle_transformers::models::clip::{
    ClipConfig,
    text_model::{Activation, ClipTextConfig},
    vision_model::ClipVisionConfig,
};
use serde::Deserialize;

use super::{ConfigError, ModelError};

#[derive(Debug, Deserialize)]
struct HfClipConfig {
    #[serde(default = "default_projection_dim")]
    projection_dim: usize,
    #[serde(default = "default_logit_scale")]
    logit_scale_init_value: f32,
    #[serde(default)]
    text_config: HfTextConfig,
    #[serde(default)]
    vision_config: HfVisionConfig,
    #[serde(default)]
    model_type: Option<String>,
}

fn default_projection_dim() -> usize {
    512
}
fn default_logit_scale() -> f32 {
    2.6592
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct HfTextConfig {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    max_position_embeddings: usize,
    hidden_act: String,
}

impl Default for HfTextConfig {
    fn default() -> Self {
        Self {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            hidden_act: "quick_gelu".into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct HfVisionConfig {
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_channels: usize,
    image_size: usize,
    patch_size: usize,
    hidden_act: String,
}

impl Default for HfVisionConfig {
    fn default() -> Self {
        Self {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            hidden_act: "quick_gelu".into(),
        }
    }
}

fn activation(name: &str, tower: &'static str) -> Result<Activation, ModelError> {
    match name {
        "quick_gelu" => Ok(Activation::QuickGelu),
        other => Err(ConfigError::Activation { tower, name: other.to_string() }.into()),
    }
}

/// Parses `config.json` text into candle's config. Fails with the field that is wrong.
pub fn parse_clip_config(json: &str) -> Result<ClipConfig, ModelError> {
    let hf: HfClipConfig = serde_json::from_str(json).map_err(ConfigError::Json)?;
    if let Some(t) = &hf.model_type
        && t != "clip"
    {
        return Err(ConfigError::NotClip(t.clone()).into());
    }
    let t = &hf.text_config;
    let v = &hf.vision_config;
    for (name, width, heads) in
        [("text", t.hidden_size, t.num_attention_heads), ("vision", v.hidden_size, v.num_attention_heads)]
    {
        if heads == 0 || width % heads != 0 {
            return Err(ConfigError::Heads { tower: name, width, heads }.into());
        }
    }
    if v.patch_size == 0 || !v.image_size.is_multiple_of(v.patch_size) {
        return Err(ConfigError::PatchSize { image_size: v.image_size, patch_size: v.patch_size }.into());
    }
    let text_config = ClipTextConfig {
        vocab_size: t.vocab_size,
        embed_dim: t.hidden_size,
        activation: activation(&t.hidden_act, "text")?,
        intermediate_size: t.intermediate_size,
        max_position_embeddings: t.max_position_embeddings,
        pad_with: None,
        num_hidden_layers: t.num_hidden_layers,
        num_attention_heads: t.num_attention_heads,
        projection_dim: hf.projection_dim,
    };
    let vision_config = ClipVisionConfig {
        embed_dim: v.hidden_size,
        activation: activation(&v.hidden_act, "vision")?,
        intermediate_size: v.intermediate_size,
        num_hidden_layers: v.num_hidden_layers,
        num_attention_heads: v.num_attention_heads,
        projection_dim: hf.projection_dim,
        num_channels: v.num_channels,
        image_size: v.image_size,
        patch_size: v.patch_size,
    };
    Ok(ClipConfig {
        text_config,
        vision_config,
        logit_scale_init_value: hf.logit_scale_init_value,
        image_size: v.image_size,
    })
}

/// Writes a config in the Hugging Face layout, so generated models load like downloaded ones.
pub fn hf_config_json(c: &ClipConfig) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["CLIPModel"],
        "model_type": "clip",
        "projection_dim": c.text_config.projection_dim,
        "logit_scale_init_value": c.logit_scale_init_value,
        "text_config": {
            "model_type": "clip_text_model",
            "vocab_size": c.text_config.vocab_size,
            "hidden_size": c.text_config.embed_dim,
            "intermediate_size": c.text_config.intermediate_size,
            "num_hidden_layers": c.text_config.num_hidden_layers,
            "num_attention_heads": c.text_config.num_attention_heads,
            "max_position_embeddings": c.text_config.max_position_embeddings,
            "hidden_act": "quick_gelu",
            "bos_token_id": 49406,
            "eos_token_id": 49407
        },
        "vision_config": {
            "model_type": "clip_vision_model",
            "hidden_size": c.vision_config.embed_dim,
            "intermediate_size": c.vision_config.intermediate_size,
            "num_hidden_layers": c.vision_config.num_hidden_layers,
            "num_attention_heads": c.vision_config.num_attention_heads,
            "num_channels": c.vision_config.num_channels,
            "image_size": c.vision_config.image_size,
            "patch_size": c.vision_config.patch_size,
            "hidden_act": "quick_gelu"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_is_vit_b32() {
        let c = parse_clip_config("{}").unwrap();
        assert_eq!(c.vision_config.embed_dim, 768);
        assert_eq!(c.text_config.embed_dim, 512);
        assert_eq!(c.text_config.projection_dim, 512);
        assert_eq!(c.image_size, 224);
    }

    #[test]
    fn rejects_unsupported_activation_and_bad_heads() {
        let e = parse_clip_config(r#"{"text_config": {"hidden_act": "gelu"}}"#).unwrap_err();
        assert!(
            matches!(&e, ModelError::Config(ConfigError::Activation { tower: "text", name }) if name == "gelu"),
            "{e:?}"
        );
        let e = parse_clip_config(r#"{"vision_config": {"hidden_size": 30, "num_attention_heads": 4}}"#).unwrap_err();
        assert!(matches!(e, ModelError::Config(ConfigError::Heads { tower: "vision", width: 30, heads: 4 })), "{e:?}");
        assert!(e.to_string().contains("divisible"));
        let e = parse_clip_config(r#"{"model_type": "siglip"}"#).unwrap_err();
        assert!(matches!(&e, ModelError::Config(ConfigError::NotClip(t)) if t == "siglip"), "{e:?}");
        let e = parse_clip_config("{").unwrap_err();
        assert!(matches!(e, ModelError::Config(ConfigError::Json(_))), "{e:?}");
    }

    #[test]
    fn round_trips_through_hf_layout() {
        let c = parse_clip_config(
            r#"{"projection_dim": 16, "text_config": {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 64},
                "vision_config": {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 2, "intermediate_size": 64, "image_size": 64, "patch_size": 16}}"#,
        )
        .unwrap();
        let again = parse_clip_config(&hf_config_json(&c).to_string()).unwrap();
        assert_eq!(again.text_config.projection_dim, 16);
        assert_eq!(again.vision_config.patch_size, 16);
        assert_eq!(again.image_size, 64);
    }
}
