#!/usr/bin/env python3
"""Held-out pairwise accuracy of saved reward models (the bf16 checkpoints train.py writes), on
the same test pairs train.py reports (pairs_test.jsonl shuffled with the seed, the first N),
overall and per corruption and question type.

    .build-demo/venv/bin/python tools/demo/eval_reward.py models/world/reward models/world/reward-nofacts
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "world"))

import train as T  # noqa: E402


def load(directory: Path):
    """A saved reward checkpoint as train.Reward (fp32 copy of the bf16 weights)."""
    import torch
    from safetensors.torch import load_file
    from transformers import LlavaConfig, LlavaForConditionalGeneration

    config = json.loads((directory / "config.json").read_text())
    policy = LlavaForConditionalGeneration(LlavaConfig.from_pretrained(str(directory)))
    rm = T.Reward(policy)
    names = {T.saved_name(k if k.startswith(("model.", "score.")) else "model." + k): k
             for k in rm.state_dict()}
    weights = load_file(str(directory / "model.safetensors"))
    rm.load_state_dict({names[k]: v.float() for k, v in weights.items()})
    return rm.eval(), config.get("reward_head", {}).get("facts", True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("models", type=Path, nargs="+")
    p.add_argument("--data", type=Path, default=Path(".build-world/data"))
    p.add_argument("--held-out", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    held = [json.loads(line) for line in open(a.data / "feedback" / "pairs_test.jsonl")]
    random.Random(a.seed).shuffle(held)
    held = held[: a.held_out]
    _, pixels = T.pixel_cache(a.data, [h["image"] for h in held], 64)
    report = {}
    for directory in a.models:
        rm, facts = load(directory)
        tok = T.Tok((directory / "tokenizer.model").read_bytes())
        n_img = rm.model.config.image_seq_length
        right, total = collections.Counter(), collections.Counter()
        with torch.no_grad():
            for i in range(0, len(held), 16):
                chunk = held[i:i + 16]
                for q, (r1, r2) in zip(chunk, T.rm_scores(rm, tok, n_img, pixels, chunk,
                                                          facts).tolist()):
                    ok = (r1 > r2) == (q["preferred"] == 1)
                    for key in ("all", "corruption:" + q["corruption"],
                                "type:" + q["question_type"]):
                        right[key] += ok
                        total[key] += 1
        report[str(directory)] = {k: [round(right[k] / total[k], 3), total[k]] for k in sorted(total)}
        print(f"{directory} (facts {facts}): {right['all'] / total['all']:.3f} on {total['all']} "
              "held-out test pairs", flush=True)
        for k in sorted(total):
            if k != "all":
                print(f"  {k:24s} {right[k] / total[k]:.3f} ({total[k]})")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
