#!/usr/bin/env bash
# Installs what building, running and testing rlhfd needs on Debian 12: the apt packages
# (only those missing) and a Python venv at .venv with the client package and test tools.
# Idempotent: quick when everything is there. Used by scripts/run.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libgrpc-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc  # gRPC C core, protoc
  libopenblas-dev                                                       # the engine's BLAS
  libsentencepiece-dev libpng-dev libjpeg62-turbo-dev                   # tokenizer, images
  libsqlite3-dev                                                        # feedback store (GRDB)
  nghttp2-client                                                        # h2load (benchmarks)
  python3-venv openssl systemd                                          # tests
  nginx-light                                                           # tests: grpc_pass in front
)
missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [[ $(id -u) == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# Python: the client package (editable, so the tests use the tree's stubs), pytest, h2
# (hyperframe + hpack: the interop tests that send raw HTTP/2 frames), and Pillow + numpy (the
# world tools in tools/world: scene images, the mini MMHal-Bench), grpcio-reflection (the server
# reflection tests: a client without the protos).
if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv" >&2
  python3 -m venv .venv
fi
stamp=.venv/.rlhfd-setup
if [[ ! -f $stamp || clients/python/pyproject.toml -nt $stamp || $0 -nt $stamp ]]; then
  .venv/bin/pip install -q --disable-pip-version-check -e clients/python pytest h2 pillow numpy grpcio-reflection >&2
  touch "$stamp"
fi
