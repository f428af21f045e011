"""Miniature of the efficacy run (issue 5): tiny splits, the real Rust CLI with the tiny bundle, a few
seconds of hacker training per condition, and the report. Checks plumbing and the report, not protection
(the real run is `models/scripts/efficacy.sh`)."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from t2ue_models import data as D
from t2ue_models import efficacy as E

REPO = Path(__file__).resolve().parents[2]
CONDS = "clean,t2ue,random,t2ue@50,regen-wrongkey,regen-rightkey"


def _cli_or_skip():
    try:
        E.t2ue_bin()
    except FileNotFoundError:
        if os.environ.get("T2UE_REQUIRE_CLI") == "1":
            raise
        pytest.skip("t2ue CLI not built (scripts/test.sh builds it and sets T2UE_REQUIRE_CLI=1)")
    if not os.environ.get("ORT_DYLIB_PATH"):
        if os.environ.get("T2UE_REQUIRE_CLI") == "1":
            raise RuntimeError("ORT_DYLIB_PATH is not set")
        pytest.skip("ORT_DYLIB_PATH not set")


def _fake_sets(d: Path):
    for name, n, seed in (("clipart_train", 24, 1), ("clipart_test", 12, 2), ("fmnist_train", 24, 3),
                          ("fmnist_test", 12, 4)):
        s = D.make_shapes(n, 64, seed=seed)
        s["labels"] = np.arange(n) % 3
        D._save(d / f"{name}.npz", s)


def test_run_measured_reports_each_child_its_own_peak():
    """A small command run after a big one gets its own peak RSS, not the big one's (RUSAGE_CHILDREN's
    ru_maxrss would give the big one's to both)."""
    import sys
    alloc = "import sys; b = bytearray({} * 2**20); b[::4096] = b'x' * len(b[::4096]); sys.stdout.write('ok')"
    big, big_mb = E.run_measured([sys.executable, "-c", alloc.format(300)])
    small, small_mb = E.run_measured([sys.executable, "-c", alloc.format(10)])
    assert big.returncode == small.returncode == 0 and big.stdout == small.stdout == "ok"
    assert big_mb > 300 and small_mb < 200, (big_mb, small_mb)
    fail, _ = E.run_measured([sys.executable, "-c", "import sys; sys.stderr.write('bad'); sys.exit(3)"])
    assert fail.returncode == 3 and fail.stderr == "bad"
    killed, _ = E.run_measured([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
    assert killed.returncode == -15, killed.returncode      # a signal reads as subprocess gives it


def _efficacy(tmp_path, *args) -> int:
    """One efficacy invocation on the fake sets, the tiny bundle and fixed tiny step counts (the default
    mode of the real run; `--budget` is covered by test_eval_hackers)."""
    return E.main(["--bundle", str(REPO / "tests/fixtures/tiny-bundle"), "--work", str(tmp_path / "work"),
                   "--report", str(tmp_path / "report"), "--data-dir", str(tmp_path / "data"),
                   "--steps", "clipA=2,cls=3", "--threads", "1", *args])


# Each hacker is its own process (~10 s here, most of it importing torch and torchvision), so the miniature
# runs the CLIP hacker on clean and T2UE only and the classifier on every condition: every condition's data
# is still made (on Fashion-MNIST), every kind of hacker run (plain, robustness, extra seed) still happens.
CLIP_RUN = ("--conditions", "clean,t2ue", "--hackers", "clipA", "--robustness", "jpeg75")
CLS_RUN = ("--conditions", CONDS, "--hackers", "cls")


def test_efficacy_miniature(tmp_path):
    _cli_or_skip()
    data = tmp_path / "data"
    data.mkdir()
    _fake_sets(data)
    work, report = tmp_path / "work", tmp_path / "report"
    assert _efficacy(tmp_path, *CLIP_RUN) == 0
    assert _efficacy(tmp_path, *CLS_RUN) == 0
    # the CLI wrote every protected image, with the captions alongside, and they differ from the clean ones
    prot = work / "t2ue" / "clipart_train"
    assert len(list(prot.glob("*.png"))) == 24 and (prot / "captions.csv").exists()
    cost = json.loads((prot / "cost.json").read_text())
    assert cost["images"] == 24 and cost["seconds_per_image"] > 0 and 5 < cost["peak_rss_mb"] < 2000
    # partial protection: about half the files are the protected ones
    part = json.loads((work / "t2ue@50" / "fmnist_train" / "cost.json").read_text())
    assert 0 < part["protected"] < 24
    # regeneration attack: with the right key the noise comes off (up to clamping/rounding), with a guessed
    # key it does not
    from PIL import Image

    def diff(a, b):
        return np.mean([np.abs(np.asarray(Image.open(p)).astype(int) - np.asarray(Image.open(b / p.name)).astype(int)).mean()
                        for p in sorted(a.glob("*.png"))])
    clean = work / "clean" / "fmnist_train"
    d_prot = diff(work / "t2ue" / "fmnist_train", clean)
    d_right = diff(work / "regen-rightkey" / "fmnist_train", clean)
    d_wrong = diff(work / "regen-wrongkey" / "fmnist_train", clean)
    assert d_prot > 0.5 and d_right < 0.25 * d_prot and d_wrong > d_right
    names = {p.name for p in (work / "results").glob("*.json")}
    assert names == {"clean-clipA.json", "t2ue-clipA.json", "t2ue-clipA-jpeg75.json"} | {
        f"{c}-cls.json" for c in CONDS.split(",")}
    # each hacker's progress went to its log as it trained
    assert "[cls] step 3/3" in (work / "results" / "t2ue-cls.log").read_text()
    text = (report / "REPORT.md").read_text()
    assert "random guessing" in text and "Targets (issue 5)" in text and "T2UE PSNR" in text
    assert "Generated by 2 invocations" in text and "--hackers clipA" in text and "--hackers cls" in text
    assert (report / "efficacy.png").stat().st_size > 1000
    # resumable: running both again reuses every result instead of retraining
    before = {p: p.stat().st_mtime for p in (work / "results").glob("*.json")}
    assert _efficacy(tmp_path, *CLIP_RUN) == 0 and _efficacy(tmp_path, *CLS_RUN) == 0
    assert before == {p: p.stat().st_mtime for p in (work / "results").glob("*.json")}
    # extra hacker seeds: same protected data, seed-suffixed results, a spread table and the spread in the target
    assert _efficacy(tmp_path, "--conditions", "clean,t2ue", "--hackers", "cls", "--hacker-seeds", "1") == 0
    r1 = json.loads((work / "results" / "t2ue-cls-seed1.json").read_text())
    assert r1["efficacy_seed"] == 1 and r1["config"]["seed"] == 1 and r1["efficacy_key"] == "t2ue|cls|"
    assert before == {p: p.stat().st_mtime for p in before}       # seed 0 runs reused, not retrained
    text = (report / "REPORT.md").read_text()
    assert "Spread over hacker seeds" in text and "| t2ue | cls | - | 2 |" in text
    assert "over 2 hacker seeds mean" in text
    # the report is rewritable from its results.json alone (the work directory is a cache)
    from t2ue_models.efficacy_report import rebuild
    raw = json.loads((report / "results.json").read_text())
    assert "t2ue|cls|" in raw["results"] and "1" in raw["seeds"]["t2ue|cls|"] and "model" not in raw["results"]["t2ue|cls|"]
    (report / "REPORT.md").unlink()
    rebuild(report / "results.json")
    assert (report / "REPORT.md").read_text() == text


def test_report_command_names_no_checkout():
    """The report's "Generated by" line: module form, repository paths relative to models/, home as ~."""
    home = Path.home()
    got = E._command_line(["--bundle", str(E.MODELS_DIR / "bundles" / "b"), "--work", str(home / ".cache" / "w"),
                           "--report", "reports/x", "--conditions", "clean"])
    assert got == "python -m t2ue_models.efficacy --bundle bundles/b --work ~/.cache/w --report reports/x --conditions clean"
