"""t2ue_models.select: the held-out data avoid every image the generator and the efficacy hackers train on, the
proxy hacker learns, bad candidates are refused before any work, and a run is cached per candidate."""
import json

import numpy as np
import pytest
import torch

from t2ue_models import data as D
from t2ue_models import select as S
from t2ue_models.paths import MODELS_DIR

BUNDLE = MODELS_DIR / "bundles" / "clipart-mnv2-minilm"


def test_heldout_indices_avoid_the_training_draw():
    tr, te, _ = D.fmnist_heldout_indices(60000, 3000, 1000)
    used = np.random.default_rng(3).choice(60000, 6000, replace=False)   # build_fmnist(res, "train", 6000, seed=3)
    assert len(tr) == 3000 and len(te) == 1000
    assert not set(tr) & set(used) and not set(te) & set(used) and not set(tr) & set(te)
    again = D.fmnist_heldout_indices(60000, 3000, 1000)
    assert np.array_equal(tr, again[0]) and np.array_equal(te, again[1])
    with pytest.raises(ValueError, match="left for validation"):
        D.fmnist_heldout_indices(60000, 50000, 5000)


def test_proxy_learns_a_separable_task():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 192)
    x = rng.integers(0, 60, (192, 16, 16, 3)).astype(np.uint8)   # ProxyNet pools globally: 16 px keeps this quick
    x[y == 1, 4:12, 4:12] += 150               # class 1: a bright centre (survives shifts and flips)
    r = S.train_proxy({"images": x[:128], "labels": y[:128]}, {"images": x[128:], "labels": y[128:]},
                      steps=80, batch=32, n_classes=2)
    assert r["test_acc"] >= 0.9 and r["train_acc"] >= 0.9 and r["final_loss"] < 0.1


def test_proxy_is_not_the_efficacy_classifier():
    m = S.ProxyNet(10)
    assert not any("Block" in type(x).__name__ for x in m.modules())
    assert m(torch.zeros(2, 3, 64, 64, dtype=torch.uint8)).shape == (2, 10)


@pytest.mark.parametrize("spec, msg", [("x", "NAME=PATH"), ("a=", "NAME=PATH"), ("=b", "NAME=PATH"),
                                       ("clean=/tmp", "reserved"), ("a=/nonexistent/g.pt", "neither"),
                                       (f"a={BUNDLE},a={BUNDLE}", "repeated")])
def test_bad_candidates_are_refused_before_any_work(tmp_path, capsys, spec, msg):
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as e:
        S.main(["--out", str(out), "--candidates", spec])
    assert e.value.code == 2 and msg in capsys.readouterr().err and not out.exists()


def test_nothing_to_measure_is_refused(tmp_path):
    for argv in ([], ["--clean", "--hacker-seeds", ","], ["--clean", "--hacker-seeds", "0,x"], ["--clean", "--steps", "0"]):
        with pytest.raises(SystemExit) as e:
            S.main(["--out", str(tmp_path / "o"), *argv])
        assert e.value.code == 2
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not D.FMNIST_ROOT.exists(), reason="dataset-fashion-mnist not installed")
def test_tiny_selection_run_is_cached_per_candidate(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--clean", "--candidates", f"shipped={BUNDLE}", "--n-train", "40",
            "--n-test", "20", "--steps", "2", "--hacker-seeds", "0", "--threads", "1"]
    assert S.main(argv) == 0
    res = json.loads((tmp_path / "select.json").read_text())
    c = res["candidates"]
    assert set(c) == {"clean", "shipped"} and res["ranking"] == ["shipped"]
    assert c["clean"]["psnr_db"] > 100 and 30 < c["shipped"]["psnr_db"] < 60     # the noise is there, and small
    assert c["shipped"]["kind"] == "bundle" and 0 <= c["shipped"]["acc_mean"] <= 1
    assert c["shipped"]["stamp"].startswith("manifest-sha256:")    # a rebuilt bundle at the same path is measured anew
    capsys.readouterr()
    assert S.main(argv) == 0
    assert capsys.readouterr().out.count("cached") == 2
    assert json.loads((tmp_path / "select.json").read_text())["candidates"] == c


@pytest.mark.skipif(not D.FMNIST_ROOT.exists(), reason="dataset-fashion-mnist not installed")
def test_other_settings_start_a_new_table_and_keep_the_old_one(tmp_path):
    (tmp_path / "select.json").write_text('{"settings": {"steps": 1}, "candidates": {"x": {}}}')
    assert S.main(["--out", str(tmp_path), "--clean", "--n-train", "16", "--n-test", "8", "--steps", "1",
                   "--hacker-seeds", "0", "--threads", "1"]) == 0
    assert json.loads((tmp_path / "select.prev.json").read_text())["candidates"] == {"x": {}}
    assert set(json.loads((tmp_path / "select.json").read_text())["candidates"]) == {"clean"}
