#!/usr/bin/env python3
"""Merges the per-round JSONs of one server (load.py's for rlhfd at one precision, or peer.py's
for llama-server at one GGUF type) into one JSON of the same shape: every numeric figure of a
wave is the median over the rounds (the same statistic for both servers), with `<figure>_min`,
`<figure>_max` and `<figure>_rounds` added for the aggregate and steady tok/s and the TTFT p50.
Other fields (the Score test, compute_kernels, …) come from the first round that has them.

    rounds.py --out MERGED.json ROUND1.json ROUND2.json ...
"""
import argparse
import json
import os
import statistics

SPREAD = ("agg_tok_s", "steady_tok_s", "ttft_p50_s")


def merge(results: list) -> dict:
    out = {}
    for r in results:
        for k, v in r.items():
            if k != "waves" and k not in out:
                out[k] = v
    out["rounds"] = len(results)
    out["waves"] = {}
    streams = sorted({n for r in results for n in r.get("waves", {})}, key=int)
    for n in streams:
        waves = [r["waves"][n] for r in results if n in r.get("waves", {})]
        merged = dict(waves[0])
        for k in waves[0]:
            values = [w.get(k) for w in waves]
            nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if nums and len(nums) == len([v for v in values if v is not None]):
                merged[k] = statistics.median(nums)
                if k in SPREAD:
                    merged[k + "_min"], merged[k + "_max"] = min(nums), max(nums)
                    merged[k + "_rounds"] = nums
        # Errors of any round show: a wave that failed once is not hidden by the median.
        merged["ok"] = min(w.get("ok", 0) for w in waves)
        merged["errors"] = sorted({e for w in waves for e in w.get("errors", [])})[:5]
        out["waves"][n] = merged
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("inputs", nargs="+")
    a = ap.parse_args()
    results = [json.load(open(p)) for p in a.inputs if os.path.exists(p)]
    if not results:
        raise SystemExit(f"rounds.py: none of {', '.join(a.inputs)} exists")
    with open(a.out, "w") as f:
        json.dump(merge(results), f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
