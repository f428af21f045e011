#!/usr/bin/env bash
# Build what ios/Package.swift needs (macOS with Xcode 15+ only):
#   build/T2ueFFI.xcframework          libt2ue_uniffi.a for aarch64-apple-ios (device) and
#                                      aarch64-apple-ios-sim + x86_64-apple-ios (simulator, lipo),
#                                      with t2ueFFI.h + module.modulemap from the pinned uniffi-bindgen
#   Sources/T2ue/Generated/t2ue.swift  the UniFFI Swift glue
#   build/onnxruntime.xcframework      ONNX Runtime 1.31.1 (static), from the official onnxruntime-c
#                                      pod archive (URL: `pod spec cat onnxruntime-c --version=1.31.1`,
#                                      field source.http), or ORT_IOS_XCFRAMEWORK=/path/onnxruntime.xcframework
#   Tests/T2ueTests/Resources/         the tiny test bundle and a photo, for the Swift tests
# Usage: ios/build-xcframework.sh [--profile release|dev] [--skip-ort]
# Needs: rustup targets aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios, Xcode
#   (xcodebuild, lipo), curl, unzip, shasum.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache=${T2UE_CACHE:-$HOME/.cache/t2ue}/ios
ORT_VERSION=1.31.1
ORT_POD_URL=${ORT_POD_URL:-https://download.onnxruntime.ai/pod-archive-onnxruntime-c-$ORT_VERSION.zip}
# Pin on first download (the build prints the digest it saw); empty: not checked, a warning.
ORT_POD_SHA256=${ORT_POD_SHA256:-}
export IPHONEOS_DEPLOYMENT_TARGET=${IPHONEOS_DEPLOYMENT_TARGET:-15.0}

profile=release
skip_ort=0
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=$2; shift 2 ;;
    --skip-ort) skip_ort=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $profile in release) rel=(--release); dir=release ;; dev) rel=(); dir=debug ;; *) echo "--profile release|dev" >&2; exit 2 ;; esac
[ "$(uname -s)" = Darwin ] || { echo "build-xcframework.sh needs macOS with Xcode" >&2; exit 1; }

device=aarch64-apple-ios
sims=(aarch64-apple-ios-sim x86_64-apple-ios)
target_dir=${CARGO_TARGET_DIR:-$root/target}
build=$here/build
rm -rf "$build/T2ueFFI.xcframework" "$build/headers" "$build/swift" "$build/sim"
mkdir -p "$build/headers" "$build/swift" "$build/sim"

# ------------------------------------------------------------------------ static libraries (Rust)
cd "$root"
for t in "$device" "${sims[@]}"; do
  rustup target list --installed | grep -qx "$t" || { echo "rust target $t missing: rustup target add $t" >&2; exit 1; }
  cargo rustc -p t2ue-uniffi --crate-type staticlib "${rel[@]}" --target "$t"
done
lipo -create "$target_dir/${sims[0]}/$dir/libt2ue_uniffi.a" "$target_dir/${sims[1]}/$dir/libt2ue_uniffi.a" \
  -output "$build/sim/libt2ue_uniffi.a"

# --------------------------------------------------------------- Swift glue, header, modulemap
# Library mode reads the UniFFI metadata from the device archive (the same for every target).
cargo run --quiet -p uniffi-bindgen -- generate --no-format --library "$target_dir/$device/$dir/libt2ue_uniffi.a" \
  --language swift --out-dir "$build/swift"
cp "$build/swift/t2ueFFI.h" "$build/headers/"
cp "$build/swift/t2ueFFI.modulemap" "$build/headers/module.modulemap"
mkdir -p "$here/Sources/T2ue/Generated"
cp "$build/swift/t2ue.swift" "$here/Sources/T2ue/Generated/t2ue.swift"

xcodebuild -create-xcframework \
  -library "$target_dir/$device/$dir/libt2ue_uniffi.a" -headers "$build/headers" \
  -library "$build/sim/libt2ue_uniffi.a" -headers "$build/headers" \
  -output "$build/T2ueFFI.xcframework"

# --------------------------------------------------------------------- ONNX Runtime (official)
if [ "$skip_ort" = 0 ]; then
  if [ -n "${ORT_IOS_XCFRAMEWORK:-}" ]; then
    rm -rf "$build/onnxruntime.xcframework" && cp -R "$ORT_IOS_XCFRAMEWORK" "$build/onnxruntime.xcframework"
  else
    zip=$cache/pod-archive-onnxruntime-c-$ORT_VERSION.zip
    if [ ! -f "$zip" ]; then
      mkdir -p "$cache"
      echo "downloading $ORT_POD_URL" >&2
      curl -fsSL --retry 3 -o "$zip.part" "$ORT_POD_URL" && mv "$zip.part" "$zip"
    fi
    got=$(shasum -a 256 "$zip" | cut -d' ' -f1)
    if [ -n "$ORT_POD_SHA256" ] && [ "$got" != "$ORT_POD_SHA256" ]; then
      echo "SHA-256 of $zip is $got, expected $ORT_POD_SHA256" >&2; exit 1
    fi
    [ -n "$ORT_POD_SHA256" ] || echo "warning: the ONNX Runtime pod archive is not pinned; its SHA-256 is $got" >&2
    rm -rf "$build/ort" && mkdir -p "$build/ort" && unzip -q "$zip" -d "$build/ort"
    rm -rf "$build/onnxruntime.xcframework" && mv "$build/ort/onnxruntime.xcframework" "$build/onnxruntime.xcframework"
    rm -rf "$build/ort"
  fi
fi

# ------------------------------------------------------------------------------ test resources
res=$here/Tests/T2ueTests/Resources
rm -rf "$res" && mkdir -p "$res"
cp -R "$root/tests/fixtures/tiny-bundle" "$res/tiny-bundle"
cp "$root/tests/fixtures/photos/chelsea.png" "$res/"

echo
echo "static libraries (bytes):"
for f in "$target_dir/$device/$dir/libt2ue_uniffi.a" "$build/sim/libt2ue_uniffi.a"; do
  printf '  %10s  %s\n' "$(wc -c < "$f")" "$f"
done
echo "next: cd ios && xcodebuild test -scheme T2ue -destination 'platform=iOS Simulator,name=iPhone 15'"
