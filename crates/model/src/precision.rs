//! `--precision f32|f16|bf16|q8`: how the towers' matmuls run.
//!
//! `f16` and `bf16` hold the weights and activations in 16 bits: on a GPU that is what the
//! tensor cores multiply (cuBLAS), at several times f32's rate; on a CPU candle has no fast
//! 16-bit kernels, so they are for GPUs. Layer norms and softmax accumulate in f32 inside
//! candle's kernels, and embeddings are normalised in f32.
//!
//! `q8` quantises the transformer's weights to 8 bits at load (GGML's Q8_0: blocks of 32 with
//! one scale) and runs their matmuls through candle's quantized kernels, which on CPUs with
//! AVX-512 VNNI take int8 dot products 64 at a time. Embeddings stay close to the f32 ones
//! (the parity tests hold them to a cosine of at least 0.999) but are not the same numbers,
//! so a q8 model has its own store key (`…:q8`) and never mixes with f32 embeddings.

use std::str::FromStr;

use super::DeviceSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Full f32 weights and matmuls (the reference's numbers).
    #[default]
    F32,
    /// Half precision (IEEE f16) weights and activations: GPUs.
    F16,
    /// bfloat16 weights and activations (f32's range, 8-bit mantissa): GPUs.
    BF16,
    /// 8-bit weights for the transformer layers' matmuls.
    Q8,
}

impl Precision {
    /// Every precision's name, as `--help` lists them (`FromStr` also takes a few aliases).
    pub const NAMES: &'static [&'static str] = &["f32", "f16", "bf16", "q8"];

    pub fn name(&self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
            Self::Q8 => "q8",
        }
    }

    /// The dtype weights are loaded in and the towers compute in (q8 quantises f32 weights).
    pub fn dtype(&self) -> candle_core::DType {
        match self {
            Self::F32 | Self::Q8 => candle_core::DType::F32,
            Self::F16 => candle_core::DType::F16,
            Self::BF16 => candle_core::DType::BF16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown precision '{0}' (expected f32, f16, bf16 or q8)")]
pub struct UnknownPrecision(pub String);

impl FromStr for Precision {
    type Err = UnknownPrecision;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "f32" | "fp32" => Ok(Self::F32),
            "f16" | "fp16" | "half" => Ok(Self::F16),
            "bf16" | "bfloat16" => Ok(Self::BF16),
            "q8" | "int8" | "q8_0" => Ok(Self::Q8),
            other => Err(UnknownPrecision(other.to_string())),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where and how a checkpoint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelOptions {
    pub device: DeviceSpec,
    pub precision: Precision,
}

impl From<DeviceSpec> for ModelOptions {
    fn from(device: DeviceSpec) -> Self {
        Self { device, precision: Precision::F32 }
    }
}
