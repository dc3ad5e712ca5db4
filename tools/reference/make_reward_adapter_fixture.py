#!/usr/bin/env python3
"""A reward-model PEFT adapter with a trained score head, and its torch scores.

Run from the repository root (reads Tests/Fixtures/tiny-llava-reward):

    .build-ref/venv/bin/python tools/reference/make_reward_adapter_fixture.py

The tiny reward model (tiny_reward.TinyReward, a `score` head with a bias as LLaVA-RLHF's) wrapped
by PEFT with `modules_to_save=["score"]`: LoRA r 4, lora_alpha 8 on q/v/gate/down of both
language-model layers, A and B random (seeded), the saved copy of `score` perturbed from the
checkpoint's weight with bias 0.25; `save_pretrained` writes it. The script checks the tensor
names PEFT 0.21 uses (`base_model.model.score.weight` / `.bias`, the LoRA pairs under
`base_model.model.model.language_model.layers.<l>...`, as for a LlavaForConditionalGeneration)
and that `PeftModel.from_pretrained` reloads the same scores.

Writes Tests/Fixtures/lora/reward-adapter/ (adapter_config.json, adapter_model.safetensors) and
Tests/Fixtures/lora/reward-adapter.json: versions, the token sequences (text only, BOS first),
and per sequence the fp32 score with the adapter and head (`score`) and the base model's
(`base_score`).
"""

import json
import shutil
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file
from tiny_reward import TinyReward, CHECKPOINT

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "Tests/Fixtures/lora"
NAME = "reward-adapter"
PATTERN = r".*language_model\.layers\.\d+\.(self_attn\.(q_proj|v_proj)|mlp\.(gate_proj|down_proj))"
SEQUENCES = [[1, 45, 300, 12, 7, 99, 512, 33], [1, 8, 8, 250, 601, 17, 4, 90, 321, 5, 60]]
BIAS = 0.25

torch.set_num_threads(1)
torch.manual_seed(5)


def model() -> TinyReward:
    """The reward model with the checkpoint's head weight and a zero bias."""
    m = TinyReward(score_bias=True, checkpoint_head=False)
    weight = load_file(str(CHECKPOINT / "model.safetensors"))["score.weight"]
    with torch.no_grad():
        m.score.weight.copy_(weight)
        m.score.bias.zero_()
    return m.eval()


def score(m, ids) -> float:
    inner = m.base_model.model if isinstance(m, PeftModel) else m
    with torch.no_grad():
        h = inner.model(input_ids=torch.tensor([ids])).last_hidden_state[0]
        return float(inner.score(h[-1])[0])


def sequence_classification_keys() -> list[str]:
    """The names PEFT gives a LlamaForSequenceClassification's head (task SEQ_CLS adds
    "classifier" and "score" to modules_to_save)."""
    config = transformers.LlamaConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
        num_key_value_heads=1, vocab_size=32, num_labels=1,
    )
    wrapped = get_peft_model(
        transformers.LlamaForSequenceClassification(config),
        LoraConfig(r=2, target_modules=["q_proj"], task_type="SEQ_CLS"),
    )
    state = peft.get_peft_model_state_dict(wrapped)
    assert sorted(wrapped.peft_config["default"].modules_to_save) == ["classifier", "score"]
    return sorted(state.keys())


def main() -> None:
    seq_cls = sequence_classification_keys()
    assert "base_model.model.score.weight" in seq_cls, seq_cls
    base = model()
    base_scores = [score(base, ids) for ids in SEQUENCES]
    config = LoraConfig(r=4, lora_alpha=8, target_modules=PATTERN, modules_to_save=["score"])
    wrapped = get_peft_model(model(), config)
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for name, param in wrapped.named_parameters():
            if "lora_A" in name or "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.3)
        head = wrapped.base_model.model.score.modules_to_save["default"]
        head.weight.add_(torch.randn(head.weight.shape, generator=generator) * 0.5)
        head.bias.fill_(BIAS)
    wrapped.eval()
    scores = [score(wrapped, ids) for ids in SEQUENCES]
    target = OUT / NAME
    if target.exists():
        shutil.rmtree(target)
    wrapped.save_pretrained(str(target))
    (target / "README.md").unlink()  # PEFT's model card
    keys = sorted(load_file(str(target / "adapter_model.safetensors")).keys())
    assert "base_model.model.score.weight" in keys and "base_model.model.score.bias" in keys, keys
    lora = [k for k in keys if not k.startswith("base_model.model.score.")]
    assert all(
        k.startswith("base_model.model.model.language_model.layers.") and ".lora_" in k
        for k in lora
    ), lora
    assert len(lora) == 2 * 2 * 4, lora
    saved = json.loads((target / "adapter_config.json").read_text())
    assert saved["modules_to_save"] == ["score"], saved["modules_to_save"]
    reloaded = PeftModel.from_pretrained(model(), str(target)).eval()
    again = [score(reloaded, ids) for ids in SEQUENCES]
    assert max(abs(a - b) for a, b in zip(again, scores)) == 0, (again, scores)
    assert min(abs(a - b) for a, b in zip(scores, base_scores)) > 1e-3
    (OUT / f"{NAME}.json").write_text(
        json.dumps(
            {
                "versions": {
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "peft": peft.__version__,
                },
                "adapter": NAME,
                "tensors": keys,
                "llama_seq_cls_tensors": seq_cls,
                "head_bias": BIAS,
                "sequences": [
                    {"tokens": ids, "score": s, "base_score": b}
                    for ids, s, b in zip(SEQUENCES, scores, base_scores)
                ],
            },
            indent=1,
        )
        + "\n"
    )
    print("scores", scores, "base", base_scores)


if __name__ == "__main__":
    main()
