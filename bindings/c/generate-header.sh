#!/usr/bin/env bash
# Generate the C header bindings/c/include/t2ue.h from bindings/c/src/lib.rs with the pinned
# cbindgen, or with --check, fail if the committed header differs from a fresh generation.
#
# cbindgen is pinned to 0.29.4 and installed once with `cargo install --locked` into a cache
# outside the repository (${T2UE_CACHE:-~/.cache/t2ue}/cbindgen-0.29.4; ~140 s on 2 cores the
# first time, instant afterwards). It is deliberately not a build-dependency: that would add
# cbindgen and its dependency tree to every build of the workspace (~30 s per clean dev build,
# and in every release/Android/iOS build), while the header only changes when the C API does.
# Usage: bindings/c/generate-header.sh [--check]     Prints the cbindgen path it used on stderr.
set -euo pipefail
CBINDGEN_VERSION=0.29.4
here="$(cd "$(dirname "$0")" && pwd)"
header="$here/include/t2ue.h"
cache=${T2UE_CACHE:-$HOME/.cache/t2ue}

cbindgen=""
if command -v cbindgen >/dev/null 2>&1 && [ "$(cbindgen --version 2>/dev/null)" = "cbindgen $CBINDGEN_VERSION" ]; then
  cbindgen=$(command -v cbindgen)
elif [ -x "$cache/cbindgen-$CBINDGEN_VERSION/bin/cbindgen" ]; then
  cbindgen="$cache/cbindgen-$CBINDGEN_VERSION/bin/cbindgen"
else
  echo "generate-header: installing cbindgen $CBINDGEN_VERSION into $cache/cbindgen-$CBINDGEN_VERSION (once)" >&2
  cargo install --quiet --locked cbindgen --version "$CBINDGEN_VERSION" --root "$cache/cbindgen-$CBINDGEN_VERSION" >&2
  cbindgen="$cache/cbindgen-$CBINDGEN_VERSION/bin/cbindgen"
fi
echo "generate-header: $cbindgen" >&2

tmp=$(mktemp "${TMPDIR:-/tmp}/t2ue-header.XXXXXX")
trap 'rm -f "$tmp"' EXIT
(cd "$here" && "$cbindgen" --quiet --config cbindgen.toml --crate t2ue-c --output "$tmp" .)

if [ "${1:-}" = "--check" ]; then
  if ! diff -u "$header" "$tmp"; then
    echo "generate-header: $header is stale: run bindings/c/generate-header.sh and commit the result" >&2
    exit 1
  fi
  echo "generate-header: $header is up to date" >&2
else
  cp "$tmp" "$header"
  echo "generate-header: wrote $header" >&2
fi
