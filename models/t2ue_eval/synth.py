"""A small, learnable image-caption set for sanity checks of the hackers (written here on purpose:
it shares nothing with the project's dataset code). One coloured shape on a grey, noisy background:
"a red circle in the top left" (8 colours x 4 shapes x 4 positions = 128 distinct captions); the
class label is the shape x colour index (32 classes) for the classifier."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {"red": (220, 30, 30), "green": (30, 170, 40), "blue": (30, 60, 220), "yellow": (235, 215, 20),
           "purple": (140, 40, 170), "orange": (245, 130, 20), "cyan": (20, 205, 215), "pink": (245, 120, 185)}
SHAPES = ("circle", "square", "triangle", "cross")
PLACES = ("top left", "top right", "bottom left", "bottom right")


def make_shapes(n: int, res: int = 64, seed: int = 0):
    """-> images uint8 [n, res, res, 3], captions list[str], labels int64 [n] (shape*8 + colour)."""
    rng = np.random.default_rng(seed)
    cnames = list(COLOURS)
    imgs, caps, labels = np.empty((n, res, res, 3), np.uint8), [], np.empty(n, np.int64)
    for i in range(n):
        ci, si, pi = rng.integers(len(cnames)), rng.integers(len(SHAPES)), rng.integers(len(PLACES))
        bg = int(rng.integers(70, 190))
        im = Image.new("RGB", (res, res), (bg, bg, bg))
        dr = ImageDraw.Draw(im)
        r = res * rng.uniform(0.11, 0.19)
        cy = res * (0.25 if pi < 2 else 0.75) + rng.uniform(-0.07, 0.07) * res
        cx = res * (0.25 if pi % 2 == 0 else 0.75) + rng.uniform(-0.07, 0.07) * res
        col = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in COLOURS[cnames[ci]])
        s = SHAPES[si]
        if s == "circle":
            dr.ellipse([cx - r, cy - r, cx + r, cy + r], fill=col)
        elif s == "square":
            dr.rectangle([cx - r * 0.9, cy - r * 0.9, cx + r * 0.9, cy + r * 0.9], fill=col)
        elif s == "triangle":
            dr.polygon([(cx, cy - r), (cx - r, cy + r * 0.8), (cx + r, cy + r * 0.8)], fill=col)
        else:
            w = r * 0.35
            dr.rectangle([cx - r, cy - w, cx + r, cy + w], fill=col)
            dr.rectangle([cx - w, cy - r, cx + w, cy + r], fill=col)
        a = np.asarray(im, np.float32) + rng.normal(0, 6, (res, res, 3))
        imgs[i] = np.clip(a, 0, 255).round().astype(np.uint8)
        caps.append(f"a {cnames[ci]} {s} in the {PLACES[pi]}")
        labels[i] = si * len(cnames) + ci
    return imgs, caps, labels


def write_shapes(d, n: int, res: int = 64, seed: int = 0, fmt: str = "png"):
    from .splits import write_split
    imgs, caps, labels = make_shapes(n, res, seed)
    return write_split(d, imgs, caps, fmt=fmt, labels=labels)
