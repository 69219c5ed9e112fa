//! Transcription with timestamps: 30-s windows, greedy decoding under openai-whisper's
//! timestamp rules, segments `(start, end, text)` in seconds from the start of the audio.
//!
//! The rules (`decoding.py`: `SuppressBlank`, `ApplyTimestampRules`) are [`apply_rules`], a
//! pure function of the tokens so far, so each is unit-tested on hand-made logits: the first
//! token is a timestamp no later than 1 s; timestamps come in pairs (after a lone timestamp only
//! another timestamp or end-of-text; after a pair only text); they never go back; and when the
//! timestamps together are likelier than any text token, a timestamp is forced.

use candle_core::Tensor;

use super::tokenizer::WhisperTokenizer;
use super::{FeatureExtractor, N_SAMPLES, SAMPLE_RATE, WhisperModel, argmax};
use crate::ModelError;

/// One transcript segment.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// The latest first timestamp, in timestamp steps (openai-whisper: 1.0 s).
pub const MAX_INITIAL_TIMESTAMP: u32 = 50;

/// Masks `logits` (the next token's, over the whole vocabulary) by the timestamp rules, given
/// the tokens sampled after the prompt.
pub fn apply_rules(logits: &mut [f32], sampled: &[u32], tok: &WhisperTokenizer) {
    let ts = tok.timestamp_begin() as usize;
    let eot = tok.end_of_text() as usize;
    let n = logits.len();
    let mask = |logits: &mut [f32], range: std::ops::Range<usize>| {
        for x in &mut logits[range.start.min(n)..range.end.min(n)] {
            *x = f32::NEG_INFINITY;
        }
    };
    if let Some(id) = tok.special("<|notimestamps|>") {
        logits[id as usize] = f32::NEG_INFINITY;
    }
    if sampled.is_empty() {
        // SuppressBlank: not a space, not the end.
        for id in tok.encode(" ").into_iter().chain([eot as u32]) {
            logits[id as usize] = f32::NEG_INFINITY;
        }
        // Start with a timestamp, at most MAX_INITIAL_TIMESTAMP steps in.
        mask(logits, 0..ts);
        mask(logits, ts + MAX_INITIAL_TIMESTAMP as usize + 1..n);
        return;
    }
    let is_ts = |t: u32| t as usize >= ts;
    let last = is_ts(sampled[sampled.len() - 1]);
    let penultimate = sampled.len() < 2 || is_ts(sampled[sampled.len() - 2]);
    if last {
        if penultimate {
            mask(logits, ts..n); // a pair just closed: text (or the end) next
        } else {
            mask(logits, 0..eot); // a lone timestamp: another, or the end
        }
    }
    if let Some(&latest) = sampled.iter().rev().find(|t| is_ts(**t)) {
        // Never back in time; after a lone timestamp the pair may close at the same time.
        let floor = if last && !penultimate { latest } else { latest + 1 };
        mask(logits, ts..floor as usize);
    }
    // Timestamps together likelier than any single text token: a timestamp.
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max.is_finite() {
        let ln_sum = |xs: &[f32]| {
            let s: f64 = xs.iter().map(|x| f64::from(*x - max).exp()).sum();
            s.ln() + f64::from(max)
        };
        let all = ln_sum(logits);
        let ts_logprob = ln_sum(&logits[ts..]) - all;
        let text_max = logits[..ts].iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if ts_logprob > f64::from(text_max) - all {
            mask(logits, 0..ts);
        }
    }
}

/// Splits one window's sampled tokens into segments (times relative to the window).
pub fn segments(sampled: &[u32], tok: &WhisperTokenizer) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut start: Option<f64> = None;
    let mut text: Vec<u32> = Vec::new();
    for &t in sampled {
        match tok.timestamp(t) {
            Some(s) => match start {
                None => start = Some(s),
                Some(begin) => {
                    let words = tok.decode_text(&text).trim().to_string();
                    if !words.is_empty() && s > begin {
                        out.push(Segment { start: begin, end: s, text: words });
                    }
                    text.clear();
                    start = None;
                }
            },
            None if t == tok.end_of_text() => break,
            None => {
                if start.is_some() {
                    text.push(t);
                }
            }
        }
    }
    out
}

/// The language token of the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Language {
    /// Multilingual checkpoints: the likeliest language token after `<|startoftranscript|>` on
    /// the first window (openai-whisper's `detect_language`), then kept for the whole signal.
    Detect,
    /// `<|en|>` etc.
    Fixed(String),
    /// No language token: English-only checkpoints (`*.en`) predict text straight after
    /// `<|startoftranscript|>`.
    Omit,
}

/// Whisper, its features and its tokenizer: audio in, segments out.
pub struct Transcriber {
    pub model: WhisperModel,
    pub features: FeatureExtractor,
    pub tokenizer: WhisperTokenizer,
    /// Which language token the prompt carries.
    pub language: Language,
    /// Tokens sampled per window at most (openai-whisper: half the text context, 224).
    pub max_tokens: usize,
    /// 30-s windows run through the encoder so far (a counter: tests prove work by it).
    pub windows: u64,
    /// The language token of the last transcription.
    pub last_language_token: Option<u32>,
    /// Tokens decoded so far (every window).
    pub tokens: u64,
}

impl Transcriber {
    /// A transcriber with openai-whisper's token limit (224 per window) and zeroed counters.
    pub fn new(
        model: WhisperModel,
        features: FeatureExtractor,
        tokenizer: WhisperTokenizer,
        language: Language,
    ) -> Self {
        Self { model, features, tokenizer, language, max_tokens: 224, windows: 0, last_language_token: None, tokens: 0 }
    }

    /// The language code the last transcription was decoded in (`None`: an English-only
    /// checkpoint, or nothing transcribed yet).
    pub fn last_language(&self) -> Option<String> {
        let id = self.last_language_token?;
        self.tokenizer.languages().find(|(_, t)| *t == id).map(|(l, _)| l.to_string())
    }

    fn prompt(&self, language: Option<u32>) -> Vec<u32> {
        let mut p = vec![self.tokenizer.special("<|startoftranscript|>").unwrap_or(0)];
        p.extend(language);
        p.extend(self.tokenizer.special("<|transcribe|>"));
        p
    }

    /// The language token for a window's encoder output: the fixed one, or the likeliest
    /// language after `<|startoftranscript|>`.
    pub fn language_token(&mut self, audio: &Tensor) -> Result<Option<u32>, ModelError> {
        match &self.language {
            Language::Omit => Ok(None),
            Language::Fixed(l) => Ok(self.tokenizer.special(&format!("<|{l}|>"))),
            Language::Detect => {
                let languages: Vec<u32> = self.tokenizer.languages().map(|(_, id)| id).collect();
                if languages.is_empty() {
                    return Ok(None);
                }
                let sot = self.tokenizer.special("<|startoftranscript|>").unwrap_or(0);
                let logits = self.model.next_logits(&[sot], audio, true)?;
                let best = languages
                    .iter()
                    .copied()
                    .filter(|id| (*id as usize) < logits.len())
                    .max_by(|a, b| logits[*a as usize].total_cmp(&logits[*b as usize]));
                Ok(best)
            }
        }
    }

    /// Greedy decoding of one window's encoder output under the timestamp rules.
    pub fn decode_window(&mut self, audio: &Tensor) -> Result<Vec<u32>, ModelError> {
        let language = self.language_token(audio)?;
        self.decode_window_in(audio, language)
    }

    fn decode_window_in(&mut self, audio: &Tensor, language: Option<u32>) -> Result<Vec<u32>, ModelError> {
        let prompt = self.prompt(language);
        let mut tokens = prompt.clone();
        let eot = self.tokenizer.end_of_text();
        for i in 0..self.max_tokens {
            let mut logits = self.model.next_logits(&tokens, audio, i == 0)?;
            apply_rules(&mut logits, &tokens[prompt.len()..], &self.tokenizer);
            let next = argmax(&logits);
            self.tokens += 1;
            if next == eot {
                break;
            }
            tokens.push(next);
        }
        Ok(tokens[prompt.len()..].to_vec())
    }

    /// Segments of the whole signal (16 kHz mono), window after window. A window whose last
    /// segment closed before its end resumes from there (so speech cut at a window's edge is
    /// heard whole in the next one); otherwise the next window starts 30 s later.
    pub fn transcribe(&mut self, pcm: &[f32]) -> Result<Vec<Segment>, ModelError> {
        let mut whole = Some(pcm.to_vec());
        self.transcribe_stream(|| whole.take())
    }

    /// [`Transcriber::transcribe`] over a signal that arrives in chunks (`next` returns `None`
    /// at its end): at most one window (30 s) plus one chunk is held, whatever the length.
    pub fn transcribe_stream(&mut self, next: impl FnMut() -> Option<Vec<f32>>) -> Result<Vec<Segment>, ModelError> {
        let mut signal = Buffered { next, buf: Vec::new(), start: 0, done: false };
        let mut out: Vec<Segment> = Vec::new();
        let mut seek = 0usize;
        let mut language: Option<Option<u32>> = None;
        loop {
            let window = signal.window(seek, N_SAMPLES);
            if window.is_empty() {
                break;
            }
            let mel = self.features.log_mel(window);
            let window_len = window.len();
            let audio = self.model.encode(&mel)?;
            self.windows += 1;
            let lang = match language {
                Some(l) => l,
                None => *language.insert(self.language_token(&audio)?),
            };
            self.last_language_token = lang;
            let sampled = self.decode_window_in(&audio, lang)?;
            let offset = seek as f64 / SAMPLE_RATE as f64;
            let found = segments(&sampled, &self.tokenizer);
            let window_s = window_len as f64 / SAMPLE_RATE as f64;
            let last_end = found.last().map(|s| s.end);
            for s in found.into_iter().filter(|s| s.start < window_s) {
                out.push(Segment { start: offset + s.start, end: offset + s.end.min(window_s), text: s.text });
            }
            let ended_in_pair = sampled.len() >= 2
                && sampled[sampled.len() - 2..].iter().all(|t| self.tokenizer.timestamp(*t).is_some());
            seek += match last_end {
                Some(end) if !ended_in_pair && end > 1.0 && end < window_s => (end * SAMPLE_RATE as f64) as usize,
                _ => window_len,
            };
        }
        Ok(out)
    }
}

/// A signal read chunk by chunk, holding only what the current window needs.
struct Buffered<F> {
    next: F,
    /// Samples from absolute index `start` on.
    buf: Vec<f32>,
    start: usize,
    done: bool,
}

impl<F: FnMut() -> Option<Vec<f32>>> Buffered<F> {
    /// Samples `[from, from + len)` (fewer at the end of the signal; none past it). Samples
    /// before `from` are dropped: windows only move forward.
    fn window(&mut self, from: usize, len: usize) -> &[f32] {
        if from > self.start {
            let drop = (from - self.start).min(self.buf.len());
            self.buf.drain(..drop);
            self.start += drop;
        }
        while !self.done && self.start + self.buf.len() < from + len {
            match (self.next)() {
                Some(chunk) => self.buf.extend_from_slice(&chunk),
                None => self.done = true,
            }
            // Chunks that end before the window (a seek past them) are dropped as they come.
            if from > self.start {
                let drop = (from - self.start).min(self.buf.len());
                self.buf.drain(..drop);
                self.start += drop;
            }
        }
        let lo = from.saturating_sub(self.start).min(self.buf.len());
        let hi = (from + len).saturating_sub(self.start).min(self.buf.len());
        &self.buf[lo..hi]
    }
}
