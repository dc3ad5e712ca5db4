#!/usr/bin/env python3
"""The image-encoder peer's model: llama.cpp's mmproj GGUF (CLIP ViT + LLaVA-1.5 MLP projector)
made from the same llava-hf checkpoint rlhfd encodes images with (EngineBench's random
TinyLlama-shaped LLaVA, ViT-L/14-336), so `llama-mtmd-cli` and rlhfd encode the same network.

llama.cpp's HF converter does not take LLaVA-1.5's CLIP tower; its legacy path does
(tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py, the one LLaVA-1.5 GGUFs are made
with): a CLIPVisionModel directory plus a `llava.projector` file. This script writes both from
the checkpoint, then runs that converter.

    .build-peer/venv/bin/python Benchmarks/llama-cpp/make_mmproj.py \
        --checkpoint .build-bench/tinyllama-bf16 --llama-cpp .build-peer/src/vendor/llama.cpp \
        --out .build-peer/models/mmproj-f16.gguf
Needs torch (the +cpu wheel), transformers, safetensors, numpy in that venv.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True, help="llava-hf directory (config.json, *.safetensors)")
    ap.add_argument("--llama-cpp", required=True, help="llama.cpp source tree")
    ap.add_argument("--out", required=True, help="the mmproj GGUF to write")
    args = ap.parse_args()
    checkpoint = Path(args.checkpoint)
    config = json.loads((checkpoint / "config.json").read_text())
    vision = dict(config["vision_config"])
    tensors = {}
    for shard in sorted(checkpoint.glob("*.safetensors")):
        tensors.update({k: v for k, v in load_file(str(shard)).items()
                        if k.startswith(("vision_tower.", "multi_modal_projector."))})
    with tempfile.TemporaryDirectory() as scratch:
        clip = Path(scratch) / "clip"
        clip.mkdir()
        # Every field, defaults included (the converter reads e.g. layer_norm_eps).
        from transformers import CLIPVisionConfig
        full = CLIPVisionConfig(**{k: v for k, v in vision.items() if k != "model_type"}).to_dict()
        full.update(architectures=["CLIPVisionModel"])
        (clip / "config.json").write_text(json.dumps(full, indent=1))
        (clip / "preprocessor_config.json").write_text(json.dumps({
            "crop_size": {"height": vision["image_size"], "width": vision["image_size"]},
            "do_center_crop": True, "do_normalize": True, "do_resize": True,
            "image_mean": CLIP_MEAN, "image_std": CLIP_STD, "resample": 3,
            "size": {"shortest_edge": vision["image_size"]},
        }))
        weights = {k[len("vision_tower."):]: v.to(torch.float32).contiguous()
                   for k, v in tensors.items() if k.startswith("vision_tower.")}
        save_file(weights, str(clip / "model.safetensors"))
        projector = {
            "mm.0.weight": tensors["multi_modal_projector.linear_1.weight"].float(),
            "mm.0.bias": tensors["multi_modal_projector.linear_1.bias"].float(),
            "mm.2.weight": tensors["multi_modal_projector.linear_2.weight"].float(),
            "mm.2.bias": tensors["multi_modal_projector.linear_2.bias"].float(),
        }
        torch.save(projector, str(Path(scratch) / "llava.projector"))
        converter = Path(args.llama_cpp) / "tools/mtmd/legacy-models/convert_image_encoder_to_gguf.py"
        env = dict(os.environ, PYTHONPATH=str(Path(args.llama_cpp) / "gguf-py"))
        subprocess.run([sys.executable, str(converter), "-m", str(clip), "--clip-model-is-vision",
                        "--llava-projector", str(Path(scratch) / "llava.projector"),
                        "--projector-type", "mlp", "--output-dir", scratch], check=True, env=env)
        produced = Path(scratch) / "mmproj-model-f16.gguf"
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(produced), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
