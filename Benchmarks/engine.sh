#!/usr/bin/env bash
# Engine benchmark, one entry point: builds EngineBench (release), builds the llama.cpp peer and
# its GGUF files if missing (unless --no-peer), waits (bounded) for a quiet machine, runs
# EngineBench: the limits, then ROUNDS rounds of rlhfd (fp32 and bf16) and llama-bench (F16 and
# BF16) interleaved, then the limits again; prints the report (CPU, kernels, medians, issue 10's
# goals with PASS/FAIL; UNRELIABLE at the top when the limits moved > 20 %) and writes
# bench-results/engine.{json,log} and bench-results/engine-report.md.
#   Benchmarks/engine.sh [--no-peer] [--smoke] [EngineBench options, e.g. --rounds 5 --no-breakdown]
# --smoke: the committed tiny model (models/default/policy), no peer, no wait: seconds; checks that
#   the benchmark still runs (scripts/test.sh), its figures mean nothing.
# Environment: ENGINE_BENCH_WAIT (seconds to wait for quiet, 120), ENGINE_BENCH_BIN (a built
# EngineBench: skip the release build), KEEP_OPENBLAS_CORETYPE=1.
# First time: ~10 min for the peer build (on 2 cores), ~1 min to write the 2.9 GB bf16
# checkpoint and ~1 min per GGUF. Then ~15 min per full run of 3 rounds.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source Benchmarks/quiet.sh
# Some sandboxes export OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE), pinning OpenBLAS's kernels; a
# deployed daemon (systemd) has no such variable and chooses its kernel set at start-up
# (docs/kernels.md). EngineBench runs the same choice (probing once, cached in
# .build-bench/state) and prints it, so it measures what a deployment gets, unless
# KEEP_OPENBLAS_CORETYPE=1.
if [ -z "${KEEP_OPENBLAS_CORETYPE:-}" ]; then unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; fi
PEER=1
SMOKE=0
ARGS=()
for a in "$@"; do
  case "$a" in
    --no-peer) PEER=0 ;;
    --smoke) SMOKE=1; PEER=0 ;;
    *) ARGS+=("$a") ;;
  esac
done
PEER_DIR="$ROOT/.build-peer"
OUT=bench-results/engine
WAIT="${ENGINE_BENCH_WAIT:-120}"
if [ "$SMOKE" = 1 ]; then
  ARGS=(--smoke --model models/default/policy "${ARGS[@]}")
  OUT=bench-results/engine-smoke
  WAIT=0
fi

BIN="${ENGINE_BENCH_BIN:-}"
if [ -z "$BIN" ]; then
  echo "== build EngineBench (release)"
  swift build -c release --scratch-path .build-bench --product EngineBench 2>&1 | tail -1
  BIN=.build-bench/release/EngineBench
fi

PEER_ARGS=()
if [ "$PEER" = 1 ]; then
  if [ ! -x "$PEER_DIR/llama-bench" ]; then
    echo "== build llama.cpp peer (llama-bench) under .build-peer (~10 min)"
    mkdir -p "$PEER_DIR"
    Benchmarks/llama-cpp/build.sh > "$PEER_DIR/build.log" 2>&1 || { tail -20 "$PEER_DIR/build.log"; exit 1; }
  fi
  mkdir -p "$PEER_DIR/models"
  for t in f16 bf16; do
    if [ ! -f "$PEER_DIR/models/tinyllama-$t.gguf" ]; then
      echo "== write tinyllama-$t.gguf (random weights)"
      "$PEER_DIR/venv/bin/python" Benchmarks/llama-cpp/make_gguf.py --type "$t" \
        --out "$PEER_DIR/models/tinyllama-$t.gguf"
    fi
  done
  # The image-encode peer (llama-mtmd-cli + an mmproj GGUF of the same CLIP and projector as
  # the bench checkpoint, which EngineBench writes on its first run): made when possible.
  if [ ! -x "$PEER_DIR/llama-mtmd-cli" ]; then
    echo "== build llama-mtmd-cli (the image-encode peer)"
    Benchmarks/llama-cpp/build.sh >> "$PEER_DIR/build.log" 2>&1 || echo "   (failed: see $PEER_DIR/build.log)"
  fi
  if [ ! -f "$PEER_DIR/models/mmproj-f16.gguf" ] && [ -f .build-bench/tinyllama-bf16/config.json ]; then
    echo "== write mmproj-f16.gguf (llama.cpp's CLIP + projector of the bench checkpoint)"
    "$PEER_DIR/venv/bin/python" -c "import torch, transformers" 2>/dev/null ||
      "$PEER_DIR/venv/bin/pip" install -q --find-links "${PIP_FIND_LINKS:-/opt/wheels}" \
        "torch==2.13.0+cpu" "transformers==4.57.6" safetensors
    "$PEER_DIR/venv/bin/python" Benchmarks/llama-cpp/make_mmproj.py \
      --checkpoint .build-bench/tinyllama-bf16 --llama-cpp "$PEER_DIR/src/vendor/llama.cpp" \
      --out "$PEER_DIR/models/mmproj-f16.gguf" > "$PEER_DIR/mmproj.log" 2>&1 ||
      echo "   (failed: see $PEER_DIR/mmproj.log; the image encode runs without a peer)"
  fi
  PEER_ARGS=(--peer "$PEER_DIR/llama-bench" --gguf-dir "$PEER_DIR/models"
    --peer-image Tests/Fixtures/images/rgb_64x48.png)
else
  echo "== peer: not run (--no-peer or --smoke)"
fi

# A build beside a benchmark halves its figures: wait (bounded) for quiet, and record the state.
wait_quiet "$WAIT"
echo "== cpu: $(host_line)"

mkdir -p bench-results
rm -f "$OUT-report.md"
rc=0
# The full run shows its progress; the smoke run only its report (or the log's tail on failure).
if [ "$SMOKE" = 1 ]; then SHOW=/dev/null; else SHOW=/dev/stdout; fi
"$BIN" --cache .build-bench/tinyllama-bf16 --state-directory .build-bench/state \
  --json "$OUT.json" --report "$OUT-report.md" --machine-state "$QUIET_STATE" \
  "${PEER_ARGS[@]}" "${ARGS[@]}" 2>&1 | tee "$OUT.log" > "$SHOW" || rc=$?
if [ "$rc" != 0 ] || [ ! -f "$OUT-report.md" ]; then
  tail -30 "$OUT.log"; echo "engine.sh: EngineBench failed ($rc), see $OUT.log" >&2; exit 1
fi
echo "== $OUT.log; the report ($OUT-report.md):"
cat "$OUT-report.md"
