#!/usr/bin/env bash
# Fails if the committed generated code is out of date with Protos/ (or was edited by hand).
#
# Regenerates everything into a temporary directory with the pinned toolchain (Debian protoc
# 3.21.12, swift-protobuf 1.39.0, grpc-swift-protobuf 2.4.1, grpcio-tools 1.62.3; see
# scripts/generate-protos.sh) and compares it with the work tree, so uncommitted edits are
# checked too and the tree is never modified.
#
# Usage: scripts/check-generated.sh        (exit 0 = up to date, 1 = differences listed)
# Fix:   scripts/generate-protos.sh, then commit the result.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

if ! "$ROOT/scripts/generate-protos.sh" --out "$TMP" >"$TMP/gen.log" 2>&1; then
  cat "$TMP/gen.log" >&2
  echo "check-generated: code generation failed" >&2
  exit 1
fi

# Directories that hold only generated files (generate-protos.sh owns them entirely).
DIRS=(Sources/API/Generated clients/python/src/rlhfd_client/_proto)
status=0
for dir in "${DIRS[@]}"; do
  # -x: caches that importing the Python package leaves behind are not part of the output.
  if ! diff -rq -x __pycache__ -x '*.pyc' "$TMP/$dir" "$ROOT/$dir" >"$TMP/diff.txt" 2>&1; then
    status=1
    echo "check-generated: $dir differs from what Protos/ generates:" >&2
    # diff -rq lines -> "changed/missing/extra: repo-relative path".
    sed -E -e "s#^Files $TMP/(.*) and .* differ\$#  changed: \1#" \
      -e "s#^Only in $TMP/([^:]*): (.*)\$#  missing (generated but not in the tree): \1/\2#" \
      -e "s#^Only in $ROOT/([^:]*): (.*)\$#  extra (in the tree but not generated): \1/\2#" \
      "$TMP/diff.txt" >&2
  fi
done

if [[ $status != 0 ]]; then
  echo "check-generated: FAILED. Run scripts/generate-protos.sh and commit the result." >&2
  exit 1
fi
echo "check-generated: generated code is up to date"
