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
    KP.write_report(out, [s, m], a, [], {"n": 5})
    text = out.read_text()
    assert "| bundle-mask8 | 5 |" in text and "| 8 | 5 |" in text and "## Fashion-MNIST" not in text
