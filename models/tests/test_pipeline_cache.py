"""The pipeline's run directory is a cache: a generator trained with another recipe is refused, not reused."""
import json

import pytest

from t2ue_models import pipeline as P


def test_a_cached_generator_of_another_recipe_is_refused(tmp_path):
    (tmp_path / "generator.pt").write_bytes(b"")
    other = {"steps": 5500, "batch": 64, "lr": 0.003, "p_synth": 0.5, "p_crop": 0.15, "p_jpeg": 0.15,
             "stop_after": 5022, "budget_s": 0, "z_div": 0.0, "train_cap_levels": 0.0}
    (tmp_path / "generator.json").write_text(json.dumps({"recipe": other, "train": {}}))
    with pytest.raises(SystemExit, match="--force generator"):
        P.stage_generator(tmp_path, tmp_path, 5000, 64, 0, 64, 0.5, 0.003, 0.15, 0.15, None, 3.0, 4.2)
    same = P.stage_generator(tmp_path, tmp_path, 5500, 64, 0, 64, 0.5, 0.003, 0.15, 0.15, 5022, 0.0, 0.0)
    assert same["recipe"] == other                   # the same recipe is reused without training
