//! Contrastive training of a small CLIP on (frame, caption) pairs, with candle on the CPU.
//!
//! The bundled model is made with this: frames decoded from generated videos (compression
//! artefacts included) paired with their scene captions, the real CLIP tokenizer, symmetric
//! cross-entropy over the in-batch similarity matrix, AdamW. Deterministic for a seed: the
//! weights start from [`init_varmap`] and batches come from the same seeded generator.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use candle_transformers::models::clip::ClipModel;

use super::tiny::{InitScheme, TinySpec, init_varmap};
use super::{ClipTokenizer, ModelError};

/// One training example: preprocessed `3 x size x size` pixels and the caption's index.
#[derive(Debug, Clone)]
pub struct Example {
    pub pixels: Vec<f32>,
    pub caption: usize,
}

#[derive(Debug, Clone)]
pub struct TrainOptions {
    pub spec: TinySpec,
    pub seed: u64,
    pub max_steps: usize,
    /// Stop after this much wall time even if steps remain.
    pub max_seconds: f64,
    /// Distinct captions per batch.
    pub batch: usize,
    pub lr: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            spec: TinySpec::square(64, 2, 4, 64, 8, 64),
            seed: 1,
            max_steps: 3000,
            max_seconds: 12.0 * 60.0,
            batch: 64,
            lr: 2e-3,
        }
    }
}

/// The outcome of training.
pub struct Trained {
    pub varmap: VarMap,
    pub model: ClipModel,
    pub steps: usize,
    pub final_loss: f32,
    pub seconds: f64,
}

fn err(e: candle_core::Error) -> ModelError {
    ModelError::Training(e)
}

/// Trains from scratch. `captions[i]` is the text of caption index `i`; `on_step(step, loss)` is
/// called every step (for progress).
pub fn train(
    examples: &[Example],
    captions: &[String],
    opts: &TrainOptions,
    mut on_step: impl FnMut(usize, f32),
) -> Result<Trained, ModelError> {
    let started = Instant::now();
    let size = opts.spec.image_size;
    let plane = 3 * size * size;
    if examples.is_empty() || captions.len() < 2 {
        return Err(ModelError::TooFewCaptions);
    }
    let (varmap, model) = init_varmap(opts.spec, opts.seed, InitScheme::Training)?;
    let mut optimizer =
        AdamW::new(varmap.all_vars(), ParamsAdamW { lr: opts.lr, weight_decay: 0.01, ..ParamsAdamW::default() })
            .map_err(err)?;
    let tokenizer = ClipTokenizer::new(77);
    let tokens: Vec<Vec<u32>> = captions.iter().map(|c| tokenizer.encode(c)).collect();
    let mut by_caption: Vec<Vec<usize>> = vec![Vec::new(); captions.len()];
    for (i, e) in examples.iter().enumerate() {
        by_caption[e.caption].push(i);
    }
    let usable: Vec<usize> = (0..captions.len()).filter(|&c| !by_caption[c].is_empty()).collect();
    let batch = opts.batch.min(usable.len()).max(2);
    let mut rng = crate::rng::Rng::new(opts.seed ^ 0xC11F);
    let dev = Device::Cpu;
    let mut final_loss = f32::NAN;
    let mut steps = 0;
    let targets = Tensor::arange(0u32, batch as u32, &dev).map_err(err)?;
    while steps < opts.max_steps && started.elapsed().as_secs_f64() < opts.max_seconds {
        // Distinct captions (no false negatives in the batch), a random frame of each.
        let mut chosen: Vec<usize> = Vec::with_capacity(batch);
        while chosen.len() < batch {
            let c = usable[rng.below(usable.len())];
            if !chosen.contains(&c) {
                chosen.push(c);
            }
        }
        let mut px = Vec::with_capacity(batch * plane);
        let len = chosen.iter().map(|&c| tokens[c].len()).max().unwrap_or(2);
        let mut ids = Vec::with_capacity(batch * len);
        for &c in &chosen {
            let ex = &examples[by_caption[c][rng.below(by_caption[c].len())]];
            px.extend_from_slice(&ex.pixels);
            ids.extend_from_slice(&tokens[c]);
            ids.extend(std::iter::repeat_n(0u32, len - tokens[c].len()));
        }
        let pixels = Tensor::from_vec(px, (batch, 3, size, size), &dev).map_err(err)?;
        let ids = Tensor::from_vec(ids, (batch, len), &dev).map_err(err)?;
        let (logits_per_text, logits_per_image) = model.forward(&pixels, &ids).map_err(err)?;
        let loss = ((candle_nn::loss::cross_entropy(&logits_per_text, &targets).map_err(err)?
            + candle_nn::loss::cross_entropy(&logits_per_image, &targets).map_err(err)?)
        .map_err(err)?
            / 2.0)
            .map_err(err)?;
        optimizer.backward_step(&loss).map_err(err)?;
        final_loss = loss.to_dtype(DType::F32).and_then(|l| l.to_scalar::<f32>()).map_err(err)?;
        steps += 1;
        on_step(steps, final_loss);
    }
    Ok(Trained { varmap, model, steps, final_loss, seconds: started.elapsed().as_secs_f64() })
}
