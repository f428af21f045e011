#!/usr/bin/env bash
# Efficacy run (issue 5): protect the training sets with the Rust CLI and the default bundle, train the
# hackers from scratch on each condition, write models/reports/efficacy/REPORT.md (+ PNG plots).
# Cached and resumable under ${T2UE_CACHE:-$HOME/.cache/t2ue}/efficacy/<generator sha>/.
#   models/scripts/efficacy.sh [--budget 300] [--conditions clean,t2ue,random,em] [--robustness jpeg75,resize0.5]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"          # models/
repo="$(cd "$here/.." && pwd)"
venv="$(bash "$here/scripts/ensure-venv.sh" | tail -n 1)"
ORT_DYLIB_PATH="$("$repo/scripts/ensure-onnxruntime.sh" | tail -n 1)"
export ORT_DYLIB_PATH
(cd "$repo" && cargo build --locked --release -q -p t2ue-cli)
export T2UE_BIN="$repo/target/release/t2ue"
bundle="$repo/models/bundles/$(cat "$repo/models/bundles/DEFAULT")"
cd "$here"
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" exec "$venv/bin/python" -m t2ue_models.efficacy --bundle "$bundle" "$@"
