"""The tiny reward fixture (`Tests/Fixtures/tiny-llava-reward`) as a torch module: the LLaVA
backbone (`transformers.LlavaModel`) plus a scalar `score` head, loaded from the checkpoint's
llava-hf v4 layout (language_model.model.*, vision_tower.*, multi_modal_projector.*). Shared by
the fixture scripts that need the reward model or a value model on its backbone."""

from __future__ import annotations

from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file

CHECKPOINT = Path(__file__).resolve().parents[2] / "Tests/Fixtures/tiny-llava-reward"


class TinyReward(torch.nn.Module):
    """`score_bias`: the head has a bias (a value head); `checkpoint_head`: load the
    checkpoint's `score.weight` (a reward model) or leave the head to the caller (a value
    model, whose head is set afterwards)."""

    def __init__(self, *, score_bias: bool = False, checkpoint_head: bool = True):
        super().__init__()
        cfg = transformers.LlavaConfig.from_pretrained(str(CHECKPOINT))
        self.model = transformers.LlavaModel(cfg)
        self.score = torch.nn.Linear(cfg.text_config.hidden_size, 1, bias=score_bias)
        state = {}
        for name, value in load_file(str(CHECKPOINT / "model.safetensors")).items():
            if name.startswith("score.") and not checkpoint_head:
                continue
            if name.startswith("language_model.model."):
                name = "model.language_model." + name[len("language_model.model."):]
            elif name.startswith(("vision_tower.", "multi_modal_projector.")):
                name = "model." + name
            state[name] = value
        missing, unexpected = self.load_state_dict(state, strict=False)
        head = {"score.weight", "score.bias"} if score_bias else {"score.weight"}
        expected = set() if checkpoint_head else head
        assert not unexpected and set(missing) == expected, (missing, unexpected)
