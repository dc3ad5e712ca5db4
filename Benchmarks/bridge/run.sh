#!/usr/bin/env bash
# Bridge benchmark: unary req/s and server CPU per request of rlhfd vs grpcio's Python sync server,
# empty grpc.health.v1.Health/Check on loopback, side by side in one run. See docs/benchmarks.md.
#
#   swift build -c release --product rlhfd --scratch-path .build-release   # once, first
#   Benchmarks/bridge/run.sh
#
# Bounded: 4 load shapes x 2 servers x 3 rounds x (2 s warmup + 5 s) ~ 170 s, then it stops.
# Prints one line per figure with the ratio; writes bench-results/bridge.json.
# Environment overrides: RLHFD (binary), PYTHON (needs grpcio + grpcio-health-checking),
# H2LOAD, OUT (JSON path), REPS, WARMUP, DURATION (seconds).
# Exit status: 0 measured cleanly, 1 some request failed or was not SERVING, 2 setup failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

rlhfd="${RLHFD:-$root/.build-release/release/rlhfd}"
python="${PYTHON:-$root/.venv/bin/python}"
h2load="${H2LOAD:-$(command -v h2load || true)}"
out="${OUT:-$root/bench-results/bridge.json}"

die() { echo "run.sh: $*" >&2; exit 2; }

[[ -x "$rlhfd" ]] || die "no release binary at $rlhfd; build it with:
  swift build -c release --product rlhfd --scratch-path $root/.build-release"
[[ -n "$h2load" && -x "$h2load" ]] || die "h2load not found: apt-get install -y nghttp2-client"
command -v curl >/dev/null || die "curl not found: apt-get install -y curl"
"$python" -c 'import grpc, grpc_health.v1.health' 2>/dev/null || die "$python lacks grpcio or
  grpcio-health-checking; e.g. python3 -m venv $root/.build-release/bench-venv &&
  $root/.build-release/bench-venv/bin/pip install grpcio grpcio-health-checking, then PYTHON=that/bin/python"

# A build or another benchmark beside this one skews every figure: say so up front.
# (top's second sample is the current use; ps's %CPU is a lifetime average.)
busy="$(top -b -n 2 -d 1 -w 200 2>/dev/null |
  awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 > 20 { printf "%s(%s%%) ", $12, $9 }')" || busy=""
echo "run.sh: $(uptime | sed 's/^ *//')" >&2
[[ -z "$busy" ]] || echo "run.sh: WARNING, busy processes: $busy- figures will be noisy" >&2

# Hard bound on the whole run, well above the ~170 s it needs.
exec timeout --kill-after=10 300 "$python" "$here/bench.py" \
  --rlhfd "$rlhfd" --python "$python" --h2load "$h2load" --out "$out" \
  --reps "${REPS:-3}" --warmup "${WARMUP:-2}" --duration "${DURATION:-5}"
