#!/usr/bin/env bash
# Regenerates all code derived from Protos/:
#   - Swift messages + GRPCCore services  -> Sources/API/Generated/
#   - Python messages + grpcio stubs       -> clients/python/src/rlhfd_client/_proto/
#
# Usage: scripts/generate-protos.sh [--out DIR]
#   --out DIR   write into DIR/Sources/API/Generated and DIR/clients/python/src/... instead of
#               the repo (used by scripts/check-generated.sh to compare against the tree).
#
# The toolchain is pinned so that the output is byte-for-byte reproducible:
#   - Swift:  Debian's protoc (libprotoc 3.21.12) with protoc-gen-swift (swift-protobuf 1.39.0)
#             and protoc-gen-grpc-swift-2 (grpc-swift-protobuf 2.4.1), both built in release
#             mode from tools/protoc-plugins (exact versions pinned in its Package.swift) into
#             .build-protoc/ at the repo root; built once, reused while up to date.
#   - Python: grpcio-tools==1.62.3 (bundled protoc 25.1), in its own venv .build-protoc/pyvenv.
#             Its output has no grpcio version guard (newer releases emit stubs that refuse
#             to load on an older grpcio), so the stubs work with grpcio >= 1.60, and its
#             gencode (4.25.1) runs on protobuf 4.25 ... 7.x (both ends tested).
#             It pins protobuf < 5 itself, which is why it does not live in the project's .venv.
# Environment overrides: PROTOC (default /usr/bin/protoc), PYTHON (default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0" | grep '^#'; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

PROTOC="${PROTOC:-/usr/bin/protoc}"
PROTOC_VERSION="libprotoc 3.21.12"
GRPCIO_TOOLS_VERSION="1.62.3"
SCRATCH="$ROOT/.build-protoc"
PLUGINS_PKG="$ROOT/tools/protoc-plugins"
PYVENV="$SCRATCH/pyvenv"
SWIFT_OUT="$OUT/Sources/API/Generated"
PY_PKG="$OUT/clients/python/src/rlhfd_client/_proto"

log() { echo "generate-protos: $*" >&2; }

# --- 1. Check protoc -------------------------------------------------------------------------
if ! command -v "$PROTOC" >/dev/null; then
  log "protoc not found; install it with: apt-get install -y protobuf-compiler libprotobuf-dev"
  exit 1
fi
if [[ "$("$PROTOC" --version)" != "$PROTOC_VERSION" ]]; then
  log "expected $PROTOC_VERSION (Debian bookworm), found '$("$PROTOC" --version)'"
  exit 1
fi

# --- 2. Build the Swift plugins (once) -------------------------------------------------------
BIN="$SCRATCH/release"
PLUGINS=(protoc-gen-swift protoc-gen-grpc-swift-2)
need_build=0
for p in "${PLUGINS[@]}"; do
  if [[ ! -x "$BIN/$p" || "$PLUGINS_PKG/Package.swift" -nt "$BIN/$p" ]]; then
    need_build=1
  fi
done
if [[ $need_build == 1 ]]; then
  log "building protoc plugins (release; takes a few minutes the first time)"
  for p in "${PLUGINS[@]}"; do
    swift build -c release --package-path "$PLUGINS_PKG" --scratch-path "$SCRATCH" \
      --product "$p" >&2
    touch "$BIN/$p"  # a no-op rebuild keeps the old mtime; mark it current
  done
fi

# --- 3. Python tool venv ----------------------------------------------------------------------
if ! "$PYVENV/bin/python" -c "import grpc_tools, importlib.metadata as m, sys; \
    sys.exit(m.version('grpcio-tools') != '$GRPCIO_TOOLS_VERSION')" 2>/dev/null; then
  log "creating $PYVENV with grpcio-tools==$GRPCIO_TOOLS_VERSION"
  "${PYTHON:-python3}" -m venv "$PYVENV"
  "$PYVENV/bin/pip" install -q --disable-pip-version-check "grpcio-tools==$GRPCIO_TOOLS_VERSION"
fi

# --- 4. Generate ------------------------------------------------------------------------------
cd "$ROOT/Protos"
# Sorted, relative paths: protoc output depends on the order and spelling of its inputs.
mapfile -t ALL < <(find . -name '*.proto' -printf '%P\n' | LC_ALL=C sort)
mapfile -t RLHFD < <(printf '%s\n' "${ALL[@]}" | grep '^rlhfd/')

# Swift: one flat directory; FileNaming=PathToUnderscores gives e.g. rlhfd_v1_policy.pb.swift
# and grpc_health_v1_health.grpc.swift, so equal base names in different packages can't clash.
mkdir -p "$SWIFT_OUT"
find "$SWIFT_OUT" -maxdepth 1 \( -name '*.pb.swift' -o -name '*.grpc.swift' \
  -o -name 'descriptor_set.swift' \) -delete
"$PROTOC" -I . \
  --plugin=protoc-gen-swift="$BIN/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift-2="$BIN/protoc-gen-grpc-swift-2" \
  --swift_out="$SWIFT_OUT" \
  --swift_opt=Visibility=Public,FileNaming=PathToUnderscores,UseAccessLevelOnImports=true \
  --grpc-swift-2_out="$SWIFT_OUT" \
  --grpc-swift-2_opt=Visibility=Public,Server=true,Client=true,FileNaming=PathToUnderscores,UseAccessLevelOnImports=true \
  "${ALL[@]}"
# Files without services get an empty .grpc.swift; drop those that declare nothing.
for f in "$SWIFT_OUT"/*.grpc.swift; do
  grep -qE '^(public )?(enum|struct|protocol|extension) ' "$f" || rm -f "$f"
done

# Server reflection (grpc.reflection.v1) answers with the files' descriptors: one
# FileDescriptorSet of every proto (with imports, no source info), embedded as base64.
DESCRIPTORS="$(mktemp)"
"$PROTOC" -I . --include_imports --descriptor_set_out="$DESCRIPTORS" "${ALL[@]}"
"${PYTHON:-python3}" - "$DESCRIPTORS" "$SWIFT_OUT/descriptor_set.swift" <<'PYEOF'
import base64, sys, textwrap
data = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
lines = textwrap.wrap(data, 96)
with open(sys.argv[2], "w") as out:
    out.write("// Generated by scripts/generate-protos.sh from Protos/. Do not edit.\n")
    out.write("// Every .proto file's google.protobuf.FileDescriptorSet (with imports, no source\n")
    out.write("// info), base64, for server reflection.\n\n")
    out.write("public enum APIDescriptors {\n")
    out.write("  public static let fileDescriptorSetBase64 = \"\"\"\n")
    for line in lines:
        out.write("    " + line + "\n")
    out.write("    \"\"\"\n}\n")
PYEOF
rm -f "$DESCRIPTORS"

# Python: only rlhfd/*; health stubs come from grpcio-health-checking (grpc_health.v1) —
# a generated top-level `grpc` package would shadow grpcio itself.
rm -rf "$PY_PKG"
mkdir -p "$PY_PKG"
"$PYVENV/bin/python" -m grpc_tools.protoc -I . \
  --python_out="$PY_PKG" --pyi_out="$PY_PKG" --grpc_python_out="$PY_PKG" "${RLHFD[@]}"
# Make the package self-contained: protoc emits absolute `from rlhfd.v1 import x_pb2`, and
# names the module 'rlhfd.v1.x_pb2' (the classes' __module__, used by pickle and repr).
find "$PY_PKG" \( -name '*.py' -o -name '*.pyi' \) -print0 | xargs -0 -r sed -i -E \
  -e 's/^from rlhfd\.v1 import /from rlhfd_client._proto.rlhfd.v1 import /' \
  -e "s/(BuildTopDescriptorsAndMessages\(DESCRIPTOR, )'rlhfd\.v1\./\1'rlhfd_client._proto.rlhfd.v1./"
# Files without services get an empty *_pb2_grpc.py; drop them.
for f in "$PY_PKG"/rlhfd/v1/*_pb2_grpc.py; do
  grep -q '^class ' "$f" || rm -f "$f"
done
for d in "$PY_PKG" "$PY_PKG/rlhfd" "$PY_PKG/rlhfd/v1"; do
  echo '"""Generated by scripts/generate-protos.sh from Protos/. Do not edit."""' > "$d/__init__.py"
done

log "wrote $(find "$SWIFT_OUT" -name '*.swift' | wc -l) Swift files to $SWIFT_OUT"
log "wrote $(find "$PY_PKG" -type f | wc -l) Python files to $PY_PKG"
