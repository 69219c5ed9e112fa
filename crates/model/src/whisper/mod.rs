//! Whisper (speech to text), loaded from a checkpoint in the Hugging Face layout through the
//! same `ModelSource` / `ModelFiles` resolution as CLIP (hub id or local directory). `net.rs`
//! is the network, `features.rs` computes its input exactly as Hugging Face's feature extractor
//! does.

pub mod features;
mod net;
pub mod tokenizer;
pub mod transcribe;

use candle_core::{Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
pub use net::WhisperConfig as Config;
use net::WhisperNet;

use crate::{ConfigError, DeviceSpec, ModelError, ModelFiles};
pub use features::{FeatureExtractor, MelFilters, N_FRAMES, N_SAMPLES, SAMPLE_RATE};
pub use tokenizer::WhisperTokenizer;
pub use transcribe::{Segment, Transcriber};

/// The parts of a Hugging Face Whisper `config.json` the network needs.
pub fn parse_whisper_config(text: &str) -> Result<Config, ConfigError> {
    let v: serde_json::Value = serde_json::from_str(text)?;
    if let Some(model_type) = v.get("model_type").and_then(|m| m.as_str())
        && model_type != "whisper"
    {
        return Err(ConfigError::NotWhisper(model_type.to_string()));
    }
    Ok(serde_json::from_value(v)?)
}

/// A loaded Whisper.
pub struct WhisperModel {
    net: WhisperNet,
    device: Device,
    pub config: Config,
}

impl std::fmt::Debug for WhisperModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperModel").field("d_model", &self.config.d_model).finish()
    }
}

impl WhisperModel {
    /// Loads `config.json` and `model.safetensors` (f32).
    pub fn from_files(files: &ModelFiles, device: DeviceSpec) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(&files.config)
            .map_err(|source| ModelError::Io { path: files.config.clone(), source })?;
        let config = parse_whisper_config(&text)?;
        let device = device.to_candle()?;
        let weights = |e: candle_core::Error| ModelError::Weights { path: files.weights.clone(), source: Box::new(e) };
        // SAFETY: mapped read-only; as every safetensors user, we rely on nobody truncating the
        // checkpoint while the process runs.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&files.weights], candle_core::DType::F32, &device) }
            .map_err(weights)?;
        let net = WhisperNet::load(&vb, &config).map_err(weights)?;
        Ok(Self { net, device, config })
    }

    /// The encoder's output for one window of features (`n_mels x N_FRAMES`, row-major):
    /// `1 x (N_FRAMES / 2) x d_model`.
    pub fn encode(&mut self, mel: &[f32]) -> Result<Tensor, ModelError> {
        let n_mels = self.config.num_mel_bins;
        let frames = mel.len() / n_mels.max(1);
        let x = Tensor::from_slice(mel, (1, n_mels, frames), &self.device).map_err(ModelError::inference)?;
        self.net.encoder.forward(&x).map_err(ModelError::inference)
    }

    /// Logits over the vocabulary for the token after `tokens`, given the encoder's output.
    pub fn next_logits(&mut self, tokens: &[u32], audio: &Tensor, first: bool) -> Result<Vec<f32>, ModelError> {
        let t = Tensor::new(tokens, &self.device).and_then(|t| t.unsqueeze(0)).map_err(ModelError::inference)?;
        let hidden = self.net.decoder.forward(&t, audio, first).map_err(ModelError::inference)?;
        let last = hidden.i((.., tokens.len() - 1..)).map_err(ModelError::inference)?;
        self.net
            .decoder
            .logits(&last)
            .and_then(|l| l.squeeze(0))
            .and_then(|l| l.squeeze(0))
            .and_then(|l| l.to_vec1::<f32>())
            .map_err(ModelError::inference)
    }

    /// Greedy decoding of `n` tokens after `prompt` (no suppression; what the parity files
    /// record).
    pub fn greedy(&mut self, prompt: &[u32], audio: &Tensor, n: usize) -> Result<Vec<u32>, ModelError> {
        let mut tokens = prompt.to_vec();
        for i in 0..n {
            let logits = self.next_logits(&tokens, audio, i == 0)?;
            let next = argmax(&logits);
            tokens.push(next);
        }
        Ok(tokens[prompt.len()..].to_vec())
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best as u32
}
