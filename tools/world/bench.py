#!/usr/bin/env python3
"""Mini MMHal-Bench: asks a running rlhfd daemon the held-out world questions through the
public Generate API, rates each answer with the rule-based judge and prints the table per type.

    python tools/world/bench.py --target 127.0.0.1:50051                 # bench.json of the default data
    python tools/world/bench.py --policy-version v3 --name "RLHF v3"     # pin a policy version
    python tools/world/bench.py --oracle                                  # the ground-truth answers (judge check)
    python tools/world/bench.py --answers runs/sft.json                   # re-judge saved answers
    python tools/world/bench.py ... --docs docs/world-bench               # also write table + PNG chart

Generation is greedy (MMHal-Bench's setting). `--docs DIR` writes `DIR/<name>.md`,
`DIR/<name>.json` (answers and ratings) and `DIR/chart.png` (all runs saved in DIR).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent.parent / "clients" / "python" / "src"))

from worldgen.judge import judge  # noqa: E402
from worldgen.report import chart, summarise, table  # noqa: E402
from worldgen.scene import scene_from_dict  # noqa: E402


def rate(item: dict, answer: str) -> dict:
    """The judge's verdict on one bench item, as a result row."""
    v = judge(item, scene_from_dict(item["scene"]), answer)
    return {"id": item["id"], "question_type": item["question_type"],
            "question": item["question"], "gt_answer": item["gt_answer"],
            "model_answer": answer, "score": v.score, "hallucinated": v.hallucinated,
            "key": v.key, "reasons": v.reasons()}


def ask_daemon(items, data_dir: Path, target: str, policy_version: str, max_new_tokens: int,
               timeout: float):
    """Yields (item, answer, seconds) for each bench item, asking the daemon (greedy)."""
    from rlhfd_client import RlhfdClient

    with RlhfdClient(target, timeout=timeout) as client:
        client.wait_ready(timeout=timeout)
        for item in items:
            start = time.monotonic()
            out = client.generate(item["question"], images=[str(data_dir / item["image_src"])],
                                  policy_version=policy_version, max_new_tokens=max_new_tokens,
                                  temperature=0.0)
            yield item, out.text, time.monotonic() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(".build-world/data"),
                   help="world dataset directory (tools/world/generate.py)")
    p.add_argument("--target", default="127.0.0.1:50051")
    p.add_argument("--policy-version", default="", help="pin a policy version (\"\" = promoted)")
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--name", default=None, help="run name in the table and chart")
    p.add_argument("--oracle", action="store_true", help="answer with the ground truth")
    p.add_argument("--answers", type=Path, help="judge saved answers (a --docs JSON file)")
    p.add_argument("--docs", type=Path, help="write <name>.md, <name>.json and chart.png here")
    a = p.parse_args()

    items = json.loads((a.data / "bench.json").read_text(encoding="utf-8"))
    name = a.name or ("oracle" if a.oracle else a.answers.stem if a.answers else
                      f"policy {a.policy_version or 'promoted'}")
    if a.oracle:
        source = ((it, it["gt_answer"], 0.0) for it in items)
    elif a.answers:
        saved = {r["id"]: r["model_answer"] for r in json.loads(a.answers.read_text())["results"]}
        source = ((it, saved[it["id"]], 0.0) for it in items)
    else:
        source = ask_daemon(items, a.data, a.target, a.policy_version, a.max_new_tokens,
                            a.timeout)
    results = []
    start = time.monotonic()
    for k, (item, answer, secs) in enumerate(source, 1):
        row = rate(item, answer)
        results.append(row)
        mark = "HALLUCINATED" if row["score"] < 3 else ""
        print(f"[{k:3d}/{len(items)}] {row['question_type']:11s} score {row['score']} "
              f"{secs:5.2f}s {mark}", file=sys.stderr, flush=True)
    summary = summarise(results)
    md = table(summary, title=f"{name} ({len(results)} questions)")
    print(md)
    if a.docs:
        a.docs.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        (a.docs / f"{slug}.md").write_text(md, encoding="utf-8")
        (a.docs / f"{slug}.json").write_text(json.dumps(
            {"name": name, "policy_version": a.policy_version, "summary": summary,
             "seconds": round(time.monotonic() - start, 1), "results": results},
            indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        runs = {}
        for f in sorted(a.docs.glob("*.json")):
            run = json.loads(f.read_text(encoding="utf-8"))
            if "summary" in run:
                runs[run["name"]] = run["summary"]
        chart(runs, str(a.docs / "chart.png"))
        print(f"wrote {a.docs}/{slug}.md, {slug}.json, chart.png", file=sys.stderr)


if __name__ == "__main__":
    main()
