#!/usr/bin/env python3
"""Fixture check: transformers and a running rlhfd give the same greedy tokens on a trained
world policy, and the same reward order (and nearly the same scores) on held-out pairs.

    rlhfd serve --listen 127.0.0.1:50079 --policy-model DIR/policy --reward-model DIR/reward &
    .build-demo/venv/bin/python tools/demo/check_parity.py --models DIR --target 127.0.0.1:50079
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "world"))
sys.path.insert(0, str(HERE.parent.parent / "clients" / "python" / "src"))

from train import SYSTEM_LLAVA15, Tok, render  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("--data", type=Path, default=Path(".build-world/data"))
    p.add_argument("--target", default="127.0.0.1:50079")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--pairs", type=int, default=16, help="reward pairs to compare (0 = none)")
    a = p.parse_args()
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, LlavaForConditionalGeneration

    from rlhfd_client import RlhfdClient

    torch.set_num_threads(1)
    d = a.models / "policy"
    model = LlavaForConditionalGeneration.from_pretrained(str(d), dtype=torch.float32).eval()
    tok = Tok((d / "tokenizer.model").read_bytes())
    proc = AutoImageProcessor.from_pretrained(str(d))
    n_img = model.config.image_seq_length
    items = json.loads((a.data / "bench.json").read_text())[: a.n]
    same = 0
    with RlhfdClient(a.target, timeout=120) as client:
        for it in items:
            path = a.data / it["image_src"]
            ids = torch.tensor([tok.encode(render(SYSTEM_LLAVA15, it["question"]), n_img)])
            px = torch.tensor(proc(Image.open(path).convert("RGB"),
                                   return_tensors="np")["pixel_values"])
            with torch.no_grad():
                out = model.generate(input_ids=ids, pixel_values=px, do_sample=False,
                                     max_new_tokens=a.max_new_tokens, eos_token_id=2)
            ref = out[0, ids.shape[1]:].tolist()
            got = list(client.generate(it["question"], images=[str(path)],
                                       max_new_tokens=a.max_new_tokens).token_ids)
            ok = ref == got
            same += ok
            print(f"{'same' if ok else 'DIFFERENT'}: {it['question']!r} -> {got}"
                  + ("" if ok else f" (transformers {ref})"))
    print(f"{same}/{len(items)} identical greedy token sequences")
    agree = reward_parity(a, client_target=a.target) if a.pairs else 0
    sys.exit(0 if same == len(items) and agree == a.pairs else 1)


def reward_parity(a, client_target: str) -> int:
    """The factual reward model's scores from transformers (fp32 copy of the bf16 weights) and
    from the daemon's Score on held-out test pairs: the same order in each pair."""
    import torch

    from eval_reward import load
    from rlhfd_client import RlhfdClient
    from train import rm_scores

    rm, facts = load(a.models / "reward")
    tok = Tok((a.models / "reward" / "tokenizer.model").read_bytes())
    pairs = [json.loads(line) for line in open(a.data / "feedback" / "pairs_test.jsonl")]
    pairs = pairs[: a.pairs]
    from train import pixel_cache

    _, pixels = pixel_cache(a.data, [q["image"] for q in pairs], rm.model.config.vision_config.image_size)
    with torch.no_grad():
        ref = rm_scores(rm, tok, rm.model.config.image_seq_length, pixels, pairs, facts).tolist()
    agree, worst = 0, 0.0
    with RlhfdClient(client_target, timeout=120) as client:
        for q, (t1, t2) in zip(pairs, ref):
            out = client.score(q["question"], str(a.data / "images" / q["image"]),
                               [q["response_1"], q["response_2"]],
                               facts={"captions": q["captions"]} if facts else None)
            d1, d2 = (r.model_score for r in out.rewards)
            agree += (d1 > d2) == (t1 > t2)
            worst = max(worst, abs(d1 - t1), abs(d2 - t2))
    print(f"reward: {agree}/{len(pairs)} pairs in the same order; largest score difference "
          f"{worst:.2e}")
    return agree


if __name__ == "__main__":
    main()
