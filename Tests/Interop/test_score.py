"""Reward.Score served for real, on the tiny test reward model (`models/default/reward`,
a random tiny llava-hf checkpoint with a `score` head; not the embedded default): three responses with and without facts
(the breakdown adds up to the total, order is preserved, symbolic terms follow the facts), the
image by SHA-256 after its bytes, and bad inputs that get INVALID_ARGUMENT / NOT_FOUND while the
daemon keeps serving.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import grpc
import pytest

from interop import rpc_error
from rlhfd_client._proto.rlhfd.v1 import common_pb2, reward_pb2, reward_pb2_grpc

IMAGES = Path(__file__).resolve().parent.parent / "Fixtures" / "images"
PNG = (IMAGES / "rgb_64x48.png").read_bytes()
PNG_SHA = hashlib.sha256(PNG).hexdigest()
SCORE_TIMEOUT_S = 30.0  # three ~450-token forwards on a debug build
RESPONSES = [
    "C. A yellow circle.",
    "No, there is no bus.",
    "There is a cat sleeping on a sofa near the window.",
]


@pytest.fixture(scope="module")
def served(rlhfd_bin, tmp_path_factory):
    """A daemon serving the embedded default models."""
    from interop import Daemon

    instance = Daemon(
        rlhfd_bin,
        tmp_path_factory.mktemp("score-daemon"),
        model="default",
        args=["--image-min-side", "2"],
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
def reward(served):
    return reward_pb2_grpc.RewardStub(served.channel())


def score(reward, image, responses=RESPONSES, facts=None, prompt="What is in the image?"):
    request = reward_pb2.ScoreRequest(prompt=prompt, image=image, responses=list(responses))
    if facts is not None:
        request.facts.CopyFrom(facts)
    return reward.Score(request, timeout=SCORE_TIMEOUT_S)


def check_breakdowns(response, count):
    assert len(response.rewards) == count
    assert response.reward_model_version == "base"
    for r in response.rewards:
        parts = r.model_score + r.correctness + r.length_penalty + r.eos_penalty
        assert r.total == pytest.approx(parts, abs=1e-4)
        assert r.length_penalty < 0  # −10 × tokens / 896 by default
        assert r.eos_penalty == 0  # text responses are complete turns
    assert response.usage.completion_tokens > 0
    assert response.usage.prompt_tokens > 16 * count


def test_score_without_then_with_facts(reward):
    plain = score(reward, common_pb2.Image(data=PNG))
    check_breakdowns(plain, 3)
    assert all(r.correctness == 0 for r in plain.rewards)

    # Image by hash after its bytes; captions change the reward input; the correct choice is C.
    facts = common_pb2.Facts(
        captions=["A yellow circle and a blue rectangle.", "Coloured shapes on white."],
        choices=["a cat", "a dog", "a circle", "a bus"],
        correct_choice=2,
    )
    factual = score(reward, common_pb2.Image(sha256=PNG_SHA), facts=facts)
    check_breakdowns(factual, 3)
    assert [r.correctness for r in factual.rewards] == [2.0, 0.0, 0.0]
    assert factual.rewards[0].model_score != plain.rewards[0].model_score
    # Lengths do not depend on the facts.
    assert [r.length_penalty for r in factual.rewards] == [r.length_penalty for r in plain.rewards]

    # Order is preserved: each response scored alone gives the same model score.
    reversed_ = score(reward, common_pb2.Image(sha256=PNG_SHA), responses=RESPONSES[::-1])
    assert [r.model_score for r in reversed_.rewards] == pytest.approx(
        [r.model_score for r in plain.rewards[::-1]], abs=1e-4
    )


def test_yes_no_facts(reward):
    facts = common_pb2.Facts(yes_no_answer=False)
    response = score(reward, common_pb2.Image(data=PNG), responses=["No.", "Yes.", "Maybe."],
                     facts=facts, prompt="Is there a bus?")
    assert [r.correctness for r in response.rewards] == [1.0, -1.0, 0.0]  # 2.0 × ±0.5


@pytest.mark.parametrize(
    "name, request_, code, words",
    [
        ("no-responses",
         reward_pb2.ScoreRequest(prompt="What?", image=common_pb2.Image(data=PNG)),
         grpc.StatusCode.INVALID_ARGUMENT, "response"),
        ("unknown-hash",
         reward_pb2.ScoreRequest(prompt="What?", image=common_pb2.Image(sha256="ab" * 32),
                                 responses=["A cat."]),
         grpc.StatusCode.NOT_FOUND, "not a known image"),
        ("garbage-image",
         reward_pb2.ScoreRequest(prompt="What?", image=common_pb2.Image(data=b"not an image"),
                                 responses=["A cat."]),
         grpc.StatusCode.INVALID_ARGUMENT, "image.data"),
        ("generation-ids",
         reward_pb2.ScoreRequest(generation_ids=["gen-1"]),
         grpc.StatusCode.NOT_FOUND, "not a stored generation"),
        ("unknown-priority",
         reward_pb2.ScoreRequest(prompt="What?", image=common_pb2.Image(data=PNG),
                                 responses=["A cat."], priority=9),
         grpc.StatusCode.INVALID_ARGUMENT, "priority"),
    ],
)
def test_bad_inputs_keep_the_daemon_serving(reward, served, name, request_, code, words):
    error = rpc_error(lambda: reward.Score(request_, timeout=SCORE_TIMEOUT_S))
    assert error.code() == code, (name, error.code(), error.details())
    assert words in error.details(), (name, error.details())
    assert served.running()
    ok = score(reward, common_pb2.Image(data=PNG), responses=["A circle."])
    check_breakdowns(ok, 1)


def test_score_by_generation_ids(make_daemon):
    """Score by `generation_ids`: the stored generations' texts against their prompt and image
    (the image's bytes read back from the store) give the same rewards as scoring the same
    texts explicitly; an unknown id is NOT_FOUND, generations of different prompts are refused."""
    from rlhfd_client._proto.rlhfd.v1 import policy_pb2, policy_pb2_grpc

    daemon = make_daemon(model="default")
    channel = daemon.channel()
    policy, reward = policy_pb2_grpc.PolicyStub(channel), reward_pb2_grpc.RewardStub(channel)
    prompt = "What is in the image?"
    replies = [
        policy.Generate(policy_pb2.GenerateRequest(
            prompt=prompt, images=[common_pb2.Image(data=PNG)],
            sampling=common_pb2.SamplingParams(max_new_tokens=6, temperature=1.0, seed=seed)),
            timeout=60)
        for seed in (1, 2)
    ]
    other = policy.Generate(policy_pb2.GenerateRequest(
        prompt="Something else?", images=[common_pb2.Image(data=PNG)],
        sampling=common_pb2.SamplingParams(max_new_tokens=4)), timeout=60)
    ids = [r.generation_id for r in replies]
    facts = common_pb2.Facts(captions=["A small test picture."])
    by_ids = None
    for _ in range(50):  # generations are recorded in the background
        try:
            by_ids = reward.Score(reward_pb2.ScoreRequest(generation_ids=ids, facts=facts),
                                  timeout=60)
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND, error
            time.sleep(0.1)
    assert by_ids is not None
    explicit = reward.Score(reward_pb2.ScoreRequest(
        prompt=prompt, image=common_pb2.Image(data=PNG),
        responses=[r.text for r in replies], facts=facts), timeout=60)
    assert [r.total for r in by_ids.rewards] == pytest.approx(
        [r.total for r in explicit.rewards], abs=1e-5)
    unknown = rpc_error(lambda: reward.Score(
        reward_pb2.ScoreRequest(generation_ids=["nope"]), timeout=10))
    assert unknown.code() == grpc.StatusCode.NOT_FOUND and "nope" in unknown.details()
    time.sleep(0.5)
    mixed = rpc_error(lambda: reward.Score(
        reward_pb2.ScoreRequest(generation_ids=[ids[0], other.generation_id]), timeout=10))
    assert mixed.code() == grpc.StatusCode.INVALID_ARGUMENT, mixed
    assert "different prompts" in mixed.details()
