#!/usr/bin/env bash
# Runs every test on a fresh Debian 12 machine: set-up, the soundness checks, the Swift tests,
# the Python client's tests, the world tools' tests and the black-box interop tests against the
# built rlhfd binary, the short reliability suite and fuzz run (docs/reliability.md).
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
# Which kernel paths run here: the AVX-512 and bf16 tests are skipped on CPUs without them.
flags="$(grep -m1 '^flags' /proc/cpuinfo || true)"
has() { [[ " $flags " == *" $1 "* ]] && echo yes || echo no; }
# Which OpenBLAS kernel set the Swift tests run with (whatever this environment gives: they
# have tolerances), and the one the daemon would choose here (docs/kernels.md).
rlhfd="$(swift build --show-bin-path)/rlhfd"
echo "openblas: the tests run with $("$rlhfd" blas-core --blas-core keep 2>&1 >/dev/null | sed 's/^openblas core //'); rlhfd serve would run with $("$rlhfd" blas-core 2>/dev/null)" >&2
echo "cpu: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | xargs); avx512f $(has avx512f), avx512_bf16 $(has avx512_bf16), amx_bf16 $(has amx_bf16)" >&2
swift test --skip-build

step "python client tests"
.venv/bin/python -m pytest -q clients/python/tests

step "world tools tests (generator, judge, feedback export; no torch)"
.venv/bin/python -m pytest -q tools/world/tests

step "interop tests (real rlhfd binary, grpcio client)"
RLHFD_BIN="$(swift build --show-bin-path)/rlhfd" .venv/bin/python -m pytest -q Tests/Interop

step "reliability, short (soak, overload, deadlines, cancellation, descriptors, slow clients, malformed input, kill -9, drain; fuzz 20 s per target)"
RLHFD_BIN="$(swift build --show-bin-path)/rlhfd" scripts/reliability.sh --short

step "benchmark smoke (engine.sh, training.sh, serving.sh and training_ttft.sh still run, on the tiny models; no timings checked)"
bin="$(swift build --show-bin-path)"
ENGINE_BENCH_BIN="$bin/EngineBench" Benchmarks/engine.sh --smoke
# Both modes, 1 round, small shapes; the PyTorch peer only where .build-ref/venv has torch.
TRAINING_BENCH_BIN="$bin/TrainingBench" Benchmarks/training.sh --smoke > /dev/null ||
  { tail -30 bench-results/training-smoke-*.log; exit 1; }
grep -q "^| step (wall)" bench-results/training-smoke-report.md ||
  { echo "training smoke: no figures table" >&2; exit 1; }
RLHFD="$bin/rlhfd" ENGINE_BENCH_BIN="$bin/EngineBench" Benchmarks/serving.sh --smoke > /dev/null ||
  { tail -30 bench-results/serving-smoke.log; exit 1; }
grep -q "^| goal" bench-results/serving-smoke.log || { echo "serving smoke: no goals table" >&2; exit 1; }
# One daemon with the trainer on the tiny models, 1 round: fails when no PPO step ran in A (INVALID).
RLHFD="$bin/rlhfd" ENGINE_BENCH_BIN="$bin/EngineBench" Benchmarks/training_ttft.sh --smoke > /dev/null ||
  { tail -30 bench-results/training-ttft-smoke.log 2>/dev/null; tail -20 .build-training-ttft-smoke/rlhfd.log; exit 1; }
grep -q "^| goal" bench-results/training-ttft-smoke.log || { echo "training TTFT smoke: no goal line" >&2; exit 1; }
