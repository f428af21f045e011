//! Captions: normalisation and tokenisation to the bundle's context length.

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

/// Captions longer than this (in characters, after normalisation) are refused rather than
/// silently cut: a caption is a sentence or two, not a document.
pub const MAX_CAPTION_CHARS: usize = 2000;

/// Normalise a caption the way the bundle contract says: Unicode NFC, trimmed, every run of
/// whitespace made one ASCII space. Empty results and over-long captions are errors.
pub fn normalize_caption(caption: &str) -> Result<String> {
    let nfc: String = caption.nfc().collect();
    let mut out = String::with_capacity(nfc.len());
    for word in nfc.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        return Err(Error::EmptyCaption);
    }
    let chars = out.chars().count();
    if chars > MAX_CAPTION_CHARS {
        return Err(Error::CaptionTooLong { chars, max: MAX_CAPTION_CHARS });
    }
    Ok(out)
}

/// A caption as the text encoder takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedCaption {
    /// The normalised caption.
    pub caption: String,
    /// Token ids, padded to the context length.
    pub input_ids: Vec<i64>,
    /// 1 for real tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Real tokens (including special tokens), at most the context length.
    pub token_count: usize,
    /// True when the caption had more tokens than the context length and was cut.
    pub truncated: bool,
}

/// The bundle's tokenizer, set to truncate at the context length.
pub(crate) struct CaptionTokenizer {
    tokenizer: Tokenizer,
    context_length: usize,
    pad_id: i64,
}

impl CaptionTokenizer {
    pub(crate) fn from_bytes(bytes: &[u8], context_length: usize, pad_id: u32) -> Result<Self> {
        let mut tokenizer = Tokenizer::from_bytes(bytes).map_err(|e| Error::Tokenizer { reason: e.to_string() })?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: context_length,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| Error::Tokenizer { reason: e.to_string() })?;
        Ok(CaptionTokenizer { tokenizer, context_length, pad_id: pad_id as i64 })
    }

    /// Normalise and tokenise one caption.
    pub(crate) fn encode(&self, caption: &str) -> Result<TokenizedCaption> {
        let caption = normalize_caption(caption)?;
        let enc = self
            .tokenizer
            .encode(caption.as_str(), true)
            .map_err(|e| Error::Tokenizer { reason: format!("encoding {caption:?}: {e}") })?;
        let ids = enc.get_ids();
        let n = ids.len().min(self.context_length);
        let mut input_ids = vec![self.pad_id; self.context_length];
        let mut attention_mask = vec![0i64; self.context_length];
        for i in 0..n {
            input_ids[i] = ids[i] as i64;
            attention_mask[i] = 1;
        }
        let truncated = !enc.get_overflowing().is_empty() || ids.len() > self.context_length;
        Ok(TokenizedCaption { caption, input_ids, attention_mask, token_count: n, truncated })
    }
}
