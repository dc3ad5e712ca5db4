#!/usr/bin/env bash
# Engine benchmark, one entry point: builds EngineBench (release), builds the llama.cpp peer and
# its GGUF files if missing (unless --no-peer), runs EngineBench (which runs llama-bench after
# its own phases, in the same run), prints the table and writes bench-results/engine.json.
#   Benchmarks/engine.sh [--no-peer] [EngineBench options, e.g. --runs 3]
# First time: ~5-10 min for the peer build, ~1 min to write the 2.9 GB bf16 checkpoint and
# ~1 min per GGUF (2.2 GB each). Then < 10 min per run. It waits up to ENGINE_BENCH_WAIT
# seconds (default 300) for CPU pressure to drop below 5 % before running.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# Some sandboxes export OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE), pinning OpenBLAS's kernels; a
# deployed daemon (systemd) has no such variable and chooses its kernel set at start-up
# (docs/kernels.md). EngineBench runs the same choice (probing once, cached in
# .build-bench/state) and prints it, so it measures what a deployment gets, unless
# KEEP_OPENBLAS_CORETYPE=1.
if [ -z "${KEEP_OPENBLAS_CORETYPE:-}" ]; then unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; fi
PEER=1
ARGS=()
for a in "$@"; do
  if [ "$a" = "--no-peer" ]; then PEER=0; else ARGS+=("$a"); fi
done
PEER_DIR="$ROOT/.build-peer"

echo "== build EngineBench (release)"
swift build -c release --scratch-path .build-bench --product EngineBench 2>&1 | tail -1

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
  PEER_ARGS=(--peer "$PEER_DIR/llama-bench" --gguf-dir "$PEER_DIR/models")
fi

# Wait (bounded) for the machine to be quiet: a build beside a benchmark halves its figures.
pressure() { awk '/^some/ { sub("avg10=", "", $2); print int($2) }' /proc/pressure/cpu 2>/dev/null || echo 0; }
WAIT="${ENGINE_BENCH_WAIT:-300}"
quiet=0
for _ in $(seq 1 $((WAIT / 5))); do
  if [ "$(pressure)" -lt 5 ]; then quiet=$((quiet + 1)); else quiet=0; fi
  [ "$quiet" -ge 3 ] && break
  sleep 5
done
[ "$quiet" -ge 3 ] || echo "== WARNING: machine still busy after ${WAIT}s (cpu pressure avg10 $(pressure) %)"

mkdir -p bench-results
echo "== run (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
.build-bench/release/EngineBench --cache .build-bench/tinyllama-bf16 --state-directory .build-bench/state \
  --json bench-results/engine.json "${PEER_ARGS[@]}" "${ARGS[@]}" 2>&1 | tee bench-results/engine.log
