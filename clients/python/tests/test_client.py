"""Tests of RlhfdClient against fake servicers in an in-process grpcio server (no daemon).

Run: .venv/bin/python -m pytest clients/python/tests  (or python -m unittest discover)
"""

from __future__ import annotations

import os
import tempfile
import unittest
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from rlhfd_client import ImageLike, RlhfdClient, generation_ref, image_sha256
from rlhfd_client.pb import (admin_pb2, admin_pb2_grpc, common_pb2, feedback_pb2,
                             feedback_pb2_grpc, policy_pb2, policy_pb2_grpc, reward_pb2,
                             reward_pb2_grpc)


class FakePolicy(policy_pb2_grpc.PolicyServicer):
    def Generate(self, request, context):
        return policy_pb2.GenerateResponse(
            text=f"{request.prompt}|{len(request.images)}|{request.sampling.max_new_tokens}",
            finish_reason=policy_pb2.FINISH_REASON_EOS, generation_id=f"p{request.priority}",
            policy_version=request.policy_version or "v0")

    def GenerateStream(self, request, context):
        for word in ["a", "b"]:
            yield policy_pb2.GenerateChunk(text=word, token_ids=[1])
        yield policy_pb2.GenerateChunk(final=self.Generate(request, context))


class FakeReward(reward_pb2_grpc.RewardServicer):
    def Score(self, request, context):
        n = len(request.responses) or len(request.generation_ids)
        bonus = 1.0 if request.facts.HasField("yes_no_answer") else 0.0
        return reward_pb2.ScoreResponse(
            rewards=[reward_pb2.RewardBreakdown(total=i + bonus) for i in range(n)],
            reward_model_version=f"rm{request.priority}")


class FakeFeedback(feedback_pb2_grpc.FeedbackServicer):
    def __init__(self) -> None:
        self.requests: list = []

    def _ack(self, request, n=1):
        self.requests.append(request)
        return feedback_pb2.FeedbackAck(feedback_ids=[f"f{i}" for i in range(n)], accepted=n)

    def SubmitPreference(self, request, context):
        if request.preferred not in (1, 2):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "preferred must be 1 or 2")
        return self._ack(request)

    def SubmitPrompts(self, request, context):
        return self._ack(request, len(request.prompts))

    def SubmitRating(self, request, context):
        return self._ack(request)

    def GetTrainingStatus(self, request, context):
        return feedback_pb2.TrainingStatus(state=feedback_pb2.TRAINING_STATE_IDLE)


class FakeAdmin(admin_pb2_grpc.AdminServicer):
    """A version registry: a promotion stack and a set of retired ids."""

    def __init__(self) -> None:
        self.versions = {"base": admin_pb2.PolicyVersion(version="base", source="base")}
        self.stack = ["base"]

    def ListPolicyVersions(self, request, context):
        versions = list(reversed(self.versions.values()))
        for v in versions:
            v.promoted = v.version == self.stack[-1]
        if request.limit:
            versions = versions[:request.limit]
        return admin_pb2.ListPolicyVersionsResponse(versions=versions,
                                                    promoted_version=self.stack[-1])

    def RegisterPolicyVersion(self, request, context):
        if request.version in self.versions:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, f"'{request.version}' exists")
        version = admin_pb2.PolicyVersion(
            version=request.version, parent_version=request.parent_version or "base",
            adapter_path=request.adapter_path, source="admin")
        self.versions[request.version] = version
        return admin_pb2.RegisterPolicyVersionResponse(version=version)

    def PromotePolicy(self, request, context):
        if request.version not in self.versions:
            context.abort(grpc.StatusCode.NOT_FOUND, f"'{request.version}' is unknown")
        previous = self.stack[-1]
        self.stack.append(request.version)
        return admin_pb2.PromotePolicyResponse(previous_version=previous,
                                               promoted_version=request.version)

    def RollbackPolicy(self, request, context):
        if len(self.stack) < 2:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "nothing to roll back to")
        previous = self.stack.pop()
        return admin_pb2.RollbackPolicyResponse(previous_version=previous,
                                                promoted_version=self.stack[-1])

    def RetirePolicyVersion(self, request, context):
        if request.version == self.stack[-1]:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "promoted")
        del self.versions[request.version]
        return admin_pb2.RetirePolicyVersionResponse(version=request.version)

    def SaveCheckpoint(self, request, context):
        version = request.policy_version or self.stack[-1]
        if version == "base":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "base has no adapter")
        path = request.path or f"/state/checkpoints/{version}-1"
        return admin_pb2.SaveCheckpointResponse(checkpoint=feedback_pb2.CheckpointSaved(
            checkpoint_id=f"{version}-1", path=path, policy_version=version))


class ClientTest(unittest.TestCase):
    server: grpc.Server
    feedback: FakeFeedback
    client: RlhfdClient

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        cls.feedback = FakeFeedback()
        policy_pb2_grpc.add_PolicyServicer_to_server(FakePolicy(), cls.server)
        reward_pb2_grpc.add_RewardServicer_to_server(FakeReward(), cls.server)
        feedback_pb2_grpc.add_FeedbackServicer_to_server(cls.feedback, cls.server)
        admin_pb2_grpc.add_AdminServicer_to_server(FakeAdmin(), cls.server)
        health_servicer = health.HealthServicer()
        health_servicer.set("rlhfd.v1.Policy", health_pb2.HealthCheckResponse.NOT_SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, cls.server)
        port = cls.server.add_insecure_port("127.0.0.1:0")
        cls.server.start()
        cls.client = RlhfdClient(f"127.0.0.1:{port}", timeout=10)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.close()
        cls.server.stop(None)

    def test_generate_with_image_forms(self) -> None:
        with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
            f.write(b"\x89PNG fake")
        try:
            images: list[ImageLike] = [b"raw", f.name, "sha256:" + "a" * 64, image_sha256(b"x")]
            out = self.client.generate("hi", images, max_new_tokens=5, seed=3, stop=["\n"])
        finally:
            os.unlink(f.name)
        self.assertEqual(out.text, "hi|4|5")
        self.assertEqual(out.finish_reason, policy_pb2.FINISH_REASON_EOS)
        self.assertEqual(out.policy_version, "v0")
        self.assertEqual(out.generation_id, "p0")  # interactive unless asked
        self.assertEqual(self.client.generate("hi", batch=True).generation_id, "p1")
        with self.assertRaises(TypeError):
            self.client.generate("hi", max_tokens=5)  # type: ignore[call-arg]

    def test_generate_stream(self) -> None:
        chunks = list(self.client.generate_stream("p", policy_version="v7"))
        self.assertEqual("".join(c.text for c in chunks), "ab")
        self.assertTrue(chunks[-1].HasField("final"))
        self.assertEqual(chunks[-1].final.policy_version, "v7")

    def test_score(self) -> None:
        out = self.client.score("q", b"img", ["x", "y"], facts={"yes_no_answer": False})
        self.assertEqual([r.total for r in out.rewards], [1.0, 2.0])
        self.assertEqual(out.reward_model_version, "rm0")
        self.assertEqual(self.client.score("q", b"img", ["x"], batch=True).reward_model_version, "rm1")
        out = self.client.score("", None, generation_ids=["g1"])
        self.assertEqual(len(out.rewards), 1)

    def test_feedback(self) -> None:
        ack = self.client.submit_preference(
            "q", b"img", "text one", generation_ref("g1"), 2,
            hallucination={"response_1_hallucinated": True},
            facts={"captions": ["a cat"], "correct_choice": None}, idempotency_key="k1")
        self.assertEqual(ack.accepted, 1)
        sent = self.feedback.requests[-1]
        self.assertEqual(sent.response_1.text, "text one")
        self.assertEqual(sent.response_2.generation_id, "g1")
        self.assertFalse(sent.facts.HasField("correct_choice"))
        with self.assertRaises(grpc.RpcError) as err:
            self.client.submit_preference("q", b"img", "a", "b", 3)
        self.assertEqual(err.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        ack = self.client.submit_prompts([
            {"image": b"i", "prompt": "p1", "facts": common_pb2.Facts(choices=["a", "b"])},
            feedback_pb2.RlPrompt(prompt="p2", image=common_pb2.Image(sha256="b" * 64))])
        self.assertEqual(list(ack.feedback_ids), ["f0", "f1"])
        self.client.submit_rating("g1", -1.0)
        self.assertFalse(self.feedback.requests[-1].HasField("hallucinated"))
        self.client.submit_rating("g1", 1.0, hallucinated=False)
        self.assertTrue(self.feedback.requests[-1].HasField("hallucinated"))
        status = self.client.training_status()
        self.assertEqual(status.state, feedback_pb2.TRAINING_STATE_IDLE)

    def test_policy_versions(self) -> None:
        c = self.client
        v1 = c.register_policy_version("v1", "/adapters/v1")
        self.assertEqual((v1.version, v1.parent_version, v1.adapter_path),
                         ("v1", "base", "/adapters/v1"))
        c.register_policy_version("v2", "/adapters/v2", parent_version="v1")
        with self.assertRaises(grpc.RpcError) as err:
            c.register_policy_version("v1", "/adapters/v1")
        self.assertEqual(err.exception.code(), grpc.StatusCode.ALREADY_EXISTS)
        listing = c.list_policy_versions()
        self.assertEqual([v.version for v in listing.versions], ["v2", "v1", "base"])
        self.assertEqual(listing.promoted_version, "base")
        self.assertEqual(len(c.list_policy_versions(limit=1).versions), 1)
        self.assertEqual(c.promote_policy("v1").previous_version, "base")
        self.assertEqual(c.promote_policy("v2").promoted_version, "v2")
        self.assertEqual(c.list_policy_versions().versions[0].promoted, True)
        with self.assertRaises(grpc.RpcError) as err:
            c.retire_policy_version("v2")
        self.assertEqual(err.exception.code(), grpc.StatusCode.FAILED_PRECONDITION)
        rolled = c.rollback_policy()
        self.assertEqual((rolled.previous_version, rolled.promoted_version), ("v2", "v1"))
        c.retire_policy_version("v2")
        self.assertEqual([v.version for v in c.list_policy_versions().versions], ["v1", "base"])
        saved = c.save_checkpoint()
        self.assertEqual((saved.policy_version, saved.path), ("v1", "/state/checkpoints/v1-1"))
        self.assertEqual(c.save_checkpoint("v1", "/x").path, "/x")
        with self.assertRaises(grpc.RpcError) as err:
            c.promote_policy("v9")
        self.assertEqual(err.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_health(self) -> None:
        self.assertEqual(self.client.health(), "SERVING")
        self.assertEqual(self.client.health("rlhfd.v1.Policy"), "NOT_SERVING")
        with self.assertRaises(grpc.RpcError) as err:
            self.client.health("nope")
        self.assertEqual(err.exception.code(), grpc.StatusCode.NOT_FOUND)


if __name__ == "__main__":
    unittest.main()
