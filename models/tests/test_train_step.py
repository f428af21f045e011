import pytest
import numpy as np
import torch

from t2ue_models import augment as A
from t2ue_models import train as T
from t2ue_models.nets import EPSILON, Generator, Learner, Surrogate, info_nce
from t2ue_models.text import Tokenizer


def _tiny():
    sur = Surrogate(pretrained=False, tiny=True).freeze_backbones()
    imgs = (np.random.default_rng(0).random((8, 64, 64, 3)) * 255).astype(np.uint8)
    caps = np.array(["a red star", "a blue circle", "a coat", "a dog", "a red star", "x y z", "cat", "tree"])
    return sur, imgs, caps


def test_surrogate_head_step():
    sur, imgs, caps = _tiny()
    uniq, inv = T.caption_ids(caps)
    fi = T.image_backbone_features(sur, imgs)
    ft = T.text_backbone_features(sur, Tokenizer(), list(uniq))
    before = sur.image.proj.weight.clone()
    T.train_heads(sur, fi, ft, inv, steps=2, bs=8, log=lambda *_: None)
    assert not torch.equal(before, sur.image.proj.weight)
    r = T.retrieval(sur.image.head(fi), sur.text.head(ft[inv]))
    assert 0 <= r["i2t_R@1"] <= 100


def test_generator_step_and_bound():
    sur, imgs, caps = _tiny()
    uniq, _ = T.caption_ids(caps)
    et = T.text_embeddings(sur, Tokenizer(), list(uniq))
    gen = Generator(resolution=64)
    h = T.train_generator(gen, sur, imgs, et, steps=1, bs=4, log=lambda *_: None, heldout=(imgs[:2], et[:2]),
                          eval_every=1)
    assert len(h["heldout_curve"]) == 1
    assert h["steps"] == 1 and np.isfinite(h["final_loss_avg50"])
    with torch.no_grad():
        d = gen(et[:3] * 50, torch.randn(3, gen.latent_dim) * 50)
    assert d.shape == (3, 3, 64, 64) and d.abs().max() <= EPSILON + 1e-7


def test_rewording_targets_feed_the_generator_a_rewording():
    """p_para 0 ignores the rewordings and draws no extra random number (the shipped recipe replays
    unchanged); p_para 1 feeds the generator the rewordings' embeddings, so it learns something else."""
    sur, imgs, caps = _tiny()
    uniq, _ = T.caption_ids(caps)
    et = T.text_embeddings(sur, Tokenizer(), list(uniq))
    other = torch.nn.functional.normalize(torch.randn(len(et), 3, et.shape[1], generator=torch.Generator().manual_seed(1)), dim=-1)

    def run(**kw):
        torch.manual_seed(0)
        gen = Generator(resolution=64)
        T.train_generator(gen, sur, imgs, et, steps=2, bs=4, log=lambda *_: None, p_synth=0.0, **kw)
        return torch.cat([q.detach().flatten() for q in gen.parameters()])

    plain = run()
    assert torch.equal(plain, run(variant_emb=other, p_para=0.0))
    seen = []                                   # on_step (ablate --save-at) sees each step count and changes nothing
    assert torch.equal(plain, run(on_step=lambda n, g: seen.append((n, g.training))))
    assert seen == [(1, True), (2, True)]
    with pytest.raises(ValueError, match="variant_emb"):
        run(p_para=0.5)
    own = et[:, None].expand(-1, 3, -1).contiguous()         # "rewordings" that are the captions themselves
    assert not torch.allclose(run(variant_emb=own, p_para=1.0), run(variant_emb=other, p_para=1.0))


def test_energy_cap_bounds_rms_and_keeps_direction():
    gen = Generator(resolution=64).eval()
    capped = Generator(resolution=64, rms_cap=2.0 / 255).eval()
    capped.load_state_dict({**gen.state_dict(), "rms_cap": torch.tensor(2.0 / 255)})
    e, z = torch.nn.functional.normalize(torch.randn(3, 256), dim=-1) * 40, torch.randn(3, gen.latent_dim)
    with torch.no_grad():
        d, c = gen(e, z), capped(e, z)
    rms = c.pow(2).mean(dim=(1, 2, 3)).sqrt()
    assert torch.all(rms <= 2.0 / 255 * (1 + 1e-5)) and c.abs().max() <= EPSILON + 1e-7
    assert torch.allclose(c / rms[:, None, None, None], d / d.pow(2).mean(dim=(1, 2, 3)).sqrt()[:, None, None, None], atol=1e-5)


@pytest.mark.parametrize("clusters", [0, 4])
def test_learner_min_min_step(clusters):
    sur, imgs, caps = _tiny()
    uniq, _ = T.caption_ids(caps)
    et = T.text_embeddings(sur, Tokenizer(), list(uniq))
    gen, learner = Generator(resolution=64), Learner(n_classes=clusters)
    before = [p.detach().clone() for p in learner.parameters()]
    h = T.train_generator(gen, sur, imgs, et, steps=2, bs=4, log=lambda *_: None, learner=learner, learner_reset=10)
    assert len(h["learner_curve"]) == 1 and np.isfinite(h["learner_curve"][0])
    assert any(not torch.equal(a, b) for a, b in zip(before, learner.parameters()))


def test_latent_diversity_term_pushes_two_latents_apart():
    sur, imgs, caps = _tiny()
    uniq, _ = T.caption_ids(caps)
    et = T.text_embeddings(sur, Tokenizer(), list(uniq))
    torch.manual_seed(0)
    gen = Generator(resolution=64)
    h = T.train_generator(gen, sur, imgs, et, steps=30, bs=4, lr=3e-3, log=lambda *_: None, z_div_weight=5.0,
                          p_crop=0, p_jpeg=0)
    assert len(h["z_cos_curve"]) == 1 and np.isfinite(h["final_loss_avg50"])
    with torch.no_grad():
        e = et[:4]
        cos = torch.nn.functional.cosine_similarity(gen(e, torch.randn(4, gen.latent_dim)).flatten(1),
                                                    gen(e, torch.randn(4, gen.latent_dim)).flatten(1), dim=1)
    assert float(cos.mean()) < 0.5          # trained to use z: two latents give clearly different noise
    assert T.train_generator(Generator(resolution=64), sur, imgs, et, steps=1, bs=4, log=lambda *_: None)["z_cos_curve"] == []


def test_scraper_ops_differentiable():
    x = torch.rand(2, 3, 64, 64)
    d = (torch.rand(2, 3, 64, 64) * 0.06 - 0.03).requires_grad_()
    y = A.scraper(x, d, gen=torch.Generator().manual_seed(0), p_crop=1.0, p_jpeg=1.0)
    y.sum().backward()
    assert d.grad is not None and torch.isfinite(d.grad).all() and d.grad.abs().sum() > 0
    r = A.random_roll(d.detach(), torch.Generator().manual_seed(1))
    assert torch.allclose(r.sum(dim=(2, 3)), d.detach().sum(dim=(2, 3)), atol=1e-5)   # a permutation


def test_infonce_prefers_matched():
    e = torch.nn.functional.normalize(torch.randn(6, 16), dim=-1)
    assert info_nce(e, e, 20.0) < info_nce(e, e.roll(1, 0), 20.0)


def test_mem_and_em_one_round():
    from t2ue_models.baselines import run_mem
    sur, imgs, caps = _tiny()
    for p in sur.parameters():
        p.requires_grad_(False)
    tok = Tokenizer()
    for k in (0, 2):
        delta, tid, tm, secs = run_mem(sur, tok, imgs[:4], caps[:4], k, rounds=2, hotflip_rounds=1, pgd_steps=1,
                                       bs=4, log=lambda *_: None)
        assert delta.shape == (4, 3, 64, 64) and delta.abs().max() <= EPSILON + 1e-6
        assert tid.shape == (4, tok.L) and (tm.sum(1) >= 3).all()


def test_mem_resume_matches_an_uninterrupted_run(tmp_path):
    from t2ue_models.baselines import run_mem
    sur, imgs, caps = _tiny()
    for p in sur.parameters():
        p.requires_grad_(False)
    tok = Tokenizer()
    kw = dict(rounds=3, hotflip_rounds=1, pgd_steps=1, bs=2, log=lambda *_: None)
    d0, t0, m0, _ = run_mem(sur, tok, imgs[:4], caps[:4], 2, **kw)
    run_mem(sur, tok, imgs[:4], caps[:4], 2, resume_dir=tmp_path, **kw)
    saved = sorted(tmp_path.glob("batch-*.npz"))
    assert len(saved) == 2
    saved[1].unlink()                       # "killed" after the first batch: it is reused, the second redone
    d1, t1, m1, secs = run_mem(sur, tok, imgs[:4], caps[:4], 2, resume_dir=tmp_path, **kw)
    assert torch.allclose(d0, d1, atol=1e-6) and (t0 == t1).all() and (m0 == m1).all() and secs > 0
    assert len(list(tmp_path.glob("*.partial*"))) == 0


def test_key_roll_is_a_key_dependent_permutation():
    from t2ue_models.nets import key_roll
    d = torch.randn(2, 3, 16, 16)
    z = torch.randn(2, 8)
    r1, r2 = key_roll(d, z), key_roll(d, z.clone())
    assert torch.equal(r1, r2)                                                       # deterministic
    assert torch.allclose(r1.sum(dim=(2, 3)), d.sum(dim=(2, 3)), atol=1e-5)          # a permutation
    z2 = z.clone()
    z2[:, :2] += 1.0
    assert not torch.equal(key_roll(d, z2), r1)                                      # another key, another phase
    zero = torch.zeros(2, 8)
    zero[:, :2] = -10.0                                                              # CDF ~ 0: no shift
    assert torch.equal(key_roll(d, zero), d)


def test_synthetic_embeddings_are_unit_and_unique():
    e = torch.nn.functional.normalize(torch.randn(10, 16), dim=-1)
    ids = torch.arange(4)
    out, new_ids = T.synthetic_embeddings(e, e[:4], ids, 1.0, 0.05, torch.Generator().manual_seed(0))
    assert torch.allclose(out.norm(dim=1), torch.ones(4), atol=1e-5)
    assert (new_ids < 0).all() and len(set(new_ids.tolist())) == 4


def test_ablate_z_rules():
    """ablate's protection under the two latent rules: the contract's KDF(key, caption), or KDF(key, "") for all."""
    from t2ue_models.ablate import protect_split
    from t2ue_models.kdf import latent_z
    sur, imgs, caps = _tiny()
    tok, key = Tokenizer(), bytes(range(32))
    torch.manual_seed(0)
    gen = Generator(resolution=64).eval()
    d = {"images": imgs, "captions": caps}
    et = T.text_embeddings(sur, tok, [str(c) for c in caps])
    for rule, zs in (("caption", [latent_z(key, str(c), gen.latent_dim) for c in caps]),
                     ("key", [latent_z(key, "", gen.latent_dim)] * len(caps))):
        with torch.no_grad():
            delta = gen(et, torch.from_numpy(np.stack(zs)))
        want = np.clip(np.round(imgs.astype(np.float32) + delta.permute(0, 2, 3, 1).numpy() * 255.0), 0, 255)
        got = protect_split(gen, sur, tok, d, key, rule)
        # float order may flip a rare rounding; the two rules differ in ~16 % of the samples here
        assert (got != want).mean() < 0.01 and np.abs(got.astype(int) - want.astype(int)).max() <= 1, rule
    assert (protect_split(gen, sur, tok, d, key, "caption") != protect_split(gen, sur, tok, d, key, "key")).mean() > 0.05
    from t2ue_models.ablate import label_cos
    d["labels"] = np.array([0, 1, 2, 3, 0, 4, 5, 6])          # the one same-label pair shares its caption
    same, diff = label_cos(gen, sur, tok, d, key, "key")
    assert same == pytest.approx(1.0, abs=1e-5) and -1 <= diff < 0.999


def test_grayscale_scraper_and_luma_only_generator():
    """A grayscale scraper keeps an equal-channel noise whole and removes what is pure chroma; the luma-only
    probe generator makes equal-channel noise; ablate's luma_share reads 1 for it and < 1 otherwise; p_gray 0
    draws no extra random number (older recipes replay unchanged)."""
    from t2ue_models.ablate import apply_pre, luma_share
    x = torch.rand(2, 3, 64, 64) * 0.8 + 0.1
    n = torch.rand(2, 1, 64, 64) * 0.06 - 0.03
    assert torch.allclose(A.grayscale(x + n.expand(-1, 3, -1, -1)), A.grayscale(x) + n.expand(-1, 3, -1, -1), atol=1e-6)
    chroma = torch.cat([n, -n * 0.299 / 0.587, torch.zeros_like(n)], 1)          # zero luma
    assert torch.allclose(A.grayscale(x + chroma), A.grayscale(x), atol=1e-6)
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    A.scraper(x, n.expand(-1, 3, -1, -1), gen=g1, p_crop=0.5, p_jpeg=0.5)
    A.scraper(x, n.expand(-1, 3, -1, -1), gen=g2, p_crop=0.5, p_jpeg=0.5, p_gray=0.0)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))
    y = A.scraper(x, n.expand(-1, 3, -1, -1), gen=torch.Generator().manual_seed(0), p_crop=0, p_jpeg=0, p_gray=1.0)
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])

    sur, imgs, caps = _tiny()
    torch.manual_seed(0)
    luma, rgb = Generator(resolution=64, luma_only=True).eval(), Generator(resolution=64).eval()
    e, z = torch.nn.functional.normalize(torch.randn(2, 256), dim=-1), torch.randn(2, luma.latent_dim)
    with torch.no_grad():
        d = luma(e, z)
    assert torch.equal(d[:, 0], d[:, 1]) and torch.equal(d[:, 0], d[:, 2]) and d.abs().max() <= EPSILON + 1e-7
    with torch.no_grad():
        rgb.basis.normal_(0, 1.0)
    data = {"captions": caps}
    assert luma_share(luma, sur, Tokenizer(), data) == pytest.approx(1.0, abs=1e-3)
    assert 0.2 < luma_share(rgb, sur, Tokenizer(), data) < 0.7             # independent channels: ~0.45
    g = apply_pre(imgs, "gray")
    assert g.shape == imgs.shape and (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    assert not np.array_equal(apply_pre(imgs, "jpeg50"), imgs)


def test_channel_shuffle_scraper():
    """The scraper model's channel shuffle permutes each image's channels (p 1), leaves them alone (p 0), is
    differentiable, and p_chshuffle 0 draws no extra random number (older recipes replay unchanged)."""
    x = torch.rand(64, 3, 8, 8)
    y = A.channel_shuffle(x, 1.0, torch.Generator().manual_seed(0))
    perms = set()
    for i in range(len(x)):
        match = [j for k in range(3) for j in range(3) if torch.equal(y[i, k], x[i, j])]
        assert sorted(match) == [0, 1, 2]
        perms.add(tuple(match))
    assert len(perms) >= 4                                      # 64 draws of 6 orders: several seen
    assert torch.equal(A.channel_shuffle(x, 0.0, torch.Generator().manual_seed(0)), x)
    half = A.channel_shuffle(x, 0.5, torch.Generator().manual_seed(0))
    same = sum(torch.equal(half[i], x[i]) for i in range(len(x)))
    assert 16 < same < 64
    d = torch.zeros(2, 3, 8, 8, requires_grad=True)
    A.channel_shuffle(x[:2] + d, 1.0).sum().backward()
    assert torch.equal(d.grad, torch.ones_like(d))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, 16, 16)
    A.scraper(x, x * 0, gen=g1, p_crop=0.5, p_jpeg=0.5)
    A.scraper(x, x * 0, gen=g2, p_crop=0.5, p_jpeg=0.5, p_chshuffle=0.0)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


def test_ablate_refuses_a_misspelt_transform_before_any_work(tmp_path):
    from t2ue_models.ablate import main
    for bad in (["--aug", "uerasr"], ["--aug", "std+max0"], ["--pre", "jpg75"], ["--hacker-seeds", "0,x"],
                ["--hacker-seeds", ","], ["--steps", "100", "--stop-after", "101"], ["--stop-after", "-1"],
                ["--save-at", "4x"], ["--steps", "100", "--save-at", "50,101"], ["--save-at", "0"],
                ["--steps", "100", "--stop-after", "60", "--save-at", "70"]):
        with pytest.raises(SystemExit) as e:
            main(["--out", str(tmp_path / "out"), *bad])
        assert e.value.code == 2
    assert not (tmp_path / "out").exists()


def test_ablate_seed_means():
    """Several hacker seeds: the mean, element-wise for CLIP's [I2T, T2I], and the per-seed values kept; one seed:
    the value unchanged, no extra key (the single-seed result files read as before)."""
    from t2ue_models.ablate import seed_means
    got = seed_means({"fmnist_cls_acc": [40.0, 50.0, 45.5], "clipA_R10_i2t_t2i": [[10.0, 20.0], [12.0, 21.0]]})
    assert got == {"fmnist_cls_acc": 45.17, "fmnist_cls_acc_per_seed": [40.0, 50.0, 45.5],
                   "clipA_R10_i2t_t2i": [11.0, 20.5], "clipA_R10_i2t_t2i_per_seed": [[10.0, 20.0], [12.0, 21.0]]}
    assert seed_means({"fmnist_cls_acc@gray": [61.3]}) == {"fmnist_cls_acc@gray": 61.3}
