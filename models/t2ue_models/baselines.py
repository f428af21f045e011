"""Image-dependent baselines on the same frozen surrogate and data, written from the papers'
descriptions (SCIENCE.md), with their cost per image measured:

* EM  : per-sample image noise by PGD (error minimisation of the symmetric InfoNCE), no text change.
* MEM : per-sample image noise (PGD) + a per-sample k-token text trigger written at the start of the
        caption, found by HotFlip (top-16 candidates per position from -grad . E, greedy left to right,
        keep the lowest loss), with caption shuffling during PGD (each image keeps its own trigger).

Deviation from MEM's paper: its surrogate CLIP is trained from scratch *during* poisoning (min-min,
200 steps per round); here the surrogate is the frozen LiT surrogate that T2UE is trained against,
so both methods are compared against the same model, and the round schedule is shortened.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .nets import EPSILON, Surrogate
from .text import Tokenizer
from . import train as T

FIRST_WORD_ID = 1996            # MiniLM vocab: ids below are [PAD]/[unused]/[CLS]/[SEP]/[MASK]/punctuation


def per_sample_infonce(img, txt, scale):
    logits = scale * img @ txt.t()
    tgt = torch.arange(len(img))
    return 0.5 * (F.cross_entropy(logits, tgt, reduction="none") + F.cross_entropy(logits.t(), tgt, reduction="none"))


def _with_trigger(ids: np.ndarray, mask: np.ndarray, trig: np.ndarray):
    """[CLS] t_1..t_k caption... [SEP], truncated to the context length (keeps [SEP])."""
    B, L = ids.shape
    k = trig.shape[1]
    out_ids = np.zeros_like(ids)
    out_mask = np.zeros_like(mask)
    for i in range(B):
        n = int(mask[i].sum())
        body = ids[i, 1: n - 1][: L - 2 - k]
        row = np.concatenate([[ids[i, 0]], trig[i], body, [ids[i, n - 1]]])
        out_ids[i, : len(row)] = row
        out_mask[i, : len(row)] = 1
    return out_ids, out_mask


def _text_emb(sur: Surrogate, ids, mask, embeds=None):
    return sur.text.head(sur.text.backbone(torch.from_numpy(ids), torch.from_numpy(mask), embeds))


def hotflip_round(sur: Surrogate, img_emb, ids, mask, trig, n_cand: int = 16):
    """One greedy left-to-right HotFlip pass over the k trigger positions (per-sample choice)."""
    E = sur.text.encoder.word.weight
    scale = sur.scale()
    k = trig.shape[1]
    for j in range(k):
        tid, tmask = _with_trigger(ids, mask, trig)
        emb = E[torch.from_numpy(tid)].detach().requires_grad_(True)
        loss = per_sample_infonce(img_emb, _text_emb(sur, tid, tmask, emb), scale).sum()
        (g,) = torch.autograd.grad(loss, emb)
        score = -(g[:, 1 + j] @ E.t())                      # first-order decrease of the loss
        score[:, :FIRST_WORD_ID] = -float("inf")
        cands = score.topk(n_cand, dim=1).indices.numpy()   # [B, n_cand]
        with torch.no_grad():
            best = per_sample_infonce(img_emb, _text_emb(sur, tid, tmask), scale).numpy()
            for c in range(n_cand):
                t2 = trig.copy()
                t2[:, j] = cands[:, c]
                i2, m2 = _with_trigger(ids, mask, t2)
                l2 = per_sample_infonce(img_emb, _text_emb(sur, i2, m2), scale).numpy()
                better = l2 < best
                trig[better, j] = cands[better, c]
                best = np.minimum(best, l2)
    return trig


def pgd(sur: Surrogate, x, delta, txt_emb, steps: int, alpha: float = 1 / 255, eps: float = EPSILON):
    scale = sur.scale()
    for _ in range(steps):
        delta = delta.detach().requires_grad_(True)
        loss = per_sample_infonce(sur.image((x + delta).clamp(0, 1)), txt_emb, scale).sum()
        (g,) = torch.autograd.grad(loss, delta)
        delta = (delta - alpha * g.sign()).clamp(-eps, eps)
        delta = ((x + delta).clamp(0, 1) - x)
    return delta.detach()


def run_mem(sur, tok, images_u8, captions, k: int, rounds: int = 10, hotflip_rounds: int = 3,
            pgd_steps: int = 8, bs: int = 50, seed: int = 0, log=print, resume_dir=None):
    """MEM-k (k=0 gives EM: no trigger, no shuffling). Returns deltas, triggered captions, seconds.

    With resume_dir, each finished batch is saved there (atomically) and a rerun skips the batches
    already saved, so a long run that is killed loses one batch at most. Results are the same as one
    uninterrupted run: the shuffling RNG is advanced past the skipped batches' draws. The seconds
    returned are the compute seconds of all batches, saved ones included."""
    rng = np.random.default_rng(seed)
    t0 = time.time()
    secs = 0.0
    deltas, trig_ids, trig_masks = [], [], []
    if resume_dir is not None:
        resume_dir = Path(resume_dir)
        resume_dir.mkdir(parents=True, exist_ok=True)
    for b in range(0, len(images_u8), bs):
        n_b = len(images_u8[b: b + bs])
        saved = resume_dir / f"batch-{b:07d}-k{k}.npz" if resume_dir is not None else None
        if saved is not None and saved.exists():
            z = np.load(saved)
            if z["delta"].shape[0] == n_b:
                for _ in range(rounds - hotflip_rounds if k else 0):
                    rng.permutation(n_b)                # same RNG state as an uninterrupted run
                deltas.append(torch.from_numpy(z["delta"]))
                trig_ids.append(z["ids"])
                trig_masks.append(z["mask"])
                secs += float(z["secs"])
                continue
        tb = time.time()
        x = T.to_tensor(images_u8[b: b + bs])
        ids, mask = tok(list(captions[b: b + bs]))
        trig = np.full((len(x), k), tok.tok.token_to_id("the") or FIRST_WORD_ID, np.int64)
        delta = torch.zeros_like(x)
        for r in range(rounds):
            if k and r < hotflip_rounds:
                with torch.no_grad():
                    img_emb = sur.image((x + delta).clamp(0, 1))
                trig = hotflip_round(sur, img_emb, ids, mask, trig)
            else:
                perm = rng.permutation(len(x)) if k else np.arange(len(x))   # caption shuffling
                if k:
                    tid, tm = _with_trigger(ids[perm], mask[perm], trig)       # image i keeps trigger i
                else:
                    tid, tm = ids, mask
                with torch.no_grad():
                    te = _text_emb(sur, tid, tm)
                delta = pgd(sur, x, delta, te, pgd_steps)
        tid, tm = _with_trigger(ids, mask, trig) if k else (ids, mask)
        secs += time.time() - tb
        if saved is not None:
            tmp = saved.with_name(saved.stem + ".partial.npz")
            np.savez(tmp, delta=delta.numpy(), ids=tid, mask=tm, secs=np.float64(time.time() - tb))
            os.replace(tmp, saved)
        deltas.append(delta)
        trig_ids.append(tid)
        trig_masks.append(tm)
        log(f"  [{'MEM-%d' % k if k else 'EM'}] {b + len(x)}/{len(images_u8)} images, {time.time() - t0:.0f}s")
    return torch.cat(deltas), np.concatenate(trig_ids), np.concatenate(trig_masks), secs


@torch.no_grad()
def _eval(sur, x, delta, ids, mask, bs: int):
    scale = sur.scale()
    out = []
    for b in range(0, len(x), bs):
        xi = ((x[b: b + bs] + delta[b: b + bs]).clamp(0, 1) * 255).round() / 255
        ei = sur.image(xi)
        et = _text_emb(sur, ids[b: b + bs], mask[b: b + bs])
        out.append(per_sample_infonce(ei, et, scale).mean().item())
    return round(float(np.mean(out)), 4)


def run_baselines(sur: Surrogate, tok: Tokenizer, ddir, n: int = 100, gen=None, log=print) -> dict:
    """EM, MEM-3, MEM-5 (and T2UE for comparison) on the first n clipart test pairs."""
    from . import data as D
    for p in sur.parameters():
        p.requires_grad_(False)
    sur.eval()
    d = D.load(ddir / "clipart_test.npz")
    imgs, caps = d["images"][:n], d["captions"][:n]
    x = T.to_tensor(imgs)
    ids, mask = tok(list(caps))
    eval_bs = min(100, n)
    res = {"n_images": n, "eval_batch": eval_bs, "threads": torch.get_num_threads(),
           "clean_infonce": _eval(sur, x, torch.zeros_like(x), ids, mask, eval_bs)}
    for name, k in (("EM", 0), ("MEM-3", 3), ("MEM-5", 5)):
        delta, tid, tm, secs = run_mem(sur, tok, imgs, caps, k, log=log)
        res[name] = {"seconds_per_image": round(secs / n, 3), "protected_infonce": _eval(sur, x, delta, tid, tm, eval_bs),
                     "linf_255": round(float(delta.abs().max() * 255), 2)}
        if k:
            res[name]["example_trigger"] = tok.tok.decode(tid[0][1: 1 + k].tolist())
        log(f"[baselines] {name}: {res[name]}")
    if gen is not None:
        res["T2UE"] = t2ue_row(sur, tok, ddir, n, gen)
    return res


def t2ue_row(sur: Surrogate, tok: Tokenizer, ddir, n: int, gen) -> dict:
    """T2UE on the same n pairs as the baselines (cheap: recomputed whenever the generator changes)."""
    from . import data as D
    d = D.load(ddir / "clipart_test.npz")
    x = T.to_tensor(d["images"][:n])
    ids, mask = tok(list(d["captions"][:n]))
    t0 = time.time()
    with torch.no_grad():
        et = _text_emb(sur, ids, mask)
        delta = gen(et, torch.randn(n, gen.latent_dim, generator=torch.Generator().manual_seed(0)))
    secs = time.time() - t0
    return {"seconds_per_image": round(secs / n, 4), "protected_infonce": _eval(sur, x, delta, ids, mask, min(100, n)),
            "linf_255": round(float(delta.abs().max() * 255), 2), "rms_255": round(float(delta.pow(2).mean().sqrt() * 255), 2),
            "note": "text encoder + generator, PyTorch"}
