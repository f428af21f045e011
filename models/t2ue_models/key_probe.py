"""Does the secret key change the noise, and can an attacker get it back? A probe of a bundle (default: the
committed one).

    python -m t2ue_models.key_probe [--n 300] [--classifier] [--fit] [--bundle DIR]
                                    [--report models/reports/key-probe/REPORT.md]

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
* with --fit, the latent-fitting attack: the attacker has the generator (the bundle ships it; here the PyTorch
  checkpoint it was exported from, checked to match the bundle's graph) and the captions, not the key. It fits
  z to N protected photos of one user, min_z sum_i |HP(y_i - delta(e_i, z))|^2 (HP = 3x3 high-pass, Adam from
  several starts), then regenerates the noise of *other* photos of the same user with the fitted z. Reported:
  cosine of fitted to true noise and the RMS left after subtracting it, on the fitting photos and on 200
  held-out photos. Under the "key" latent rule one fitted z serves every photo of the key; under "key-caption"
  only the photos it was fitted on;
* with --classifier: the Fashion-MNIST classifier of the noise-bounds study trained on training sets protected
  with the bundle under each z rule (the bundle's own, KDF of key + caption, key only, z = 0) and, with --fit,
  on the training set after the latent-fitting attack (z fitted to 20 of its photos, the regenerated noise
  subtracted from all; cached cells of `noise_bounds`, ~2 min each on 2 cores).
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
CLASSIFIER_VARIANTS = ("clean", "bundle", "bundle-capz", "bundle-keyz", "bundle-z0")
FIT_N = (1, 5, 20)
FIT_HELDOUT = 200
FIT_CLASSIFIER_N = 20


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


def attacker_generator(noises: NB.Noises, captions: list[str]):
    """The PyTorch generator the bundle was exported from (the run directory's energy-capped checkpoint), or
    None with the reason when it is not this bundle's (its noise differs from the graph's by > 0.5 levels)."""
    from .pipeline import load_generator
    f = noises.rd / "generator-cap4.2.pt"
    if not f.exists():
        return None, f"no checkpoint {f}"
    gen = load_generator(noises.rd, noises.R, 4.2).eval()
    te, sg, tok, zd = noises._bundle()
    ids, mask = tok(captions[:8])
    et = te.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    z = np.random.default_rng(1).standard_normal((len(et), zd)).astype(np.float32)
    with torch.no_grad():
        d = float(np.abs(gen(torch.from_numpy(et), torch.from_numpy(z)).numpy() - sg.run(None, {"text_embedding": et, "z": z})[0]).max())
    if d * 255 > 0.5:
        return None, f"{f} is not the bundle's generator (noise differs by {d * 255:.2f} levels)"
    return gen, None


def fit_latent(gen, et: torch.Tensor, y: torch.Tensor, starts: int = 4, iters: int = 250, seed: int = 0) -> torch.Tensor:
    """The attacker's z: least squares between the high-passed protected photos and the high-passed noise."""
    g = torch.Generator().manual_seed(seed)
    hy = _highpass(y)
    best, best_loss = None, float("inf")
    for s in range(starts):
        z = (torch.zeros(1, gen.latent_dim) if s == 0 else torch.randn(1, gen.latent_dim, generator=g)).requires_grad_(True)
        opt = torch.optim.Adam([z], lr=0.05)
        for _ in range(iters):
            loss = (hy - _highpass(gen(et, z.expand(len(et), -1)))).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if loss.item() < best_loss:
            best, best_loss = z.detach().clone(), loss.item()
    return best


def latent_fit_attack(noises: NB.Noises, gen, images_u8: np.ndarray, captions: list[str], ns=FIT_N,
                      heldout: int = FIT_HELDOUT, seed: int = 0) -> list[dict]:
    """Fit z to the first N protected photos of one user (one random key), then regenerate and subtract the
    noise of those photos and of `heldout` others of the same user (captions the fit never saw)."""
    noises.key = np.random.default_rng(seed + 1).bytes(32)
    true = noises("bundle", 4.2, captions, None)
    noises.key = NB.KEY
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).float() / 255.0
    y = torch.clamp(torch.round((x + true) * 255.0) / 255.0, 0, 1)
    te, _, tok, _ = noises._bundle()
    ids, mask = tok(captions)
    et = torch.from_numpy(te.run(None, {"input_ids": ids, "attention_mask": mask})[0])
    ho = slice(len(captions) - heldout, len(captions))
    out = []
    for n in ns:
        z = fit_latent(gen, et[:n], y[:n], seed=seed)
        with torch.no_grad():
            fitted = gen(et, z.expand(len(et), -1))
        row = {"photos": n, "latent_rule": noises.latent_rule}
        for name, sl in (("fit", slice(0, n)), ("heldout", ho)):
            row[f"{name}_cos"] = round(float(_cos(fitted[sl], true[sl]).mean()), 4)
            row[f"{name}_residual_rms_levels"] = _rms_levels(true[sl] - fitted[sl])
        row["noise_rms_levels"] = _rms_levels(true[ho])
        out.append(row)
    return out


class FittedNoises(NB.Noises):
    """`bundle-fitz<N>`: the bundle's noise minus the noise regenerated with a z fitted to N of the protected
    photos (what the latent-fitting attacker leaves of the protection; applied in one 8-bit rounding)."""

    def __init__(self, base: NB.Noises, gen, images_u8: np.ndarray, all_captions: list[str]):
        super().__init__(base.R, base.cap * 255.0, base.bundle)
        self._gen_attack, self._images, self._all_caps = gen, images_u8, all_captions

    def __call__(self, variant, amp, captions, labels):
        if not (variant.startswith("bundle-fitz") and variant[len("bundle-fitz"):].isdigit()):
            return super().__call__(variant, amp, captions, labels)
        n = int(variant[len("bundle-fitz"):])
        true = self.bundle_noise("bundle", captions)
        pick = np.random.default_rng(3).choice(len(self._all_caps), n, replace=False)
        fcaps = [self._all_caps[i] for i in pick]
        row = {c: i for i, c in enumerate(captions)}
        x = torch.from_numpy(self._images[pick]).permute(0, 3, 1, 2).float() / 255.0
        y = torch.clamp(torch.round((x + true[[row[c] for c in fcaps]]) * 255.0) / 255.0, 0, 1)
        te, _, tok, _ = self._bundle()
        et_all = []
        for i in range(0, len(captions), 256):
            ids, mask = tok(captions[i:i + 256])
            et_all.append(torch.from_numpy(te.run(None, {"input_ids": ids, "attention_mask": mask})[0]))
        et_all = torch.cat(et_all)
        z = fit_latent(self._gen_attack, et_all[[row[c] for c in fcaps]], y)
        with torch.no_grad():
            fitted = torch.cat([self._gen_attack(et_all[i:i + 256], z.expand(len(et_all[i:i + 256]), -1))
                                for i in range(0, len(captions), 256)])
        return true - fitted


def classifier_cells(noises: NB.Noises, variants, steps: int, threads: int) -> list[dict]:
    """The noise-bounds classifier on Fashion-MNIST for each variant (cached with noise_bounds' cells)."""
    out_dir = cache_dir() / "noise-bounds"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for v in variants:
        f = noises.cell_file(out_dir, v, 4.2, "fmnist", steps)
        if f.exists():
            r = json.loads(f.read_text())
        else:
            print(f"[key-probe] classifier on Fashion-MNIST protected with {v} ({steps} steps) ...", flush=True)
            r = NB.run_one(noises, v, 4.2, "fmnist", steps, threads)
            f.write_text(json.dumps(r, indent=1))
        rows.append(r)
    return rows


def write_report(path: Path, bundle: dict, sens: list[dict], attack: list[dict], fit: list[dict] | str | None,
                 cls: list[dict], args: dict) -> None:
    flags = (" --classifier" if cls else "") + (" --fit" if fit is not None else "")
    L = [f"# Does the key change the noise? (bundle {bundle['name']} {bundle['version']}, latent rule "
         f"`{bundle['latent_rule']}`, onnxruntime)", "",
         f"Regenerate: `python -m t2ue_models.key_probe --n {args['n']}{flags}` (from `models/`, the project venv). "
         "Noise of clip-art training captions (RMS-capped at 4.2 levels); keys drawn at random; "
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
    if isinstance(fit, str):
        L += ["", "## Latent-fitting attack", "", f"Not run: {fit}."]
    elif fit:
        L += ["", "## Latent-fitting attack (attacker has the generator and the captions, not the key)", "",
              "z fitted to N protected photos of one user (least squares on 3x3 high-passed pixels, Adam, 4 starts x "
              f"250 steps); the noise regenerated with it compared with the true noise on the fitting photos and on "
              f"{FIT_HELDOUT} other photos of the same user. Noise RMS {fit[0]['noise_rms_levels']:.2f} levels; a "
              "guessed key leaves the RMS in the first table.", "",
              "| photos fitted | cos, fitting photos | RMS left, fitting photos | cos, other photos | RMS left, other photos |",
              "|---|---|---|---|---|"]
        L += [f"| {r['photos']} | {r['fit_cos']:.3f} | {r['fit_residual_rms_levels']:.2f} | {r['heldout_cos']:.3f} | "
              f"{r['heldout_residual_rms_levels']:.2f} |" for r in fit]
    if cls:
        L += ["", "## Fashion-MNIST classifier trained on protected images (noise-bounds hacker, one seed)", "",
              "`bundle` = the bundle's own latent rule; `bundle-capz` z from key + caption; `bundle-keyz` z from the key "
              f"alone; `bundle-z0` z = 0; `bundle-fitz{FIT_CLASSIFIER_N}` = the training set after the latent-fitting "
              f"attack (z fitted to {FIT_CLASSIFIER_N} of its photos, regenerated noise subtracted from all; one 8-bit "
              "rounding).", "",
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
    ap.add_argument("--fit", action="store_true", help="also run the latent-fitting attack (needs the run directory's "
                    "checkpoint of this bundle's generator)")
    ap.add_argument("--cls-steps", type=int, default=260)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bundle", default=str(NB.DEFAULT_BUNDLE))
    ap.add_argument("--data-dir", default=None, help="directory of the dataset .npz files (default: build them)")
    ap.add_argument("--report", default=str(Path(__file__).resolve().parents[1] / "reports" / "key-probe" / "REPORT.md"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    ddir = Path(a.data_dir) if a.data_dir else (data_dir() / "r64" if (data_dir() / "r64" / "DONE.json").exists()
                                                 else D.build_all(64))
    tr = D.load(ddir / "clipart_train.npz")
    idx = np.random.default_rng(0).permutation(len(tr["captions"]))[:a.n]
    caps = [str(tr["captions"][i]) for i in idx]
    noises = NB.Noises(64, 4.2, Path(a.bundle))
    manifest = json.loads((Path(a.bundle) / "manifest.json").read_text())
    sens = [key_sensitivity(noises, caps, v) for v in ("bundle",) + tuple(f"bundle-mask{b}" for b in MASK_BLOCKS)]
    attack = [r for b in MASK_BLOCKS for r in mask_attack(noises, tr["images"][idx], caps, b)]
    rule = noises.latent_rule          # set by the first bundle noise
    fit, variants = None, list(CLASSIFIER_VARIANTS)
    if a.fit:
        gen, why = attacker_generator(noises, caps)
        if gen is None:
            fit = why
        else:
            n_fit = max(FIT_N) + FIT_HELDOUT
            sel = np.random.default_rng(0).permutation(len(tr["captions"]))[:n_fit]
            fit = latent_fit_attack(noises, gen, tr["images"][sel], [str(tr["captions"][i]) for i in sel])
            fm = D.load(ddir / "fmnist_train.npz")
            noises = FittedNoises(noises, gen, fm["images"], [str(c) for c in fm["captions"]])
            variants.append(f"bundle-fitz{FIT_CLASSIFIER_N}")
    for r in sens + attack + (fit if isinstance(fit, list) else []):
        print(f"[key-probe] {json.dumps(r)}", flush=True)
    cls = classifier_cells(noises, variants, a.cls_steps, a.threads) if a.classifier else []
    bundle = {"name": manifest["name"], "version": manifest["version"], "latent_rule": rule}
    write_report(Path(a.report), bundle, sens, attack, fit, cls, vars(a))
    print(f"[key-probe] wrote {a.report}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
