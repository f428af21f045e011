#!/usr/bin/env bash
# Efficacy run (issue 5): protect the training sets with the Rust CLI and the default bundle, train the
# hackers from scratch on each condition, write models/reports/efficacy/REPORT.md (+ PNG plots).
# Cached and resumable under ${T2UE_CACHE:-$HOME/.cache/t2ue}/efficacy/<generator sha>/.
#   models/scripts/efficacy.sh [--bundle bundles/OTHER] [--budget 300] [--conditions clean,t2ue,random,em] [--robustness jpeg75,resize0.5]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"          # models/
repo="$(cd "$here/.." && pwd)"
venv="$(bash "$here/scripts/ensure-venv.sh" | tail -n 1)"
ORT_DYLIB_PATH="$("$repo/scripts/ensure-onnxruntime.sh" | tail -n 1)"
export ORT_DYLIB_PATH
(cd "$repo" && cargo build --locked --release -q -p t2ue-cli)
export T2UE_BIN="$repo/target/release/t2ue"
# the default bundle unless the caller names one (--bundle DIR, relative to models/)
default=(--bundle "$repo/models/bundles/$(cat "$repo/models/bundles/DEFAULT")")
for arg in "$@"; do
    case "$arg" in --bundle|--bundle=*) default=() ;; esac
done
cd "$here"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$venv/bin/python" -m t2ue_models.efficacy "${default[@]}" "$@"
