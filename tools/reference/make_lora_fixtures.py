#!/usr/bin/env python3
"""PEFT LoRA adapters on Tests/Fixtures/tiny-llava-policy and transformers + PEFT logits for them.

Run from the repository root after make_fixtures.py (it reads tiny-llava-policy and
reference/policy.{json,safetensors}); needs `peft` in the venv (requirements.txt):

    .build-ref/venv/bin/python tools/reference/make_lora_fixtures.py
    .build-ref/venv/bin/python tools/reference/make_lora_fixtures.py check DIR VARIANT

Writes Tests/Fixtures/lora/:
  adapter-a/   r 4, lora_alpha 8 (scale 2), the 7 language-model targets of both layers
  adapter-b/   r 8, lora_alpha 5, use_rslora (scale 5/sqrt(8)), the same 7 targets
               (get_peft_model(...).save_pretrained(); A and B random, non-trivial)
  lora.safetensors  "<variant>.<case>.logits" [LAST, vocab] fp32: logits of the last LAST
               positions of reference/policy.json's "text" and "image" prompts with the adapter
  lora.json    versions, what each adapter is, scales, tensor list
`check DIR VARIANT` loads DIR (an adapter directory written by rlhfd) with
PeftModel.from_pretrained and prints the max |Δ| of its logits against VARIANT's.
"""

import json
import math
import sys
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
POLICY = "Tests/Fixtures/tiny-llava-policy"
OUT = ROOT / "Tests/Fixtures/lora"
LAST = 4
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Only the language model: CLIP's attention also has q/k/v_proj.
PATTERN = r".*language_model\.layers\.\d+\.(self_attn|mlp)\.(" + "|".join(TARGETS) + ")"
VARIANTS = {
    "adapter-a": dict(r=4, lora_alpha=8, seed=11),
    "adapter-b": dict(r=8, lora_alpha=5, use_rslora=True, seed=12),
}

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def base_model():
    return transformers.LlavaForConditionalGeneration.from_pretrained(
        str(ROOT / POLICY), dtype=torch.float32, attn_implementation="eager"
    ).eval()


def cases():
    info = json.loads((ROOT / "Tests/Fixtures/reference/policy.json").read_text())
    tensors = load_file(str(ROOT / "Tests/Fixtures/reference/policy.safetensors"))
    pixels = tensors["image.pixel_values"].reshape(1, 3, 32, 32)
    return {
        "text": dict(input_ids=torch.tensor([info["cases"]["text"]["input_ids"]])),
        "image": dict(input_ids=torch.tensor([info["cases"]["image"]["input_ids"]]), pixel_values=pixels),
    }


@torch.no_grad()
def logits(model) -> dict:
    return {name: model(**inputs).logits[0, -LAST:].contiguous() for name, inputs in cases().items()}


def make(variant: str, r: int, lora_alpha: int, seed: int, use_rslora: bool = False) -> dict:
    config = LoraConfig(
        r=r, lora_alpha=lora_alpha, use_rslora=use_rslora, target_modules=PATTERN,
        lora_dropout=0.0, init_lora_weights=False,
    )
    model = get_peft_model(base_model(), config)
    generator = torch.Generator().manual_seed(seed)
    scale = lora_alpha / (math.sqrt(r) if use_rslora else r)
    adapted = 0
    for name, module in model.named_modules():
        if isinstance(module, peft.tuners.lora.Linear):
            a, b = module.lora_A["default"].weight, module.lora_B["default"].weight
            out_features, in_features = b.shape[0], a.shape[1]
            # delta = scale·B·A has entries of about 0.5/sqrt(in): as large as half the base's.
            a.data = torch.randn(a.shape, generator=generator) / math.sqrt(in_features)
            b.data = torch.randn(b.shape, generator=generator) * 0.5 / (scale * math.sqrt(r))
            adapted += 1
    assert adapted == 2 * len(TARGETS), adapted
    model.save_pretrained(str(OUT / variant))
    (OUT / variant / "README.md").unlink()
    result = logits(model)
    return {f"{variant}.{case}.logits": value for case, value in result.items()}


def check(directory: str, variant: str) -> None:
    model = PeftModel.from_pretrained(base_model(), directory).eval()
    adapted = sum(isinstance(m, peft.tuners.lora.Linear) for m in model.modules())
    expected = load_file(str(OUT / "lora.safetensors"))
    worst = 0.0
    for case, value in logits(model).items():
        worst = max(worst, (value - expected[f"{variant}.{case}.logits"]).abs().max().item())
    print(json.dumps({"directory": directory, "variant": variant, "lora_modules": adapted,
                      "max_abs_diff": worst,
                      "peft": peft.__version__, "transformers": transformers.__version__}))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3])
        return
    OUT.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for variant, options in VARIANTS.items():
        tensors.update(make(variant, **options))
    save_file(tensors, str(OUT / "lora.safetensors"))
    info = {
        "generator": "tools/reference/make_lora_fixtures.py",
        "versions": {"peft": peft.__version__, "transformers": transformers.__version__,
                     "torch": torch.__version__},
        "base": POLICY,
        "target_modules": PATTERN,
        "last_positions": LAST,
        "variants": {k: {key: v for key, v in o.items() if key != "seed"} for k, o in VARIANTS.items()},
        "tensors": {name: list(value.shape) for name, value in sorted(tensors.items())},
    }
    (OUT / "lora.json").write_text(json.dumps(info, indent=1) + "\n")


if __name__ == "__main__":
    main()
