"""CLIP's BPE tokenizer, rebuilt as a HuggingFace `tokenizers` Tokenizer from the vocabulary file that
open_clip_torch ships (`open_clip/bpe_simple_vocab_16e6.txt.gz`; open_clip itself is not importable
here, it is installed without its dependencies, so only the data file is read).

Construction (OpenAI CLIP `SimpleTokenizer`):
* merges = lines 1 .. 48894 of the file (line 0 is a version header) = 49152 - 256 - 2 merges;
* vocab  = the 256 byte symbols of `bytes_to_unicode()` *in that function's order* (printable
  '!'..'~', '¡'..'¬', '®'..'ÿ' first, then the remaining bytes mapped to chr(256+n)), the same 256
  with '</w>' appended, the 48894 joined merges, then '<|startoftext|>' (49406) and
  '<|endoftext|>' (49407): 49408 ids;
* text: NFC, whitespace runs collapsed, stripped, lowercased (CLIP also runs ftfy.fix_text and a
  double html.unescape; neither matters for plain captions and ftfy is not installed);
* pre-tokenisation: CLIP's regex `'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+`
  (the matches are the words, everything else is dropped), then each word's UTF-8 bytes mapped
  through bytes_to_unicode (the GPT-2 byte-level table, identical in CLIP);
* BPE with end-of-word suffix '</w>' on the last symbol of each word;
* post-processing: '<|startoftext|>' $A '<|endoftext|>'.

The built tokenizer.json is cached at $T2UE_CACHE/clip_bpe/tokenizer.json (never committed).
"""
from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from .splits import cache_dir, package_file

SOT, EOT = "<|startoftext|>", "<|endoftext|>"
SOT_ID, EOT_ID, VOCAB_SIZE = 49406, 49407, 49408
N_MERGES = 49152 - 256 - 2            # 48894
CLIP_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
BUILD_VERSION = "2"


def bytes_to_unicode() -> dict[int, str]:
    """CLIP's (= GPT-2's) reversible byte -> printable unicode character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def vocab_file() -> Path:
    return package_file("open_clip", "bpe_simple_vocab_16e6.txt.gz")


def build_vocab_merges(path=None) -> tuple[dict[str, int], list[tuple[str, str]]]:
    lines = gzip.open(path or vocab_file()).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1:N_MERGES + 1]]
    assert len(merges) == N_MERGES and all(len(m) == 2 for m in merges)
    base = list(bytes_to_unicode().values())
    vocab = base + [v + "</w>" for v in base] + ["".join(m) for m in merges] + [SOT, EOT]
    enc = {t: i for i, t in enumerate(vocab)}
    assert len(enc) == VOCAB_SIZE and enc[SOT] == SOT_ID and enc[EOT] == EOT_ID
    return enc, merges


def build_tokenizer(path=None):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    vocab, merges = build_vocab_merges(path)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, end_of_word_suffix="</w>", unk_token=None,
                               fuse_unk=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                           normalizers.Strip(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(CLIP_PATTERN), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.post_processor = processors.TemplateProcessing(single=f"{SOT} $A {EOT}", special_tokens=[(SOT, SOT_ID), (EOT, EOT_ID)])
    tok.decoder = decoders.Sequence([decoders.BPEDecoder(suffix="</w>"), decoders.ByteLevel()])
    tok.add_special_tokens([SOT, EOT])
    return tok


def tokenizer_json_path() -> Path:
    h = hashlib.sha256(vocab_file().read_bytes()).hexdigest()[:12]
    return cache_dir() / "clip_bpe" / f"tokenizer-{h}-v{BUILD_VERSION}.json"


@lru_cache(maxsize=1)
def load_tokenizer():
    """The CLIP BPE tokenizer, built once and cached as tokenizer.json under $T2UE_CACHE."""
    from tokenizers import Tokenizer
    p = tokenizer_json_path()
    if p.exists():
        return Tokenizer.from_file(str(p))
    tok = build_tokenizer()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tok.save(str(tmp))
    tmp.replace(p)
    return tok


def encode(text: str) -> list[int]:
    return load_tokenizer().encode(text).ids


def tokenize(captions, context_length: int = 32) -> np.ndarray:
    """int64 [N, context_length]: SOT ... EOT, zero padded; too long captions are cut and keep EOT
    as their last token (as open_clip does). EOT is the largest id, so argmax finds it."""
    encs = load_tokenizer().encode_batch([str(c) for c in captions])
    out = np.zeros((len(encs), context_length), np.int64)
    for i, e in enumerate(encs):
        ids = e.ids[:context_length]
        ids[-1] = EOT_ID if len(e.ids) > context_length else ids[-1]
        out[i, :len(ids)] = ids
    return out
