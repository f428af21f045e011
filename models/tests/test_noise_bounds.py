"""The reference noises of t2ue_models.noise_bounds: shapes, amplitudes, and that the oracles are what they
claim (label-wise noise is identical within a label, caption-wise noise is per caption). No surrogate needed."""
import numpy as np
import pytest
import torch

from t2ue_models import noise_bounds as NB


def test_label_oracles_are_label_consistent():
    n = NB.Noises(R=64, rms_cap_levels=4.2)
    labels = np.array([0, 1, 2, 0, 1, 2, 0])
    for v in ("label-px", "label-block"):
        d = n(v, 8.0, ["x"] * len(labels), labels)
        assert d.shape == (7, 3, 64, 64)
        assert torch.allclose(d.abs(), torch.full_like(d, 8 / 255))
        assert torch.equal(d[0], d[3]) and torch.equal(d[0], d[6]) and not torch.equal(d[0], d[1])
        same, diff = NB.label_consistency(d, labels)
        assert same == pytest.approx(1.0) and diff < 0.5
    blocks = n("label-block", 4.2, ["x"] * 3, labels[:3])
    assert torch.equal(blocks[:, :, :8, :8], blocks[:, :, :1, :1].expand(-1, -1, 8, 8))   # constant 8x8 blocks
    with pytest.raises(ValueError, match="needs labels"):
        n("label-px", 8.0, ["x"], None)


def test_caption_blocks_follow_the_caption_and_protect_rounds():
    n = NB.Noises(R=64, rms_cap_levels=4.2)
    d = n("caption-block", 4.2, ["a cat", "a dog", "a cat"], None)
    assert torch.equal(d[0], d[2]) and not torch.equal(d[0], d[1])
    assert float(d.pow(2).mean().sqrt() * 255) == pytest.approx(4.2, rel=1e-5)
    img = np.full((3, 64, 64, 3), 128, np.uint8)
    p = NB.protect(img, d)
    assert p.dtype == np.uint8 and set(np.unique(p.astype(int) - 128)) <= {-4, 4}
    assert NB.psnr(img, p) == pytest.approx(10 * np.log10(255 ** 2 / 16), abs=1e-6)
    assert NB.parse_variant("cluster512@8", 4.2) == ("cluster512", 8.0)
    assert NB.parse_variant("projection", 4.2) == ("projection", 4.2)
    with pytest.raises(ValueError, match="unknown variant"):
        n("nonsense", 1.0, ["a"], None)


def test_energy_cap_only_scales_down():
    d = torch.full((2, 3, 4, 4), 8 / 255)
    d[1] *= 0.1
    c = NB.energy_cap(d, 4.2 / 255)
    assert float(c[0].pow(2).mean().sqrt() * 255) == pytest.approx(4.2, rel=1e-4)
    assert torch.equal(c[1], d[1])


def test_words_noise_is_a_bag_of_words():
    n = NB.Noises(R=64, rms_cap_levels=4.2)
    d = n("words", 4.2, ["a red cat", "cat red a", "A red dog."], None)
    assert torch.equal(d[0], d[1]) and not torch.equal(d[0], d[2])
    assert float(d[2].pow(2).mean().sqrt() * 255) == pytest.approx(4.2, rel=1e-5)
    # shared words make the codes correlate
    cos = torch.nn.functional.cosine_similarity(d[0].flatten(), d[2].flatten(), dim=0)
    assert 0.2 < float(cos) < 0.95


def test_bundle_noise_is_the_shipped_path_and_z_modes_differ():
    """The onnxruntime variants reproduce the bundle's golden vectors (same key, same caption), `bundle` follows
    the manifest's latent rule, and the z modes are what they claim: keyz gives every caption the same z, capz
    the caption's own, z0 a zero z."""
    import json
    from pathlib import Path
    g = json.loads((Path(NB.__file__).resolve().parents[1] / "bundles" / "clipart-mnv2-minilm" / "golden.json").read_text())
    n = NB.Noises(R=64, rms_cap_levels=4.2)
    cases = g["cases"][:3]
    for case in cases:
        n.key = bytes.fromhex(case["key_hex"])
        d = n("bundle", 4.2, [case["caption"]], None)[0].flatten().numpy()
        s = case["noise_sample"]
        got = d[::s["stride"]][:len(s["values"])]
        assert np.abs(got - np.asarray(s["values"], np.float32)).max() <= g["tolerance"]["noise"]
    n.key = NB.KEY
    caps = ["a red bicycle", "a photo of a sneaker", "a red bicycle"]
    d = {v: n(v, 4.2, caps, None) for v in ("bundle", "bundle-capz", "bundle-keyz", "bundle-z0")}
    for v, x in d.items():
        assert x.shape == (3, 3, 64, 64) and float(x.abs().max()) <= 8 / 255 + 1e-6, v
        assert torch.equal(x[0], x[2]) and not torch.equal(x[0], x[1]), v
    rule = {"key": "bundle-keyz", "key-caption": "bundle-capz"}[n.latent_rule]
    assert torch.equal(d["bundle"], d[rule])
    assert not torch.allclose(d["bundle-capz"][0], d["bundle-keyz"][0])
    assert not torch.allclose(d["bundle-keyz"][0], d["bundle-z0"][0])
    assert n.cell_file(Path("c"), "bundle", 4.2, "fmnist", 9).name.startswith("bundle[")
    assert n.cell_file(Path("c"), "clean", 4.2, "fmnist", 9).name == "clean@4.2-fmnist-9.json"
    assert n.cell_file(Path("c"), "clean", 4.2, "fmnist", 9, seed=2).name == "clean@4.2-fmnist-9-s2.json"
    with pytest.raises(ValueError, match="unknown variant"):
        n("bundle-nonsense", 4.2, ["a"], None)


def test_label_fed_bundle_variants_and_the_phrasing_projection():
    """The label-fed variants (bundle-labelpool, -onecap, -tag) feed the generator one embedding per label (so
    two captions of a label get the same noise up to the per-caption latent, which 1.2.0 barely uses) and need
    the labels; bundle-nap's map is an orthogonal projection of rank 384 - M that brings the rewordings of one
    subject closer together."""
    n = NB.Noises(R=64, rms_cap_levels=4.2)
    caps = ["a photo of a dress.", "a small picture of a dress.", "a photo of a bag.", "a dress on a black background."]
    labels = np.array([3, 3, 8, 3])
    cos = lambda a, b: float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))  # noqa: E731
    plain = n("bundle", 4.2, caps, None)
    for v in NB.LABEL_BUNDLE_VARIANTS:
        d = n(v, 4.2, caps, labels)
        assert d.shape == (4, 3, 64, 64) and float(d.abs().max()) <= 8 / 255 + 1e-6
        assert cos(d[0], d[1]) > 0.97 and cos(d[0], d[3]) > 0.97, v
        assert cos(d[0], d[2]) < 0.9 and cos(plain[0], plain[3]) < cos(d[0], d[3]) - 0.1, v
        with pytest.raises(ValueError, match="needs labels"):
            n(v, 4.2, caps, None)
    subjects = ["horse", "red apple", "flag of poland", "thermometer", "wine corks", "smiley", "seal", "europe"]
    P = n._nap_projection(4, subjects)
    assert np.allclose(P, P.T, atol=1e-6) and np.allclose(P @ P, P, atol=1e-5)
    assert round(float(np.trace(P))) == P.shape[0] - 4
    E = n.bundle_embed([t.format(s) for s in subjects for t in NB.D.GENERIC_TEMPLATES]).reshape(len(subjects), -1, P.shape[0])
    Q = E @ P
    Q /= np.linalg.norm(Q, axis=-1, keepdims=True)
    spread = lambda X: float(np.linalg.norm(X - X.mean(1, keepdims=True), axis=-1).mean())  # noqa: E731
    assert spread(Q) < 0.9 * spread(E)


def test_group_variant_pools_close_wordings_without_labels():
    """bundle-group<T> uses no label: it groups the set's distinct captions by their embeddings' average-linkage
    cosine, so at a low cut everything is one group (one noise up to the latent), at T=100 nothing is grouped (the
    plain noise), and in between two wordings of one subject share a noise that another subject does not."""
    n = NB.Noises(R=64, rms_cap_levels=4.2)
    caps = ["a drawing of a horse.", "a sketch of a horse.", "a red apple on a plate.", "the horse."]
    cos = lambda a, b: float(torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0))  # noqa: E731
    plain = n("bundle", 4.2, caps, None)
    assert torch.allclose(n("bundle-group100", 4.2, caps, None), plain, atol=1e-6) and n.last_groups == (4, 4)
    one = n("bundle-group0", 4.2, caps, None)
    assert n.last_groups == (4, 1) and min(cos(one[0], one[i]) for i in (1, 2, 3)) > 0.97
    d = n("bundle-group60", 4.2, caps, None)
    assert n.last_groups == (4, 2), n.last_groups
    assert cos(d[0], d[1]) > 0.97 and cos(d[0], d[3]) > 0.97 and cos(d[0], d[2]) < 0.9
    assert float(d.abs().max()) <= 8 / 255 + 1e-6


def test_report_pools_hacker_seeds(tmp_path):
    """One seed per cell: the figure as before; several: mean [min-max], and the regenerate line names them."""
    base = {"variant": "bundle", "amp_levels": 4.2, "dataset": "fmnist", "steps": 9, "psnr_db": 36.6,
            "delta_rms_levels": 4.2, "noise_cos_same_diff_label": [0.7, 0.3], "random_accuracy": 10.0,
            "train_accuracy": 100.0}
    rs = [dict(base, accuracy=a, **({"hacker_seed": s} if s else {})) for s, a in ((0, 39.0), (1, 42.5), (2, 45.0))]
    args = {"variants": "bundle", "cls_steps": 9, "clip_steps": 9, "datasets": "fmnist", "report": str(tmp_path / "R.md")}
    NB.write_report(rs, tmp_path / "R.md", dict(args, hacker_seeds="0,1,2"))
    t = (tmp_path / "R.md").read_text()
    assert "| bundle | 4.2 | 42.2 [39.0-45.0] (100.0 [100.0-100.0]) | 0.7 / 0.3 |" in t
    assert "--hacker-seeds 0,1,2" in t and "hacker seeds 0,1,2" in t
    NB.write_report(rs[:1], tmp_path / "R.md", dict(args, hacker_seeds="0"))
    t = (tmp_path / "R.md").read_text()
    assert "| bundle | 4.2 | 39.0 (100.0) | 0.7 / 0.3 |" in t and "one seed" in t and "--hacker-seeds" not in t


@pytest.mark.parametrize("bad", ["1,x", "1,1", "-1", ""])
def test_hacker_seeds_must_be_distinct_non_negative_integers(bad, capsys):
    with pytest.raises(SystemExit) as e:
        NB.main(["--hacker-seeds", bad, "--out", "/nonexistent/never-written"])
    assert e.value.code == 2 and "--hacker-seeds" in capsys.readouterr().err


def test_grouping_and_its_pair_scores():
    """group_embeddings merges rows whose average cosine reaches the cut; pair_scores counts pairs."""
    E = np.array([[1, 0, 0], [0.95, 0.31, 0], [0, 1, 0], [0, 0, 1]], float)
    assert len(set(NB.group_embeddings(E, 0.9).tolist())) == 3
    assert len(set(NB.group_embeddings(E, 0.99).tolist())) == 4
    assert len(set(NB.group_embeddings(E, -1.0).tolist())) == 1
    assert NB.group_embeddings(E[:1], 0.5).tolist() == [1]
    truth = np.array([0, 0, 1, 1])
    assert NB.pair_scores(np.array([1, 1, 2, 3]), truth) == (1.0, 0.5, pytest.approx(2 / 3))
    p, r, f = NB.pair_scores(np.array([1, 2, 3, 4]), truth)
    assert np.isnan(p) and r == 0.0 and np.isnan(f)
    assert NB.pair_scores(np.array([1, 1, 1, 1]), truth)[:2] == (2 / 6, 1.0)
