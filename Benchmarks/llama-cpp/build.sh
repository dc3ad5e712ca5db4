#!/usr/bin/env bash
# Fetch and build the llama.cpp peer (llama-bench, llama-server, llama-mtmd-cli) vendored in
# PyPI's llama-cpp-python sdist. llama-server is the serving peer of Benchmarks/serving.sh,
# llama-mtmd-cli the image-encode peer of Benchmarks/engine.sh.
# Everything lives under .build-peer/ (gitignored): never commit its source or binaries.
# Usage: Benchmarks/llama-cpp/build.sh   (idempotent; ~10 min on 2 cores)
#        JOBS=1 nice -n 19 Benchmarks/llama-cpp/build.sh   (on a shared machine)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PEER="${PEER_DIR:-$ROOT/.build-peer}"
VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"   # vendors llama.cpp 0c1e570
mkdir -p "$PEER"
cd "$PEER"

if [ ! -x "$PEER/venv/bin/python" ]; then
  python3 -m venv "$PEER/venv"
fi
PY="$PEER/venv/bin/python"
"$PY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$PY" -m pip install -q cmake ninja numpy scikit-build-core pyyaml

if [ ! -d "$PEER/src" ]; then
  mkdir -p "$PEER/dl"
  "$PY" -m pip download --no-deps --no-binary llama-cpp-python --no-build-isolation -d "$PEER/dl" "llama-cpp-python==$VERSION"
  SDIST="$(ls "$PEER"/dl/llama_cpp_python-*.tar.gz | head -1)"
  mkdir -p "$PEER/src.tmp"
  tar -xzf "$SDIST" -C "$PEER/src.tmp" --strip-components=1
  mv "$PEER/src.tmp" "$PEER/src"
fi
LLAMA="$PEER/src/vendor/llama.cpp"
[ -f "$LLAMA/CMakeLists.txt" ] || { echo "no vendor/llama.cpp in sdist" >&2; exit 1; }

export PATH="$PEER/venv/bin:$PATH"
cmake -S "$LLAMA" -B "$PEER/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DGGML_BLAS=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF
# The server's web UI is neither built (npm) nor downloaded (Hugging Face): the benchmark
# only speaks HTTP/JSON to /completion.
cmake --build "$PEER/build" --target llama-bench llama-server llama-mtmd-cli -j "${JOBS:-2}"
for T in llama-bench llama-server llama-mtmd-cli; do
  BIN="$(find "$PEER/build" -name "$T" -type f -perm -u+x | head -1)"
  [ -n "$BIN" ] || { echo "$T not built" >&2; exit 1; }
  echo "$T: $BIN"
  ln -sf "$BIN" "$PEER/$T"
done
