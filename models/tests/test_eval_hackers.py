"""Quick checks of the hacker side of the efficacy evaluation (t2ue_eval): tokenizer, one-step
training of CLIP A / CLIP B / the classifier on a tiny synthetic split, the metrics on known
similarity matrices, image quality, and the import rule (hackers never see generator or surrogate)."""
import ast
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

MODELS = Path(__file__).resolve().parent.parent
EVAL = MODELS / "t2ue_eval"
FORBIDDEN = ("t2ue_models.nets", "t2ue_models.train", "t2ue_models.pipeline", "t2ue_models.baselines",
             "t2ue_models.export")


# ------------------------------------------------------------------------------------ import rule
def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def test_import_rule_source():
    files = sorted(EVAL.glob("*.py"))
    assert files
    for f in files:
        for name in _imports(f):
            assert not any(name == m or name.startswith(m + ".") for m in FORBIDDEN), f"{f.name} imports {name}"
            assert name != "t2ue_models", f"{f.name} imports the t2ue_models package wholesale"
        assert "importlib.import_module" not in f.read_text() and "__import__" not in f.read_text(), f.name


def test_import_rule_runtime():
    code = ("import sys; import t2ue_eval.cli, t2ue_eval.hackers, t2ue_eval.metrics, t2ue_eval.clip_bpe, "
            "t2ue_eval.splits, t2ue_eval.transforms, t2ue_eval.synth; "
            "print([m for m in sys.modules if m.startswith('t2ue_models')])")
    out = subprocess.run([sys.executable, "-c", code], cwd=MODELS, capture_output=True, text=True, check=True)
    loaded = eval(out.stdout.strip().splitlines()[-1])
    assert not [m for m in loaded if m in FORBIDDEN], loaded


# -------------------------------------------------------------------------------------- tokenizer
def test_clip_bpe_reference_ids():
    from t2ue_eval import clip_bpe
    assert clip_bpe.encode("a photo of a cat.") == [49406, 320, 1125, 539, 320, 2368, 269, 49407]
    assert clip_bpe.load_tokenizer().get_vocab_size() == 49408
    t = clip_bpe.tokenize(["a photo of a cat.", "word " * 40], context_length=16)
    assert t.shape == (2, 16) and t[0, 8:].sum() == 0 and t[1, -1] == clip_bpe.EOT_ID and t[1, 0] == clip_bpe.SOT_ID
    assert clip_bpe.tokenizer_json_path().exists()


def _reference_bpe_encode(text: str) -> list[int]:
    """OpenAI CLIP SimpleTokenizer's algorithm in plain Python, for ASCII text (stdlib `re`)."""
    from t2ue_eval.clip_bpe import EOT_ID, SOT_ID, bytes_to_unicode, vocab_file, N_MERGES
    lines = gzip.open(vocab_file()).read().decode("utf-8").split("\n")[1:N_MERGES + 1]
    merges = [tuple(m.split()) for m in lines]
    b2u = bytes_to_unicode()
    vocab = list(b2u.values())
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m) for m in merges]
    enc, ranks = {t: i for i, t in enumerate(vocab)}, {m: i for i, m in enumerate(merges)}

    def bpe(token):
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            best = min(pairs, key=lambda p: ranks.get(p, float("inf")))
            if best not in ranks:
                break
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        return word

    text = " ".join(text.split()).lower()
    ids = []
    for tok in re.findall(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+", text):
        ids += [enc[t] for t in bpe("".join(b2u[b] for b in tok.encode()))]
    return [SOT_ID] + ids + [EOT_ID]


@pytest.mark.parametrize("text", ["a photo of a cat.", "A Red   Circle in the top-left!", "it's 2024, isn't it??",
                                  "hummingbird_feeder (vintage) clipart", "zebra-crossing & traffic lights"])
def test_clip_bpe_matches_reference_algorithm(text):
    from t2ue_eval import clip_bpe
    assert clip_bpe.encode(text) == _reference_bpe_encode(text)


# ---------------------------------------------------------------------------------------- splits
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from t2ue_eval.synth import make_shapes
    from t2ue_eval.splits import write_split
    root = tmp_path_factory.mktemp("eval")
    imgs, caps, labels = make_shapes(24, 64, seed=0)
    write_split(root / "train", imgs[:16], caps[:16], labels=labels[:16])
    write_split(root / "test", imgs[16:], caps[16:], fmt="jpg", labels=labels[16:])
    return root, imgs, caps, labels


def test_write_and_load_split(tiny):
    from t2ue_eval.splits import load_split
    root, imgs, caps, labels = tiny
    s = load_split(root / "train", res=64)
    assert s.images.shape == (16, 64, 64, 3) and s.captions == caps[:16]
    assert np.array_equal(s.images, imgs[:16]) and np.array_equal(s.labels, labels[:16])
    s32 = load_split(root / "test", res=32)
    assert s32.images.shape == (8, 32, 32, 3) and s32.files[0].endswith(".jpg")


def test_pre_transforms_and_aug():
    import torch
    from PIL import Image
    from t2ue_eval.transforms import BatchAug, pre_transform
    im = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    for spec in ["jpeg75", "webp75", "resize0.5", "gray", "blur1", "jpeg50,gray"]:
        out = np.asarray(pre_transform(spec)(im))
        assert out.shape == (64, 64, 3) and not np.array_equal(out, np.asarray(im)), spec
    assert (np.asarray(pre_transform("gray")(im)).std(-1) == 0).all()
    assert pre_transform("webp50").spec == "webp50"
    assert not np.array_equal(np.asarray(pre_transform("webp50")(im)), np.asarray(pre_transform("jpeg50")(im)))
    with pytest.raises(ValueError):
        pre_transform("sharpen2")
    x = torch.randint(0, 256, (4, 3, 64, 64), dtype=torch.uint8)
    for spec in ["std", "rrc,flip", "heavy", "autoaug", "randaug,cutout"]:
        a = BatchAug(spec, seed=0)
        y = a(x)
        assert y.shape == x.shape and y.dtype == torch.uint8
    assert BatchAug("heavy").mix(4) is not None and BatchAug("std").mix(4) is None


def test_ueraser_augmentations_and_their_errors():
    import torch
    from t2ue_eval.transforms import BatchAug
    a = BatchAug("ueraser,max3", seed=0)
    assert a.repeats == 3 and a.spec == "chshuffle,flip,plasma,std,trivial,max3"
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    y = a(x)
    assert y.shape == x.shape and y.dtype == torch.uint8 and not torch.equal(x, y)
    # plasma: a smooth field, not per-pixel noise; a flat grey image comes back uneven but smooth
    flat = torch.full((1, 3, 32, 32), 128, dtype=torch.uint8)
    p = BatchAug("plasma", seed=1)(flat).float()
    assert p.std() > 1 and (p[..., 1:, :] - p[..., :-1, :]).abs().mean() < p.std()
    # chshuffle only permutes the channels
    c = torch.stack([torch.full((16, 16), v, dtype=torch.uint8) for v in (10, 20, 30)])[None]
    outs = {tuple(BatchAug("chshuffle", seed=s)(c)[0, :, 0, 0].tolist()) for s in range(12)}
    assert all(sorted(o) == [10, 20, 30] for o in outs) and len(outs) > 1
    assert BatchAug("ueraser").repeats == 1
    for bad in ["max0", "max17", "heavy,max3", "max3", "std,max2,max3", "sharpen"]:
        with pytest.raises(ValueError):
            BatchAug(bad)


def test_pgd_specs_and_their_errors():
    from t2ue_eval.transforms import BatchAug
    assert BatchAug("std,flip,pgd8").pgd == (8, 3) and BatchAug("std,flip,pgd8").spec == "flip,std,pgd8x3"
    assert BatchAug("pgd4x5").pgd == (4, 5) and BatchAug("pgd4x5").names == set()
    assert BatchAug("std").pgd is None
    for bad in ["pgd0", "pgd33", "pgd8x0", "pgd8x21", "pgd", "pgdx3", "pgd8y2", "pgd4,pgd8", "std,pgd8,max2",
                "mixup,pgd8", "heavy,pgd8"]:
        with pytest.raises(ValueError):
            BatchAug(bad)


def test_pgd_finds_a_worse_input_inside_the_ball_and_leaves_the_weights_alone():
    import torch
    import torch.nn.functional as F
    from t2ue_eval.hackers import Classifier, _pgd
    torch.manual_seed(0)
    model = Classifier(4, res=32, widths=(8, 8, 16, 16))
    x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    x[0] = 0                                               # saturated images: the ball is cut at [0, 255]
    x[1] = 255
    y = torch.arange(8) % 4
    model.eval()
    loss_of = lambda c: F.cross_entropy(model(c), y)       # noqa: E731
    adv = _pgd(x, loss_of, 8, 5, torch.Generator().manual_seed(0))
    assert adv.dtype == torch.float32 and adv.shape == x.shape and not adv.requires_grad
    assert (adv - x.float()).abs().max() <= 8 + 1e-4 and adv.min() >= 0 and adv.max() <= 255
    assert (adv - x.float()).abs().max() > 7                  # it uses the radius it is given
    with torch.no_grad():
        assert loss_of(adv) > loss_of(x) + 1e-3
    assert all(p.grad is None for p in model.parameters())
    again = _pgd(x, loss_of, 8, 5, torch.Generator().manual_seed(0))
    assert torch.equal(adv, again)                            # seeded random start: reproducible


def test_the_max_rule_keeps_each_images_hardest_draw():
    import torch
    from t2ue_eval.hackers import _hardest

    class Draws:                    # draw k of every image is the image plus k * 10 (its "loss" grows with k,
        repeats = 3                 # except image 1, whose draw 0 is made the hardest)
        k = 0

        def __call__(self, b):
            out = b + 10 * self.k
            if self.k == 0:
                out[1] += 100
            self.k += 1
            return out

    b = torch.zeros(3, 1, 2, 2, dtype=torch.uint8)
    got = _hardest(Draws(), b, lambda c: c.float().flatten(1).mean(1))
    assert got[:, 0, 0, 0].tolist() == [20, 100, 20]


# ------------------------------------------------------------------------------------ training
def test_clip_a_trains_a_few_steps(tiny, tmp_path):
    from t2ue_eval.hackers import save_result, train_clip
    root = tiny[0]
    kw = dict(widths=(8, 16, 16, 32), text_width=32, text_layers=1, text_heads=2, embed=32)
    r = train_clip(root / "train", root / "test", arch="A", steps=3, batch=8, threads=2, aug="heavy",
                   pre="jpeg75", model_kw=kw, eval_train_n=8, log=lambda *_: None)
    assert r["steps"] == 3 and np.isfinite(r["final_loss"])
    for d in ("i2t", "t2i"):
        assert 0 <= r["test"][d]["R@1"] <= r["test"][d]["R@10"] <= 100
    save_result(r, tmp_path / "r.json")
    j = json.loads((tmp_path / "r.json").read_text())
    assert j["test"]["i2t_random"]["R@1"] == pytest.approx(100 / j["test"]["n_texts"])


def test_clip_b_trains_one_step(tiny):
    from t2ue_eval.hackers import train_clip
    root = tiny[0]
    r = train_clip(root / "train", root / "test", arch="B", steps=1, batch=4, threads=2, eval_train_n=0,
                   model_kw={"text_train_layers": 1}, log=lambda *_: None)
    assert r["steps"] == 1 and np.isfinite(r["final_loss"]) and r["test"]["n_images"] == 8


def test_classifier_trains_a_few_steps(tiny):
    from t2ue_eval.hackers import train_classifier
    root = tiny[0]
    r = train_classifier(root / "train", root / "test", steps=2, batch=8, threads=2, n_classes=32,
                         model_kw={"widths": (8, 16, 16, 32)}, pre="gray", log=lambda *_: None)
    assert r["steps"] == 2 and 0 <= r["test"]["accuracy"] <= 100 and r["test"]["random"] == pytest.approx(100 / 32)


def test_hackers_train_with_adversarial_augmentation(tiny):
    from t2ue_eval.hackers import train_classifier, train_clip
    root = tiny[0]
    r = train_classifier(root / "train", root / "test", steps=2, batch=8, threads=2, n_classes=32,
                         model_kw={"widths": (8, 16, 16, 32)}, aug="ueraser,max2", log=lambda *_: None)
    assert r["steps"] == 2 and np.isfinite(r["final_loss"]) and r["config"]["aug"].endswith("max2")
    kw = dict(widths=(8, 16, 16, 32), text_width=32, text_layers=1, text_heads=2, embed=32)
    r = train_clip(root / "train", root / "test", arch="A", steps=2, batch=8, threads=2, aug="ueraser,max2",
                   model_kw=kw, eval_train_n=0, log=lambda *_: None)
    assert r["steps"] == 2 and np.isfinite(r["final_loss"])
    r = train_classifier(root / "train", root / "test", steps=2, batch=8, threads=2, n_classes=32,
                         model_kw={"widths": (8, 16, 16, 32)}, aug="std,flip,pgd8x2", log=lambda *_: None)
    assert r["steps"] == 2 and np.isfinite(r["final_loss"]) and r["config"]["aug"] == "flip,std,pgd8x2"
    r = train_clip(root / "train", root / "test", arch="A", steps=2, batch=8, threads=2, aug="std,pgd4x2",
                   model_kw=kw, eval_train_n=0, log=lambda *_: None)
    assert r["steps"] == 2 and np.isfinite(r["final_loss"]) and r["config"]["aug"] == "std,pgd4x2"


def test_a_time_budget_stops_training_early(tiny):
    """`--budget S` (efficacy) / `time_budget`: the step count is fitted after 6 steps and training stops in time."""
    from t2ue_eval.hackers import train_classifier
    root = tiny[0]
    r = train_classifier(root / "train", root / "test", steps=100000, batch=8, threads=2, n_classes=32,
                         model_kw={"widths": (8, 16, 16, 32)}, time_budget=1.0, eval_train_n=0, log=lambda *_: None)
    # stopped by the budget, not by the step count (no bound on seconds here: the machines are shared)
    assert 1 <= r["steps"] < 100000 and r["config"]["time_budget"] == 1.0


# -------------------------------------------------------------------------------------- metrics
def test_metrics_identity_and_reversed():
    from t2ue_eval.metrics import retrieval_metrics
    N = 20
    r = retrieval_metrics(np.eye(N))
    assert r["i2t"]["R@1"] == 100 and r["t2i"]["R@1"] == 100 and r["i2t"]["MedR"] == 1
    assert r["i2t_random"]["R@1"] == pytest.approx(5.0) and r["i2t_random"]["R@10"] == pytest.approx(50.0)
    assert r["i2t_random"]["MedR"] == pytest.approx(10.5) and r["t2i_random"]["MedR"] == pytest.approx(10.5)
    # sim[i, j] = j: every image ranks text j at N - j; every text ranks all images equally -> rank 1
    s = np.tile(np.arange(N, dtype=float), (N, 1))
    r = retrieval_metrics(s)
    assert r["i2t"]["R@1"] == 5 and r["i2t"]["R@5"] == 25 and r["i2t"]["R@10"] == 50 and r["i2t"]["MedR"] == 10.5
    assert r["t2i"]["R@1"] == 100                         # ties never count against the correct item
    # anti-diagonal: the correct item is always ranked last
    r = retrieval_metrics(-np.eye(N))
    assert r["i2t"]["R@10"] == 0 and r["i2t"]["MedR"] == N and r["t2i"]["MedR"] == N


def test_metrics_repeated_captions():
    from t2ue_eval.metrics import retrieval_metrics
    gid = np.array([0, 0, 1, 1, 2, 2])                    # 6 images, 3 distinct texts
    sim = np.zeros((6, 3))
    sim[np.arange(6), gid] = 1.0
    r = retrieval_metrics(sim, gid)
    assert r["i2t"]["n_queries"] == 6 and r["t2i"]["n_queries"] == 3
    assert r["i2t"]["R@1"] == 100 and r["t2i"]["R@1"] == 100
    assert r["i2t_random"]["R@1"] == pytest.approx(100 / 3)
    assert r["t2i_random"]["R@1"] == pytest.approx(100 * 2 / 6)          # 2 of 6 images are right
    sim2 = sim.copy()
    sim2[0, 0] = sim2[1, 0] = -1.0                        # both images of text 0 ranked below the others
    r = retrieval_metrics(sim2, gid)
    assert r["t2i"]["R@1"] == pytest.approx(200 / 3)


def test_metrics_random_similarity_near_chance():
    from t2ue_eval.metrics import retrieval_metrics
    rng = np.random.default_rng(0)
    r = retrieval_metrics(rng.normal(size=(500, 500)))
    assert abs(r["i2t"]["R@10"] - 2.0) < 2.0 and abs(r["i2t"]["MedR"] - 250) < 50
    assert r["i2t_random"]["R@10"] == pytest.approx(2.0) and r["t2i_random"]["R@10"] == pytest.approx(2.0)


def test_classification_accuracy():
    from t2ue_eval.metrics import classification_accuracy
    a = classification_accuracy([0, 1, 2, 2], [0, 1, 2, 0], 4)
    assert a["accuracy"] == 75 and a["random"] == 25 and a["majority"] == 50


def test_quality(tmp_path, tiny):
    from t2ue_eval.metrics import quality
    from t2ue_eval.splits import write_split
    _, imgs, caps, _ = tiny
    clean = write_split(tmp_path / "clean", imgs[:4], caps[:4])
    delta = np.random.default_rng(0).integers(-4, 5, imgs[:4].shape)
    prot = np.clip(imgs[:4].astype(int) + delta, 0, 255).astype(np.uint8)
    write_split(tmp_path / "prot", prot, caps[:4])
    q = quality(clean, tmp_path / "prot")
    assert q["n"] == 4 and q["linf_max"] <= 4 and 35 < q["psnr_mean"] < 60 and 0.5 < q["ssim_mean"] < 1.0
    assert quality(clean, clean)["n_identical"] == 4


def test_train_commands_refuse_bad_input_before_reading_anything(tmp_path, capsys):
    from t2ue_eval.cli import main
    missing = str(tmp_path / "missing")
    for cmd in ("train-classifier", "train-clip"):
        for args in (["--aug", "pgd0"], ["--pre", "jpg75"], []):
            with pytest.raises(SystemExit) as e:
                main([cmd, "--train", missing, "--test", missing, "--out", str(tmp_path / "r.json"), *args])
            assert e.value.code == 2
    err = capsys.readouterr().err
    assert "pgd0" in err and "jpg75" in err and "no captions.csv" in err and not (tmp_path / "r.json").exists()


def test_cli_quality_and_make_shapes(tmp_path):
    env_py = sys.executable
    subprocess.run([env_py, "-m", "t2ue_eval.cli", "make-shapes", "--out", str(tmp_path / "s"), "--n", "3"],
                   cwd=MODELS, check=True, capture_output=True)
    out = subprocess.run([env_py, "-m", "t2ue_eval.cli", "quality", "--clean", str(tmp_path / "s"),
                          "--protected", str(tmp_path / "s"), "--out", str(tmp_path / "q.json")],
                         cwd=MODELS, check=True, capture_output=True, text=True)
    assert json.loads((tmp_path / "q.json").read_text())["n"] == 3 and '"ssim_mean"' in out.stdout
