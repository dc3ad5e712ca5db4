"""Status codes of the model RPCs today: invalid requests are INVALID_ARGUMENT with a message
that names the field; valid requests are UNIMPLEMENTED "... is not available yet ..." (the
engine is not built), never a faked result."""

from __future__ import annotations

import base64
import math

import grpc
import pytest

from interop import RPC_TIMEOUT_S, rpc_error
from rlhfd_client._proto.rlhfd.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    feedback_pb2,
    feedback_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
    reward_pb2,
    reward_pb2_grpc,
)

# A real 1x1 PNG (the daemon does not decode images yet, but the bytes are honest).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
IMAGE = common_pb2.Image(data=PNG)
# The signature and header of a 30000 x 30000 PNG (900 M pixels) and nothing else: a bomb that
# must be refused from its header.
BOMB = common_pb2.Image(
    data=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (30000).to_bytes(4, "big") * 2
    + b"\x08\x02\x00\x00\x00" + b"\x00" * 4
)
SHA = "0123456789abcdef" * 4

STUBS = {
    "Policy": policy_pb2_grpc.PolicyStub,
    "Reward": reward_pb2_grpc.RewardStub,
    "Feedback": feedback_pb2_grpc.FeedbackStub,
    "Admin": admin_pb2_grpc.AdminStub,
}
SERVER_STREAMING = {"GenerateStream", "WatchTraining"}


def call(channel, rpc: str, request):
    """Calls "Service/Method"; a server stream is read to its end (bounded by the timeout)."""
    service, method = rpc.split("/")
    function = getattr(STUBS[service](channel), method)
    if method in SERVER_STREAMING:
        return list(function(request, timeout=RPC_TIMEOUT_S))
    return function(request, timeout=RPC_TIMEOUT_S)


def generate(prompt="What is in the image?", images=(IMAGE,), **sampling):
    return policy_pb2.GenerateRequest(
        prompt=prompt, images=list(images), sampling=common_pb2.SamplingParams(**sampling)
    )


def score(**fields):
    fields.setdefault("prompt", "What is in the image?")
    fields.setdefault("image", IMAGE)
    return reward_pb2.ScoreRequest(**fields)


def preference(**fields):
    values = dict(
        image=IMAGE,
        prompt="What is in the image?",
        response_1=feedback_pb2.ResponseRef(text="A cat on a sofa."),
        response_2=feedback_pb2.ResponseRef(text="A dog on a sofa."),
        preferred=1,
        idempotency_key="pref-1",
    )
    values.update(fields)
    return feedback_pb2.PreferenceFeedback(**values)


def prompts(*items):
    return feedback_pb2.PromptBatch(prompts=list(items), idempotency_key="batch-1")


RL_PROMPT = feedback_pb2.RlPrompt(image=IMAGE, prompt="How many cats?", client_id="c-1")
BAD_FACTS = common_pb2.Facts(choices=["one", "two"], correct_choice=2)

# (test id, "Service/Method", request, text the error message must contain)
GENERATE_INVALID = [
    ("empty-prompt", generate(prompt=""), "prompt"),
    ("whitespace-prompt", generate(prompt=" \n\t "), "prompt"),
    ("temperature-negative", generate(temperature=-1.0), "temperature"),
    ("temperature-nan", generate(temperature=math.nan), "temperature"),
    ("top-p-above-1", generate(top_p=1.5), "top_p"),
    ("repetition-penalty-below-1", generate(repetition_penalty=0.5), "repetition_penalty"),
    ("max-new-tokens-zero", generate(max_new_tokens=0), "max_new_tokens"),
    ("max-new-tokens-negative", generate(max_new_tokens=-3), "max_new_tokens"),
    ("stop-string-empty", generate(stop=["END", ""]), "stop[1]"),
    ("image-without-source", generate(images=[common_pb2.Image()]), "images[0]"),
    ("image-empty-data", generate(images=[IMAGE, common_pb2.Image(data=b"")]), "images[1].data"),
    ("image-sha256-short", generate(images=[common_pb2.Image(sha256="abc")]), "sha256"),
    ("image-sha256-uppercase", generate(images=[common_pb2.Image(sha256=SHA.upper())]), "sha256"),
    ("max-new-tokens-over-limit", generate(max_new_tokens=4097), "max_new_tokens"),
    ("max-new-tokens-int32-min", generate(max_new_tokens=-(2**31)), "max_new_tokens"),
    ("temperature-inf", generate(temperature=math.inf), "temperature"),
    ("top-p-negative", generate(top_p=-0.1), "top_p"),
    ("top-p-nan", generate(top_p=math.nan), "top_p"),
    ("repetition-penalty-inf", generate(repetition_penalty=math.inf), "repetition_penalty"),
    ("too-many-stop-strings", generate(stop=[f"s{i}" for i in range(9)]), "sampling.stop"),
    ("stop-string-too-long", generate(stop=["x" * 257]), "stop[0]"),
    ("too-many-images", generate(images=[IMAGE] * 5), "images"),
]

OTHER_INVALID = [
    ("score-no-responses", "Reward/Score", score(), "response"),
    (
        "score-responses-and-ids",
        "Reward/Score",
        score(responses=["A cat."], generation_ids=["gen-1"]),
        "generation_ids",
    ),
    (
        "score-correct-choice-out-of-range",
        "Reward/Score",
        score(responses=["A cat."], facts=BAD_FACTS),
        "correct_choice",
    ),
    ("score-image-without-source", "Reward/Score",
     score(responses=["A cat."], image=common_pb2.Image()), "image"),
    ("score-too-many-responses", "Reward/Score", score(responses=["r"] * 65), "64"),
    ("score-empty-generation-id", "Reward/Score",
     reward_pb2.ScoreRequest(generation_ids=["gen-1", ""]), "generation_ids[1]"),
    ("score-blank-prompt", "Reward/Score", score(prompt="  ", responses=["A cat."]), "prompt"),
    ("score-text-without-image", "Reward/Score",
     reward_pb2.ScoreRequest(prompt="What?", responses=["A cat."]), "image"),
    ("score-empty-caption", "Reward/Score",
     score(responses=["A cat."], facts=common_pb2.Facts(captions=["A cat.", " "])),
     "facts.captions[1]"),
    ("preference-response-1-unset", "Feedback/SubmitPreference",
     preference(response_1=None), "response_1"),
    ("preference-response-2-blank", "Feedback/SubmitPreference",
     preference(response_2=feedback_pb2.ResponseRef(text=" ")), "response_2.text"),
    ("preference-text-without-prompt", "Feedback/SubmitPreference", preference(prompt=""),
     "prompt"),
    ("preference-idempotency-key-too-long", "Feedback/SubmitPreference",
     preference(idempotency_key="k" * 129), "idempotency_key"),
    ("prompt-batch-nan-length-bonus", "Feedback/SubmitPrompts",
     prompts(RL_PROMPT, feedback_pb2.RlPrompt(image=IMAGE, prompt="Why?",
                                              length_bonus=float("nan"))),
     "prompts[1].length_bonus"),
    ("prompt-batch-client-id-too-long", "Feedback/SubmitPrompts",
     prompts(feedback_pb2.RlPrompt(image=IMAGE, prompt="Why?", client_id="c" * 129)),
     "prompts[0].client_id"),
    ("prompt-batch-missing-image", "Feedback/SubmitPrompts",
     prompts(feedback_pb2.RlPrompt(prompt="Why?")), "prompts[0].image"),
    ("rating-score-nan", "Feedback/SubmitRating",
     feedback_pb2.RatingFeedback(generation_id="gen-1", score=math.nan), "score"),
    ("preference-preferred-3", "Feedback/SubmitPreference", preference(preferred=3), "preferred"),
    ("preference-preferred-0", "Feedback/SubmitPreference", preference(preferred=0), "preferred"),
    ("preference-no-image", "Feedback/SubmitPreference", preference(image=None), "image"),
    ("rating-score-2", "Feedback/SubmitRating",
     feedback_pb2.RatingFeedback(generation_id="gen-1", score=2.0), "score"),
    ("rating-no-generation-id", "Feedback/SubmitRating",
     feedback_pb2.RatingFeedback(score=1.0), "generation_id"),
    ("prompt-batch-empty", "Feedback/SubmitPrompts", prompts(), "prompts"),
    ("prompt-batch-too-many", "Feedback/SubmitPrompts", prompts(*[RL_PROMPT] * 257), "at most 256"),
    ("preference-not-an-image", "Feedback/SubmitPreference",
     preference(image=common_pb2.Image(data=b"GIF89a not really")), "image.data"),
    ("preference-image-bomb", "Feedback/SubmitPreference", preference(image=BOMB), "image.data"),
    ("prompt-batch-image-bomb", "Feedback/SubmitPrompts",
     prompts(RL_PROMPT, feedback_pb2.RlPrompt(image=BOMB, prompt="Why?")), "prompts[1].image.data"),
    (
        "prompt-batch-correct-choice-out-of-range",
        "Feedback/SubmitPrompts",
        prompts(feedback_pb2.RlPrompt(image=IMAGE, prompt="Which?", facts=BAD_FACTS)),
        "prompts[0].facts.correct_choice",
    ),
    ("promote-without-version", "Admin/PromotePolicy", admin_pb2.PromotePolicyRequest(), "version"),
]

VALID = [
    ("Policy/Generate", generate(max_new_tokens=16, temperature=0.7, top_p=0.9,
                                 repetition_penalty=1.1, stop=["\n\n"])),
    ("Policy/GenerateStream", generate(max_new_tokens=16)),
    ("Policy/Generate", generate(images=[common_pb2.Image(sha256=SHA)])),
    ("Reward/Score", score(responses=["A cat.", "A dog."],
                           facts=common_pb2.Facts(captions=["A cat on a sofa."]))),
    ("Policy/Generate", generate(prompt="Hi", images=[], max_new_tokens=4096, stop=["x" * 256])),
    ("Reward/Score", reward_pb2.ScoreRequest(generation_ids=["gen-1", "gen-2"])),
    ("Reward/Score", score(responses=["A cat."] * 64,
                           facts=common_pb2.Facts(choices=["a", "b"], correct_choice=-1))),
    ("Feedback/WatchTraining", feedback_pb2.WatchTrainingRequest(send_initial_status=True)),
    ("Admin/ListPolicyVersions", admin_pb2.ListPolicyVersionsRequest(limit=5)),
    ("Admin/PromotePolicy", admin_pb2.PromotePolicyRequest(version="v1")),
    ("Admin/RollbackPolicy", admin_pb2.RollbackPolicyRequest()),
    ("Admin/PauseTraining", admin_pb2.PauseTrainingRequest(reason="test")),
    ("Admin/ResumeTraining", admin_pb2.ResumeTrainingRequest()),
    ("Admin/SaveCheckpoint", admin_pb2.SaveCheckpointRequest()),
]


def assert_invalid(channel, rpc, request, field):
    error = rpc_error(lambda: call(channel, rpc, request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (rpc, error.code(), error.details())
    assert field in error.details(), f"{rpc}: {error.details()!r} does not mention {field!r}"


@pytest.mark.parametrize("rpc", ["Policy/Generate", "Policy/GenerateStream"])
@pytest.mark.parametrize("request_, field", [c[1:] for c in GENERATE_INVALID],
                         ids=[c[0] for c in GENERATE_INVALID])
def test_invalid_generate_request_is_invalid_argument(shared_channel, rpc, request_, field):
    """Generate and GenerateStream reject each bad field with INVALID_ARGUMENT naming it."""
    assert_invalid(shared_channel, rpc, request_, field)


@pytest.mark.parametrize("rpc, request_, field", [c[1:] for c in OTHER_INVALID],
                         ids=[c[0] for c in OTHER_INVALID])
def test_invalid_request_is_invalid_argument(shared_channel, rpc, request_, field):
    """Score, Feedback and Admin requests with a bad field are INVALID_ARGUMENT naming it."""
    assert_invalid(shared_channel, rpc, request_, field)


@pytest.mark.parametrize("rpc, request_", VALID, ids=[f"{i}-{c[0]}" for i, c in enumerate(VALID)])
def test_valid_request_is_unimplemented_not_available_yet(shared_channel, rpc, request_):
    """A valid request to an RPC whose engine is missing is UNIMPLEMENTED "not available yet"
    (it passed validation; no result is faked)."""
    error = rpc_error(lambda: call(shared_channel, rpc, request_))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED, (rpc, error.code(), error.details())
    assert "not available yet" in error.details(), error.details()
    assert rpc.replace("/", ".") in error.details(), error.details()


def test_get_model_info_without_models(shared_channel):
    """A daemon started with --no-model still answers GetModelInfo: its version and compute
    kernels, and empty model fields (nothing is served)."""
    info = call(shared_channel, "Admin/GetModelInfo", admin_pb2.GetModelInfoRequest())
    assert info.daemon_version and "openblas core=" in info.compute_kernels, info
    assert not info.policy_model_name and not info.reward_model_name and info.context_length == 0
