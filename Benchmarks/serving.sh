#!/usr/bin/env bash
# Serving benchmark, one entry point (issue 4 item 9, issue 10 part 3): rlhfd through gRPC against
# llama.cpp's llama-server on TinyLlama-1.1B shapes, interleaved in rounds (ABAB…):
#   1. builds rlhfd (release, .build-release) unless RLHFD=binary is given;
#   2. makes the model dirs (.build-serving/models/{policy,reward}) from EngineBench's random
#      bf16 checkpoint (Benchmarks/serving/make_models.py adds tokenizer, preprocessor, score head);
#   3. measures the limits (EngineBench --limits-only: sgemm ceiling, read bandwidth);
#   4. ROUNDS times: waits (bounded) for a quiet machine (Benchmarks/quiet.sh), then for each
#      precision P runs rlhfd --precision P (waves of 1, 4, 16, 32 GenerateStream calls, load.py;
#      round 1 adds the Score test and its no-prefix-caching baseline), then llama-server with the
#      F16 and the BF16 GGUF (peer.py, 2 threads, --parallel N for the same waves);
#   5. measures the limits again; merges the rounds (rounds.py: medians for both servers), prints
#      one table (report.py: RELIABLE/UNRELIABLE, CPU, kernels, each precision against
#      llama-server's best type, the goals) and writes bench-results/serving.{json,log}.
# No two servers ever run at the same time. A precision whose daemon does not start or whose load
# run writes nothing is reported and skipped; the others still run, and the script exits non-zero.
#
#   Benchmarks/serving.sh [--no-peer] [--smoke]
# --smoke: the committed tiny models (models/default), waves of 1 and 4 streams of 4 tokens,
#   2 rounds, no peer, no wait: checks that the benchmark still runs (scripts/test.sh).
# Environment: PRECISIONS (fp32,bf16), ROUNDS (3), STREAMS (1,4,16,32), PROMPT_TOKENS (100),
# MAX_NEW_TOKENS (64), SCORE_CANDIDATES (16; 0 skips), SERVING_WAIT (seconds to wait for quiet
# before each round, 120), RLHFD (a prebuilt binary), RLHFD_SOURCE=head (build the last commit),
# RLHFD_ARGS (extra `serve` flags; not --precision), ENGINE_BENCH_BIN (for the limits),
# STEP_TIMEOUT (seconds per step, 3600), PYTHON (needs grpcio + grpcio-health-checking).
# First run: the llama.cpp peer build takes ~10 min (JOBS=1 nice -n 19 on a shared machine).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source Benchmarks/quiet.sh
# Some sandboxes export OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE), pinning OpenBLAS's kernels; a
# deployed daemon (systemd) has no such variable and chooses its kernel set at start-up
# (docs/kernels.md; here cached in .build-serving/state). Measure what a deployment gets, unless
# KEEP_OPENBLAS_CORETYPE=1. The kernels each daemon ran go into the report.
if [ -z "${KEEP_OPENBLAS_CORETYPE:-}" ]; then unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; fi
HERE="$ROOT/Benchmarks/serving"
WORK="$ROOT/.build-serving"
PEER_DIR="$ROOT/.build-peer"
OUT=bench-results/serving
PEER=1
SMOKE=0
for a in "$@"; do
  case "$a" in
    --no-peer) PEER=0 ;;
    --smoke) SMOKE=1; PEER=0 ;;
    *) echo "serving.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
if [ "$SMOKE" = 1 ]; then
  WORK="$ROOT/.build-serving-smoke" OUT=bench-results/serving-smoke
  : "${STREAMS:=1,4}" "${PROMPT_TOKENS:=16}" "${MAX_NEW_TOKENS:=4}" "${SCORE_CANDIDATES:=2}"
  : "${ROUNDS:=2}" "${SERVING_WAIT:=0}"
fi
STREAMS="${STREAMS:-1,4,16,32}"
PROMPT_TOKENS="${PROMPT_TOKENS:-100}"
MAX_NEW_TOKENS="${MAX_NEW_TOKENS:-64}"
SCORE_CANDIDATES="${SCORE_CANDIDATES:-16}"
STEP_TIMEOUT="${STEP_TIMEOUT:-3600}"
ROUNDS="${ROUNDS:-3}"
SERVING_WAIT="${SERVING_WAIT:-120}"
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
rm -rf "$WORK"/round-*
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
  DAEMON_PID=""
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

# 2. model dirs, and EngineBench for the limits. EngineBench writes the checkpoint on its first
# run (no write-only option): a minimal run makes it when it is missing.
LIMITS_BIN="${ENGINE_BENCH_BIN:-$ROOT/.build-bench/release/EngineBench}"
if [ "$SMOKE" = 1 ]; then
  MODELS="$ROOT/models/default"
else
  CKPT="$ROOT/.build-bench/tinyllama-bf16"
  if [ ! -x "$LIMITS_BIN" ] || [ ! -f "$CKPT/bench-marker.txt" ]; then
    swift build -c release --scratch-path .build-bench --product EngineBench 2>&1 | tail -1
  fi
  if [ ! -f "$CKPT/model.safetensors" ] || [ ! -f "$CKPT/bench-marker.txt" ]; then
    echo "== write the TinyLlama-shaped bf16 checkpoint with EngineBench (~1 min)"
    .build-bench/release/EngineBench --cache "$CKPT" --rounds 1 --prefill 16 --decode 2 \
      --precisions fp32 --no-vision --no-breakdown > "$WORK/enginebench-ckpt.log" 2>&1
  fi
  python3 "$HERE/make_models.py" --checkpoint "$CKPT" --tokenizer models/default/policy --out "$WORK/models"
  MODELS="$WORK/models"
fi

# 3. the peer and its GGUFs (both types: each precision is compared with the faster)
PEER_TYPES=()
if [ "$PEER" = 1 ]; then
  if [ ! -x "$PEER_DIR/llama-server" ]; then
    echo "== build llama.cpp peer (llama-bench + llama-server) under .build-peer (~10 min)"
    mkdir -p "$PEER_DIR"
    JOBS="${JOBS:-1}" nice -n 19 Benchmarks/llama-cpp/build.sh > "$PEER_DIR/build.log" 2>&1 ||
      { tail -20 "$PEER_DIR/build.log"; exit 1; }
  fi
  mkdir -p "$PEER_DIR/models"
  for T in f16 bf16; do
    GGUF="$PEER_DIR/models/tinyllama-$T.gguf"
    [ -f "$GGUF" ] || "$PEER_DIR/venv/bin/python" Benchmarks/llama-cpp/make_gguf.py --type "$T" --out "$GGUF"
    PEER_TYPES+=("$T")
  done
else
  echo "== peer: not run (--no-peer or --smoke)"
fi

limits() {  # limits FILE: the sgemm ceiling and read bandwidth now, or nothing without EngineBench
  rm -f "$1"
  if [ -x "$LIMITS_BIN" ]; then
    local smoke=(); [ "$SMOKE" = 1 ] && smoke=(--smoke)
    "$LIMITS_BIN" --limits-only "${smoke[@]}" --state-directory "$WORK/state" --json "$1" | grep LIMITS || true
  else
    echo "== limits not measured: no EngineBench at $LIMITS_BIN"
  fi
}

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
# start_rlhfd P LOG [serve flags...]: the daemon on a free port, healthy, or non-zero.
start_rlhfd() {
  local p="$1" log="$2"; shift 2
  PORT="$(free_port)"
  # shellcheck disable=SC2086 # RLHFD_ARGS is a list of flags
  "$RLHFD" serve --listen "127.0.0.1:$PORT" --policy-model "$MODELS/policy" \
    --reward-model "$MODELS/reward" --precision "$p" --state-directory "$WORK/state" \
    "$@" ${RLHFD_ARGS:-} > "$log" 2>&1 &
  DAEMON_PID=$!
  wait_healthy || { echo "serving.sh: rlhfd --precision $p did not start" >&2; tail -20 "$log"; cleanup; return 1; }
}
RC=0
RSS_KB=""  # P=kB,…: each precision's peak RSS under load (round 1)
# run_rlhfd P DIR ROUND: the waves (and in round 1 the Score test and its baseline) at P.
run_rlhfd() {
  local p="$1" dir="$2" round="$3" score=0
  [ "$round" = 1 ] && score="$SCORE_CANDIDATES"
  echo "== round $round: rlhfd --precision $p (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  start_rlhfd "$p" "$dir/rlhfd-$p.log" || { RC=1; return; }
  timeout --kill-after=10 "$STEP_TIMEOUT" "$PYTHON" "$HERE/load.py" --target "127.0.0.1:$PORT" \
    --streams "$STREAMS" --prompt-tokens "$PROMPT_TOKENS" --max-new-tokens "$MAX_NEW_TOKENS" \
    --score-candidates "$score" --rpc-timeout "$STEP_TIMEOUT" --wave-timeout "$STEP_TIMEOUT" \
    --json "$dir/rlhfd-$p.json" || RC=$?
  if [ "$round" = 1 ]; then
    RSS_KB="${RSS_KB:+$RSS_KB,}$p=$(awk '/VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0)"
  fi
  cleanup
  [ -f "$dir/rlhfd-$p.json" ] || { echo "serving.sh: load.py wrote no results for $p" >&2; RC=1; return; }
  # The separate-Score baseline on a daemon that shares nothing (prefix_caching: false): what
  # K separate scores cost on a server without prefix sharing.
  if [ "$score" != 0 ]; then
    printf 'batching:\n  prefix_caching: false\n' > "$WORK/no-sharing.yaml"
    echo "== round $round: rlhfd --precision $p without prefix caching (separate Score baseline)"
    start_rlhfd "$p" "$dir/rlhfd-$p-no-sharing.log" --config "$WORK/no-sharing.yaml" || { RC=1; return; }
    timeout --kill-after=10 "$STEP_TIMEOUT" "$PYTHON" "$HERE/load.py" --target "127.0.0.1:$PORT" \
      --streams "" --score-candidates "$score" --score-separate-only \
      --rpc-timeout "$STEP_TIMEOUT" --json "$WORK/rlhfd-$p-no-sharing.json" || RC=$?
    cleanup
  fi
}

# 4. the rounds: rlhfd (each precision), then llama-server (each type), ABAB…
rm -f "$WORK"/rlhfd-*.json "$WORK"/peer-*.json
limits "$WORK/limits-start.json"
QUIET_STATES=()
for R in $(seq 1 "$ROUNDS"); do
  wait_quiet "$SERVING_WAIT"
  QUIET_STATES+=("$QUIET_STATE")
  D="$WORK/round-$R"
  mkdir -p "$D"
  for P in "${PRECISION_LIST[@]}"; do run_rlhfd "$P" "$D" "$R"; done
  for T in "${PEER_TYPES[@]}"; do
    echo "== round $R: llama-server ($T, 2 threads) (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    timeout --kill-after=10 "$STEP_TIMEOUT" python3 "$HERE/peer.py" --server "$PEER_DIR/llama-server" \
      --model "$PEER_DIR/models/tinyllama-$T.gguf" --streams "$STREAMS" --prompt-tokens "$PROMPT_TOKENS" \
      --max-new-tokens "$MAX_NEW_TOKENS" --threads 2 --wave-timeout "$STEP_TIMEOUT" \
      --log "$D/llama-server-$T.log" --json "$D/peer-$T.json" || RC=$?
  done
done
limits "$WORK/limits-end.json"

# 5. medians of the rounds, one table, one JSON
DONE=()
for P in "${PRECISION_LIST[@]}"; do
  ls "$WORK"/round-*/rlhfd-"$P".json > /dev/null 2>&1 || continue
  python3 "$HERE/rounds.py" --out "$WORK/rlhfd-$P.json" "$WORK"/round-*/rlhfd-"$P".json
  DONE+=("$P")
done
[ "${#DONE[@]}" -gt 0 ] || { echo "serving.sh: no rlhfd results at any precision" >&2; exit 1; }
args=(--meta "$WORK/meta.json" --out "$OUT.json")
for T in "${PEER_TYPES[@]}"; do
  ls "$WORK"/round-*/peer-"$T".json > /dev/null 2>&1 || continue
  python3 "$HERE/rounds.py" --out "$WORK/peer-$T.json" "$WORK"/round-*/peer-"$T".json
  args+=(--peer "$T=$WORK/peer-$T.json")
done
for P in "${DONE[@]}"; do
  args+=(--rlhfd "$P=$WORK/rlhfd-$P.json")
  [ -f "$WORK/rlhfd-$P-no-sharing.json" ] && args+=(--no-sharing "$P=$WORK/rlhfd-$P-no-sharing.json")
done
printf '%s\n' "${QUIET_STATES[@]}" > "$WORK/quiet.txt"
python3 - "$WORK" "$RLHFD" "$RSS_KB" "$(IFS=,; echo "${DONE[*]}")" "$(host_line)" "$MODELS" "$ROUNDS" <<'PY'
import json, os, subprocess, sys, time
work, binary, rss_kb, done, cpu, models, rounds = sys.argv[1:8]
rss = {p: int(kb or 0) / 1e6 for p, _, kb in (x.partition("=") for x in rss_kb.split(",") if x)}
git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
load = lambda name: json.load(open(os.path.join(work, name))) if os.path.exists(os.path.join(work, name)) else None
t = json.load(open(os.path.join(models, "policy", "config.json")))["text_config"]
C, I, L, V = t["hidden_size"], t["intermediate_size"], t["num_hidden_layers"], t["vocab_size"]
HS = t.get("head_dim") or C // t["num_attention_heads"]
params = L * (2 * C * t["num_attention_heads"] * HS + 2 * C * t["num_key_value_heads"] * HS + 3 * C * I) + V * C
json.dump({
    "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": git("rev-parse", "--short", "HEAD"),
    "working_tree_dirty": bool(git("status", "--porcelain", "--", "Sources", "Package.swift")),
    "rlhfd_binary": binary, "rlhfd_source": os.environ.get("RLHFD_SOURCE", "tree"),
    "rlhfd_args": os.environ.get("RLHFD_ARGS", ""), "precisions": done.split(","),
    "rlhfd_peak_rss_gb": rss, "cpu": cpu, "cpus": os.cpu_count(), "rounds": int(rounds),
    "quiet": open(os.path.join(work, "quiet.txt")).read().splitlines(),
    "limits_start": load("limits-start.json"), "limits_end": load("limits-end.json"),
    "decode_params": params, "loadavg_end": open("/proc/loadavg").read().split()[:3],
    "models": models,
}, open(os.path.join(work, "meta.json"), "w"), indent=1)
PY
python3 "$HERE/report.py" "${args[@]}" | tee "$OUT.log"
exit "$RC"
