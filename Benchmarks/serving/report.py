#!/usr/bin/env python3
"""Merge load.py's (rlhfd) and peer.py's (llama-server) JSON into bench-results/serving.json and
print one table with the ratios and the issue's goals.

    report.py --rlhfd R.json [--peer P.json] --meta META.json --out bench-results/serving.json
"""
import argparse
import json
import os


def fmt(x, spec=".2f", unit=""):
    return "-" if x is None else f"{x:{spec}}{unit}"


def ratio(a, b):
    return None if a is None or not b else a / b


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rlhfd", required=True)
    ap.add_argument("--peer")
    ap.add_argument("--no-sharing", help="load.py --score-separate-only on a daemon without prefix caching")
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    ours = json.load(open(a.rlhfd))
    peer = json.load(open(a.peer)) if a.peer and os.path.exists(a.peer) else None
    meta = json.load(open(a.meta))
    no_sharing = json.load(open(a.no_sharing)) if a.no_sharing and os.path.exists(a.no_sharing) else None

    rows, base = [], ours["waves"].get("1", {}).get("agg_tok_s")
    print(f"\nServing benchmark: prompt ~{ours['prompt_tokens_asked']} tokens, "
          f"{ours['max_new_tokens']} new tokens per stream, greedy; one wave of N streams at once")
    print("| streams | rlhfd tok/s (steady) | × rlhfd batch-1 | rlhfd TTFT p50 / p99 | rlhfd ITL p50 "
          "| llama-server tok/s (steady) | llama TTFT p50 / p99 | rlhfd ÷ llama |")
    print("|---|---|---|---|---|---|---|---|")
    for n, w in ours["waves"].items():
        p = (peer or {}).get("waves", {}).get(n, {})
        row = {
            "streams": int(n),
            "rlhfd_tok_s": w.get("agg_tok_s"),
            "rlhfd_steady_tok_s": w.get("steady_tok_s"),
            "rlhfd_vs_batch1": ratio(w.get("agg_tok_s"), base),
            "rlhfd_ttft_p50_s": w.get("ttft_p50_s"),
            "rlhfd_ttft_p99_s": w.get("ttft_p99_s"),
            "rlhfd_itl_p50_ms": w.get("itl_p50_ms"),
            "peer_tok_s": p.get("agg_tok_s"),
            "peer_steady_tok_s": p.get("steady_tok_s"),
            "peer_ttft_p50_s": p.get("ttft_p50_s"),
            "peer_ttft_p99_s": p.get("ttft_p99_s"),
            "rlhfd_vs_peer": ratio(w.get("agg_tok_s"), p.get("agg_tok_s")),
        }
        rows.append(row)
        print(f"| {n} | {fmt(row['rlhfd_tok_s'])} ({fmt(row['rlhfd_steady_tok_s'])}) "
              f"| {fmt(row['rlhfd_vs_batch1'], '.2f', '×')} "
              f"| {fmt(row['rlhfd_ttft_p50_s'], '.2f', ' s')} / {fmt(row['rlhfd_ttft_p99_s'], '.2f', ' s')} "
              f"| {fmt(row['rlhfd_itl_p50_ms'], '.0f', ' ms')} "
              f"| {fmt(row['peer_tok_s'])} ({fmt(row['peer_steady_tok_s'])}) "
              f"| {fmt(row['peer_ttft_p50_s'], '.2f', ' s')} / {fmt(row['peer_ttft_p99_s'], '.2f', ' s')} "
              f"| {fmt(row['rlhfd_vs_peer'], '.2f', '×')} |")

    goals = []
    by = {r["streams"]: r for r in rows}
    if 32 in by:
        r = by[32]
        goals.append(("aggregate tok/s at 32 streams vs batch-1", r["rlhfd_vs_batch1"], 8.0))
        goals.append(("aggregate tok/s at 32 vs llama-server --parallel 32", r["rlhfd_vs_peer"], 1.5))
    if 16 in by:
        r = by[16]
        # Lower is better: goal met when llama's TTFT / ours > 1.
        goals.append(("TTFT p50 at 16 streams, llama-server ÷ rlhfd (lower TTFT)",
                      ratio(r["peer_ttft_p50_s"], r["rlhfd_ttft_p50_s"]), 1.0))
    score = ours.get("score")
    if score:
        k = score["candidates"]
        shared = score["shared_s"]
        print(f"\nScore ({k} candidates, one image + prompt; reward input "
              f"{score['shared_prompt_tokens'] // k} tokens each): one request {shared:.2f} s; "
              f"{k} separate requests, prefix cache on {score['separate_s']:.2f} s "
              f"({score['separate_s'] / shared:.2f}×)", end="")
        baseline = (no_sharing or {}).get("score", {}).get("separate_s")
        if baseline:
            print(f", prefix caching off {baseline:.2f} s ({baseline / shared:.2f}×)", end="")
        # (Separate requests carry their own prompt, so their scores differ from the shared ones;
        # equality for equal inputs is checked by Tests/Interop/test_batching.py.)
        print()
        goals.append((f"Score: {k} candidates in one request vs {k} separate scores on a server "
                      f"without prefix sharing", ratio(baseline, shared), 5.0))
    print()
    for what, value, goal in goals:
        verdict = "n/a" if value is None else ("PASS" if value >= goal else "below goal")
        print(f"{what}: {fmt(value, '.2f', '×')} (goal ≥ {goal:g}×): {verdict}")

    out = {"meta": meta, "rows": rows, "goals": [
        {"what": w, "value": v, "goal": g, "pass": None if v is None else v >= g} for w, v, g in goals],
        "rlhfd": ours, "rlhfd_no_sharing": no_sharing, "llama_server": peer}
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nwrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
