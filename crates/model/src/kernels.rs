//! CPU kernels for the transformer's steps between matmuls, as candle custom ops.
//!
//! Why not candle's own ops: on the CPU they run element-wise work on one thread with a scalar
//! `exp`, and batched attention as one small gemm call per (image, head) through a thread pool.
//! For ViT-B/32 at batch 32 that left one core idle for a third of the time (QuickGELU alone is
//! 59 M sigmoids per batch). Here each step is one pass, split over rayon's threads, with an
//! `exp` the compiler vectorises (AVX2/AVX-512 chosen at run time), and attention is one task
//! per image that keeps its scores in a cache-sized scratch buffer.
//!
//! Every op has a plain candle composition for other devices (CUDA), and the CPU path is
//! checked against that composition in the tests below.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Result, Shape, Tensor, bail};
use rayon::prelude::*;

/// Calls `$f($args)` compiled for the best vector extension this CPU has (AVX-512, AVX2+FMA,
/// or the baseline), so the plain loops inside are vectorised at that width.
macro_rules! simd {
    ($f:ident($($arg:expr),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")]
            unsafe fn v4<F: FnOnce()>(f: F) { f() }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn v3<F: FnOnce()>(f: F) { f() }
            // SAFETY: each variant runs only where the CPU reports its features.
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("avx512dq") && std::is_x86_feature_detected!("avx512vl") {
                unsafe { v4(|| $f($($arg),*)) }
            } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                unsafe { v3(|| $f($($arg),*)) }
            } else {
                $f($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        { $f($($arg),*) }
    }};
}

/// `x <- quick_gelu(x + bias)` for a fresh `(rows, cols)` matmul output (consumed: on the CPU
/// the result lives in `x`'s buffer).
pub(crate) fn bias_quick_gelu(x: Tensor, bias: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        let y = x.broadcast_add(bias)?;
        return &y * candle_nn::ops::sigmoid(&(&y * 1.702)?)?;
    }
    let b = bias.to_vec1::<f32>()?;
    map_rows_inplace(&x, |row| {
        let body = |row: &mut [f32]| {
            for (v, b) in row.iter_mut().zip(&b) {
                let y = *v + b;
                *v = y / (1.0 + exp(-1.702 * y));
            }
        };
        simd!(body(row))
    })?;
    Ok(x)
}

/// `y <- y + bias + residual` for a fresh `(rows, cols)` matmul output `y` (consumed).
pub(crate) fn add_bias_residual(y: Tensor, bias: &Tensor, residual: &Tensor) -> Result<Tensor> {
    if !y.device().is_cpu() || y.dtype() != DType::F32 {
        return y.broadcast_add(bias)? + residual;
    }
    let b = bias.to_vec1::<f32>()?;
    let residual = residual.contiguous()?;
    let (res_storage, res_layout) = residual.storage_and_layout();
    let candle_core::Storage::Cpu(res_cpu) = &*res_storage else { bail!("add_bias_residual: residual not on the CPU") };
    let res = &res_cpu.as_slice::<f32>()?[res_layout.start_offset()..][..residual.elem_count()];
    map_rows_inplace_with(&y, res, |row, r| {
        let body = |row: &mut [f32], r: &[f32]| {
            for ((v, b), r) in row.iter_mut().zip(&b).zip(r) {
                *v += b + r;
            }
        };
        simd!(body(row, r))
    })?;
    Ok(y)
}

/// `x <- x + bias` for a fresh `(rows, cols)` matmul output (consumed).
pub(crate) fn add_bias(x: Tensor, bias: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        return x.broadcast_add(bias);
    }
    let b = bias.to_vec1::<f32>()?;
    map_rows_inplace(&x, |row| {
        for (v, b) in row.iter_mut().zip(&b) {
            *v += b;
        }
    })?;
    Ok(x)
}

/// Multi-head self-attention over `qkv` = `(n * seq, 3 * width)` (queries already scaled by
/// `head_dim^-0.5`, biases added): returns `(n * seq, width)` with heads side by side, as
/// the output projection expects. `causal` lets position `i` see only `j <= i` (text tower).
pub(crate) fn attention(qkv: &Tensor, n: usize, seq: usize, heads: usize, causal: bool) -> Result<Tensor> {
    let (rows, three_width) = qkv.dims2()?;
    if rows != n * seq || three_width % (3 * heads) != 0 {
        bail!("attention: qkv {:?} is not ({n} * {seq}, 3 * {heads} * head_dim)", qkv.dims());
    }
    let width = three_width / 3;
    if qkv.device().is_cpu() && qkv.dtype() == DType::F32 {
        return qkv.apply_op1_no_bwd(&Attention { n, seq, heads, causal });
    }
    // The composition the CPU kernel is checked against (and what other devices run).
    let head_dim = width / heads;
    let split = |i: usize| -> Result<Tensor> {
        qkv.narrow(1, i * width, width)?.reshape((n, seq, heads, head_dim))?.transpose(1, 2)?.contiguous()
    };
    let (q, k, v) = (split(0)?, split(1)?, split(2)?);
    let mut scores = q.matmul(&k.t()?)?;
    if causal {
        let mask: Vec<f32> =
            (0..seq).flat_map(|i| (0..seq).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
        let mask = Tensor::from_vec(mask, (seq, seq), qkv.device())?.to_dtype(scores.dtype())?;
        scores = scores.broadcast_add(&mask)?;
    }
    let probs = candle_nn::ops::softmax_last_dim(&scores)?;
    probs.matmul(&v)?.transpose(1, 2)?.reshape((n * seq, width))
}

struct Attention {
    n: usize,
    seq: usize,
    heads: usize,
    causal: bool,
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "chronoseek-attention"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let Some((start, end)) = layout.contiguous_offsets() else { bail!("attention: qkv must be contiguous") };
        let qkv = &storage.as_slice::<f32>()?[start..end];
        let Self { n, seq, heads, causal } = *self;
        let width = layout.dims()[1] / 3;
        let head_dim = width / heads;
        let mut out = vec![0f32; n * seq * width];
        out.par_chunks_mut(seq * width).enumerate().for_each(|(img, out)| {
            let qkv = &qkv[img * seq * 3 * width..][..seq * 3 * width];
            let mut scores = vec![0f32; seq * seq];
            for h in 0..heads {
                let q = qkv[h * head_dim..].as_ptr();
                let k = qkv[width + h * head_dim..].as_ptr();
                let v = qkv[2 * width + h * head_dim..].as_ptr();
                let row = (3 * width) as isize;
                // SAFETY: every pointer stays inside `qkv`, `scores` or this image's `out` for
                // the sizes and strides given (seq rows of head_dim columns; seq x seq).
                unsafe {
                    // scores = q k^T: q is seq x head_dim (row stride 3 * width), k^T reads k's
                    // rows as columns.
                    small_gemm((seq, seq, head_dim), (scores.as_mut_ptr(), seq as isize), (q, 1, row), (k, row, 1));
                }
                for (i, s) in scores.chunks_exact_mut(seq).enumerate() {
                    let visible = if causal { i + 1 } else { seq };
                    let (s, hidden) = s.split_at_mut(visible);
                    simd!(softmax(s));
                    hidden.fill(0.0);
                }
                // SAFETY: as above; out rows are `width` apart and this head writes its
                // head_dim columns of them.
                unsafe {
                    small_gemm(
                        (seq, head_dim, seq),
                        (out[h * head_dim..].as_mut_ptr(), width as isize),
                        (scores.as_ptr(), 1, seq as isize),
                        (v, 1, row),
                    );
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((n * seq, width))))
    }
}

/// `dst = lhs @ rhs` for an `m x n x k` product on this thread: `dst` is `(pointer, row
/// stride)` with unit column stride, `lhs` and `rhs` are `(pointer, column stride, row stride)`.
///
/// # Safety
/// Every element the sizes and strides address must lie inside its allocation, and `dst` must
/// not overlap the inputs.
unsafe fn small_gemm(
    (m, n, k): (usize, usize, usize),
    (dst, dst_rs): (*mut f32, isize),
    (lhs, lhs_cs, lhs_rs): (*const f32, isize, isize),
    (rhs, rhs_cs, rhs_rs): (*const f32, isize, isize),
) {
    // SAFETY: the caller's promise, passed on.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            false,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Runs `f` over each row of the contiguous 2-D f32 tensor `x`, in place, rows split over
/// rayon's threads.
fn map_rows_inplace(x: &Tensor, f: impl Fn(&mut [f32]) + Sync) -> Result<()> {
    x.inplace_op1(&RowsInplace(&|rows: &mut [f32], _| f(rows), None))
}

/// [`map_rows_inplace`] with the matching row of `other` (same shape, contiguous).
fn map_rows_inplace_with(x: &Tensor, other: &[f32], f: impl Fn(&mut [f32], &[f32]) + Sync) -> Result<()> {
    let row_of = |row: &mut [f32], i: usize| {
        let cols = row.len();
        f(row, &other[i * cols..][..cols])
    };
    x.inplace_op1(&RowsInplace(&row_of, Some(other.len())))
}

type RowFn<'a> = &'a (dyn Fn(&mut [f32], usize) + Sync);
struct RowsInplace<'a>(RowFn<'a>, Option<usize>);

impl candle_core::InplaceOp1 for RowsInplace<'_> {
    fn name(&self) -> &'static str {
        "chronoseek-rows-inplace"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let Some((start, end)) = layout.contiguous_offsets() else { bail!("rows: tensor must be contiguous") };
        let dims = layout.dims();
        let cols = *dims.last().unwrap_or(&1);
        let CpuStorage::F32(data) = storage else { bail!("rows: f32 only") };
        let data = &mut data[start..end];
        if let Some(len) = self.1
            && len != data.len()
        {
            bail!("rows: operand has {len} values, tensor {}", data.len());
        }
        // Chunks of whole rows, several per task, so small rows do not drown in scheduling.
        let rows_per_task = (16_384 / cols.max(1)).max(1);
        data.par_chunks_mut(rows_per_task * cols).enumerate().for_each(|(c, chunk)| {
            for (r, row) in chunk.chunks_exact_mut(cols).enumerate() {
                (self.0)(row, c * rows_per_task + r);
            }
        });
        Ok(())
    }
}

/// Softmax of one row in place.
#[inline(always)]
fn softmax(s: &mut [f32]) {
    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in s.iter_mut() {
        *v = exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in s.iter_mut() {
        *v *= inv;
    }
}

/// e^x for f32 with relative error below 2e-7, written so that loops over it vectorise: a
/// range reduction to `x = k ln2 + r`, a degree-6 polynomial for e^r, and 2^k put together
/// from its exponent bits. Inputs below -87 give e^-87 (about 1.6e-38), above 88 give e^88.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let k = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((k as i32 + 127) << 23) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn seeded(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(a.len(), b.len());
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn exp_is_close_to_std_over_the_range_that_matters() {
        let mut worst = 0f32;
        for i in -8000..=8000 {
            let x = i as f32 * 0.01;
            let rel = ((exp(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel);
        }
        assert!(worst < 5e-7, "worst relative error {worst}");
        assert!(exp(-1000.0) > 0.0 && exp(-1000.0) < 1e-37);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn elementwise_kernels_match_candles_composition() {
        let dev = Device::Cpu;
        let (rows, cols) = (37, 96);
        let x = Tensor::from_vec(seeded(rows * cols, 1), (rows, cols), &dev).unwrap().affine(4.0, 0.0).unwrap();
        let b = Tensor::from_vec(seeded(cols, 2), cols, &dev).unwrap();
        let r = Tensor::from_vec(seeded(rows * cols, 3), (rows, cols), &dev).unwrap();

        let y = x.broadcast_add(&b).unwrap();
        let want = (&y * candle_nn::ops::sigmoid(&(&y * 1.702).unwrap()).unwrap()).unwrap();
        let got = bias_quick_gelu(x.copy().unwrap(), &b).unwrap();
        assert!(max_diff(&got, &want) < 1e-5, "quick_gelu {}", max_diff(&got, &want));

        let want = (x.broadcast_add(&b).unwrap() + &r).unwrap();
        let got = add_bias_residual(x.copy().unwrap(), &b, &r).unwrap();
        assert!(max_diff(&got, &want) < 1e-6);

        let want = x.broadcast_add(&b).unwrap();
        let got = add_bias(x.copy().unwrap(), &b).unwrap();
        assert!(max_diff(&got, &want) < 1e-6);
    }

    #[test]
    fn attention_kernel_matches_candles_composition() {
        let dev = Device::Cpu;
        for (n, seq, heads, head_dim, causal) in [(3, 50, 4, 16, false), (2, 9, 2, 8, true), (1, 1, 1, 4, false)] {
            let width = heads * head_dim;
            let qkv = Tensor::from_vec(seeded(n * seq * 3 * width, 7), (n * seq, 3 * width), &dev)
                .unwrap()
                .affine(3.0, 0.0)
                .unwrap();
            let got = attention(&qkv, n, seq, heads, causal).unwrap();
            // The composition, forced by going through the non-CPU branch's code on the CPU.
            let split = |i: usize| {
                qkv.narrow(1, i * width, width)
                    .unwrap()
                    .reshape((n, seq, heads, head_dim))
                    .unwrap()
                    .transpose(1, 2)
                    .unwrap()
                    .contiguous()
                    .unwrap()
            };
            let mut scores = split(0).matmul(&split(1).t().unwrap()).unwrap();
            if causal {
                let mask: Vec<f32> =
                    (0..seq).flat_map(|i| (0..seq).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
                scores = scores.broadcast_add(&Tensor::from_vec(mask, (seq, seq), &dev).unwrap()).unwrap();
            }
            let probs = candle_nn::ops::softmax_last_dim(&scores).unwrap();
            let want = probs.matmul(&split(2)).unwrap().transpose(1, 2).unwrap().reshape((n * seq, width)).unwrap();
            let d = max_diff(&got, &want);
            assert!(d < 1e-5, "n {n} seq {seq} heads {heads} causal {causal}: max diff {d}");
        }
    }
}
