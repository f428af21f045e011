"""Choose among trained generators with a held-out hacker (a selection proxy, not the efficacy measurement).

    python -m t2ue_models.select --out DIR --candidates NAME=PATH[,NAME=PATH ...] [--clean]
                                 [--n-train 3000] [--n-test 1000] [--steps 260] [--hacker-seeds 0,1]
                                 [--rms-cap-levels 4.2] [--threads 2]

Why: trainings of one generator recipe that differ only in their seed protect very differently (the classifier
hacker of the efficacy run reaches ~40 to ~61 %, docs/efficacy.md "Generator training seeds"), and nothing
measured in surrogate space tells the good draws apart. So a draw has to be chosen by a hacker, and choosing
by the efficacy hackers on their own data would turn the final measurement into a tuned one. This proxy
keeps both apart:

* Data: `data.build_fmnist_heldout`, Fashion-MNIST images from the training file that `fmnist_train` does not
  hold (the efficacy hackers train on `fmnist_train` and test on the t10k file, which this never reads);
  captions from the same templates, drawn afresh. The generator trains on `fmnist_train`'s images and captions,
  so the proxy's captions are ones it has seen, as the efficacy run's are.
* Hacker: `ProxyNet`, a plain convolutional net (no residual connections, max pooling) defined here and unlike
  t2ue_eval's ResNet classifier, trained from scratch for a fixed step count with its own augmentation
  (random shifts of up to 4 px and horizontal flips).
* Key: its own fixed key (`SELECT_KEY`), neither ablate's nor the efficacy run's.

PATH is a generator state dict (`.pt`: run in PyTorch with the run directory's surrogate, under the energy cap
--rms-cap-levels, z = KDF(key, caption) as the bundle contract) or a bundle directory (its text encoder and
generator graphs in onnxruntime, z by the bundle's latent rule: what ships). `--clean` adds the unprotected
reference. Lower proxy accuracy = better protection. DIR/select.json is rewritten after every candidate; a
candidate already measured there with the same path and settings is not measured again.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import data as D
from . import noise_bounds as NB
from .ablate import psnr, save_json
from .cli_args import int_list

SELECT_KEY = bytes(range(100, 132))


class ProxyNet(nn.Module):
    """Plain conv net for 64 px RGB: 5x5 stride-2 stem, three conv-BN-ReLU + 2x2 max-pool stages, global
    average pool, linear. Deliberately not t2ue_eval's ResNet (no residual paths, no attention pooling)."""

    def __init__(self, n_classes: int = 10, widths=(32, 64, 128, 256)):
        super().__init__()
        layers, cin = [nn.Conv2d(3, widths[0], 5, 2, 2, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()], widths[0]
        for w in widths[1:]:
            layers += [nn.Conv2d(cin, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
            cin = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(cin, n_classes)

    def forward(self, x_u8: torch.Tensor) -> torch.Tensor:
        x = x_u8.float() / 255.0 - 0.5
        return self.head(self.body(x).mean((2, 3)))


def _augment(x: torch.Tensor, g: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random shift (zero padding, per image) and horizontal flip of a uint8 NCHW batch."""
    n, _, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    off = torch.randint(0, 2 * pad + 1, (n, 2), generator=g)
    out = torch.stack([xp[i, :, off[i, 0]:off[i, 0] + h, off[i, 1]:off[i, 1] + w] for i in range(n)])
    flip = torch.rand(n, generator=g) < 0.5
    out[flip] = out[flip].flip(-1)
    return out


@torch.no_grad()
def _accuracy(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    model.eval()
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    pred = torch.cat([model(x[i:i + 256]).argmax(-1) for i in range(0, len(x), 256)]).numpy()
    return float((pred == labels).mean())


def train_proxy(train: dict, test: dict, steps: int = 260, seed: int = 0, batch: int = 128, lr: float = 2e-3,
                wd: float = 0.05, n_classes: int = 10, log=None) -> dict:
    """ProxyNet from scratch on train["images"] (uint8 NHWC) / train["labels"]; accuracy on test and on up to 500
    training images (how well it fitted what it saw). AdamW, linear warm-up over 10 % of the steps, cosine decay."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = ProxyNet(n_classes)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm))))
    x = torch.from_numpy(train["images"]).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(np.asarray(train["labels"], np.int64))
    B, order, pos, t0, losses = min(batch, len(x)), torch.randperm(len(x), generator=g), 0, time.time(), []
    for _ in range(steps):
        if pos + B > len(x):
            order, pos = torch.randperm(len(x), generator=g), 0
        idx = order[pos:pos + B]
        pos += B
        model.train()
        loss = F.cross_entropy(model(_augment(x[idx], g)), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log and (len(losses) % 65 == 0 or len(losses) == steps):
            log(f"step {len(losses)}/{steps} loss {np.mean(losses[-65:]):.3f} ({time.time() - t0:.0f}s)")
    n_fit = min(500, len(x))
    return {"test_acc": _accuracy(model, test["images"], np.asarray(test["labels"])),
            "train_acc": _accuracy(model, train["images"][:n_fit], np.asarray(train["labels"][:n_fit])),
            "final_loss": float(np.mean(losses[-20:])) if losses else None, "seconds": round(time.time() - t0, 1)}


def protect_with(path: Path, images: np.ndarray, captions: list[str], R: int, cap_levels: float) -> np.ndarray:
    """images (uint8 NHWC) protected, caption by caption, by a generator state dict (PyTorch, as ablate does) or a
    bundle directory (onnxruntime, as noise_bounds' `bundle` variant does), with SELECT_KEY; 8-bit rounded."""
    if path.is_dir():
        nz = NB.Noises(R, cap_levels, bundle=path)
        nz.key = SELECT_KEY
        return NB.protect(images, nz.bundle_noise("bundle", captions))
    from .ablate import protect_split
    from .nets import EMBED_DIM, EPSILON, LATENT_DIM, Generator
    from .paths import runs_dir
    from .pipeline import load_surrogate
    from .text import Tokenizer
    rd = runs_dir() / f"clipart-mnv2-minilm-r{R}"
    if not (rd / "surrogate.pt").is_file():
        raise FileNotFoundError(f"a .pt candidate runs with the pipeline's surrogate, and {rd / 'surrogate.pt'} is "
                                "missing: run models/scripts/pipeline.sh first, or pass a bundle directory")
    gen = Generator(EMBED_DIM, LATENT_DIM, R, EPSILON, rms_cap=cap_levels / 255.0)
    sd = torch.load(path, weights_only=True)
    sd["rms_cap"] = torch.tensor(cap_levels / 255.0)
    gen.load_state_dict(sd)
    sur, tok = load_surrogate(rd), Tokenizer()
    return protect_split(gen.eval(), sur, tok, {"images": images, "captions": np.array(captions)}, SELECT_KEY)


def parse_candidates(spec: str) -> list[tuple[str, Path]]:
    """"a=x.pt,b=bundles/y" -> [(name, path)]; ValueError on a malformed entry, a repeated name or a missing path."""
    out, seen = [], set()
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, sep, p = item.partition("=")
        name, p = name.strip(), p.strip()
        if not sep or not name or not p:
            raise ValueError(f"a candidate is NAME=PATH, not {item!r}")
        if name in seen or name == "clean":
            raise ValueError(f"candidate name {name!r} is repeated or reserved")
        path = Path(p).expanduser()
        if not (path.is_file() or (path / "manifest.json").is_file()):
            raise ValueError(f"candidate {name}: {path} is neither a generator state dict nor a bundle directory")
        seen.add(name)
        out.append((name, path))
    return out


def _stamp(path: Path | None) -> str | None:
    """What identifies a candidate's content for the cache: a state dict's mtime and size, a bundle's manifest hash
    (the manifest lists every file's SHA-256)."""
    if path is None:
        return None
    if path.is_dir():
        return "manifest-sha256:" + hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    st = path.stat()
    return f"mtime:{st.st_mtime_ns} size:{st.st_size}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--candidates", default="", help="NAME=PATH, comma-separated (PATH: generator .pt or bundle dir)")
    ap.add_argument("--clean", action="store_true", help="also measure the unprotected reference")
    ap.add_argument("--n-train", type=int, default=3000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=260)
    ap.add_argument("--hacker-seeds", default="0,1")
    ap.add_argument("--rms-cap-levels", type=float, default=4.2, help="energy cap for .pt candidates (8-bit levels)")
    ap.add_argument("--R", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    try:
        cands = parse_candidates(a.candidates)
    except ValueError as e:
        ap.error(str(e))
    try:
        hseeds = int_list(a.hacker_seeds, "--hacker-seeds")
    except ValueError as e:
        ap.error(str(e))
    if not (cands or a.clean):
        ap.error("nothing to measure: give --candidates and/or --clean")
    if a.n_train < 1 or a.n_test < 1 or a.steps < 1:
        ap.error("--n-train, --n-test and --steps must be positive")
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    f = out / "select.json"
    settings = {"n_train": a.n_train, "n_test": a.n_test, "steps": a.steps, "hacker_seeds": hseeds,
                "rms_cap_levels": a.rms_cap_levels, "R": a.R, "key": SELECT_KEY.hex()}
    try:
        res = json.loads(f.read_text()) if f.exists() else {}
    except json.JSONDecodeError:
        res = {"settings": "unreadable"}
    if res and res.get("settings") != settings:       # measured otherwise: kept aside, never mixed in
        f.replace(f.with_name("select.prev.json"))
        print(f"[select] {f} holds other settings (or is unreadable): moved to select.prev.json, starting afresh",
              flush=True)
    if res.get("settings") != settings:
        res = {"settings": settings, "candidates": {}}
    tr, te = D.build_fmnist_heldout(a.R, a.n_train, a.n_test)
    caps = [str(c) for c in tr["captions"]]
    todo = ([("clean", None)] if a.clean else []) + cands
    for name, path in todo:
        src = str(path.resolve()) if path else "clean"
        stamp = _stamp(path)
        old = res["candidates"].get(name)
        if old and old.get("path") == src and old.get("stamp") == stamp:
            print(f"[select] {name}: cached, proxy accuracy {old['acc_mean']:.4f}", flush=True)
            continue
        t0 = time.time()
        prot = tr["images"] if path is None else protect_with(path, tr["images"], caps, a.R, a.rms_cap_levels)
        runs = [train_proxy({"images": prot, "labels": tr["labels"]}, te, a.steps, seed=s,
                            log=lambda m, s=s: print(f"[select] {name} hacker seed {s}: {m}", flush=True))
                for s in hseeds]
        accs = [r["test_acc"] for r in runs]
        res["candidates"][name] = {
            "path": src, "stamp": stamp, "kind": "clean" if path is None else ("bundle" if path.is_dir() else "pt"),
            "psnr_db": round(psnr(tr["images"], prot), 2),
            "acc_per_seed": accs, "acc_mean": float(np.mean(accs)),
            "train_acc_mean": float(np.mean([r["train_acc"] for r in runs])), "seconds": round(time.time() - t0, 1)}
        save_json(f, res)
        print(f"[select] {name}: proxy accuracy {np.mean(accs):.4f} (per seed {accs}) "
              f"({time.time() - t0:.0f}s)", flush=True)
    ranked = sorted(((v["acc_mean"], k) for k, v in res["candidates"].items() if k != "clean"))
    res["ranking"] = [k for _, k in ranked]
    save_json(f, res)
    print("[select] lowest proxy accuracy first (best protection):")
    for acc, k in ranked:
        print(f"  {k:<24} {acc * 100:6.1f} %")
    if "clean" in res["candidates"]:
        print(f"  {'(clean reference)':<24} {res['candidates']['clean']['acc_mean'] * 100:6.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
