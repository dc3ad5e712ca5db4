#!/usr/bin/env python3
"""Generates the synthetic scene world (rlhfd issue 12): images, ground truth, questions and
the mini MMHal-Bench, deterministically for a seed.

    python tools/world/generate.py --out .build-world/data            # defaults: seed 0
    python tools/world/generate.py --out DIR --seed 1 --train 5000 --val 300 --test 400

See tools/world/README.md for the layout. Needs only Pillow (and Python >= 3.9).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from worldgen.dataset import generate  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(".build-world/data"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train", type=int, default=4000, help="training scenes")
    p.add_argument("--val", type=int, default=200, help="validation scenes")
    p.add_argument("--test", type=int, default=400, help="held-out test scenes (bench + pairs)")
    p.add_argument("--per-type", type=int, default=12, help="bench questions per type")
    a = p.parse_args()
    start = time.monotonic()
    manifest = generate(a.out, a.seed, {"train": a.train, "val": a.val, "test": a.test},
                        a.per_type, progress=lambda m: print(m, file=sys.stderr, flush=True))
    for split, c in manifest["counts"].items():
        print(f"{split:5s} {c['scenes']:6d} scenes {c['questions']:7d} questions")
    print(f"bench {manifest['bench_items']} questions -> {a.out / 'bench.json'}")
    print(f"done in {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
