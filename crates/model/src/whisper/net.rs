//! Whisper's network on candle, read from the Hugging Face names (`model.encoder.*`,
//! `model.decoder.*`). After candle-transformers' `whisper::model`, with what a Hugging Face
//! checkpoint states rather than what openai's sizes imply: the feed-forward widths come from
//! `encoder_ffn_dim` / `decoder_ffn_dim` (not 4 x d_model), the encoder's positions are the
//! checkpoint's `embed_positions` (not recomputed), and GELU is the exact (erf) one both
//! openai-whisper and transformers use (candle-transformers' model uses the tanh approximation).

use candle_core::{IndexOp, Module, Result, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, Embedding, LayerNorm, Linear, VarBuilder, linear, linear_no_bias};
use serde::Deserialize;

/// The fields of a Hugging Face Whisper `config.json` the network needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WhisperConfig {
    pub num_mel_bins: usize,
    pub max_source_positions: usize,
    pub max_target_positions: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_layers: usize,
    pub decoder_attention_heads: usize,
    pub decoder_ffn_dim: usize,
    pub vocab_size: usize,
}

fn layer_norm(size: usize, vb: VarBuilder) -> Result<LayerNorm> {
    Ok(LayerNorm::new(vb.get(size, "weight")?, vb.get(size, "bias")?, 1e-5))
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
    /// Keys and values kept between decoder steps: the encoder's (cross-attention, computed
    /// once per window) or those of the tokens decoded so far (the decoder's self-attention,
    /// so a step runs only its new token through the layers, as transformers' KV cache).
    cache: Option<(Tensor, Tensor)>,
    /// Self-attention that appends to `cache` (the decoder's); the encoder's keeps nothing.
    incremental: bool,
}

impl Attention {
    fn load(width: usize, heads: usize, incremental: bool, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            q: linear(width, width, vb.pp("q_proj"))?,
            k: linear_no_bias(width, width, vb.pp("k_proj"))?,
            v: linear(width, width, vb.pp("v_proj"))?,
            out: linear(width, width, vb.pp("out_proj"))?,
            heads,
            cache: None,
            incremental,
        })
    }

    fn heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, n, w) = x.dims3()?;
        x.reshape((b, n, self.heads, w / self.heads))?.transpose(1, 2)
    }

    /// `mask` is already cut to `new tokens x all tokens`.
    fn forward(&mut self, x: &Tensor, xa: Option<&Tensor>, mask: Option<&Tensor>, flush: bool) -> Result<Tensor> {
        let q = self.q.forward(x)?;
        let (k, v) = match xa {
            None if self.incremental => {
                if flush {
                    self.cache = None;
                }
                let (k, v) = (self.k.forward(x)?, self.v.forward(x)?);
                let (k, v) = match &self.cache {
                    Some((pk, pv)) => (Tensor::cat(&[pk, &k], 1)?, Tensor::cat(&[pv, &v], 1)?),
                    None => (k, v),
                };
                self.cache = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (self.k.forward(x)?, self.v.forward(x)?),
            Some(xa) => {
                if flush {
                    self.cache = None;
                }
                match &self.cache {
                    Some((k, v)) => (k.clone(), v.clone()),
                    None => {
                        let (k, v) = (self.k.forward(xa)?, self.v.forward(xa)?);
                        self.cache = Some((k.clone(), v.clone()));
                        (k, v)
                    }
                }
            }
        };
        let (_, _, w) = q.dims3()?;
        let scale = ((w / self.heads) as f64).powf(-0.25);
        let q = (self.heads(&q)? * scale)?;
        let k = (self.heads(&k)?.transpose(2, 3)? * scale)?;
        let v = self.heads(&v)?.contiguous()?;
        let mut qk = q.contiguous()?.matmul(&k.contiguous()?)?;
        if let Some(mask) = mask {
            qk = qk.broadcast_add(mask)?;
        }
        let w = candle_nn::ops::softmax_last_dim(&qk)?;
        let out = w.matmul(&v)?.transpose(1, 2)?.flatten_from(2)?;
        self.out.forward(&out)
    }
}

struct Block {
    attn: Attention,
    attn_ln: LayerNorm,
    cross: Option<(Attention, LayerNorm)>,
    fc1: Linear,
    fc2: Linear,
    mlp_ln: LayerNorm,
}

impl Block {
    fn load(width: usize, heads: usize, ffn: usize, cross: bool, vb: VarBuilder) -> Result<Self> {
        let decoder = cross;
        let cross = if cross {
            Some((
                Attention::load(width, heads, false, vb.pp("encoder_attn"))?,
                layer_norm(width, vb.pp("encoder_attn_layer_norm"))?,
            ))
        } else {
            None
        };
        Ok(Self {
            attn: Attention::load(width, heads, decoder, vb.pp("self_attn"))?,
            attn_ln: layer_norm(width, vb.pp("self_attn_layer_norm"))?,
            cross,
            fc1: linear(width, ffn, vb.pp("fc1"))?,
            fc2: linear(ffn, width, vb.pp("fc2"))?,
            mlp_ln: layer_norm(width, vb.pp("final_layer_norm"))?,
        })
    }

    /// `layers.0` … `layers.{n-1}` under `vb`.
    fn stack(n: usize, width: usize, heads: usize, ffn: usize, cross: bool, vb: &VarBuilder) -> Result<Vec<Self>> {
        (0..n).map(|i| Self::load(width, heads, ffn, cross, vb.pp(format!("layers.{i}")))).collect()
    }

    fn forward(&mut self, x: &Tensor, xa: Option<&Tensor>, mask: Option<&Tensor>, flush: bool) -> Result<Tensor> {
        let mut x = (x + self.attn.forward(&self.attn_ln.forward(x)?, None, mask, flush)?)?;
        if let Some((attn, ln)) = &mut self.cross {
            x = (&x + attn.forward(&ln.forward(&x)?, xa, None, flush)?)?;
        }
        let mlp = self.fc2.forward(&self.fc1.forward(&self.mlp_ln.forward(&x)?)?.gelu_erf()?)?;
        x + mlp
    }
}

pub struct Encoder {
    conv1: Conv1d,
    conv2: Conv1d,
    positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
}

impl Encoder {
    fn load(vb: VarBuilder, c: &WhisperConfig) -> Result<Self> {
        let conv = |cin, stride, vb: VarBuilder| -> Result<Conv1d> {
            let cfg = Conv1dConfig { padding: 1, stride, groups: 1, dilation: 1, cudnn_fwd_algo: None };
            Ok(Conv1d::new(vb.get((c.d_model, cin, 3), "weight")?, Some(vb.get(c.d_model, "bias")?), cfg))
        };
        Ok(Self {
            conv1: conv(c.num_mel_bins, 1, vb.pp("conv1"))?,
            conv2: conv(c.d_model, 2, vb.pp("conv2"))?,
            positions: vb.get((c.max_source_positions, c.d_model), "embed_positions.weight")?,
            blocks: Block::stack(
                c.encoder_layers,
                c.d_model,
                c.encoder_attention_heads,
                c.encoder_ffn_dim,
                false,
                &vb,
            )?,
            ln: layer_norm(c.d_model, vb.pp("layer_norm"))?,
        })
    }

    /// `batch x n_mels x frames` features to `batch x frames/2 x d_model`.
    pub fn forward(&mut self, mel: &Tensor) -> Result<Tensor> {
        let x = self.conv1.forward(mel)?.gelu_erf()?;
        let x = self.conv2.forward(&x)?.gelu_erf()?.transpose(1, 2)?;
        let n = x.dim(1)?;
        let mut x = x.broadcast_add(&self.positions.narrow(0, 0, n)?)?;
        for b in &mut self.blocks {
            x = b.forward(&x, None, None, false)?;
        }
        self.ln.forward(&x)
    }
}

pub struct Decoder {
    tokens: Embedding,
    positions: Tensor,
    blocks: Vec<Block>,
    ln: LayerNorm,
    mask: Tensor,
    /// Tokens already in the self-attention caches.
    seen: usize,
}

impl Decoder {
    fn load(vb: VarBuilder, c: &WhisperConfig) -> Result<Self> {
        let n = c.max_target_positions;
        let mask: Vec<f32> =
            (0..n).flat_map(|i| (0..n).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
        Ok(Self {
            tokens: candle_nn::embedding(c.vocab_size, c.d_model, vb.pp("embed_tokens"))?,
            positions: vb.get((n, c.d_model), "embed_positions.weight")?,
            blocks: Block::stack(c.decoder_layers, c.d_model, c.decoder_attention_heads, c.decoder_ffn_dim, true, &vb)?,
            ln: layer_norm(c.d_model, vb.pp("layer_norm"))?,
            mask: Tensor::from_vec(mask, (n, n), vb.device())?,
            seen: 0,
        })
    }

    /// Hidden states for the `new` tokens (`batch x m`) that follow the ones already decoded,
    /// attending to them and to the encoder's `audio`; `flush` starts a new sequence (a new
    /// window: every cache dropped, `new` is the whole prompt).
    pub fn forward(&mut self, new: &Tensor, audio: &Tensor, flush: bool) -> Result<Tensor> {
        if flush {
            self.seen = 0;
        }
        let (m, at) = (new.dim(1)?, self.seen);
        let mut x = self.tokens.forward(new)?.broadcast_add(&self.positions.narrow(0, at, m)?)?;
        // One new token may see every earlier one: no mask. Several (the prompt) are causal.
        let mask = if m > 1 { Some(self.mask.i((at..at + m, 0..at + m))?) } else { None };
        for b in &mut self.blocks {
            x = b.forward(&x, Some(audio), mask.as_ref(), flush)?;
        }
        self.seen = at + m;
        self.ln.forward(&x)
    }

    /// Tokens of the current sequence already decoded.
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Logits over the vocabulary (the output projection is the token embedding, tied).
    pub fn logits(&self, hidden: &Tensor) -> Result<Tensor> {
        let b = hidden.dim(0)?;
        hidden.matmul(&self.tokens.embeddings().broadcast_left(b)?.t()?)
    }
}

/// Encoder and decoder.
pub struct WhisperNet {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

impl WhisperNet {
    pub fn load(vb: &VarBuilder, c: &WhisperConfig) -> Result<Self> {
        Ok(Self {
            encoder: Encoder::load(vb.pp("model.encoder"), c)?,
            decoder: Decoder::load(vb.pp("model.decoder"), c)?,
        })
    }
}
