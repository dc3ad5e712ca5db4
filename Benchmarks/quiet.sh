# Sourced by engine.sh and serving.sh: the one rule for "the machine is quiet enough to measure".
#   wait_quiet MAX_SECONDS   waits (bounded) for quiet; sets QUIET=yes|no and QUIET_STATE (text)
#   host_line                one line naming the CPU (model, family/model, the flags that choose kernels)
# Quiet: over a 3 s sample of /proc/stat, the CPU time of all other work (user + nice + system +
# irq + steal) below QUIET_BUSY_PERCENT (default 10) % of all CPUs, three samples in a row. Niced
# work counts: with the kernel's autogroup scheduling (sched_autogroup_enabled = 1), a job under
# `nice -n 19` started from another session still gets its session's fair share, about one of two
# CPUs, beside our un-niced processes. The niced part and the 1-minute load average are recorded.
cpu_sample() {  # prints "busy nice total" jiffies summed over all CPUs (busy includes nice)
  awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $3, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}

quiet_sample() {  # 3 s sample; prints "busy% nice%"
  local a b
  a=($(cpu_sample)); sleep 3; b=($(cpu_sample))
  awk -v b0="${a[0]}" -v n0="${a[1]}" -v t0="${a[2]}" -v b1="${b[0]}" -v n1="${b[1]}" -v t1="${b[2]}" \
    'BEGIN { t = t1 - t0; if (t <= 0) t = 1; printf "%d %d\n", 100 * (b1 - b0) / t, 100 * (n1 - n0) / t }'
}

wait_quiet() {
  local max="${1:-120}" start=$SECONDS run=0 busy nice
  while :; do
    read -r busy nice < <(quiet_sample)
    if [ "$busy" -lt "${QUIET_BUSY_PERCENT:-10}" ]; then run=$((run + 1)); else run=0; fi
    if [ "$run" -ge 3 ] || [ $((SECONDS - start)) -ge "$max" ]; then break; fi
  done
  local load; load="$(cut -d' ' -f1 /proc/loadavg)"
  if [ "$run" -ge 3 ] || { [ "$max" -le 0 ] && [ "$busy" -lt "${QUIET_BUSY_PERCENT:-10}" ]; }; then
    QUIET=yes
  else
    QUIET=no
  fi
  QUIET_STATE="quiet=$QUIET after $((SECONDS - start)) s (waited up to ${max} s): other work ${busy} % of the CPUs (of which niced ${nice} %), load average (1 min) $load"
  echo "== machine: $QUIET_STATE"
}

host_line() {
  local flags model fam mod
  flags="$(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2-)"
  model="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
  fam="$(grep -m1 '^cpu family' /proc/cpuinfo | cut -d: -f2 | xargs)"
  mod="$(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | xargs)"
  local f out=""
  for f in avx2 fma avx512f avx512_bf16 amx_tile amx_bf16; do
    if [[ " $flags " == *" $f "* ]]; then out="$out $f"; fi
  done
  echo "$model (family $fam, model $mod), $(nproc) CPUs; flags:$out"
}
