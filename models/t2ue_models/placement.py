"""Python mirror of the core's full-resolution placement (core/src/placement.rs): the R x R noise is
scaled to the photo's shorter side s, centred and repeated periodically; bilinear sampling with
wrap-around, pixel centres aligned ((u + 0.5) * R / s - 0.5); 8-bit pattern round(255 * delta)
added with saturation."""
from __future__ import annotations

import numpy as np


def _axis(n: int, s: int, R: int):
    off = (n - s) // 2
    t = np.mod(np.arange(n) - off, s)
    src = (t + 0.5) * R / s - 0.5
    i0 = np.floor(src).astype(np.int64)
    w = src - i0
    return np.mod(i0, R), np.mod(i0 + 1, R), w


def place(delta: np.ndarray, height: int, width: int) -> np.ndarray:
    """delta [3, R, R] float -> int16 pattern [H, W, 3] of round(255 * delta) at full resolution."""
    R = delta.shape[-1]
    s = min(height, width)
    y0, y1, wy = _axis(height, s, R)
    x0, x1, wx = _axis(width, s, R)
    d = np.transpose(delta, (1, 2, 0)).astype(np.float64)
    top = d[y0][:, x0] * (1 - wx)[None, :, None] + d[y0][:, x1] * wx[None, :, None]
    bot = d[y1][:, x0] * (1 - wx)[None, :, None] + d[y1][:, x1] * wx[None, :, None]
    full = top * (1 - wy)[:, None, None] + bot * wy[:, None, None]
    return np.round(255.0 * full).astype(np.int16)


def protect(photo_u8: np.ndarray, delta: np.ndarray) -> np.ndarray:
    pat = place(delta, photo_u8.shape[0], photo_u8.shape[1])
    return np.clip(photo_u8.astype(np.int16) + pat, 0, 255).astype(np.uint8)
