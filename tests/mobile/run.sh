#!/usr/bin/env bash
# What of the mobile packaging (android/, ios/) can be checked on this Linux machine, without an
# Android NDK, Gradle, Xcode or Swift:
#   - the build scripts pass `bash -n` and shellcheck (installed with apt when missing);
#   - static checks of sources nothing here can build (tests/mobile/check_sources.py: Gradle
#     Kotlin DSL, Android-only Kotlin, Swift, manifest XML, consumer rules, Package.swift);
#   - ios/Sources/T2ueRuntimeAnchor/anchor.c compiles (gcc -fsyntax-only -Wall -Wextra -Werror);
#   - the platform-independent Kotlin façade (android/src/main/kotlin/io/t2ue/*.kt) compiles with
#     kotlinc 2.4.20 against the UniFFI glue generated from the host libt2ue_uniffi.so and runs its
#     JVM tests (tests/mobile/TestMobile.kt; TestFrames.kt too when the glue has the frame API,
#     otherwise reported as skipped);
#   - the generated Swift glue has every symbol the Swift façade uses;
#   - `cargo check -p t2ue-uniffi --target T` for the Android/iOS targets already installed
#     (never downloads one; T2UE_MOBILE_CARGO_CHECK=0 skips);
#   - size budget of the host library (release build if one exists, else the stripped dev build).
# Ends with "mobile: N passed, M failed"; exits non-zero on any failure. Idempotent; the compiled
# Kotlin test jar is cached by the hash of its sources, so a second run takes seconds.
# Needs what tests/bindings/run.sh needs (Rust, python3, node/npm, JDK 17, gcc); uses
# ORT_DYLIB_PATH if exported, else scripts/ensure-onnxruntime.sh.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
cache=${T2UE_CACHE:-$HOME/.cache/t2ue}
target_root=${CARGO_TARGET_DIR:-$root/target}
target=$target_root/debug
bundle=$root/tests/fixtures/tiny-bundle
photos=$root/tests/fixtures/photos
KOTLIN_VERSION=2.4.20
KOTLIN_TGZ_SHA256=c23dab400d7ce5ea8b6c909947c0ca5454189e4bb1108695b5f464500e5e950f
# Size budgets (bytes) of libt2ue_uniffi for the host: a release build (stripped of debug info by
# the release profile, then fully stripped here) and, when none exists, the stripped dev build
# (dev has opt-level 1-2 and is larger; the budget is correspondingly generous).
RELEASE_BUDGET=$((8 * 1024 * 1024))
DEV_STRIPPED_BUDGET=$((16 * 1024 * 1024))

work=$(mktemp -d "${TMPDIR:-/tmp}/t2ue-mobile.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
passed=0; failed=0; failures=(); skipped=()

# step NAME LANG CMD...: run a check; count the "LANG: N passed, M failed" it prints (or one pass /
# one failure); a non-zero exit is always a failure.
step() {
  local name=$1 lang=$2; shift 2
  local log="$work/log" rc p f line
  printf '\n--- %s\n' "$name"
  "$@" > "$log" 2>&1
  rc=$?
  cat "$log"
  line=$(grep -E "^$lang: [0-9]+ passed, [0-9]+ failed" "$log" | tail -n 1)
  if [ -n "$line" ] && [ "$lang" != - ]; then
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  elif [ "$rc" = 0 ]; then p=1; f=0; else p=0; f=1; fi
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" = 0 ] || failures+=("$name")
}
skip() { printf '\n--- SKIPPED %s: %s\n' "$1" "$2"; skipped+=("$1 ($2)"); }

scripts=(android/build-native.sh ios/build-xcframework.sh tests/mobile/run.sh)

# ----------------------------------------------------------------------------- shell scripts
for s in "${scripts[@]}"; do step "bash -n $s" - bash -n "$s"; done
ensure_shellcheck() {
  command -v shellcheck >/dev/null && return 0
  local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  { $sudo apt-get install -y -qq shellcheck || { $sudo apt-get update -qq && $sudo apt-get install -y -qq shellcheck; }; } >/dev/null 2>&1
  command -v shellcheck >/dev/null
}
if ensure_shellcheck; then
  for s in "${scripts[@]}"; do step "shellcheck $s" - shellcheck "$s"; done
else
  step "shellcheck (apt-get install shellcheck)" - false
fi

# ---------------------------------------------------------------------------- static checks
step "static checks of Gradle/Kotlin/Swift/XML sources" sources python3 tests/mobile/check_sources.py "$root"
step "iOS runtime anchor (gcc -fsyntax-only)" - gcc -fsyntax-only -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror \
  -Iios/Sources/T2ueRuntimeAnchor/include ios/Sources/T2ueRuntimeAnchor/anchor.c

# -------------------------------------------------------------------------- host build + glue
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  ORT_DYLIB_PATH=$(scripts/ensure-onnxruntime.sh | tail -n 1) || { echo "mobile: no ONNX Runtime"; echo "mobile: $passed passed, $((failed + 1)) failed"; exit 1; }
  export ORT_DYLIB_PATH
fi
step "cargo build --workspace (dev)" - cargo build --workspace --quiet
lib=$target/libt2ue_uniffi.so
if [ ! -f "$lib" ] || [ ! -x "$target/uniffi-bindgen" ]; then
  echo "mobile: $passed passed, $((failed + 1)) failed (libt2ue_uniffi.so / uniffi-bindgen not built)"; exit 1
fi
mkdir -p "$work/kt" "$work/swift"
gen_glue() {
  "$target/uniffi-bindgen" generate --no-format --library "$lib" --language kotlin --out-dir "$work/kt" &&
  "$target/uniffi-bindgen" generate --no-format --library "$lib" --language swift --out-dir "$work/swift"
}
step "UniFFI glue generated (Kotlin, Swift)" - gen_glue
glue=$work/kt/uniffi/t2ue/t2ue.kt
have_frames=0
grep -q "class FrameProtector" "$glue" 2>/dev/null && grep -q "enum class FrameFormat" "$glue" && have_frames=1

# ------------------------------------------------------------------------------- Kotlin (JVM)
ensure_kotlin() {
  local dest=$cache/kotlin-$KOTLIN_VERSION
  [ -x "$dest/bin/kotlinc" ] && return 0
  echo "installing kotlin-compiler@$KOTLIN_VERSION (npm) into $dest"
  local tmp rc
  mkdir -p "$cache" && tmp=$(mktemp -d "$cache/.kotlin.XXXXXX") || return 1
  (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null) &&
  [ "$(sha256sum "$tmp/kotlin-compiler-$KOTLIN_VERSION.tgz" | cut -d' ' -f1)" = "$KOTLIN_TGZ_SHA256" ] &&
  tar -xzf "$tmp/kotlin-compiler-$KOTLIN_VERSION.tgz" -C "$tmp" && chmod +x "$tmp"/package/bin/* &&
  rm -rf "$dest" && mv "$tmp/package" "$dest"
  rc=$?; rm -rf "$tmp"; return "$rc"
}
ensure_jna() {
  [ -f /usr/share/java/jna.jar ] && return 0
  local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libjna-java >/dev/null
}
kdir=$cache/kotlin-$KOTLIN_VERSION
jna=/usr/share/java/jna.jar
kt_sources=()
for f in android/src/main/kotlin/io/t2ue/*.kt; do
  case $(basename "$f") in Frames.kt|DirectFrames.kt) [ "$have_frames" = 1 ] || continue ;; esac
  kt_sources+=("$f")
done
kt_tests=(tests/mobile/TestMobile.kt)
[ "$have_frames" = 1 ] && kt_tests+=(tests/mobile/TestFrames.kt)
kt_jar() {
  local hash
  hash=$(cat "$glue" "${kt_sources[@]}" "${kt_tests[@]}" | sha256sum | cut -c1-16)
  echo "$cache/kotlin-tests/mobile-$hash.jar"
}
kt_build() {
  ensure_kotlin && ensure_jna || return 1
  local jar
  jar=$(kt_jar)
  [ -f "$jar" ] && { echo "cached: $jar"; return 0; }
  mkdir -p "$cache/kotlin-tests"
  "$kdir/bin/kotlinc" -nowarn -cp "$jna:$kdir/lib/kotlinx-coroutines-core-jvm.jar" "$glue" "${kt_sources[@]}" "${kt_tests[@]}" \
    -include-runtime -d "$work/mobile.jar" 2>&1 | grep -v '^warning'
  [ "${PIPESTATUS[0]}" = 0 ] && mv "$work/mobile.jar" "$jar"
}
step "Kotlin façade compiles (kotlinc $KOTLIN_VERSION, ${#kt_sources[@]} façade files)" - kt_build
jar=$(kt_jar)
if [ -f "$jar" ]; then
  cp_run="$jna:$kdir/lib/kotlinx-coroutines-core-jvm.jar:$jar"
  mkdir -p "$work/scratch"
  step "Kotlin façade on the JVM (TestMobile.kt)" mobile-kotlin \
    java -Djna.library.path="$target" -cp "$cp_run" TestMobileKt "$bundle" "$photos" "$work/scratch"
  if [ "$have_frames" = 1 ]; then
    step "Kotlin frame hooks on the JVM (TestFrames.kt)" mobile-frames java -Djna.library.path="$target" -cp "$cp_run" TestFramesKt "$bundle"
  fi
fi
[ "$have_frames" = 1 ] || skip "Kotlin frame hooks (Frames.kt, TestFrames.kt)" "the generated glue has no FrameProtector/FrameFormat yet"

# ------------------------------------------------------------------------- Swift glue symbols
swift_symbols() {
  local s=$work/swift/t2ue.swift missing=0 sym
  local syms=("class Engine" "class ProtectionKey" "class Noise" "func protectFileAsync(" "func protectBytesAsync("
    "func protectPixelsAsync(" "func applyNoise(" "func fromMemory(" "struct EngineOptions" "case rgba8")
  [ "$have_frames" = 1 ] && syms+=("class FrameProtector" "func protectFrame(" "struct FramePlane" "enum FrameFormat"
    "enum FrameRotation" "enum YuvRange" "case nv12" "case bgra8888" "case deg90" "case limited")
  for sym in "${syms[@]}"; do
    grep -qF "$sym" "$s" || { echo "generated Swift lacks '$sym'"; missing=1; }
  done
  return "$missing"
}
step "generated Swift has what ios/Sources/T2ue uses" - swift_symbols
[ "$have_frames" = 1 ] || skip "Swift frame symbols" "the generated glue has no frame API yet"

# --------------------------------------------------------------- cargo check, mobile targets
if [ "${T2UE_MOBILE_CARGO_CHECK:-1}" = 1 ]; then
  installed=$(rustup target list --installed 2>/dev/null)
  for t in aarch64-linux-android armv7-linux-androideabi x86_64-linux-android aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
    if grep -qx "$t" <<<"$installed"; then
      step "cargo check -p t2ue-uniffi --target $t" - cargo check --quiet -p t2ue-uniffi --target "$t"
    else
      skip "cargo check --target $t" "target not installed (rustup target add $t; not downloaded by this test)"
    fi
  done
fi

# ------------------------------------------------------------------------------------ sizes
size_check() {
  local rel=$target_root/release/libt2ue_uniffi.so stripped=$work/stripped.so budget what size
  if [ -f "$rel" ] && [ "$rel" -nt "$lib" ]; then
    what="release build $rel"; budget=$RELEASE_BUDGET
    strip -o "$stripped" "$rel"
  else
    what="dev build $lib (no release build newer than it; not representative)"; budget=$DEV_STRIPPED_BUDGET
    strip -o "$stripped" "$lib"
  fi
  size=$(wc -c < "$stripped")
  echo "libt2ue_uniffi.so, $what: $size bytes stripped (budget $budget)"
  echo "tiny test bundle: $(du -sb "$bundle" | cut -f1) bytes"
  for b in models/bundles/*/; do [ -f "$b/manifest.json" ] && echo "bundle $b: $(du -sb "$b" | cut -f1) bytes"; done
  [ "$size" -le "$budget" ]
}
step "size budget of libt2ue_uniffi (host)" - size_check

printf '\n(mobile checks took %ss)\n' "$(( $(date +%s) - t0 ))"
[ "${#skipped[@]}" = 0 ] || printf 'skipped: %s\n' "${skipped[@]}"
[ "${#failures[@]}" = 0 ] || printf 'FAILED: %s\n' "${failures[@]}"
echo "mobile: $passed passed, $failed failed"
[ "$failed" = 0 ]
