#!/usr/bin/env bash
# Serving benchmark, one entry point (issue 4, item 9): rlhfd through gRPC against llama.cpp's
# llama-server on TinyLlama-1.1B shapes, side by side in one run.
#   1. builds rlhfd (release, .build-release) unless RLHFD=binary is given;
#   2. makes the model dirs (.build-serving/models/{policy,reward}) from EngineBench's random
#      bf16 checkpoint (Benchmarks/serving/make_models.py adds tokenizer, preprocessor, score head);
#   3. for each precision P in PRECISIONS: starts rlhfd --precision P on a free loopback port,
#      waits for health SERVING, runs Benchmarks/serving/load.py (waves of 1, 4, 16, 32
#      GenerateStream calls + the Score test), stops it (.build-serving/rlhfd-P.{json,log});
#      3b. then the separate-Score baseline on rlhfd --precision P without prefix caching
#      (.build-serving/rlhfd-P-no-sharing.{json,log});
#   4. runs llama-server (F16 GGUF, 2 threads) with --parallel N for the same waves (peer.py),
#      once for all precisions;
#   5. prints one table with the ratios, every precision side by side, and writes
#      bench-results/serving.json (a section per precision) and bench-results/serving.log.
# No two servers ever run at the same time. A precision whose daemon does not start (bf16 on a
# CPU without AVX512-BF16) or whose load run writes nothing is reported and skipped; the others
# still run, and the script exits non-zero.
#
#   Benchmarks/serving.sh [--no-peer]
# Environment: PRECISIONS (fp32,bf16: the rlhfd `--precision` values to measure, in this order;
# e.g. PRECISIONS=bf16 runs one), STREAMS (1,4,16,32), PROMPT_TOKENS (100), MAX_NEW_TOKENS (64),
# SCORE_CANDIDATES (16; 0 skips), RLHFD (a prebuilt binary), RLHFD_SOURCE=head (build the last
# commit, exported to .build-serving/head-src, instead of the working tree), RLHFD_ARGS (extra
# `serve` flags for every precision; not --precision), STEP_TIMEOUT (seconds per benchmark step,
# 3600), PYTHON (needs grpcio + grpcio-health-checking).
# First run: the llama.cpp peer build takes ~10 min (JOBS=1 nice -n 19 on a shared machine),
# the reward copy of the weights ~30 s. A build beside the benchmark halves its figures.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# Some sandboxes export OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE), pinning OpenBLAS's kernels; a
# deployed daemon (systemd) has no such variable and chooses its kernel set at start-up
# (docs/kernels.md; here cached in .build-serving/state). Measure what a deployment gets, unless
# KEEP_OPENBLAS_CORETYPE=1. The chosen core goes into the report.
if [ -z "${KEEP_OPENBLAS_CORETYPE:-}" ]; then unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; fi
HERE="$ROOT/Benchmarks/serving"
WORK="$ROOT/.build-serving"
PEER_DIR="$ROOT/.build-peer"
PEER=1
for a in "$@"; do
  case "$a" in
    --no-peer) PEER=0 ;;
    *) echo "serving.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
STREAMS="${STREAMS:-1,4,16,32}"
PROMPT_TOKENS="${PROMPT_TOKENS:-100}"
MAX_NEW_TOKENS="${MAX_NEW_TOKENS:-64}"
SCORE_CANDIDATES="${SCORE_CANDIDATES:-16}"
STEP_TIMEOUT="${STEP_TIMEOUT:-3600}"
PRECISIONS="${PRECISIONS:-fp32,bf16}"
PRECISION_LIST=()
IFS=',' read -r -a _precisions <<< "$PRECISIONS"
for p in "${_precisions[@]}"; do
  p="${p// /}"
  [ -n "$p" ] || continue
  case "$p" in
    fp32|bf16) ;;
    *) echo "serving.sh: PRECISIONS: '$p' is not fp32 or bf16" >&2; exit 2 ;;
  esac
  case " ${PRECISION_LIST[*]} " in *" $p "*) continue ;; esac
  PRECISION_LIST+=("$p")
done
[ "${#PRECISION_LIST[@]}" -gt 0 ] || { echo "serving.sh: PRECISIONS is empty" >&2; exit 2; }
case " ${RLHFD_ARGS:-} " in
  *" --precision"*) echo "serving.sh: set PRECISIONS, not --precision in RLHFD_ARGS" >&2; exit 2 ;;
esac
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
mkdir -p "$WORK" bench-results
"$PYTHON" -c 'import grpc, grpc_health.v1.health' 2>/dev/null ||
  { echo "serving.sh: $PYTHON lacks grpcio / grpcio-health-checking (run scripts/setup.sh)" >&2; exit 2; }

# Everything started here is stopped on any exit (the daemon gets SIGTERM, then SIGKILL).
DAEMON_PID=""
WAITER_PID=""
cleanup() {
  if [ -n "$WAITER_PID" ]; then kill "$WAITER_PID" 2>/dev/null || true; fi
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill "$DAEMON_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$DAEMON_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. rlhfd
if [ -z "${RLHFD:-}" ]; then
  SRC="$ROOT"
  if [ "${RLHFD_SOURCE:-tree}" = head ]; then
    # The last commit, for when the working tree is mid-edit and does not compile.
    rm -rf "$WORK/head-src" && mkdir -p "$WORK/head-src"
    git archive HEAD | tar -x -C "$WORK/head-src"
    cp Package.resolved "$WORK/head-src/" 2>/dev/null || true
    SRC="$WORK/head-src"
  fi
  echo "== build rlhfd (release, .build-release) from $SRC"
  (cd "$SRC" && swift build -c release --scratch-path "$ROOT/.build-release" --product rlhfd 2>&1 | tail -1)
  RLHFD="$ROOT/.build-release/release/rlhfd"
fi
[ -x "$RLHFD" ] || { echo "serving.sh: no rlhfd binary at $RLHFD" >&2; exit 2; }

# 2. model dirs. EngineBench writes the checkpoint on its first run (no write-only option):
# a minimal run makes it when it is missing.
CKPT="$ROOT/.build-bench/tinyllama-bf16"
if [ ! -f "$CKPT/model.safetensors" ] || [ ! -f "$CKPT/bench-marker.txt" ]; then
  echo "== write the TinyLlama-shaped bf16 checkpoint with EngineBench (~1 min)"
  swift build -c release --scratch-path .build-bench --product EngineBench 2>&1 | tail -1
  .build-bench/release/EngineBench --cache "$CKPT" --runs 1 --prefill 16 --decode 2 \
    --no-vision --no-breakdown > "$WORK/enginebench-ckpt.log" 2>&1
fi
python3 "$HERE/make_models.py" --checkpoint "$CKPT" --tokenizer models/default/policy --out "$WORK/models"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Health SERVING on $PORT, or failure as soon as the daemon exits (a refused precision, a bad
# model) rather than after health_wait's 300 s.
wait_healthy() {
  "$PYTHON" Benchmarks/bridge/health_wait.py --target "127.0.0.1:$PORT" --timeout 300 &
  WAITER_PID=$!
  while kill -0 "$WAITER_PID" 2>/dev/null; do
    if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
      kill "$WAITER_PID" 2>/dev/null || true
      wait "$WAITER_PID" 2>/dev/null || true
      WAITER_PID=""
      echo "serving.sh: rlhfd exited during start-up" >&2
      return 1
    fi
    sleep 0.5
  done
  local rc=0
  wait "$WAITER_PID" || rc=$?
  WAITER_PID=""
  return "$rc"
}
RC=0
RSS_KB=""  # P=kB,P=kB: each precision's peak RSS under load (step 3)
BLAS_CORE=""  # the daemon's OpenBLAS kernel set and why (its log)
for P in "${PRECISION_LIST[@]}"; do
  # Never report a previous run's figures for this precision.
  rm -f "$WORK/rlhfd-$P.json" "$WORK/rlhfd-$P-no-sharing.json"

  # 3. rlhfd under load
  PORT="$(free_port)"
  echo "== rlhfd --precision $P on 127.0.0.1:$PORT (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  # shellcheck disable=SC2086 # RLHFD_ARGS is a list of flags
  "$RLHFD" serve --listen "127.0.0.1:$PORT" --policy-model "$WORK/models/policy" \
    --reward-model "$WORK/models/reward" --precision "$P" --state-directory "$WORK/state" \
    ${RLHFD_ARGS:-} > "$WORK/rlhfd-$P.log" 2>&1 &
  DAEMON_PID=$!
  if ! wait_healthy; then
    echo "serving.sh: rlhfd --precision $P did not start; skipping $P" >&2
    tail -20 "$WORK/rlhfd-$P.log"
    cleanup; DAEMON_PID=""; RC=1
    continue
  fi
  BLAS_CORE="$(sed -n 's/.*openblas core //p' "$WORK/rlhfd-$P.log" | head -1)"
  echo "== openblas core $BLAS_CORE"
  timeout --kill-after=10 "$STEP_TIMEOUT" "$PYTHON" "$HERE/load.py" --target "127.0.0.1:$PORT" \
    --streams "$STREAMS" --prompt-tokens "$PROMPT_TOKENS" --max-new-tokens "$MAX_NEW_TOKENS" \
    --score-candidates "$SCORE_CANDIDATES" --rpc-timeout "$STEP_TIMEOUT" --wave-timeout "$STEP_TIMEOUT" \
    --json "$WORK/rlhfd-$P.json" || RC=$?
  RSS_KB="${RSS_KB:+$RSS_KB,}$P=$(awk '/VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0)"
  cleanup
  DAEMON_PID=""
  if [ ! -f "$WORK/rlhfd-$P.json" ]; then
    echo "serving.sh: load.py wrote no results for --precision $P (exit $RC); skipping $P" >&2
    tail -5 "$WORK/rlhfd-$P.log"
    RC=1
    continue
  fi

  # 3b. the separate-Score baseline on a daemon that shares nothing (prefix_caching: false): what
  # 16 separate scores cost on a server without prefix sharing.
  if [ "$SCORE_CANDIDATES" != 0 ]; then
    printf 'batching:\n  prefix_caching: false\n' > "$WORK/no-sharing.yaml"
    PORT="$(free_port)"
    echo "== rlhfd --precision $P without prefix caching on 127.0.0.1:$PORT (separate Score baseline)"
    # shellcheck disable=SC2086
    "$RLHFD" serve --listen "127.0.0.1:$PORT" --policy-model "$WORK/models/policy" \
      --reward-model "$WORK/models/reward" --config "$WORK/no-sharing.yaml" --precision "$P" \
      --state-directory "$WORK/state" ${RLHFD_ARGS:-} > "$WORK/rlhfd-$P-no-sharing.log" 2>&1 &
    DAEMON_PID=$!
    if wait_healthy; then
      timeout --kill-after=10 "$STEP_TIMEOUT" "$PYTHON" "$HERE/load.py" --target "127.0.0.1:$PORT" \
        --streams "" --score-candidates "$SCORE_CANDIDATES" --score-separate-only \
        --rpc-timeout "$STEP_TIMEOUT" --json "$WORK/rlhfd-$P-no-sharing.json" || RC=$?
    else
      echo "serving.sh: rlhfd --precision $P without prefix caching did not start" >&2
      tail -20 "$WORK/rlhfd-$P-no-sharing.log"
      RC=1
    fi
    cleanup
    DAEMON_PID=""
  fi
done
DONE=()
for P in "${PRECISION_LIST[@]}"; do [ -f "$WORK/rlhfd-$P.json" ] && DONE+=("$P"); done
[ "${#DONE[@]}" -gt 0 ] || { echo "serving.sh: no rlhfd results at any precision" >&2; exit 1; }

# 4. llama-server, same waves
PEER_JSON=""
if [ "$PEER" = 1 ]; then
  if [ ! -x "$PEER_DIR/llama-server" ]; then
    echo "== build llama.cpp peer (llama-bench + llama-server) under .build-peer (~10 min)"
    mkdir -p "$PEER_DIR"
    JOBS="${JOBS:-1}" nice -n 19 Benchmarks/llama-cpp/build.sh > "$PEER_DIR/build.log" 2>&1 ||
      { tail -20 "$PEER_DIR/build.log"; exit 1; }
  fi
  GGUF="$PEER_DIR/models/tinyllama-f16.gguf"
  if [ ! -f "$GGUF" ]; then
    mkdir -p "$PEER_DIR/models"
    "$PEER_DIR/venv/bin/python" Benchmarks/llama-cpp/make_gguf.py --type f16 --out "$GGUF"
  fi
  echo "== llama-server (F16, 2 threads) (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  timeout --kill-after=10 "$STEP_TIMEOUT" python3 "$HERE/peer.py" --server "$PEER_DIR/llama-server" \
    --model "$GGUF" --streams "$STREAMS" --prompt-tokens "$PROMPT_TOKENS" \
    --max-new-tokens "$MAX_NEW_TOKENS" --threads 2 --wave-timeout "$STEP_TIMEOUT" \
    --log "$WORK/llama-server.log" --json "$WORK/peer.json" || RC=$?
  PEER_JSON="$WORK/peer.json"
fi

# 5. one table, one JSON
python3 - "$WORK/meta.json" "$RLHFD" "$RSS_KB" "$(IFS=,; echo "${DONE[*]}")" "$BLAS_CORE" <<'EOF'
import json, os, subprocess, sys, time
out, binary = sys.argv[1], sys.argv[2]
rss = {p: int(kb or 0) / 1e6 for p, _, kb in (x.partition("=") for x in sys.argv[3].split(",") if x)}
git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
json.dump({
    "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": git("rev-parse", "--short", "HEAD"),
    "working_tree_dirty": bool(git("status", "--porcelain", "--", "Sources", "Package.swift")),
    "rlhfd_binary": binary, "rlhfd_source": os.environ.get("RLHFD_SOURCE", "tree"),
    "rlhfd_args": os.environ.get("RLHFD_ARGS", ""), "precisions": sys.argv[4].split(","),
    "rlhfd_peak_rss_gb": rss, "openblas_core": sys.argv[5], "loadavg_end": open("/proc/loadavg").read().split()[:3],
    "cpus": os.cpu_count(),
    "models": "TinyLlama-1.1B text (bf16) + CLIP ViT-L/14-336 vision, random weights; reward = same + score head",
}, open(out, "w"), indent=1)
EOF
args=(--meta "$WORK/meta.json" --out bench-results/serving.json)
for P in "${DONE[@]}"; do
  args+=(--rlhfd "$P=$WORK/rlhfd-$P.json")
  [ -f "$WORK/rlhfd-$P-no-sharing.json" ] && args+=(--no-sharing "$P=$WORK/rlhfd-$P-no-sharing.json")
done
[ -n "$PEER_JSON" ] && args+=(--peer "$PEER_JSON")
python3 "$HERE/report.py" "${args[@]}" | tee bench-results/serving.log
exit "$RC"
