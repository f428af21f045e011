"""Surrogate (LiT-style projections over frozen towers) and T2UE generator training + evaluation."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from . import augment
from .nets import Generator, Surrogate, info_nce
from .text import Tokenizer


def to_tensor(images_u8: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images_u8)).permute(0, 3, 1, 2).float().div_(255.0)


def caption_ids(captions: np.ndarray):
    uniq, inv = np.unique(captions, return_inverse=True)
    return uniq, inv


@torch.no_grad()
def image_backbone_features(sur: Surrogate, images_u8: np.ndarray, bs: int = 256, log=None) -> torch.Tensor:
    out = []
    for i in range(0, len(images_u8), bs):
        out.append(sur.image.backbone(to_tensor(images_u8[i: i + bs])))
        if log and (i // bs) % 20 == 0:
            log(f"  image features {i + bs}/{len(images_u8)}")
    return torch.cat(out)


@torch.no_grad()
def text_backbone_features(sur: Surrogate, tok: Tokenizer, captions, bs: int = 256, trim: bool = False) -> torch.Tensor:
    """trim: drop the padding columns past each batch's longest caption (the same features up to float
    rounding, 2-3x faster for short captions; off where results must replay bit for bit)."""
    out = []
    for i in range(0, len(captions), bs):
        ids, mask = tok(captions[i: i + bs])
        if trim:
            n = int(mask.sum(1).max())
            ids, mask = ids[:, :n], mask[:, :n]
        out.append(sur.text.backbone(torch.from_numpy(np.ascontiguousarray(ids)), torch.from_numpy(np.ascontiguousarray(mask))))
    return torch.cat(out)


@torch.no_grad()
def text_embeddings(sur: Surrogate, tok: Tokenizer, captions, bs: int = 256, trim: bool = False) -> torch.Tensor:
    return sur.text.head(text_backbone_features(sur, tok, captions, bs, trim))


def train_heads(sur: Surrogate, img_feats: torch.Tensor, txt_feats: torch.Tensor, cap_of_img: np.ndarray,
                steps: int = 3000, bs: int = 512, lr: float = 1e-3, wd: float = 1e-4, seed: int = 0, log=print):
    """Train the two projections + temperature on cached frozen-backbone features."""
    g = torch.Generator().manual_seed(seed)
    params = list(sur.image.proj.parameters()) + list(sur.text.proj.parameters()) + [sur.logit_scale]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    cap = torch.from_numpy(cap_of_img)
    n = len(img_feats)
    t0 = time.time()
    for step in range(steps):
        idx = torch.randint(0, n, (bs,), generator=g)
        fi = img_feats[idx]
        fi = F.dropout(fi, 0.1, training=True)
        ei = sur.image.head(fi)
        et = sur.text.head(txt_feats[cap[idx]])
        loss = info_nce(ei, et, sur.scale(), cap[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0 or step == steps - 1:
            log(f"  [surrogate] step {step:5d} loss {loss.item():.4f} T={1 / sur.scale().item():.4f} ({time.time() - t0:.0f}s)")
    return sur


def retrieval(img_emb: torch.Tensor, txt_emb: torch.Tensor) -> dict:
    """Pair i <-> i. I2T and T2I recall@1/5/10 (%) and median rank; random guess R@k = k/N."""
    sim = img_emb @ txt_emb.t()
    n = len(sim)
    gt = torch.arange(n)

    def ranks(s):
        return (s > s[gt, gt][:, None]).sum(1) + 1

    r_i2t, r_t2i = ranks(sim), ranks(sim.t())
    out = {"n": n}
    for name, r in (("i2t", r_i2t), ("t2i", r_t2i)):
        for k in (1, 5, 10):
            out[f"{name}_R@{k}"] = round(100.0 * (r <= k).float().mean().item(), 2)
        out[f"{name}_MedR"] = float(r.float().median().item())
    out["random_R@1"], out["random_R@10"] = round(100.0 / n, 2), round(1000.0 / n, 2)
    return out


# ----------------------------------------------------------------------------------------- generator
def train_generator(gen: Generator, sur: Surrogate, carriers_u8: np.ndarray, target_emb: torch.Tensor,
                    steps: int, bs: int = 64, lr: float = 1e-3, seed: int = 0, target_weights=None,
                    p_crop: float = 0.3, p_jpeg: float = 0.3, log=print, time_budget_s: float | None = None,
                    p_synth: float = 0.5, synth_sigma: float = 0.05, heldout=None, eval_every: int = 100,
                    roll_step: int | None = None, stop_after: int | None = None, learner=None,
                    learner_weight: float = 1.0, learner_reset: int = 400, learner_lr: float = 2e-3,
                    surrogate_weight: float = 1.0, z_div_weight: float = 0.0, p_gray: float = 0.0,
                    variant_emb: torch.Tensor | None = None, p_para: float = 0.0, p_chshuffle: float = 0.0,
                    on_step=None):
    """Error-minimising training: min over G of InfoNCE(f_I(scraper(x + delta)), e_t), delta = G(e_t, z),
    z ~ N(0, I); the surrogate is frozen.

    The noise never sees the photo, so the target captions are drawn independently of the images, which
    are mere carriers (`target_emb`: one row per distinct caption, sampled with `target_weights`). On the
    surrogate's own training pairs the clean loss is already near zero and gives no gradient; a carrier
    that does not match its target forces the noise to carry the caption by itself. With probability
    p_synth a target is replaced by a synthetic one: a random convex mix of two caption embeddings plus
    Gaussian jitter (synth_sigma per coordinate), renormalised, so the generator learns the map
    e_t -> delta rather than one noise per training caption. `heldout` = (images_u8, text_emb) of
    matched pairs it never trains on: their clean and protected loss is logged every eval_every steps.

    With a `learner` (nets.Learner) the objective is also min-min against a model trained from scratch on
    the protected batches: each step the learner takes one step on the (detached) protected batch, then
    the generator's loss adds learner_weight x the learner's InfoNCE on the same batch. The learner is
    re-initialised every learner_reset steps.

    With z_div_weight > 0 every target also gets a second latent: both noises are trained to protect
    (their InfoNCE losses averaged) and z_div_weight x the mean cosine between the two is added, so that the
    noise depends on z (and so on the key) instead of ignoring it.

    p_gray: share of steps whose protected batch is turned to grayscale before the surrogate sees it (a
    scraper that drops colour), so the noise has to carry the caption in luminance too. p_chshuffle: share of
    protected images whose colour channels the scraper model puts in a random order (the adaptive attacker's
    channel shuffle, UEraser), so the noise has to carry the caption under every channel order.

    p_para > 0 (with `variant_emb`, [len(target_emb), T, D]: each target caption worded T other ways): that share
    of the (non-synthetic) batch rows feeds the generator a random rewording's embedding while the InfoNCE
    target stays the caption's own, so the noise has to carry what the caption says, not how it is phrased
    (photos of one subject captioned differently then get similar noise)."""
    if p_para > 0 and (variant_emb is None or variant_emb.shape[0] != len(target_emb)):
        raise ValueError("p_para > 0 needs variant_emb with one row of rewordings per target caption")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    sur.eval()
    for p in sur.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(gen.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    w = torch.ones(len(target_emb)) if target_weights is None else torch.as_tensor(target_weights, dtype=torch.float)
    scale = sur.scale().detach()
    hist, lhist, held, zhist, t0 = [], [], [], [], time.time()
    lopt = None
    if learner is not None and learner.n_classes:
        from .nets import kmeans
        centroids = kmeans(target_emb, learner.n_classes, seed=seed)
    gen.train()
    for step in range(steps):
        idx = torch.randint(0, len(carriers_u8), (bs,), generator=g)
        x = to_tensor(carriers_u8[idx.numpy()])
        ids = torch.multinomial(w, bs, replacement=True, generator=g)
        et = target_emb[ids]
        if p_synth > 0:
            et, ids = synthetic_embeddings(target_emb, et, ids, p_synth, synth_sigma, g)
        z = torch.randn(bs, gen.latent_dim, generator=g)
        gin = et
        if p_para > 0:
            swap = (torch.rand(bs, generator=g) < p_para) & (ids >= 0)
            t = torch.randint(0, variant_emb.shape[1], (bs,), generator=g)
            gin = torch.where(swap[:, None], variant_emb[ids.clamp(min=0), t], et)
        delta = gen(gin, z)
        xp = augment.scraper(x, delta, gen=g, p_crop=p_crop, p_jpeg=p_jpeg, p_gray=p_gray, p_chshuffle=p_chshuffle,
                             roll_step=gen.roll_step if roll_step is None else roll_step)
        loss = info_nce(sur.image(xp.contiguous(memory_format=torch.channels_last)), et, scale, ids)
        if z_div_weight > 0:
            delta2 = gen(gin, torch.randn(bs, gen.latent_dim, generator=g))
            xp2 = augment.scraper(x, delta2, gen=g, p_crop=p_crop, p_jpeg=p_jpeg, p_gray=p_gray, p_chshuffle=p_chshuffle,
                                  roll_step=gen.roll_step if roll_step is None else roll_step)
            loss2 = info_nce(sur.image(xp2.contiguous(memory_format=torch.channels_last)), et, scale, ids)
            zcos = F.cosine_similarity(delta.flatten(1), delta2.flatten(1), dim=1).mean()
            zhist.append(zcos.item())
            loss = 0.5 * (loss + loss2) + z_div_weight * zcos
        if learner is not None:
            if step % learner_reset == 0:
                learner.reset(seed * 100003 + step).train()
                lopt = torch.optim.Adam(learner.parameters(), lr=learner_lr)
            if learner.n_classes:       # cluster mode: predict the caption's k-means cluster from the image
                cl = (et @ centroids.t()).argmax(1)
                ll = F.cross_entropy(learner.logits(xp.detach()), cl)
            else:
                ll = info_nce(learner.encode_image(xp.detach()), learner.encode_text(et), learner.scale(), ids)
            lopt.zero_grad()
            ll.backward()
            lopt.step()
            if learner.n_classes:
                lg = F.cross_entropy(learner.logits(xp), cl)
            else:
                lg = info_nce(learner.encode_image(xp), learner.encode_text(et), learner.scale().detach(), ids)
            lhist.append(lg.item())
            loss = surrogate_weight * loss + learner_weight * lg
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append(loss.item())
        if step % 50 == 0 or step == steps - 1:
            lmsg = f" learner {np.mean(lhist[-50:]):.4f}" if lhist else ""
            lmsg += f" cos(z1, z2) {np.mean(zhist[-50:]):.3f}" if zhist else ""
            log(f"  [generator] step {step:5d} loss {np.mean(hist[-50:]):.4f}{lmsg} ({time.time() - t0:.0f}s)")
        if heldout is not None and (step % eval_every == 0 or step == steps - 1):
            gen.eval()
            clean, prot = heldout_loss(gen, sur, *heldout)
            gen.train()
            held.append((step, clean, prot))
            log(f"  [generator] step {step:5d} held-out captions: clean {clean:.4f} protected {prot:.4f}")
        if on_step is not None:             # e.g. ablate --save-at: checkpoints for a within-run comparison
            on_step(step + 1, gen)
        if stop_after and step + 1 >= stop_after:
            log(f"  [generator] stopped after {step + 1} steps of the {steps}-step schedule")
            break
        if time_budget_s and time.time() - t0 > time_budget_s:
            log(f"  [generator] time budget reached at step {step}")
            break
    gen.eval()
    return {"steps": len(hist), "final_loss_avg50": float(np.mean(hist[-50:])), "seconds": time.time() - t0,
            "loss_curve": [float(np.mean(hist[i: i + 50])) for i in range(0, len(hist), 50)],
            "learner_curve": [float(np.mean(lhist[i: i + 50])) for i in range(0, len(lhist), 50)],
            "z_cos_curve": [round(float(np.mean(zhist[i: i + 50])), 4) for i in range(0, len(zhist), 50)],
            "heldout_curve": [[int(a), round(b, 4), round(c, 4)] for a, b, c in held]}


def synthetic_embeddings(text_emb, et, ids, p: float, sigma: float, g: torch.Generator):
    """Replace a fraction p of the batch's text embeddings by normalised mixes of two caption embeddings
    plus jitter; each synthetic embedding is its own class for the InfoNCE targets."""
    bs = len(et)
    m = torch.rand(bs, generator=g) < p
    j = torch.randint(0, len(text_emb), (bs,), generator=g)
    lam = torch.rand(bs, 1, generator=g)
    mix = F.normalize(lam * et + (1 - lam) * text_emb[j] + sigma * torch.randn(et.shape, generator=g), dim=-1)
    new_ids = -1 - torch.arange(bs)                     # unique, never equal to a caption id
    return torch.where(m[:, None], mix, et), torch.where(m, new_ids, ids)


@torch.no_grad()
def heldout_loss(gen, sur, images_u8, text_emb, bs: int = 100, seed: int = 7):
    """Mean symmetric InfoNCE (batches of bs, 8-bit quantised) of held-out pairs, clean and protected."""
    g = torch.Generator().manual_seed(seed)
    scale = sur.scale()
    bs = min(bs, len(images_u8))
    clean, prot = [], []
    for i in range(0, len(images_u8) // bs * bs, bs):
        x = to_tensor(images_u8[i: i + bs])
        et = text_emb[i: i + bs]
        d = gen(et, torch.randn(len(et), gen.latent_dim, generator=g))
        clean.append(info_nce(sur.image(x), et, scale).item())
        prot.append(info_nce(sur.image(((x + d).clamp(0, 1) * 255).round() / 255), et, scale).item())
    return float(np.mean(clean)), float(np.mean(prot))


@torch.no_grad()
def eval_protection(gen: Generator, sur: Surrogate, images_u8: np.ndarray, text_emb: torch.Tensor,
                    cap_of_img: np.ndarray, bs: int = 100, seed: int = 123, delta_fn=None) -> dict:
    """Contrastive loss and retrieval, clean vs protected, in surrogate space. Settings:
    'plain' (x + delta at R), 'scraper' (cyclic shift + random resized crop + real JPEG q75),
    'wrong_key' (x + delta, then the noise of the same caption under another key subtracted)."""
    import io
    from PIL import Image
    g = torch.Generator().manual_seed(seed)
    n = len(images_u8) // bs * bs
    cap = torch.from_numpy(cap_of_img)
    scale = sur.scale()
    res = {}
    deltas, wrong = [], []
    for i in range(0, n, bs):
        et = text_emb[cap[i: i + bs]]
        z = torch.randn(len(et), gen.latent_dim, generator=g)
        z2 = torch.randn(len(et), gen.latent_dim, generator=g)          # an attacker's guessed key
        fn = gen if delta_fn is None else delta_fn
        deltas.append(fn(et, z))
        wrong.append(fn(et, z2))
    delta, delta_wrong = torch.cat(deltas), torch.cat(wrong)
    x = to_tensor(images_u8[:n])

    def jpeg(t, q=75):
        out = []
        for im in (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy():
            b = io.BytesIO()
            Image.fromarray(im).save(b, "JPEG", quality=q)
            out.append(np.asarray(Image.open(b).convert("RGB")))
        return to_tensor(np.stack(out))

    def quant(t):
        return (t.clamp(0, 1) * 255).round() / 255

    variants = {
        "plain": (lambda d: quant(x + d)),
        "scraper": (lambda d: jpeg(augment.random_resized_crop(quant(x + augment.random_roll(d, g)), gen=g))),
        # regeneration attack: the attacker has the app and the caption, guesses a key and subtracts that noise
        "wrong_key": (lambda d: quant(quant(x + d) - (delta_wrong if d is delta else 0.0))),
    }
    for name, make in variants.items():
        for kind in ("clean", "protected"):
            g.manual_seed(seed + 1)
            xi = make(torch.zeros_like(delta) if kind == "clean" else delta)
            losses, ei_all = [], []
            for i in range(0, n, bs):
                ei = sur.image(xi[i: i + bs])
                ei_all.append(ei)
                losses.append(info_nce(ei, text_emb[cap[i: i + bs]], scale, cap[i: i + bs]).item())
            ei_all = torch.cat(ei_all)
            et_all = text_emb[cap[:n]]
            r = retrieval(ei_all, et_all)
            res[f"{name}_{kind}"] = {"infonce_batch%d" % bs: round(float(np.mean(losses)), 4),
                                     "pos_cosine": round(float((ei_all * et_all).sum(1).mean()), 4),
                                     "i2t_R@1": r["i2t_R@1"], "t2i_R@1": r["t2i_R@1"]}
    res["delta_linf_255"] = round(float(delta.abs().max() * 255), 3)
    res["delta_mean_abs_255"] = round(float(delta.abs().mean() * 255), 3)
    res["n"] = n
    return res
