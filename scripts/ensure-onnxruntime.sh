#!/usr/bin/env bash
# Fetch the pinned ONNX Runtime shared library from the `onnxruntime` PyPI wheel, verify it,
# and print its path as the last line of stdout. Idempotent: a verified copy is reused at once.
#
# The SDK loads this library at run time (ort's load-dynamic); point it there with
# ORT_DYLIB_PATH, the engine option, or by putting the library next to the executable.
set -euo pipefail

ORT_VERSION=1.31.1
WHEEL=onnxruntime-${ORT_VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f
LIB=libonnxruntime.so.${ORT_VERSION}
LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3

cache=${T2UE_CACHE:-$HOME/.cache/t2ue}
dest_dir=$cache/onnxruntime-$ORT_VERSION
dest=$dest_dir/$LIB

if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "ensure-onnxruntime: only Linux x86_64 is fetched automatically (this is $(uname -s)-$(uname -m))." >&2
  echo "Install ONNX Runtime ${ORT_VERSION} yourself and set ORT_DYLIB_PATH to its shared library." >&2
  exit 2
fi

sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

if ! sha_ok "$dest" "$LIB_SHA256"; then
  mkdir -p "$dest_dir"
  tmp=$(mktemp -d "$dest_dir/.fetch.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "ensure-onnxruntime: fetching onnxruntime==$ORT_VERSION wheel from PyPI" >&2
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --platform manylinux_2_28_x86_64 "onnxruntime==$ORT_VERSION" -d "$tmp" >&2
  if ! sha_ok "$tmp/$WHEEL" "$WHEEL_SHA256"; then
    echo "ensure-onnxruntime: $WHEEL does not match its pinned SHA-256; refusing to use it." >&2
    exit 1
  fi
  python3 - "$tmp/$WHEEL" "onnxruntime/capi/$LIB" "$tmp/$LIB" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  if ! sha_ok "$tmp/$LIB" "$LIB_SHA256"; then
    echo "ensure-onnxruntime: extracted $LIB does not match its pinned SHA-256." >&2
    exit 1
  fi
  mv -f "$tmp/$LIB" "$dest"   # atomic within one filesystem
fi
echo "$dest"
