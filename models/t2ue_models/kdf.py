"""The key-bound latent KDF of docs/bundle-format.md, implemented independently with hmac/hashlib.

HKDF-SHA256 (RFC 5869) with salt "t2ue/z/v1", ikm = key, info = utf8(normalised caption) under the
"key-caption" latent rule (format 1 bundles) or the empty string under the "key" rule (one latent per key),
then 53-bit uniforms in (0,1) and Box-Muller in float64, cast to float32.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
import struct
import unicodedata

import numpy as np

SALT = b"t2ue/z/v1"
LATENT_RULES = ("key", "key-caption")


def normalise_caption(caption: str) -> str:
    """Unicode NFC, strip, collapse every whitespace run to one ASCII space."""
    c = unicodedata.normalize("NFC", caption).strip()
    return re.sub(r"\s+", " ", c)


def hkdf_sha256(salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    if length > 255 * 32:
        raise ValueError("HKDF-SHA256 output limited to 8160 bytes")
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


def latent_z(key: bytes, caption: str, dim: int) -> np.ndarray:
    if len(key) != 32:
        raise ValueError("key must be 32 bytes")
    if not 0 < dim <= 1020:
        raise ValueError("latent dim must be in 1..1020")
    n = dim + (dim % 2)
    okm = hkdf_sha256(SALT, key, normalise_caption(caption).encode("utf-8"), 8 * n)
    u = [((struct.unpack(">Q", okm[8 * i: 8 * i + 8])[0] >> 11) + 0.5) / 2.0 ** 53 for i in range(n)]
    z = []
    for k in range(n // 2):
        r = math.sqrt(-2.0 * math.log(u[2 * k]))
        t = 2.0 * math.pi * u[2 * k + 1]
        z.append(r * math.cos(t))
        z.append(r * math.sin(t))
    return np.asarray(z[:dim], dtype=np.float64).astype(np.float32)


def manifest_latent_rule(manifest: dict) -> str:
    """The latent rule a manifest declares (format 1 has none and means "key-caption")."""
    rule = manifest.get("latent_rule", "key-caption")
    if rule not in LATENT_RULES:
        raise ValueError(f"unknown latent rule {rule!r}")
    return rule


def latent_for(rule: str, key: bytes, caption: str, dim: int) -> np.ndarray:
    """z under a bundle's latent rule: KDF(key, caption) for "key-caption", KDF(key, "") for "key"."""
    if rule not in LATENT_RULES:
        raise ValueError(f"unknown latent rule {rule!r}")
    return latent_z(key, caption if rule == "key-caption" else "", dim)
