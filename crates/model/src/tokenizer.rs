//! CLIP's BPE tokenizer with the OpenAI vocabulary, giving the ids Hugging Face's
//! `CLIPTokenizer` gives: text cleaned (NFC, HTML entities unescaped twice, whitespace collapsed),
//! lower-cased, wrapped in start (49406) and end (49407) tokens, truncated to the context length.
//!
//! The BPE itself is `instant-clip-tokenizer` (it bundles the OpenAI vocabulary); what it skips
//! of OpenAI's `basic_clean` is done here.

use unicode_normalization::UnicodeNormalization;

/// CLIP's text context length (positions of the text tower).
pub const CONTEXT_LENGTH: usize = 77;
pub const START_OF_TEXT: u32 = 49406;
pub const END_OF_TEXT: u32 = 49407;

pub struct ClipTokenizer {
    inner: instant_clip_tokenizer::Tokenizer,
    context_length: usize,
}

impl std::fmt::Debug for ClipTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipTokenizer").field("context_length", &self.context_length).finish()
    }
}

impl ClipTokenizer {
    /// The OpenAI vocabulary with a given context length (77 for every OpenAI CLIP).
    pub fn new(context_length: usize) -> Self {
        Self { inner: instant_clip_tokenizer::Tokenizer::new(), context_length: context_length.max(2) }
    }

    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// Token ids of one text: start, at most `context_length - 2` BPE tokens, end. Not padded.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = clean(text);
        let mut tokens = Vec::new();
        self.inner.encode(&cleaned, &mut tokens);
        let keep = tokens.len().min(self.context_length - 2);
        let mut ids = Vec::with_capacity(keep + 2);
        ids.push(START_OF_TEXT);
        ids.extend(tokens[..keep].iter().map(|t| u32::from(t.to_u16())));
        ids.push(END_OF_TEXT);
        ids
    }
}

/// The form a query is compared and cached in: cleaned and lower-cased, as the tokenizer sees it.
pub fn preprocess_query(text: &str) -> String {
    clean(text).to_lowercase()
}

/// OpenAI's `whitespace_clean(basic_clean(text))`, with NFC standing in for ftfy's `fix_text`
/// (which normalises to NFC and repairs mojibake that query text does not have in practice).
pub fn clean(text: &str) -> String {
    let nfc: String = text.nfc().collect();
    let once = html_escape::decode_html_entities(&nfc);
    let twice = html_escape::decode_html_entities(&once);
    twice.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_in_start_and_end_and_truncates() {
        let tok = ClipTokenizer::new(CONTEXT_LENGTH);
        let ids = tok.encode("hello world");
        assert_eq!(ids.first(), Some(&START_OF_TEXT));
        assert_eq!(ids.last(), Some(&END_OF_TEXT));
        let long = "word ".repeat(200);
        let ids = tok.encode(&long);
        assert_eq!(ids.len(), CONTEXT_LENGTH);
        assert_eq!(ids[CONTEXT_LENGTH - 1], END_OF_TEXT);
    }

    #[test]
    fn cleaning_collapses_whitespace_and_unescapes() {
        assert_eq!(clean("  a \t b\n"), "a b");
        assert_eq!(clean("&amp;lt;"), "<");
    }
}
