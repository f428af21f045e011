#!/usr/bin/env bash
# Regenerate the tiny test bundle into a temporary folder and check that its graphs and
# tokenizer are byte-identical to the committed ones (golden.json holds floats computed by
# ONNX Runtime, whose last bits may differ between CPUs, so it is checked by the Rust parity
# tests instead). Needs T2UE_VENV (scripts/test.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${T2UE_VENV:?set T2UE_VENV to the models venv}/bin/python"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$py" tests/fixtures/make_tiny_bundle.py --out "$tmp/tiny-bundle" >/dev/null
status=0
for f in tokenizer.json text_encoder.onnx image_encoder.onnx generator.onnx; do
  if ! cmp -s "$tmp/tiny-bundle/$f" "tests/fixtures/tiny-bundle/$f"; then
    echo "tests/fixtures/tiny-bundle/$f differs from what make_tiny_bundle.py makes now" >&2
    status=1
  fi
done
[ "$status" = 0 ] && echo "tiny bundle: graphs and tokenizer reproduce byte for byte"
exit "$status"
