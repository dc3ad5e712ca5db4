#!/usr/bin/env python3
"""Whole-model LoRA gradients from torch autograd + PEFT, for the Swift decoder backward tests.

Run from the repository root after make_fixtures.py and make_lora_fixtures.py (it reads
tiny-llava-policy, tiny-llava-reward and lora/adapter-a):

    .build-ref/venv/bin/python tools/reference/make_model_grad_fixtures.py

Everything runs in float64 (the Swift side is fp32; the tests allow 1e-4 relative). Image rows are
given as input embeddings (the vision tower and projector are frozen), spliced in at the <image>
tokens of `inputs_embeds`.

Writes Tests/Fixtures/training/:
  model-grads.json         inputs: token ids, target positions (policy), value rows (reward), LoRA
                           settings, tensor list, versions
  model-grads.safetensors  fp32:
    policy.image_embeddings (3, C); policy.d_logprob, policy.d_entropy (n);
    policy.logprobs, policy.entropies (n): log_softmax(logits[p - 1])[tokens[p]] and the entropy of
      that row, for p in targets; LoRA = lora/adapter-a (r 4, alpha 8, 7 targets, 2 layers);
    policy.grad.<module>.lora_{A,B}.weight: d/dθ of sum(d_logprob * logprobs + d_entropy * entropies);
    reward.image_embeddings, reward.d_value (rows), reward.values (rows): score.weight · h[row];
    reward.lora.<module>.lora_{A,B}.weight: the reward model's random LoRA (r 4, alpha 8, 7 targets);
    reward.grad.<module>.lora_{A,B}.weight and reward.grad.score.weight: d/dθ of sum(d_value * values).
<module> = language_model.layers.<l>.<self_attn|mlp>.<x>_proj (the Swift segment names).
"""

import json
import math
import re
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import save_file
from tiny_reward import TinyReward

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "Tests/Fixtures"
OUT = FIX / "training"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PATTERN = r".*language_model\.layers\.\d+\.(self_attn|mlp)\.(" + "|".join(TARGETS) + ")"
IMAGE = 640
T, IMAGE_AT, IMAGE_ROWS = 24, 2, 3
TARGET_POSITIONS = list(range(12, T))  # the "response": predicted from rows 11 ..< 23
VALUE_ROWS = list(range(11, T))  # a value per response token (rows p - 1) and the last row

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def tokens(generator):
    ids = torch.randint(3, 600, (T,), generator=generator)
    ids[0] = 1
    ids[IMAGE_AT:IMAGE_AT + IMAGE_ROWS] = IMAGE
    return ids


def embeds(model_embed, ids, image_rows):
    x = model_embed(torch.where(ids == IMAGE, torch.zeros_like(ids), ids)).detach().clone()
    x[ids == IMAGE] = image_rows
    return x.unsqueeze(0)


def swift_name(name: str) -> str:
    """PEFT parameter name -> language_model.layers.<l>.<block>.<x>_proj.lora_{A,B}.weight."""
    m = re.search(r"language_model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])\.default\.weight", name)
    assert m, name
    return f"language_model.layers.{m[1]}.{m[2]}.{m[3]}.lora_{m[4]}.weight"


def lora_grads(model, prefix):
    out = {}
    for name, p in model.named_parameters():
        if "lora_" in name:
            out[f"{prefix}.grad.{swift_name(name)}"] = p.grad.float()
    assert len(out) == 2 * 2 * len(TARGETS), len(out)
    return out


def policy(generator):
    base = transformers.LlavaForConditionalGeneration.from_pretrained(
        str(FIX / "tiny-llava-policy"), dtype=torch.float32, attn_implementation="eager")
    model = PeftModel.from_pretrained(base, str(FIX / "lora/adapter-a"), is_trainable=True)
    model = model.double().eval()
    ids = tokens(generator)
    embed = model.get_input_embeddings()
    C = embed.weight.shape[1]
    image = (torch.randn(IMAGE_ROWS, C, generator=generator) * 0.05).float()
    n = len(TARGET_POSITIONS)
    d_logprob = torch.randn(n, generator=generator).float()
    d_entropy = torch.randn(n, generator=generator).float()
    logits = model(inputs_embeds=embeds(embed, ids, image.double())).logits[0]  # (T, V)
    rows = torch.tensor(TARGET_POSITIONS) - 1
    logp = torch.log_softmax(logits[rows], dim=-1)  # (n, V)
    logprobs = logp.gather(1, ids[TARGET_POSITIONS].unsqueeze(1))[:, 0]
    entropies = -(logp.exp() * logp).sum(-1)
    (d_logprob.double() * logprobs + d_entropy.double() * entropies).sum().backward()
    tensors = {
        "policy.image_embeddings": image, "policy.d_logprob": d_logprob, "policy.d_entropy": d_entropy,
        "policy.logprobs": logprobs.detach().float(), "policy.entropies": entropies.detach().float(),
    }
    tensors.update(lora_grads(model, "policy"))
    return ids, tensors


def reward(generator):
    holder = TinyReward()
    holder.model.config.text_config._attn_implementation = "eager"
    config = LoraConfig(r=4, lora_alpha=8, target_modules=PATTERN, lora_dropout=0.0, init_lora_weights=False)
    model = get_peft_model(holder, config)
    model = model.double().eval()
    holder.score.weight.requires_grad_(True)
    tensors = {}
    for name, module in model.named_modules():
        if isinstance(module, peft.tuners.lora.Linear):
            a, b = module.lora_A["default"].weight, module.lora_B["default"].weight
            a.data = (torch.randn(a.shape, generator=generator) / math.sqrt(a.shape[1])).double()
            b.data = (torch.randn(b.shape, generator=generator) * 0.25 / math.sqrt(4)).double()
            # round to fp32 so that Swift runs the same adapter
            a.data, b.data = a.data.float().double(), b.data.float().double()
    for name, p in model.named_parameters():
        if "lora_" in name:
            tensors[f"reward.lora.{swift_name(name)}"] = p.detach().float()
    ids = tokens(generator)
    embed = holder.model.get_input_embeddings()
    C = embed.weight.shape[1]
    image = (torch.randn(IMAGE_ROWS, C, generator=generator) * 0.05).float()
    d_value = torch.randn(len(VALUE_ROWS), generator=generator).float()
    h = holder.model(inputs_embeds=embeds(embed, ids, image.double())).last_hidden_state[0]
    values = holder.score(h[VALUE_ROWS])[:, 0]
    (d_value.double() * values).sum().backward()
    tensors.update({
        "reward.image_embeddings": image, "reward.d_value": d_value,
        "reward.values": values.detach().float(), "reward.grad.score.weight": holder.score.weight.grad.float(),
    })
    tensors.update(lora_grads(model, "reward"))
    return ids, tensors


def main() -> None:
    generator = torch.Generator().manual_seed(1313)
    policy_ids, tensors = policy(generator)
    reward_ids, reward_tensors = reward(generator)
    tensors.update(reward_tensors)
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in sorted(tensors.items())}, str(OUT / "model-grads.safetensors"))
    info = {
        "generator": "tools/reference/make_model_grad_fixtures.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "policy": {"checkpoint": "tiny-llava-policy", "adapter": "lora/adapter-a",
                   "tokens": policy_ids.tolist(), "targets": TARGET_POSITIONS},
        "reward": {"checkpoint": "tiny-llava-reward", "rank": 4, "alpha": 8,
                   "tokens": reward_ids.tolist(), "rows": VALUE_ROWS},
        "tensors": {name: list(value.shape) for name, value in sorted(tensors.items())},
    }
    (OUT / "model-grads.json").write_text(json.dumps(info, indent=1) + "\n")


if __name__ == "__main__":
    main()
