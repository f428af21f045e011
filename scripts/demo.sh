#!/usr/bin/env bash
# Protect a bundled photo with the bundled default model and print the report.
# Installs what it needs (ONNX Runtime from its pinned PyPI wheel); quick the second time.
#   scripts/demo.sh [PHOTO] [CAPTION]
set -euo pipefail
cd "$(dirname "$0")/.."
photo="${1:-tests/fixtures/photos/astronaut.jpg}"
caption="${2:-an astronaut in an orange space suit smiling in front of an american flag}"
cache="${T2UE_CACHE:-$HOME/.cache/t2ue}"

ORT_DYLIB_PATH="$(scripts/ensure-onnxruntime.sh | tail -n 1)"
export ORT_DYLIB_PATH
bundle="${T2UE_BUNDLE:-$(cat models/bundles/DEFAULT 2>/dev/null | sed 's#^#models/bundles/#' || true)}"
if [ -z "$bundle" ] || [ ! -f "$bundle/manifest.json" ]; then
  echo "demo: no trained bundle under models/bundles yet; using the tiny TEST bundle (random weights, no real protection)" >&2
  bundle=tests/fixtures/tiny-bundle
fi
echo "building the t2ue CLI (first time: a few minutes)..." >&2
cargo build --locked -q -p t2ue-cli
t2ue="${CARGO_TARGET_DIR:-target}/debug/t2ue"

key="$cache/demo-key.hex"
mkdir -p "$cache" demo-output
[ -f "$key" ] || "$t2ue" keygen -o "$key" >&2
out="demo-output/$(basename "${photo%.*}").protected.${photo##*.}"

echo
"$t2ue" inspect --bundle "$bundle"
echo
"$t2ue" protect --bundle "$bundle" --key-file "$key" --caption "$caption" --overwrite "$photo" -o "$out"
"$t2ue" score --bundle "$bundle" --caption "$caption" --protected "$out" "$photo"
echo
echo "protected photo: $out   (key: $key)"
