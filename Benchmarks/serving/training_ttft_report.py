#!/usr/bin/env python3
"""The report of training_ttft.sh: RELIABLE/UNRELIABLE, the CPU and kernels (header.py), one row
per phase and round, then the medians over the rounds (and every request pooled) of TTFT p50/p99
and inter-token latency with training running (A) and paused (B), p99(A) / p99(B) against the
goal (≤ 1.5×), the trainer's steps in the A phases and their wall time, and VALID/INVALID (a run
whose trainer did not train during A, or did during B, measures nothing).

    training_ttft_report.py --run RUN.json --meta META.json --out bench-results/training-ttft.json
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import header  # noqa: E402
from stats import percentile  # noqa: E402

GOAL = 1.5


def fmt(x, spec=".3f"):
    return "-" if x is None else f"{x:{spec}}"


def median(values):
    v = [x for x in values if x is not None]
    return statistics.median(v) if v else None


def doing(timeline: list, t: float) -> str:
    """What the trainer was doing at t (s into the phase): its last status message before t, or
    "after the step" between a step's end and its next part."""
    message = ""
    for at, kind, m in timeline:
        if at > t:
            break
        if kind == "status" and m:
            message = m
        elif kind == "step":  # the update is done: the live version, publishing, checkpoint
            message = "after the step"
    for word in ("update", "rollouts", "guard", "reward-model", "after the step"):
        if word in message:
            return word
    return "other"


def slow_lines(rounds: list) -> list:
    """The A requests slower than the same round's B p99, by what the trainer was doing when
    they started: where the tail comes from."""
    count, by = 0, {}
    total = 0
    for r in rounds:
        A, limit = r["A"], r["B"]["ttft_p99_s"]
        total += len(A["ttft_s"])
        if limit is None:
            continue
        for ttft, start in zip(A["ttft_s"], A.get("started_s", [])):
            if ttft > limit:
                count += 1
                what = doing(A.get("timeline", []), start)
                by[what] = by.get(what, 0) + 1
    if not total:
        return []
    parts = ", ".join(f"{what} {n}" for what, n in sorted(by.items(), key=lambda x: -x[1]))
    return [f"A requests slower than their round's B p99: {count} of {total} "
            f"({100 * count / total:.1f} %); the trainer was in: {parts or '-'}"]


def problems(run: dict) -> list:
    out = []
    if not run["rounds"]:
        out.append("no round ran")
    for i, r in enumerate(run["rounds"], 1):
        A, B = r["A"], r["B"]
        if A["steps"] < run["min_steps"]:
            out.append(f"round {i}: {A['steps']} PPO steps completed during A (needs {run['min_steps']})")
        if A.get("starved"):
            out.append(f"round {i}: the trainer ran out of RL prompts during A")
        if A.get("failed") or B.get("failed"):
            out.append(f"round {i}: training failed: {(A.get('failed') or B.get('failed'))[0]}")
        if B["steps"] or B["rollout_events"]:
            out.append(f"round {i}: the trainer worked during B ({B['steps']} steps, "
                       f"{B['rollout_events']} rollout events)")
        if B.get("quiesce_s", 0) < 0:
            out.append(f"round {i}: the daemon did not go idle after PauseTraining")
        for p in (A, B):
            if p["ok"] < p["requests"] or not p["ok"]:
                out.append(f"{p['phase']}: {p['requests'] - p['ok']} of {p['requests']} requests failed "
                           f"({'; '.join(p['errors'])})")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    run, meta = json.load(open(a.run)), json.load(open(a.meta))
    meta["quiet"] = run.get("quiet", [])
    lines = header.lines(meta, {"rlhfd": run.get("compute_kernels", "")})
    lines.append(f"models: {meta.get('models')}; training: {meta.get('training')}")
    lines.append(f"load: {run['streams']} streams of GenerateStream (interactive), "
                 f"~{run['prompt_tokens_asked']} prompt tokens, {run['max_new_tokens']} new tokens, "
                 f"at least {run['requests']} requests per phase (A: more until {run['min_steps']} PPO "
                 f"step(s) completed in it; B: as many as A); A = training running, B = paused and idle")
    lines.append(f"first PPO step (warm-up, alone): {run['warmup_step_time_ms'] / 1000:.1f} s")
    lines.append("")
    lines.append("| phase | requests | s | TTFT p50 (s) | TTFT p99 (s) | ITL p50 (ms) | ITL p99 (ms) "
                 "| PPO steps | step wall (s) | daemon cores |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    rounds = run["rounds"]
    for r in rounds:
        for p in (r["A"], r["B"]):
            step_s = median(p["step_time_ms"])
            lines.append(
                f"| {p['phase']} | {p['ok']}/{p['requests']} | {p['seconds']:.0f} | {fmt(p['ttft_p50_s'])} "
                f"| {fmt(p['ttft_p99_s'])} | {fmt(p['itl_p50_ms'], '.0f')} | {fmt(p['itl_p99_ms'], '.0f')} "
                f"| {p['steps']} | {fmt(None if step_s is None else step_s / 1000, '.1f')} "
                f"| {p['daemon_cores']:.2f} |")
    summary = {}
    for k in ("A", "B"):
        ps = [r[k] for r in rounds]
        pooled = [t for p in ps for t in p["ttft_s"]]
        summary[k] = {f: median([p[f] for p in ps]) for f in
                      ("ttft_p50_s", "ttft_p99_s", "itl_p50_ms", "itl_p99_ms", "daemon_cores")}
        summary[k]["pooled_ttft_p50_s"] = percentile(pooled, 0.5)
        summary[k]["pooled_ttft_p99_s"] = percentile(pooled, 0.99)
        summary[k]["pooled_requests"] = len(pooled)
        summary[k]["steps"] = sum(p["steps"] for p in ps)
        summary[k]["step_time_ms"] = [t for p in ps for t in p["step_time_ms"]]
    A, B = summary["A"], summary["B"]
    ratio = None if not A["ttft_p99_s"] or not B["ttft_p99_s"] else A["ttft_p99_s"] / B["ttft_p99_s"]
    pooled_ratio = (None if not A["pooled_ttft_p99_s"] or not B["pooled_ttft_p99_s"]
                    else A["pooled_ttft_p99_s"] / B["pooled_ttft_p99_s"])
    lines.append("")
    lines.append(f"medians of {len(rounds)} round(s): TTFT p50 {fmt(A['ttft_p50_s'])} s running, "
                 f"{fmt(B['ttft_p50_s'])} s paused; p99 {fmt(A['ttft_p99_s'])} s running, "
                 f"{fmt(B['ttft_p99_s'])} s paused; ITL p50 {fmt(A['itl_p50_ms'], '.0f')} / "
                 f"{fmt(B['itl_p50_ms'], '.0f')} ms, p99 {fmt(A['itl_p99_ms'], '.0f')} / "
                 f"{fmt(B['itl_p99_ms'], '.0f')} ms")
    lines.append(f"pooled ({A['pooled_requests']} / {B['pooled_requests']} requests): TTFT p99 "
                 f"{fmt(A['pooled_ttft_p99_s'])} s running, {fmt(B['pooled_ttft_p99_s'])} s paused "
                 f"= {fmt(pooled_ratio, '.2f')}×")
    step_med = median(A["step_time_ms"])
    lines.append(f"trainer during A: {A['steps']} PPO steps, wall per step (median, rollouts + "
                 f"update under load) {fmt(None if step_med is None else step_med / 1000, '.1f')} s; "
                 f"the gate's yields are the daemon's rlhfd_training_yield* metrics")
    lines += slow_lines(rounds)
    refused = {k: sum(r[k].get("refused_retries", 0) for r in rounds) for k in ("A", "B")}
    if refused["A"] or refused["B"]:
        reason = next((r[k].get("refused_reason") for r in rounds for k in ("A", "B")
                       if r[k].get("refused_reason")), "")
        lines.append(f"interactive requests refused (RESOURCE_EXHAUSTED) and retried after 0.2 s, "
                     f"counted in their TTFT: A {refused['A']}, B {refused['B']} ({reason})")
    bad = problems(run)
    verdict = "-" if ratio is None else ("met" if ratio <= GOAL else "NOT met")
    lines.append(f"| goal | TTFT p99 running ÷ paused (4 streams) = {fmt(ratio, '.2f')}× | ≤ {GOAL}× | "
                 f"{verdict} |")
    lines.append("INVALID: " + "; ".join(bad) if bad else
                 f"VALID: the trainer completed {A['steps']} PPO steps during the A phases and none during B")
    print("\n".join(lines))
    out = {"meta": meta, "run": run, "summary": summary, "ratio_p99": ratio,
           "pooled_ratio_p99": pooled_ratio, "goal": GOAL, "valid": not bad, "problems": bad}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0 if not bad else 3


if __name__ == "__main__":
    raise SystemExit(main())
