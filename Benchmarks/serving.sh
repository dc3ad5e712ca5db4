#!/usr/bin/env bash
# Serving benchmark, one entry point (issue 4, item 9): rlhfd through gRPC against llama.cpp's
# llama-server on TinyLlama-1.1B shapes, side by side in one run.
#   1. builds rlhfd (release, .build-release) unless RLHFD=binary is given;
#   2. makes the model dirs (.build-serving/models/{policy,reward}) from EngineBench's random
#      bf16 checkpoint (Benchmarks/serving/make_models.py adds tokenizer, preprocessor, score head);
#   3. starts rlhfd on a free loopback port, waits for health SERVING, runs
#      Benchmarks/serving/load.py (waves of 1, 4, 16, 32 GenerateStream calls + the Score test),
#      stops it;
#   4. runs llama-server (F16 GGUF, 2 threads) with --parallel N for the same waves (peer.py);
#   5. prints one table with the ratios and writes bench-results/serving.json.
# The two servers never run at the same time.
#
#   Benchmarks/serving.sh [--no-peer]
# Environment: STREAMS (1,4,16,32), PROMPT_TOKENS (100), MAX_NEW_TOKENS (64), SCORE_CANDIDATES
# (16; 0 skips), RLHFD (a prebuilt binary), RLHFD_SOURCE=head (build the last commit, exported
# to .build-serving/head-src, instead of the working tree), RLHFD_ARGS (extra `serve` flags),
# STEP_TIMEOUT (seconds per benchmark step, 3600), PYTHON (needs grpcio + grpcio-health-checking).
# First run: the llama.cpp peer build takes ~10 min (JOBS=1 nice -n 19 on a shared machine),
# the reward copy of the weights ~30 s. A build beside the benchmark halves its figures.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# This sandbox exports OPENBLAS_CORETYPE=Haswell, pinning OpenBLAS to its AVX2 kernels; a
# deployed daemon (systemd) has no such variable, and OpenBLAS then picks the CPU's own kernels
# (Cooperlake, AVX-512, on the Zen 5 these figures come from). Measure what a deployment gets,
# unless KEEP_OPENBLAS_CORETYPE=1.
if [ -z "${KEEP_OPENBLAS_CORETYPE:-}" ]; then unset OPENBLAS_CORETYPE; fi
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
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
mkdir -p "$WORK" bench-results
"$PYTHON" -c 'import grpc, grpc_health.v1.health' 2>/dev/null ||
  { echo "serving.sh: $PYTHON lacks grpcio / grpcio-health-checking (run scripts/setup.sh)" >&2; exit 2; }

# Everything started here is stopped on any exit (the daemon gets SIGTERM, then SIGKILL).
DAEMON_PID=""
cleanup() {
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

# 3. rlhfd under load
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "== rlhfd on 127.0.0.1:$PORT (load average $(cut -d' ' -f1-3 /proc/loadavg))"
# shellcheck disable=SC2086 # RLHFD_ARGS is a list of flags
"$RLHFD" serve --listen "127.0.0.1:$PORT" --policy-model "$WORK/models/policy" \
  --reward-model "$WORK/models/reward" ${RLHFD_ARGS:-} > "$WORK/rlhfd.log" 2>&1 &
DAEMON_PID=$!
"$PYTHON" Benchmarks/bridge/health_wait.py --target "127.0.0.1:$PORT" --timeout 300 ||
  { tail -20 "$WORK/rlhfd.log"; exit 1; }
RC=0
timeout --kill-after=10 "$STEP_TIMEOUT" "$PYTHON" "$HERE/load.py" --target "127.0.0.1:$PORT" \
  --streams "$STREAMS" --prompt-tokens "$PROMPT_TOKENS" --max-new-tokens "$MAX_NEW_TOKENS" \
  --score-candidates "$SCORE_CANDIDATES" --rpc-timeout "$STEP_TIMEOUT" --wave-timeout "$STEP_TIMEOUT" \
  --json "$WORK/rlhfd.json" || RC=$?
RSS_KB="$(awk '/VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0)"
cleanup
DAEMON_PID=""
[ -f "$WORK/rlhfd.json" ] || { echo "serving.sh: load.py wrote no results (exit $RC)" >&2; tail -5 "$WORK/rlhfd.log"; exit 1; }

# 3b. the separate-Score baseline on a daemon that shares nothing (prefix_caching: false): what
# 16 separate scores cost on a server without prefix sharing.
if [ "$SCORE_CANDIDATES" != 0 ]; then
  printf 'batching:\n  prefix_caching: false\n' > "$WORK/no-sharing.yaml"
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  echo "== rlhfd without prefix caching on 127.0.0.1:$PORT (separate Score baseline)"
  # shellcheck disable=SC2086
  "$RLHFD" serve --listen "127.0.0.1:$PORT" --policy-model "$WORK/models/policy" \
    --reward-model "$WORK/models/reward" --config "$WORK/no-sharing.yaml" ${RLHFD_ARGS:-} \
    > "$WORK/rlhfd-no-sharing.log" 2>&1 &
  DAEMON_PID=$!
  "$PYTHON" Benchmarks/bridge/health_wait.py --target "127.0.0.1:$PORT" --timeout 300 ||
    { tail -20 "$WORK/rlhfd-no-sharing.log"; exit 1; }
  timeout --kill-after=10 "$STEP_TIMEOUT" "$PYTHON" "$HERE/load.py" --target "127.0.0.1:$PORT" \
    --streams "" --score-candidates "$SCORE_CANDIDATES" --score-separate-only \
    --rpc-timeout "$STEP_TIMEOUT" --json "$WORK/rlhfd-no-sharing.json" || RC=$?
  cleanup
  DAEMON_PID=""
fi

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
python3 - "$WORK/meta.json" "$RLHFD" "$RSS_KB" <<'EOF'
import json, os, subprocess, sys, time
out, binary, rss = sys.argv[1], sys.argv[2], int(sys.argv[3] or 0)
git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
json.dump({
    "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": git("rev-parse", "--short", "HEAD"),
    "working_tree_dirty": bool(git("status", "--porcelain", "--", "Sources", "Package.swift")),
    "rlhfd_binary": binary, "rlhfd_source": os.environ.get("RLHFD_SOURCE", "tree"),
    "rlhfd_peak_rss_gb": rss / 1e6, "loadavg_end": open("/proc/loadavg").read().split()[:3],
    "cpus": os.cpu_count(),
    "models": "TinyLlama-1.1B text (bf16) + CLIP ViT-L/14-336 vision, random weights; reward = same + score head",
}, open(out, "w"), indent=1)
EOF
args=(--rlhfd "$WORK/rlhfd.json" --meta "$WORK/meta.json" --out bench-results/serving.json)
[ -f "$WORK/rlhfd-no-sharing.json" ] && args+=(--no-sharing "$WORK/rlhfd-no-sharing.json")
[ -n "$PEER_JSON" ] && args+=(--peer "$PEER_JSON")
python3 "$HERE/report.py" "${args[@]}" | tee bench-results/serving.log
exit "$RC"
