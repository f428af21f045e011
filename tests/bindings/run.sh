#!/usr/bin/env bash
# Tests of every binding against the same built libraries, with the real tiny bundle
# (tests/fixtures/tiny-bundle) and the real test photos (tests/fixtures/photos):
#   - C header drift: bindings/c/include/t2ue.h must equal a fresh cbindgen 0.29.4 generation;
#   - C: tests/c/test_c_api.c built with gcc -Wall -Wextra -Werror against libt2ue_c.so (run under
#     valgrind: no invalid accesses, no definite/indirect leaks) and against libt2ue_c.a;
#   - Python: UniFFI bindings generated from libt2ue_uniffi.so by the pinned uniffi-bindgen;
#   - Kotlin/JVM: the same, compiled by kotlinc 2.4.20 (npm kotlin-compiler) with Debian's JNA;
#   - Swift: bindings and modulemap generated, the FFI header compiled with gcc -fsyntax-only;
#     tests/swift runs only where a Swift toolchain exists (never on Linux CI here).
# Ends with "bindings: N passed, M failed" (N, M: test cases summed over the languages, plus one
# per check step) and exits non-zero on any failure.
#
# Needs: Rust, gcc, valgrind, python3, node/npm, JDK 17; installs (idempotent, cached in
# ${T2UE_CACHE:-~/.cache/t2ue}): cbindgen 0.29.4, kotlin-compiler 2.4.20, and with apt (as root)
# libjna-java when /usr/share/java/jna.jar is missing. Uses ORT_DYLIB_PATH if exported, else
# scripts/ensure-onnxruntime.sh. Builds the workspace with `cargo build` (dev profile, reusing
# target/; a no-op when the top-level test already built it).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
cache=${T2UE_CACHE:-$HOME/.cache/t2ue}
target=${CARGO_TARGET_DIR:-$root/target}/debug
bundle=$root/tests/fixtures/tiny-bundle
photos=$root/tests/fixtures/photos
KOTLIN_VERSION=2.4.20
KOTLIN_TGZ_SHA256=c23dab400d7ce5ea8b6c909947c0ca5454189e4bb1108695b5f464500e5e950f
VALGRIND_FLAGS=(--error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect
  --show-leak-kinds=definite,indirect --suppressions="$root/tests/c/valgrind.supp" -q)

work=$(mktemp -d "${TMPDIR:-/tmp}/t2ue-bindings.XXXXXX")
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
passed=0; failed=0; failures=()

# run_suite NAME LANG CMD...: run a step; add the "LANG: N passed, M failed" counts it prints
# (or 1 pass / 1 failure for steps that print none); a non-zero exit is always a failure.
run_suite() {
  local name=$1 lang=$2; shift 2
  local s=$(date +%s) log="$work/log.${name//[^A-Za-z0-9]/_}" rc p f line
  printf '\n--- %s\n' "$name"
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E "^$lang: [0-9]+ passed, [0-9]+ failed" "$log" | tail -n 1)
  if [ -n "$line" ] && [ "$lang" != "-" ]; then
    p=$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line"); f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  elif [ "$rc" = 0 ]; then p=1; f=0; else p=0; f=1; fi
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" = 0 ] || failures+=("$name")
  printf -- '--- %s: %s passed, %s failed (rc %s, %ss)\n' "$name" "$p" "$f" "$rc" "$(( $(date +%s) - s ))"
}

if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  ORT_DYLIB_PATH=$(scripts/ensure-onnxruntime.sh | tail -n 1) || { echo "bindings: no ONNX Runtime"; exit 1; }
  export ORT_DYLIB_PATH
fi

build() { cargo build --workspace --quiet; }
run_suite "cargo build (dev)" - build
if [ ! -f "$target/libt2ue_c.so" ] || [ ! -f "$target/libt2ue_uniffi.so" ] || [ ! -x "$target/uniffi-bindgen" ]; then
  echo "bindings: the libraries were not built"; echo "bindings: $passed passed, $((failed + 1)) failed"; exit 1
fi
bindgen() { "$target/uniffi-bindgen" generate --no-format --library "$target/libt2ue_uniffi.so" "$@"; }

# ---------------------------------------------------------------------------------------------- C
run_suite "C header is up to date (cbindgen 0.29.4)" - bindings/c/generate-header.sh --check

c_build() {
  local cflags=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -g -I"$root/bindings/c/include")
  gcc "${cflags[@]}" tests/c/test_c_api.c -o "$work/test_c_shared" -L"$target" -lt2ue_c \
    -Wl,-rpath,"$target" -pthread &&
  gcc "${cflags[@]}" tests/c/test_c_api.c -o "$work/test_c_static" "$target/libt2ue_c.a" \
    -pthread -ldl -lm -lrt -lutil -lgcc_s
}
run_suite "C: gcc -Wall -Wextra -Werror (shared + static)" - c_build
c_run() { rm -rf "$work/c-$1" && mkdir -p "$work/c-$1" && "${@:2}" "$bundle" "$photos" "$work/c-$1"; }
run_suite "C: libt2ue_c.so under valgrind" c c_run shared valgrind "${VALGRIND_FLAGS[@]}" "$work/test_c_shared"
run_suite "C: libt2ue_c.a" c c_run static "$work/test_c_static"

# ----------------------------------------------------------------------------------------- Python
py_run() {
  mkdir -p "$work/py" "$work/py-scratch" &&
  bindgen --language python --out-dir "$work/py" &&
  cp "$target/libt2ue_uniffi.so" "$work/py/" &&
  PYTHONPATH="$work/py" PYTHONDONTWRITEBYTECODE=1 "${T2UE_VENV:+$T2UE_VENV/bin/}python3" \
    tests/bindings/test_python.py "$bundle" "$photos" "$work/py-scratch"
}
run_suite "Python (UniFFI)" python py_run

# ----------------------------------------------------------------------------------------- Kotlin
ensure_kotlin() {
  local dest=$cache/kotlin-$KOTLIN_VERSION
  if [ -x "$dest/bin/kotlinc" ]; then return 0; fi
  echo "installing kotlin-compiler@$KOTLIN_VERSION (npm) into $dest"
  local tmp
  tmp=$(mktemp -d "$cache/.kotlin.XXXXXX") || return 1
  (cd "$tmp" && npm pack --silent "kotlin-compiler@$KOTLIN_VERSION" >/dev/null) &&
  [ "$(sha256sum "$tmp/kotlin-compiler-$KOTLIN_VERSION.tgz" | cut -d' ' -f1)" = "$KOTLIN_TGZ_SHA256" ] &&
  tar -xzf "$tmp/kotlin-compiler-$KOTLIN_VERSION.tgz" -C "$tmp" &&
  chmod +x "$tmp"/package/bin/* &&
  rm -rf "$dest" && mv "$tmp/package" "$dest"
  local rc=$?
  rm -rf "$tmp"
  [ "$rc" = 0 ] || echo "could not install kotlin-compiler@$KOTLIN_VERSION (or its SHA-256 differs)"
  return "$rc"
}
ensure_jna() {
  [ -f /usr/share/java/jna.jar ] && return 0
  echo "installing libjna-java (apt)"
  local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq libjna-java >/dev/null
}
kt_run() {
  mkdir -p "$cache" && ensure_kotlin && ensure_jna || return 1
  local kdir=$cache/kotlin-$KOTLIN_VERSION jna=/usr/share/java/jna.jar
  local co=$kdir/lib/kotlinx-coroutines-core-jvm.jar
  mkdir -p "$work/kt" "$work/kt-scratch" && bindgen --language kotlin --out-dir "$work/kt" || return 1
  # The compiled test is cached by the hash of its sources: kotlinc takes ~20-40 s, so a second
  # run with unchanged bindings starts at once.
  local hash jar
  hash=$(cat $(find "$work/kt" -name '*.kt' | sort) tests/bindings/TestKotlin.kt | sha256sum | cut -c1-16)
  jar=$cache/kotlin-tests/t2ue-$hash.jar
  if [ ! -f "$jar" ]; then
    mkdir -p "$cache/kotlin-tests"
    "$kdir/bin/kotlinc" -nowarn -cp "$jna:$co" $(find "$work/kt" -name '*.kt') tests/bindings/TestKotlin.kt \
      -include-runtime -d "$work/kt/test.jar" 2>&1 | grep -v '^warning' ; [ "${PIPESTATUS[0]}" = 0 ] || return 1
    mv "$work/kt/test.jar" "$jar"
  fi
  java -Djna.library.path="$target" -cp "$jna:$co:$jar" TestKotlinKt "$bundle" "$photos" "$work/kt-scratch"
}
run_suite "Kotlin/JVM (UniFFI, kotlinc $KOTLIN_VERSION)" kotlin kt_run

# ------------------------------------------------------------------------------------------ Swift
swift_gen() {
  mkdir -p "$work/swift" && bindgen --language swift --out-dir "$work/swift" || return 1
  for f in t2ue.swift t2ueFFI.h t2ueFFI.modulemap; do
    [ -s "$work/swift/$f" ] || { echo "missing generated $f"; return 1; }
  done
  # What tests/swift uses must exist in the generated Swift.
  for sym in "class Engine" "class ProtectionKey" "class Noise" "enum T2ueError" "func protectFile(" \
             "func protectFileAsync(" "func makeNoise(" 'static func `open`(' "static func generate("; do
    grep -q "$sym" "$work/swift/t2ue.swift" || { echo "generated Swift lacks '$sym'"; return 1; }
  done
  # Included from a C file (the header uses #pragma once); Clang's nullability keywords emptied.
  echo '#include "t2ueFFI.h"' | gcc -fsyntax-only -Wall -Wextra -Werror -D_Nullable= -D_Nonnull= \
    -I"$work/swift" -x c -
}
run_suite "Swift: bindings + modulemap generated, FFI header compiles (gcc)" - swift_gen
if command -v swift >/dev/null 2>&1; then
  run_suite "Swift: tests/swift (swift test)" - tests/swift/run.sh
else
  echo "--- Swift tests skipped: no Swift toolchain on this machine (tests/swift/run.sh runs them where one exists)"
fi

printf '\n(bindings took %ss)\n' "$(( $(date +%s) - t0 ))"
[ "${#failures[@]}" = 0 ] || printf 'FAILED: %s\n' "${failures[@]}"
echo "bindings: $passed passed, $failed failed"
[ "$failed" = 0 ]
