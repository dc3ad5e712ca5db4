"""`precision: bf16` served for real. A bf16 checkpoint (the tiny fixture model's bf16 layout
variant, with the fixture policy's tokenizer) answers Generate with bf16 products and gives the
greedy tokens it gives with exact fp32 products, with log-probabilities that differ by bf16's
rounding only; a CPU without AVX512-BF16 (or `RLHFD_NO_AVX512=1`) refuses it at start, naming
the setting."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from interop import RPC_TIMEOUT_S
from rlhfd_client._proto.rlhfd.v1 import common_pb2, policy_pb2, policy_pb2_grpc

FIXTURES = Path(__file__).resolve().parent.parent / "Fixtures"
PNG = (FIXTURES / "images" / "rgb_64x48.png").read_bytes()
HAS_BF16 = "avx512_bf16" in Path("/proc/cpuinfo").read_text()


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


def test_bf16_is_refused_without_the_instructions(make_daemon, bf16_model):
    daemon = make_daemon(
        model=str(bf16_model),
        args=["--precision", "bf16", "--reward-model", "none"],
        env={**os.environ, "RLHFD_NO_AVX512": "1"},
        start=False,
    ).start(wait=False)
    assert daemon.wait_exit(30) != 0, daemon.stderr_text()
    assert "AVX512-BF16" in daemon.stderr_text(), daemon.stderr_text()
