"""all-MiniLM-L6-v2 as a plain PyTorch BERT (no transformers dependency; exports cleanly to ONNX),
plus the tokenisation rule of docs/bundle-format.md."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .kdf import normalise_caption
from .paths import minilm_dir

CONTEXT_LENGTH = 32


class Tokenizer:
    """MiniLM's tokenizer.json; padding off, truncation at the context length, right-pad with 0."""

    def __init__(self, path=None, context_length: int = CONTEXT_LENGTH, pad_id: int = 0):
        from tokenizers import Tokenizer as HFTok
        self.path = str(path or (minilm_dir() / "tokenizer.json"))
        self.tok = HFTok.from_file(self.path)
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=context_length)
        self.L, self.pad_id = context_length, pad_id

    def __call__(self, captions) -> tuple[np.ndarray, np.ndarray]:
        encs = self.tok.encode_batch([normalise_caption(str(c)) for c in captions])
        ids = np.full((len(encs), self.L), self.pad_id, np.int64)
        mask = np.zeros((len(encs), self.L), np.int64)
        for i, e in enumerate(encs):
            n = min(len(e.ids), self.L)
            ids[i, :n] = e.ids[:n]
            mask[i, :n] = 1
        return ids, mask


class _Layer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, eps: float):
        super().__init__()
        self.h = heads
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.ln2 = nn.LayerNorm(d, eps=eps)

    def forward(self, x, bias):
        B, L, D = x.shape
        hd = D // self.h
        q = self.q(x).view(B, L, self.h, hd).transpose(1, 2)
        k = self.k(x).view(B, L, self.h, hd).transpose(1, 2)
        v = self.v(x).view(B, L, self.h, hd).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, L, D)
        x = self.ln1(x + self.o(y))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))


class MiniLM(nn.Module):
    """BERT encoder + attention-masked mean pooling (sentence-transformers' pooling)."""

    def __init__(self, vocab=30522, d=384, layers=6, heads=12, ff=1536, max_pos=512, eps=1e-12):
        super().__init__()
        self.word = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_pos, d)
        self.tok_type = nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d, eps=eps)
        self.layers = nn.ModuleList(_Layer(d, heads, ff, eps) for _ in range(layers))
        self.dim = d

    def embed(self, input_ids):
        L = input_ids.shape[1]
        return self.word(input_ids) + self.pos.weight[:L].unsqueeze(0) + self.tok_type.weight[0]

    def forward(self, input_ids, attention_mask, inputs_embeds=None):
        x = self.embed(input_ids) if inputs_embeds is None else (
            inputs_embeds + self.pos.weight[: inputs_embeds.shape[1]].unsqueeze(0) + self.tok_type.weight[0])
        x = self.ln(x)
        m = attention_mask.to(x.dtype)
        bias = ((1.0 - m) * -10000.0)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        return (x * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True).clamp_min(1.0)

    @classmethod
    def pretrained(cls, path=None) -> "MiniLM":
        from safetensors.torch import load_file
        sd = load_file(str(path or (minilm_dir() / "model.safetensors")))
        m = cls()
        new = {"word.weight": sd["embeddings.word_embeddings.weight"],
               "pos.weight": sd["embeddings.position_embeddings.weight"],
               "tok_type.weight": sd["embeddings.token_type_embeddings.weight"],
               "ln.weight": sd["embeddings.LayerNorm.weight"], "ln.bias": sd["embeddings.LayerNorm.bias"]}
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
                 "ff1": "intermediate.dense", "ff2": "output.dense", "ln2": "output.LayerNorm"}
        for i in range(len(m.layers)):
            for ours, theirs in names.items():
                for p in ("weight", "bias"):
                    new[f"layers.{i}.{ours}.{p}"] = sd[f"encoder.layer.{i}.{theirs}.{p}"]
        m.load_state_dict(new, strict=True)
        return m.eval()
