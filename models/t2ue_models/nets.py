"""Surrogate CLIP (frozen MobileNetV2 + frozen MiniLM + trained projections, LiT-style) and the
T2UE noise generator G(e_t, z) with text-modulated (FiLM) normalisation."""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .text import MiniLM

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
EMBED_DIM = 256
LATENT_DIM = 64
EPSILON = 8.0 / 255.0


def mobilenet_v2_pretrained() -> nn.Module:
    import torchvision
    from .paths import mobilenet_weights
    m = torchvision.models.mobilenet_v2()
    m.load_state_dict(torch.load(str(mobilenet_weights()), map_location="cpu", weights_only=True))
    return m


@torch.no_grad()
def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm2d that follows a Conv2d (inside a Sequential) into the conv.
    Exact for a frozen backbone; removes BN from the forward/backward passes (much faster on CPU)."""
    for child in module.children():
        fold_batchnorm(child)
    if isinstance(module, nn.Sequential):
        mods = list(module._modules.items())
        for (_, conv), (bn_name, bn) in zip(mods, mods[1:]):
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                conv.bias = nn.Parameter((bias - bn.running_mean) * scale + bn.bias, requires_grad=conv.weight.requires_grad)
                module._modules[bn_name] = nn.Identity()
    return module


class ImageTower(nn.Module):
    """RGB in [0,1], NCHW -> L2-normalised embedding. Normalisation happens inside."""

    def __init__(self, embed_dim: int = EMBED_DIM, backbone: nn.Module | None = None):
        super().__init__()
        self.features = fold_batchnorm((backbone or mobilenet_v2_pretrained()).eval()).features
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.proj = nn.Linear(self.features[-1].out_channels, embed_dim)

    def backbone(self, pixels):
        return self.features((pixels - self.mean) / self.std).mean(dim=(2, 3))

    def head(self, feats):
        return F.normalize(self.proj(feats), dim=-1)

    def forward(self, pixels):
        return self.head(self.backbone(pixels))


class TextTower(nn.Module):
    """token ids + mask -> L2-normalised embedding (MiniLM mean pooling, normalised, projected)."""

    def __init__(self, embed_dim: int = EMBED_DIM, encoder: MiniLM | None = None):
        super().__init__()
        self.encoder = encoder if encoder is not None else MiniLM.pretrained()
        self.proj = nn.Linear(self.encoder.dim, embed_dim)

    def backbone(self, input_ids, attention_mask, inputs_embeds=None):
        return F.normalize(self.encoder(input_ids, attention_mask, inputs_embeds), dim=-1)

    def head(self, feats):
        return F.normalize(self.proj(feats), dim=-1)

    def forward(self, input_ids, attention_mask):
        return self.head(self.backbone(input_ids, attention_mask))


class Surrogate(nn.Module):
    def __init__(self, embed_dim: int = EMBED_DIM, pretrained: bool = True, tiny: bool = False):
        super().__init__()
        if pretrained:
            self.image, self.text = ImageTower(embed_dim), TextTower(embed_dim)
        else:   # random towers (tests): no weight files; `tiny` shrinks the text encoder
            import torchvision
            self.image = ImageTower(embed_dim, torchvision.models.mobilenet_v2(width_mult=0.35 if tiny else 1.0))
            self.text = TextTower(embed_dim, MiniLM(d=64, layers=1, heads=2, ff=128) if tiny else MiniLM())
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def freeze_backbones(self):
        for p in list(self.image.features.parameters()) + list(self.text.encoder.parameters()):
            p.requires_grad_(False)
        self.image.features.eval()
        self.text.encoder.eval()
        return self

    def scale(self):
        return self.logit_scale.clamp(max=math.log(100.0)).exp()


def info_nce(img, txt, scale, cap_ids=None):
    """Symmetric InfoNCE. With cap_ids, pairs that share a caption are all positives (soft targets)."""
    logits = scale * img @ txt.t()
    if cap_ids is None:
        tgt = torch.arange(len(img), device=img.device)
        return 0.5 * (F.cross_entropy(logits, tgt) + F.cross_entropy(logits.t(), tgt))
    same = (cap_ids[:, None] == cap_ids[None, :]).to(logits.dtype)
    tgt = same / same.sum(1, keepdim=True)
    return 0.5 * (torch.sum(-tgt * F.log_softmax(logits, 1), 1).mean()
                  + torch.sum(-tgt * F.log_softmax(logits.t(), 1), 1).mean())


# --------------------------------------------------------------------------------------- generator
class FiLMNorm(nn.Module):
    """GroupNorm without affine, then per-channel scale/shift predicted from the text embedding.
    (Batch-independent, unlike conditional BN: the SDK runs batch 1.)"""

    def __init__(self, ch: int, cond_dim: int, groups: int = 8):
        super().__init__()
        self.norm = nn.GroupNorm(min(groups, ch), ch, affine=False)
        self.film = nn.Linear(cond_dim, 2 * ch)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x, cond):
        g, b = self.film(cond).chunk(2, dim=1)
        return self.norm(x) * (1 + g[:, :, None, None]) + b[:, :, None, None]


class UpBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cond_dim: int):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.n1 = FiLMNorm(cout, cond_dim)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.n2 = FiLMNorm(cout, cond_dim)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, cond):
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = F.relu(self.n1(self.c1(x), cond))
        h = self.n2(self.c2(h), cond)
        return F.relu(h + self.skip(x))


def key_roll(delta: torch.Tensor, z: torch.Tensor, step: int = 1) -> torch.Tensor:
    """Cyclic shift of each noise tile by an offset on a `step` grid read from the key-derived latent z
    (z[:, 0] rows, z[:, 1] columns, through the normal CDF so every offset is equally likely). The idea:
    the caption decides the texture, the key its phase, so noise regenerated with a wrong key lands at
    another phase and subtracting it leaves a texture behind instead of cancelling it.

    Measured and NOT used by the shipped generator (Generator(roll_step=0)): training with random shifts,
    even on the surrogate's 32-pixel stride grid, stopped the generator from learning at all (held-out
    protected loss rose from 5.37 clean to 6.03 after 300 steps, vs 5.31 without shifts), because the
    frozen surrogate is far from shift-invariant to such small patterns. Kept for the experiment."""
    B, C, H, W = delta.shape
    u = 0.5 * (1.0 + torch.erf(z[:, :2] / math.sqrt(2.0)))                    # uniform in (0, 1)
    ny, nx = H // step, W // step                                              # phases on a step grid
    sy = torch.clamp(torch.floor(u[:, 0] * ny), max=ny - 1).long() * step
    sx = torch.clamp(torch.floor(u[:, 1] * nx), max=nx - 1).long() * step
    rows = torch.remainder(torch.arange(H)[None, :] + sy[:, None], H)          # [B, H]
    cols = torch.remainder(torch.arange(W)[None, :] + sx[:, None], W)          # [B, W]
    d = torch.gather(delta, 2, rows[:, None, :, None].expand(B, C, H, W))
    return torch.gather(d, 3, cols[:, None, None, :].expand(B, C, H, W))


class Generator(nn.Module):
    """delta = epsilon * tanh(G(e_t, z)), shape [B, 3, R, R], then a key-derived cyclic shift (key_roll).

    G is the sum of two paths:
    * a linear path: e_t (scaled to unit-size entries) times one learned pattern per embedding
      dimension, at basis_res x basis_res (default R; lower is bilinearly upsampled to R). For small delta the surrogate is
      nearly linear, f(x + d) ~ f(x) + J d, so a linear map from e_t is the natural solution, and being
      linear it generalises to captions never seen in training (the first bundle's generator, with a
      rank-48 product path, memorised its training captions instead);
    * the conditional up-sampler of the paper: FC(e_t, z) -> 4x4 -> upsampling residual blocks with
      FiLM-modulated GroupNorm (text-modulated normalisation) up to R/2 -> conv to 12 channels -> pixel
      shuffle to R, with a learned output scale that starts small."""

    def __init__(self, embed_dim: int = EMBED_DIM, latent_dim: int = LATENT_DIM, resolution: int = 64,
                 epsilon: float = EPSILON, channels=(48, 32, 24, 16), gain: float = 1.0,
                 basis_res: int | None = None, roll_step: int = 0, rms_cap: float = 0.0, luma_only: bool = False):
        super().__init__()
        # luma_only (probe, not in any bundle): the same noise on R, G and B, so a grayscale conversion keeps
        # all of it and JPEG's chroma subsampling removes none of it (Cb = Cr = 0 for an equal-channel delta)
        self.luma_only = luma_only
        n_up = int(round(math.log2(resolution / 8)))
        assert 8 * 2 ** n_up == resolution, "resolution must be 8 * 2^k"
        ch = list(channels[: n_up + 1]) + [channels[-1]] * max(0, n_up + 1 - len(channels))
        self.resolution, self.epsilon, self.latent_dim, self.embed_dim = resolution, epsilon, latent_dim, embed_dim
        self.basis_res, self.roll_step = basis_res or resolution, roll_step
        # e_t is L2-normalised (entries ~ 1/sqrt(D)); rescale so it is not drowned by z ~ N(0, I)
        self.text_scale = math.sqrt(embed_dim)
        self.fc = nn.Linear(embed_dim + latent_dim, 4 * 4 * ch[0])
        self.blocks = nn.ModuleList(UpBlock(ch[i], ch[i + 1], embed_dim) for i in range(n_up))   # FiLM from e_t
        self.out = nn.Conv2d(ch[-1], 12, 3, padding=1)
        self.conv_scale = nn.Parameter(torch.tensor(0.1))
        self.c0, self.gain = ch[0], gain
        self.basis = nn.Parameter(torch.randn(embed_dim, 3 * self.basis_res ** 2) * 0.01)
        # energy cap (pixel units, 0 = off): delta is scaled down so its RMS over the image is at most
        # rms_cap, which bounds the PSNR of a protected image from below (20*log10(1/rms_cap) dB before
        # rounding). A buffer, so it travels in the checkpoint and into the exported graph.
        self.register_buffer("rms_cap", torch.tensor(float(rms_cap)))

    def _cap(self, delta):
        # no Python branch on the buffer's value (torch.export cannot trace one): a cap of 0 means "off"
        rms = delta.pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-12).sqrt()
        scale = torch.where(self.rms_cap > 0, torch.clamp(self.rms_cap / rms, max=1.0), torch.ones_like(rms))
        return delta * scale

    def forward(self, text_embedding, z):
        t = text_embedding * self.text_scale
        x = F.relu(self.fc(torch.cat([t, z], dim=1))).view(-1, self.c0, 4, 4)
        if self.training:
            x = x.contiguous(memory_format=torch.channels_last)   # faster CPU convs while training
        for b in self.blocks:
            x = b(x, t)
        x = self.conv_scale * F.pixel_shuffle(self.out(x), 2)
        lin = (t @ self.basis).view(-1, 3, self.basis_res, self.basis_res)
        if self.basis_res != self.resolution:
            lin = F.interpolate(lin, size=(self.resolution, self.resolution), mode="bilinear", align_corners=False)
        delta = self.epsilon * torch.tanh(self.gain * (x + lin))
        if self.luma_only:
            delta = delta.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
        delta = self._cap(delta)
        return key_roll(delta, z, self.roll_step) if self.roll_step else delta


@torch.no_grad()
def kmeans(x: torch.Tensor, k: int, iters: int = 30, seed: int = 0) -> torch.Tensor:
    """Spherical k-means of unit rows -> [k, D] unit centroids (seeded, deterministic)."""
    g = torch.Generator().manual_seed(seed)
    c = x[torch.randperm(len(x), generator=g)[:k]].clone()
    for _ in range(iters):
        a = (x @ c.t()).argmax(1)
        for j in range(k):
            m = a == j
            c[j] = F.normalize(x[m].mean(0), dim=0) if m.any() else x[torch.randint(0, len(x), (1,), generator=g)][0]
    return c


class Learner(nn.Module):
    """A small model trained from scratch *alongside* the generator (min-min, as error-minimising
    noise is made against a model that is learning rather than a frozen one). Image side: four strided
    conv stages with GroupNorm, global pooling, projection; text side: a two-layer MLP on the surrogate's
    caption embedding. The generator is rewarded when this learner, trained only on protected images for
    a few hundred steps from a fresh start, already matches noise to captions: the noise then is a
    shortcut that a model trained from scratch picks up first. Periodically re-initialised
    (`reset`) so the noise stays easy to learn early, not just for one converged learner.

    Measured (t2ue_models.ablate, fine-tuning the shipped generator): the learner never got off chance level
    (InfoNCE ln 64 in contrastive mode; the cluster-label entropy in cluster mode with 32 k-means clusters of
    the target captions) within 200-400 steps, so its gradient told the generator nothing and the pipeline
    does not use it. Kept, with the ablation script, for the next attempt (e.g. a curriculum that starts the
    learner on the noise alone)."""

    def __init__(self, embed_dim: int = EMBED_DIM, dim: int = 128, widths=(32, 64, 128, 256), n_classes: int = 0):
        super().__init__()
        self.n_classes = n_classes
        layers, cin = [], 3
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, stride=2, padding=1), nn.GroupNorm(8, w), nn.ReLU(inplace=True),
                       nn.Conv2d(w, w, 3, padding=1), nn.GroupNorm(8, w), nn.ReLU(inplace=True)]
            cin = w
        self.image = nn.Sequential(*layers)
        self.image_proj = nn.Linear(cin, n_classes or dim)
        self.text = nn.Sequential(nn.Linear(embed_dim, 256), nn.ReLU(inplace=True), nn.Linear(256, dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, pixels):
        h = self.image((pixels - 0.5) / 0.25).mean(dim=(2, 3))
        return F.normalize(self.image_proj(h), dim=-1)

    def logits(self, pixels):
        """Cluster mode (n_classes > 0): the caption's cluster predicted from the image."""
        return self.image_proj(self.image((pixels - 0.5) / 0.25).mean(dim=(2, 3)))

    def encode_text(self, text_embedding):
        return F.normalize(self.text(text_embedding * math.sqrt(text_embedding.shape[1])), dim=-1)

    def scale(self):
        return self.logit_scale.clamp(max=math.log(100.0)).exp()

    @torch.no_grad()
    def reset(self, seed: int):
        g = torch.Generator().manual_seed(seed)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=g)
                if m.bias is not None:
                    m.bias.zero_()
        self.logit_scale.fill_(math.log(1 / 0.07))
        return self
