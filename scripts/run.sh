#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds rlhfd in release mode and runs the daemon in the
# foreground on 127.0.0.1:50051 (Ctrl-C drains and stops it). Arguments go to `rlhfd serve`,
# e.g. scripts/run.sh --listen 0.0.0.0:50051 --config systemd/rlhfd.yaml.example
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product rlhfd >&2
exec "$(swift build -c release --show-bin-path)/rlhfd" serve "$@"
