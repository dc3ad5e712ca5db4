#!/usr/bin/env python3
"""Make daemon-loadable TinyLlama-shaped policy and reward directories for the serving benchmark.

    make_models.py --checkpoint .build-bench/tinyllama-bf16 --tokenizer models/default/policy \
                   --out .build-serving/models

The weights come from EngineBench's checkpoint (llava-hf hub layout, bf16, TinyLlama-1.1B text +
CLIP ViT-L/14-336 vision, deterministic random values). EngineBench writes `config.json` and
`model.safetensors` only; the daemon also needs the tokenizer and the image preprocessor, and a
reward model needs a `score` head instead of `lm_head`. This script adds what is missing:

- policy/: symlinks to the checkpoint's config and weights, plus tokenizer and preprocessor.
- reward/: a copy of the weights without `lm_head.weight` and with a random `score.weight`
  (1, 2048) (the checkpoint loader refuses unexpected tensors, so it cannot share the file),
  and the config with architecture LlavaForSequenceClassification, num_labels 1.
- tokenizer.model: the embedded default model's SentencePiece model (640 pieces, BPE, byte
  fallback) padded to 32000 pieces, so that every id the 32000-row lm_head can pick decodes and
  `<image>` lands on id 32000 (the config's image_token_index), as in llava-hf. The fillers are
  private-use characters with very low scores, so they never appear when encoding prompts:
  prompts tokenize exactly as with the default model, only the vocabulary is larger.

Standard library only (no numpy, no protobuf package): the SentencePiece model is a protobuf
whose pieces are repeated field 1, so appending encoded pieces to the file appends to the list.
Idempotent: a marker file records what was made.
"""
import argparse
import json
import os
import random
import shutil
import struct

VOCAB = 32000
HIDDEN = 2048
MARKER = "serving-bench models v1: policy symlinks + reward copy with score head, spm padded to 32000"


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(number: int, payload: bytes) -> bytes:  # wire type 2 (length-delimited)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def count_pieces(data: bytes) -> int:
    """Number of top-level field-1 entries (pieces) in a serialized ModelProto."""
    i, n = 0, 0
    while i < len(data):
        key, i = read_varint(data, i)
        wire = key & 7
        if wire == 2:
            length, i = read_varint(data, i)
            i += length
        elif wire == 0:
            _, i = read_varint(data, i)
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            raise ValueError(f"unexpected wire type {wire} in tokenizer.model")
        if key >> 3 == 1:
            n += 1
    return n


def read_varint(data: bytes, i: int):
    shift, value = 0, 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def padded_tokenizer(src: str, dst: str) -> None:
    data = open(src, "rb").read()
    have = count_pieces(data)
    extra = bytearray()
    for i in range(VOCAB - have):
        # SentencePiece { piece = 1 (string); score = 2 (float); type = 3 (NORMAL = 1) }
        piece = ("\ue000" + str(i)).encode()
        body = field_bytes(1, piece) + bytes([2 << 3 | 5]) + struct.pack("<f", -1e6 - i)
        body += bytes([3 << 3 | 0]) + varint(1)
        extra += field_bytes(1, body)
    # trainer_spec (field 2) is merged field by field: set vocab_size (field 4) to match.
    extra += field_bytes(2, bytes([4 << 3 | 0]) + varint(VOCAB))
    with open(dst, "wb") as f:
        f.write(data + bytes(extra))


def tokenizer_config(src: str, dst: str) -> None:
    c = json.load(open(src))
    decoder = c.get("added_tokens_decoder", {})
    image = [k for k, v in decoder.items() if v.get("content") == "<image>"]
    for k in image:  # `<image>` follows the SentencePiece vocabulary, as in llava-hf
        decoder[str(VOCAB)] = decoder.pop(k)
    c["model_max_length"] = 2048
    json.dump(c, open(dst, "w"), indent=1)


def preprocessor_config(src: str, dst: str, side: int) -> None:
    c = json.load(open(src))
    c["crop_size"] = {"height": side, "width": side}
    c["size"] = {"shortest_edge": side}
    json.dump(c, open(dst, "w"), indent=1)


def reward_weights(src: str, dst: str) -> None:
    """Copy `src` minus the lm_head weight (any layout), plus a random bf16 score.weight (1, HIDDEN)."""
    with open(src, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    base = 8 + n
    meta = header.pop("__metadata__", None)
    tensors = sorted(
        ((k, v) for k, v in header.items() if not k.endswith("lm_head.weight")),
        key=lambda kv: kv[1]["data_offsets"][0],
    )
    rng = random.Random(1234)
    score = b"".join(
        struct.pack("<H", struct.unpack("<I", struct.pack("<f", rng.uniform(-0.035, 0.035)))[0] >> 16)
        for _ in range(HIDDEN)
    )
    out, offset = {}, 0
    if meta is not None:
        out["__metadata__"] = meta
    for k, v in tensors:
        size = v["data_offsets"][1] - v["data_offsets"][0]
        out[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [offset, offset + size]}
        offset += size
    out["score.weight"] = {"dtype": "BF16", "shape": [1, HIDDEN], "data_offsets": [offset, offset + len(score)]}
    text = json.dumps(out, separators=(",", ":"))
    text += " " * ((-(8 + len(text))) % 64)  # keep the data 64-byte aligned, like EngineBench
    tmp = dst + ".tmp"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        fout.write(struct.pack("<Q", len(text)) + text.encode())
        for _, v in tensors:
            start, end = v["data_offsets"]
            fin.seek(base + start)
            left = end - start
            while left:
                chunk = fin.read(min(left, 64 << 20))
                fout.write(chunk)
                left -= len(chunk)
        fout.write(score)
    os.replace(tmp, dst)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True, help="EngineBench's llava-hf dir (config + weights)")
    ap.add_argument("--tokenizer", required=True, help="dir with tokenizer.model, tokenizer_config.json, preprocessor_config.json")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    ckpt, tok, out = (os.path.abspath(p) for p in (a.checkpoint, a.tokenizer, a.out))
    marker = os.path.join(out, "marker.txt")
    stamp = MARKER + f" | {ckpt} {os.path.getmtime(os.path.join(ckpt, 'model.safetensors'))}"
    if os.path.exists(marker) and open(marker).read() == stamp:
        print(f"models up to date in {out}")
        return
    config = json.load(open(os.path.join(ckpt, "config.json")))
    side = config["vision_config"]["image_size"]
    policy, reward = os.path.join(out, "policy"), os.path.join(out, "reward")
    for d in (policy, reward):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        padded_tokenizer(os.path.join(tok, "tokenizer.model"), os.path.join(d, "tokenizer.model"))
        tokenizer_config(os.path.join(tok, "tokenizer_config.json"), os.path.join(d, "tokenizer_config.json"))
        preprocessor_config(os.path.join(tok, "preprocessor_config.json"), os.path.join(d, "preprocessor_config.json"), side)
    for name in ("config.json", "model.safetensors"):
        os.symlink(os.path.join(ckpt, name), os.path.join(policy, name))
    config["architectures"] = ["LlavaForSequenceClassification"]
    config["num_labels"] = 1
    json.dump(config, open(os.path.join(reward, "config.json"), "w"), indent=1)
    reward_weights(os.path.join(ckpt, "model.safetensors"), os.path.join(reward, "model.safetensors"))
    open(marker, "w").write(stamp)
    print(f"wrote {policy} and {reward}")


if __name__ == "__main__":
    main()
