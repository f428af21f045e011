"""Command line of the hacker side of the efficacy evaluation.

  python -m t2ue_eval.cli train-clip --arch A --train DIR --test DIR --steps 2000 --out result.json
  python -m t2ue_eval.cli train-classifier --train DIR --test DIR --steps 1000 --out result.json
  python -m t2ue_eval.cli quality --clean DIR --protected DIR [--out q.json]
  python -m t2ue_eval.cli make-shapes --out DIR --n 2000 [--seed 0]       (synthetic sanity set)
  python -m t2ue_eval.cli npz-to-dir --npz FILE.npz --out DIR              (plain .npz -> split dir)

Common training options: --threads N, --time-budget SECONDS, --pre jpeg75,webp75,resize0.5,gray,blur1
(applied to the training files as read; `gray` also to the test files unless --pre-on-test none),
--aug std|rrc|flip|trivial|autoaug|randaug|cutout|mixup|heavy|plasma|chshuffle|ueraser|max<K>|none (comma list), --seed, --batch,
--lr, --res. Results are JSON (stdout summary line + --out file).
"""
from __future__ import annotations

import argparse
import json
import sys


def _common(p):
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--time-budget", type=float, default=None, help="seconds of training (caps --steps)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--wd", type=float, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--pre", default=None, help="robustness pre-transforms, e.g. jpeg75 or resize0.5,gray")
    p.add_argument("--pre-on-test", default="domain", choices=["domain", "all", "none"])
    p.add_argument("--aug", default=None)
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training rows")
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--model-kw", default=None, help="JSON dict of model constructor options")
    p.add_argument("--out", default=None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="t2ue_eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("train-clip")
    c.add_argument("--arch", default="A", choices=["A", "B", "a", "b"])
    c.add_argument("--plain-clip-loss", action="store_true",
                   help="treat duplicate captions in a batch as negatives (default: as positives)")
    c.add_argument("--eval-train-n", type=int, default=500)
    _common(c)
    k = sub.add_parser("train-classifier")
    k.add_argument("--n-classes", type=int, default=None)
    _common(k)
    q = sub.add_parser("quality")
    q.add_argument("--clean", required=True)
    q.add_argument("--protected", required=True)
    q.add_argument("--max-images", type=int, default=None)
    q.add_argument("--out", default=None)
    s = sub.add_parser("make-shapes")
    s.add_argument("--out", required=True)
    s.add_argument("--n", type=int, default=2000)
    s.add_argument("--res", type=int, default=64)
    s.add_argument("--seed", type=int, default=0)
    z = sub.add_parser("npz-to-dir")
    z.add_argument("--npz", required=True)
    z.add_argument("--out", required=True)
    z.add_argument("--fmt", default="png")
    z.add_argument("--limit", type=int, default=None)
    a = ap.parse_args(argv)

    def log(msg):
        print(msg, flush=True)

    if a.cmd in ("train-clip", "train-classifier"):
        from pathlib import Path
        from . import hackers
        from .transforms import BatchAug, parse_pre
        try:                            # bad input is refused (exit 2) before the splits are read
            if a.aug is not None:
                BatchAug(a.aug)
            parse_pre(a.pre)
            for d in (a.train, a.test):
                if not (Path(d) / "captions.csv").is_file():
                    raise ValueError(f"{d}: not a split directory (it has no captions.csv)")
        except ValueError as e:
            ap.error(str(e))
        kw = dict(steps=a.steps, batch=a.batch, time_budget=a.time_budget, threads=a.threads, pre=a.pre,
                  pre_on_test=a.pre_on_test, res=a.res, seed=a.seed, limit=a.limit, log_every=a.log_every,
                  model_kw=json.loads(a.model_kw) if a.model_kw else None, log=log)
        if a.lr is not None:
            kw["lr"] = a.lr
        if a.wd is not None:
            kw["wd"] = a.wd
        if a.aug is not None:
            kw["aug"] = a.aug
        if a.cmd == "train-clip":
            r = hackers.train_clip(a.train, a.test, arch=a.arch, same_caption_positive=not a.plain_clip_loss,
                                   eval_train_n=a.eval_train_n, **kw)
        else:
            r = hackers.train_classifier(a.train, a.test, n_classes=a.n_classes, **kw)
        if a.out:
            hackers.save_result(r, a.out)
            log(f"wrote {a.out}")
        return 0
    if a.cmd == "quality":
        from .metrics import quality
        r = quality(a.clean, a.protected, a.max_images)
        print(json.dumps(r, indent=1))
        if a.out:
            with open(a.out, "w") as f:
                json.dump(r, f, indent=1)
        return 0
    if a.cmd == "make-shapes":
        from .synth import write_shapes
        print(write_shapes(a.out, a.n, a.res, a.seed))
        return 0
    if a.cmd == "npz-to-dir":
        from .splits import npz_to_split
        print(npz_to_split(a.npz, a.out, a.fmt, a.limit))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
