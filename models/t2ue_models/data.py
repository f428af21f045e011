"""Datasets built on demand from Debian/PyPI packages and cached under $T2UE_CACHE/data.

* clipart : Debian openclipart-svg, rasterised with rsvg-convert, human <dc:title> cleaned into a
            caption, de-duplicated by caption and by pixels, fixed seeded split (500 test).
* shapes  : procedural scenes drawn with skimage.draw, compositional captions.
* fmnist  : Debian dataset-fashion-mnist, caption templates (supervised transfer set).

Each set is stored as one .npz: images uint8 [N, R, R, 3], captions (str), labels (int, -1 if none).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .paths import data_dir

CLIPART_ROOT = Path("/usr/share/openclipart/svg")
FMNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")
FMNIST_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat",
                  "sandal", "shirt", "sneaker", "bag", "ankle boot"]
FMNIST_TEMPLATES = ["a photo of a {}.", "a black and white photo of a {}.", "a small picture of a {}.",
                    "a grayscale image of a {}.", "a {} on a black background.", "a low resolution photo of a {}."]
# Generic ways to word a subject, for the probes and training options that need rewordings of one caption
# (noise_bounds bundle-nap, ablate --p-para): chosen to share no template and no distinctive word (photo,
# picture, image, black, white, background, grayscale, resolution, small) with FMNIST_TEMPLATES, so nothing
# learnt from them is learnt from the wording of the classifier's captions.
# The first eight are the most varied (ablate --para-templates takes a prefix).
GENERIC_TEMPLATES = ["{}", "a drawing of a {}.", "the {}.", "a sketch of a {}.", "my {}.", "an illustration of a {}.",
                     "a close-up of a {}.", "clipart of a {}.", "{}.", "a {}.", "a cartoon {}.", "a painting of a {}.",
                     "a rendering of a {}.", "a nice {}.", "a bright {}.", "a cropped view of a {}.", "an icon of a {}.",
                     "a {} in the style of a comic."]
assert not {w for t in GENERIC_TEMPLATES for w in t.replace(".", " ").split()} & {
    "photo", "picture", "image", "black", "white", "background", "grayscale", "resolution", "small"}
SPLIT_SEED = 20240805
TEST_SIZE = 500

# ----------------------------------------------------------------------------------------- clipart
_AGENT = re.compile(r"<cc:Agent\b.*?</cc:Agent>", re.S)
_TITLE = re.compile(r"<dc:title>\s*(.*?)\s*</dc:title>", re.S)
_BAD = {"", "untitled", "open clip art library", "openclipart", "no title", "title", "image", "drawing",
        "clipart", "svg", "layer 1"}


def svg_title(svg_text: str) -> str | None:
    """The drawing's own title: the first <dc:title> outside the creator/publisher agents."""
    agents = {t.strip().lower() for a in _AGENT.findall(svg_text) for t in _TITLE.findall(a)}
    m = _TITLE.search(_AGENT.sub("", svg_text))
    if not m or m.group(1).strip().lower() in agents:     # an author's name typed as the title
        return None
    return m.group(1)


def clean_title(title: str) -> str | None:
    t = title
    t = re.sub(r"<!\[CDATA\[(.*?)\]\]>", r"\1", t, flags=re.S)
    t = t.replace("&amp;", "&").replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">")
    t = re.sub(r"(?i)^clip\s*art\s+by\s+[^-]+-\s*", "", t)        # "Clipart by Nicu Buculei - x"
    t = re.sub(r"(?i)\.(svg|png)$", "", t)
    t = re.sub(r"([a-z])([A-Z])", r"\1 \2", t)                    # camelCase
    t = re.sub(r"[_\-/|]+", " ", t)
    t = re.sub(r"\d+", " ", t)                                    # numbering carries no meaning
    t = re.sub(r"[^\w\s'&,.()]", " ", t)
    t = re.sub(r"\s+", " ", t).strip(" .,").lower()
    if t in _BAD or len(t) < 3 or not re.search(r"[a-z]{3}", t):
        return None
    return t


def _rasterise(svg: Path, res: int) -> np.ndarray | None:
    try:
        png = subprocess.run(["rsvg-convert", "-w", str(res), "-h", str(res), "-a", "-b", "white", str(svg)],
                             capture_output=True, timeout=20, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        return None
    from PIL import Image
    try:
        im = Image.open(io.BytesIO(png)).convert("RGB")
    except Exception:
        return None
    canvas = Image.new("RGB", (res, res), (255, 255, 255))        # -a keeps aspect: pad to square
    canvas.paste(im, ((res - im.width) // 2, (res - im.height) // 2))
    arr = np.asarray(canvas, dtype=np.uint8)
    if arr.min() > 245:                                           # blank drawing
        return None
    return arr


def list_clipart(root: Path = CLIPART_ROOT, limit: int | None = None) -> list[tuple[Path, str]]:
    """(svg path, cleaned caption), one per distinct caption, in sorted path order."""
    seen: dict[str, Path] = {}
    for svg in sorted(root.rglob("*.svg")):
        try:
            title = svg_title(svg.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        cap = clean_title(title) if title else None
        if cap and cap not in seen:
            seen[cap] = svg
        if limit and len(seen) >= limit:
            break
    return [(p, c) for c, p in seen.items()]


def build_clipart(res: int, limit: int | None = None, workers: int = 2, log=print) -> dict:
    items = list_clipart(limit=limit)
    log(f"[data] clipart: {len(items)} distinct titles, rasterising at {res}px with {workers} workers")
    with ThreadPoolExecutor(workers) as ex:
        imgs = list(ex.map(lambda it: _rasterise(it[0], res), items))
    images, captions, hashes = [], [], set()
    for (p, c), im in zip(items, imgs):
        if im is None:
            continue
        h = hashlib.sha1(im.tobytes()).hexdigest()               # same drawing under another title
        if h in hashes:
            continue
        hashes.add(h)
        images.append(im)
        captions.append(c)
    log(f"[data] clipart: {len(images)} image-caption pairs after pixel de-duplication")
    return {"images": np.stack(images), "captions": np.array(captions), "labels": np.full(len(images), -1)}


# ------------------------------------------------------------------------------------------ shapes
COLOURS = {"red": (220, 30, 30), "green": (30, 160, 50), "blue": (30, 60, 220), "yellow": (235, 210, 20),
           "orange": (245, 130, 20), "purple": (130, 40, 170), "black": (20, 20, 20), "pink": (240, 120, 180),
           "brown": (120, 70, 30), "cyan": (30, 200, 210)}
SHAPES = ["circle", "square", "triangle", "rectangle", "ellipse", "star"]


def _draw_shape(img: np.ndarray, kind: str, cy: float, cx: float, size: float, colour, rng) -> None:
    from skimage import draw
    R = img.shape[0]
    if kind == "circle":
        rr, cc = draw.disk((cy, cx), size / 2, shape=img.shape[:2])
    elif kind == "ellipse":
        rr, cc = draw.ellipse(cy, cx, size / 3.2, size / 1.7, shape=img.shape[:2], rotation=rng.uniform(0, np.pi))
    elif kind in ("square", "rectangle"):
        h = size if kind == "square" else size * 0.5
        rr, cc = draw.rectangle((cy - h / 2, cx - size / 2), (cy + h / 2, cx + size / 2), shape=img.shape[:2])
        rr, cc = rr.astype(int), cc.astype(int)
    elif kind == "triangle":
        r = [cy - size / 2, cy + size / 2, cy + size / 2]
        c = [cx, cx - size / 2, cx + size / 2]
        rr, cc = draw.polygon(r, c, shape=img.shape[:2])
    else:  # star
        ang = np.linspace(-np.pi / 2, 1.5 * np.pi, 11)[:-1]
        rad = np.where(np.arange(10) % 2 == 0, size / 2, size / 4.5)
        rr, cc = draw.polygon(cy + rad * np.sin(ang), cx + rad * np.cos(ang), shape=img.shape[:2])
    img[np.clip(rr, 0, R - 1), np.clip(cc, 0, R - 1)] = colour


def make_shapes(n: int, res: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    names = list(COLOURS)
    images = np.empty((n, res, res, 3), np.uint8)
    captions = []
    for i in range(n):
        bg = int(rng.integers(215, 256))
        img = np.full((res, res, 3), bg, np.uint8)
        k = int(rng.integers(1, 3))
        kinds = [SHAPES[j] for j in rng.integers(0, len(SHAPES), k)]
        cols = [names[j] for j in rng.choice(len(names), k, replace=False)]
        big = "small" if k == 2 else rng.choice(["small", "large"])
        size = res * (rng.uniform(0.25, 0.4) if (k == 2 or big == "small") else rng.uniform(0.55, 0.8))
        if k == 1:
            cy, cx = rng.uniform(size / 2, res - size / 2, 2)
            _draw_shape(img, kinds[0], cy, cx, size, COLOURS[cols[0]], rng)
            captions.append(f"a {big} {cols[0]} {kinds[0]}")
        else:
            rel = rng.choice(["above", "below", "left of", "right of"])
            a = (res * 0.3, res * rng.uniform(0.3, 0.7))
            b = (res * 0.72, res * rng.uniform(0.3, 0.7))
            if rel in ("left of", "right of"):
                a, b = (a[1], a[0]), (b[1], b[0])
            first, second = (a, b) if rel in ("above", "left of") else (b, a)
            _draw_shape(img, kinds[0], *first, size, COLOURS[cols[0]], rng)
            _draw_shape(img, kinds[1], *second, size, COLOURS[cols[1]], rng)
            captions.append(f"a {cols[0]} {kinds[0]} {rel} a {cols[1]} {kinds[1]}")
        images[i] = img
    return {"images": images, "captions": np.array(captions), "labels": np.full(n, -1)}


# ------------------------------------------------------------------------------------------ fmnist
def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _fmnist_file(split: str) -> tuple[np.ndarray, np.ndarray]:
    pre = "train" if split == "train" else "t10k"
    x = _idx(FMNIST_ROOT / f"{pre}-images-idx3-ubyte.gz")
    y = _idx(FMNIST_ROOT / f"{pre}-labels-idx1-ubyte.gz").astype(np.int64)
    return x, y


def _fmnist_rows(x: np.ndarray, y: np.ndarray, sel: np.ndarray, res: int, rng) -> dict:
    """Images `sel` of (x, y) at res x res RGB, each with a caption from a random template of its class."""
    import torch
    import torch.nn.functional as F
    t = torch.from_numpy(x[sel].astype(np.float32)[:, None] / 255.0)
    t = F.interpolate(t, size=(res, res), mode="bilinear", align_corners=False)
    imgs = (t.clamp(0, 1) * 255).round().to(torch.uint8).repeat(1, 3, 1, 1).permute(0, 2, 3, 1).numpy()
    tmpl = rng.integers(0, len(FMNIST_TEMPLATES), len(sel))
    caps = np.array([FMNIST_TEMPLATES[t_].format(FMNIST_CLASSES[c]) for t_, c in zip(tmpl, y[sel])])
    return {"images": imgs, "captions": caps, "labels": y[sel]}


def build_fmnist(res: int, split: str, n: int, seed: int) -> dict:
    x, y = _fmnist_file(split)
    rng = np.random.default_rng(seed)
    sel = np.sort(rng.choice(len(x), min(n, len(x)), replace=False))
    return _fmnist_rows(x, y, sel, res, rng)


def build_fmnist_heldout(res: int, n_train: int, n_test: int, seed: int = 7, used_n: int = 6000,
                         used_seed: int = 3) -> tuple[dict, dict]:
    """A validation pair (train, test) from the Fashion-MNIST *training file*, avoiding every image that
    build_fmnist(res, "train", used_n, used_seed) picks (build_all's fmnist_train, which the generator and the
    efficacy hackers train on); the efficacy hackers test on the t10k file, which this never reads. Captions use
    the same templates, drawn afresh. For choosing among generators without touching the images the final
    measurement uses (t2ue_models.select)."""
    x, y = _fmnist_file("train")
    tr, te, rng = fmnist_heldout_indices(len(x), n_train, n_test, seed, used_n, used_seed)
    return _fmnist_rows(x, y, tr, res, rng), _fmnist_rows(x, y, te, res, rng)


def fmnist_heldout_indices(total: int, n_train: int, n_test: int, seed: int = 7, used_n: int = 6000,
                           used_seed: int = 3) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """Sorted indices (train, test) into a file of `total` images, none of them among the `used_n` that
    build_fmnist picks with `used_seed` (the same draw), and the generator to draw their captions from."""
    used = np.random.default_rng(used_seed).choice(total, min(used_n, total), replace=False)
    free = np.setdiff1d(np.arange(total), used)
    if n_train + n_test > len(free):
        raise ValueError(f"only {len(free)} Fashion-MNIST training images are left for validation, "
                         f"not {n_train} + {n_test}")
    rng = np.random.default_rng(seed)
    pick = rng.permutation(free)[:n_train + n_test]
    return np.sort(pick[:n_train]), np.sort(pick[n_train:]), rng


# ----------------------------------------------------------------------------------------- splits
def split_indices(n: int, test_size: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[test_size:]), np.sort(perm[:test_size])


def _save(path: Path, d: dict) -> None:
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **d)
    os.replace(tmp, path)


def load(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def subset(d: dict, idx) -> dict:
    return {k: v[idx] for k, v in d.items()}


def concat(*ds: dict) -> dict:
    return {k: np.concatenate([d[k] for d in ds]) for k in ds[0]}


def build_all(res: int, n_shapes: int = 6000, n_fmnist_train: int = 6000, n_fmnist_test: int = 2000,
              clipart_limit: int | None = None, test_size: int = TEST_SIZE, out: Path | None = None,
              log=print) -> Path:
    """Build (or reuse) every set at resolution `res`; returns the directory holding the .npz files."""
    tag = f"r{res}" + (f"-lim{clipart_limit}" if clipart_limit else "")
    out = out or (data_dir() / tag)
    out.mkdir(parents=True, exist_ok=True)
    done = out / "DONE.json"
    if done.exists():
        log(f"[data] cached: {out}")
        return out
    clip = build_clipart(res, limit=clipart_limit, log=log)
    tr, te = split_indices(len(clip["captions"]), test_size)
    _save(out / "clipart_train.npz", subset(clip, tr))
    _save(out / "clipart_test.npz", subset(clip, te))
    _save(out / "shapes_train.npz", make_shapes(n_shapes, res, seed=1))
    _save(out / "shapes_test.npz", make_shapes(max(n_shapes // 10, 50), res, seed=2))
    _save(out / "fmnist_train.npz", build_fmnist(res, "train", n_fmnist_train, seed=3))
    _save(out / "fmnist_test.npz", build_fmnist(res, "test", n_fmnist_test, seed=4))
    stats = {f.stem: int(len(load(f)["captions"])) for f in sorted(out.glob("*.npz"))}
    stats.update(resolution=res, split_seed=SPLIT_SEED, clipart_test=test_size)
    done.write_text(json.dumps(stats, indent=1))
    log(f"[data] built {out}: {stats}")
    return out


def training_pool(ddir: Path) -> dict:
    return concat(load(ddir / "clipart_train.npz"), load(ddir / "shapes_train.npz"), load(ddir / "fmnist_train.npz"))
