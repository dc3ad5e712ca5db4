"""Shared by the PyTorch peers of `TrainingBench` (bench_torch_ppo_step.py, bench_torch_rm_step.py):
loading a LLaVA checkpoint's language model in fp32, the LoRA target pattern, the part timer, and
the serve loop. TrainingBench starts a peer once with `--serve`; the peer loads, prints
`READY {json}`, then runs one timed step per `step` line on stdin and prints `RESULT {json}`
(forward, backward, optimizer and wall seconds, and the step's units), until `quit` or EOF.
Without `--serve` a peer runs `--steps` steps and prints their results (for use by hand)."""

from __future__ import annotations

import json
import os
import sys
import time

import torch
import transformers
from safetensors import safe_open

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def pattern(prefix: str) -> str:
    """PEFT `target_modules` for the 7 decoder linears under the module named `prefix`."""
    return rf".*{prefix}\.layers\.\d+\.(self_attn|mlp)\.(" + "|".join(TARGETS) + ")"


def load(directory: str):
    """(LlamaModel fp32, lm_head Linear, score weight tensor or None) of a llava-hf checkpoint."""
    full = transformers.LlavaForConditionalGeneration.from_pretrained(directory, dtype=torch.float32)
    score = None
    path = os.path.join(directory, "model.safetensors")
    if os.path.exists(path):
        with safe_open(path, "pt") as f:
            if "score.weight" in f.keys():
                score = f.get_tensor("score.weight").float()
    return full.model.language_model, full.lm_head, score


def small_values(tensor: torch.Tensor, salt: int) -> None:
    """Deterministic small values (|x| ≤ 5e-3), as TrainingBench sets B: no adapter is the identity."""
    n = tensor.numel()
    i = torch.arange(n, dtype=torch.float64)
    tensor.data.copy_((((i * 7919 + salt * 104729) % 1000) * 1e-5 - 5e-3).reshape(tensor.shape).float())


class Parts:
    """Seconds per part of one step."""

    def __init__(self):
        self.forward = self.backward = self.optimizer = 0.0
        self.mark = time.perf_counter()

    def add(self, part: str) -> None:
        now = time.perf_counter()
        setattr(self, part, getattr(self, part) + now - self.mark)
        self.mark = now

    def result(self, wall: float, units: float) -> dict:
        return dict(forward=self.forward, backward=self.backward, optimizer=self.optimizer, wall=wall, units=units)


def serve(step, info: dict, serve_mode: bool, steps: int) -> None:
    info = dict(info, torch=torch.__version__, transformers=transformers.__version__,
                threads=torch.get_num_threads())
    if not serve_mode:
        print("info", json.dumps(info))
        for _ in range(steps):
            print("step", json.dumps(step()), flush=True)
        return
    print("READY " + json.dumps(info, separators=(",", ":")), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command == "step":
            print("RESULT " + json.dumps(step()), flush=True)
