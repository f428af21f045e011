"""t2ue_models.key_probe on a few captions: the measures are what they claim (no classifier training here)."""
import numpy as np

from t2ue_models import key_probe as KP
from t2ue_models import noise_bounds as NB

CAPS = ["a red bicycle", "a photo of a sneaker", "two cats on a sofa", "a lighthouse at night", "a blue car"]


def test_key_sensitivity_and_masks(tmp_path):
    n = NB.Noises(R=64, rms_cap_levels=4.2)
    s = KP.key_sensitivity(n, CAPS, "bundle")
    assert s["captions"] == 5 and -1 <= s["cos_two_keys_min"] <= s["cos_two_keys_mean"] <= 1
    assert abs(s["noise_rms_levels"] - 4.2) < 0.05
    assert n.key == NB.KEY                                   # the probe puts the default key back
    m = KP.key_sensitivity(n, CAPS, "bundle-mask8")
    # independent +-1 masks on 192 blocks: the same caption's noise under two keys is nearly orthogonal,
    # so subtracting a guessed key's noise adds noise instead of removing it
    assert abs(m["cos_two_keys_mean"]) < 0.3
    assert m["wrong_key_residual_rms_levels"] > m["noise_rms_levels"]
    # flat photos hide nothing: the mask is read off a single protected photo
    flat = np.full((5, 64, 64, 3), 128, np.uint8)
    a = KP.mask_attack(n, flat, CAPS, block=8, ns=(1, 5))
    assert [r["photos"] for r in a] == [1, 5] and a[0]["mask_signs_right_pct"] > 95
    out = tmp_path / "r.md"
    KP.write_report(out, {"name": "b", "version": "0", "latent_rule": n.latent_rule}, [s, m], a,
                    "no checkpoint", [], {"n": 5})
    text = out.read_text()
    assert "| bundle-mask8 | 5 |" in text and "| 8 | 5 |" in text and "## Fashion-MNIST" not in text
    assert f"latent rule `{n.latent_rule}`" in text and "Not run: no checkpoint." in text


def test_fit_latent_recovers_the_latent_of_a_generator_that_uses_it():
    """The latent-fitting attack on flat photos and a freshly initialised generator (which uses z, if only a
    little): the noise regenerated from the fitted z is far closer to the true noise than a random z's."""
    import torch
    from t2ue_models.nets import EMBED_DIM, EPSILON, LATENT_DIM, Generator
    torch.manual_seed(0)
    gen = Generator(EMBED_DIM, LATENT_DIM, 64, EPSILON).eval()
    et = torch.nn.functional.normalize(torch.randn(3, EMBED_DIM), dim=1)
    z = torch.randn(1, LATENT_DIM)
    with torch.no_grad():
        true = gen(et, z.expand(3, -1))
        y = torch.clamp(torch.round((0.5 + true) * 255) / 255, 0, 1)
        other = gen(et, torch.randn(1, LATENT_DIM).expand(3, -1))
    zf = KP.fit_latent(gen, et, y, starts=2, iters=150)
    with torch.no_grad():
        fitted = gen(et, zf.expand(3, -1))
    left, guessed = float((fitted - true).norm()), float((other - true).norm())
    assert guessed > 0 and left < 0.25 * guessed, (left, guessed)
