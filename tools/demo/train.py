#!/usr/bin/env python3
"""Trains the world's models (rlhfd issue 12, item 2) on CPU, seeded, as llava-hf checkpoints:

    tokenizer  SentencePiece BPE trained on the world's text (same trainer settings as the
               fixtures' tokenizer: byte fallback, identity normalisation, BOS/EOS 1/2)
    policy     SFT of a small CLIP ViT + projector + LLaMA decoder on the training questions
               (LlavaForConditionalGeneration)
    reward     factual reward model (LLaVA-RLHF's Fact-RLHF prompt with the five captions,
               shuffled once per pair) and the same without facts, both initialised from the SFT
               backbone and trained with the pairwise Bradley-Terry loss on grounded-vs-
               hallucinated pairs (with --tail-tokens N also at the last N positions: more
               signal per sequence for a small model); --eval-every keeps the state with the
               best validation accuracy; held-out pairwise accuracy is reported;
               --reward-init continues a saved reward model; --swap-images P shows the
               factual model another scene's image in a share P of its pairs (only the
               captions decide there); --aux-words / --aux-match add training-time read-outs
               (reward_aux.py) that are not saved

    python tools/world/generate.py --out .build-world/data
    python tools/world/export_feedback.py --data .build-world/data --message-splits none
    nice -n 19 .build-demo/venv/bin/python tools/demo/train.py --data .build-world/data \\
        --out .build-demo/models --policy-steps 1200 --reward-steps 400
    (models/README.md has the exact commands of the committed models/world)

Writes OUT/policy, OUT/reward (factual) and OUT/reward-nofacts, each with config.json,
model.safetensors (bf16), tokenizer.model, tokenizer_config.json, preprocessor_config.json, and
OUT/metrics.json. Prompts are rendered exactly as the daemon renders them (chat template with
LLaVA-1.5's system prompt for the policy; Vicuna-v1's plus the reward prompt of
Sources/Serving/RewardRunner.swift for the reward models).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "world"))

from worldgen.dataset import read_jsonl  # noqa: E402

SYSTEM_LLAVA15 = ("A chat between a curious human and an artificial intelligence assistant. "
                  "The assistant gives helpful, detailed, and polite answers to the human's questions.")
SYSTEM_VICUNA = ("A chat between a curious user and an artificial intelligence assistant. "
                 "The assistant gives helpful, detailed, and polite answers to the user's questions.")
EVAL_HEAD = (" USER: Please evaluate the quality of your last response. There are several dimensions "
             "you should consider in your evaluation:\n\n1. Accurate: The AI should provide factual and "
             "accurate information from the image, and refrain from making statements that are not "
             "supported by the image or inconsistent with the image.")
FACTUAL_INTRO = ("Specifically, the AI's response should be fully supported by the combination of "
                 "the following captions:\n")
EVAL_TAIL = ("\n2. Helpful: The AI\u2019s response should precisely serve the user's needs and interests, "
             "while grounding the response in the image.\n3. Language Natural: The AI should employ "
             "language that flows smoothly and is free from repetitive or awkward constructs.\n4. "
             "Concise: The AI should efficiently address the task or answer the question, communicating "
             "the necessary information with brevity and clarity.\n\nA good response should be accurate, "
             "helpful, language natural, and concise. ASSISTANT: Following your definitions, the quality "
             "score of my last response is")
OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
IMAGE = "<image>"


def render(system: str, question: str) -> str:
    """The daemon's chat template (ChatTemplate.render with one image)."""
    return f"{system} USER: {IMAGE}\n{question} ASSISTANT:"


def eval_prompt(captions):
    if not captions:
        return EVAL_HEAD + EVAL_TAIL
    return EVAL_HEAD + " " + FACTUAL_INTRO + "".join(f"  - {c}\n" for c in captions) + EVAL_TAIL


# --- tokenizer ------------------------------------------------------------------------------
class Tok:
    """SentencePiece with transformers' legacy=False rule: text after a special token
    (<image>, </s>) is encoded without the dummy-prefix space; <image> = the vocab size."""

    def __init__(self, model_bytes: bytes):
        import sentencepiece as spm
        from sentencepiece import sentencepiece_model_pb2 as pb

        self.sp = spm.SentencePieceProcessor()
        self.sp.LoadFromSerializedProto(model_bytes)
        proto = pb.ModelProto()
        proto.ParseFromString(model_bytes)
        proto.normalizer_spec.add_dummy_prefix = False
        self.sp_nd = spm.SentencePieceProcessor()
        self.sp_nd.LoadFromSerializedProto(proto.SerializeToString())
        self.vocab = self.sp.get_piece_size()
        self.image_id = self.vocab

    def encode(self, text: str, image_tokens: int) -> list:
        import re

        ids, first = [1], True
        for part in re.split(r"(<image>|</s>)", text):
            if part == IMAGE:
                ids += [self.image_id] * image_tokens
            elif part == "</s>":
                ids.append(2)
            elif part:
                ids += (self.sp if first else self.sp_nd).encode(part)
            if part:
                first = False
        return ids


def train_tokenizer(data: Path, vocab_size: int) -> bytes:
    import sentencepiece as spm

    lines = [SYSTEM_LLAVA15, SYSTEM_VICUNA, eval_prompt(["a"]).replace("\n", " ")]
    for split in ("train",):
        for q in read_jsonl(data / split / "questions.jsonl"):
            lines += q["question"].split("\n") + [q["answer"]]
        for s in read_jsonl(data / split / "scenes.jsonl"):
            lines += s["captions"]
    random.Random(0).shuffle(lines)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines[:200000]), model_writer=buf, model_type="bpe",
        vocab_size=vocab_size, character_coverage=1.0, byte_fallback=True, split_digits=True,
        split_by_unicode_script=True, split_by_whitespace=True, split_by_number=True,
        max_sentencepiece_length=16, allow_whitespace_only_pieces=True,
        remove_extra_whitespaces=False, add_dummy_prefix=True, normalization_rule_name="identity",
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, unk_piece="<unk>", bos_piece="<s>",
        eos_piece="</s>", num_threads=1, shuffle_input_sentence=False, input_sentence_size=0,
        vocabulary_output_piece_score=True, minloglevel=2)
    return buf.getvalue()


def tokenizer_config(vocab: int, max_len: int) -> dict:
    special = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
               "special": True}
    return {"add_bos_token": True, "add_eos_token": False,
            "added_tokens_decoder": {"0": {"content": "<unk>", **special},
                                     "1": {"content": "<s>", **special},
                                     "2": {"content": "</s>", **special},
                                     str(vocab): {"content": IMAGE, **special}},
            "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": None,
            "clean_up_tokenization_spaces": False, "legacy": False, "padding_side": "left",
            "model_max_length": max_len, "tokenizer_class": "LlamaTokenizer",
            "extra_special_tokens": {"image_token": IMAGE}}


# --- model ----------------------------------------------------------------------------------
def llava_config(a, vocab: int):
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    vision = CLIPVisionConfig(
        image_size=a.image_size, patch_size=a.patch, num_channels=3, hidden_size=a.vision_hidden,
        num_hidden_layers=a.vision_layers, num_attention_heads=4,
        intermediate_size=2 * a.vision_hidden, hidden_act="quick_gelu", layer_norm_eps=1e-5,
        projection_dim=a.vision_hidden, attention_dropout=0.0)
    text = LlamaConfig(
        vocab_size=vocab + 1, hidden_size=a.hidden, intermediate_size=a.hidden * 8 // 3 // 16 * 16,
        num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
        hidden_act="silu", max_position_embeddings=a.context, rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=None,
        attention_bias=False, mlp_bias=False)
    n_img = (a.image_size // a.patch) ** 2
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=vocab,
                      image_seq_length=n_img, projector_hidden_act="gelu",
                      vision_feature_select_strategy="default", vision_feature_layer=-2,
                      multimodal_projector_bias=True, tie_word_embeddings=False)
    cfg._attn_implementation = "sdpa"
    return cfg, n_img


def pixel_cache(data: Path, names, size: int):
    """CLIP pixel values of every image (transformers' PIL CLIP processor, as the fixtures)."""
    import torch
    from PIL import Image
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    proc = CLIPImageProcessorPil(
        do_resize=True, size={"shortest_edge": size}, resample=3, do_center_crop=True,
        crop_size={"height": size, "width": size}, do_rescale=True, rescale_factor=1 / 255,
        do_normalize=True, image_mean=OPENAI_CLIP_MEAN, image_std=OPENAI_CLIP_STD,
        do_convert_rgb=True)
    out = {}
    for n in sorted(set(names)):
        img = Image.open(data / "images" / n).convert("RGB")
        out[n] = torch.tensor(np.asarray(proc(img, return_tensors="np")["pixel_values"][0]))
    return proc, out


def batches(items, size, rng):
    order = list(range(len(items)))
    while True:
        rng.shuffle(order)
        for i in range(0, len(order) - size + 1, size):
            yield [items[j] for j in order[i:i + size]]


def pad(seqs, value):
    import torch

    n = max(len(s) for s in seqs)
    return torch.tensor([s + [value] * (n - len(s)) for s in seqs])


def lr_at(step, total, peak):
    warm = max(1, total // 30)
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + np.cos(np.pi * (step - warm) / max(1, total - warm)))


def train_policy(a, cfg, tok, n_img, pixels, questions, log, save=None):
    import torch
    from transformers import LlavaForConditionalGeneration

    torch.manual_seed(a.seed)
    if a.policy_init:  # continue an earlier SFT run (its tokenizer is used too)
        model = LlavaForConditionalGeneration.from_pretrained(str(a.policy_init),
                                                              dtype=torch.float32)
    else:
        model = LlavaForConditionalGeneration(cfg)
    items = []
    for q in questions:
        prompt = tok.encode(render(SYSTEM_LLAVA15, q["question"]), n_img)
        full = tok.encode(render(SYSTEM_LLAVA15, q["question"]) + " " + q["answer"], n_img) + [2]
        assert full[:len(prompt)] == prompt, q["question"]
        items.append((q["image"], full, len(prompt)))
    log(f"policy: {len(items)} examples, longest {max(len(i[1]) for i in items)} tokens")
    opt = torch.optim.AdamW(model.parameters(), lr=a.policy_lr, weight_decay=0.0,
                            betas=(0.9, 0.95))
    rng = random.Random(a.seed)
    model.train()
    start = time.monotonic()
    for step, batch in zip(range(a.policy_steps), batches(items, a.batch, rng)):
        ids = pad([b[1] for b in batch], 0)
        labels = ids.clone()
        for r, b in enumerate(batch):
            labels[r, :b[2]] = -100
            labels[r, len(b[1]):] = -100
        px = torch.stack([pixels[b[0]] for b in batch])
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.policy_steps, a.policy_lr)
        loss = model(input_ids=ids, pixel_values=px, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 20 == 0 or step == a.policy_steps - 1:
            log(f"policy step {step:5d} loss {loss.item():.4f} "
                f"({time.monotonic() - start:.0f} s)")
        if a.save_every and step and step % a.save_every == 0 and save is not None:
            model.eval()
            save(model, step)  # a snapshot to evaluate while training goes on
            model.train()
    model.eval()
    return model


class Reward(__import__("torch").nn.Module):
    """LlavaModel + score Linear(hidden, 1, no bias) on the final (normed) hidden state at the
    last position: the daemon's reward head."""

    def __init__(self, policy):
        import torch

        super().__init__()
        self.model = policy.model
        self.score = torch.nn.Linear(policy.config.text_config.hidden_size, 1, bias=False)
        torch.nn.init.zeros_(self.score.weight)

    def forward(self, ids, lengths, pixels, tail: int = 0):
        """Scores at the last position ([B]); with `tail`, also at the last `tail` positions
        ([B, tail], the last one first)."""
        import torch

        h = self.model(input_ids=ids, pixel_values=pixels).last_hidden_state
        rows = torch.arange(len(ids))
        self.hidden, self.last_hidden = h, h[rows, lengths - 1]  # for auxiliary read-outs
        last = self.score(h[rows, lengths - 1])[:, 0]
        if not tail:
            return last
        at = (lengths - 1)[:, None] - torch.arange(tail)[None, :]
        return last, self.score(h[rows[:, None], at])[..., 0]


def rm_text(p, response, captions):
    """The daemon's reward input: Vicuna-v1 turn, the response, then the evaluation prompt
    (with the captions when given: the factual model)."""
    return (render(SYSTEM_VICUNA, p["question"]) + " " + response + "</s>"
            + eval_prompt(captions))


def rm_scores(rm, tok, n_img, pixels, pairs, facts, rng=None, shuffle="pair", tail=0):
    """Scores [pairs, 2] (and [pairs, 2, tail] with `tail`). Training shuffles the captions as
    LLaVA-RLHF does, once per pair by default so that both responses of a pair see the same
    facts in the same order (as in the daemon, where they differ only in the response);
    `shuffle="response"` draws an order per response (the first runs' recipe)."""
    import torch

    texts, imgs = [], []
    for p in pairs:
        caps = list(p["captions"]) if facts else []
        if facts and rng is not None and shuffle == "pair":
            rng.shuffle(caps)
        for k in (1, 2):
            own = list(caps)
            if facts and rng is not None and shuffle == "response":
                rng.shuffle(own)
            texts.append(tok.encode(rm_text(p, p[f"response_{k}"], own), n_img))
            imgs.append(pixels[p["image"]])
    ids = pad(texts, 0)
    lengths = torch.tensor([len(t) for t in texts])
    if tail:
        last, dense = rm(ids, lengths, torch.stack(imgs), tail)
        return last.view(-1, 2), dense.view(-1, 2, tail)
    return rm(ids, lengths, torch.stack(imgs)).view(-1, 2)


def rm_accuracy(rm, tok, n_img, pixels, pairs, facts) -> float:
    """Pairwise accuracy: the preferred response scores strictly higher (no shuffled facts)."""
    import torch

    correct = 0
    was_training = rm.training
    rm.eval()
    with torch.no_grad():
        for i in range(0, len(pairs), 16):
            chunk = pairs[i:i + 16]
            r = rm_scores(rm, tok, n_img, pixels, chunk, facts)
            for p, (r1, r2) in zip(chunk, r.tolist()):
                correct += (r1 > r2) == (p["preferred"] == 1)
    rm.train(was_training)
    return correct / max(1, len(pairs))


def train_reward(a, policy_dir, tok, n_img, pixels, pairs, val, held, facts, log, save=None):
    """Bradley-Terry training; with --eval-every, the validation pairs pick the best state
    (saved through `save` at once, so an interrupted run still leaves its best model)."""
    import copy

    import reward_aux
    import torch
    from transformers import LlavaForConditionalGeneration

    torch.manual_seed(a.seed + (1 if facts else 2))
    if a.reward_init:  # continue a saved reward model (the score head too)
        from eval_reward import load
        rm = load(a.reward_init)[0]
    else:
        base = LlavaForConditionalGeneration.from_pretrained(str(policy_dir), dtype=torch.float32)
        rm = Reward(base)
    # The zero-initialised head learns much faster than the backbone may move.
    opt = torch.optim.AdamW([
        {"params": list(rm.model.parameters()), "scale": 1.0},
        {"params": list(rm.score.parameters()), "scale": a.head_lr_scale},
    ], lr=a.reward_lr, weight_decay=0.0)
    if a.aux_words:
        # Training-time only (not saved): from the last position's hidden state, predict the
        # word pieces of the true fact (the grounded response's words the other lacks) and of
        # the shown response's own differing words, so that position learns to read both.
        aux_head = torch.nn.Linear(rm.score.in_features, 2 * (tok.vocab + 1))
        opt.add_param_group({"params": list(aux_head.parameters()), "scale": a.head_lr_scale})
    if a.aux_match:
        # Training-time only: at each caption token, does the response contain that token?
        # (the match features a caption-grounded verdict is built from).
        match_head = torch.nn.Linear(rm.score.in_features, 1)
        opt.add_param_group({"params": list(match_head.parameters()), "scale": a.head_lr_scale})
    rng = random.Random(a.seed + 7)
    name = "reward" if facts else "reward-nofacts"
    best = {"acc": -1.0, "step": -1, "state": None}
    curve = []
    rm.train()
    start = time.monotonic()
    steps = min(a.reward_steps, a.reward_stop or a.reward_steps)  # the schedule's length stays
    swap = random.Random(a.seed + 11)
    for step, batch in zip(range(steps), batches(pairs, a.reward_batch, rng)):
        if facts and a.swap_images:
            # Caption grounding: some pairs are shown another scene's image, so only the
            # captions decide (else the model learns the image route alone and ignores them).
            batch = [dict(p, image=swap.choice(pairs)["image"]) if swap.random() < a.swap_images
                     else p for p in batch]
        choice = torch.tensor([float(p["preferred"] == 2) for p in batch])
        bce = torch.nn.functional.binary_cross_entropy_with_logits
        if a.tail_tokens:
            r, dense = rm_scores(rm, tok, n_img, pixels, batch, facts, rng, a.shuffle_facts,
                                 a.tail_tokens)
            # The same Bradley-Terry loss at each of the last positions (the evaluation
            # prompt's end, identical text in both sequences): more signal per sequence.
            diff = dense[:, 1] - dense[:, 0]
            aux = bce(diff, choice[:, None].expand_as(diff))
        else:
            r = rm_scores(rm, tok, n_img, pixels, batch, facts, rng, a.shuffle_facts)
            aux = 0.0
        logits = r[:, 1] - r[:, 0]
        loss = bce(logits, choice) + a.tail_weight * aux + 1e-3 * (r.sum(1).mean()).abs()
        if a.aux_words:
            out = aux_head(rm.last_hidden)
            target = reward_aux.word_targets(tok, batch)
            loss = loss + a.aux_words * bce(out, target, reduction="sum") / len(out)
        if a.aux_match and facts:
            rows, cols, labels = reward_aux.match_targets(tok, n_img, batch)
            out = match_head(rm.hidden[rows, cols])[:, 0]
            loss = loss + a.aux_match * bce(out, labels)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, a.reward_steps, a.reward_lr) * g["scale"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(rm.parameters(), 1.0)
        opt.step()
        if step % 20 == 0 or step == steps - 1:
            acc = ((logits > 0).float() == choice).float().mean().item()
            took = time.monotonic() - start
            log(f"{name} step {step:4d} loss {loss.item():.4f} acc {acc:.2f} "
                f"({took:.0f} s, {took / (step + 1):.2f} s/step)")
        last = step == steps - 1
        if val and a.eval_every and ((step + 1) % a.eval_every == 0 or last):
            vacc = rm_accuracy(rm, tok, n_img, pixels, val, facts)
            curve.append([step + 1, round(vacc, 4)])
            if facts and a.swap_images:  # the captions alone: every image another scene's
                shown = [dict(p, image=val[(i + 37) % len(val)]["image"])
                         for i, p in enumerate(val)]
                cacc = rm_accuracy(rm, tok, n_img, pixels, shown, facts)
                curve[-1].append(round(cacc, 4))
                log(f"{name} step {step + 1:4d}: validation accuracy with other images "
                    f"{cacc:.3f} (the captions alone)")
            mark = ""
            if vacc > best["acc"]:
                best.update(acc=vacc, step=step + 1, state=copy.deepcopy(rm.state_dict()))
                mark = " (best)"
                if save is not None:
                    save(rm)
            log(f"{name} step {step + 1:4d}: validation accuracy {vacc:.3f} on {len(val)} pairs"
                f"{mark}")
    if best["state"] is not None:
        rm.load_state_dict(best["state"])
    rm.eval()
    acc = rm_accuracy(rm, tok, n_img, pixels, held, facts)
    log(f"{name}: held-out pairwise accuracy {acc:.3f} on {len(held)} test pairs"
        + (f" (best validation step {best['step']}, {best['acc']:.3f})" if best["step"] > 0 else ""))
    return rm, acc, {"best_step": best["step"], "validation_accuracy": best["acc"],
                     "validation_curve": curve}


# --- saving ---------------------------------------------------------------------------------
def saved_name(name: str) -> str:
    """Module name -> the name transformers 5.24's save_pretrained writes (models/default)."""
    if name.startswith("model.language_model."):
        return "language_model.model." + name[len("model.language_model."):]
    if name.startswith("lm_head."):
        return "language_model." + name
    if name.startswith("model.vision_tower."):
        return "vision_tower." + name[len("model.vision_tower."):]
    if name.startswith("model.multi_modal_projector."):
        return name[len("model."):]
    return name


def write_aux(dst: Path, tok_bytes: bytes, proc, vocab: int, context: int) -> None:
    (dst / "tokenizer.model").write_bytes(tok_bytes)
    (dst / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config(vocab, context), indent=2) + "\n")
    proc.save_pretrained(str(dst))


def save_policy(model, dst: Path, tok_bytes, proc, vocab, context):
    import torch

    if dst.exists():
        shutil.rmtree(dst)
    model.to(torch.bfloat16).save_pretrained(str(dst), safe_serialization=True)
    model.to(torch.float32)
    write_aux(dst, tok_bytes, proc, vocab, context)


def save_reward(rm, policy_dir: Path, dst: Path, tok_bytes, proc, vocab, context, facts):
    import torch
    from safetensors.torch import save_file

    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    tensors = {saved_name(("model." + k) if not k.startswith(("model.", "score.")) else k):
               v.detach().to(torch.bfloat16).contiguous() for k, v in rm.state_dict().items()}
    save_file(dict(sorted(tensors.items())), str(dst / "model.safetensors"),
              metadata={"format": "pt"})
    cfg = json.loads((policy_dir / "config.json").read_text())
    cfg["architectures"] = ["LlavaForSequenceClassification"]
    cfg["num_labels"] = 1
    cfg["reward_head"] = {"tensor": "score.weight", "shape": [1, cfg["text_config"]["hidden_size"]],
                          "bias": False, "facts": facts,
                          "input": "final hidden state (after the language model's final RMSNorm) "
                                   "at the last position"}
    (dst / "config.json").write_text(json.dumps(cfg, indent=1) + "\n")
    write_aux(dst, tok_bytes, proc, vocab, context)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(".build-world/data"))
    p.add_argument("--out", type=Path, default=Path(".build-demo/models"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--vocab", type=int, default=1024)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--patch", type=int, default=8)
    p.add_argument("--vision-hidden", type=int, default=96)
    p.add_argument("--vision-layers", type=int, default=3)
    p.add_argument("--hidden", type=int, default=192)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--context", type=int, default=640)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--policy-steps", type=int, default=1200)
    p.add_argument("--policy-lr", type=float, default=6e-4)
    p.add_argument("--save-every", type=int, default=0, help="policy snapshot every N steps")
    p.add_argument("--policy-init", type=Path, default=None,
                   help="start the SFT from this policy checkpoint instead of random weights")
    p.add_argument("--reward-steps", type=int, default=300)
    p.add_argument("--reward-stop", type=int, default=0,
                   help="stop after N steps of the --reward-steps schedule (0 = run it all)")
    p.add_argument("--reward-batch", type=int, default=8)
    p.add_argument("--reward-lr", type=float, default=3e-4)
    p.add_argument("--head-lr-scale", type=float, default=10.0)
    p.add_argument("--held-out", type=int, default=400, help="test pairs for RM accuracy")
    p.add_argument("--shuffle-facts", choices=("pair", "response"), default="pair",
                   help="caption order drawn once per pair (default) or per response")
    p.add_argument("--tail-tokens", type=int, default=0,
                   help="also train the score at the last N positions (0 = last only)")
    p.add_argument("--tail-weight", type=float, default=1.0)
    p.add_argument("--aux-words", type=float, default=0.0,
                   help="weight of the training-time fact-word read-out at the last position")
    p.add_argument("--aux-match", type=float, default=0.0,
                   help="weight of the training-time caption-token match read-out")
    p.add_argument("--swap-images", type=float, default=0.0,
                   help="factual model: share of training pairs shown another scene's image")
    p.add_argument("--reward-init", type=Path, default=None,
                   help="continue this saved reward checkpoint instead of the SFT policy")
    p.add_argument("--val-pairs", type=int, default=200, help="validation pairs (best-state pick)")
    p.add_argument("--eval-every", type=int, default=0, help="RM validation every N steps")
    p.add_argument("--policy-dir", type=Path, default=None,
                   help="SFT policy the reward models start from (default OUT/policy)")
    p.add_argument("--stages", default="policy,reward,reward-nofacts")
    a = p.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    log = lambda m: print(f"[{time.monotonic() - t0:7.1f}s] {m}", flush=True)  # noqa: E731
    stages = a.stages.split(",")
    policy_dir = a.policy_dir or a.out / "policy"
    if a.policy_init:
        tok_bytes = (a.policy_init / "tokenizer.model").read_bytes()
    elif "policy" not in stages and (policy_dir / "tokenizer.model").exists():
        tok_bytes = (policy_dir / "tokenizer.model").read_bytes()  # the policy's own tokenizer
    else:
        tok_bytes = train_tokenizer(a.data, a.vocab)
    tok = Tok(tok_bytes)
    cfg, n_img = llava_config(a, tok.vocab)
    questions = list(read_jsonl(a.data / "train" / "questions.jsonl"))
    pairs = list(read_jsonl(a.data / "feedback" / "pairs_train.jsonl"))
    held = list(read_jsonl(a.data / "feedback" / "pairs_test.jsonl"))
    random.Random(a.seed).shuffle(held)
    held = held[: a.held_out]
    val = list(read_jsonl(a.data / "feedback" / "pairs_val.jsonl"))
    random.Random(a.seed).shuffle(val)
    val = val[: a.val_pairs] if a.eval_every else []
    proc, pixels = pixel_cache(
        a.data, [q["image"] for q in questions] + [h["image"] for h in held + val + pairs],
        a.image_size)
    log(f"tokenizer {tok.vocab} pieces; {len(pixels)} images; {n_img} image tokens")
    metrics_file = a.out / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    metrics["args"] = {k: str(v) for k, v in vars(a).items()}
    metrics.setdefault("commands", []).append(" ".join(sys.argv))
    if "policy" in stages:
        policy = train_policy(
            a, cfg, tok, n_img, pixels, questions, log,
            save=lambda m, step: save_policy(m, a.out / f"policy-step{step}", tok_bytes, proc,
                                             tok.vocab, a.context))
        save_policy(policy, policy_dir, tok_bytes, proc, tok.vocab, a.context)
        metrics["policy_seconds"] = round(time.monotonic() - t0, 1)
    for stage, facts in (("reward", True), ("reward-nofacts", False)):
        if stage in stages:
            s0 = time.monotonic()
            save = lambda m, stage=stage, facts=facts: save_reward(  # noqa: E731
                m, policy_dir, a.out / stage, tok_bytes, proc, tok.vocab, a.context, facts)
            rm, acc, info = train_reward(a, policy_dir, tok, n_img, pixels, pairs, val, held,
                                         facts, log, save)
            save(rm)
            metrics[f"{stage}_heldout_accuracy"] = acc
            metrics[f"{stage}_heldout_pairs"] = len(held)
            metrics[f"{stage}_selection"] = info
            metrics[f"{stage}_seconds"] = round(time.monotonic() - s0, 1)
    metrics_file.write_text(json.dumps(metrics, indent=1) + "\n")
    log(f"done: {json.dumps({k: v for k, v in metrics.items() if k != 'args'})}")


if __name__ == "__main__":
    main()
