#!/usr/bin/env bash
# Formats the Swift sources in place with the toolchain's swift-format; `-l` only lints (strict).
# Generated code is excluded.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- 'Sources/*.swift' 'Tests/*.swift' 'Benchmarks/*.swift' 'Fuzz/*.swift' 'Package.swift' | grep -v '/Generated/')
if [[ "${1:-}" == "-l" ]]; then
  swift format lint --strict --parallel "${files[@]}"
else
  swift format format --in-place --parallel "${files[@]}"
fi
