#!/usr/bin/env bash
# Run the Swift tests of the UniFFI bindings where a Swift toolchain exists (macOS/Xcode, or
# swift.org's Linux toolchain). Builds libt2ue_uniffi (dev profile), generates the Swift glue with
# the workspace's pinned uniffi-bindgen into tests/swift/Generated (not committed), runs `swift test`.
# Needs ORT_DYLIB_PATH (the ONNX Runtime library) exported.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target=${CARGO_TARGET_DIR:-$root/target}/debug
ext=so; [ "$(uname -s)" = Darwin ] && ext=dylib
(cd "$root" && cargo build --quiet -p t2ue-uniffi -p uniffi-bindgen)
gen="$here/Generated"
rm -rf "$gen" && mkdir -p "$gen/t2ue" "$gen/t2ueFFI" "$gen/raw"
"$target/uniffi-bindgen" generate --library "$target/libt2ue_uniffi.$ext" --language swift --out-dir "$gen/raw"
mv "$gen/raw/t2ue.swift" "$gen/t2ue/"
mv "$gen/raw/t2ueFFI.h" "$gen/t2ueFFI/"
mv "$gen/raw/t2ueFFI.modulemap" "$gen/t2ueFFI/module.modulemap"
rm -rf "$gen/raw"
cd "$here"
T2UE_LIB_DIR="$target" T2UE_BUNDLE="$root/tests/fixtures/tiny-bundle" T2UE_PHOTOS="$root/tests/fixtures/photos" \
  swift test
