"""Efficacy run (issue 5): make the protected training sets, train the hackers on each, write the report.

    python -m t2ue_models.efficacy --bundle models/bundles/<name> [--budget 300] [--conditions ...]

This module is the *data maker*: it writes plain split directories (images + captions.csv) for each
condition and then starts the hackers (`python -m t2ue_eval.cli`, package `t2ue_eval`, which never
imports generator or surrogate code) as separate processes on those directories. T2UE data is written by
the shipped path: the Rust CLI `t2ue protect` with the committed bundle and a fresh key. Baselines (EM,
MEM-k) come from `t2ue_models.baselines` on the same surrogate; the random-noise control is uniform
+-epsilon per pixel. Every result lands as JSON under the work directory; the report (markdown + PNG
plots) is regenerated from those JSON files, so a killed run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import data as D
from .cli_args import int_list
from .paths import MODELS_DIR, runs_dir

REPO = MODELS_DIR.parent
EPS_LEVELS = 8                       # epsilon = 8/255, the bundle's and the baselines' budget


def log(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def _measured() -> str:
    """When a cost was measured (kept with it: cached costs are reused by later invocations)."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


def _json(p: Path, obj=None):
    if obj is None:
        return json.loads(p.read_text())
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, p)
    return obj


def t2ue_bin() -> Path:
    b = os.environ.get("T2UE_BIN")
    tdir = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    for c in ([Path(b)] if b else []) + [tdir / "release" / "t2ue", tdir / "debug" / "t2ue"]:
        if c.exists():
            return c
    raise FileNotFoundError("the t2ue CLI is not built: run `cargo build --release -p t2ue-cli` (or set T2UE_BIN)")


def export_splits(ddir: Path, work: Path, n_train: int | None, n_test: int | None) -> dict:
    """Clean splits as directories: clip-art train/test, Fashion-MNIST train/test (with labels)."""
    from t2ue_eval.splits import npz_to_split
    out = {}
    for name, lim in (("clipart_train", n_train), ("clipart_test", n_test), ("fmnist_train", n_train),
                      ("fmnist_test", n_test)):
        d = work / "clean" / name
        if not (d / "captions.csv").exists():
            npz_to_split(ddir / f"{name}.npz", d, "png", lim)
        out[name] = d
    return out


# Runs argv[2:] as its child and writes "<peak RSS KiB> <exit code>" of that child to the file argv[1].
_MEASURE = ("import os, sys\n"
            "pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)\n"
            "_, status, ru = os.wait4(pid, 0)\n"
            "open(sys.argv[1], 'w').write(f'{ru.ru_maxrss} {os.waitstatus_to_exitcode(status)}')\n")


def run_measured(cmd: list, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run `cmd` to completion; its result (stdout/stderr as text) and the peak RSS in MB of that process
    alone. Neither RUSAGE_CHILDREN (the largest of every child this process has waited for) nor wait4 on a
    direct child (Linux starts a child's peak at its parent's resident size, which this Python process with
    torch loaded makes ~0.5 GB) measure the command itself, so it runs under a small Python that spawns it and
    reports the grandchild's own peak (whose floor is that small process's few MB)."""
    import tempfile
    with tempfile.TemporaryDirectory() as td:
        rss = Path(td) / "maxrss"
        r = subprocess.run([sys.executable, "-c", _MEASURE, str(rss), *map(str, cmd)], capture_output=True,
                           text=True, env=env)
        if not rss.exists():
            raise RuntimeError(f"could not run {cmd[0]}: {r.stderr[-2000:]}")
        maxrss_kb, code = map(int, rss.read_text().split())
        # the command's own exit code, negative for a signal as subprocess gives it (the small Python's
        # own exit status cannot carry a signal)
        return subprocess.CompletedProcess(cmd, code, r.stdout, r.stderr), round(maxrss_kb / 1024, 1)


def same_generators(man: dict) -> set[str]:
    """The generator.onnx hashes that compute what this manifest's generator computes: its own and, where the
    committed graph was stripped of exporter metadata (`export --strip`, which checks the outputs stay bit for
    bit the same), the hash before the strip."""
    shas = {man["files"]["generator.onnx"]["sha256"]}
    prev = man.get("provenance", {}).get("stripped", {}).get("previous", {}).get("generator.onnx")
    if prev:
        shas.add(prev["sha256"])
    return shas


def t2ue_sets_made_by(work: Path, man: dict) -> tuple[str, str] | None:
    """(generator.onnx sha256, how it is known) of the cached T2UE training sets under work/t2ue/, or None when
    there are none. Raises ValueError when a set was written by a generator that does not compute what this
    bundle's does (a --work directory of another bundle): its hackers would be reported under the wrong bundle.
    Sets written before the hash was recorded: inferred from the work directory's default name (the first 12 hex
    of the generator's hash), else "not recorded"."""
    ok, found = same_generators(man), []
    for f in sorted((work / "t2ue").glob("*/cost.json")):
        sha = _json(f).get("generator_sha256")
        if sha is None:
            guess = [s for s in ok if re.fullmatch(r"[0-9a-f]{12}", work.name) and s.startswith(work.name)]
            found.append((guess[0], "inferred from the work directory's name") if guess else ("", "not recorded"))
        elif sha not in ok:
            raise ValueError(f"{f.parent} was protected by generator.onnx {sha[:12]}…, not by this bundle's "
                             f"({man['files']['generator.onnx']['sha256'][:12]}…): use another --work directory")
        else:
            found.append((sha, "recorded when the set was written"))
    return found[0] if found else None


def protect_with_cli(bundle: Path, src: Path, dst: Path, key_file: Path, jobs: int) -> dict:
    """`t2ue protect` over a split directory; seconds per image and the CLI's peak RSS."""
    if (dst / "captions.csv").exists():
        return _json(dst / "cost.json")
    tmp = dst.with_name(dst.name + ".partial")
    cmd = [str(t2ue_bin()), "protect", str(src), "--captions", str(src / "captions.csv"), "--out", str(tmp),
           "--bundle", str(bundle), "--key-file", str(key_file), "--jobs", str(jobs), "--json"]
    t0 = time.time()
    r, peak_mb = run_measured(cmd, env={**os.environ, "RUST_BACKTRACE": "0"})
    secs = time.time() - t0
    if r.returncode != 0:
        raise RuntimeError(f"t2ue protect failed ({r.returncode}): {r.stderr[-2000:]}")
    reports = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    shutil.copy(src / "captions.csv", tmp / "captions.csv")
    n = len(D_rows(src))
    cost = {"images": n, "seconds": round(secs, 2), "seconds_per_image": round(secs / n, 4), "jobs": jobs,
            "peak_rss_mb": peak_mb, "measured": _measured(),
            "reports": len(reports), "command": " ".join(cmd),
            "generator_sha256": json.loads((bundle / "manifest.json").read_text())["files"]["generator.onnx"]["sha256"]}
    _json(tmp / "cost.json", cost)
    os.replace(tmp, dst)
    return cost


def D_rows(d: Path) -> list:
    from t2ue_eval.splits import read_csv
    return read_csv(d)


def random_noise_split(src: Path, dst: Path, seed: int = 0) -> dict:
    """Control: uniform random noise in [-eps, eps] (8-bit levels), independent of the caption."""
    from PIL import Image
    if (dst / "captions.csv").exists():
        return _json(dst / "cost.json")
    tmp = dst.with_name(dst.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = time.time()
    rows = D_rows(src)
    for r in rows:
        x = np.asarray(Image.open(src / r["file"]).convert("RGB")).astype(np.int16)
        n = rng.integers(-EPS_LEVELS, EPS_LEVELS + 1, size=x.shape)
        Image.fromarray(np.clip(x + n, 0, 255).astype(np.uint8)).save(tmp / r["file"])
    shutil.copy(src / "captions.csv", tmp / "captions.csv")
    cost = {"images": len(rows), "seconds_per_image": round((time.time() - t0) / len(rows), 5), "measured": _measured()}
    _json(tmp / "cost.json", cost)
    os.replace(tmp, dst)
    return cost


def partial_split(clean: Path, prot: Path, dst: Path, fraction: float, seed: int = 0) -> dict:
    """Only `fraction` of the training images protected (seeded choice), the rest clean."""
    if (dst / "captions.csv").exists():
        return _json(dst / "cost.json")
    tmp = dst.with_name(dst.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    rows = D_rows(clean)
    pick = np.random.default_rng(seed).random(len(rows)) < fraction
    for r, p in zip(rows, pick):
        shutil.copy((prot if p else clean) / r["file"], tmp / r["file"])
    shutil.copy(clean / "captions.csv", tmp / "captions.csv")
    cost = {"images": len(rows), "protected": int(pick.sum()), "fraction": fraction, "seconds_per_image": 0.0}
    _json(tmp / "cost.json", cost)
    os.replace(tmp, dst)
    return cost


def regeneration_split(bundle: Path, clean: Path, prot: Path, dst: Path, key_file: Path, jobs: int) -> dict:
    """The regeneration attack: the attacker has the app and the caption but not the key. It protects a
    mid-grey image of the same size with the caption under `key_file` (a guessed key, or the right one as
    a control), reads the placed noise off it (grey - 128) and subtracts it from the protected image."""
    from PIL import Image
    if (dst / "captions.csv").exists():
        return _json(dst / "cost.json")
    rows = D_rows(clean)
    grey = dst.with_name(dst.name + ".grey")
    if grey.exists():
        shutil.rmtree(grey)
    grey.mkdir(parents=True)
    for r in rows:
        w, h = Image.open(prot / r["file"]).size
        Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(grey / r["file"])
    shutil.copy(clean / "captions.csv", grey / "captions.csv")
    noise_dir = dst.with_name(dst.name + ".noise")
    if noise_dir.exists():
        shutil.rmtree(noise_dir)
    protect_with_cli(bundle, grey, noise_dir, key_file, jobs)
    tmp = dst.with_name(dst.name + ".partial")
    tmp.mkdir(parents=True, exist_ok=True)
    for r in rows:
        y = np.asarray(Image.open(prot / r["file"]).convert("RGB")).astype(np.int16)
        n = np.asarray(Image.open(noise_dir / r["file"]).convert("RGB")).astype(np.int16) - 128
        Image.fromarray(np.clip(y - n, 0, 255).astype(np.uint8)).save(tmp / r["file"])
    shutil.copy(clean / "captions.csv", tmp / "captions.csv")
    cost = {"images": len(rows), "seconds_per_image": 0.0, "key": key_file.name}
    _json(tmp / "cost.json", cost)
    os.replace(tmp, dst)
    shutil.rmtree(grey)
    shutil.rmtree(noise_dir)
    return cost


def baseline_split(kind: str, src: Path, dst: Path, threads: int) -> dict:
    """EM / MEM-k image noise from t2ue_models.baselines on the frozen surrogate (separate process data:
    the images it writes are all the hackers ever see). MEM's text triggers are kept in the captions."""
    if (dst / "captions.csv").exists():
        return _json(dst / "cost.json")
    import torch
    from PIL import Image
    from .baselines import run_mem
    from .pipeline import load_surrogate
    from .text import Tokenizer
    torch.set_num_threads(threads)
    rows = D_rows(src)
    imgs = np.stack([np.asarray(Image.open(src / r["file"]).convert("RGB")) for r in rows])
    caps = np.array([r["caption"] for r in rows])
    k = {"em": 0, "mem3": 3, "mem5": 5}[kind]
    tok = Tokenizer()
    sur = load_surrogate(runs_dir() / "clipart-mnv2-minilm-r64")
    for p in sur.parameters():
        p.requires_grad_(False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    batches = dst.with_name(dst.name + ".batches")      # finished PGD batches: a killed run resumes here
    delta, tid, tm, secs = run_mem(sur, tok, imgs, caps, k, log=log, resume_dir=batches)
    x = imgs.astype(np.float32) / 255 + delta.permute(0, 2, 3, 1).numpy()
    out = np.clip(np.round(x * 255), 0, 255).astype(np.uint8)
    new_caps = [tok.tok.decode(t[m.astype(bool)].tolist(), skip_special_tokens=True) for t, m in zip(tid, tm)] if k else list(caps)
    from t2ue_eval.splits import write_split
    tmp = dst.with_name(dst.name + ".partial")
    labels = [int(r["label"]) for r in rows] if "label" in rows[0] else None
    write_split(tmp, out, new_caps, "png", labels=labels, names=[Path(r["file"]).stem for r in rows])
    cost = {"images": len(rows), "seconds_per_image": round(secs / len(rows), 3), "threads": threads,
            "measured": _measured(), "peak_rss_mb_process": round(max(before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024, 1)}
    _json(tmp / "cost.json", cost)
    os.replace(tmp, dst)
    shutil.rmtree(batches, ignore_errors=True)
    return cost


def baseline_cost(kind: str, src: Path, work: Path, n: int, threads: int) -> dict:
    """Cost only (seconds per image, peak RSS) of a baseline on the first n clip-art training images,
    in this run, for baselines whose full protected sets are too slow to make here (MEM-k)."""
    f = work / "cost-only" / f"{kind}-{n}.json"
    if f.exists():
        return _json(f)
    import torch
    from PIL import Image
    from .baselines import run_mem
    from .pipeline import load_surrogate
    from .text import Tokenizer
    torch.set_num_threads(threads)
    rows = D_rows(src)[:n]
    imgs = np.stack([np.asarray(Image.open(src / r["file"]).convert("RGB")) for r in rows])
    sur = load_surrogate(runs_dir() / "clipart-mnv2-minilm-r64")
    for p in sur.parameters():
        p.requires_grad_(False)
    _, _, _, secs = run_mem(sur, Tokenizer(), imgs, np.array([r["caption"] for r in rows]),
                            {"em": 0, "mem3": 3, "mem5": 5}[kind], log=log)
    f.parent.mkdir(parents=True, exist_ok=True)
    return _json(f, {"images": n, "seconds_per_image": round(secs / n, 3), "threads": threads, "cost_only": True,
                     "measured": _measured(),
                     "peak_rss_mb_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


def run_hacker(kind: str, train: Path, test: Path, out: Path, budget: float, threads: int, extra=(),
               steps: int = 100000, seed: int = 0) -> dict:
    """One hacker run in its own process (python -m t2ue_eval.cli); cached by its JSON result."""
    if out.exists():
        return _json(out)
    cmd = [sys.executable, "-m", "t2ue_eval.cli"] + (["train-clip", "--arch", kind[-1]] if kind.startswith("clip")
                                                      else ["train-classifier"])
    cmd += ["--train", str(train), "--test", str(test), "--steps", str(steps)] + (
        ["--time-budget", str(budget)] if budget else []) + ["--threads", str(threads), "--out", str(out)] + list(extra)
    if seed:
        cmd += ["--seed", str(seed)]
    log_file = out.with_suffix(".log")
    log(f"[hacker] {' '.join(cmd[2:])}  (progress: {log_file})")
    env = {**os.environ, "PYTHONPATH": str(MODELS_DIR), "PYTHONUNBUFFERED": "1"}
    with open(log_file, "w") as fh:             # streamed, so a long run can be followed while it trains
        r = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if r.returncode != 0 or not out.exists():
        raise RuntimeError(f"hacker failed: {' '.join(cmd)}\n{log_file.read_text(errors='replace')[-3000:]}")
    return _json(out)


def _mode(r: dict) -> str:
    """How a cached hacker result was trained: 'budget N' or the --steps spec it was run under."""
    b = r.get("config", {}).get("time_budget")
    return f"budget {b:g}" if b else r.get("efficacy_steps", "")


def _command_line(args: list[str]) -> str:
    """The invocation as the report prints it: paths inside the repository relative to models/ (where the
    module runs), the home directory as ~, so a report names no developer's checkout."""
    def short(x: str) -> str:
        p = Path(x)
        if p.is_absolute():
            if p.is_relative_to(MODELS_DIR):
                return str(p.relative_to(MODELS_DIR))
            if p.is_relative_to(Path.home()):
                return "~/" + str(p.relative_to(Path.home()))
        return x
    return " ".join(["python -m t2ue_models.efficacy"] + [short(x) for x in args])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--work", default=None, help="work directory (default $T2UE_CACHE/efficacy/<bundle sha>)")
    ap.add_argument("--report", default=str(MODELS_DIR / "reports" / "efficacy"))
    ap.add_argument("--conditions", default="clean,t2ue,random,em",
                    help="clean,t2ue,random,em,mem3,mem5, t2ue@20|50|80 (partial), regen-wrongkey, regen-rightkey")
    ap.add_argument("--hackers", default="clipA,clipB,cls")
    ap.add_argument("--robustness", default="",
                    help="pre-transforms the hacker applies to the files it reads (every hacker of --hackers), "
                         "e.g. jpeg75,resize0.5,gray")
    ap.add_argument("--augment", default="",
                    help="training augmentations tried against T2UE, each replacing the hacker's default one, "
                         "e.g. rrc,heavy,ueraser,ueraser+max5 (`+` joins augmentations within one run)")
    ap.add_argument("--robust-conditions", default="t2ue",
                    help="conditions the --robustness and --augment runs apply to (e.g. t2ue,em)")
    ap.add_argument("--budget", type=float, default=0,
                    help="seconds of training per hacker run (0 = the fixed step counts of --steps instead: results "
                         "then do not depend on how busy the machine is)")
    ap.add_argument("--steps", default="clipA=150,clipB=85,cls=260",
                    help="training steps per hacker when --budget is 0 (defaults: what 120 s bought on 2 idle cores)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cost-only", default="", help="baselines measured for cost only (e.g. mem3,mem5)")
    ap.add_argument("--cost-n", type=int, default=32, help="images for --cost-only")
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--n-test", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hacker-seeds", default="",
                    help="extra hacker seeds (e.g. 1,2): every hacker run of this invocation is repeated with each "
                         "(same protected data, other initialisation and batch order); the report gives the spread")
    ap.add_argument("--data-dir", default=None, help="directory of the dataset .npz files (default: build them)")
    a = ap.parse_args(argv)
    try:
        extra_seeds = [s for s in int_list(a.hacker_seeds, "--hacker-seeds", required=False) if s != 0]
    except ValueError as e:
        log(f"[efficacy] error: {e}")
        return 2
    try:                                            # a misspelt augmentation fails now, not after the sets are made
        from t2ue_eval.transforms import BatchAug
        for g in [g for g in a.augment.split(",") if g]:
            BatchAug(g.replace("+", ","))
    except ValueError as e:
        log(f"[efficacy] error: --augment: {e}")
        return 2
    bundle = Path(a.bundle).resolve()
    man = json.loads((bundle / "manifest.json").read_text())
    gen_sha = man["files"]["generator.onnx"]["sha256"]
    work = Path(a.work) if a.work else D.data_dir().parent / "efficacy" / gen_sha[:12]
    work.mkdir(parents=True, exist_ok=True)
    try:
        t2ue_sets_made_by(work, man)               # before any work: refuse another generator's cached sets
    except ValueError as e:
        log(f"[efficacy] error: {e}")
        return 2
    ddir = Path(a.data_dir) if a.data_dir else D.build_all(64, log=log)
    clean = export_splits(ddir, work, a.n_train, a.n_test)
    key_file = work / "key.hex"
    if not key_file.exists():
        key_file.write_text(os.urandom(32).hex() + "\n")
    conds = [c for c in a.conditions.split(",") if c]
    splits: dict = {}
    costs: dict = {}
    # only the training sets the chosen hackers read (protecting Fashion-MNIST with MEM takes ~20 min)
    needed = [ds for ds, want in (("clipart_train", "clip"), ("fmnist_train", "cls"))
              if any(h.startswith(want) for h in a.hackers.split(","))]
    for c in conds:
        for ds in needed:
            src, dst = clean[ds], work / c / ds
            if c == "clean":
                splits[(c, ds)] = src
                continue
            log(f"[data] {c} {ds}")
            if c == "t2ue":
                costs[(c, ds)] = protect_with_cli(bundle, src, dst, key_file, jobs=a.threads)
            elif c.startswith("t2ue@"):             # partial protection, e.g. t2ue@50
                full = work / "t2ue" / ds
                protect_with_cli(bundle, src, full, key_file, jobs=a.threads)
                costs[(c, ds)] = partial_split(src, full, dst, int(c[5:]) / 100.0, a.seed)
            elif c in ("regen-wrongkey", "regen-rightkey"):
                full = work / "t2ue" / ds
                protect_with_cli(bundle, src, full, key_file, jobs=a.threads)
                k = key_file
                if c == "regen-wrongkey":
                    k = work / "guessed-key.hex"
                    if not k.exists():
                        k.write_text(os.urandom(32).hex() + "\n")
                costs[(c, ds)] = regeneration_split(bundle, src, full, dst, k, a.threads)
            elif c == "random":
                costs[(c, ds)] = random_noise_split(src, dst, a.seed)
            else:
                costs[(c, ds)] = baseline_split(c, src, dst, a.threads)
            splits[(c, ds)] = dst
    made_by = t2ue_sets_made_by(work, man)          # again, with the sets this invocation wrote
    for c in [c for c in a.cost_only.split(",") if c]:
        log(f"[cost] {c} on {a.cost_n} images")
        costs[(c + " (cost only)", "clipart_train")] = baseline_cost(c, clean["clipart_train"], work, a.cost_n, a.threads)
    results: dict = {}
    runs = [(c, h, "") for c in conds for h in a.hackers.split(",") if h]
    steps_of = dict(kv.split("=") for kv in a.steps.split(",") if kv)
    rc = [c for c in a.robust_conditions.split(",") if c in conds]
    runs += [(c, h, p) for c in rc for p in a.robustness.split(",") if p for h in a.hackers.split(",") if h]
    runs += [(c, h, "aug=" + g) for c in rc for g in a.augment.split(",") if g for h in a.hackers.split(",") if h]
    for c, h, pre in runs:
        ds = "fmnist" if h == "cls" else "clipart"
        out = work / "results" / f"{c}-{h}{'-' + pre.replace('=', '-') if pre else ''}.json"
        out.parent.mkdir(exist_ok=True)
        extra = (["--aug", pre[4:].replace("+", ",")] if pre.startswith("aug=") else ["--pre", pre]) if pre else []
        r = run_hacker(h, splits[(c, f"{ds}_train")], clean[f"{ds}_test"], out, a.budget, a.threads, extra,
                       steps=int(steps_of.get(h, 100000)))
        if r.get("efficacy_key") != f"{c}|{h}|{pre}":
            r["efficacy_key"] = f"{c}|{h}|{pre}"
            r["efficacy_steps"] = a.steps if not a.budget else None
            _json(out, r)
        results[f"{c}|{h}|{pre}"] = r
        for s in extra_seeds:
            o = out.with_name(f"{out.stem}-seed{s}.json")
            rs = run_hacker(h, splits[(c, f"{ds}_train")], clean[f"{ds}_test"], o, a.budget, a.threads, extra,
                            steps=int(steps_of.get(h, 100000)), seed=s)
            if rs.get("efficacy_seed") != s:
                rs.update(efficacy_key=f"{c}|{h}|{pre}", efficacy_seed=s,
                          efficacy_steps=a.steps if not a.budget else None)
                _json(o, rs)
    for c in conds:                 # image quality of each condition's stored clip-art training images
        qf = work / c / "quality.json"
        if c != "clean" and not qf.exists() and (c, "clipart_train") in splits:
            from t2ue_eval.metrics import quality as q
            _json(qf, q(clean["clipart_train"], splits[(c, "clipart_train")]))
    # the report covers every result in this work directory, so runs made by earlier invocations (other
    # --conditions / --robustness lists) add up; within one hacker mode (fixed steps or budget) only
    mode = a.steps if not a.budget else f"budget {a.budget:g}"
    seeds: dict = {}                # key -> {seed: result}, seed 0 being the run in `results`
    for f in sorted((work / "results").glob("*.json")):
        r = _json(f)
        k = r.get("efficacy_key")
        if not k or _mode(r) != mode:
            continue
        if r.get("efficacy_seed"):
            seeds.setdefault(k, {})[r["efficacy_seed"]] = r
        elif k not in results:
            results[k] = r
    seeds = {k: {0: results[k], **v} for k, v in seeds.items() if k in results}
    from .efficacy_report import CONDITION_ORDER as order, write_report
    results = dict(sorted(results.items(), key=lambda kv: (
        order.index(kv[0].split("|")[0]) if kv[0].split("|")[0] in order else 99, kv[0].split("|")[1],
        kv[0].split("|")[2])))
    quality = {c: _json(work / c / "quality.json") for c in order if (work / c / "quality.json").exists()}
    for c in order:                 # protection costs of earlier invocations too
        for ds in ("clipart_train", "fmnist_train"):
            f = work / c / ds / "cost.json"
            if (c, ds) not in costs and f.exists():
                costs[(c, ds)] = _json(f)
    for f in sorted((work / "cost-only").glob("*.json")) if (work / "cost-only").exists() else []:
        k = (f.stem.rsplit("-", 1)[0] + " (cost only)", "clipart_train")
        costs.setdefault(k, _json(f))
    costs = dict(sorted(costs.items(), key=lambda kv: (      # stable order, whichever invocation made them
        kv[0][0].endswith("(cost only)"), order.index(kv[0][0].split(" ")[0]) if kv[0][0].split(" ")[0] in order
        else 99, kv[0][1])))
    from .efficacy_report import command_history
    cmd = _command_line(sys.argv[1:] if argv is None else list(argv))   # what was run, also when called
    rep = write_report(Path(a.report), results=results, quality=quality, seeds=seeds,
                       costs={f"{c}|{d}": v for (c, d), v in costs.items()},
                       meta={"bundle": man["name"], "bundle_version": man["version"], "generator_sha256": gen_sha,
                             **({"t2ue_sets_generator": {"sha256": made_by[0], "how": made_by[1]}}
                                if made_by and made_by[0] != gen_sha else {}),
                             "budget_s": a.budget, "steps": a.steps if not a.budget else None, "threads": a.threads, "seed": a.seed, "machine": platform.machine(),
                             "n_train": a.n_train, "n_test": a.n_test, "command": cmd,
                             "commands": command_history(Path(a.report), results, cmd)})
    log(f"[efficacy] report: {rep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
