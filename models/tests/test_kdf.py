import numpy as np

from t2ue_models.kdf import hkdf_sha256, latent_z, normalise_caption


def test_hkdf_rfc5869_case1():
    okm = hkdf_sha256(bytes(range(13)), b"\x0b" * 22, bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                         "34007208d5b887185865")


def test_latent_deterministic_and_key_bound():
    k1, k2 = bytes(32), bytes([1] * 32)
    a, b = latent_z(k1, "a red bicycle", 64), latent_z(k1, "  a red\tbicycle ", 64)
    assert a.dtype == np.float32 and a.shape == (64,)
    assert np.array_equal(a, b)                       # normalised caption
    c = latent_z(k2, "a red bicycle", 64)
    assert abs(np.corrcoef(a, c)[0, 1]) < 0.5
    assert latent_z(k1, "x", 7).shape == (7,)         # odd sizes round up internally
    big = latent_z(k1, "statistics", 1020)
    assert abs(big.mean()) < 0.15 and 0.85 < big.std() < 1.15


def test_normalise_caption():
    assert normalise_caption(" a\u00a0 b\n c ") == "a b c"
    assert normalise_caption("Cafe\u0301") == "Café"


def test_latent_rules():
    from t2ue_models.kdf import latent_for, manifest_latent_rule
    k = bytes([3] * 32)
    assert np.array_equal(latent_for("key-caption", k, "a cat", 16), latent_z(k, "a cat", 16))
    assert np.array_equal(latent_for("key", k, "a cat", 16), latent_for("key", k, "a dog", 16))
    assert np.array_equal(latent_for("key", k, "a cat", 16), latent_z(k, "", 16))
    assert not np.array_equal(latent_for("key", k, "a cat", 16), latent_for("key", bytes(32), "a cat", 16))
    assert manifest_latent_rule({"format_version": 1}) == "key-caption"
    assert manifest_latent_rule({"format_version": 2, "latent_rule": "key"}) == "key"
    for bad in (lambda: latent_for("caption", k, "a", 4), lambda: manifest_latent_rule({"latent_rule": "z"})):
        try:
            bad()
        except ValueError:
            continue
        raise AssertionError("an unknown latent rule was accepted")
