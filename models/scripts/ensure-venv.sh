#!/usr/bin/env bash
# Idempotent: install the Debian packages the pipeline needs (only if missing), then create or reuse
# the venv ${T2UE_CACHE:-$HOME/.cache/t2ue}/venv-<first 12 hex of sha256(requirements.lock)> and
# install the pinned lock into it. All chatter goes to stderr; the LAST stdout line is the venv path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"          # models/
lock="$here/requirements.lock"
cache="${T2UE_CACHE:-$HOME/.cache/t2ue}"
hash="$(sha256sum "$lock" | cut -c1-12)"
venv="$cache/venv-$hash"
py="${T2UE_PYTHON:-python3}"

# Debian packages: data sources (openclipart-svg, dataset-fashion-mnist) and the SVG rasteriser.
debs=(openclipart-svg librsvg2-bin dataset-fashion-mnist)
missing=()
for p in "${debs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "[ensure-venv] apt-get install ${missing[*]}" >&2
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq >&2 || true
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}" >&2
fi

if [ -f "$venv/.t2ue-complete" ] && [ -x "$venv/bin/python" ]; then
  echo "$venv"; exit 0
fi
echo "[ensure-venv] creating $venv (torch is large: a few minutes the first time)" >&2
mkdir -p "$cache"
rm -rf "$venv"
"$py" -m venv "$venv" >&2
"$venv/bin/python" -m pip install -q --upgrade pip >&2
"$venv/bin/python" -m pip install -q --no-deps -r "$lock" >&2
"$venv/bin/python" -c "import torch, torchvision, onnx, onnxruntime, tokenizers, numpy, skimage, pytest" >&2
cp "$lock" "$venv/requirements.lock"
touch "$venv/.t2ue-complete"
echo "$venv"
