#!/usr/bin/env bash
# The project's static checks, each a small script of its own: formatting, the import fence,
# file-size budget, the systemd unit, and drift of the generated code. Stops at none: runs all,
# then fails if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."
failed=()
run() {
  echo "--- $*" >&2
  "$@" || failed+=("$*")
}
run scripts/format.sh -l
run scripts/check-imports.sh
run scripts/check-file-size.sh
run scripts/check-systemd.sh
run scripts/check-generated.sh
if ((${#failed[@]})); then
  echo "soundness: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "soundness: ok" >&2
