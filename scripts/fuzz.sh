#!/usr/bin/env bash
# libFuzzer targets (Fuzz/, docs/reliability.md "Fuzzing"): builds them with libFuzzer and
# AddressSanitizer into .build-fuzz (so the normal .build is untouched) and runs each for N seconds from its seed corpus (Fuzz/Corpus/<target>), then replays
# the regression inputs (Fuzz/Regressions/<target>). Fails on any crash, leak or timeout; the
# input is left in .build-fuzz/artifacts/<target>/.
#   scripts/fuzz.sh                  600 s per target (the long run)
#   scripts/fuzz.sh --seconds 20     the CI smoke run
#   scripts/fuzz.sh --seconds 60 FuzzImaging    one target
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --short) seconds=20; shift ;;
    -h | --help) sed -n 2,9p "$0"; exit 0 ;;
    Fuzz*) targets+=("$1"); shift ;;
    *) echo "fuzz.sh: unknown argument $1" >&2; exit 64 ;;
  esac
done
((${#targets[@]})) || targets=(FuzzSafeTensors FuzzImaging FuzzConfig FuzzValidation)

scratch=.build-fuzz
export RLHFD_FUZZ=1
# The Swift runtime's backtracer would turn a trap into SIGILL before libFuzzer saves the input.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"

# Not `--sanitize=fuzzer --sanitize=address`: SwiftPM 6.3 passes them to swiftc as two flags in
# a random order, and when address comes last the driver drops the fuzzer's coverage
# instrumentation (a build that runs but never finds anything). One combined -sanitize= flag is
# deterministic; `--sanitize=fuzzer` stays for the link (libFuzzer's main) and the C targets.
build=(swift build --scratch-path "$scratch" -c debug --sanitize=fuzzer
  -Xswiftc -sanitize=fuzzer,address)
for target in "${targets[@]}"; do
  echo "fuzz: building $target" >&2
  "${build[@]}" --product "$target" 2>&1 | grep -E "error|warning: unre|Compiling|complete" |
    tail -3 >&2
done
bin="$(RLHFD_FUZZ=1 swift build --scratch-path "$scratch" -c debug --show-bin-path)"

status=0
summary=()
for target in "${targets[@]}"; do
  corpus="$scratch/corpus/$target"
  artifacts="$scratch/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  # The committed seeds join the working corpus (which keeps what earlier runs found).
  cp -n Fuzz/Corpus/"$target"/* "$corpus"/ 2>/dev/null || true
  regressions=(Fuzz/Regressions/"$target"/*)
  if [[ -e "${regressions[0]}" ]]; then
    echo "fuzz: $target replays ${#regressions[@]} regression inputs" >&2
    if ! "$bin/$target" -runs=1 "${regressions[@]}" > "$artifacts/regressions.log" 2>&1; then
      tail -30 "$artifacts/regressions.log" >&2
      summary+=("$target regressions FAIL")
      status=1
      continue
    fi
  fi
  echo "fuzz: $target for $seconds s" >&2
  log="$artifacts/run.log"
  set +e
  timeout $((seconds + 120)) "$bin/$target" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" > "$log" 2>&1
  rc=$?
  set -e
  runs="$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')"
  if ((rc == 0)) && [[ $cov == "?" ]]; then
    rc=1
    echo "fuzz: $target reports no coverage: the build is not instrumented" >&2
  fi
  if ((rc != 0)); then
    tail -40 "$log" >&2
    summary+=("$target FAIL rc=$rc runs=$runs (input in $artifacts)")
    status=1
  else
    summary+=("$target ok: ${seconds}s, $runs runs, cov $cov, 0 crashes, corpus $(ls "$corpus" | wc -l)")
  fi
done
printf 'fuzz: %s\n' "${summary[@]}" >&2
exit $status
