#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine: set-up, the soundness checks, the Swift tests,
# the Python client's tests and the black-box interop tests against the built rlhfd binary.
#   scripts/test.sh              everything
#   SKIP_SOUNDNESS=1 scripts/test.sh   skip format/import/generated-code checks (faster locally)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*" >&2; }

step "set-up"
scripts/setup.sh

if [[ "${SKIP_SOUNDNESS:-0}" != 1 ]]; then
  step "soundness"
  scripts/soundness.sh
fi

step "swift build"
swift build --build-tests

step "swift test"
swift test --skip-build

step "python client tests"
.venv/bin/python -m pytest -q clients/python/tests

step "interop tests (real rlhfd binary, grpcio client)"
RLHFD_BIN="$(swift build --show-bin-path)/rlhfd" .venv/bin/python -m pytest -q Tests/Interop
