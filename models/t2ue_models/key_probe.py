"""Does the secret key change the noise? A probe of the committed default bundle, and of one structural fix.

    python -m t2ue_models.key_probe [--n 300] [--classifier] [--report models/reports/key-probe/REPORT.md]

The contract (../shared/DESIGN.md, docs/bundle-format.md) says "same key + caption -> bit-identical delta; other
key -> unrelated delta", and the README says a key stops anyone who has the (public) generator from regenerating
and subtracting a photo's noise. This probe measures whether the shipped graphs honour that, with the bundle's
own graphs in onnxruntime (`noise_bounds.Noises.bundle_noise`, which reproduces the bundle's golden vectors):

* key sensitivity: cosine between the noise of one caption under two random keys, and the relative size of
  their difference, over --n clip-art training captions (for scale: the cosine between two captions' noises);
* the wrong-key regeneration attack in noise space: RMS (8-bit levels) of what is left of the noise after
  subtracting the noise regenerated with a guessed key (the right caption), against the unattacked RMS;
* a key-derived +-1 block mask (`bundle-mask<B>`: the noise times one mask per key) as a structural way to make
  the key matter, and how many protected photos of one user an attacker who knows the generator needs to
  estimate that mask (sign of the summed high-pass correlation of the photos with the key-free noise);
* with --classifier: the Fashion-MNIST classifier of the noise-bounds study trained on training sets protected
  with the bundle under each z rule (KDF of key + caption, key only, z = 0) and with the masks (cached cells of
  `noise_bounds`, ~2 min each on 2 cores).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from . import noise_bounds as NB
from .paths import cache_dir, data_dir

MASK_BLOCKS = (1, 8)
ATTACK_N = (1, 2, 5, 20, 50)
CLASSIFIER_VARIANTS = ("clean", "bundle", "bundle-keyz", "bundle-z0") + tuple(f"bundle-mask{b}" for b in MASK_BLOCKS)


def _cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1)


def _rms_levels(t: torch.Tensor) -> float:
    return round(float(t.pow(2).mean().sqrt() * 255), 3)


def key_sensitivity(noises: NB.Noises, captions: list[str], variant: str = "bundle", seed: int = 0) -> dict:
    """Noise of the same captions under two keys: how alike, and what a guessed-key subtraction leaves."""
    rng = np.random.default_rng(seed)
    k1, k2 = rng.bytes(32), rng.bytes(32)
    noises.key = k1
    d1 = noises(variant, 4.2, captions, None)
    noises.key = k2
    d2 = noises(variant, 4.2, captions, None)
    noises.key = NB.KEY
    c = _cos(d1, d2)
    perm = torch.roll(torch.arange(len(captions)), 1)
    return {"variant": variant, "captions": len(captions),
            "cos_two_keys_mean": round(float(c.mean()), 4), "cos_two_keys_min": round(float(c.min()), 4),
            "rel_diff_two_keys": round(float(((d1 - d2).flatten(1).norm(dim=1) / d1.flatten(1).norm(dim=1)).mean()), 4),
            "cos_two_captions_mean": round(float(_cos(d1, d1[perm]).mean()), 4),
            "noise_rms_levels": _rms_levels(d1),
            "wrong_key_residual_rms_levels": _rms_levels(d1 - d2)}


def _highpass(t: torch.Tensor) -> torch.Tensor:
    return t - F.avg_pool2d(F.pad(t, (1, 1, 1, 1), mode="replicate"), 3, 1)


def mask_attack(noises: NB.Noises, images_u8: np.ndarray, captions: list[str], block: int, ns=ATTACK_N,
                seed: int = 0) -> list[dict]:
    """The attacker knows the generator and the captions, not the key: it computes the key-free noise d0 and
    estimates the mask sign of every block from N protected photos of one user (sign of the summed high-pass
    correlation). Returns the share of mask signs it gets right for each N."""
    noises.key = np.random.default_rng(seed).bytes(32)
    m = NB.key_mask(noises.key, block, noises.R)
    d0 = noises("bundle", 4.2, captions, None)
    noises.key = NB.KEY
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).float() / 255.0
    y = torch.clamp(torch.round((x + d0 * m) * 255.0) / 255.0, 0, 1)
    out = []
    for n in ns:
        if n > len(captions):
            break
        corr = (_highpass(y[:n]) * _highpass(d0[:n])).sum(0, keepdim=True)
        est = F.interpolate(torch.sign(F.avg_pool2d(corr, block)), scale_factor=block, mode="nearest")
        out.append({"block": block, "photos": n, "mask_signs_right_pct": round(float((est[0] == m).float().mean()) * 100, 1)})
    return out


def classifier_cells(variants, steps: int, threads: int) -> list[dict]:
    """The noise-bounds classifier on Fashion-MNIST for each variant (cached with noise_bounds' cells)."""
    out_dir = cache_dir() / "noise-bounds"
    out_dir.mkdir(parents=True, exist_ok=True)
    noises, rows = NB.Noises(64, 4.2), []
    for v in variants:
        f = out_dir / f"{v}@4.2-fmnist-{steps}.json"
        if f.exists():
            r = json.loads(f.read_text())
        else:
            print(f"[key-probe] classifier on Fashion-MNIST protected with {v} ({steps} steps) ...", flush=True)
            r = NB.run_one(noises, v, 4.2, "fmnist", steps, threads)
            f.write_text(json.dumps(r, indent=1))
        rows.append(r)
    return rows


def write_report(path: Path, sens: list[dict], attack: list[dict], cls: list[dict], args: dict) -> None:
    L = ["# Does the key change the noise? (committed default bundle, onnxruntime)", "",
         f"Regenerate: `python -m t2ue_models.key_probe --n {args['n']}{' --classifier' if cls else ''}` (from `models/`, "
         "the project venv). Noise of clip-art training captions (RMS-capped at 4.2 levels); keys drawn at random; "
         "`bundle-mask<B>` = the bundle's noise times a key-derived +-1 mask on BxB blocks (an experiment, not shipped).", "",
         "## Key sensitivity and the guessed-key subtraction", "",
         "| noise | captions | cos, same caption, two keys (mean / min) | rel. difference | cos, two captions, same key | "
         "noise RMS (levels) | left after guessed-key subtraction (RMS levels) |",
         "|---|---|---|---|---|---|---|"]
    for s in sens:
        L.append(f"| {s['variant']} | {s['captions']} | {s['cos_two_keys_mean']:.3f} / {s['cos_two_keys_min']:.3f} | "
                 f"{s['rel_diff_two_keys']:.3f} | {s['cos_two_captions_mean']:.3f} | {s['noise_rms_levels']:.2f} | "
                 f"{s['wrong_key_residual_rms_levels']:.2f} |")
    L += ["", "## Estimating a per-user key mask from protected photos (attacker knows the generator)", "",
          "| mask block | photos of the user | mask signs estimated right % |", "|---|---|---|"]
    L += [f"| {a['block']} | {a['photos']} | {a['mask_signs_right_pct']:.1f} |" for a in attack]
    if cls:
        L += ["", "## Fashion-MNIST classifier trained on protected images (noise-bounds hacker, one seed)", "",
              "| noise | test accuracy % (train) | noise cos same / different label | PSNR dB |", "|---|---|---|---|"]
        for r in cls:
            cos = " / ".join(map(str, r["noise_cos_same_diff_label"])) if r["delta_rms_levels"] else "—"
            ps = "∞" if not r["delta_rms_levels"] else f"{r['psnr_db']:.2f}"
            L.append(f"| {r['variant']} | {r['accuracy']:.1f} ({r['train_accuracy']:.1f}) | {cos} | {ps} |")
        L += ["", f"Random guessing {cls[0].get('random_accuracy')} %; target (issue 5) <= 20 %."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(L) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=300, help="clip-art training captions / photos to probe")
    ap.add_argument("--classifier", action="store_true", help="also train the Fashion-MNIST classifier cells")
    ap.add_argument("--cls-steps", type=int, default=260)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=None, help="directory of the dataset .npz files (default: build them)")
    ap.add_argument("--report", default=str(Path(__file__).resolve().parents[1] / "reports" / "key-probe" / "REPORT.md"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    ddir = Path(a.data_dir) if a.data_dir else (data_dir() / "r64" if (data_dir() / "r64" / "DONE.json").exists()
                                                 else D.build_all(64))
    tr = D.load(ddir / "clipart_train.npz")
    idx = np.random.default_rng(0).permutation(len(tr["captions"]))[:a.n]
    caps = [str(tr["captions"][i]) for i in idx]
    noises = NB.Noises(64, 4.2)
    sens = [key_sensitivity(noises, caps, v) for v in ("bundle",) + tuple(f"bundle-mask{b}" for b in MASK_BLOCKS)]
    attack = [r for b in MASK_BLOCKS for r in mask_attack(noises, tr["images"][idx], caps, b)]
    for r in sens + attack:
        print(f"[key-probe] {json.dumps(r)}", flush=True)
    cls = classifier_cells(CLASSIFIER_VARIANTS, a.cls_steps, a.threads) if a.classifier else []
    write_report(Path(a.report), sens, attack, cls, vars(a))
    print(f"[key-probe] wrote {a.report}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
