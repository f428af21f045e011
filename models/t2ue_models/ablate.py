"""Quick ablation of a generator variant against small hackers trained from scratch (minutes, CPU).

    python -m t2ue_models.ablate --out DIR [--steps 1500] [--learner-weight 1] [--rms-cap-levels 4.2]
                                 [--init generator.pt] [--cls-steps 300] [--clip-steps 400] [--basis-res 8]
                                 [--p-gray 0.3] [--luma-only] [--p-para 0.5] [--p-chshuffle 0.5]
                                 [--pre gray,jpeg75] [--aug ueraser,std+flip+chshuffle]
                                 [--seed 2 --steps 5500 --stop-after 5022] [--save-at 4000,4500]
                                 [--hacker-seeds 0,1,2]

Trains (or loads, with --steps 0 --init FILE) a generator with the given objective, protects the
Fashion-MNIST and clip-art training splits in Python exactly as the shipped path does at the bundle's
resolution (z from the key and the caption by the KDF, 8-bit rounding), and trains the t2ue_eval hackers
(fixed step counts, not time budgets, so two variants are compared on equal terms on a shared machine):
the Fashion-MNIST classifier and CLIP A. `--pre` also trains each hacker on the protected split after each
listed scraper transform (t2ue_eval.transforms; grayscale is applied to the test split too), so a variant's
robustness is measured beside its plain figure; `--aug` likewise trains each hacker once more with each listed
training augmentation in place of its default one (t2ue_eval.transforms.BatchAug, `+` joins names: the adaptive
attacker, e.g. `ueraser`). `--seed` draws the generator's initialisation and training from another seed (the
spread of one recipe), `--hacker-seeds` trains every hacker once per seed. This is a proxy for choosing the
objective; the efficacy report (t2ue_models.efficacy) measures the exported bundle through the Rust CLI.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from . import augment
from . import data as D
from . import train as T
from .cli_args import int_list
from .kdf import latent_z
from .nets import EMBED_DIM, EPSILON, LATENT_DIM, Generator, Learner
from .paths import data_dir, runs_dir
from .pipeline import generator_data, load_surrogate, log
from .text import Tokenizer


@torch.no_grad()
def protect_split(gen, sur, tok, d: dict, key: bytes, z_rule: str = "caption") -> np.ndarray:
    """z_rule "caption": z = KDF(key, caption), the bundle contract; "key": z = KDF(key, "") for every
    caption (one latent per key: the noise depends on the caption only through e_t)."""
    caps = [str(c) for c in d["captions"]]
    uniq = sorted(set(caps))
    et = T.text_embeddings(sur, tok, uniq)
    z = torch.from_numpy(np.stack([latent_z(key, c if z_rule == "caption" else "", gen.latent_dim) for c in uniq]))
    delta = torch.cat([gen(et[i:i + 256], z[i:i + 256]) for i in range(0, len(uniq), 256)])
    row = {c: i for i, c in enumerate(uniq)}
    idx = torch.tensor([row[c] for c in caps])
    x = d["images"].astype(np.float32) + (delta[idx].permute(0, 2, 3, 1).numpy() * 255.0)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


@torch.no_grad()
def key_cosine(gen, sur, tok, d: dict, n: int = 300) -> float:
    """Mean cosine between the noises of one caption under two keys (1 = the key changes nothing)."""
    caps = sorted(set(str(c) for c in d["captions"]))[:n]
    et = T.text_embeddings(sur, tok, caps)
    z1, z2 = (torch.from_numpy(np.stack([latent_z(k, c, gen.latent_dim) for c in caps])) for k in (b"\x01" * 32, b"\x02" * 32))
    return round(float(torch.nn.functional.cosine_similarity(gen(et, z1).flatten(1), gen(et, z2).flatten(1), dim=1).mean()), 4)


@torch.no_grad()
def luma_share(gen, sur, tok, d: dict, n: int = 300) -> float:
    """Share of the noise's energy that survives a grayscale conversion: 3 * E[L^2] / E[|delta|^2] with L the
    ITU-R 601 luma of delta (1 = equal on R, G and B; ~0.45 for independent channels; 0 = pure chroma)."""
    caps = sorted(set(str(c) for c in d["captions"]))[:n]
    et = T.text_embeddings(sur, tok, caps)
    z = torch.from_numpy(np.stack([latent_z(b"\x01" * 32, c, gen.latent_dim) for c in caps]))
    delta = gen(et, z)
    return round(float(augment.grayscale(delta).pow(2).sum() / delta.pow(2).sum()), 4)


@torch.no_grad()
def label_cos(gen, sur, tok, d: dict, key: bytes, z_rule: str = "caption", n: int = 2000) -> list[float]:
    """Mean cosine of the 8x8-pooled noise between Fashion-MNIST images of the same label and of different labels
    (noise_bounds.label_consistency) over the first n images: how class-consistent caption-made noise is."""
    from .noise_bounds import label_consistency
    caps = [str(c) for c in d["captions"][:n]]
    et = T.text_embeddings(sur, tok, caps)
    z = torch.from_numpy(np.stack([latent_z(key, c if z_rule == "caption" else "", gen.latent_dim) for c in caps]))
    return label_consistency(torch.cat([gen(et[i:i + 256], z[i:i + 256]) for i in range(0, len(caps), 256)]),
                             d["labels"][:n])


def apply_pre(images: np.ndarray, spec: str) -> np.ndarray:
    """The hacker-side transform `spec` (t2ue_eval.transforms) on every image of a uint8 NHWC array."""
    from PIL import Image

    from t2ue_eval.transforms import pre_transform
    f = pre_transform(spec)
    return np.stack([np.asarray(f(Image.fromarray(im)).convert("RGB")) for im in images])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    return float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-12))))


def seed_means(cell: dict[str, list]) -> dict:
    """Per-hacker-seed results of one cell -> result keys: one seed gives its value unchanged (older runs read the
    same), several give the mean (element-wise for [I2T, T2I] pairs) and keep the values under <key>_per_seed."""
    out = {}
    for k, vs in cell.items():
        if len(vs) == 1:
            out[k] = vs[0]
        else:
            out[k] = np.round(np.mean(vs, axis=0), 2).tolist()
            out[f"{k}_per_seed"] = vs
    return out


def _save_generator(gen, f: Path) -> None:
    tmp = f.with_name(f.name + ".part")      # a killed run leaves no half-written checkpoint behind
    torch.save(gen.state_dict(), tmp)
    tmp.replace(f)


def save_json(f: Path, res: dict) -> None:
    """Write res to f through a temporary file, so a stopped run never leaves a half-written file."""
    tmp = f.with_suffix(".json.part")
    tmp.write_text(json.dumps(res, indent=1))
    tmp.replace(f)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--init", default=None, help="start from this generator state dict")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--learner-weight", type=float, default=0.0)
    ap.add_argument("--surrogate-weight", type=float, default=1.0)
    ap.add_argument("--learner-reset", type=int, default=400)
    ap.add_argument("--learner-clusters", type=int, default=0, help="cluster mode with k clusters (0: contrastive)")
    ap.add_argument("--learner-lr", type=float, default=2e-3)
    ap.add_argument("--rms-cap-levels", type=float, default=0.0, help="RMS cap of delta in 8-bit levels (0 = off)")
    ap.add_argument("--p-crop", type=float, default=0.15)
    ap.add_argument("--p-jpeg", type=float, default=0.15)
    ap.add_argument("--synth", type=float, default=0.5)
    ap.add_argument("--z-div", type=float, default=0.0,
                    help="weight of the latent-diversity term (two latents per target; 0 = off, the shipped recipe)")
    ap.add_argument("--cls-steps", type=int, default=300)
    ap.add_argument("--clip-steps", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--R", type=int, default=64)
    ap.add_argument("--basis-res", type=int, default=0, help="resolution of the linear path's patterns (0 = R; lower is upsampled)")
    ap.add_argument("--basis-std", type=float, default=0.0, help="re-draw the linear basis with this std (probe)")
    ap.add_argument("--only", default="fmnist,clipart")
    ap.add_argument("--z-rule", choices=("caption", "key"), default="caption",
                    help="latent at protection time: KDF of key + caption (the contract) or of the key alone")
    ap.add_argument("--clean", action="store_true", help="reference: hackers on the clean splits")
    ap.add_argument("--p-gray", type=float, default=0.0, help="share of training steps the scraper model turns gray")
    ap.add_argument("--luma-only", action="store_true", help="probe: the same noise on R, G and B")
    ap.add_argument("--p-para", type=float, default=0.0,
                    help="share of targets whose generator input is a rewording (data.GENERIC_TEMPLATES) of the caption")
    ap.add_argument("--para-templates", type=int, default=8, help="how many of data.GENERIC_TEMPLATES to reword with")
    ap.add_argument("--pre", default="", help="also train each hacker after these transforms, comma-separated "
                                              "(jpeg<q>, resize<f>, blur<sigma>, gray); one run per transform")
    ap.add_argument("--aug", default="", help="also train each hacker with these training augmentations instead of "
                                              "its default, comma-separated, `+` joins names "
                                              "(ueraser,std+flip+chshuffle)")
    ap.add_argument("--p-chshuffle", type=float, default=0.0,
                    help="share of protected images whose colour channels the scraper model shuffles in training")
    ap.add_argument("--seed", type=int, default=1,
                    help="seed of the generator's initialisation and training draws (1: the shipped recipe's)")
    ap.add_argument("--stop-after", type=int, default=0,
                    help="stop training after this many steps of the --steps schedule (0 = run it all; the shipped "
                         "recipe is --steps 5500 --stop-after 5022)")
    ap.add_argument("--save-at", default="",
                    help="also keep the generator after these step counts, comma-separated, as generator-<step>.pt "
                         "(a within-run comparison, e.g. for t2ue_models.select)")
    ap.add_argument("--hacker-seeds", default="0",
                    help="train each hacker once per seed, comma-separated; each result is the mean over seeds, "
                         "the per-seed values are kept under <key>_per_seed")
    a = ap.parse_args(argv)
    from t2ue_eval.transforms import BatchAug, parse_pre
    pres = [""] + [p.strip() for p in a.pre.split(",") if p.strip()]
    augs = [g.strip() for g in a.aug.split(",") if g.strip()]
    try:                                # a misspelt transform fails now, not after the generator has trained
        for p in pres[1:]:
            parse_pre(p)
        for g in augs:
            BatchAug(g.replace("+", ","))
    except ValueError as e:
        ap.error(str(e))
    try:
        hseeds = int_list(a.hacker_seeds, "--hacker-seeds")
        save_at = set(int_list(a.save_at, "--save-at", minimum=1, required=False))
    except ValueError as e:
        ap.error(str(e))
    last = a.stop_after or a.steps
    if any(not 0 < s_ <= last for s_ in save_at):
        ap.error(f"--save-at step counts must lie in 1..{last} (--steps, or --stop-after when given)")
    if a.stop_after < 0 or (a.stop_after and a.stop_after > a.steps):
        ap.error(f"--stop-after {a.stop_after} must lie in 0..--steps ({a.steps})")
    runs = [(p, None) for p in pres] + [("", g) for g in augs]
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ddir = data_dir() / f"r{a.R}"
    rd = runs_dir() / f"clipart-mnv2-minilm-r{a.R}"
    sur, tok = load_surrogate(rd), Tokenizer()
    torch.manual_seed(a.seed)
    gen = Generator(EMBED_DIM, LATENT_DIM, a.R, EPSILON, rms_cap=a.rms_cap_levels / 255.0, basis_res=a.basis_res or None,
                    luma_only=a.luma_only)
    if a.basis_std:
        with torch.no_grad():
            gen.basis.normal_(0, a.basis_std, generator=torch.Generator().manual_seed(5))
    if a.init:
        sd = torch.load(a.init, weights_only=True)
        sd["rms_cap"] = torch.tensor(a.rms_cap_levels / 255.0)
        gen.load_state_dict(sd)
    res = {"args": vars(a), "hacker_seeds": hseeds}
    if a.steps:
        carriers, caps, weights, val = generator_data(ddir)
        et = T.text_embeddings(sur, tok, caps)
        var = None
        if a.p_para:
            tm = D.GENERIC_TEMPLATES[:a.para_templates]
            log(f"[ablate] embedding {len(caps)} captions x {len(tm)} rewordings ...")
            var = T.text_embeddings(sur, tok, [t.format(c) for c in caps for t in tm], trim=True).view(len(caps), len(tm), -1)
        heldout = (val["images"], T.text_embeddings(sur, tok, list(val["captions"])))
        learner = Learner(n_classes=a.learner_clusters) if a.learner_weight > 0 else None
        res["train"] = T.train_generator(
            gen, sur, carriers, et, steps=a.steps, bs=64, lr=a.lr, seed=a.seed, log=log, target_weights=weights,
            p_synth=a.synth, heldout=heldout, p_crop=a.p_crop, p_jpeg=a.p_jpeg, learner=learner,
            learner_weight=a.learner_weight, learner_reset=a.learner_reset, learner_lr=a.learner_lr, surrogate_weight=a.surrogate_weight,
            eval_every=250, z_div_weight=a.z_div, p_gray=a.p_gray, variant_emb=var, p_para=a.p_para,
            p_chshuffle=a.p_chshuffle, stop_after=a.stop_after or None,
            on_step=lambda n, g: _save_generator(g, out / f"generator-{n}.pt") if n in save_at else None)
        _save_generator(gen, out / "generator.pt")
        save_json(out / "ablate.json", res)
    gen.eval()
    from t2ue_eval.hackers import train_classifier, train_clip
    from t2ue_eval.splits import Split
    key = bytes(range(32))
    res["key_cos"] = key_cosine(gen, sur, tok, D.load(ddir / "clipart_train.npz"))
    log(f"[ablate] one caption under two keys, cosine of the noises: {res['key_cos']}")
    res["luma_share"] = luma_share(gen, sur, tok, D.load(ddir / "fmnist_train.npz"))
    log(f"[ablate] share of the noise's energy a grayscale conversion keeps (Fashion-MNIST captions): {res['luma_share']}")
    from t2ue_eval.transforms import DOMAIN_PRE
    for name, steps in (("fmnist", a.cls_steps), ("clipart", a.clip_steps)):
        if name not in a.only.split(","):
            continue
        tr, te = D.load(ddir / f"{name}_train.npz"), D.load(ddir / f"{name}_test.npz")
        prot = tr["images"] if a.clean else protect_split(gen, sur, tok, tr, key, a.z_rule)
        res[f"{name}_psnr_db"] = round(psnr(tr["images"], prot), 2)
        if name == "fmnist" and not a.clean:
            res["fmnist_noise_cos_same_diff_label"] = label_cos(gen, sur, tok, tr, key, a.z_rule)
        labels = (lambda d: d["labels"] if d["labels"][0] >= 0 else None)
        for p, g in runs:
            # result keys: fmnist_cls_acc, fmnist_cls_acc@gray, fmnist_cls_acc@aug=ueraser, ...
            sfx = f"@{p}" if p else f"@aug={g}" if g else ""
            kw = {"aug": g.replace("+", ",")} if g else {}
            domain = p and all(k in DOMAIN_PRE for k, _ in parse_pre(p))
            s_tr = Split(apply_pre(prot, p) if p else prot, [str(c) for c in tr["captions"]], [], labels(tr))
            s_te = Split(apply_pre(te["images"], p) if domain else te["images"], [str(c) for c in te["captions"]], [],
                         labels(te))
            t0 = time.time()
            cell = {}
            for hs in hseeds:
                if name == "fmnist":
                    r = train_classifier(s_tr, s_te, steps=steps, threads=a.threads, log=lambda m: None, seed=hs, **kw)
                    got = {f"fmnist_cls_acc{sfx}": r["test"]["accuracy"],
                           f"fmnist_cls_train_acc{sfx}": r["train_subset"]["accuracy"]}
                else:
                    r = train_clip(s_tr, s_te, arch="A", steps=steps, threads=a.threads, log=lambda m: None, seed=hs,
                                   **kw)
                    t = r["test"]
                    got = {f"clipA_R10_i2t_t2i{sfx}": [t["i2t"]["R@10"], t["t2i"]["R@10"]],
                           f"clipA_train_R1_i2t{sfx}": r["train_subset"]["i2t"]["R@1"]}
                for k, v in got.items():
                    cell.setdefault(k, []).append(v)
            res.update(seed_means(cell))
            log(f"[ablate] {name}{sfx}: {json.dumps({k: v for k, v in res.items() if k.startswith(name) or k.startswith('clipA')})} "
                f"({time.time() - t0:.0f}s)")
            save_json(out / "ablate.json", res)      # after every cell: a run stopped later keeps what it measured
    save_json(out / "ablate.json", res)
    log(f"[ablate] {json.dumps({k: v for k, v in res.items() if k not in ('train',)})}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
