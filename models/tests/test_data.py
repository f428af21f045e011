import shutil

import numpy as np
import pytest

from t2ue_models import data as D


def test_clean_title():
    assert D.clean_title("Clipart by Nicu Buculei - jigsaw_red_10") == "jigsaw red"
    assert D.clean_title("CFbulb-brightlit") == "cfbulb brightlit"
    assert D.clean_title("RedApple_01") == "red apple"
    assert D.clean_title("Untitled") is None
    assert D.clean_title("  ") is None
    assert D.clean_title("Chemistry Flask.svg") == "chemistry flask"


def test_svg_title_skips_agents():
    svg = ("<cc:Work><dc:title>Red Apple</dc:title><dc:creator><cc:Agent><dc:title>Jane</dc:title>"
           "</cc:Agent></dc:creator></cc:Work>")
    assert D.svg_title(svg) == "Red Apple"
    svg2 = "<cc:Work><dc:title>Jane</dc:title><dc:creator><cc:Agent><dc:title>Jane</dc:title></cc:Agent></dc:creator></cc:Work>"
    assert D.svg_title(svg2) is None


def test_shapes_and_split():
    d = D.make_shapes(20, 64, seed=0)
    assert d["images"].shape == (20, 64, 64, 3) and d["images"].dtype == np.uint8
    assert all(c.startswith("a ") for c in d["captions"])
    assert np.array_equal(D.make_shapes(5, 64, seed=3)["images"], D.make_shapes(5, 64, seed=3)["images"])
    tr, te = D.split_indices(100, 10)
    assert len(te) == 10 and len(set(tr) | set(te)) == 100 and not set(tr) & set(te)
    assert np.array_equal(te, D.split_indices(100, 10)[1])


@pytest.mark.skipif(not D.CLIPART_ROOT.exists() or not shutil.which("rsvg-convert"),
                    reason="openclipart-svg / librsvg2-bin not installed")
def test_clipart_tiny_slice():
    d = D.build_clipart(64, limit=6, workers=2, log=lambda *_: None)
    assert 1 <= len(d["captions"]) <= 6
    assert d["images"].shape[1:] == (64, 64, 3)
    assert len(set(d["captions"].tolist())) == len(d["captions"])


@pytest.mark.skipif(not D.FMNIST_ROOT.exists(), reason="dataset-fashion-mnist not installed")
def test_fmnist_tiny():
    d = D.build_fmnist(64, "test", 12, seed=0)
    assert d["images"].shape == (12, 64, 64, 3)
    assert all(D.FMNIST_CLASSES[l] in c for l, c in zip(d["labels"], d["captions"]))
