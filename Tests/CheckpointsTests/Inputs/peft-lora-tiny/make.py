#!/usr/bin/env python3
"""A real PEFT LoRA adapter on Tests/Fixtures/tiny-llava-policy, and PEFT's own merge of it.

Needs torch + transformers (the tools/reference venv) plus peft and accelerate on PYTHONPATH.
Run from the repository root:

    PYTHONPATH=<peft src>:<accelerate> .build-ref/venv/bin/python \
        Tests/CheckpointsTests/Inputs/peft-lora-tiny/make.py

Writes, beside this script:
  adapter/      get_peft_model(...).save_pretrained(): adapter_config.json + adapter_model.safetensors
                (r 2, lora_alpha 4, target_modules q_proj/v_proj: text and vision layers)
  rslora/       the same with use_rslora=True and lora_alpha 3
  merged.safetensors   merge_and_unload() weights of every targeted module for both adapters,
                named "<variant>/<hub tensor name>" (fp32)
  info.json     versions and the key list
"""

import json
import os
import sys
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[3]
POLICY = "Tests/Fixtures/tiny-llava-policy"  # relative: it becomes base_model_name_or_path

torch.manual_seed(1234)
torch.set_num_threads(1)


def hub_name(module_name: str) -> str:
    """Module path of transformers 5 -> hub (4.x) tensor name of its weight."""
    rules = [
        ("model.language_model.", "language_model.model."),
        ("model.vision_tower.", "vision_tower.vision_model."),
        ("model.multi_modal_projector.", "multi_modal_projector."),
        ("lm_head", "language_model.lm_head"),
    ]
    for src, dst in rules:
        if module_name.startswith(src):
            return dst + module_name[len(src):] + ".weight"
    raise ValueError(module_name)


def make(variant: str, **lora) -> dict:
    model = transformers.LlavaForConditionalGeneration.from_pretrained(str(POLICY), dtype=torch.float32)
    config = LoraConfig(r=2, target_modules=["q_proj", "v_proj"], lora_dropout=0.0, init_lora_weights=False, **lora)
    peft_model = get_peft_model(model, config)
    peft_model.save_pretrained(str(HERE / variant))
    (HERE / variant / "README.md").unlink()  # PEFT's model-card template
    targeted = [name for name, module in peft_model.base_model.model.named_modules() if hasattr(module, "lora_A")]
    merged = peft_model.merge_and_unload()
    weights = dict(merged.named_parameters())
    return {f"{variant}/{hub_name(name)}": weights[name + ".weight"].detach().contiguous().clone() for name in targeted}


def main() -> None:
    os.chdir(ROOT)
    tensors = {}
    tensors.update(make("adapter", lora_alpha=4))
    tensors.update(make("rslora", lora_alpha=3, use_rslora=True))
    save_file(tensors, str(HERE / "merged.safetensors"))
    info = {
        "generator": "Tests/CheckpointsTests/Inputs/peft-lora-tiny/make.py",
        "versions": {"peft": peft.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
        "merged": sorted(tensors),
    }
    (HERE / "info.json").write_text(json.dumps(info, indent=1) + "\n")
    print(f"{len(tensors)} merged tensors", file=sys.stderr)


if __name__ == "__main__":
    main()
