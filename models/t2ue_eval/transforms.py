"""What the hacker does to the files it reads (robustness conditions) and to each training batch.

Pre-transforms (deterministic, applied once to every decoded file at its native size, before the
scraper resize), a comma list of:
  jpeg<q>      re-encode as JPEG at quality q (jpeg90, jpeg75, jpeg50, jpeg10)
  webp<q>      re-encode as lossy WebP at quality q (webp75, webp50; what many sites serve)
  resize<f>    down-scale by f then back up, bicubic antialiased (resize0.5)
  gray         grayscale, kept as 3 channels
  blur<s>      Gaussian blur, standard deviation s pixels (blur1, blur0.5)
Batch augmentations (random, every step), a comma list of:
  std          CLIP-style random resized crop, scale (0.8, 1) (the default for CLIP hackers)
  rrc          aggressive random resized crop, scale (0.25, 1) (the "crop at train time" condition)
  flip         horizontal flip, p = 0.5
  trivial      torchvision TrivialAugmentWide     autoaug  AutoAugment (ImageNet policy)
  randaug      RandAugment (2 ops, magnitude 9)   cutout   one zeroed square of side R/4
  mixup        MixUp, alpha 1 (soft targets in the loss)
  heavy        = rrc + flip + trivial + cutout + mixup
  plasma       a smooth random brightness field and a smooth random contrast field (fractal, several scales)
  chshuffle    the colour channels in a random order
  ueraser      = std + flip + plasma + chshuffle + trivial: the augmentations of UEraser (Qin et al. 2023,
               "Learning the Unlearnable: Adversarial Augmentations Suppress Unlearnable Example Attacks"),
               written from the paper's description
  max<K>       adversarial augmentation: draw K augmentations of every image and train on the one the current
               model finds hardest (UEraser's max-loss rule; e.g. ueraser,max5). The trainer does the choosing.
  pgd<E>[x<K>] adversarial training (Madry et al. 2018): after the other augmentations, every training image is
               replaced by its worst case within +-E levels of 255 (L-inf), found by K steps of projected
               gradient ascent on the hacker's own loss (random start, step 2.5 E / K; K defaults to 3), e.g.
               std,flip,pgd8. The trainer runs the attack; it costs K extra forward/backward passes per step.
  none         nothing
"""
from __future__ import annotations

import io
import re

import numpy as np
import torch
from PIL import Image, ImageFilter

PRE_NAMES = ("jpeg<q>", "webp<q>", "resize<f>", "gray", "blur<sigma>")
AUG_NAMES = ("std", "rrc", "flip", "trivial", "autoaug", "randaug", "cutout", "mixup", "heavy", "plasma",
             "chshuffle", "ueraser", "max<K>", "pgd<E>[x<K>]", "none")
MAX_REPEATS = 16
PGD_MAX_LEVELS, PGD_MAX_STEPS, PGD_DEFAULT_STEPS = 32, 20, 3
DOMAIN_PRE = ("gray",)      # pre-transforms that change the image domain: also applied to the test set


def _split(spec) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, (list, tuple)):
        return [s.strip().lower() for s in spec if s.strip()]
    return [s.strip().lower() for s in str(spec).split(",") if s.strip() and s.strip().lower() != "none"]


def jpeg(im: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="JPEG", quality=int(q))
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def webp(im: Image.Image, q: int) -> Image.Image:
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="WEBP", quality=int(q), lossless=False)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def resize_roundtrip(im: Image.Image, f: float) -> Image.Image:
    w, h = im.size
    small = im.resize((max(1, round(w * f)), max(1, round(h * f))), Image.BICUBIC, reducing_gap=None)
    return small.resize((w, h), Image.BICUBIC)


def parse_pre(spec) -> list[tuple[str, float]]:
    out = []
    for s in _split(spec):
        m = re.fullmatch(r"(jpeg|webp|resize|blur)([0-9.]+)|(gray|grey|grayscale)", s)
        if not m:
            raise ValueError(f"unknown pre-transform {s!r}; known: {', '.join(PRE_NAMES)}")
        out.append(("gray", 0.0) if m.group(3) else (m.group(1), float(m.group(2))))
    return out


def pre_transform(spec, only=None):
    """PIL -> PIL callable for `spec` (None when empty). `only`: keep only these kinds."""
    ops = [(k, v) for k, v in parse_pre(spec) if only is None or k in only]
    if not ops:
        return None

    def f(im: Image.Image) -> Image.Image:
        for k, v in ops:
            if k == "jpeg":
                im = jpeg(im, int(v))
            elif k == "webp":
                im = webp(im, int(v))
            elif k == "resize":
                im = resize_roundtrip(im, v)
            elif k == "gray":
                im = im.convert("L").convert("RGB")
            elif k == "blur":
                im = im.filter(ImageFilter.GaussianBlur(radius=v))
        return im
    f.spec = ",".join(f"{k}{'' if k == 'gray' else (int(v) if k in ('jpeg', 'webp') else v)}" for k, v in ops)
    return f


class BatchAug:
    """Random augmentation of a uint8 batch [B, 3, R, R] -> uint8 batch, plus MixUp parameters."""

    def __init__(self, spec="std", seed: int = 0):
        names = set(_split(spec))
        if "heavy" in names:
            names |= {"rrc", "flip", "trivial", "cutout", "mixup"}
            names.discard("heavy")
        if "ueraser" in names:
            names |= {"std", "flip", "plasma", "chshuffle", "trivial"}
            names.discard("ueraser")
        self.repeats = 1
        for n in [n for n in names if re.fullmatch(r"max\d+", n)]:
            k = int(n[3:])
            if not 1 <= k <= MAX_REPEATS:
                raise ValueError(f"{n}: the number of augmentation draws must be 1..{MAX_REPEATS}")
            if self.repeats != 1:
                raise ValueError("give max<K> once")
            self.repeats = k
            names.discard(n)
        self.pgd = None             # (radius in levels of 255, steps): adversarial training, run by the trainer
        for n in [n for n in names if n.startswith("pgd")]:
            m = re.fullmatch(r"pgd(\d+)(?:x(\d+))?", n)
            if not m:
                raise ValueError(f"{n}: adversarial training is pgd<E>[x<K>], E the L-inf radius in levels of 255 "
                                 f"(1..{PGD_MAX_LEVELS}), K the PGD steps (1..{PGD_MAX_STEPS}, default "
                                 f"{PGD_DEFAULT_STEPS}), e.g. pgd8 or pgd4x5")
            e, k = int(m[1]), int(m[2]) if m[2] else PGD_DEFAULT_STEPS
            if not 1 <= e <= PGD_MAX_LEVELS or not 1 <= k <= PGD_MAX_STEPS:
                raise ValueError(f"{n}: the radius must be 1..{PGD_MAX_LEVELS} levels and the steps 1..{PGD_MAX_STEPS}")
            if self.pgd is not None:
                raise ValueError("give pgd<E> once")
            self.pgd = (e, k)
            names.discard(n)
        if self.pgd and self.repeats > 1:
            raise ValueError("pgd<E> and max<K> are two worst-case rules; give one of them")
        bad = names - set(AUG_NAMES)
        if bad:
            raise ValueError(f"unknown augmentation(s) {sorted(bad)}; known: {', '.join(AUG_NAMES)}")
        if self.repeats > 1 and "mixup" in names:
            raise ValueError("max<K> picks the hardest draw per image; it does not combine with mixup")
        if self.pgd and "mixup" in names:
            raise ValueError("pgd<E> attacks each image against its own label; it does not combine with mixup")
        if self.repeats > 1 and not names:
            raise ValueError("max<K> needs augmentations to draw from (e.g. ueraser,max5)")
        self.names = names
        self.mixup = "mixup" in names
        self.g = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        from torchvision.transforms import v2
        self.v2 = v2
        self.scale = (0.25, 1.0) if "rrc" in names else ((0.8, 1.0) if "std" in names else None)
        self.policy = None
        if "trivial" in names:
            self.policy = v2.TrivialAugmentWide()
        elif "autoaug" in names:
            self.policy = v2.AutoAugment()
        elif "randaug" in names:
            self.policy = v2.RandAugment()

    @property
    def spec(self) -> str:
        return ",".join(sorted(self.names) + ([f"max{self.repeats}"] if self.repeats > 1 else [])
                        + ([f"pgd{self.pgd[0]}x{self.pgd[1]}"] if self.pgd else [])) or "none"

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.names or self.names == {"mixup"}:
            return x
        from torchvision.transforms.v2 import functional as F
        B, _, H, W = x.shape
        out = x.clone()
        for i in range(B):
            xi = x[i]
            if self.scale is not None:
                t, l, h, w = self._rrc_params(H, W)
                xi = F.resized_crop(xi, t, l, h, w, [H, W], antialias=True)
            if "flip" in self.names and torch.rand((), generator=self.g) < 0.5:
                xi = xi.flip(-1)
            if self._colour:        # UEraser's order: crop and flip, plasma and channel shuffle, then the policy
                out[i] = xi
                continue
            if self.policy is not None:
                xi = self.policy(xi)
            if "cutout" in self.names:
                xi = self._cutout(xi)
            out[i] = xi
        if self._colour:
            out = self._colour_ops(out)
            for i in range(B):
                xi = out[i]
                if self.policy is not None:
                    xi = self.policy(xi)
                out[i] = self._cutout(xi) if "cutout" in self.names else xi
        return out

    @property
    def _colour(self) -> bool:
        return bool(self.names & {"plasma", "chshuffle"})

    def _cutout(self, xi: torch.Tensor) -> torch.Tensor:
        _, H, W = xi.shape
        s = max(1, H // 4)
        cy = int(torch.randint(0, H, (), generator=self.g))
        cx = int(torch.randint(0, W, (), generator=self.g))
        xi = xi.clone()
        xi[:, max(0, cy - s // 2):cy + s // 2 + 1, max(0, cx - s // 2):cx + s // 2 + 1] = 0
        return xi

    def _colour_ops(self, x: torch.Tensor) -> torch.Tensor:
        """Plasma brightness and contrast, then channel shuffle, on the whole uint8 batch at once."""
        B, C, H, W = x.shape
        if "plasma" in self.names:
            f = x.float() / 255
            f = f + torch.rand(B, 1, 1, 1, generator=self.g) * (self._fields(B, H, W) - 0.5)
            c = 0.25 + 1.5 * self._fields(B, H, W)
            m = f.mean((1, 2, 3), keepdim=True)
            x = (m + c * (f - m)).clamp(0, 1).mul(255).round().to(torch.uint8)
        if "chshuffle" in self.names:
            perm = torch.argsort(torch.rand(B, C, generator=self.g), dim=1)
            x = torch.gather(x, 1, perm[:, :, None, None].expand(B, C, H, W))
        return x

    def _fields(self, B: int, H: int, W: int) -> torch.Tensor:
        """B smooth random fields in [0, 1], shape [B, 1, H, W]: random grids of 2..16 cells, bilinearly
        upsampled, summed with weights falling with frequency by a roughness drawn per image (plasma-like
        fractal noise)."""
        rough = torch.empty(B, 1, 1, 1).uniform_(0.1, 0.7, generator=self.g)
        f = torch.zeros(B, 1, H, W)
        for i, n in enumerate((2, 4, 8, 16)):
            g = torch.rand(B, 1, n, n, generator=self.g)
            f += rough ** i * torch.nn.functional.interpolate(g, size=(H, W), mode="bilinear", align_corners=True)
        lo, hi = f.amin((2, 3), keepdim=True), f.amax((2, 3), keepdim=True)
        return (f - lo) / (hi - lo).clamp_min(1e-6)

    def _rrc_params(self, H, W):
        area = H * W
        for _ in range(10):
            a = area * float(torch.empty(()).uniform_(*self.scale, generator=self.g))
            logr = float(torch.empty(()).uniform_(np.log(3 / 4), np.log(4 / 3), generator=self.g))
            r = float(np.exp(logr))
            w, h = int(round(np.sqrt(a * r))), int(round(np.sqrt(a / r)))
            if 0 < w <= W and 0 < h <= H:
                t = int(torch.randint(0, H - h + 1, (), generator=self.g))
                l = int(torch.randint(0, W - w + 1, (), generator=self.g))
                return t, l, h, w
        return 0, 0, H, W

    def mix(self, B: int):
        """(lam, perm) for MixUp, or None."""
        if not self.mixup:
            return None
        lam = float(self.rng.beta(1.0, 1.0))
        return lam, torch.randperm(B, generator=self.g)
