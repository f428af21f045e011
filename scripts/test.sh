#!/usr/bin/env bash
# Run every test of t2ue: Rust (core + CLI), bindings (C, Python, Kotlin, Swift generation),
# mobile packaging checks, fixture reproducibility, and the Python models suite. This is what CI runs (.ci/run).
# Installs what it needs on a fresh machine (ONNX Runtime from its pinned PyPI wheel, the Python
# venv from models/requirements.lock, Debian packages); quick the second time.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }
passed=0; failed=0; failures=()
record() { if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$2"); fi; }

step "ONNX Runtime (pinned wheel)"
ORT_DYLIB_PATH="$(scripts/ensure-onnxruntime.sh | tail -n 1)"
export ORT_DYLIB_PATH
echo "$ORT_DYLIB_PATH"

step "Python environment (models/requirements.lock)"
T2UE_VENV="$(models/scripts/ensure-venv.sh | tail -n 1)"
export T2UE_VENV
echo "$T2UE_VENV"

step "Rust: cargo test --workspace"
set +e
cargo test --workspace --locked 2>&1 | tee /tmp/t2ue-cargo-test.$$.log
rc=${PIPESTATUS[0]}
set -e
record "$rc" "cargo test"

step "the tiny test bundle is reproducible from its script"
set +e
scripts/check-fixtures.sh
record $? "fixture reproducibility"
set -e

if [ -x tests/bindings/run.sh ]; then
  step "bindings: C (gcc + valgrind), Python, Kotlin, Swift generation"
  set +e
  tests/bindings/run.sh
  record $? "bindings"
  set -e
fi

if [ -x tests/mobile/run.sh ]; then
  step "mobile: Kotlin facade on the JVM, frame tests, scripts (shellcheck), package checks"
  set +e
  tests/mobile/run.sh
  record $? "mobile"
  set -e
fi

step "models: pytest"
set +e
T2UE_REQUIRE_CLI=1 "$T2UE_VENV/bin/python" -m pytest models/tests -q
record $? "pytest models/tests"
set -e

step "done"
if [ "$failed" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failures[@]}"
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
