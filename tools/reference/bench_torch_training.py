#!/usr/bin/env python3
"""PyTorch CPU reference for `EngineBench --training`: the same LoRA step on the same decoder.

Loads a LLaVA checkpoint's language model in fp32, PEFT LoRA r 64 (alpha 16) on the 7 decoder
targets, one sequence of T random text tokens; times the forward (logits of the last T/2 positions,
log-probs + entropy), and the backward of -mean(logprob) + 0.01 mean(entropy) into the LoRA
gradients; prints seconds per 1k tokens (median of the rounds). 2 threads, as the issue's figure.

    .build-ref/venv/bin/python tools/reference/bench_torch_training.py DIR [T] [ROUNDS]
"""

import statistics
import sys
import time

import torch
import transformers
from peft import LoraConfig, get_peft_model

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PATTERN = r".*language_model\.layers\.\d+\.(self_attn|mlp)\.(" + "|".join(TARGETS) + ")"


def main() -> None:
    directory = sys.argv[1]
    T = int(sys.argv[2]) if len(sys.argv) > 2 else 512
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    torch.set_num_threads(2)
    model = transformers.LlavaForConditionalGeneration.from_pretrained(directory, dtype=torch.float32)
    model.model.vision_tower = None  # frozen and unused: image rows would be inputs
    model = get_peft_model(model, LoraConfig(r=64, lora_alpha=16, target_modules=PATTERN, lora_dropout=0.0))
    vocab = model.config.text_config.vocab_size
    ids = torch.randint(3, min(vocab, model.config.image_token_index), (1, T), generator=torch.Generator().manual_seed(1))
    targets = torch.arange(T // 2, T)
    forward, backward = [], []
    for _ in range(rounds):
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        logits = model(input_ids=ids, logits_to_keep=T // 2 + 1).logits[0, :-1]  # rows T/2 - 1 ..< T - 1
        logp = torch.log_softmax(logits, dim=-1)
        logprobs = logp.gather(1, ids[0, targets].unsqueeze(1))[:, 0]
        entropy = -(logp.exp() * logp).sum(-1)
        loss = -logprobs.mean() + 0.01 * entropy.mean()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        forward.append(t1 - t0)
        backward.append(t2 - t1)
    per_k = lambda xs: statistics.median(xs) * 1000 / T  # noqa: E731
    total = per_k([f + b for f, b in zip(forward, backward)])
    layers = model.config.text_config.num_hidden_layers
    print(f"TORCH   {layers} layers, T {T}, r 64 on 7 targets, fp32, 2 threads (torch {torch.__version__}): "
          f"per 1k tokens forward {per_k(forward):.3f} s, backward {per_k(backward):.3f} s, total {total:.3f} s "
          f"(median of {rounds})")


if __name__ == "__main__":
    main()
