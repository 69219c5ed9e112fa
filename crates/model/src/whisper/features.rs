//! Whisper's input features, computed as Hugging Face's `WhisperFeatureExtractor` does (and
//! `openai-whisper`'s `log_mel_spectrogram`): the 16 kHz mono signal padded with zeros (or cut)
//! to 30 s, a centred STFT (reflect padding of 200 samples, periodic Hann window of 400, hop 160),
//! power spectrum, the mel filter bank `openai-whisper` ships (`mel_filters.npz`), `log10` with a
//! floor of 1e-10, the last frame dropped (3,000 frames), values clamped to 8 below the maximum,
//! then `(x + 4) / 4`.
//!
//! Not candle's `pcm_to_mel`: it pads differently and does not centre its frames, so its
//! features differ from the ones Whisper was trained on by far more than the 1e-4 the parity
//! test allows. The FFT is `realfft`'s, in f64 like NumPy's.

use std::path::Path;
use std::sync::Arc;

use realfft::RealFftPlanner;
use realfft::num_complex::Complex;

use crate::ModelError;

pub const SAMPLE_RATE: usize = 16_000;
pub const N_FFT: usize = 400;
pub const HOP_LENGTH: usize = 160;
/// Samples in one 30-s window.
pub const N_SAMPLES: usize = 30 * SAMPLE_RATE;
/// Feature frames in one window.
pub const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;
const N_FREQ: usize = N_FFT / 2 + 1;

/// A mel filter bank: `n_mels` rows of `N_FFT / 2 + 1` weights.
#[derive(Debug, Clone)]
pub struct MelFilters {
    pub n_mels: usize,
    weights: Vec<f64>,
}

impl MelFilters {
    /// `mel_<n_mels>` from `openai-whisper`'s `mel_filters.npz`.
    pub fn from_npz(path: &Path, n_mels: usize) -> Result<Self, ModelError> {
        let name = format!("mel_{n_mels}");
        let bad =
            |source: candle_core::Error| ModelError::Weights { path: path.to_path_buf(), source: Box::new(source) };
        let tensors = candle_core::Tensor::read_npz(path).map_err(bad)?;
        let (_, t) = tensors
            .into_iter()
            .find(|(k, _)| *k == name)
            .ok_or_else(|| ModelError::MissingFile { path: path.join(&name) })?;
        let dims = t.dims().to_vec();
        if dims != [n_mels, N_FREQ] {
            return Err(bad(candle_core::Error::Msg(format!(
                "{name} has shape {dims:?}, expected [{n_mels}, {N_FREQ}]"
            ))));
        }
        let weights = t
            .to_dtype(candle_core::DType::F64)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f64>())
            .map_err(bad)?;
        Ok(Self { n_mels, weights })
    }
}

impl MelFilters {
    /// The filter bank computed as librosa's `filters.mel(sr=16000, n_fft=400, n_mels)` (Slaney's
    /// mel scale and area normalisation) — what `mel_filters.npz` holds and what Hugging Face's
    /// feature extractor computes for itself. Hub checkpoints ship no `.npz`, so this is what
    /// they are loaded with.
    pub fn slaney(n_mels: usize) -> Self {
        // Slaney's scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
        const F_SP: f64 = 200.0 / 3.0;
        const MIN_LOG_HZ: f64 = 1000.0;
        const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
        let log_step = 6.4f64.ln() / 27.0;
        let hz_to_mel =
            |f: f64| if f >= MIN_LOG_HZ { MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / log_step } else { f / F_SP };
        let mel_to_hz =
            |m: f64| if m >= MIN_LOG_MEL { MIN_LOG_HZ * (log_step * (m - MIN_LOG_MEL)).exp() } else { F_SP * m };
        let nyquist = SAMPLE_RATE as f64 / 2.0;
        let fft_freqs: Vec<f64> = (0..N_FREQ).map(|k| nyquist * k as f64 / (N_FREQ - 1) as f64).collect();
        let top = hz_to_mel(nyquist);
        // n_mels + 2 points evenly spaced in mel: each filter rises from one to the next and
        // falls to the one after.
        let edges: Vec<f64> = (0..n_mels + 2).map(|i| mel_to_hz(top * i as f64 / (n_mels + 1) as f64)).collect();
        let mut weights = vec![0f64; n_mels * N_FREQ];
        for m in 0..n_mels {
            let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
            let norm = 2.0 / (hi - lo);
            for (k, &f) in fft_freqs.iter().enumerate() {
                let rise = (f - lo) / (mid - lo);
                let fall = (hi - f) / (hi - mid);
                weights[m * N_FREQ + k] = rise.min(fall).max(0.0) * norm;
            }
        }
        Self { n_mels, weights }
    }
}

/// Computes log-mel features for 30-s windows.
pub struct FeatureExtractor {
    filters: MelFilters,
    window: Vec<f64>,
    fft: Arc<dyn realfft::RealToComplex<f64>>,
}

impl std::fmt::Debug for FeatureExtractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureExtractor").field("n_mels", &self.filters.n_mels).finish()
    }
}

impl FeatureExtractor {
    pub fn new(filters: MelFilters) -> Self {
        // Periodic Hann (NumPy: hanning(401)[:-1]; torch: hann_window(400)).
        let window =
            (0..N_FFT).map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos()).collect();
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        Self { filters, window, fft }
    }

    pub fn n_mels(&self) -> usize {
        self.filters.n_mels
    }

    /// Features of one window: `pcm` (16 kHz mono, in [-1, 1]) from its start, padded with
    /// zeros or cut to 30 s. Row-major `n_mels x N_FRAMES`.
    pub fn log_mel(&self, pcm: &[f32]) -> Vec<f32> {
        let mut signal = vec![0f64; N_SAMPLES];
        for (d, s) in signal.iter_mut().zip(pcm) {
            *d = f64::from(*s);
        }
        // Centred frames: reflect-pad N_FFT / 2 on both sides (the edge sample not repeated).
        let pad = N_FFT / 2;
        let mut padded = Vec::with_capacity(N_SAMPLES + 2 * pad);
        padded.extend((1..=pad).rev().map(|i| signal[i]));
        padded.extend_from_slice(&signal);
        padded.extend((1..=pad).map(|i| signal[N_SAMPLES - 1 - i]));
        let n_mels = self.filters.n_mels;
        // Whisper computes one frame more and drops it: the first N_FRAMES are these.
        let mut mel = vec![0f64; n_mels * N_FRAMES];
        let mut input = self.fft.make_input_vec();
        let mut spectrum: Vec<Complex<f64>> = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f64; N_FREQ];
        for frame in 0..N_FRAMES {
            let start = frame * HOP_LENGTH;
            for (k, x) in input.iter_mut().enumerate() {
                *x = padded[start + k] * self.window[k];
            }
            self.fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).expect("buffers come from the plan");
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            for m in 0..n_mels {
                let w = &self.filters.weights[m * N_FREQ..(m + 1) * N_FREQ];
                let e: f64 = w.iter().zip(&power).map(|(a, b)| a * b).sum();
                mel[m * N_FRAMES + frame] = e.max(1e-10).log10();
            }
        }
        let max = mel.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        mel.into_iter().map(|x| ((x.max(max - 8.0) + 4.0) / 4.0) as f32).collect()
    }
}
