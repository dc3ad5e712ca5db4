#!/usr/bin/env python3
"""PyTorch CPU peer of `TrainingBench --rm`: one reward-model optimizer step on the same shapes.

The reward checkpoint's language model in fp32 with its `score` head (a fresh head with small
values when the checkpoint has none, as TrainingBench), PEFT LoRA (r, alpha, no dropout) on the 7
decoder linears, B random text-only pairs of T tokens per sequence (a shared prompt, R-token
responses); per step: micro-batches of M pairs (each sequence its own forward, as rlhfd),
Bradley-Terry + 1e-3 |mean(r1 + r2)| divided by the micro-batches, backward, clip, AdamW.
Forward = the forwards and the loss, backward = the backwards, optimizer = zero_grad, clip, AdamW.
2 threads.

    .build-ref/venv/bin/python tools/reference/bench_torch_rm_step.py --model DIR [--tokens T]
        [--response R] [--batch B] [--micro M] [--rank r] [--alpha a] [--steps N | --serve]
"""

import argparse
import time

import torch
from bench_torch_serve import Parts, load, pattern, serve, small_values
from peft import LoraConfig, get_peft_model


class Reward(torch.nn.Module):
    def __init__(self, lm, score):
        super().__init__()
        self.model = lm
        self.score = torch.nn.Linear(lm.config.hidden_size, 1, bias=False)
        if score is not None:
            self.score.weight.data.copy_(score)
        else:
            small_values(self.score.weight, 0)

    def reward(self, ids):
        return self.score(self.model(input_ids=ids.unsqueeze(0)).last_hidden_state[0, -1])[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    for name, default in [("tokens", 256), ("response", 32), ("batch", 8), ("micro", 2), ("rank", 8), ("steps", 2)]:
        ap.add_argument(f"--{name}", type=int, default=default)
    for name, default in [("alpha", 16.0), ("lr", 2e-5), ("max-grad-norm", 0.3), ("weight-decay", 0.0)]:
        ap.add_argument(f"--{name}", type=float, default=default)
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    lm, _, score = load(a.model)
    holder = Reward(lm, score)
    model = get_peft_model(holder, LoraConfig(r=a.rank, lora_alpha=a.alpha, target_modules=pattern("model"),
                                              lora_dropout=0.0))
    holder.score.weight.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=a.lr, weight_decay=a.weight_decay)
    vocab = min(lm.config.vocab_size, 32000)
    g = torch.Generator().manual_seed(1)
    T, R = a.tokens, a.response
    data = []
    for i in range(a.batch):
        prompt = torch.cat([torch.tensor([1]), torch.randint(3, vocab, (T - R - 1,), generator=g)])
        data.append((torch.cat([prompt, torch.randint(3, vocab, (R,), generator=g)]),
                     torch.cat([prompt, torch.randint(3, vocab, (R,), generator=g)]), float(i % 2 == 0)))

    def step():
        parts = Parts()
        t0 = parts.mark
        optimizer.zero_grad()
        parts.add("optimizer")
        chunks = [data[i:i + a.micro] for i in range(0, len(data), a.micro)]
        for chunk in chunks:
            r1 = torch.stack([holder.reward(x) for x, _, _ in chunk])
            r2 = torch.stack([holder.reward(y) for _, y, _ in chunk])
            y = torch.tensor([c for *_, c in chunk])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(r2 - r1, y) + 1e-3 * (r1 + r2).mean().abs()
            parts.add("forward")
            (loss / len(chunks)).backward()
            parts.add("backward")
        if a.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, a.max_grad_norm)
        optimizer.step()
        parts.add("optimizer")
        return parts.result(time.perf_counter() - t0, len(data))

    info = dict(mode="rm", layers=lm.config.num_hidden_layers, hidden=lm.config.hidden_size, tokens=T, response=R,
                batch=a.batch, micro=a.micro, rank=a.rank, alpha=a.alpha, fresh_head=score is None,
                trainable=sum(p.numel() for p in params))
    serve(step, info, a.serve, a.steps)


if __name__ == "__main__":
    main()
