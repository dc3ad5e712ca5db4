#!/usr/bin/env bash
# Interactive TTFT while the online trainer runs (issue 13, "Benchmarks": "Interactive TTFT p99 at
# 4 streams while training runs, against the same with training paused: goal ≤ 1.5×"):
#   1. builds rlhfd (release, .build-release) unless RLHFD=binary is given;
#   2. measures the limits (EngineBench --limits-only: sgemm ceiling, read bandwidth);
#   3. starts ONE daemon, training paused, with trainer settings that keep it busy (below);
#   4. Benchmarks/serving/training_ttft.py: stores RL prompts, runs training to its first PPO
#      step (warm), then ROUNDS times: waits (bounded) for a quiet machine with the trainer
#      paused (Benchmarks/quiet.sh), A = training resumed + 4 GenerateStream streams (interactive)
#      for REQUESTS requests and at least MIN_STEPS completed PPO steps, B = training paused and
#      the daemon idle + as many requests as A ran; ABAB…, RL prompts topped up before each A;
#   5. measures the limits again; prints one table (training_ttft_report.py: RELIABLE/UNRELIABLE,
#      CPU, kernels, each phase, medians and pooled TTFT p50/p99 and ITL, p99 running ÷ paused
#      against 1.5×, the trainer's steps in A, VALID/INVALID) and writes
#      bench-results/training-ttft.{json,log}.
# A run whose trainer completed no step during an A phase (or worked during B) is INVALID: the
# report says why and the script exits 3.
#
#   Benchmarks/training_ttft.sh [--serving-models] [--smoke]
# Default models: the committed tiny ones (models/default), PPO steps of 48 rollouts × 64 tokens
#   (2 epochs of micro-batches of 4: ~2 s alone on 2 cores; requests take milliseconds there).
#   An interactive request refused (RESOURCE_EXHAUSTED) is retried after 0.2 s and counted.
# --serving-models: the TinyLlama-shaped models serving.sh makes (.build-serving/models, or
#   MODELS=dir), 4 rollouts × 32 tokens, micro-batches of 1 (a step takes minutes there).
# --smoke: tiny models, 1 round, 16 requests of 4 tokens, 2-rollout steps, no wait: checks that
#   the benchmark still runs (scripts/test.sh); its figures mean nothing.
# Environment: ROUNDS (3), STREAMS (4), REQUESTS (400), PROMPT_TOKENS (100), MAX_NEW_TOKENS (32),
# MIN_STEPS (2; PPO steps that must complete in each A phase), QUIET_WAIT (120), ROLLOUTS,
# STEP_BATCH, MICRO_BATCH, EPOCHS, RESPONSE_LENGTH, COMPUTE_SHARE (0.25, the daemon's default),
# TRAINING_NICE (the training threads' nice value; unset = the daemon's default, 19), RLHFD (a prebuilt binary), RLHFD_ARGS (extra `serve`
# flags), ENGINE_BENCH_BIN (for the limits), STEP_TIMEOUT (3600 s for the driver), PYTHON.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source Benchmarks/quiet.sh
if [ -z "${KEEP_OPENBLAS_CORETYPE:-}" ]; then unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; fi
HERE="$ROOT/Benchmarks/serving"
WORK="$ROOT/.build-training-ttft"
OUT=bench-results/training-ttft
SMOKE=0
BIG=0
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1 ;;
    --serving-models) BIG=1 ;;
    *) echo "training_ttft.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
if [ "$SMOKE" = 1 ]; then
  BIG=0 WORK="$ROOT/.build-training-ttft-smoke" OUT=bench-results/training-ttft-smoke
  : "${ROUNDS:=1}" "${REQUESTS:=16}" "${MIN_STEPS:=1}" "${PROMPT_TOKENS:=16}" "${MAX_NEW_TOKENS:=4}"
  : "${QUIET_WAIT:=0}"
  : "${ROLLOUTS:=2}" "${STEP_BATCH:=1}" "${MICRO_BATCH:=1}" "${EPOCHS:=1}" "${RESPONSE_LENGTH:=8}"
  : "${STEP_TIMEOUT:=600}"
elif [ "$BIG" = 1 ]; then
  MODELS="${MODELS:-$ROOT/.build-serving/models}"
  : "${ROLLOUTS:=4}" "${STEP_BATCH:=2}" "${MICRO_BATCH:=1}" "${EPOCHS:=1}" "${RESPONSE_LENGTH:=32}"
  : "${REQUESTS:=100}" "${MIN_STEPS:=1}"
fi
ROUNDS="${ROUNDS:-3}" STREAMS="${STREAMS:-4}" REQUESTS="${REQUESTS:-400}"
PROMPT_TOKENS="${PROMPT_TOKENS:-100}" MAX_NEW_TOKENS="${MAX_NEW_TOKENS:-32}"
MIN_STEPS="${MIN_STEPS:-2}" QUIET_WAIT="${QUIET_WAIT:-120}" STEP_TIMEOUT="${STEP_TIMEOUT:-3600}"
ROLLOUTS="${ROLLOUTS:-48}" STEP_BATCH="${STEP_BATCH:-16}" MICRO_BATCH="${MICRO_BATCH:-4}"
EPOCHS="${EPOCHS:-2}" RESPONSE_LENGTH="${RESPONSE_LENGTH:-64}" COMPUTE_SHARE="${COMPUTE_SHARE:-0.25}"
MODELS="${MODELS:-$ROOT/models/default}"
[ -f "$MODELS/policy/config.json" ] && [ -f "$MODELS/reward/config.json" ] ||
  { echo "training_ttft.sh: no policy/reward models under $MODELS (serving.sh makes them)" >&2; exit 2; }
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
"$PYTHON" -c 'import grpc, grpc_health.v1.health' 2>/dev/null ||
  { echo "training_ttft.sh: $PYTHON lacks grpcio / grpcio-health-checking (run scripts/setup.sh)" >&2; exit 2; }
rm -rf "$WORK"
mkdir -p "$WORK" bench-results

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

if [ -z "${RLHFD:-}" ]; then
  echo "== build rlhfd (release, .build-release)"
  swift build -c release --scratch-path "$ROOT/.build-release" --product rlhfd 2>&1 | tail -1
  RLHFD="$ROOT/.build-release/release/rlhfd"
fi
[ -x "$RLHFD" ] || { echo "training_ttft.sh: no rlhfd binary at $RLHFD" >&2; exit 2; }

LIMITS_BIN="${ENGINE_BENCH_BIN:-$ROOT/.build-bench/release/EngineBench}"
limits() {  # limits FILE: the sgemm ceiling and read bandwidth now, or nothing without EngineBench
  rm -f "$1"
  if [ -x "$LIMITS_BIN" ]; then
    local smoke=(); [ "$SMOKE" = 1 ] && smoke=(--smoke)
    "$LIMITS_BIN" --limits-only "${smoke[@]}" --state-directory "$WORK/state" --json "$1" | grep LIMITS || true
  else
    echo "== limits not measured: no EngineBench at $LIMITS_BIN"
  fi
}

# The trainer kept busy: steps back to back (prompts are topped up), published every 5 steps
# with the guard wide open, checkpointed every step (the defaults a user gets).
cat > "$WORK/rlhfd.yaml" <<YAML
training:
  compute_share: $COMPUTE_SHARE
  rollout_batch_size: $ROLLOUTS
  step_batch_size: $STEP_BATCH
  micro_batch_size: $MICRO_BATCH
  epochs: $EPOCHS
  response_length: $RESPONSE_LENGTH
  query_length: 1024
  publish_every: 5
  guard_prompts: 2
  guard_prompt_fraction: 0.3
  max_reward_drop: 1000
  max_kl: 1000
  idle_poll_seconds: 0.1
YAML
if [ -n "${TRAINING_NICE:-}" ]; then echo "  nice: $TRAINING_NICE" >> "$WORK/rlhfd.yaml"; fi
TRAINING_LINE="compute_share $COMPUTE_SHARE, nice ${TRAINING_NICE:-default}, rollouts $ROLLOUTS × $RESPONSE_LENGTH tokens, step batch $STEP_BATCH, micro-batch $MICRO_BATCH, epochs $EPOCHS"

limits "$WORK/limits-start.json"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "== rlhfd with training paused ($TRAINING_LINE; models $MODELS)"
# shellcheck disable=SC2086 # RLHFD_ARGS is a list of flags
"$RLHFD" serve --listen "127.0.0.1:$PORT" --policy-model "$MODELS/policy" \
  --reward-model "$MODELS/reward" --state-directory "$WORK/state" \
  --feedback-store "$WORK/feedback.sqlite3" --config "$WORK/rlhfd.yaml" --training paused \
  ${RLHFD_ARGS:-} > "$WORK/rlhfd.log" 2>&1 &
DAEMON_PID=$!
"$PYTHON" Benchmarks/bridge/health_wait.py --target "127.0.0.1:$PORT" --timeout 300 > /dev/null &
WAITER_PID=$!
while kill -0 "$WAITER_PID" 2>/dev/null; do
  kill -0 "$DAEMON_PID" 2>/dev/null || { echo "training_ttft.sh: rlhfd exited during start-up" >&2; tail -20 "$WORK/rlhfd.log"; exit 1; }
  sleep 0.5
done
wait "$WAITER_PID" || { echo "training_ttft.sh: rlhfd did not become healthy" >&2; tail -20 "$WORK/rlhfd.log"; exit 1; }
WAITER_PID=""

RC=0
REPORT_RC=0
timeout --kill-after=10 "$STEP_TIMEOUT" "$PYTHON" "$HERE/training_ttft.py" --target "127.0.0.1:$PORT" \
  --pid "$DAEMON_PID" --rounds "$ROUNDS" --streams "$STREAMS" --requests "$REQUESTS" \
  --prompt-tokens "$PROMPT_TOKENS" --max-new-tokens "$MAX_NEW_TOKENS" --min-steps "$MIN_STEPS" \
  --rollout-batch "$ROLLOUTS" --quiet-wait "$QUIET_WAIT" --json "$WORK/run.json" || RC=$?
RSS_KB="$(awk '/VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status" 2>/dev/null || echo 0)"
cleanup
[ -f "$WORK/run.json" ] || { echo "training_ttft.sh: the driver wrote no results" >&2; tail -20 "$WORK/rlhfd.log"; exit 1; }
limits "$WORK/limits-end.json"

python3 - "$WORK" "$RLHFD" "$RSS_KB" "$(host_line)" "$MODELS" "$TRAINING_LINE" <<'PY'
import json, os, subprocess, sys, time
work, binary, rss_kb, cpu, models, training = sys.argv[1:7]
git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
load = lambda name: json.load(open(os.path.join(work, name))) if os.path.exists(os.path.join(work, name)) else None
json.dump({
    "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": git("rev-parse", "--short", "HEAD"),
    "working_tree_dirty": bool(git("status", "--porcelain", "--", "Sources", "Package.swift")),
    "rlhfd_binary": binary, "rlhfd_args": os.environ.get("RLHFD_ARGS", ""),
    "rlhfd_peak_rss_gb": int(rss_kb or 0) / 1e6, "cpu": cpu, "cpus": os.cpu_count(),
    "limits_start": load("limits-start.json"), "limits_end": load("limits-end.json"),
    "loadavg_end": open("/proc/loadavg").read().split()[:3], "models": models, "training": training,
}, open(os.path.join(work, "meta.json"), "w"), indent=1)
PY
python3 "$HERE/training_ttft_report.py" --run "$WORK/run.json" --meta "$WORK/meta.json" \
  --out "$OUT.json" | tee "$OUT.log" || REPORT_RC=$?
[ "$RC" = 0 ] || exit "$RC"
exit "$REPORT_RC"
