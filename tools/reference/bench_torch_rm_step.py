#!/usr/bin/env python3
"""PyTorch CPU reference for `TrainingBench`: reward-model optimizer steps on the same shapes.

The reward checkpoint's language model in fp32 with a `score` head, PEFT LoRA (r, alpha 16) on the
7 decoder targets, random text-only pairs of T tokens per sequence (a shared prompt, R-token
responses); per step: micro-batches of M pairs (each sequence its own forward, as the Swift side),
Bradley-Terry + 1e-3 |mean(r1 + r2)|, backward, clip 0.3, AdamW. Prints seconds per 1k pairs (mean
over the steps after the first). 2 threads, as the issue's figures.

    .build-ref/venv/bin/python tools/reference/bench_torch_rm_step.py DIR [T] [R] [PAIRS] [RANK] [BATCH] [MICRO]
"""

import sys
import time

import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PATTERN = r".*layers\.\d+\.(self_attn|mlp)\.(" + "|".join(TARGETS) + ")"


class Reward(torch.nn.Module):
    def __init__(self, directory):
        super().__init__()
        cfg = transformers.LlavaConfig.from_pretrained(directory)
        self.model = transformers.LlavaModel(cfg).language_model
        self.score = torch.nn.Linear(cfg.text_config.hidden_size, 1, bias=False)
        state = {}
        for name, value in load_file(f"{directory}/model.safetensors").items():
            for prefix in ("language_model.model.", "model.language_model."):
                if name.startswith(prefix):
                    state["model." + name[len(prefix):]] = value
            if name == "score.weight":
                state[name] = value
        self.load_state_dict(state, strict=False)

    def reward(self, ids):
        return self.score(self.model(input_ids=ids.unsqueeze(0)).last_hidden_state[0, -1])[0]


def main() -> None:
    args = sys.argv[1:]
    directory = args[0]
    T, R, pairs, rank, batch, micro = (int(a) for a in (args[1:] + ["256", "32", "32", "8", "8", "2"][len(args) - 1:]))
    torch.set_num_threads(2)
    holder = Reward(directory)
    model = get_peft_model(holder, LoraConfig(r=rank, lora_alpha=16, target_modules=PATTERN, lora_dropout=0.0))
    holder.score.weight.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=2e-5, weight_decay=0.0)
    vocab = min(holder.model.config.vocab_size, 32000)
    g = torch.Generator().manual_seed(1)
    data = []
    for i in range(pairs):
        prompt = torch.cat([torch.tensor([1]), torch.randint(3, vocab, (T - R - 1,), generator=g)])
        data.append((torch.cat([prompt, torch.randint(3, vocab, (R,), generator=g)]),
                     torch.cat([prompt, torch.randint(3, vocab, (R,), generator=g)]), float(i % 2 == 0)))
    per_pair = []
    for start in range(0, pairs, batch):
        chunk = data[start:start + batch]
        t0 = time.perf_counter()
        optimizer.zero_grad()
        parts = [chunk[i:i + micro] for i in range(0, len(chunk), micro)]
        for part in parts:
            r1 = torch.stack([model.reward(a) for a, _, _ in part])
            r2 = torch.stack([model.reward(b) for _, b, _ in part])
            y = torch.tensor([c for *_, c in part])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(r2 - r1, y) + 1e-3 * (r1 + r2).mean().abs()
            (loss / len(parts)).backward()
        torch.nn.utils.clip_grad_norm_(params, 0.3)
        optimizer.step()
        per_pair.append((time.perf_counter() - t0) / len(chunk))
    rest = per_pair[1:] or per_pair
    mean = sum(rest) / len(rest)
    print(f"torch reward-model update: {directory}, T {T}, LoRA r {rank}, batch {batch} / micro {micro}: "
          f"{mean * 1000:.3f} s per 1k pairs ({mean * 1000 / (2 * T):.4f} s per 1k tokens)")


if __name__ == "__main__":
    main()
