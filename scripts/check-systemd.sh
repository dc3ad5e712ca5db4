#!/usr/bin/env bash
# `systemd-analyze verify` exits 0 on unknown keys (a typo only warns on stderr), so any stderr
# output fails this check. ExecStart must exist for verify, so a copy points it at /bin/true.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v systemd-analyze >/dev/null || { echo "check-systemd: systemd-analyze missing" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed 's|^ExecStart=/usr/local/bin/rlhfd|ExecStart=/bin/true|' systemd/rlhfd.service > "$tmp/rlhfd.service"
if ! systemd-analyze verify "$tmp/rlhfd.service" 2> "$tmp/stderr" || [[ -s "$tmp/stderr" ]]; then
  echo "check-systemd: systemd/rlhfd.service does not verify cleanly:" >&2
  cat "$tmp/stderr" >&2
  exit 1
fi
echo "check-systemd: ok"
