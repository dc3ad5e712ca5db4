"""Policy.Generate and Policy.GenerateStream served for real, on the tiny test model
(`models/default/policy`, a random tiny llava-hf checkpoint; not the embedded default): greedy generation with image
bytes and then the same image by SHA-256, streamed deltas that add up to the final text, finish
reasons, usage, and a table of bad inputs that get INVALID_ARGUMENT / NOT_FOUND with a message
while the daemon keeps serving.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import grpc
import pytest

from interop import RPC_TIMEOUT_S, rpc_error
from rlhfd_client._proto.rlhfd.v1 import common_pb2, policy_pb2, policy_pb2_grpc

IMAGES = Path(__file__).resolve().parent.parent / "Fixtures" / "images"
PNG = (IMAGES / "rgb_64x48.png").read_bytes()
PNG_SHA = hashlib.sha256(PNG).hexdigest()
TINY_PNG = (IMAGES / "one_1x1.png").read_bytes()
TALL_PNG = (IMAGES / "tall_40x90.png").read_bytes()  # 3600 pixels: over the limit below
CONTEXT = 256  # max_position_embeddings of the embedded model


@pytest.fixture(scope="module")
def served(rlhfd_bin, tmp_path_factory):
    """A daemon serving the embedded default model, with small image limits."""
    from interop import Daemon

    instance = Daemon(
        rlhfd_bin,
        tmp_path_factory.mktemp("generate-daemon"),
        model="default",
        args=["--image-max-pixels", "3500", "--image-min-side", "2"],
    )
    try:
        instance.start()
    except BaseException:
        instance.kill()
        raise
    yield instance
    try:
        alive = instance.running()
        code = instance.stop() if alive else instance.process.returncode
    finally:
        instance.kill()
    assert alive, f"the daemon died (exit {code})\nstderr:\n{instance.stderr_text()}"
    assert code == 0, instance.stderr_text()


@pytest.fixture(scope="module")
def policy(served):
    return policy_pb2_grpc.PolicyStub(served.channel())


def request(prompt="What is in the image?", images=(), **sampling):
    return policy_pb2.GenerateRequest(
        prompt=prompt,
        images=list(images),
        sampling=common_pb2.SamplingParams(**sampling),
    )


def test_generate_greedy_with_image_bytes_then_hash(policy):
    first = policy.Generate(
        request(images=[common_pb2.Image(data=PNG)], max_new_tokens=12), timeout=RPC_TIMEOUT_S
    )
    assert len(first.token_ids) == 12
    assert first.finish_reason == policy_pb2.FINISH_REASON_LENGTH
    assert first.policy_version == "base"
    assert re.fullmatch(r"[0-9a-f-]{36}", first.generation_id), first.generation_id
    # 16 image tokens are part of the prompt.
    assert first.usage.prompt_tokens > 16
    assert first.usage.completion_tokens == 12
    assert first.usage.compute_time_ms > 0
    assert first.usage.queue_time_ms >= 0

    again = policy.Generate(
        request(images=[common_pb2.Image(sha256=PNG_SHA)], max_new_tokens=12),
        timeout=RPC_TIMEOUT_S,
    )
    assert list(again.token_ids) == list(first.token_ids)
    assert again.text == first.text
    assert again.generation_id != first.generation_id


def test_generate_stream_deltas_add_up_to_the_final_text(policy):
    unary = policy.Generate(
        request(images=[common_pb2.Image(data=PNG)], max_new_tokens=10), timeout=RPC_TIMEOUT_S
    )
    chunks = list(
        policy.GenerateStream(
            request(images=[common_pb2.Image(data=PNG)], max_new_tokens=10, logprobs=True),
            timeout=RPC_TIMEOUT_S,
        )
    )
    assert chunks and chunks[-1].HasField("final")
    assert not any(chunk.HasField("final") for chunk in chunks[:-1])
    final = chunks[-1].final
    assert "".join(chunk.text for chunk in chunks) == final.text == unary.text
    streamed = [token for chunk in chunks for token in chunk.token_ids]
    assert streamed == list(final.token_ids) == list(unary.token_ids)
    assert len(final.logprobs) == len(final.token_ids)
    assert all(entry.logprob <= 0 for entry in final.logprobs)
    assert final.finish_reason == policy_pb2.FINISH_REASON_LENGTH


def test_text_only_seeded_sampling_is_repeatable(policy):
    ask = request(prompt="Tell me a story", max_new_tokens=16, temperature=1.0, top_p=0.9, seed=5)
    a = policy.Generate(ask, timeout=RPC_TIMEOUT_S)
    b = policy.Generate(ask, timeout=RPC_TIMEOUT_S)
    assert list(a.token_ids) == list(b.token_ids) and a.text == b.text


def test_stop_string_ends_generation(policy):
    full = policy.Generate(request(prompt="Hello", max_new_tokens=12), timeout=RPC_TIMEOUT_S)
    assert len(full.text) > 4, full.text
    stop = full.text[2:4]
    cut = policy.Generate(
        request(prompt="Hello", max_new_tokens=12, stop=[stop]), timeout=RPC_TIMEOUT_S
    )
    assert cut.finish_reason == policy_pb2.FINISH_REASON_STOP
    assert stop not in cut.text
    assert full.text.startswith(cut.text)


BAD = [
    ("not-an-image", request(images=[common_pb2.Image(data=b"GIF89a not really")]),
     grpc.StatusCode.INVALID_ARGUMENT, "images[0]"),
    ("garbage-bytes", request(images=[common_pb2.Image(data=b"\x00" * 64)]),
     grpc.StatusCode.INVALID_ARGUMENT, "images[0]"),
    ("over-pixel-limit", request(images=[common_pb2.Image(data=TALL_PNG)]),
     grpc.StatusCode.INVALID_ARGUMENT, "over the limit"),
    ("one-by-one", request(images=[common_pb2.Image(data=TINY_PNG)]),
     grpc.StatusCode.INVALID_ARGUMENT, "1x1"),
    ("prompt-too-long", request(prompt="word " * 400),
     grpc.StatusCode.INVALID_ARGUMENT, "context"),
    ("max-new-tokens-over-context", request(prompt="Hi", max_new_tokens=CONTEXT),
     grpc.StatusCode.INVALID_ARGUMENT, "max_new_tokens"),
    ("unknown-image-hash", request(images=[common_pb2.Image(sha256="ab" * 32)]),
     grpc.StatusCode.NOT_FOUND, "sha256"),
    ("unknown-policy-version",
     policy_pb2.GenerateRequest(prompt="Hi", policy_version="v-does-not-exist"),
     grpc.StatusCode.NOT_FOUND, "policy_version"),
    ("raw-prompt-image-count",
     policy_pb2.GenerateRequest(prompt="USER: <image>\nHi ASSISTANT:", raw_prompt=True),
     grpc.StatusCode.INVALID_ARGUMENT, "<image>"),
    ("empty-prompt", request(prompt="  "), grpc.StatusCode.INVALID_ARGUMENT, "prompt"),
    ("max-new-tokens-zero", request(max_new_tokens=0),
     grpc.StatusCode.INVALID_ARGUMENT, "max_new_tokens"),
    ("temperature-nan", request(temperature=float("nan")),
     grpc.StatusCode.INVALID_ARGUMENT, "temperature"),
    ("top-p-out-of-range", request(top_p=1.5), grpc.StatusCode.INVALID_ARGUMENT, "top_p"),
    ("unknown-priority", policy_pb2.GenerateRequest(prompt="Hi", priority=7),
     grpc.StatusCode.INVALID_ARGUMENT, "priority"),
]


@pytest.mark.parametrize("rpc", ["Generate", "GenerateStream"])
@pytest.mark.parametrize(
    "request_, code, needle", [row[1:] for row in BAD], ids=[row[0] for row in BAD]
)
def test_bad_input_is_explained_and_the_daemon_keeps_serving(policy, rpc, request_, code, needle):
    if rpc == "Generate":
        error = rpc_error(lambda: policy.Generate(request_, timeout=RPC_TIMEOUT_S))
    else:
        error = rpc_error(lambda: list(policy.GenerateStream(request_, timeout=RPC_TIMEOUT_S)))
    assert error.code() == code, (error.code(), error.details())
    assert needle in error.details(), error.details()
    ok = policy.Generate(request(prompt="Hi", max_new_tokens=2), timeout=RPC_TIMEOUT_S)
    assert len(ok.token_ids) == 2


def test_cancelled_stream_leaves_the_daemon_serving(policy):
    call = policy.GenerateStream(
        request(prompt="Go on", max_new_tokens=150, temperature=1.0, seed=3),
        timeout=RPC_TIMEOUT_S,
    )
    next(call)
    call.cancel()
    ok = policy.Generate(request(prompt="Hi", max_new_tokens=2), timeout=RPC_TIMEOUT_S)
    assert len(ok.token_ids) == 2


def test_expired_deadline_leaves_the_daemon_serving(policy):
    error = rpc_error(
        lambda: policy.Generate(request(prompt="Go on", max_new_tokens=150), timeout=0.001)
    )
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()
    ok = policy.Generate(request(prompt="Hi", max_new_tokens=2), timeout=RPC_TIMEOUT_S)
    assert len(ok.token_ids) == 2


def test_sampling_edge_cases_keep_the_logprob_contract(policy):
    """A tiny positive temperature behaves as its limit (greedy), and the log-probabilities are
    always the model's (temperature 1, before filtering and penalties): the same numbers as
    greedy decoding's, never NaN, whatever the temperature, top_k, top_p or penalty."""
    greedy = policy.Generate(
        request("Describe it.", max_new_tokens=8, logprobs=True), timeout=RPC_TIMEOUT_S
    )
    expected = [entry.logprob for entry in greedy.logprobs]
    assert all(value == value and value <= 0 for value in expected)
    for sampling in [
        dict(temperature=1e-45),
        dict(temperature=1e-38),
        dict(temperature=0.001),
        dict(temperature=0.9, top_k=1),
        dict(temperature=0.9, top_p=0.01),
    ]:
        response = policy.Generate(
            request("Describe it.", max_new_tokens=8, logprobs=True, seed=3, **sampling),
            timeout=RPC_TIMEOUT_S,
        )
        assert list(response.token_ids) == list(greedy.token_ids), sampling
        values = [entry.logprob for entry in response.logprobs]
        assert all(value == value for value in values), (sampling, values)  # no NaN
        assert values == pytest.approx(expected, abs=1e-5), sampling
    penalised = policy.Generate(
        request("Describe it.", max_new_tokens=8, logprobs=True, repetition_penalty=1.5),
        timeout=RPC_TIMEOUT_S,
    )
    assert all(value == value and value <= 0 for value in (e.logprob for e in penalised.logprobs))


def test_get_model_info_describes_the_served_models(served):
    """Admin.GetModelInfo names both served checkpoints and their shapes, the versions, the
    daemon's version and the compute kernels chosen on this host."""
    from rlhfd_client._proto.rlhfd.v1 import admin_pb2, admin_pb2_grpc

    info = admin_pb2_grpc.AdminStub(served.channel()).GetModelInfo(
        admin_pb2.GetModelInfoRequest(), timeout=RPC_TIMEOUT_S
    )
    assert info.policy_model_name == "policy" and info.reward_model_name == "reward", info
    assert info.architecture == "LlavaForConditionalGeneration", info
    assert info.context_length == CONTEXT
    assert info.vocab_size > 0 and info.image_size > 0 and info.image_tokens == 16, info
    assert info.policy_version == "base" and info.reward_model_version == "base", info
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", info.daemon_version), info
    assert "openblas core=" in info.compute_kernels, info
