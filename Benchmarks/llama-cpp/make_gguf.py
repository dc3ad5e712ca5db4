#!/usr/bin/env python3
"""Write a TinyLlama-1.1B-shaped GGUF (llama arch) with deterministic random weights.

Uses the gguf-py vendored with the llama.cpp peer (.build-peer/src/vendor/llama.cpp/gguf-py),
so no model download is needed. Speed depends on shapes, not values.

    make_gguf.py --type f16|bf16 --out PATH [--seed 0]

Shapes: hidden 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632, vocab 32000 (TinyLlama-1.1B).
Matrices in the requested type, norms in F32 (as convert_hf_to_gguf.py writes them).
Tensors are streamed to the file one at a time (peak memory ~ one tensor).
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PEER = os.environ.get("PEER_DIR", os.path.join(ROOT, ".build-peer"))
sys.path.insert(0, os.path.join(PEER, "src", "vendor", "llama.cpp", "gguf-py"))
import gguf  # noqa: E402

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, VOCAB, CTX = 2048, 22, 32, 4, 5632, 32000, 2048
HEAD_DIM = HIDDEN // HEADS


def tensors():
    """(name, numpy shape (rows=outputs, cols=inputs), is_matrix) in file order."""
    kv = KV_HEADS * HEAD_DIM
    yield "token_embd.weight", (VOCAB, HIDDEN), True
    for l in range(LAYERS):
        p = f"blk.{l}."
        yield p + "attn_norm.weight", (HIDDEN,), False
        yield p + "attn_q.weight", (HIDDEN, HIDDEN), True
        yield p + "attn_k.weight", (kv, HIDDEN), True
        yield p + "attn_v.weight", (kv, HIDDEN), True
        yield p + "attn_output.weight", (HIDDEN, HIDDEN), True
        yield p + "ffn_norm.weight", (HIDDEN,), False
        yield p + "ffn_gate.weight", (FFN, HIDDEN), True
        yield p + "ffn_up.weight", (FFN, HIDDEN), True
        yield p + "ffn_down.weight", (HIDDEN, FFN), True
    yield "output_norm.weight", (HIDDEN,), False
    yield "output.weight", (VOCAB, HIDDEN), True


def to_bf16(x: np.ndarray) -> np.ndarray:
    n = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    n = (n + (0x7FFF + ((n >> 16) & 1))) >> 16  # round to nearest even (no NaNs here)
    return n.astype(np.uint16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--type", choices=["f16", "bf16"], default="f16")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    tmp = a.out + ".tmp"
    w = gguf.GGUFWriter(tmp, "llama")
    w.add_name(f"tinyllama-1.1b-shape-random-{a.type}")
    w.add_context_length(CTX)
    w.add_embedding_length(HIDDEN)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(VOCAB)
    ftype = gguf.LlamaFileType.MOSTLY_F16 if a.type == "f16" else gguf.LlamaFileType.MOSTLY_BF16
    w.add_file_type(ftype)
    # A synthetic SentencePiece-style vocabulary: <unk> <s> </s>, 256 byte tokens, then fillers.
    toks, scores, types = [], [], []
    for i, t in enumerate(["<unk>", "<s>", "</s>"]):
        toks.append(t); scores.append(0.0)
        types.append(gguf.TokenType.UNKNOWN if i == 0 else gguf.TokenType.CONTROL)
    for b in range(256):
        toks.append(f"<0x{b:02X}>"); scores.append(0.0); types.append(gguf.TokenType.BYTE)
    i = 0
    while len(toks) < VOCAB:
        toks.append(f"\u2581t{i}"); scores.append(-float(i)); types.append(gguf.TokenType.NORMAL)
        i += 1
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    specs = list(tensors())
    for name, shape, matrix in specs:
        count = int(np.prod(shape))
        if not matrix:
            w.add_tensor_info(name, shape, np.dtype(np.float32), count * 4)
        elif a.type == "f16":
            w.add_tensor_info(name, shape, np.dtype(np.float16), count * 2)
        else:
            w.add_tensor_info(name, shape, np.dtype(np.uint16), count * 2,
                              raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(a.seed)
    for name, shape, matrix in specs:
        if not matrix:
            data = np.ones(shape, dtype=np.float32)
        else:
            x = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
            data = x.astype(np.float16) if a.type == "f16" else to_bf16(x)
        w.write_tensor_data(data)
    w.close()
    os.replace(tmp, a.out)
    print(f"wrote {a.out} ({os.path.getsize(a.out) / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
