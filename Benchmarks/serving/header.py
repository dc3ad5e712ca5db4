"""The top of the serving report: RELIABLE or UNRELIABLE (the limits measured before and after
the run moved by more than MAX_DRIFT, the same rule as EngineBench's Goals.swift), the CPU, the
kernels each daemon ran (Admin.GetModelInfo's compute_kernels) and the machine state before each
round (Benchmarks/quiet.sh)."""

MAX_DRIFT = 0.20
LIMITS = (("sgemm", "sgemm ceiling (GFLOP/s)"), ("bandwidth", "read bandwidth (GB/s)"))


def drift(meta: dict) -> list:
    """[(what, start, end, relative change)] for the limits measured at both ends."""
    start, end = meta.get("limits_start") or {}, meta.get("limits_end") or {}
    return [(what, start[k], end[k], end[k] / start[k] - 1)
            for k, what in LIMITS if start.get(k) and end.get(k)]


def unreliable(meta: dict) -> list:
    reasons = [f"{what} moved {100 * c:+.0f} % during the run ({a:.1f} → {b:.1f}; limit "
               f"±{100 * MAX_DRIFT:.0f} %)" for what, a, b, c in drift(meta) if abs(c) > MAX_DRIFT]
    if not drift(meta):
        reasons.append("limits not measured at both ends (no EngineBench binary)")
    return reasons


def lines(meta: dict, kernels: dict) -> list:
    bad = unreliable(meta)
    out = ["UNRELIABLE: " + "; ".join(bad) if bad else
           f"RELIABLE: the limits moved by at most {100 * MAX_DRIFT:.0f} % during the run"]
    out.append(f"CPU: {meta.get('cpu', '?')}")
    if len(set(kernels.values())) == 1:
        out.append(f"kernels ({', '.join(kernels)}): {next(iter(kernels.values())) or '?'}")
    else:
        for prec, k in kernels.items():
            out.append(f"kernels ({prec}): {k or '?'}")
    d = drift(meta)
    if d:
        out.append("limits: " + "; ".join(f"{w} start {a:.1f}, end {b:.1f} ({100 * c:+.0f} %)"
                                          for w, a, b, c in d))
    for i, state in enumerate(meta.get("quiet", []), 1):
        out.append(f"round {i}: {state}")
    return out
