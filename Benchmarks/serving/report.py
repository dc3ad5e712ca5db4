#!/usr/bin/env python3
"""Merge load.py's (rlhfd, one result per precision) and peer.py's (llama-server) JSON into
bench-results/serving.json and print one table with the ratios and the issue's goals, every
rlhfd precision side by side against the same llama-server run.

    report.py --rlhfd fp32=R32.json --rlhfd bf16=R16.json \\
              [--no-sharing fp32=N32.json --no-sharing bf16=N16.json] \\
              [--peer f16=F16.json --peer bf16=BF16.json] --meta META.json --out bench-results/serving.json

--rlhfd and --no-sharing repeat, one per precision, as LABEL=PATH (a bare PATH is labelled
"default"); the order of --rlhfd is the order of the rows. With several precisions the table adds
a column "÷ FIRST": each precision's aggregate tok/s over the first one's at the same streams.
--peer repeats too, one per llama-server GGUF type; at each number of streams each precision is
compared with the peer's best type there (the faster aggregate tok/s). Each input is already the
median of the rounds (rounds.py). The report starts with RELIABLE/UNRELIABLE, the CPU and the
kernels (header.py).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import header  # noqa: E402


def fmt(x, spec=".2f", unit=""):
    return "-" if x is None else f"{x:{spec}}{unit}"


def ratio(a, b):
    return None if a is None or not b else a / b


def labelled(values, what):
    """[LABEL=]PATH arguments → {label: path}, in order."""
    out = {}
    for v in values or []:
        label, sep, path = v.partition("=")
        if not sep:
            label, path = "default", v
        if label in out:
            raise SystemExit(f"report.py: {what} {label} given twice")
        out[label] = path
    return out


def load(path):
    return json.load(open(path)) if path and os.path.exists(path) else None


def limit_lines(meta: dict, rows: dict, precisions: list) -> list:
    """For a precision below 1.5x at 32 streams: the figure that limits it on this host, the
    decode bound at the sgemm ceiling (2 FLOP per parameter per token, every stream decoding)."""
    out = []
    ceiling = max((meta.get(k) or {}).get("sgemm") or 0 for k in ("limits_start", "limits_end"))
    params = meta.get("decode_params")
    for prec in precisions:
        r = next((r for r in rows[prec] if r["streams"] == 32), None)
        if not r or r["rlhfd_vs_peer"] is None or r["rlhfd_vs_peer"] >= 1.5:
            continue
        need = 1.5 * r["peer_tok_s"]
        line = (f"{prec} at 32 streams: needs {need:.1f} tok/s (1.5 × llama-server "
                f"{(r['peer_type'] or '').upper()} {r['peer_tok_s']:.1f}), has {r['rlhfd_tok_s']:.1f}")
        if ceiling and params:
            bound = ceiling * 1e9 / (2 * params)
            line += (f"; fp32 sgemm ceiling {ceiling:.0f} GFLOP/s ÷ {2 * params / 1e9:.1f} GFLOP per "
                     f"token = {bound:.1f} tok/s for batched decode")
            if need > bound:
                line += " (the goal lies above the fp32 ceiling; bf16 products may exceed it)"
        out.append(line)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rlhfd", action="append", required=True, metavar="[PRECISION=]PATH",
                    help="load.py's JSON for one precision; repeat for each")
    ap.add_argument("--peer", action="append", metavar="[TYPE=]PATH",
                    help="peer.py's JSON for one GGUF type; repeat for each")
    ap.add_argument("--no-sharing", action="append", metavar="[PRECISION=]PATH",
                    help="load.py --score-separate-only on a daemon without prefix caching")
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    results = {p: load(path) for p, path in labelled(a.rlhfd, "--rlhfd").items()}
    missing = [p for p, r in results.items() if r is None]
    if missing:
        raise SystemExit(f"report.py: no rlhfd results for {', '.join(missing)}")
    no_sharing = {p: load(path) for p, path in labelled(a.no_sharing, "--no-sharing").items()}
    unknown = set(no_sharing) - set(results)
    if unknown:
        raise SystemExit(f"report.py: --no-sharing for {', '.join(sorted(unknown))} without --rlhfd")
    peers = {t: p for t, p in ((t, load(path)) for t, path in labelled(a.peer, "--peer").items()) if p}
    meta = json.load(open(a.meta))
    for line in header.lines(meta, {p: r.get("compute_kernels") for p, r in results.items()}):
        print(line)

    def best_peer(n):
        """(type, wave) of the peer's best type at n streams, or (None, {})."""
        waves = [(t, p["waves"].get(str(n), {})) for t, p in peers.items()]
        waves = [(t, w) for t, w in waves if w.get("agg_tok_s")]
        return max(waves, key=lambda tw: tw[1]["agg_tok_s"]) if waves else (None, {})
    peer = bool(peers)
    precisions = list(results)
    first = precisions[0]
    several = len(precisions) > 1

    # One row per (streams, precision); the llama-server figures on the first row of each group.
    streams = sorted({int(n) for r in results.values() for n in r["waves"]})
    rows = {p: [] for p in precisions}
    any_result = results[first]
    print(f"\nServing benchmark: prompt ~{any_result['prompt_tokens_asked']} tokens, "
          f"{any_result['max_new_tokens']} new tokens per stream, greedy; one wave of N streams at "
          f"once; rlhfd precision{'s' if several else ''} {', '.join(precisions)}")
    for p, r in results.items():
        if (r["prompt_tokens_asked"], r["max_new_tokens"]) != \
                (any_result["prompt_tokens_asked"], any_result["max_new_tokens"]):
            print(f"(warning: {p} ran with prompt ~{r['prompt_tokens_asked']} tokens, "
                  f"{r['max_new_tokens']} new tokens)")
    head = ["streams", "precision", "rlhfd tok/s [min–max] (steady)", "× batch-1 (steady)", "rlhfd TTFT p50 / p99",
            "rlhfd ITL p50"]
    if several:
        head.append(f"÷ {first}")
    if peer:
        head += ["rlhfd ÷ llama best", "llama-server best type: tok/s (steady)", "llama TTFT p50 / p99"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for n in streams:
        p_type, p_wave = best_peer(n)
        for i, prec in enumerate(precisions):
            w = results[prec]["waves"].get(str(n))
            if w is None:
                continue
            base = results[prec]["waves"].get("1", {}).get("agg_tok_s")
            steady_base = results[prec]["waves"].get("1", {}).get("steady_tok_s")
            first_w = results[first]["waves"].get(str(n), {})
            row = {
                "streams": n,
                "precision": prec,
                "rlhfd_tok_s": w.get("agg_tok_s"),
                "rlhfd_steady_tok_s": w.get("steady_tok_s"),
                "rlhfd_vs_batch1": ratio(w.get("agg_tok_s"), base),
                "rlhfd_steady_vs_batch1": ratio(w.get("steady_tok_s"), steady_base),
                "rlhfd_ttft_p50_s": w.get("ttft_p50_s"),
                "rlhfd_ttft_p99_s": w.get("ttft_p99_s"),
                "rlhfd_itl_p50_ms": w.get("itl_p50_ms"),
                "peer_type": p_type,
                "peer_tok_s": p_wave.get("agg_tok_s"),
                "peer_steady_tok_s": p_wave.get("steady_tok_s"),
                "peer_ttft_p50_s": p_wave.get("ttft_p50_s"),
                "peer_ttft_p99_s": p_wave.get("ttft_p99_s"),
                "rlhfd_vs_peer": ratio(w.get("agg_tok_s"), p_wave.get("agg_tok_s")),
            }
            if several:
                row[f"rlhfd_vs_{first}"] = ratio(w.get("agg_tok_s"), first_w.get("agg_tok_s"))
            rows[prec].append(row)
            cells = [str(n) if i == 0 else "", prec,
                     f"{fmt(row['rlhfd_tok_s'])} [{fmt(w.get('agg_tok_s_min'), '.1f')}–"
                     f"{fmt(w.get('agg_tok_s_max'), '.1f')}] ({fmt(row['rlhfd_steady_tok_s'])})",
                     f"{fmt(row['rlhfd_vs_batch1'], '.2f', '×')} "
                     f"({fmt(row['rlhfd_steady_vs_batch1'], '.2f', '×')})",
                     f"{fmt(row['rlhfd_ttft_p50_s'], '.2f', ' s')} / {fmt(row['rlhfd_ttft_p99_s'], '.2f', ' s')}",
                     fmt(row["rlhfd_itl_p50_ms"], ".0f", " ms")]
            if several:
                cells.append(fmt(row[f"rlhfd_vs_{first}"], ".2f", "×") if i else "")
            if peer:
                cells.append(fmt(row["rlhfd_vs_peer"], ".2f", "×"))
                if i == 0:
                    cells += [f"{(p_type or '-').upper()}: {fmt(row['peer_tok_s'])} ({fmt(row['peer_steady_tok_s'])})",
                              f"{fmt(row['peer_ttft_p50_s'], '.2f', ' s')} / "
                              f"{fmt(row['peer_ttft_p99_s'], '.2f', ' s')}"]
                else:
                    cells += ["″", "″"]
            print("| " + " | ".join(cells) + " |")

    for t, p in peers.items():
        print(f"llama-server {t.upper()}, tok/s [min–max] by streams: " + ", ".join(
            f"{n}: {fmt(w.get('agg_tok_s'), '.1f')} [{fmt(w.get('agg_tok_s_min'), '.1f')}–"
            f"{fmt(w.get('agg_tok_s_max'), '.1f')}]" for n, w in sorted(p["waves"].items(), key=lambda x: int(x[0]))))
    print(f"(medians of {meta.get('rounds', 1)} rounds, the servers interleaved)")

    goals = {p: [] for p in precisions}
    for prec in precisions:
        by = {r["streams"]: r for r in rows[prec]}
        if 32 in by:
            r = by[32]
            goals[prec].append(("aggregate tok/s at 32 streams vs batch-1, whole wave incl. prefill",
                                r["rlhfd_vs_batch1"], 8.0))
            goals[prec].append(("aggregate decode tok/s at 32 streams vs batch-1, steady (all decoding)",
                                r["rlhfd_steady_vs_batch1"], 8.0))
            goals[prec].append(("aggregate tok/s at 32 vs llama-server --parallel 32, its best type",
                                r["rlhfd_vs_peer"], 1.5))
        if 16 in by:
            r = by[16]
            # Lower is better: goal met when llama's TTFT / ours > 1.
            goals[prec].append(("TTFT p50 at 16 streams, llama-server ÷ rlhfd (lower TTFT)",
                                ratio(r["peer_ttft_p50_s"], r["rlhfd_ttft_p50_s"]), 1.0))

    scores = {p: r.get("score") for p, r in results.items() if r.get("score")}
    if scores:
        sc = next(iter(scores.values()))
        k = sc["candidates"]
        print(f"\nScore ({k} candidates, one image + prompt; reward input "
              f"{sc['shared_prompt_tokens'] // k} tokens each): one request vs {k} separate "
              f"requests, prefix cache on / off (separate ÷ one)")
        width = max(len(p) for p in scores)
        for prec, score in scores.items():
            k, shared = score["candidates"], score["shared_s"]
            line = (f"  {prec:<{width}}  one request {shared:.2f} s; {k} separate, cache on "
                    f"{score['separate_s']:.2f} s ({score['separate_s'] / shared:.2f}×)")
            baseline = ((no_sharing.get(prec) or {}).get("score") or {}).get("separate_s")
            if baseline:
                line += f", caching off {baseline:.2f} s ({baseline / shared:.2f}×)"
            # (Separate requests carry their own prompt, so their scores differ from the shared
            # ones; equality for equal inputs is checked by Tests/Interop/test_batching.py.)
            print(line)
            goals[prec].append((f"Score: {k} candidates in one request vs {k} separate scores on a "
                                f"server without prefix sharing", ratio(baseline, shared), 5.0))

    rss = meta.get("rlhfd_peak_rss_gb")
    if isinstance(rss, dict) and any(rss.get(p) for p in precisions):
        print("\nrlhfd peak RSS under load: " + ", ".join(
            f"{p} {fmt(rss.get(p), '.2f', ' GB')}" for p in precisions))

    # The goals, one column per precision.
    order = []
    for prec in precisions:
        for what, _, goal in goals[prec]:
            if (what, goal) not in order:
                order.append((what, goal))
    if order:
        print("\n| goal | " + " | ".join(precisions) + " |")
        print("|" + "---|" * (len(precisions) + 1))
        for what, goal in order:
            cells = []
            for prec in precisions:
                value = next((v for w, v, g in goals[prec] if (w, g) == (what, goal)), None)
                verdict = "n/a" if value is None else ("PASS" if value >= goal else "FAIL")
                cells.append(f"{fmt(value, '.2f', '×')} {verdict}" if value is not None else verdict)
            print(f"| {what} (≥ {goal:g}×) | " + " | ".join(cells) + " |")

    if peer:
        for line in limit_lines(meta, rows, precisions):
            print(line)

    out = {
        "meta": meta,
        "reliable": not header.unreliable(meta),
        "unreliable_reasons": header.unreliable(meta),
        "precisions": precisions,
        "rlhfd": {
            prec: {
                "rows": rows[prec],
                "goals": [{"what": w, "value": v, "goal": g, "pass": None if v is None else v >= g}
                          for w, v, g in goals[prec]],
                "peak_rss_gb": rss.get(prec) if isinstance(rss, dict) else None,
                "load": results[prec],
                "no_sharing": no_sharing.get(prec),
            }
            for prec in precisions
        },
        "llama_server": peers,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"\nwrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
