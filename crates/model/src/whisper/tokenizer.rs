//! Whisper's tokenizer: byte-level BPE over a tiktoken vocabulary (`multilingual.tiktoken` or
//! `gpt2.tiktoken`, as openai-whisper ships them), GPT-2's pre-tokenising pattern, then the
//! special tokens openai-whisper appends in its order: `<|endoftext|>`,
//! `<|startoftranscript|>`, one per language, `<|translate|>`, `<|transcribe|>`,
//! `<|startoflm|>`, `<|startofprev|>`, `<|nospeech|>`, `<|notimestamps|>`, and the 1,501
//! timestamps `<|0.00|>` … `<|30.00|>` (0.02 s apart). Golden ids from tiktoken itself are in
//! `data/fixtures/whisper-tokenizer-golden.json` (`scripts/whisper-tokenizer/golden.py`).

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;

use crate::ModelError;

/// openai-whisper's language codes, in token order (the first 99 are whisper-tiny's).
pub const LANGUAGES: [&str; 100] = [
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it", "id", "hi", "fi",
    "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur", "hr", "bg", "lt", "la", "mi", "ml",
    "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn", "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs",
    "kk", "sq", "sw", "gl", "mr", "pa", "si", "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am",
    "yi", "lo", "uz", "fo", "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln",
    "ha", "ba", "jw", "su", "yue",
];

/// Timestamp tokens: `<|0.00|>` to `<|30.00|>`.
pub const TIMESTAMPS: usize = 1501;
/// Seconds between timestamp tokens.
pub const TIMESTAMP_STEP: f64 = 0.02;

const PATTERN: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

/// GPT-2's printable stand-in for each byte (`bytes_to_unicode`): printable Latin-1 bytes stand
/// for themselves, the others are shifted past U+00FF in byte order.
pub fn byte_to_unicode() -> [char; 256] {
    let mut out = ['\0'; 256];
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut shifted = 0;
    for b in 0..256u32 {
        out[b as usize] = if printable(b) {
            char::from_u32(b).unwrap_or('\0')
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap_or('\0')
        };
    }
    out
}

/// Whisper's tokenizer.
pub struct WhisperTokenizer {
    ranks: HashMap<Vec<u8>, u32>,
    /// Bytes of each ordinary token, by id.
    bytes: Vec<Vec<u8>>,
    /// Special tokens' names, from id `bytes.len()` on.
    specials: Vec<String>,
    special_ids: HashMap<String, u32>,
    pattern: fancy_regex::Regex,
}

impl std::fmt::Debug for WhisperTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperTokenizer").field("n_vocab", &self.n_vocab()).finish()
    }
}

impl WhisperTokenizer {
    /// Reads a `.tiktoken` vocabulary (`base64 rank` per line) and appends the special tokens
    /// of a model with `languages` languages (99 for every Whisper before large-v3).
    pub fn from_tiktoken(path: &Path, languages: usize) -> Result<Self, ModelError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
        let bad = |line: usize| ModelError::Vocabulary { path: path.to_path_buf(), line };
        let mut bytes: Vec<Vec<u8>> = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let mut parts = line.split_whitespace();
            let (Some(token), Some(rank)) = (parts.next(), parts.next()) else { return Err(bad(i + 1)) };
            // multilingual.tiktoken's last entry is "=": no bytes at all (Python's b64decode
            // reads it so).
            let token = if token.trim_matches('=').is_empty() {
                Vec::new()
            } else {
                base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| bad(i + 1))?
            };
            let rank: usize = rank.parse().map_err(|_| bad(i + 1))?;
            if rank != bytes.len() {
                return Err(bad(i + 1));
            }
            bytes.push(token);
        }
        Ok(Self::from_ordinary(bytes, languages))
    }

    /// Reads a Hugging Face `vocab.json` (what hub checkpoints such as `openai/whisper-tiny`
    /// ship): GPT-2's byte-level names (each byte written as one printable character) mapped
    /// to ids. The ordinary tokens are the ids below `<|endoftext|>`; the special tokens are
    /// rebuilt in openai-whisper's order, so ids agree with the `.tiktoken` route.
    pub fn from_hf_vocab(path: &Path, languages: usize) -> Result<Self, ModelError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ModelError::Io { path: path.to_path_buf(), source })?;
        let bad = |line: usize| ModelError::Vocabulary { path: path.to_path_buf(), line };
        let vocab: HashMap<String, u32> = serde_json::from_str(&text).map_err(|e| bad(e.line()))?;
        let eot = *vocab.get("<|endoftext|>").ok_or_else(|| bad(0))? as usize;
        let unicode_to_byte: HashMap<char, u8> =
            byte_to_unicode().iter().enumerate().map(|(b, c)| (*c, b as u8)).collect();
        // An id the file leaves out (multilingual's 50256, an empty token) has no bytes.
        let mut bytes = vec![Vec::new(); eot];
        for (name, &id) in &vocab {
            if (id as usize) < eot {
                bytes[id as usize] = name
                    .chars()
                    .map(|c| unicode_to_byte.get(&c).copied().ok_or_else(|| bad(0)))
                    .collect::<Result<_, _>>()?;
            }
        }
        Ok(Self::from_ordinary(bytes, languages))
    }

    /// The tokenizer of ordinary tokens `bytes` (by id) plus openai-whisper's special tokens.
    pub fn from_ordinary(bytes: Vec<Vec<u8>>, languages: usize) -> Self {
        let ranks =
            bytes.iter().enumerate().filter(|(_, b)| !b.is_empty()).map(|(i, b)| (b.clone(), i as u32)).collect();
        let mut specials: Vec<String> = vec!["<|endoftext|>".into(), "<|startoftranscript|>".into()];
        specials.extend(LANGUAGES.iter().take(languages).map(|l| format!("<|{l}|>")));
        for s in ["translate", "transcribe", "startoflm", "startofprev", "nospeech", "notimestamps"] {
            specials.push(format!("<|{s}|>"));
        }
        specials.extend((0..TIMESTAMPS).map(|i| format!("<|{:.2}|>", i as f64 * TIMESTAMP_STEP)));
        let special_ids = specials.iter().enumerate().map(|(i, s)| (s.clone(), (bytes.len() + i) as u32)).collect();
        let pattern = fancy_regex::Regex::new(PATTERN).expect("the GPT-2 pattern compiles");
        Self { ranks, bytes, specials, special_ids, pattern }
    }

    /// Languages a checkpoint of `vocab_size` ids has when `ordinary` of them are text tokens
    /// (99 for whisper-tiny's 51,865 = 50,257 + 2 + 99 + 6 + 1,501).
    pub fn languages_for(vocab_size: usize, ordinary: usize) -> usize {
        vocab_size.saturating_sub(ordinary + 8 + TIMESTAMPS).min(LANGUAGES.len())
    }

    /// Language codes this tokenizer has tokens for, in id order.
    pub fn languages(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        LANGUAGES.iter().filter_map(|l| self.special(&format!("<|{l}|>")).map(|id| (*l, id)))
    }

    pub fn n_vocab(&self) -> usize {
        self.bytes.len() + self.specials.len()
    }

    /// The id of a special token by name (`<|transcribe|>`).
    pub fn special(&self, name: &str) -> Option<u32> {
        self.special_ids.get(name).copied()
    }

    pub fn end_of_text(&self) -> u32 {
        self.bytes.len() as u32
    }

    /// The id of `<|0.00|>`; every id from it on is a timestamp.
    pub fn timestamp_begin(&self) -> u32 {
        self.n_vocab() as u32 - TIMESTAMPS as u32
    }

    /// Seconds a timestamp token stands for (`None` for other tokens).
    pub fn timestamp(&self, id: u32) -> Option<f64> {
        id.checked_sub(self.timestamp_begin())
            .filter(|i| (*i as usize) < TIMESTAMPS)
            .map(|i| f64::from(i) * TIMESTAMP_STEP)
    }

    /// Ordinary text to ids (special-token names in it are plain text, as tiktoken's
    /// `encode_ordinary`).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for piece in self.pattern.find_iter(text).flatten() {
            let piece = piece.as_str().as_bytes();
            match self.ranks.get(piece) {
                Some(id) => out.push(*id),
                None => out.extend(self.merge(piece)),
            }
        }
        out
    }

    /// Byte-pair merging of one pre-token: the adjacent pair whose concatenation has the lowest
    /// rank is merged first, until no pair is in the vocabulary (tiktoken's `byte_pair_merge`).
    fn merge(&self, piece: &[u8]) -> Vec<u32> {
        let mut parts: Vec<Vec<u8>> = piece.iter().map(|b| vec![*b]).collect();
        loop {
            let best = (0..parts.len().saturating_sub(1))
                .filter_map(|i| {
                    let joined = [parts[i].as_slice(), parts[i + 1].as_slice()].concat();
                    self.ranks.get(&joined).map(|r| (*r, i))
                })
                .min();
            let Some((_, i)) = best else { break };
            let next = parts.remove(i + 1);
            parts[i].extend(next);
        }
        parts.iter().filter_map(|p| self.ranks.get(p).copied()).collect()
    }

    /// Ids to text, special tokens written as their names; bytes that do not form UTF-8 (a
    /// character cut between tokens) become U+FFFD, as tiktoken's `decode`.
    pub fn decode(&self, ids: &[u32]) -> String {
        let mut out = Vec::new();
        for &id in ids {
            match self.bytes.get(id as usize) {
                Some(b) => out.extend_from_slice(b),
                None => {
                    if let Some(s) = self.specials.get(id as usize - self.bytes.len()) {
                        out.extend_from_slice(s.as_bytes());
                    }
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Only the text: special tokens (timestamps included) left out.
    pub fn decode_text(&self, ids: &[u32]) -> String {
        let ordinary: Vec<u32> = ids.iter().copied().filter(|id| (*id as usize) < self.bytes.len()).collect();
        self.decode(&ordinary)
    }
}
