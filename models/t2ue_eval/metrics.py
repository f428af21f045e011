"""Scores: retrieval (I2T, T2I), classification, image quality of a protected split.

Retrieval rule (captions may repeat): identical captions (whitespace collapsed, lowercased) are one
text. With N test images and U distinct texts, sim is [N, U] and gid[i] is image i's text.
* I2T: N queries (every image), U candidates, exactly one correct (its text).
* T2I: U queries (every distinct text), N candidates, correct = any image carrying that text; the
  rank is that of the best-ranked correct image.
rank = 1 + number of *wrong* candidates scoring strictly higher than the (best) correct one.
R@k = % of queries with rank <= k; MedR = median rank; MeanR = mean rank.
Random guessing is computed exactly for the same queries: I2T R@k = k/U, T2I R@k =
1 - C(N-m, k)/C(N, k) for a text with m images (= k/N when captions are unique); random MedR is the
median of that rank distribution ((U+1)/2 for I2T, (N+1)/2 for unique T2I).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

KS = (1, 5, 10)


def _summary(ranks: np.ndarray) -> dict:
    ranks = np.asarray(ranks, np.float64)
    d = {f"R@{k}": float(100.0 * (ranks <= k).mean()) for k in KS}
    d.update(MedR=float(np.median(ranks)), MeanR=float(ranks.mean()), n_queries=int(len(ranks)))
    return d


def _p_hit(N: int, m: int, k: int) -> float:
    """P(best of m positives among N candidates is in the top k) under a random ranking."""
    if k >= N - m + 1:
        return 1.0
    return 1.0 - math.comb(N - m, k) / math.comb(N, k)


def _random_median(N: int, m: int) -> float:
    """Median of the best-positive rank under random ranking (exact integer arithmetic); when the
    CDF hits exactly 1/2 at r the median is r + 0.5 (so (N+1)/2 for one positive among N)."""
    def miss2(r):                    # 2 * C(N-m, r) vs C(N, r): P(hit by r) >= 1/2 <=> miss2 <= C(N, r)
        return 2 * math.comb(N - m, r)
    lo, hi = 1, N - m + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if miss2(mid) <= math.comb(N, mid):
            hi = mid
        else:
            lo = mid + 1
    return lo + 0.5 if miss2(lo) == math.comb(N, lo) else float(lo)


def _random(N: int, ms) -> dict:
    ms = list(ms)
    d = {f"R@{k}": float(100.0 * np.mean([_p_hit(N, m, k) for m in ms])) for k in KS}
    d["MedR"] = float(np.median([_random_median(N, m) for m in ms]))
    return d


def retrieval_ranks(sim: np.ndarray, gid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sim = np.asarray(sim, np.float64)
    gid = np.asarray(gid, np.int64)
    N, U = sim.shape
    pos = sim[np.arange(N), gid]
    i2t = 1 + (sim > pos[:, None]).sum(1)
    t2i = np.empty(U, np.int64)
    for u in range(U):
        is_pos = gid == u
        if not is_pos.any():
            t2i[u] = -1
            continue
        best = sim[is_pos, u].max()
        t2i[u] = 1 + (sim[~is_pos, u] > best).sum()
    return i2t, t2i[t2i > 0]


def retrieval_metrics(sim, gid=None) -> dict:
    """sim [N images, U distinct texts]; gid[i] = index of image i's text (default: i, unique)."""
    sim = np.asarray(sim)
    N, U = sim.shape
    gid = np.arange(N) if gid is None else np.asarray(gid)
    i2t, t2i = retrieval_ranks(sim, gid)
    counts = np.bincount(gid, minlength=U)
    out = {"i2t": _summary(i2t), "t2i": _summary(t2i),
           "i2t_random": _random(U, [1] * N), "t2i_random": _random(N, counts[counts > 0]),
           "n_images": int(N), "n_texts": int(U)}
    out["R@10_over_random"] = {d: (out[d]["R@10"] / out[f"{d}_random"]["R@10"]) if out[f"{d}_random"]["R@10"] else None
                               for d in ("i2t", "t2i")}
    return out


def classification_accuracy(pred, labels, n_classes: int | None = None) -> dict:
    pred, labels = np.asarray(pred), np.asarray(labels)
    C = n_classes or int(max(pred.max(initial=0), labels.max(initial=0)) + 1)
    counts = np.bincount(labels, minlength=C)
    per = [float(100.0 * (pred[labels == c] == c).mean()) if counts[c] else None for c in range(C)]
    return {"accuracy": float(100.0 * (pred == labels).mean()), "random": 100.0 / C,
            "majority": float(100.0 * counts.max() / max(1, len(labels))), "per_class": per, "n": int(len(labels))}


def quality(clean_dir, protected_dir, max_images: int | None = None) -> dict:
    """PSNR / SSIM (skimage, data_range 255, per image then averaged) and the L-inf / mean |delta| in
    8-bit levels between a clean split and its protected counterpart, decoded as stored (no resize).
    Files are paired by file stem; if the stems differ, by row order (captions must then agree)."""
    from PIL import Image
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    from .splits import read_csv
    c_rows, p_rows = read_csv(clean_dir), read_csv(protected_dir)
    p_by_stem = {Path(r["file"]).stem: r for r in p_rows}
    if all(Path(r["file"]).stem in p_by_stem for r in c_rows):
        pairs = [(r, p_by_stem[Path(r["file"]).stem]) for r in c_rows]
    elif len(c_rows) == len(p_rows) and all(a["caption"] == b["caption"] for a, b in zip(c_rows, p_rows)):
        pairs = list(zip(c_rows, p_rows))
    else:
        raise ValueError("cannot pair clean and protected files (neither by stem nor by row order)")
    pairs = pairs[:max_images]
    ps, ss, linf, mabs = [], [], [], []
    for a, b in pairs:
        x = np.asarray(Image.open(Path(clean_dir) / a["file"]).convert("RGB"))
        y = np.asarray(Image.open(Path(protected_dir) / b["file"]).convert("RGB"))
        if x.shape != y.shape:
            raise ValueError(f"{a['file']}: clean {x.shape} vs protected {y.shape}")
        d = np.abs(x.astype(np.int16) - y.astype(np.int16))
        linf.append(int(d.max()))
        mabs.append(float(d.mean()))
        ps.append(float(peak_signal_noise_ratio(x, y, data_range=255)) if d.any() else float("inf"))
        ss.append(float(structural_similarity(x, y, channel_axis=-1, data_range=255)))
    finite = [p for p in ps if math.isfinite(p)]
    return {"n": len(pairs), "psnr_mean": float(np.mean(finite)) if finite else float("inf"),
            "psnr_min": float(np.min(ps)) if ps else None, "ssim_mean": float(np.mean(ss)) if ss else None,
            "ssim_min": float(np.min(ss)) if ss else None, "linf_max": int(max(linf)) if linf else None,
            "linf_mean": float(np.mean(linf)) if linf else None, "mean_abs": float(np.mean(mabs)) if mabs else None,
            "n_identical": int(sum(1 for p in ps if not math.isfinite(p)))}
