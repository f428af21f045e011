#!/usr/bin/env bash
# Build the native side of the t2ue Android library (AAR), into android/:
#   src/main/jniLibs/<abi>/libt2ue_uniffi.so   cargo-ndk: cargo ndk -t <abi> ... build --release -p t2ue-uniffi
#   src/main/jniLibs/<abi>/libonnxruntime.so   from the official onnxruntime-android 1.31.1 AAR (Maven Central)
#   src/main/jniLibs/<abi>/libjnidispatch.so   from the JNA AAR (Maven Central), and its classes in
#   libs/jna-<ver>-classes.jar                 (skipped with --jna maven: then Gradle depends on jna@aar)
#   generated/kotlin/uniffi/t2ue/t2ue.kt       the UniFFI Kotlin glue, by the workspace's pinned uniffi-bindgen
# then `gradle assembleRelease` in android/ makes build/outputs/aar/t2ue-android-release.aar.
#
# Usage: android/build-native.sh [--abis "arm64-v8a armeabi-v7a x86_64"] [--profile release|dev]
#                                [--jna bundled|maven] [--skip-cargo]
# Needs: rustup targets (aarch64-linux-android armv7-linux-androideabi x86_64-linux-android),
#   cargo-ndk (`cargo install cargo-ndk --locked`), an NDK (r28+, ANDROID_NDK_HOME or
#   ANDROID_HOME/ndk/<ver>), unzip, curl (or the AARs given as files, see below), sha256sum.
# The AARs are downloaded once into ${T2UE_CACHE:-~/.cache/t2ue}/android/, or taken from
#   ORT_ANDROID_AAR=/path/onnxruntime-android-1.31.1.aar and JNA_AAR=/path/jna-5.17.0.aar.
# Their SHA-256 are checked against ORT_AAR_SHA256 / JNA_AAR_SHA256 below when those are set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache=${T2UE_CACHE:-$HOME/.cache/t2ue}/android

ORT_VERSION=1.31.1
ORT_AAR_URL="https://repo1.maven.org/maven2/com/microsoft/onnxruntime/onnxruntime-android/$ORT_VERSION/onnxruntime-android-$ORT_VERSION.aar"
# Pin on first download (the build prints the digest it saw); empty: not checked, a warning.
ORT_AAR_SHA256=${ORT_AAR_SHA256:-}
JNA_VERSION=5.17.0
JNA_AAR_URL="https://repo1.maven.org/maven2/net/java/dev/jna/jna/$JNA_VERSION/jna-$JNA_VERSION.aar"
JNA_AAR_SHA256=${JNA_AAR_SHA256:-}
MIN_SDK=24

abis="arm64-v8a armeabi-v7a x86_64"
profile=release
jna=bundled
skip_cargo=0
while [ $# -gt 0 ]; do
  case $1 in
    --abis) abis=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --jna) jna=$2; shift 2 ;;
    --skip-cargo) skip_cargo=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $profile in release|dev) ;; *) echo "--profile must be release or dev" >&2; exit 2 ;; esac
case $jna in bundled|maven) ;; *) echo "--jna must be bundled or maven" >&2; exit 2 ;; esac

jnilibs=$here/src/main/jniLibs
gen=$here/generated/kotlin

triple_of() {
  case $1 in
    arm64-v8a) echo aarch64-linux-android ;;
    armeabi-v7a) echo armv7-linux-androideabi ;;
    x86_64) echo x86_64-linux-android ;;
    x86) echo i686-linux-android ;;
    *) echo "unknown ABI $1" >&2; return 1 ;;
  esac
}

# fetch NAME URL SHA256 [LOCAL]: print the path of a verified copy.
fetch() {
  local name=$1 url=$2 sha=$3 local_file=${4:-} dest
  if [ -n "$local_file" ]; then
    dest=$local_file
  else
    dest=$cache/$name
    if [ ! -f "$dest" ]; then
      mkdir -p "$cache"
      echo "downloading $url" >&2
      curl -fsSL --retry 3 -o "$dest.part" "$url"
      mv "$dest.part" "$dest"
    fi
  fi
  local got
  got=$(sha256sum "$dest" | cut -d' ' -f1)
  if [ -n "$sha" ] && [ "$got" != "$sha" ]; then
    echo "SHA-256 of $dest is $got, expected $sha" >&2
    return 1
  fi
  [ -n "$sha" ] || echo "warning: $name not pinned; its SHA-256 is $got (pin it in android/build-native.sh)" >&2
  echo "$dest"
}

# ------------------------------------------------------------------------- Rust: libt2ue_uniffi.so
cd "$root"
if [ "$skip_cargo" = 0 ]; then
  command -v cargo-ndk >/dev/null || { echo "cargo-ndk missing: cargo install cargo-ndk --locked" >&2; exit 1; }
  targs=()
  for abi in $abis; do
    t=$(triple_of "$abi")
    rustup target list --installed | grep -qx "$t" || { echo "rust target $t missing: rustup target add $t" >&2; exit 1; }
    targs+=(-t "$abi")
  done
  rel=(); [ "$profile" = release ] && rel=(--release)
  # cargo-ndk finds the NDK through ANDROID_NDK_HOME (or ANDROID_HOME/ndk/*); it strips nothing:
  # the release profile already drops debug info (strip = "debuginfo").
  cargo ndk "${targs[@]}" --platform "$MIN_SDK" -o "$jnilibs" build "${rel[@]}" -p t2ue-uniffi
fi

# ---------------------------------------------------------------- ONNX Runtime and JNA from AARs
ort_aar=$(fetch "onnxruntime-android-$ORT_VERSION.aar" "$ORT_AAR_URL" "$ORT_AAR_SHA256" "${ORT_ANDROID_AAR:-}")
for abi in $abis; do
  mkdir -p "$jnilibs/$abi"
  unzip -p "$ort_aar" "jni/$abi/libonnxruntime.so" > "$jnilibs/$abi/libonnxruntime.so.part"
  [ -s "$jnilibs/$abi/libonnxruntime.so.part" ] || { echo "no jni/$abi/libonnxruntime.so in $ort_aar" >&2; exit 1; }
  mv "$jnilibs/$abi/libonnxruntime.so.part" "$jnilibs/$abi/libonnxruntime.so"
done

mkdir -p "$here/libs"
if [ "$jna" = bundled ]; then
  jna_aar=$(fetch "jna-$JNA_VERSION.aar" "$JNA_AAR_URL" "$JNA_AAR_SHA256" "${JNA_AAR:-}")
  for abi in $abis; do
    unzip -p "$jna_aar" "jni/$abi/libjnidispatch.so" > "$jnilibs/$abi/libjnidispatch.so.part"
    [ -s "$jnilibs/$abi/libjnidispatch.so.part" ] || { echo "no jni/$abi/libjnidispatch.so in $jna_aar" >&2; exit 1; }
    mv "$jnilibs/$abi/libjnidispatch.so.part" "$jnilibs/$abi/libjnidispatch.so"
  done
  unzip -p "$jna_aar" classes.jar > "$here/libs/jna-$JNA_VERSION-classes.jar"
else
  # Gradle brings libjnidispatch with net.java.dev.jna:jna@aar: two copies would clash.
  rm -f "$jnilibs"/*/libjnidispatch.so "$here/libs/jna-$JNA_VERSION-classes.jar"
  echo "JNA from Maven: build with gradle -Pt2ue.jna=maven"
fi

# ------------------------------------------------------------------- Kotlin glue (pinned bindgen)
first_abi=${abis%% *}
rm -rf "$gen" && mkdir -p "$gen"
cargo run --quiet -p uniffi-bindgen -- generate --no-format --library "$jnilibs/$first_abi/libt2ue_uniffi.so" \
  --language kotlin --out-dir "$gen"
[ -s "$gen/uniffi/t2ue/t2ue.kt" ] || { echo "bindgen wrote no uniffi/t2ue/t2ue.kt" >&2; exit 1; }

# ------------------------------------------------------------------------------------- report
echo
echo "native libraries (bytes):"
for abi in $abis; do
  for lib in libt2ue_uniffi.so libonnxruntime.so libjnidispatch.so; do
    f=$jnilibs/$abi/$lib
    [ -f "$f" ] && printf '  %-12s %-20s %10s\n' "$abi" "$lib" "$(wc -c < "$f")"
  done
done
# 16 KB page alignment (required by Google Play for Android 15+ targets): check LOAD segments.
readelf_bin=$(command -v llvm-readelf || command -v readelf || true)
if [ -n "$readelf_bin" ]; then
  for f in "$jnilibs"/arm64-v8a/*.so "$jnilibs"/x86_64/*.so; do
    [ -f "$f" ] || continue
    align=$("$readelf_bin" -lW "$f" | awk '$1 == "LOAD" { print $NF }' | sort -u | head -n 1)
    case $align in 0x4000|0x10000) ;; *) echo "warning: $f LOAD alignment $align (< 16 KB)" >&2 ;; esac
  done
fi
echo "next: cd android && gradle assembleRelease$([ "$jna" = maven ] && echo ' -Pt2ue.jna=maven')"
