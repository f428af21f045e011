"""What could *any* noise of this size do against the hackers? Reference noises, some of them oracles.

    python -m t2ue_models.noise_bounds [--variants LIST] [--cls-steps 260] [--clip-steps 150] \
        [--out DIR] [--report models/reports/noise-bounds/REPORT.md]

The efficacy report (t2ue_models.efficacy) says whether the shipped generator protects. This script says
what would: it protects the Fashion-MNIST and clip-art training splits with hand-made noises, trains the
same t2ue_eval hackers for the same fixed step counts as the efficacy run (classifier 260, CLIP A 150), and
tests them on the clean test splits. Variants (amplitude in 8-bit levels after '@', default the bundle's
RMS cap, 4.2, so a +-a sign pattern has exactly the cap's energy):

  clean              no noise (reference)
  shipped            the shipped generator (phase-2 energy-capped checkpoint of the run directory) in
                     PyTorch, z from a fixed key and the caption by the contract's KDF, as the CLI does
  bundle             the committed default bundle's graphs in onnxruntime (what ships, int8 weights; needs no
                     run directory; --bundle picks another), z by the bundle's latent rule from a fixed key
  bundle-capz        the same graphs, z from the key and the caption (the "key-caption" rule of format 1)
  bundle-keyz        the same graphs, z from the key alone (the "key" rule, the KDF with empty info): one z for
                     every caption, so the noise depends on the caption only through e_t
  bundle-z0          the same graphs, z = 0
  bundle-mask<B>     the `bundle` noise times a key-derived +-1 mask on BxB pixel blocks (one mask per key, the
                     same for every caption): a structural way to make the key matter (see docs/efficacy.md)
  bundle-labelpool   ORACLE: the bundle's generator fed, for every caption, the normalised mean of the bundle's
                     caption embeddings over its Fashion-MNIST *label* (the six templates of a class give one
                     noise): how much the template-to-template variation of the noise costs
  bundle-tag         ORACLE: the bundle's generator fed the embedding of the Fashion-MNIST class *name* ("dress")
                     instead of the caption (an app that makes the noise from one subject tag per subject rather
                     than from each photo's own caption)
  bundle-onecap      ORACLE: every caption of a label replaced by one caption, "a photo of a <class>." (an app that
                     protects each album or subject with one caption instead of each photo's own wording)
  bundle-snap<K>     the bundle's generator fed the caption embedding's nearest of K spherical k-means centroids
                     of the bundle's embeddings of the clip-art training captions (no Fashion-MNIST caption
                     among them; cluster-wise noise that a bundle could ship as a K x 384 table)
  bundle-nap<M>      the bundle's generator fed the caption embedding with its M main *phrasing* directions
                     projected out (nuisance attribute projection): the directions along which one subject's
                     embedding moves when it is worded with different generic templates (data.GENERIC_TEMPLATES, none of
                     them a Fashion-MNIST template nor sharing their words), estimated on 500 clip-art subjects;
                     a fixed 384 x 384 linear map a generator graph could carry
  bundle-group<T>    LABEL-FREE album grouping: the distinct captions of the set being protected are grouped by
                     average-linkage clustering of the bundle's caption embeddings, cutting where the mean cosine
                     between groups falls under T/100; every caption is replaced by its group's normalised mean
                     embedding (what an app protecting a whole album at once could do without labels; T = 60 is
                     the cut that best groups data.GENERIC_TEMPLATES rewordings of 200 clip-art subjects, pair F1
                     0.87, chosen there and not on Fashion-MNIST; `--calibrate-group` prints that table)
  label-px@A         ORACLE: one random +-A pattern per Fashion-MNIST *label*, per pixel
  label-block@A      ORACLE: one random +-A pattern per label on an 8x8 grid of blocks (low frequency)
  caption-block@A    one random +-A block pattern per distinct caption (sample-wise, no semantics)
  words@A            the sum of one random block pattern per distinct word of the caption, scaled to RMS A
                     (bag of words: the easiest caption -> noise map for a text tower to learn)
  projection         a fixed random projection of the surrogate's caption embedding onto the 8x8 grid,
                     tanh, energy-capped (semantic, training-free)
  cluster<K>@A       the caption embedding's nearest of K k-means centroids (over the generator's target
                     captions) picks one random +-A block pattern (cluster-wise noise)

Label oracles need labels, so they run on Fashion-MNIST only. Images are protected as the shipped path
does (add, round, clip to 8 bits) at the cached data's resolution. Results are cached per variant,
dataset and step count (and, for bundle variants, the bundle's version and manifest hash) under --out; a
killed run resumes.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import data as D
from . import train as T
from .ablate import psnr
from .cli_args import int_list
from .paths import cache_dir, data_dir, runs_dir

DEFAULT_VARIANTS = ("clean,shipped,label-px@8,label-block@8,label-block,caption-block@8,caption-block,"
                    "words,projection,cluster512")
GRID = 8          # block patterns live on a GRID x GRID grid, upsampled (nearest) to the image size
KEY = bytes(range(32))
LABEL_BUNDLE_VARIANTS = ("bundle-labelpool", "bundle-tag", "bundle-onecap")     # bundle variants that need the labels (oracles)
MODELS_DIR = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = MODELS_DIR / "bundles" / "clipart-mnv2-minilm"
DEFAULT_REPORT = MODELS_DIR / "reports" / "noise-bounds" / "REPORT.md"


def parse_variant(v: str, default_amp: float):
    name, _, amp = v.partition("@")
    return name, float(amp) if amp else default_amp


def sign_patterns(n: int, seeds, res: int) -> torch.Tensor:
    """n random +-1 patterns [n, 3, GRID, GRID] upsampled to res; seeds: one int per pattern."""
    P = torch.stack([torch.randint(0, 2, (3, GRID, GRID), generator=torch.Generator().manual_seed(int(s))).float() * 2 - 1
                     for s in seeds])
    return F.interpolate(P, size=(res, res), mode="nearest")


def caption_seed(c: str) -> int:
    return int.from_bytes(hashlib.sha256(c.encode()).digest()[:8], "little") >> 1


def key_mask(key: bytes, block: int, res: int) -> torch.Tensor:
    """A +-1 mask [3, res, res] constant on block x block tiles, drawn from a hash of the key."""
    g = -(-res // block)
    seed = int.from_bytes(hashlib.sha256(b"t2ue/mask/experiment" + key).digest()[:8], "little") >> 1
    m = torch.randint(0, 2, (1, 3, g, g), generator=torch.Generator().manual_seed(seed)).float() * 2 - 1
    return F.interpolate(m, scale_factor=block, mode="nearest")[0, :, :res, :res]


def energy_cap(d: torch.Tensor, cap: float) -> torch.Tensor:
    rms = d.pow(2).mean(dim=(1, 2, 3), keepdim=True).add(1e-12).sqrt()
    return d * torch.clamp(cap / rms, max=1.0)


def group_embeddings(E: np.ndarray, thr: float) -> np.ndarray:
    """Group ids of the rows of E: average-linkage clustering on cosine distance, merging while the mean cosine
    between two groups is at least thr."""
    from scipy.cluster.hierarchy import fcluster, linkage
    if len(E) < 2:
        return np.ones(len(E), int)
    return fcluster(linkage(np.asarray(E, np.float64), method="average", metric="cosine"), t=1.0 - thr,
                    criterion="distance")


def pair_scores(groups: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(precision, recall, F1) of "same group" against "same truth" over all pairs of rows; precision (and F1) is
    nan when no two rows share a group."""
    iu = np.triu_indices(len(truth), 1)
    same_g, same_t = (groups[:, None] == groups[None])[iu], (truth[:, None] == truth[None])[iu]
    tp = float((same_g & same_t).sum())
    if not same_g.any():
        return float("nan"), 0.0, float("nan")
    p, r = tp / float(same_g.sum()), tp / max(float(same_t.sum()), 1.0)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def calibrate_group_cut(noises: "Noises", n_subjects: int = 200, seed: int = 1,
                        cuts=tuple(round(0.30 + 0.05 * i, 2) for i in range(14))) -> list[dict]:
    """How well each cut of group_embeddings puts the data.GENERIC_TEMPLATES rewordings of n_subjects clip-art
    training captions (seeded choice) together and different subjects apart: the label-free calibration of
    bundle-group<T> (no Fashion-MNIST caption involved)."""
    caps = noises._clipart_captions()
    subj = [caps[i] for i in np.random.default_rng(seed).choice(len(caps), n_subjects, replace=False)]
    tm = D.GENERIC_TEMPLATES
    E = noises.bundle_embed([t.format(s) for s in subj for t in tm])
    truth = np.repeat(np.arange(len(subj)), len(tm))
    rows = []
    for c in cuts:
        g = group_embeddings(E, c)
        p, r, f = pair_scores(g, truth)
        rows.append({"cut": c, "groups": int(len(set(g.tolist()))), "precision": p, "recall": r, "f1": f})
    return rows


class Noises:
    """delta (pixel units, [N, 3, R, R]) for a list of captions (and labels, for the oracles)."""

    def __init__(self, R: int, rms_cap_levels: float, bundle: Path = DEFAULT_BUNDLE):
        self.R, self.cap, self.bundle = R, rms_cap_levels / 255.0, Path(bundle)
        self.rd = runs_dir() / f"clipart-mnv2-minilm-r{R}"
        self._sur, self._gen, self._corpus, self._kmeans = None, None, None, {}
        self.key = KEY
        self._ort = None

    def embed(self, captions: list[str]) -> torch.Tensor:
        """The trained surrogate's caption embeddings (loaded on first use: oracles do not need it)."""
        if self._sur is None:
            from .pipeline import load_surrogate
            from .text import Tokenizer
            self._sur, self._tok = load_surrogate(self.rd), Tokenizer()
        return T.text_embeddings(self._sur, self._tok, captions)

    def _bundle(self):
        """(text encoder session, generator session, tokenizer, latent size) of the bundle (default: the committed one),
        loaded once."""
        if self._ort is None:
            from .text import Tokenizer
            from .kdf import manifest_latent_rule
            b = self.bundle
            m = json.loads((b / "manifest.json").read_text())
            if m["resolution"] != self.R:
                raise ValueError(f"the bundle {b} is {m['resolution']} px, not {self.R}")
            self.latent_rule = manifest_latent_rule(m)
            from .export import ort_session
            sess = [ort_session(b / f, threads=torch.get_num_threads()) for f in ("text_encoder.onnx", "generator.onnx")]
            self._ort = (*sess, Tokenizer(b / "tokenizer.json", m["context_length"], m["tokenizer"]["pad_id"]),
                         m["latent_dim"])
        return self._ort

    def bundle_embed(self, captions: list[str]) -> np.ndarray:
        """The bundle's caption embeddings (its text encoder through onnxruntime), [N, 384] float32."""
        te, _, tok, _ = self._bundle()
        out = []
        for i in range(0, len(captions), 256):
            ids, mask = tok(captions[i:i + 256])
            out.append(te.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return np.concatenate(out)

    def _label_pool(self, captions: list[str], labels) -> "callable":
        """et_map of bundle-labelpool: each caption -> the normalised mean embedding of its label's distinct captions."""
        y = np.asarray(labels)
        lab = {}
        for c, l_ in zip(captions, y):
            lab.setdefault(int(l_), set()).add(c)
        mean = {}
        for l_, cs in lab.items():
            m = self.bundle_embed(sorted(cs)).mean(0)
            mean[l_] = m / np.linalg.norm(m)
        rows = np.stack([mean[int(l_)] for l_ in y])
        return lambda et, sl: rows[sl]

    def _label_tag(self, labels, template: str = "{}") -> "callable":
        """et_map of bundle-tag / bundle-onecap: each caption -> the embedding of its label's Fashion-MNIST class
        name put in `template`."""
        y = np.asarray(labels)
        names = self.bundle_embed([template.format(c) for c in D.FMNIST_CLASSES])
        return lambda et, sl: names[y[sl]]

    def _clipart_captions(self) -> list[str]:
        """The distinct clip-art training captions (sorted): what the label-free embedding maps are fitted on."""
        return sorted(set(str(c) for c in D.load(data_dir() / f"r{self.R}" / "clipart_train.npz")["captions"]))

    def _snap_centroids(self, k: int) -> np.ndarray:
        """K spherical k-means centroids (seeded) of the bundle's embeddings of the distinct clip-art training captions."""
        if ("snap", k) not in self._kmeans:
            from .nets import kmeans
            self._kmeans[("snap", k)] = kmeans(torch.from_numpy(self.bundle_embed(self._clipart_captions())), k, seed=0).numpy()
        return self._kmeans[("snap", k)]

    def _nap_projection(self, m: int, subjects: list[str] | None = None, n_subjects: int = 500) -> np.ndarray:
        """I - U U^T with U the m main directions of the within-subject scatter of the bundle's embeddings of
        `subjects` (default: n_subjects clip-art training captions, seeded choice), each worded with every
        data.GENERIC_TEMPLATES entry."""
        if subjects is None and ("nap", m) in self._kmeans:
            return self._kmeans[("nap", m)]
        subj = subjects
        if subj is None:
            caps = self._clipart_captions()
            subj = [caps[i] for i in np.random.default_rng(0).choice(len(caps), n_subjects, replace=False)]
        tm = D.GENERIC_TEMPLATES
        E = self.bundle_embed([t.format(s) for s in subj for t in tm]).reshape(len(subj), len(tm), -1)
        resid = (E - E.mean(1, keepdims=True)).reshape(-1, E.shape[-1]).astype(np.float64)
        U = np.linalg.svd(resid, full_matrices=False)[2][:m].T            # [384, m]
        P = (np.eye(E.shape[-1]) - U @ U.T).astype(np.float32)
        if subjects is None:
            self._kmeans[("nap", m)] = P
        return P

    def _group_pool(self, captions: list[str], thr: float) -> "callable":
        """et_map of bundle-group<T>: each caption -> the normalised mean embedding of its group of distinct captions
        (group_embeddings at cut thr). Uses no label."""
        uniq = sorted(set(captions))
        E = self.bundle_embed(uniq).astype(np.float64)
        g = group_embeddings(E, thr)
        mean = {k: E[g == k].mean(0) for k in set(g.tolist())}
        row = {c: (mean[k] / np.linalg.norm(mean[k])).astype(np.float32) for c, k in zip(uniq, g.tolist())}
        self.last_groups = (len(uniq), len(mean))
        rows = np.stack([row[c] for c in captions])
        return lambda et, sl: rows[sl]

    def bundle_noise(self, variant: str, captions: list[str], labels=None) -> torch.Tensor:
        """delta from the bundle through onnxruntime; z per `variant` (see the module doc)."""
        from .kdf import latent_z
        if variant.startswith("bundle-mask") and variant[len("bundle-mask"):].isdigit():
            return self.bundle_noise("bundle", captions) * key_mask(self.key, int(variant[len("bundle-mask"):]), self.R)
        et_map = None
        if variant in LABEL_BUNDLE_VARIANTS:
            if labels is None:
                raise ValueError(f"{variant} needs labels")
            et_map = (self._label_pool(captions, labels) if variant == "bundle-labelpool" else
                      self._label_tag(labels, "{}" if variant == "bundle-tag" else D.FMNIST_TEMPLATES[0]))
            variant = "bundle"
        elif variant.startswith("bundle-nap") and variant[len("bundle-nap"):].isdigit():
            P = self._nap_projection(int(variant[len("bundle-nap"):]))
            et_map = lambda et, sl: (lambda q: q / np.linalg.norm(q, axis=1, keepdims=True))(et @ P)  # noqa: E731
            variant = "bundle"
        elif variant.startswith("bundle-group") and variant[len("bundle-group"):].isdigit():
            et_map = self._group_pool(captions, int(variant[len("bundle-group"):]) / 100.0)
            variant = "bundle"
        elif variant.startswith("bundle-snap") and variant[len("bundle-snap"):].isdigit():
            cent = self._snap_centroids(int(variant[len("bundle-snap"):]))
            et_map = lambda et, sl: cent[(et @ cent.T).argmax(1)]     # noqa: E731
            variant = "bundle"
        z_mode = {"bundle": "rule", "bundle-capz": "caption", "bundle-keyz": "key", "bundle-z0": "zero"}.get(variant)
        if z_mode is None:
            raise ValueError(f"unknown variant {variant!r}")
        _, gen, _, zd = self._bundle()
        if z_mode == "rule":
            z_mode = {"key": "key", "key-caption": "caption"}[self.latent_rule]
        out = []
        for i in range(0, len(captions), 256):
            chunk = captions[i:i + 256]
            et = self.bundle_embed(chunk)
            if et_map is not None:
                et = np.ascontiguousarray(et_map(et, slice(i, i + len(chunk))), dtype=np.float32)
            if z_mode == "zero":
                z = np.zeros((len(chunk), zd), np.float32)
            else:
                z = np.stack([latent_z(self.key, c if z_mode == "caption" else "", zd) for c in chunk]).astype(np.float32)
            out.append(torch.from_numpy(gen.run(None, {"text_embedding": et, "z": z})[0]))
        return torch.cat(out)

    def cell_file(self, out: Path, variant: str, amp: float, dataset: str, steps: int, seed: int = 0) -> Path:
        """Where a cell's result is cached; bundle variants are keyed by the bundle too, hacker seeds other than
        0 by a suffix (seed 0's name predates the option)."""
        tag = ""
        if variant.startswith("bundle"):
            raw = (self.bundle / "manifest.json").read_bytes()
            tag = f"[{json.loads(raw)['version']}-{hashlib.sha256(raw).hexdigest()[:8]}]"
        return out / f"{variant}{tag}@{amp:g}-{dataset}-{steps}{f'-s{seed}' if seed else ''}.json"

    def corpus(self) -> torch.Tensor:
        """Embeddings of the generator's target captions (what the k-means clusters are fitted on)."""
        if self._corpus is None:
            from .pipeline import generator_data
            self._corpus = self.embed(generator_data(data_dir() / f"r{self.R}")[1])
        return self._corpus

    def __call__(self, variant: str, amp: float, captions: list[str], labels) -> torch.Tensor:
        a, R = amp / 255.0, self.R
        if variant.startswith("bundle"):
            return self.bundle_noise(variant, captions, labels)
        if variant not in ("clean", "shipped", "label-px", "label-block", "caption-block", "words", "projection") and not (
                variant.startswith("cluster") and variant[len("cluster"):].isdigit()):
            raise ValueError(f"unknown variant {variant!r}")
        if variant == "clean":
            return torch.zeros(len(captions), 3, R, R)
        if variant in ("label-px", "label-block"):
            if labels is None:
                raise ValueError(f"{variant} needs labels")
            if variant == "label-px":
                P = torch.randint(0, 2, (int(labels.max()) + 1, 3, R, R), generator=torch.Generator().manual_seed(3)).float() * 2 - 1
            else:
                P = sign_patterns(int(labels.max()) + 1, range(100, 100 + int(labels.max()) + 1), R)
            return a * P[torch.as_tensor(labels, dtype=torch.long)]
        if variant == "caption-block":
            return a * sign_patterns(len(captions), [caption_seed(c) for c in captions], R)
        if variant == "words":
            out = []
            for c in captions:
                words = sorted(set(re.findall(r"[a-z0-9]+", c.lower()))) or [""]
                S = sign_patterns(len(words), [caption_seed("word:" + w) for w in words], R).sum(0)
                out.append(a * S / S.pow(2).mean().add(1e-12).sqrt())
            return torch.stack(out)
        et = self.embed(captions)
        if variant == "shipped":
            from .kdf import latent_z
            from .pipeline import load_generator
            if self._gen is None:
                self._gen = load_generator(self.rd, R, float(self.cap * 255.0)).eval()
            z = torch.from_numpy(np.stack([latent_z(self.key, c, self._gen.latent_dim) for c in captions]))
            with torch.no_grad():
                return torch.cat([self._gen(et[i:i + 256], z[i:i + 256]) for i in range(0, len(captions), 256)])
        if variant == "projection":
            W = torch.randn(et.shape[1], 3 * GRID * GRID, generator=torch.Generator().manual_seed(11))
            c = et @ W
            c = F.interpolate((c / c.std(dim=1, keepdim=True)).view(-1, 3, GRID, GRID), size=(R, R), mode="nearest")
            return energy_cap((8 / 255.0) * torch.tanh(3.0 * c), self.cap)
        if variant.startswith("cluster"):
            from .nets import kmeans
            k = int(variant[len("cluster"):])
            if k not in self._kmeans:
                self._kmeans[k] = kmeans(self.corpus(), k, seed=0)
            assign = (et @ self._kmeans[k].t()).argmax(1)
            return a * sign_patterns(k, range(1000, 1000 + k), R)[assign]


def protect(images_u8: np.ndarray, delta: torch.Tensor) -> np.ndarray:
    x = images_u8.astype(np.float32) + delta.permute(0, 2, 3, 1).numpy() * 255.0
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def label_consistency(delta: torch.Tensor, labels: np.ndarray) -> list[float]:
    """Mean cosine of the GRID-pooled noise between images of the same label and of different labels."""
    X = F.normalize(F.adaptive_avg_pool2d(delta, GRID).flatten(1), dim=1)
    S = (X @ X.t()).numpy()
    y = np.asarray(labels)
    same = (y[:, None] == y[None]) & ~np.eye(len(y), dtype=bool)
    return [round(float(S[same].mean()), 3), round(float(S[y[:, None] != y[None]].mean()), 3)]


def run_one(noises: Noises, v: str, amp: float, name: str, steps: int, threads: int, seed: int = 0) -> dict:
    """One cell: protect the training split with noise `v`, train the hacker from scratch (initialisation,
    augmentation draws and batch order from `seed`; the noise does not depend on it), test on the clean split."""
    from t2ue_eval.hackers import train_classifier, train_clip
    from t2ue_eval.splits import Split
    ddir = data_dir() / f"r{noises.R}"
    tr, te = D.load(ddir / f"{name}_train.npz"), D.load(ddir / f"{name}_test.npz")
    labels = tr["labels"] if tr["labels"][0] >= 0 else None
    caps = [str(c) for c in tr["captions"]]
    uniq = sorted(set(caps))
    row = {c: i for i, c in enumerate(uniq)}
    if v.startswith("label") or v in LABEL_BUNDLE_VARIANTS:
        delta = noises(v, amp, caps, labels)
    else:
        delta = noises(v, amp, uniq, None)[torch.tensor([row[c] for c in caps])]
    prot = protect(tr["images"], delta)
    res = {"variant": v, "amp_levels": amp, "dataset": name, "steps": steps, "psnr_db": round(psnr(tr["images"], prot), 2),
           "delta_rms_levels": round(float(delta.pow(2).mean().sqrt() * 255), 3)}
    if labels is not None:
        res["noise_cos_same_diff_label"] = label_consistency(delta, labels)
    te_labels = te["labels"] if te["labels"][0] >= 0 else None
    s_tr, s_te = Split(prot, caps, [], labels), Split(te["images"], [str(c) for c in te["captions"]], [], te_labels)
    t0 = time.time()
    if name == "fmnist":
        r = train_classifier(s_tr, s_te, steps=steps, threads=threads, seed=seed, log=lambda m: None)
        res.update(accuracy=r["test"]["accuracy"], train_accuracy=r["train_subset"]["accuracy"],
                   random_accuracy=r["test"].get("random"))
    else:
        r = train_clip(s_tr, s_te, arch="A", steps=steps, threads=threads, seed=seed, log=lambda m: None)
        t = r["test"]
        res.update({"i2t_R@10": t["i2t"]["R@10"], "t2i_R@10": t["t2i"]["R@10"],
                    "random_R@10": t["i2t_random"]["R@10"], "train_i2t_R@10": r["train_subset"]["i2t"]["R@10"]})
    res["seconds"] = round(time.time() - t0, 1)
    if seed:
        res["hacker_seed"] = seed
    return res


def write_report(results: list[dict], path: Path, args: dict) -> None:
    def fmt(x):
        return "—" if x is None else (f"{x:.1f}" if isinstance(x, float) else str(x))
    by: dict[tuple, list[dict]] = {}
    for r in results:
        by.setdefault((r["variant"], r["amp_levels"], r["dataset"]), []).append(r)

    def pooled(rs: list[dict] | None, key: str) -> str:
        """One seed: the figure; several: mean [min-max] over the hacker seeds."""
        v = [r[key] for r in rs]
        return fmt(v[0]) if len(v) == 1 else f"{fmt(float(np.mean(v)))} [{fmt(min(v))}-{fmt(max(v))}]"
    seeds = args.get("hacker_seeds", "0")
    keys = list(dict.fromkeys((r["variant"], r["amp_levels"]) for r in results))    # in --variants order
    extra = "" if args.get("datasets", "fmnist,clipart") == "fmnist,clipart" else f" --datasets {args['datasets']}"
    if seeds != "0":
        extra += f" --hacker-seeds {seeds}"
    if args.get("report") and Path(args["report"]).resolve() != DEFAULT_REPORT.resolve():
        rp = Path(args["report"]).resolve()
        extra += f" --report {rp.relative_to(MODELS_DIR) if rp.is_relative_to(MODELS_DIR) else rp}"
    lines = ["# What could any noise do? Reference noises against the same hackers",
             "",
             f"Regenerate: `python -m t2ue_models.noise_bounds --variants {args['variants']} --cls-steps {args['cls_steps']} "
             f"--clip-steps {args['clip_steps']}{extra}` (from `models/`, the project venv; ~3 min per cell on 2 cores).",
             "Hackers and step counts are the efficacy run's (`t2ue_eval`, classifier and CLIP A from scratch, "
             + ("one seed);" if seeds == "0" else f"hacker seeds {seeds}: a cell gives the mean [min-max] over them, the "
                "noise is the same for every seed);"),
             "training sets protected in Python at 64 px, tested on the clean test splits. Amplitudes in 8-bit levels;",
             "4.2 is the shipped bundle's RMS cap (PSNR ~37 dB), 8 is the L-inf budget epsilon.",
             "",
             "| noise | amplitude | Fashion-MNIST classifier acc. % (train) | noise cos same / diff label | PSNR dB | clip-art CLIP A R@10 I2T / T2I % (train I2T) |",
             "|---|---|---|---|---|---|"]
    for v, amp in keys:
        fs, cs = by.get((v, amp, "fmnist")), by.get((v, amp, "clipart"))
        f, c = fs and fs[0], cs and cs[0]
        cls = f"{pooled(fs, 'accuracy')} ({pooled(fs, 'train_accuracy')})" if fs else "—"
        cos = " / ".join(map(str, f["noise_cos_same_diff_label"])) if f else "—"
        clean = (f or c)["delta_rms_levels"] == 0
        ps = "∞" if clean else fmt((f or c)["psnr_db"])
        if clean:
            amp, cos = 0.0, "—"
        clip = f"{pooled(cs, 'i2t_R@10')} / {pooled(cs, 't2i_R@10')} ({pooled(cs, 'train_i2t_R@10')})" if cs else "—"
        lines.append(f"| {v} | {amp:g} | {cls} | {cos} | {ps} | {clip} |")
    rnd = next((r for r in results if r["dataset"] == "fmnist"), {}).get("random_accuracy")
    rr = next((r for r in results if r["dataset"] == "clipart"), {}).get("random_R@10")
    lines += ["", f"Random guessing: classifier {fmt(rnd)} %, CLIP R@10 {fmt(rr)} %. Targets (issue 5): classifier <= 20 %, "
              "R@10 <= 2x random.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=DEFAULT_VARIANTS)
    ap.add_argument("--datasets", default="fmnist,clipart")
    ap.add_argument("--cls-steps", type=int, default=260)
    ap.add_argument("--clip-steps", type=int, default=150)
    ap.add_argument("--amp", type=float, default=4.2, help="default amplitude in 8-bit levels (the bundle's RMS cap)")
    ap.add_argument("--R", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="result cache (default $T2UE_CACHE/noise-bounds)")
    ap.add_argument("--bundle", default=str(DEFAULT_BUNDLE), help="bundle of the bundle* variants")
    ap.add_argument("--report", default=str(DEFAULT_REPORT))
    ap.add_argument("--hacker-seeds", default="0",
                    help="train each cell's hacker with each of these seeds (same noise); the report pools them")
    ap.add_argument("--calibrate-group", action="store_true",
                    help="print, for each cut of bundle-group<T>, how well it groups generic rewordings of clip-art "
                         "subjects (the calibration) and the Fashion-MNIST captions by class (the check); no training")
    a = ap.parse_args(argv)
    if a.calibrate_group:
        noises = Noises(a.R, a.amp, Path(a.bundle))
        fm = [t.format(c) for c in D.FMNIST_CLASSES for t in D.FMNIST_TEMPLATES]
        E_fm, y_fm = noises.bundle_embed(fm), np.repeat(np.arange(len(D.FMNIST_CLASSES)), len(D.FMNIST_TEMPLATES))
        print("| cut (T/100) | clip-art rewordings: groups | pair precision | recall | F1 "
              "| Fashion-MNIST captions (check): groups | precision | recall |\n|---|---|---|---|---|---|---|---|")
        for r in calibrate_group_cut(noises):
            g = group_embeddings(E_fm, r["cut"])
            p, rc, _ = pair_scores(g, y_fm)
            f3 = lambda x: "—" if np.isnan(x) else f"{x:.3f}"        # noqa: E731
            print(f"| {r['cut']:.2f} | {r['groups']} | {f3(r['precision'])} | {f3(r['recall'])} | {f3(r['f1'])} "
                  f"| {len(set(g.tolist()))} | {f3(p)} | {f3(rc)} |")
        return 0
    try:
        seeds = int_list(a.hacker_seeds, "--hacker-seeds")
    except ValueError as e:
        ap.error(str(e))
    torch.set_num_threads(a.threads)
    out = Path(a.out) if a.out else cache_dir() / "noise-bounds"
    out.mkdir(parents=True, exist_ok=True)
    noises = Noises(a.R, a.amp, Path(a.bundle))
    results = []
    for spec in a.variants.split(","):
        v, amp = parse_variant(spec, a.amp)
        for name in a.datasets.split(","):
            if (v.startswith("label") or v in LABEL_BUNDLE_VARIANTS) and name != "fmnist":
                continue
            steps = a.cls_steps if name == "fmnist" else a.clip_steps
            for seed in seeds:
                f = noises.cell_file(out, v, amp, name, steps, seed)
                if f.exists():
                    r = json.loads(f.read_text())
                else:
                    print(f"[noise-bounds] {v}@{amp:g} on {name}, {steps} steps, hacker seed {seed} ...", flush=True)
                    r = run_one(noises, v, amp, name, steps, a.threads, seed)
                    tmp = f.with_suffix(".tmp")
                    tmp.write_text(json.dumps(r, indent=1))
                    tmp.replace(f)
                print(f"[noise-bounds] {json.dumps(r)}", flush=True)
                results.append(r)
    write_report(results, Path(a.report), vars(a))
    print(f"[noise-bounds] wrote {a.report}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
