#!/usr/bin/env bash
# Training benchmark (issue 13, "Benchmarks"), one entry point: builds TrainingBench (release),
# waits (bounded) for a quiet machine, then runs its two modes on one checkpoint: `--ppo` (one
# whole PPO step, seconds per 1k response tokens) and `--rm` (one reward-model optimizer step,
# seconds per 1k pairs), each interleaving rlhfd's steps with the PyTorch peer's on the same shapes
# (tools/reference/bench_torch_{ppo,rm}_step.py, fp32, the same LoRA, 2 threads) for ROUNDS
# rounds; forward, backward and optimizer separately, medians, rlhfd ÷ PyTorch against the goal
# (≤ 0.5×), the CPU, the limits at start and end (UNRELIABLE at the top when they moved > 20 %).
# Writes bench-results/training-{ppo,rm}.{log,json} and bench-results/training-report.md.
#   Benchmarks/training.sh [--smoke] [--no-peer] [DIR] [TrainingBench options, e.g. --rounds 5]
# DIR: a llava-hf checkpoint (e.g. .build-bench/tinyllama-bf16, which Benchmarks/engine.sh
#   writes); it is the policy, the value model's backbone and the reward model (a fresh score head
#   when it has none), with the paper's LoRA (r 64 on the 7 targets) and the shapes of MODEL_ARGS.
#   Without DIR: the tiny fixtures (Tests/Fixtures/tiny-llava-{policy,reward}), the small preset.
# --smoke: the tiny fixtures, 1 round, small shapes, no wait: seconds; checks that the benchmark
#   still runs (scripts/test.sh); its figures mean nothing.
# Environment: TRAINING_BENCH_WAIT (seconds to wait for quiet, 120), TRAINING_BENCH_BIN (a built
# TrainingBench: skip the release build), RLHFD_TORCH_PYTHON (the peer's python, default
# .build-ref/venv/bin/python; without torch the peer is skipped and said so),
# KEEP_OPENBLAS_CORETYPE=1 (as engine.sh).
# At TinyLlama scale with the shapes below, rlhfd's PPO step took 82 s and its reward-model step
# 53 s (loaded host; peak RSS 7.7 and 9.0 GB), PyTorch's several times longer (its fp32 copy
# of the model, ~5 GB, beside rlhfd's): expect roughly an hour for 3 rounds of both modes on 2
# cores and ~15 GB of memory. Options after DIR override the shapes.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source Benchmarks/quiet.sh
if [ -z "${KEEP_OPENBLAS_CORETYPE:-}" ]; then unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; fi
SMOKE=0
DIR=""
ARGS=()
for a in "$@"; do
  case "$a" in
    --smoke) SMOKE=1 ;;
    --*) ARGS+=("$a") ;;
    *) if [ -z "$DIR" ] && [ -d "$a" ]; then DIR="$a"; else ARGS+=("$a"); fi ;;
  esac
done
WAIT="${TRAINING_BENCH_WAIT:-120}"
OUT=bench-results/training
if [ "$SMOKE" = 1 ]; then
  DIR=""
  WAIT=0
  OUT=bench-results/training-smoke
  PPO_ARGS=(--smoke --rounds 1 --rollouts 2 --step-batch 1 --micro 1 --epochs 1 --query 16 --response 8)
  RM_ARGS=(--smoke --rounds 1 --tokens 32 --response 8 --batch 2 --micro 1)
elif [ -n "$DIR" ]; then
  # The paper's LoRA; 4 rollouts, 2 epochs × 2 minibatches of 2 (the paper's 4 optimizer steps
  # per PPO step), 64 + 64 tokens; the reward model on 4 pairs of 256 tokens in micro-batches of 2.
  PPO_ARGS=("$DIR" --rank 64 --rollouts 4 --step-batch 2 --micro 1 --epochs 2 --query 64 --response 64)
  RM_ARGS=("$DIR" --rank 64 --tokens 256 --response 32 --batch 4 --micro 2)
else
  PPO_ARGS=()
  RM_ARGS=()
fi

BIN="${TRAINING_BENCH_BIN:-}"
if [ -z "$BIN" ]; then
  echo "== build TrainingBench (release)"
  swift build -c release --scratch-path .build-bench --product TrainingBench 2>&1 | tail -1
  BIN=.build-bench/release/TrainingBench
fi

# A build beside a benchmark halves its figures: wait (bounded) for quiet, and record the state.
wait_quiet "$WAIT"
echo "== cpu: $(host_line)"

mkdir -p bench-results .build-bench
rm -f "$OUT-report.md"
run_mode() {  # the mode's output to its log, and to stdout unless a smoke run
  "$BIN" "--$mode" --state-directory .build-bench/state --machine-state "$QUIET_STATE" \
    --json "$OUT-$mode.json" --report "$OUT-$mode-report.md" \
    ${MODE_ARGS[@]+"${MODE_ARGS[@]}"} ${ARGS[@]+"${ARGS[@]}"} 2>&1 | tee "$OUT-$mode.log"
}
for mode in ppo rm; do
  if [ "$mode" = ppo ]; then MODE_ARGS=(${PPO_ARGS[@]+"${PPO_ARGS[@]}"}); else MODE_ARGS=(${RM_ARGS[@]+"${RM_ARGS[@]}"}); fi
  rc=0
  if [ "$SMOKE" = 1 ]; then run_mode > /dev/null || rc=$?; else run_mode || rc=$?; fi
  if [ "$rc" != 0 ] || [ ! -f "$OUT-$mode-report.md" ]; then
    tail -30 "$OUT-$mode.log"; echo "training.sh: TrainingBench --$mode failed ($rc), see $OUT-$mode.log" >&2; exit 1
  fi
  { echo "## TrainingBench --$mode"; echo; cat "$OUT-$mode-report.md"; echo; } >> "$OUT-report.md"
  rm -f "$OUT-$mode-report.md"
done
echo "== $OUT-{ppo,rm}.log; the report ($OUT-report.md):"
cat "$OUT-report.md"
