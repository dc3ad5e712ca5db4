"""`precision: bf16` served for real. A bf16 checkpoint (the tiny fixture model's bf16 layout
variant, with the fixture policy's tokenizer) answers Generate with bf16 products and gives the
greedy tokens it gives with exact fp32 products, with log-probabilities that differ by bf16's
rounding only; a CPU without AVX512-BF16 (or `RLHFD_NO_AVX512=1`) refuses it at start, naming
the setting."""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
from array import array
from pathlib import Path

import pytest

from interop import RPC_TIMEOUT_S
from rlhfd_client._proto.rlhfd.v1 import (
    common_pb2,
    feedback_pb2,
    feedback_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    reward_pb2,
    reward_pb2_grpc,
)

FIXTURES = Path(__file__).resolve().parent.parent / "Fixtures"
PNG = (FIXTURES / "images" / "rgb_64x48.png").read_bytes()
CPU_FLAGS = Path("/proc/cpuinfo").read_text()
HAS_BF16 = "avx512_bf16" in CPU_FLAGS
HAS_AMX = "amx_tile" in CPU_FLAGS and "amx_bf16" in CPU_FLAGS


@pytest.fixture(scope="module")
def bf16_model(tmp_path_factory) -> Path:
    """The fixture policy's assets with the bf16 variant's weights and config."""
    directory = tmp_path_factory.mktemp("bf16-policy")
    for path in (FIXTURES / "tiny-llava-policy").iterdir():
        if path.name not in ("model.safetensors", "config.json"):
            shutil.copy(path, directory / path.name)
    for name in ("model.safetensors", "config.json"):
        shutil.copy(FIXTURES / "layouts" / "v5-bfloat16" / name, directory / name)
    return directory


def bf16_copy(source: Path, target: Path) -> None:
    """`source`'s F32 safetensors rewritten as BF16 (round to nearest even), header offsets
    recomputed; other dtypes copied as they are."""
    raw = source.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    data = raw[8 + length :]
    metadata = header.pop("__metadata__", None)
    out_header, chunks, offset = {}, [], 0
    for name, info in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        start, end = info["data_offsets"]
        chunk = data[start:end]
        if info["dtype"] == "F32":
            bits = array("I", chunk)
            chunk = array("H", ((b + 0x7FFF + ((b >> 16) & 1)) >> 16 & 0xFFFF for b in bits)).tobytes()
            info = {**info, "dtype": "BF16"}
        out_header[name] = {**info, "data_offsets": [offset, offset + len(chunk)]}
        chunks.append(chunk)
        offset += len(chunk)
    if metadata is not None:
        out_header["__metadata__"] = metadata
    encoded = json.dumps(out_header).encode()
    encoded += b" " * (-len(encoded) % 8)
    target.write_bytes(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))


@pytest.fixture(scope="module")
def bf16_reward(tmp_path_factory) -> Path:
    """The embedded default reward model (context 1024) with its weights in bf16."""
    directory = tmp_path_factory.mktemp("bf16-reward")
    source = FIXTURES.parent.parent / "models" / "default" / "reward"
    for path in source.iterdir():
        if path.name != "model.safetensors":
            shutil.copy(path, directory / path.name)
    bf16_copy(source / "model.safetensors", directory / "model.safetensors")
    return directory


def greedy(daemon) -> policy_pb2.GenerateResponse:
    stub = policy_pb2_grpc.PolicyStub(daemon.channel())
    return stub.Generate(
        policy_pb2.GenerateRequest(
            prompt="What is in the image?",
            images=[common_pb2.Image(data=PNG)],
            sampling=common_pb2.SamplingParams(max_new_tokens=12, logprobs=True),
        ),
        timeout=RPC_TIMEOUT_S,
    )


@pytest.mark.skipif(not HAS_BF16, reason="the CPU lacks AVX512-BF16")
def test_bf16_products_keep_the_greedy_tokens_of_fp32(make_daemon, bf16_model):
    answers = {}
    for precision in ("fp32", "bf16"):
        daemon = make_daemon(
            model=str(bf16_model), args=["--precision", precision, "--reward-model", "none"]
        )
        answers[precision] = greedy(daemon)
        assert daemon.stop() == 0, daemon.stderr_text()
    exact, bf16 = answers["fp32"], answers["bf16"]
    assert len(exact.token_ids) == 12
    assert list(bf16.token_ids) == list(exact.token_ids)
    deltas = [abs(a.logprob - b.logprob) for a, b in zip(exact.logprobs, bf16.logprobs)]
    # Different (the bf16 products ran) but only by the activations' rounding.
    assert 0 < max(deltas) < 0.1, deltas


@pytest.mark.skipif(not HAS_BF16, reason="the CPU lacks AVX512-BF16")
def test_bf16_reward_scores_stay_close_to_fp32(make_daemon, bf16_reward):
    responses = ["A red square.", "A blue circle on a white table.", "Nothing."]
    scores = {}
    for precision in ("fp32", "bf16"):
        daemon = make_daemon(
            model="default", args=["--precision", precision, "--reward-model", str(bf16_reward)]
        )
        answer = reward_pb2_grpc.RewardStub(daemon.channel()).Score(
            reward_pb2.ScoreRequest(
                prompt="What is in the image?",
                image=common_pb2.Image(data=PNG),
                responses=responses,
            ),
            timeout=RPC_TIMEOUT_S,
        )
        scores[precision] = [r.model_score for r in answer.rewards]
        assert daemon.stop() == 0, daemon.stderr_text()
    deltas = [abs(a - b) for a, b in zip(scores["fp32"], scores["bf16"])]
    print("fp32 vs bf16 reward scores:", scores)
    scale = max(abs(v) for v in scores["fp32"])
    assert len(deltas) == 3
    # Different (the bf16 products ran) but only by the activations' rounding.
    assert 0 < max(deltas) <= 0.02 * max(scale, 1.0), (scores, deltas)


@pytest.mark.skipif(not HAS_BF16, reason="the CPU lacks AVX512-BF16")
@pytest.mark.parametrize("no_amx", ["0", "1"])
def test_the_policy_log_names_the_bf16_kernel(make_daemon, bf16_model, no_amx):
    """AMX tiles where the CPU has them, unless RLHFD_NO_AMX=1; AVX512-BF16 otherwise."""
    daemon = make_daemon(
        model=str(bf16_model),
        args=["--precision", "bf16", "--reward-model", "none"],
        env={**os.environ, "RLHFD_NO_AMX": no_amx},
    )
    assert daemon.stop() == 0, daemon.stderr_text()
    expected = "amx" if HAS_AMX and no_amx == "0" else "avx512bf16"
    loaded = [line for line in daemon.stderr_text().splitlines() if "policy model loaded" in line]
    assert len(loaded) == 1 and f"bf16_products={expected}" in loaded[0], loaded


def test_bf16_is_refused_without_the_instructions(make_daemon, bf16_model):
    daemon = make_daemon(
        model=str(bf16_model),
        args=["--precision", "bf16", "--reward-model", "none"],
        env={**os.environ, "RLHFD_NO_AVX512": "1"},
        start=False,
    ).start(wait=False)
    assert daemon.wait_exit(30) != 0, daemon.stderr_text()
    assert "AVX512-BF16" in daemon.stderr_text(), daemon.stderr_text()


@pytest.mark.skipif(not HAS_BF16, reason="the CPU lacks AVX512-BF16")
@pytest.mark.time_limit(240)
def test_training_runs_with_bf16_products(make_daemon, bf16_model, bf16_reward, tmp_path):
    """A `precision: bf16` daemon trains with its serving weights: bf16 products in the PPO
    forwards and (transposed panels) in the backward's input gradients. A PPO step completes with
    finite statistics and the status is not FAILED (PPOStepTests: ratio 1 at the first minibatch
    with bf16 products)."""
    from test_training import CONFIG, Watcher, prompts

    config = tmp_path / "bf16-training.yaml"
    config.write_text(CONFIG.format(lr=1e-3, publish=1, rollouts=4, step_batch=2, micro=1,
                                    epochs=1, response=8, max_kl=1000, guard=0, min_pairs=4))
    daemon = make_daemon(
        model=str(bf16_model), training="on",
        args=["--precision", "bf16", "--reward-model", str(bf16_reward), "--config", str(config)],
    )
    channel = daemon.channel()
    watcher = Watcher(channel)
    feedback = feedback_pb2_grpc.FeedbackStub(channel)
    prompts(feedback, 8, "bf16")
    step = watcher.wait_for("step", 180)
    print("bf16 PPO step:", step)
    assert step.rollouts == 4
    assert all(math.isfinite(v) for v in (step.mean_reward, step.kl, step.policy_loss,
                                          step.value_loss, step.grad_norm)), step
    status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                        timeout=RPC_TIMEOUT_S)
    assert status.state != feedback_pb2.TRAINING_STATE_FAILED, status.message
    watcher.close()
    assert daemon.stop() == 0, daemon.stderr_text()
