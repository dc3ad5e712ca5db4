#!/usr/bin/env python3
"""PyTorch CPU peer of `TrainingBench --ppo`: one whole PPO step on the same shapes, timed by part.

The re-implementation of make_ppo_step_fixture.py (LLaVA-RLHF's step, the `.tokens` window) in fp32
with 2 threads: B rollouts of random text tokens (a Q-token query, an R-token response, no EOS);
the rollout side under no_grad (the policy's log-probs, the reference's — the policy's LoRA with
the reference's values swapped in —, the value model's values), shaped rewards, GAE, whitened
advantages; then epochs × shuffled minibatches of S rows, per row the policy forward and clipped
loss → backward, the value forward and 0.1 · clipped value loss → backward; per minibatch
clip_grad_norm_ over everything trainable and ONE AdamW over the policy LoRA, the value LoRA and
the value head (weight and bias). PEFT LoRA (r, alpha, no dropout) on the 7 decoder linears of the
policy and of the value model; when both are the same checkpoint they share one base (two
adapters, as rlhfd shares one `LlavaWeights`). Forward = the forwards and losses (the rollout side
included), backward = the backwards, optimizer = zero_grad, clip, AdamW — as TrainingBench.

    .build-ref/venv/bin/python tools/reference/bench_torch_ppo_step.py --policy DIR [--value DIR]
        [--rollouts B] [--step-batch S] [--micro M] [--epochs E] [--query Q] [--response R]
        [--rank r] [--alpha a] [--steps N | --serve]
"""

import argparse
import time

import torch
from bench_torch_serve import Parts, load, pattern, serve, small_values
from peft import LoraConfig, get_peft_model

KL_COEF, SCALE, CLIP, VCLIP, VF_COEF, EPS = 0.1, 10.0, 0.2, 0.2, 0.1, 1e-8
W_NO_EOS, W_LENGTH = -8.0, -10.0


class Holder(torch.nn.Module):
    def __init__(self, **modules):
        super().__init__()
        for name, module in modules.items():
            setattr(self, name, module)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy", required=True)
    ap.add_argument("--value")
    for name, default in [("rollouts", 8), ("step-batch", 4), ("micro", 2), ("epochs", 2), ("query", 64),
                          ("response", 32), ("rank", 8), ("steps", 2)]:
        ap.add_argument(f"--{name}", type=int, default=default)
    for name, default in [("alpha", 16.0), ("lr", 3e-5), ("max-grad-norm", 1.0)]:
        ap.add_argument(f"--{name}", type=float, default=default)
    ap.add_argument("--serve", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    shared = a.value is None or a.value == a.policy
    policy_lm, lm_head, _ = load(a.policy)
    value_lm = None if shared else load(a.value)[0]
    hidden = policy_lm.config.hidden_size
    head = torch.nn.Linear(hidden, 1, bias=True)
    config = LoraConfig(r=a.rank, lora_alpha=a.alpha, lora_dropout=0.0, target_modules=pattern("lm"))
    if shared:  # one base, two adapters; switching costs ~3 ms a call (nothing at TinyLlama scale)
        value_lm = policy_lm
        policy_model = value_model = get_peft_model(Holder(lm=policy_lm, lm_head=lm_head, head=head), config,
                                                    adapter_name="policy")
        policy_model.add_adapter("value", config)
        activate = policy_model.set_adapter
    else:  # two models, one adapter each: nothing to switch
        policy_model = get_peft_model(Holder(lm=policy_lm, lm_head=lm_head), config, adapter_name="policy")
        value_model = get_peft_model(Holder(lm=value_lm, head=head), config, adapter_name="value")

        def activate(_name):
            pass
    lora = {name: [p for n, p in m.named_parameters() if "lora_" in n and f".{name}." in n]
            for name, m in (("policy", policy_model), ("value", value_model))}
    for salt, p in enumerate(lora["policy"] + lora["value"]):
        if p.dim() == 2 and p.shape[1] == a.rank:  # B (N, r); A keeps PEFT's Kaiming init
            small_values(p, salt)
    reference = [p.detach().clone() * 0.9 for p in lora["policy"]]
    for p in (head.weight, head.bias):
        small_values(p, 3)
        p.requires_grad_(True)
    trainable = lora["policy"] + lora["value"] + [head.weight, head.bias]
    optimizer = torch.optim.AdamW(trainable, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)

    vocab = min(policy_lm.config.vocab_size, 32000)
    g = torch.Generator().manual_seed(1)
    B, Q, R = a.rollouts, a.query, a.response
    rows = [torch.cat([torch.tensor([1]), torch.randint(3, vocab, (Q - 1 + R,), generator=g)]) for _ in range(B)]
    rm_scores = torch.tensor([(b % 5) * 0.3 - 0.6 for b in range(B)])
    state = {"step": 0}

    def logprobs(ids):
        h = policy_lm(input_ids=ids.unsqueeze(0)).last_hidden_state[0, Q - 1:Q + R - 1]
        logp = torch.log_softmax(lm_head(h), dim=-1)
        return logp.gather(1, ids[Q:].unsqueeze(1))[:, 0]

    def values(ids):
        h = value_lm(input_ids=ids.unsqueeze(0)).last_hidden_state[0, Q - 1:Q + R - 1]
        return head(h)[:, 0]

    def swap(values_in):
        out = []
        for p, v in zip(lora["policy"], values_in):
            out.append(p.detach().clone())
            p.data.copy_(v)
        return out

    def step():
        parts = Parts()
        t0 = parts.mark
        with torch.no_grad():  # the rollout side
            activate("policy")
            old = torch.stack([logprobs(ids) for ids in rows])
            kept = swap(reference)
            ref = torch.stack([logprobs(ids) for ids in rows])
            swap(kept)
            activate("value")
            vals = torch.stack([values(ids) for ids in rows])
            score = rm_scores + W_NO_EOS + W_LENGTH * 1.0  # no EOS, L = R
            shaped = -KL_COEF * torch.clamp(old - ref, min=0.0)
            shaped[:, -1] += score
            rewards = shaped * SCALE
            last = torch.zeros(B)
            rev = []
            for t in reversed(range(R)):
                nxt = vals[:, t + 1] if t < R - 1 else 0.0
                last = rewards[:, t] + nxt - vals[:, t] + last
                rev.append(last)
            advantages = torch.stack(rev[::-1], dim=1)
            returns = advantages + vals
            advantages = (advantages - advantages.mean()) / (advantages.std(unbiased=False) + EPS)
        parts.add("forward")
        order = []
        mg = torch.Generator().manual_seed(7 + state["step"])
        for _ in range(a.epochs):
            perm = torch.randperm(B, generator=mg).tolist()
            order += [perm[i:i + a.step_batch] for i in range(0, B, a.step_batch)]
        for minibatch in order:
            optimizer.zero_grad(set_to_none=False)
            parts.add("optimizer")
            N = len(minibatch) * R
            for b in minibatch:  # micro-batches only group rows: each row its own forward, as rlhfd
                activate("policy")
                lp = logprobs(rows[b])
                ratio = torch.exp(lp - old[b])
                pg = torch.maximum(-advantages[b] * ratio,
                                   -advantages[b] * torch.clamp(ratio, 1 - CLIP, 1 + CLIP)).sum() / N
                parts.add("forward")
                pg.backward()
                parts.add("backward")
                activate("value")
                v = values(rows[b])
                vclip = torch.clamp(v, vals[b] - VCLIP, vals[b] + VCLIP)
                vf = 0.5 * torch.maximum((v - returns[b]) ** 2, (vclip - returns[b]) ** 2).sum() / N
                parts.add("forward")
                (VF_COEF * vf).backward()
                parts.add("backward")
            if a.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(trainable, a.max_grad_norm)
            optimizer.step()
            parts.add("optimizer")
        state["step"] += 1
        return parts.result(time.perf_counter() - t0, B * R)

    info = dict(mode="ppo", layers=policy_lm.config.num_hidden_layers, hidden=hidden, rollouts=B, query=Q,
                response=R, rank=a.rank, alpha=a.alpha, shared_base=shared,
                trainable=sum(p.numel() for p in trainable))
    serve(step, info, a.serve, a.steps)


if __name__ == "__main__":
    main()
