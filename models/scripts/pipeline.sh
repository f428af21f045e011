#!/usr/bin/env bash
# The one command: venv (cached) -> data -> surrogate -> generator -> export -> models/bundles/<name>/.
# Stages are cached under ${T2UE_CACHE:-$HOME/.cache/t2ue}/runs; a rerun resumes. Extra arguments go to
# `python -m t2ue_models.pipeline` (e.g. --baselines, --gen-steps 1200, --force generator).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(bash "$here/scripts/ensure-venv.sh" | tail -n 1)"
cd "$here"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$venv/bin/python" -m t2ue_models.pipeline "$@"
