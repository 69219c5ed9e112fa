//! CLIP's image and text towers for inference, read from the same Hugging Face weights as
//! candle-transformers' `ClipModel` and computing the same function, arranged for CPU
//! throughput (measured in README's Performance section):
//!
//! - the patch embedding is a matmul over patches laid out by one reshape, not a strided
//!   convolution (patches do not overlap);
//! - every matmul is 2-D over all tokens of the batch, against weights transposed once at load;
//! - query, key and value are one fused projection, with the `head_dim^-0.5` scale folded into
//!   the query weights at load;
//! - biases, residuals, QuickGELU and attention are the kernels of [`super::kernels`] (one
//!   multi-threaded pass each on the CPU; candle compositions elsewhere);
//! - only the class token leaves the last layer's norm and projection.
//!
//! Training keeps using candle-transformers' model (these kernels have no gradients); the
//! parity tests check this module against transformers' own outputs.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{D, DType, IndexOp, Module, Result, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::clip::{ClipConfig, text_model::ClipTextConfig, vision_model::ClipVisionConfig};

use super::{Precision, kernels};

const LN_EPS: f32 = 1e-5;

/// A dense layer's weight (its bias, where it has one, is kept by the caller, which fuses it
/// with what follows the matmul): in the tower's dtype (f32, f16 or bf16) stored as `(in, out)`
/// so that `x @ w` needs no transpose per call, or 8-bit blocks for candle's quantized matmul.
enum Dense {
    Full(Tensor),
    Q8(QMatMul),
}

impl Dense {
    fn load(vb: &VarBuilder, inp: usize, out: usize, precision: Precision) -> Result<Self> {
        Self::new(vb.get((out, inp), "weight")?, precision)
    }

    /// From a PyTorch-layout `(out, in)` weight. Q8 needs rows that are whole 32-value blocks;
    /// other widths stay f32.
    fn new(w: Tensor, precision: Precision) -> Result<Self> {
        let inp = w.dim(1)?;
        if precision == Precision::Q8 && inp % 32 == 0 {
            let q = QTensor::quantize(&w.contiguous()?, GgmlDType::Q8_0)?;
            return Ok(Self::Q8(QMatMul::from_qtensor(q)?));
        }
        Ok(Self::Full(w.t()?.contiguous()?))
    }

    /// `x @ w`, without any bias.
    fn matmul(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Full(w) => x.matmul(w),
            Self::Q8(q) => q.forward(&x.contiguous()?),
        }
    }
}

struct Norm {
    w: Tensor,
    b: Tensor,
}

impl Norm {
    fn load(vb: VarBuilder, dim: usize) -> Result<Self> {
        Ok(Self { w: vb.get(dim, "weight")?, b: vb.get(dim, "bias")? })
    }
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.w, &self.b, LN_EPS)
    }
}

struct Block {
    ln1: Norm,
    qkv: Dense,
    qkv_b: Tensor,
    out: Dense,
    out_b: Tensor,
    ln2: Norm,
    fc1: Dense,
    fc1_b: Tensor,
    fc2: Dense,
    fc2_b: Tensor,
}

impl Block {
    fn load(vb: VarBuilder, width: usize, mlp: usize, heads: usize, precision: Precision) -> Result<Self> {
        let attn = vb.pp("self_attn");
        let scale = ((width / heads) as f64).powf(-0.5);
        let proj = |name: &str| -> Result<(Tensor, Tensor)> {
            let p = attn.pp(name);
            Ok((p.get((width, width), "weight")?, p.get(width, "bias")?))
        };
        let (qw, qb) = proj("q_proj")?;
        let (kw, kb) = proj("k_proj")?;
        let (vw, vb_) = proj("v_proj")?;
        let (qw, qb) = ((qw * scale)?, (qb * scale)?);
        let (out, fc1, fc2) = (attn.pp("out_proj"), vb.pp("mlp").pp("fc1"), vb.pp("mlp").pp("fc2"));
        Ok(Self {
            ln1: Norm::load(vb.pp("layer_norm1"), width)?,
            qkv: Dense::new(Tensor::cat(&[&qw, &kw, &vw], 0)?, precision)?,
            qkv_b: Tensor::cat(&[&qb, &kb, &vb_], 0)?,
            out_b: out.get(width, "bias")?,
            out: Dense::load(&out, width, width, precision)?,
            ln2: Norm::load(vb.pp("layer_norm2"), width)?,
            fc1_b: fc1.get(mlp, "bias")?,
            fc1: Dense::load(&fc1, width, mlp, precision)?,
            fc2_b: fc2.get(width, "bias")?,
            fc2: Dense::load(&fc2, mlp, width, precision)?,
        })
    }

    /// `x`: `(n * seq, width)`.
    fn forward(&self, x: &Tensor, n: usize, seq: usize, heads: usize, causal: bool) -> Result<Tensor> {
        let h = self.ln1.forward(x)?;
        let qkv = kernels::add_bias(self.qkv.matmul(&h)?, &self.qkv_b)?;
        let a = kernels::attention(&qkv, n, seq, heads, causal)?;
        let x = kernels::add_bias_residual(self.out.matmul(&a)?, &self.out_b, x)?;
        let h = self.ln2.forward(&x)?;
        let h = kernels::bias_quick_gelu(self.fc1.matmul(&h)?, &self.fc1_b)?;
        kernels::add_bias_residual(self.fc2.matmul(&h)?, &self.fc2_b, &x)
    }
}

struct Encoder {
    blocks: Vec<Block>,
    heads: usize,
}

impl Encoder {
    fn load(
        vb: VarBuilder,
        layers: usize,
        width: usize,
        mlp: usize,
        heads: usize,
        precision: Precision,
    ) -> Result<Self> {
        let vb = vb.pp("layers");
        let blocks = (0..layers).map(|i| Block::load(vb.pp(i), width, mlp, heads, precision)).collect::<Result<_>>()?;
        Ok(Self { blocks, heads })
    }

    fn forward(&self, x: &Tensor, n: usize, seq: usize, causal: bool) -> Result<Tensor> {
        let mut x = x.clone();
        for b in &self.blocks {
            x = b.forward(&x, n, seq, self.heads, causal)?;
        }
        Ok(x)
    }
}

/// The image tower and its projection: preprocessed `(n, 3, size, size)` pixels to projected,
/// not normalised, features `(n, projection_dim)`.
pub(crate) struct VisionTower {
    /// The convolution's kernel as a dense layer over flattened patches (channel-major).
    patch: Dense,
    /// Class embedding plus position 0: `(1, width)`.
    class_pos: Tensor,
    /// Positions 1..: `(patches, width)`.
    patch_pos: Tensor,
    pre_ln: Norm,
    encoder: Encoder,
    post_ln: Norm,
    projection: Dense,
    patch_size: usize,
    grid: usize,
    width: usize,
}

impl VisionTower {
    pub(crate) fn load(
        vb: VarBuilder,
        c: &ClipVisionConfig,
        projection_dim: usize,
        precision: Precision,
    ) -> Result<Self> {
        let v = vb.pp("vision_model");
        let e = v.pp("embeddings");
        let (w, p, ch) = (c.embed_dim, c.patch_size, c.num_channels);
        let grid = c.image_size / p;
        let patch = e.pp("patch_embedding").get((w, ch, p, p), "weight")?.reshape((w, ch * p * p))?;
        let patch = Dense::new(patch, precision)?;
        let pos = e.pp("position_embedding").get((grid * grid + 1, w), "weight")?;
        let class_pos = (e.get(w, "class_embedding")?.unsqueeze(0)? + pos.i(0..1)?)?;
        let patch_pos = pos.i(1..)?.contiguous()?;
        Ok(Self {
            patch,
            class_pos,
            patch_pos,
            pre_ln: Norm::load(v.pp("pre_layrnorm"), w)?,
            encoder: Encoder::load(
                v.pp("encoder"),
                c.num_hidden_layers,
                w,
                c.intermediate_size,
                c.num_attention_heads,
                precision,
            )?,
            post_ln: Norm::load(v.pp("post_layernorm"), w)?,
            // The projections run on one row per image: never quantised (it would save nothing).
            projection: Dense::load(&vb.pp("visual_projection"), w, projection_dim, Precision::F32)?,
            patch_size: p,
            grid,
            width: w,
        })
    }

    pub(crate) fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let (n, ch, _, _) = pixels.dims4()?;
        let (g, p, w) = (self.grid, self.patch_size, self.width);
        // (n, c, g, p, g, p) -> (n, g, g, c, p, p): one row per patch, in the kernel's order.
        let patches = pixels
            .reshape((n * ch * g, p, g, p))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((n, ch, g * g, p * p))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((n * g * g, ch * p * p))?;
        let tokens = self.patch.matmul(&patches)?.reshape((n, g * g, w))?.broadcast_add(&self.patch_pos)?;
        let class = self.class_pos.unsqueeze(0)?.broadcast_as((n, 1, w))?;
        let seq = g * g + 1;
        let x = Tensor::cat(&[&class, &tokens], 1)?.reshape((n * seq, w))?;
        let x = self.pre_ln.forward(&x)?;
        let x = self.encoder.forward(&x, n, seq, false)?;
        let pooled = x.reshape((n, seq, w))?.i((.., 0, ..))?.contiguous()?;
        self.projection.matmul(&self.post_ln.forward(&pooled)?)
    }
}

/// The text tower and its projection: token ids `(n, len)` (end token = the largest id, padding
/// after it) to projected, not normalised, features `(n, projection_dim)`.
pub(crate) struct TextTower {
    tokens: Tensor,
    positions: Tensor,
    encoder: Encoder,
    final_ln: Norm,
    projection: Dense,
    width: usize,
}

impl TextTower {
    pub(crate) fn load(
        vb: VarBuilder,
        c: &ClipTextConfig,
        projection_dim: usize,
        precision: Precision,
    ) -> Result<Self> {
        let t = vb.pp("text_model");
        let e = t.pp("embeddings");
        let w = c.embed_dim;
        Ok(Self {
            tokens: e.pp("token_embedding").get((c.vocab_size, w), "weight")?,
            positions: e.pp("position_embedding").get((c.max_position_embeddings, w), "weight")?,
            encoder: Encoder::load(
                t.pp("encoder"),
                c.num_hidden_layers,
                w,
                c.intermediate_size,
                c.num_attention_heads,
                precision,
            )?,
            final_ln: Norm::load(t.pp("final_layer_norm"), w)?,
            projection: Dense::load(&vb.pp("text_projection"), w, projection_dim, Precision::F32)?,
            width: w,
        })
    }

    pub(crate) fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (n, len) = ids.dims2()?;
        let w = self.width;
        let x = self.tokens.index_select(&ids.flatten_all()?, 0)?.reshape((n, len, w))?;
        let x = x.broadcast_add(&self.positions.i(0..len)?)?.reshape((n * len, w))?;
        let x = self.encoder.forward(&x, n, len, true)?;
        // Pool at the end token; under the causal mask the padding after it never reaches it.
        let eot = ids.argmax(D::Minus1)?.to_dtype(DType::U32)?.to_vec1::<u32>()?;
        let rows: Vec<u32> = eot.iter().enumerate().map(|(i, &j)| (i * len) as u32 + j).collect();
        let rows = Tensor::from_vec(rows, n, x.device())?;
        let pooled = x.index_select(&rows, 0)?;
        self.projection.matmul(&self.final_ln.forward(&pooled)?)
    }
}

/// Both towers of one checkpoint.
pub(crate) struct Towers {
    pub vision: VisionTower,
    pub text: TextTower,
}

impl Towers {
    pub(crate) fn load(vb: VarBuilder, c: &ClipConfig, precision: Precision) -> Result<Self> {
        let projection_dim = c.text_config.projection_dim;
        Ok(Self {
            vision: VisionTower::load(vb.clone(), &c.vision_config, projection_dim, precision)?,
            text: TextTower::load(vb, &c.text_config, projection_dim, precision)?,
        })
    }
}
