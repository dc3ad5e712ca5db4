"""Writes the seed corpora of the safetensors, config and validation fuzz targets
(Fuzz/Corpus/<target>/). The image seeds are copies of Tests/ImagingTests/Inputs/variants.
Run from the repository root: .venv/bin/python Fuzz/make_seeds.py"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))
CORPUS = ROOT / "Fuzz" / "Corpus"


def safetensors(header: dict | str, data: bytes = b"", raw_length: int | None = None) -> bytes:
    text = header if isinstance(header, str) else json.dumps(header)
    encoded = text.encode()
    length = len(encoded) if raw_length is None else raw_length
    return struct.pack("<Q", length) + encoded + data


def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def safetensors_seeds() -> None:
    t = lambda dtype, shape, begin, end: {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
    good = {"a": t("F32", [2, 2], 0, 16), "b": t("BF16", [3], 16, 22),
            "__metadata__": {"format": "pt"}}
    seeds = {
        "valid": safetensors(good, bytes(22)),
        "valid-empty-tensor": safetensors({"e": t("F16", [0, 4], 0, 0)}),
        "valid-scalar": safetensors({"s": t("I64", [], 0, 8)}, bytes(8)),
        "padded": safetensors(json.dumps({"a": t("U8", [4], 0, 4)}) + "    ", bytes(4)),
        "length-past-end": safetensors({"a": t("U8", [1], 0, 1)}, b"\0", raw_length=1 << 40),
        "length-overflow": struct.pack("<Q", (1 << 64) - 1) + b"{}",
        "not-an-object": safetensors("[1,2,3]"),
        "duplicate-key": safetensors('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                     '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0"),
        "unknown-dtype": safetensors({"a": t("F7", [1], 0, 1)}, b"\0"),
        "negative-dim": safetensors({"a": t("U8", [-1], 0, 1)}, b"\0"),
        "float-dim": safetensors('{"a":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}', b"\0"),
        "product-overflow": safetensors({"a": t("F64", [1 << 32, 1 << 32], 0, 8)}, bytes(8)),
        "sub-byte": safetensors({"a": t("F4", [3], 0, 2)}, bytes(2)),
        "end-before-begin": safetensors({"a": t("U8", [0], 4, 0)}, bytes(4)),
        "overlap": safetensors({"a": t("U8", [4], 0, 4), "b": t("U8", [4], 2, 6)}, bytes(6)),
        "hole": safetensors({"a": t("U8", [2], 0, 2), "b": t("U8", [2], 4, 6)}, bytes(6)),
        "trailing": safetensors({"a": t("U8", [2], 0, 2)}, bytes(5)),
        "metadata-not-string": safetensors({"__metadata__": {"n": 1}}),
        "not-utf8": struct.pack("<Q", 4) + b"{\xff\xfe}",
    }
    for name, data in seeds.items():
        write("FuzzSafeTensors", name, data)


def config_seeds() -> None:
    seeds = {
        "empty.yaml": "",
        "listen.yaml": 'listen: ["127.0.0.1:50051", "unix:/tmp/x.sock"]\nlog_level: debug\n',
        "connections.yaml": "connections:\n  max_concurrent_streams: 8\n  idle_timeout_seconds: 0\n",
        "batching.yaml": "batching:\n  max_batch_size: 4\n",
        "unknown-key.yaml": "lisen: 1\n",
        "wrong-type.yaml": "drain_timeout_seconds: [1, 2]\n",
        "anchors.yaml": "a: &x {b: *x}\n",
        "retention.yaml": "retention:\n  max_age_days: 30\n",
        "versions.yaml": "policy_versions:\n  - name: v1\n    path: /nonexistent\npromoted_policy_version: v1\n",
    }
    for name, text in seeds.items():
        write("FuzzConfig", name, text.encode())


def validation_seeds() -> None:
    from rlhfd_client._proto.rlhfd.v1 import common_pb2, feedback_pb2, policy_pb2, reward_pb2

    png = (ROOT / "Tests/ImagingTests/Inputs/variants/grey4.png").read_bytes()
    image = common_pb2.Image(data=png)
    sampling = common_pb2.SamplingParams(max_new_tokens=16, temperature=0.7, top_p=0.9,
                                         stop=["\n"])
    seeds = [
        (0, "generate", policy_pb2.GenerateRequest(prompt="What is it?", images=[image],
                                                   sampling=sampling)),
        (0, "generate-sha", policy_pb2.GenerateRequest(
            prompt="Hi", images=[common_pb2.Image(sha256="ab" * 32)])),
        (1, "score", reward_pb2.ScoreRequest(prompt="What?", image=image, responses=["A", "B"],
                                             facts=common_pb2.Facts(choices=["a", "b"],
                                                                    correct_choice=1))),
        (1, "score-ids", reward_pb2.ScoreRequest(generation_ids=["g1", "g2"])),
        (2, "preference", feedback_pb2.PreferenceFeedback(
            image=image, prompt="What?", response_1=feedback_pb2.ResponseRef(text="a"),
            response_2=feedback_pb2.ResponseRef(generation_id="g2"), preferred=1,
            idempotency_key="k")),
        (3, "prompts", feedback_pb2.PromptBatch(prompts=[feedback_pb2.RlPrompt(
            image=image, prompt="How many?", client_id="c", length_bonus=0.5)],
            idempotency_key="b")),
        (4, "rating", feedback_pb2.RatingFeedback(generation_id="g1", score=0.5)),
    ]
    for kind, name, message in seeds:
        write("FuzzValidation", name, bytes([kind]) + message.SerializeToString())


if __name__ == "__main__":
    safetensors_seeds()
    config_seeds()
    validation_seeds()
