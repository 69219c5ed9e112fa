//! Whisper (speech to text), loaded from a checkpoint in the Hugging Face layout through the
//! same `ModelSource` / `ModelFiles` resolution as CLIP (hub id or local directory). `net.rs`
//! is the network, `features.rs` computes its input exactly as Hugging Face's feature extractor
//! does.

pub mod features;
mod net;
pub mod random;
pub mod tokenizer;
pub mod transcribe;

use candle_core::{Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
pub use net::WhisperConfig as Config;
use net::WhisperNet;

use crate::source::Download;
use crate::{ConfigError, DeviceSpec, ModelError, ModelFiles, ModelSource};
pub use features::{FeatureExtractor, MelFilters, N_FRAMES, N_SAMPLES, SAMPLE_RATE};
pub use tokenizer::WhisperTokenizer;
pub use transcribe::{Language, Segment, Transcriber};

/// The default speech model, as in the reference miner.
pub const DEFAULT_WHISPER_ID: &str = "openai/whisper-tiny";

/// Tokenizer vocabularies looked for beside a checkpoint, in order: openai-whisper's files,
/// then Hugging Face's (what hub checkpoints ship).
const VOCABULARIES: [&str; 3] = ["multilingual.tiktoken", "gpt2.tiktoken", "vocab.json"];

impl Transcriber {
    /// Loads a Whisper checkpoint in the Hugging Face layout (`config.json`,
    /// `model.safetensors`) with its tokenizer vocabulary (`multilingual.tiktoken`,
    /// `gpt2.tiktoken` or `vocab.json` beside it) and mel filter bank (`mel_filters.npz` beside
    /// it, else computed as librosa does). Multilingual checkpoints detect the language;
    /// English-only ones (`*.en`) need no language token.
    pub async fn load(source: &ModelSource, device: DeviceSpec, download: Download) -> Result<Self, ModelError> {
        let files = source.resolve_with(download).await?;
        let vocab = source.companion_file(&VOCABULARIES, download).await.ok_or_else(|| ModelError::MissingFile {
            path: match source {
                ModelSource::Dir(d) => d.join("vocab.json"),
                ModelSource::Hub { id, .. } => std::path::PathBuf::from(id).join("vocab.json"),
            },
        })?;
        let filters = source.companion_file(&["mel_filters.npz"], Download::Never).await;
        tokio::task::spawn_blocking(move || Self::from_parts(&files, &vocab, filters.as_deref(), device))
            .await
            .map_err(ModelError::LoaderTask)?
    }

    /// [`Transcriber::load`] from files on disk.
    pub fn from_parts(
        files: &ModelFiles,
        vocab: &std::path::Path,
        filters: Option<&std::path::Path>,
        device: DeviceSpec,
    ) -> Result<Self, ModelError> {
        let model = WhisperModel::from_files(files, device)?;
        let read = |languages| {
            if vocab.extension().is_some_and(|e| e == "json") {
                WhisperTokenizer::from_hf_vocab(vocab, languages)
            } else {
                WhisperTokenizer::from_tiktoken(vocab, languages)
            }
        };
        let ordinary = read(0)?.end_of_text() as usize;
        let tokenizer = read(WhisperTokenizer::languages_for(model.config.vocab_size, ordinary))?;
        if tokenizer.n_vocab() != model.config.vocab_size {
            return Err(ConfigError::VocabularyMismatch {
                vocabulary: tokenizer.n_vocab(),
                config: model.config.vocab_size,
            }
            .into());
        }
        let n_mels = model.config.num_mel_bins;
        let filters = match filters {
            Some(path) => MelFilters::from_npz(path, n_mels)?,
            None => MelFilters::slaney(n_mels),
        };
        // openai-whisper: multilingual checkpoints have 51,865 ids or more.
        let language = if model.config.vocab_size >= 51_865 { Language::Detect } else { Language::Omit };
        Ok(Self::new(model, FeatureExtractor::new(filters), tokenizer, language))
    }
}

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
    /// `first` starts a sequence; otherwise `tokens` extends the previous call's, and only the
    /// tokens added since run through the decoder (the rest are in its caches).
    pub fn next_logits(&mut self, tokens: &[u32], audio: &Tensor, first: bool) -> Result<Vec<f32>, ModelError> {
        let seen = if first { 0 } else { self.net.decoder.seen() };
        if tokens.len() <= seen {
            return Err(ModelError::inference(candle_core::Error::Msg(format!(
                "{} tokens given, {seen} already decoded: a continuation must add tokens",
                tokens.len()
            ))));
        }
        let t =
            Tensor::new(&tokens[seen..], &self.device).and_then(|t| t.unsqueeze(0)).map_err(ModelError::inference)?;
        let hidden = self.net.decoder.forward(&t, audio, first).map_err(ModelError::inference)?;
        let last = hidden.i((.., tokens.len() - seen - 1..)).map_err(ModelError::inference)?;
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
