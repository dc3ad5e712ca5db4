#!/usr/bin/env bash
# The reliability suite (docs/reliability.md; research/reliability.md A-H) against the real rlhfd
# binary with the grpcio client, loopback only: soak, overload, deadline storm, cancellation,
# descriptor exhaustion, slow and silent clients, the malformed-input table of every RPC,
# kill -9 and SIGTERM under load; then the libFuzzer targets (scripts/fuzz.sh).
#   scripts/reliability.sh --short      CI: ~3 min of tests + 20 s per fuzz target
#   scripts/reliability.sh              the long run: 10-minute soak, 2-minute overload, 10k-call
#                                       storm, ...; fuzz 10 minutes per target
#   scripts/reliability.sh --short --no-fuzz | --fuzz-only | -k soak   (pytest -k selects tests)
# Figures go to bench-results/reliability-<short|long>.jsonl and, as a table, .md beside it.
# RLHFD_BIN names the binary (default: `swift build`'s debug rlhfd, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=long fuzz=1 tests=1 pytest_args=()
while (($#)); do
  case "$1" in
    --short) mode=short; shift ;;
    --no-fuzz) fuzz=0; shift ;;
    --fuzz-only) tests=0; shift ;;
    -k) pytest_args+=(-k "$2"); shift 2 ;;
    -h | --help) sed -n 2,12p "$0"; exit 0 ;;
    *) echo "reliability.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done

status=0
if ((tests)); then
  bin="${RLHFD_BIN:-}"
  if [[ -z "$bin" ]]; then
    bin="$(swift build --show-bin-path)/rlhfd"
    [[ -x "$bin" ]] || swift build --product rlhfd
  fi
  mkdir -p bench-results
  results="bench-results/reliability-$mode.jsonl"
  : > "$results"
  long=0
  [[ $mode == long ]] && long=1
  echo "reliability: $mode run of Tests/Reliability with $bin" >&2
  RLHFD_BIN="$bin" RELIABILITY_LONG=$long RELIABILITY_RESULTS="$PWD/$results" \
    .venv/bin/python -m pytest -q Tests/Reliability "${pytest_args[@]}" || status=1
  .venv/bin/python Tests/Reliability/report.py "$results" > "${results%.jsonl}.md"
  echo "reliability: figures in $results, table in ${results%.jsonl}.md" >&2
fi
if ((fuzz)); then
  seconds=600
  [[ $mode == short ]] && seconds=20
  scripts/fuzz.sh --seconds "$seconds" || status=1
fi
exit $status
