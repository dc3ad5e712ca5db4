#!/usr/bin/env python3
"""Held-out pairwise accuracy of saved reward models (the bf16 checkpoints train.py writes), on
the same test pairs train.py reports (pairs_test.jsonl shuffled with the seed, the first N),
overall and per corruption and question type.

    .build-demo/venv/bin/python tools/demo/eval_reward.py models/world/reward models/world/reward-nofacts

`--probe` also scores every pair with another pair's captions, with no captions and with
another pair's image (the pair 37 places on in the shuffled list: another scene), which shows
which input the verdict comes from (a model that reads the captions loses accuracy without
them). `--split val` uses the validation pairs instead.
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

SHIFT = 37  # the probes borrow the captions / image of the pair this many places on


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


def verdicts(rm, tok, n_img, pixels, pairs, facts) -> list:
    """Per pair: does the preferred response score strictly higher?"""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(pairs), 16):
            chunk = pairs[i:i + 16]
            for q, (r1, r2) in zip(chunk, T.rm_scores(rm, tok, n_img, pixels, chunk,
                                                      facts).tolist()):
                out.append((r1 > r2) == (q["preferred"] == 1))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("models", type=Path, nargs="+")
    p.add_argument("--data", type=Path, default=Path(".build-world/data"))
    p.add_argument("--split", choices=("test", "val"), default="test")
    p.add_argument("--held-out", type=int, default=400)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--probe", action="store_true",
                   help="also score with other captions, no captions and another image")
    a = p.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    held = [json.loads(line) for line in open(a.data / "feedback" / f"pairs_{a.split}.jsonl")]
    random.Random(a.seed).shuffle(held)
    held = held[: a.held_out]
    _, pixels = T.pixel_cache(a.data, [h["image"] for h in held], 64)
    other = [held[(i + SHIFT) % len(held)] for i in range(len(held))]
    report = {}
    for directory in a.models:
        rm, facts = load(directory)
        tok = T.Tok((directory / "tokenizer.model").read_bytes())
        n_img = rm.model.config.image_seq_length
        runs = {"": verdicts(rm, tok, n_img, pixels, held, facts)}
        if a.probe:
            if facts:
                runs["other captions"] = verdicts(
                    rm, tok, n_img, pixels,
                    [dict(h, captions=o["captions"]) for h, o in zip(held, other)], True)
                runs["no captions"] = verdicts(rm, tok, n_img, pixels, held, False)
            runs["other image"] = verdicts(
                rm, tok, n_img, pixels, [dict(h, image=o["image"]) for h, o in zip(held, other)],
                facts)
        right = {k: collections.Counter() for k in runs}
        total = collections.Counter()
        for i, q in enumerate(held):
            for key in ("all", "corruption:" + q["corruption"], "type:" + q["question_type"]):
                total[key] += 1
                for k, v in runs.items():
                    right[k][key] += v[i]
        report[str(directory)] = {k or "as given": {key: [round(right[k][key] / total[key], 3),
                                                          total[key]] for key in sorted(total)}
                                  for k in runs}
        print(f"{directory} (facts {facts}): {right['']['all'] / total['all']:.3f} on "
              f"{total['all']} held-out {a.split} pairs", flush=True)
        names = [k or "as given" for k in runs]
        print(f"  {'':24s} " + " ".join(f"{n:>14s}" for n in names))
        for key in sorted(total):
            print(f"  {key:24s} " + " ".join(f"{right[k][key] / total[key]:14.3f}" for k in runs)
                  + f"  ({total[key]})")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
