#!/usr/bin/env python3
"""Reward-model optimizer steps in torch + PEFT, for the Swift RewardModelUpdate tests.

Run from the repository root (reads Tests/Fixtures/tiny-llava-reward):

    .build-ref/venv/bin/python tools/reference/make_rm_step_fixture.py

LLaVA-RLHF's reward-model training step (research/rlhf-spec.md §2) on the tiny reward model, in
float64 from fp32-rounded starting values: a LoRA (r 4, alpha 8, the 7 targets, random A and B)
and the trainable `score` head; a batch of 4 preference pairs (two sequences per pair sharing a
prompt with 3 image rows, responses of different lengths) in 2 micro-batches of 2; per
micro-batch loss = mean BCEWithLogits(r2 - r1, y) + 1e-3 * |mean(r1 + r2)|, divided by the number
of micro-batches (HF gradient accumulation); clip_grad_norm_ 0.3 over every trainable tensor;
AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01); constant schedule with 2 warmup
steps (step 0 runs at rate 0). 3 optimizer steps on the same batch.

Writes Tests/Fixtures/training/rm-step.json (inputs, settings, per-step loss / accuracy / grad
norm) and rm-step.safetensors (fp32: image rows per pair, start.<name> and after.<name> for every
LoRA tensor and score.weight; <name> as the Swift segment names).
"""

import json
import math
import re
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from tiny_reward import TinyReward

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "Tests/Fixtures"
OUT = FIX / "training"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PATTERN = r".*language_model\.layers\.\d+\.(self_attn|mlp)\.(" + "|".join(TARGETS) + ")"
IMAGE, IMAGE_AT, IMAGE_ROWS = 640, 2, 3
RANK, ALPHA = 4, 8
PROMPT = 9  # tokens before the response, image included
RESPONSES = [(5, 8), (3, 6), (7, 2), (4, 4)]  # response lengths (first, second) per pair
PREFERRED = [True, False, True, False]  # second preferred
STEPS, MICRO = 3, 2
LR, BETAS, EPS, DECAY, WARMUP, MAX_NORM, CENTER = 1e-3, (0.9, 0.999), 1e-8, 0.01, 2, 0.3, 1e-3

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


class Reward(TinyReward):

    def reward(self, ids, image_rows):
        embed = self.model.get_input_embeddings()
        x = embed(torch.where(ids == IMAGE, torch.zeros_like(ids), ids))
        x = torch.where((ids == IMAGE).unsqueeze(-1), torch.zeros_like(x), x)
        x = x.index_put((torch.nonzero(ids == IMAGE)[:, 0],), image_rows)
        h = self.model(inputs_embeds=x.unsqueeze(0)).last_hidden_state[0]
        return self.score(h[-1])[0]


def swift_name(name: str) -> str:
    if name.endswith("score.weight"):
        return "score.weight"
    m = re.search(r"language_model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])\.default\.weight", name)
    assert m, name
    return f"language_model.layers.{m[1]}.{m[2]}.{m[3]}.lora_{m[4]}.weight"


def main() -> None:
    g = torch.Generator().manual_seed(1302)
    holder = Reward()
    holder.model.config.text_config._attn_implementation = "eager"
    config = LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=PATTERN, lora_dropout=0.0,
                        init_lora_weights=False)
    model = get_peft_model(holder, config).double().train()
    holder.score.weight.requires_grad_(True)
    for module in model.modules():
        if isinstance(module, peft.tuners.lora.Linear):
            a, b = module.lora_A["default"].weight, module.lora_B["default"].weight
            a.data = (torch.randn(a.shape, generator=g) / math.sqrt(a.shape[1])).float().double()
            b.data = (torch.randn(b.shape, generator=g) * 0.25 / math.sqrt(RANK)).float().double()
    params = [(swift_name(n), p) for n, p in model.named_parameters() if p.requires_grad]
    assert len(params) == 2 * 2 * len(TARGETS) + 1, [n for n, _ in params]
    tensors = {f"start.{n}": p.detach().float() for n, p in params}

    C = holder.score.weight.shape[1]
    pairs = []
    for i, (n1, n2) in enumerate(RESPONSES):
        prompt = torch.randint(3, 600, (PROMPT,), generator=g)
        prompt[0] = 1
        prompt[IMAGE_AT:IMAGE_AT + IMAGE_ROWS] = IMAGE
        first = torch.cat([prompt, torch.randint(3, 600, (n1,), generator=g)])
        second = torch.cat([prompt, torch.randint(3, 600, (n2,), generator=g)])
        image = (torch.randn(IMAGE_ROWS, C, generator=g) * 0.05).float()
        tensors[f"pair{i}.image_embeddings"] = image
        pairs.append((first, second, image.double(), PREFERRED[i]))

    optimizer = torch.optim.AdamW([p for _, p in params], lr=LR, betas=BETAS, eps=EPS, weight_decay=DECAY)
    schedule = transformers.get_constant_schedule_with_warmup(optimizer, num_warmup_steps=WARMUP)
    steps = []
    chunks = [pairs[i:i + MICRO] for i in range(0, len(pairs), MICRO)]
    for step in range(STEPS):
        optimizer.zero_grad()
        total, right = 0.0, 0
        for chunk in chunks:
            r1 = torch.stack([model.reward(f, img) for f, _, img, _ in chunk])
            r2 = torch.stack([model.reward(s, img) for _, s, img, _ in chunk])
            y = torch.tensor([1.0 if p else 0.0 for *_, p in chunk], dtype=torch.float64)
            z = r2 - r1
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y) + CENTER * (r1 + r2).mean().abs()
            (loss / len(chunks)).backward()
            total += loss.item() / len(chunks)
            right += int((((z >= 0).double()) == y).sum())
        norm = torch.nn.utils.clip_grad_norm_([p for _, p in params], MAX_NORM)
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        schedule.step()
        steps.append({"loss": total, "accuracy": right / len(pairs), "grad_norm": norm.item(), "lr": lr})
    tensors.update({f"after.{n}": p.detach().float() for n, p in params})

    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in sorted(tensors.items())}, str(OUT / "rm-step.safetensors"))
    info = {
        "generator": "tools/reference/make_rm_step_fixture.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "checkpoint": "tiny-llava-reward", "rank": RANK, "alpha": ALPHA, "targets": TARGETS,
        "pairs": [{"first": f.tolist(), "second": s.tolist(), "second_preferred": p} for f, s, _, p in pairs],
        "settings": {"batch_size": len(pairs), "micro_batch_size": MICRO, "learning_rate": LR,
                     "betas": list(BETAS), "eps": EPS, "weight_decay": DECAY, "warmup_steps": WARMUP,
                     "max_grad_norm": MAX_NORM, "centering": CENTER},
        "steps": steps,
    }
    (OUT / "rm-step.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps(steps, indent=1))


if __name__ == "__main__":
    main()
