#!/usr/bin/env python3
"""One full PPO step on the tiny models with fixed rollouts, for Tests/TrainingTests/PPOStepTorchTests.

A torch (float64, autograd) re-implementation of LLaVA-RLHF's PPO step (research/rlhf-spec.md §3,
"Order of operations"; rl_trainer.py `step` / `step_with_rollouts`, ppo_trainer.py `rollout`,
`_shape_reward`, `_estimate_advantage`, `compute_policy_loss`, `compute_value_loss`) in rlhfd's
`.tokens` window (PPOSettings.small: score at the last response token, masked whitening and means):

  truncate after the first EOS; R = r_RM − 8·[no EOS] − 10·(L/T)·m + 2·c; old log-probs (policy),
  reference log-probs, values; kl = max(0, logp − logp_ref); s = −0.1·kl, + R at L − 1; ×10;
  GAE γ = λ = 1; returns = A + V; A whitened; then for each given minibatch (2 epochs × 2 of 2
  rows, micro-batches of 1 row): the clipped policy loss backward, 0.1 · the clipped value loss
  backward (separately), clip_grad_norm_(all trainable parameters, 1.0), ONE torch.optim.AdamW
  over the policy LoRA, the value LoRA and the value head; the LambdaLR of
  transformers.get_cosine_schedule_with_warmup stepped once per PPO step (this is PPO step 3).

Models: the policy is tiny-llava-policy + lora/adapter-a (r 4, α 8, 7 targets) perturbed (a policy
some steps into the run); the reference is adapter-a itself; the value model is tiny-llava-reward
with a random LoRA (r 4, α 8) and a random small head (weight and bias; the fresh head is zero,
which would leave the value LoRA without gradient at the first minibatch). Every tensor the Swift
side reads is rounded to fp32 first.

Writes Tests/Fixtures/training/ppo-step.json and ppo-step.safetensors (fp32):
  row<b>.image, row<b>.value_image          (3, 64) image rows, rows with an image only
  policy.initial.<seg>, value.initial.<seg>  LoRA (and value head `score.weight`, `score.bias`)
  policy.final.<seg>,   value.final.<seg>    after the step
  old_logprobs, ref_logprobs, values, advantages, returns   (rows, window)
<seg> = the Swift segment name language_model.layers.<l>.<self_attn|mlp>.<x>_proj.lora_{A,B}.weight.

    .build-ref/venv/bin/python tools/reference/make_ppo_step_fixture.py
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
IMAGE, EOS, IMAGE_ROWS, C = 640, 2, 3, 64
D = torch.float64

WINDOW = 8  # response_length (and the length term's normalizer)
KL_COEF, SCALE, CLIP, VCLIP, VF_COEF, EPS = 0.1, 10.0, 0.2, 0.2, 0.1, 1e-8
W_NO_EOS, W_LENGTH, W_CORRECT = -8.0, -10.0, 2.0
LR, WARMUP, TOTAL, PPO_STEP, MAX_NORM = 3e-4, 2, 10, 3, 1.0
MINIBATCHES = [[2, 0], [1, 3], [3, 1], [0, 2]]  # 2 epochs × 2 minibatches of 2 rows

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def f32(t):
    return t.detach().float().double()


def swift_name(name: str) -> str:
    m = re.search(r"language_model\.layers\.(\d+)\.(self_attn|mlp)\.(\w+)\.lora_([AB])\.default\.weight", name)
    assert m, name
    return f"language_model.layers.{m[1]}.{m[2]}.{m[3]}.lora_{m[4]}.weight"


def lora_params(model):
    return {swift_name(n): p for n, p in model.named_parameters() if "lora_" in n}


def make_rows(g):
    """Four rollouts: queries with / without an image, responses cut at EOS or not."""
    def text(n):
        return torch.randint(3, 600, (n,), generator=g).tolist()

    specs = [  # (query, image?, response, rm score, length bonus, correctness c)
        ([1] + text(1) + [IMAGE] * IMAGE_ROWS + text(4), True, text(8), 1.3, 1.0, 0.0),
        ([1] + text(5), False, text(3) + [EOS] + text(1), -0.7, -0.5, 0.0),
        ([1] + text(1) + [IMAGE] * IMAGE_ROWS + text(4), True, text(5) + [EOS], 0.4, 1.0, 0.5),
        ([1] + text(2) + [IMAGE] * IMAGE_ROWS + text(1), True, text(1) + [EOS] + text(4), 2.1, 1.0, 0.0),
    ]
    rows = []
    for b, (query, image, response, score, bonus, c) in enumerate(specs):
        cut = response.index(EOS) + 1 if EOS in response else len(response)
        kept = response[:cut]
        has_eos = EOS in kept
        R = score + (0 if has_eos else W_NO_EOS) + W_LENGTH * (len(kept) / WINDOW) * bonus + W_CORRECT * c
        row = dict(query=query, response=response, kept=kept, rm_score=score, length_bonus=bonus,
                   correctness=c, has_eos=has_eos, score=float(torch.tensor(R, dtype=torch.float32)))
        if image:
            row["image"] = (torch.randn(IMAGE_ROWS, C, generator=g) * 0.05).float()
            row["value_image"] = (torch.randn(IMAGE_ROWS, C, generator=g) * 0.05).float()
        rows.append(row)
    return rows


def embeds(embed, ids, image):
    ids = torch.tensor(ids)
    x = embed(torch.where(ids == IMAGE, torch.zeros_like(ids), ids)).detach().clone()
    if image is not None:
        x[ids == IMAGE] = image.double()
    return x.unsqueeze(0)


def policy_logprobs(model, row):
    """(L,) log-probs of the kept response tokens, predicted from rows Q − 1 ..."""
    ids = row["query"] + row["kept"]
    Q, L = len(row["query"]), len(row["kept"])
    logits = model(inputs_embeds=embeds(model.get_input_embeddings(), ids, row.get("image"))).logits[0]
    logp = torch.log_softmax(logits[Q - 1:Q + L - 1], dim=-1)
    return logp.gather(1, torch.tensor(row["kept"]).unsqueeze(1))[:, 0]


class Value(TinyReward):
    """tiny-llava-reward's backbone with a scalar head (weight and bias)."""

    def __init__(self):
        super().__init__(score_bias=True, checkpoint_head=False)


def values_of(value, row):
    ids = row["query"] + row["kept"]
    Q, L = len(row["query"]), len(row["kept"])
    h = value.model(inputs_embeds=embeds(value.model.get_input_embeddings(), ids, row.get("value_image")))
    return value.score(h.last_hidden_state[0][Q - 1:Q + L - 1])[:, 0]


def whiten(x, m, shift_mean=True):
    sel = x[m]
    out = (x - sel.mean()) / (sel.std(unbiased=False) + EPS)
    if not shift_mean:
        out = out + sel.mean()
    return torch.where(m, out, torch.zeros_like(out))


def main():
    g = torch.Generator().manual_seed(1314)
    rows = make_rows(g)
    n = len(rows)

    base = transformers.LlavaForConditionalGeneration.from_pretrained(
        str(FIX / "tiny-llava-policy"), dtype=torch.float32, attn_implementation="eager")
    policy = PeftModel.from_pretrained(base, str(FIX / "lora/adapter-a"), is_trainable=True).double().eval()
    for p in lora_params(policy).values():  # a policy some steps into the run
        p.data = f32(p.data + torch.randn(p.shape, generator=g, dtype=D) * 0.02 * p.data.abs().max())
    ref_base = transformers.LlavaForConditionalGeneration.from_pretrained(
        str(FIX / "tiny-llava-policy"), dtype=torch.float32, attn_implementation="eager")
    reference = PeftModel.from_pretrained(ref_base, str(FIX / "lora/adapter-a")).double().eval()

    holder = Value()
    holder.model.config.text_config._attn_implementation = "eager"
    config = LoraConfig(r=4, lora_alpha=8, target_modules=PATTERN, lora_dropout=0.0, init_lora_weights=False)
    value = get_peft_model(holder, config).double().eval()
    for name, p in lora_params(value).items():
        scale = 1 / math.sqrt(p.shape[1]) if ".lora_A." in name else 0.25 / 2
        p.data = f32(torch.randn(p.shape, generator=g, dtype=D) * scale)
    holder.score.weight.data = f32(torch.randn(1, C, generator=g, dtype=D) * 0.1)
    holder.score.bias.data = f32(torch.tensor([0.05], dtype=D))
    holder.score.weight.requires_grad_(True)
    holder.score.bias.requires_grad_(True)

    tensors = {}
    for b, row in enumerate(rows):
        if "image" in row:
            tensors[f"row{b}.image"] = row["image"]
            tensors[f"row{b}.value_image"] = row["value_image"]
    policy_params, value_params = lora_params(policy), lora_params(value)
    for k, p in policy_params.items():
        tensors[f"policy.initial.{k}"] = p.detach().float().clone()
    for k, p in value_params.items():
        tensors[f"value.initial.{k}"] = p.detach().float().clone()
    tensors["value.initial.score.weight"] = holder.score.weight.detach().float().clone()
    tensors["value.initial.score.bias"] = holder.score.bias.detach().float().clone()

    # Rollout side.
    lengths = [len(r["kept"]) for r in rows]
    mask = torch.tensor([[t < L for t in range(WINDOW)] for L in lengths])
    fmask = mask.to(D)
    old = torch.zeros(n, WINDOW, dtype=D)
    ref = torch.zeros(n, WINDOW, dtype=D)
    vals = torch.zeros(n, WINDOW, dtype=D)
    with torch.no_grad():
        for b, row in enumerate(rows):
            L = lengths[b]
            old[b, :L] = policy_logprobs(policy, row)
            ref[b, :L] = policy_logprobs(reference, row)
            vals[b, :L] = values_of(holder, row)
    scores = torch.tensor([r["score"] for r in rows], dtype=D)
    kl = torch.clamp(old - ref, min=0.0) * fmask
    shaped = -KL_COEF * kl
    for b in range(n):
        shaped[b, lengths[b] - 1] += scores[b]
    rewards = shaped * SCALE * fmask
    last = torch.zeros(n, dtype=D)
    rev = []
    for t in reversed(range(WINDOW)):
        nxt = vals[:, t + 1] if t < WINDOW - 1 else 0.0
        last = rewards[:, t] + nxt - vals[:, t] + last
        rev.append(last)
    advantages = torch.stack(rev[::-1], dim=1)
    returns = (advantages + vals) * fmask
    advantages = whiten(advantages, mask)

    # Update: one AdamW over everything trainable, the scheduler at PPO step PPO_STEP.
    trainable = list(policy_params.values()) + list(value_params.values()) + [holder.score.weight, holder.score.bias]
    optimizer = torch.optim.AdamW(trainable, lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    scheduler = transformers.get_cosine_schedule_with_warmup(optimizer, WARMUP, TOTAL)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(PPO_STEP):
            scheduler.step()
    lr = optimizer.param_groups[0]["lr"]
    steps = []
    for mb in MINIBATCHES:
        N = sum(lengths[b] for b in mb)
        optimizer.zero_grad(set_to_none=False)
        st = dict(policy_loss=0.0, value_loss=0.0, clipfrac=0.0, vf_clipfrac=0.0, approxkl=0.0, max_ratio_dev=0.0)
        for b in mb:  # micro-batches of one row
            L = lengths[b]
            lp = policy_logprobs(policy, rows[b])
            ratio = torch.exp(lp - old[b, :L])
            pg1, pg2 = -advantages[b, :L] * ratio, -advantages[b, :L] * torch.clamp(ratio, 1 - CLIP, 1 + CLIP)
            pg = torch.maximum(pg1, pg2).sum() / N
            pg.backward()
            st["policy_loss"] += pg.item()
            st["clipfrac"] += ((pg2 > pg1).to(D).sum() / N).item()
            st["approxkl"] += (0.5 * ((lp - old[b, :L]) ** 2).sum() / N).item()
            st["max_ratio_dev"] = max(st["max_ratio_dev"], (ratio - 1).abs().max().item())
            v = values_of(holder, rows[b])
            vclip = torch.clamp(v, vals[b, :L] - VCLIP, vals[b, :L] + VCLIP)
            vf1, vf2 = (v - returns[b, :L]) ** 2, (vclip - returns[b, :L]) ** 2
            vf = 0.5 * torch.maximum(vf1, vf2).sum() / N
            (VF_COEF * vf).backward()
            st["value_loss"] += vf.item()
            st["vf_clipfrac"] += ((vf2 > vf1).to(D).sum() / N).item()
        st["grad_norm"] = torch.nn.utils.clip_grad_norm_(trainable, MAX_NORM).item()
        grads = torch.cat([p.grad.reshape(-1) for p in trainable])
        nonzero = grads[grads != 0].abs()
        st["min_abs_grad_over_max"] = (nonzero.min() / nonzero.max()).item()
        optimizer.step()
        steps.append(st)
    scheduler.step()
    for st in steps:
        print({k: round(v, 6) for k, v in st.items()})

    for k, p in policy_params.items():
        tensors[f"policy.final.{k}"] = p.detach().float()
    for k, p in value_params.items():
        tensors[f"value.final.{k}"] = p.detach().float()
    tensors["value.final.score.weight"] = holder.score.weight.detach().float()
    tensors["value.final.score.bias"] = holder.score.bias.detach().float()
    for name, t in [("old_logprobs", old), ("ref_logprobs", ref), ("values", vals),
                    ("advantages", advantages), ("returns", returns)]:
        tensors[name] = t.float()
    OUT.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in sorted(tensors.items())}, str(OUT / "ppo-step.safetensors"))
    info = {
        "generator": "tools/reference/make_ppo_step_fixture.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "settings": {"window": WINDOW, "learning_rate": LR, "warmup": WARMUP, "total": TOTAL, "ppo_step": PPO_STEP,
                     "step_learning_rate": lr, "max_grad_norm": MAX_NORM, "eos": EOS, "rank": 4, "alpha": 8},
        "minibatches": MINIBATCHES,
        "rows": [{k: v for k, v in r.items() if k not in ("image", "value_image")} | {"has_image": "image" in r}
                 for r in rows],
        "statistics": {
            "reward_mean": scores.mean().item(), "reward_std": scores.std(unbiased=False).item(),
            "kl": (kl.sum() / n).item(),
            "optimizer_steps": steps,
        },
    }
    (OUT / "ppo-step.json").write_text(json.dumps(info, indent=1) + "\n")
    print("lr", lr, "rows", lengths, "scores", scores.tolist())


if __name__ == "__main__":
    main()
