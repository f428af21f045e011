"""A differentiable model of the scraper: cyclic shifts of the tiled noise, random resized crops back
to R, and a differentiable JPEG stand-in (YCbCr, 4:2:0, 8x8 DCT, quality-scaled quantisation with a
cubic soft rounding)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_LUMA = torch.tensor([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], dtype=torch.float32)
_CHROMA = torch.full((8, 8), 99.0)
_CHROMA[:4, :4] = torch.tensor([[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]],
                               dtype=torch.float32)


def _dct_matrix(n: int = 8) -> torch.Tensor:
    d = torch.zeros(n, n)
    for k in range(n):
        for i in range(n):
            d[k, i] = math.cos(math.pi * (2 * i + 1) * k / (2 * n)) * (math.sqrt(1 / n) if k == 0 else math.sqrt(2 / n))
    return d


_D = _dct_matrix()


def _qtable(base: torch.Tensor, quality: float) -> torch.Tensor:
    q = max(1.0, min(100.0, quality))
    s = 5000.0 / q if q < 50 else 200.0 - 2.0 * q
    return torch.clamp(torch.floor((base * s + 50.0) / 100.0), min=1.0)


def soft_round(x):
    r = torch.round(x)
    return r + (x - r) ** 3


def _blocks_dct_quant(ch: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    B, H, W = ch.shape
    blk = ch.view(B, H // 8, 8, W // 8, 8).permute(0, 1, 3, 2, 4)
    c = _D @ (blk - 128.0) @ _D.t()
    c = soft_round(c / table) * table
    out = _D.t() @ c @ _D + 128.0
    return out.permute(0, 1, 3, 2, 4).reshape(B, H, W)


def diff_jpeg(x: torch.Tensor, quality: float) -> torch.Tensor:
    """x: [B,3,H,W] in [0,1], H and W multiples of 16. Differentiable approximation of JPEG."""
    p = x * 255.0
    r, g, b = p[:, 0], p[:, 1], p[:, 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    lt, ct = _qtable(_LUMA, quality), _qtable(_CHROMA, quality)
    y = _blocks_dct_quant(y, lt)
    sub = F.avg_pool2d(torch.stack([cb, cr], 1), 2)
    sub = torch.stack([_blocks_dct_quant(sub[:, 0], ct), _blocks_dct_quant(sub[:, 1], ct)], 1)
    sub = F.interpolate(sub, scale_factor=2.0, mode="nearest")
    cb, cr = sub[:, 0] - 128.0, sub[:, 1] - 128.0
    rr = y + 1.402 * cr
    gg = y - 0.344136 * cb - 0.714136 * cr
    bb = y + 1.772 * cb
    return (torch.stack([rr, gg, bb], 1) / 255.0).clamp(0.0, 1.0)


def random_roll(delta: torch.Tensor, gen: torch.Generator | None = None, step: int = 1) -> torch.Tensor:
    """Per-sample cyclic shift of the noise tile by a multiple of `step` pixels (what a crop at another
    offset of the tiled photo sees)."""
    B, C, H, W = delta.shape
    sy = torch.randint(0, H // step, (B,), generator=gen) * step
    sx = torch.randint(0, W // step, (B,), generator=gen) * step
    rows = (torch.arange(H)[None] + sy[:, None]) % H
    cols = (torch.arange(W)[None] + sx[:, None]) % W
    d = delta.gather(2, rows[:, None, :, None].expand(B, C, H, W))
    return d.gather(3, cols[:, None, None, :].expand(B, C, H, W))


def random_resized_crop(x: torch.Tensor, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3),
                        gen: torch.Generator | None = None) -> torch.Tensor:
    """Batched, differentiable random resized crop back to the same size (bilinear)."""
    B = x.shape[0]
    u = torch.rand(B, 4, generator=gen)
    area = scale[0] + (scale[1] - scale[0]) * u[:, 0]
    logr = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, 1]
    ar = torch.exp(logr)
    w = torch.sqrt(area * ar).clamp(max=1.0)
    h = torch.sqrt(area / ar).clamp(max=1.0)
    cx = (1 - w) * (2 * u[:, 2] - 1)
    cy = (1 - h) * (2 * u[:, 3] - 1)
    theta = torch.zeros(B, 2, 3)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = w, cx, h, cy
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma (what PIL's convert("L") computes), kept as 3 channels; differentiable."""
    w = x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True).expand_as(x)


def channel_shuffle(x: torch.Tensor, p: float, gen=None) -> torch.Tensor:
    """Each image's colour channels in a random order, with probability p per image (the attacker's `chshuffle`
    augmentation of t2ue_eval.transforms, UEraser's channel shuffle); differentiable (a gather)."""
    b = x.shape[0]
    perm = torch.argsort(torch.rand(b, 3, generator=gen), dim=1)
    keep = torch.rand(b, generator=gen) >= p
    perm[keep] = torch.arange(3)
    return torch.gather(x, 1, perm[:, :, None, None].expand_as(x))


def scraper(x, delta, gen=None, p_crop=0.5, p_jpeg=0.3, q_range=(60, 95), roll_step: int = 1, p_gray: float = 0.0,
            p_chshuffle: float = 0.0):
    """Apply the scraper model: roll delta (by multiples of roll_step; 0: not at all), add to x, clamp,
    crop, maybe JPEG, maybe grayscale (p_gray), then shuffle each image's colour channels with probability
    p_chshuffle (an attacker's adaptive augmentation). p_gray and p_chshuffle draw random numbers only when
    > 0, so the random stream of older recipes is unchanged."""
    d = random_roll(delta, gen, roll_step) if roll_step else delta
    xp = (x + d).clamp(0.0, 1.0)
    if torch.rand(1, generator=gen).item() < p_crop:
        xp = random_resized_crop(xp, gen=gen)
    if torch.rand(1, generator=gen).item() < p_jpeg:
        q = q_range[0] + (q_range[1] - q_range[0]) * torch.rand(1, generator=gen).item()
        xp = diff_jpeg(xp, q)
    if p_gray > 0 and torch.rand(1, generator=gen).item() < p_gray:
        xp = grayscale(xp)
    if p_chshuffle > 0:
        xp = channel_shuffle(xp, p_chshuffle, gen)
    return xp
