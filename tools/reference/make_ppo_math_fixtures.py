"""PPO and reward-model math fixture for the Swift Training tests.

Writes Tests/TrainingTests/Generated/TorchPPOMathFixture.swift. A re-implementation in torch
(float64) of LLaVA-RLHF's PPO math as research/rlhf-spec.md §3 describes it (ppo_trainer.py
`_shape_reward`, `_estimate_advantage`, `whiten`, `compute_policy_loss`, `compute_value_loss`)
and of its reward-model loss (§2, reward_model.py `compute_loss`), on seeded random inputs;
gradients by autograd. Two PPO cases:

  paper:  the released run's math — k1 clamped, β 0.1, rewards ×10, γ = λ = 1, score at the
          window's last slot, whitening and loss means over every slot (no padding mask), pad
          log-probs 0 on both sides (ignore_index), values at pad slots in the value loss.
  tokens: the options — k3, β 0.05, whitened rewards (mean kept), γ 0.9, λ 0.95, entropy
          coefficient 0.01, score at the last response token, masked statistics and means.

Deterministic (torch.manual_seed, one thread, float64).

    .build-ref/venv/bin/python tools/reference/make_ppo_math_fixtures.py
"""

import pathlib

import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.manual_seed(13)
D = torch.float64
ROWS, WINDOW = 6, 7
LENGTHS = [7, 3, 5, 1, 6, 2]
EPS = 1e-8

mask = torch.tensor([[t < n for t in range(WINDOW)] for n in LENGTHS])
fmask = mask.to(D)

# Rollout-time tensors: log-probs are 0 at pad slots on both sides (ignore_index = pad).
old_logprobs = (-torch.rand(ROWS, WINDOW, dtype=D) * 3) * fmask
ref_logprobs = (old_logprobs + torch.randn(ROWS, WINDOW, dtype=D) * 0.4) * fmask
old_values = torch.randn(ROWS, WINDOW, dtype=D)
scores = torch.randn(ROWS, dtype=D) * 2
# Training-time tensors (the model after some updates): ratios on both sides of the clip range.
new_logprobs_full = old_logprobs + torch.randn(ROWS, WINDOW, dtype=D) * 0.3
new_values_full = old_values + torch.randn(ROWS, WINDOW, dtype=D) * 0.4
entropies_full = torch.rand(ROWS, WINDOW, dtype=D) * 4


def whiten(x, m, shift_mean):
    """ppo_trainer.whiten over the positions of m (all for the paper): (x − mean) / (std + ε)."""
    sel = x[m]
    mean = sel.mean()
    std = sel.std(unbiased=False)
    out = (x - mean) / (std + EPS)
    if not shift_mean:
        out = out + mean
    return torch.where(m, out, torch.zeros_like(out))


def case(name, kl_kind, beta, whiten_rewards, scale, gamma, lam, entropy_coef, padded):
    stat = torch.ones_like(mask) if padded else mask
    if kl_kind == "k1":
        kl = torch.clamp(old_logprobs - ref_logprobs, min=0.0)
    else:
        log_r = ref_logprobs - old_logprobs
        kl = torch.exp(log_r) - 1.0 - log_r
    kl = kl * fmask
    shaped = -beta * kl
    for b, n in enumerate(LENGTHS):
        slot = WINDOW - 1 if padded else n - 1
        shaped[b, slot] += scores[b]
    rewards = whiten(shaped, stat, shift_mean=False) if whiten_rewards else shaped * scale
    values = old_values.clone()
    if not padded:
        rewards = rewards * fmask
        values = values * fmask
    last = torch.zeros(ROWS, dtype=D)
    adv_rev = []
    for t in reversed(range(WINDOW)):
        nxt = values[:, t + 1] if t < WINDOW - 1 else 0.0
        delta = rewards[:, t] + gamma * nxt - values[:, t]
        last = delta + gamma * lam * last
        adv_rev.append(last)
    advantages = torch.stack(adv_rev[::-1], dim=1)
    returns = advantages + values
    advantages = whiten(advantages, stat, shift_mean=True)
    if not padded:
        returns = returns * fmask

    n = stat.to(D).sum()
    leaf_lp = new_logprobs_full.clone().requires_grad_(True)
    logprob = leaf_lp * fmask  # pads: constant 0, no gradient
    ratio = torch.exp(logprob - old_logprobs)
    pg1 = -advantages * ratio
    pg2 = -advantages * torch.clamp(ratio, min=0.8, max=1.2)
    pg_loss = (torch.maximum(pg1, pg2) * stat).sum() / n
    pg_loss.backward()
    clipfrac = ((pg2 > pg1) & stat).to(D).sum() / n
    approxkl = 0.5 * (((logprob - old_logprobs) ** 2) * stat).sum() / n

    leaf_v = new_values_full.clone().requires_grad_(True)
    vclip = torch.clamp(leaf_v, min=old_values - 0.2, max=old_values + 0.2)
    vf1 = (leaf_v - returns) ** 2
    vf2 = (vclip - returns) ** 2
    vf_loss = 0.5 * (torch.maximum(vf1, vf2) * stat).sum() / n
    (0.1 * vf_loss).backward()
    vf_clipfrac = ((vf2 > vf1) & stat).to(D).sum() / n

    leaf_h = entropies_full.clone().requires_grad_(True)
    ent_mean = (leaf_h * stat).sum() / n
    (-entropy_coef * ent_mean).backward()

    return dict(
        kl=kl, shaped=shaped, advantages=advantages, returns=returns,
        policyLoss=pg_loss.detach(), dLogProb=leaf_lp.grad, clipFraction=clipfrac,
        approxKL=approxkl.detach(), valueLoss=vf_loss.detach(), dValue=leaf_v.grad,
        valueClipFraction=vf_clipfrac, entropy=ent_mean.detach(), dEntropy=leaf_h.grad,
    )


paper = case("paper", "k1", 0.1, False, 10.0, 1.0, 1.0, 0.0, padded=True)
tokens = case("tokens", "k3", 0.05, True, 10.0, 0.9, 0.95, 0.01, padded=False)

# Reward model: n pairs, r1 = first, r2 = second, choice = 1 when the second is preferred.
PAIRS = 9
r1 = (torch.randn(PAIRS, dtype=D) * 1.5 + 0.4).requires_grad_(True)
r2 = (torch.randn(PAIRS, dtype=D) * 1.5 + 0.4).requires_grad_(True)
choice = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0, 1], dtype=D)
logits = r2 - r1
rm_loss = F.binary_cross_entropy_with_logits(logits, choice, reduction="mean")
rm_loss = rm_loss + (r2 + r1).mean().abs() * 1e-3
rm_loss.backward()
rm_accuracy = ((logits >= 0).to(D) == choice).to(D).mean()


def flt(x):
    return "%.17g" % float(x.detach() if torch.is_tensor(x) else x)


def arr(t):
    return "[" + ", ".join(flt(v) for v in t.detach().reshape(-1).tolist()) + "]"


def case_swift(name, c):
    lines = [f"  enum {name} {{"]
    for key in ("kl", "shaped", "advantages", "returns", "dLogProb", "dValue", "dEntropy"):
        lines.append(f"    static let {key}: [Double] = {arr(c[key])}")
    for key in ("policyLoss", "clipFraction", "approxKL", "valueLoss", "valueClipFraction", "entropy"):
        lines.append(f"    static let {key}: Double = {flt(c[key])}")
    lines.append("  }")
    return "\n".join(lines)


out = pathlib.Path(__file__).resolve().parents[2] / "Tests/TrainingTests/Generated"
out.mkdir(parents=True, exist_ok=True)
text = f"""// Generated by tools/reference/make_ppo_math_fixtures.py (torch {torch.__version__}); do not edit.
// rows {ROWS} × window {WINDOW}, response lengths {LENGTHS}; float64. Cases: see the script.
enum TorchPPOMathFixture {{
  static let rows = {ROWS}
  static let window = {WINDOW}
  static let lengths = {LENGTHS}
  static let oldLogProbs: [Double] = {arr(old_logprobs)}
  static let referenceLogProbs: [Double] = {arr(ref_logprobs)}
  static let oldValues: [Double] = {arr(old_values)}
  static let scores: [Double] = {arr(scores)}
  static let newLogProbs: [Double] = {arr(new_logprobs_full)}
  static let newValues: [Double] = {arr(new_values_full)}
  static let entropies: [Double] = {arr(entropies_full)}
{case_swift("Paper", paper)}
{case_swift("Tokens", tokens)}
  enum RewardModel {{
    static let first: [Double] = {arr(r1)}
    static let second: [Double] = {arr(r2)}
    static let secondPreferred = [{", ".join("true" if v else "false" for v in choice.tolist())}]
    static let loss: Double = {flt(rm_loss)}
    static let dFirst: [Double] = {arr(r1.grad)}
    static let dSecond: [Double] = {arr(r2.grad)}
    static let accuracy: Double = {flt(rm_accuracy)}
  }}
}}
"""
(out / "TorchPPOMathFixture.swift").write_text(text)
print("wrote", out / "TorchPPOMathFixture.swift")
