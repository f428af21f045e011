"""The on-disk format hackers train on and are tested on.

A split is a directory holding image files (PNG or JPEG, any size) and `captions.csv` with the
header `file,caption` (optionally a third column `label`, an integer class id). `file` is relative
to the directory. This is what `t2ue protect` and the baselines write.
"""
from __future__ import annotations

import csv
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


def cache_dir() -> Path:
    """${T2UE_CACHE:-~/.cache/t2ue} (same rule as the rest of the project, never inside the repo)."""
    root = os.environ.get("T2UE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "t2ue")
    d = Path(root)
    d.mkdir(parents=True, exist_ok=True)
    return d


def package_file(module: str, rel: str) -> Path:
    """A data file inside an installed package, located without importing the package."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {module} is not installed (run models/scripts/ensure-venv.sh)")
    p = Path(list(spec.submodule_search_locations)[0]) / rel
    if not p.exists():
        raise FileNotFoundError(p)
    return p


@dataclass
class Split:
    images: np.ndarray                  # uint8 [N, R, R, 3] after the scraper's resize + centre crop
    captions: list[str]
    files: list[str]
    labels: np.ndarray | None = None    # int64 [N] when captions.csv has a `label` column
    root: Path | None = None
    native_sizes: list[tuple[int, int]] = field(default_factory=list)   # (W, H) as stored

    def __len__(self) -> int:
        return len(self.captions)


def read_csv(d: Path) -> list[dict]:
    with open(Path(d) / "captions.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"file", "caption"} <= set(rows[0]):
        raise ValueError(f"{d}/captions.csv needs the header file,caption[,label]")
    return rows


def scrape_resize(im: Image.Image, res: int) -> Image.Image:
    """What a scraper does: shorter side to `res` (bicubic, antialiased), centre crop res x res."""
    w, h = im.size
    if (w, h) != (res, res):
        s = res / min(w, h)
        nw, nh = max(res, round(w * s)), max(res, round(h * s))
        im = im.resize((nw, nh), Image.BICUBIC, reducing_gap=None)
        l, t = (nw - res) // 2, (nh - res) // 2
        im = im.crop((l, t, l + res, t + res))
    return im


def load_split(d, res: int | None = 64, pre=None, limit: int | None = None) -> Split:
    """Read a split directory. `pre` (callable PIL->PIL, see transforms.pre_transform) is applied to
    each decoded file at its native size, before the scraper resize to `res` (None: keep the size,
    which must then be uniform)."""
    d = Path(d)
    rows = read_csv(d)[:limit]
    imgs, sizes = [], []
    for r in rows:
        with Image.open(d / r["file"]) as im:
            im = im.convert("RGB")
            sizes.append(im.size)
            if pre is not None:
                im = pre(im)
            if res is not None:
                im = scrape_resize(im, res)
            imgs.append(np.asarray(im, dtype=np.uint8))
    labels = None
    if rows and "label" in rows[0] and rows[0]["label"] not in (None, ""):
        labels = np.array([int(r["label"]) for r in rows], np.int64)
    return Split(np.stack(imgs) if imgs else np.zeros((0, res or 0, res or 0, 3), np.uint8),
                 [r["caption"] for r in rows], [r["file"] for r in rows], labels, d, sizes)


def write_split(d, images, captions, fmt: str = "png", labels=None, quality: int = 95,
                names=None) -> Path:
    """Write uint8 images [N, H, W, 3] (or a list of differently sized arrays) + captions.csv.
    fmt: png | jpg. Files are named 000000.png ... unless `names` (stems) are given."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    fmt = fmt.lower().lstrip(".")
    ext = {"png": "png", "jpg": "jpg", "jpeg": "jpg"}[fmt]
    if len(images) != len(captions):
        raise ValueError("images and captions differ in length")
    rows = []
    for i, (img, cap) in enumerate(zip(images, captions)):
        a = np.asarray(img)
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"image {i}: need uint8 [H, W, 3], got {a.dtype} {a.shape}")
        name = f"{(names[i] if names is not None else f'{i:06d}')}.{ext}"
        im = Image.fromarray(a, "RGB")
        if ext == "png":
            im.save(d / name, format="PNG")
        else:
            im.save(d / name, format="JPEG", quality=quality)
        row = {"file": name, "caption": str(cap)}
        if labels is not None:
            row["label"] = int(labels[i])
        rows.append(row)
    with open(d / "captions.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["file", "caption"] + (["label"] if labels is not None else []))
        w.writeheader()
        w.writerows(rows)
    return d


def npz_to_split(npz, d, fmt: str = "png", limit: int | None = None) -> Path:
    """Turn a plain .npz (images, captions, labels; the project's dataset cache format) into a split
    directory. Reads the file with numpy only."""
    with np.load(npz, allow_pickle=False) as z:
        imgs, caps = z["images"][:limit], [str(c) for c in z["captions"][:limit]]
        labels = z["labels"][:limit] if "labels" in z.files else None
    if labels is not None and (labels < 0).all():
        labels = None
    return write_split(d, imgs, caps, fmt=fmt, labels=labels)
