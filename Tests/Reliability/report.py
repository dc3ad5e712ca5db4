"""Renders the figures file of a reliability run (JSON lines, one record per test) as a markdown
table: `python report.py RESULTS.jsonl`. A check marked "reported" is a timing bound that the
short run (CI, a shared host) reports without failing on it."""

from __future__ import annotations

import json
import sys


def cell(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {cell(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "/".join(cell(v) for v in value)
    return str(value).replace("|", "\\|")


def main(path: str) -> None:
    records = [json.loads(line) for line in open(path) if line.strip()]
    print("| test | mode | figures | checks | load avg |")
    print("|---|---|---|---|---|")
    for record in records:
        figures = {k: v for k, v in record["figures"].items() if k != "table"}
        checks = "; ".join(
            f"{'ok' if c['ok'] else ('FAIL' if c.get('hard', True) else 'MISSED (reported)')}: "
            f"{c['criterion']}" for c in record["checks"])
        print(f"| {record['test']} | {record['mode']} | {cell(figures)} | {cell(checks)} | "
              f"{cell(record.get('load_average', ''))} |")


if __name__ == "__main__":
    main(sys.argv[1])
