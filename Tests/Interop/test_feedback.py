"""Feedback stored for real: every submission is acknowledged only once it is committed to the
daemon's SQLite database (WAL, synchronous=FULL). Ratings and preferences can point at stored
generations; idempotency keys make retries safe; what was acknowledged survives SIGTERM and
SIGKILL (kill -9 rounds: `KILL_ROUNDS=100 pytest Tests/Interop/test_feedback.py -k kill` runs the
long version; CI runs a few)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import threading
import time
from pathlib import Path

import grpc
import pytest

from interop import RPC_TIMEOUT_S, Daemon, rpc_error
from rlhfd_client._proto.rlhfd.v1 import (
    common_pb2,
    feedback_pb2,
    feedback_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
)

IMAGES = Path(__file__).resolve().parent.parent / "Fixtures" / "images"
PNG = (IMAGES / "rgb_64x48.png").read_bytes()
KILL_ROUNDS = int(os.environ.get("KILL_ROUNDS", "3"))


def preference(key: str, prompt: str = "What is in the image?", **fields):
    values = dict(
        image=common_pb2.Image(data=PNG),
        prompt=prompt,
        response_1=feedback_pb2.ResponseRef(text="A red square."),
        response_2=feedback_pb2.ResponseRef(text="A purple elephant."),
        preferred=1,
        hallucination=feedback_pb2.HallucinationFlags(response_2_hallucinated=True),
        facts=common_pb2.Facts(captions=["A red square on white."]),
        idempotency_key=key,
    )
    values.update(fields)
    return feedback_pb2.PreferenceFeedback(**values)


def start(rlhfd_bin, workdir: Path) -> Daemon:
    return Daemon(rlhfd_bin, workdir, model="default").start()


def test_feedback_is_stored_with_generations_and_idempotency(rlhfd_bin, tmp_path):
    daemon = start(rlhfd_bin, tmp_path)
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        policy = policy_pb2_grpc.PolicyStub(channel)
        generations = [
            policy.Generate(
                policy_pb2.GenerateRequest(
                    prompt="Describe it.",
                    images=[common_pb2.Image(data=PNG)],
                    sampling=common_pb2.SamplingParams(max_new_tokens=6, temperature=0.8, seed=i),
                ),
                timeout=RPC_TIMEOUT_S,
            )
            for i in range(2)
        ]
        rating = feedback.SubmitRating(
            feedback_pb2.RatingFeedback(
                generation_id=generations[0].generation_id, score=0.5, idempotency_key="r-1"
            ),
            timeout=RPC_TIMEOUT_S,
        )
        assert rating.accepted == 1 and rating.feedback_ids[0].startswith("rating-")
        error = rpc_error(
            lambda: feedback.SubmitRating(
                feedback_pb2.RatingFeedback(generation_id="no-such-generation", score=1),
                timeout=RPC_TIMEOUT_S,
            )
        )
        assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()

        first = feedback.SubmitPreference(preference("p-1"), timeout=RPC_TIMEOUT_S)
        assert first.accepted == 1 and not first.duplicate
        again = feedback.SubmitPreference(preference("p-1"), timeout=RPC_TIMEOUT_S)
        assert again.duplicate and list(again.feedback_ids) == list(first.feedback_ids)
        error = rpc_error(
            lambda: feedback.SubmitPreference(preference("p-1", prompt="Other?"), timeout=5)
        )
        assert error.code() == grpc.StatusCode.ALREADY_EXISTS and "p-1" in error.details()
        by_ids = feedback.SubmitPreference(
            preference(
                "p-2",
                response_1=feedback_pb2.ResponseRef(generation_id=generations[0].generation_id),
                response_2=feedback_pb2.ResponseRef(generation_id=generations[1].generation_id),
                preferred=2,
            ),
            timeout=RPC_TIMEOUT_S,
        )
        assert by_ids.accepted == 1

        sha = hashlib.sha256(PNG).hexdigest()  # stored with the preference above
        batch = feedback.SubmitPrompts(
            feedback_pb2.PromptBatch(
                prompts=[
                    feedback_pb2.RlPrompt(image=common_pb2.Image(sha256=sha), prompt=f"Q{i}?")
                    for i in range(3)
                ],
                idempotency_key="b-1",
            ),
            timeout=RPC_TIMEOUT_S,
        )
        assert batch.accepted == 3 and len(set(batch.feedback_ids)) == 3
        unknown = rpc_error(
            lambda: feedback.SubmitPrompts(
                feedback_pb2.PromptBatch(
                    prompts=[
                        feedback_pb2.RlPrompt(image=common_pb2.Image(data=PNG), prompt="Fine?"),
                        feedback_pb2.RlPrompt(image=common_pb2.Image(sha256="ab" * 32), prompt="?"),
                    ]
                ),
                timeout=RPC_TIMEOUT_S,
            )
        )
        assert unknown.code() == grpc.StatusCode.NOT_FOUND, unknown.details()

        expected = (2, 3, 1)  # preferences, prompts (the failed batch stored none), ratings
        assert pending(feedback) == expected
        assert daemon.stop() == 0, daemon.stderr_text()
        # A restart on the same database serves the same records and the same acks.
        daemon = start(rlhfd_bin, tmp_path)
        feedback = feedback_pb2_grpc.FeedbackStub(daemon.channel())
        assert pending(feedback) == expected
        replay = feedback.SubmitPreference(preference("p-1"), timeout=RPC_TIMEOUT_S)
        assert replay.duplicate and list(replay.feedback_ids) == list(first.feedback_ids)
        rated = feedback.SubmitRating(
            feedback_pb2.RatingFeedback(generation_id=generations[1].generation_id, score=-1),
            timeout=RPC_TIMEOUT_S,
        )
        assert rated.accepted == 1  # generations survive the restart too
    finally:
        daemon.kill()


def pending(feedback) -> tuple[int, int, int]:
    status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(), timeout=5)
    assert status.state == feedback_pb2.TRAINING_STATE_DISABLED
    return (status.pending_preferences, status.pending_prompts, status.pending_ratings)


def test_a_second_daemon_on_the_same_database_fails_at_start(rlhfd_bin, tmp_path):
    first = start(rlhfd_bin, tmp_path / "a")
    try:
        store = str(tmp_path / "a" / "feedback.sqlite3")
        second = Daemon(rlhfd_bin, tmp_path / "b", args=["--feedback-store", store])
        second.start(wait=False)
        assert second.wait_exit(20) != 0
        assert "in use by another process" in second.stderr_text(), second.stderr_text()
    finally:
        first.kill()


@pytest.mark.time_limit(60 + 15 * KILL_ROUNDS)
def test_acknowledged_feedback_survives_kill_9(rlhfd_bin, tmp_path):
    """Concurrent submitters; SIGKILL at a random moment; restart: every acknowledged key is
    there (a retry with it is a duplicate with the same ids) and the database is sound."""
    rng = random.Random(7)
    acked: dict[str, list[str]] = {}
    for round_ in range(KILL_ROUNDS):
        daemon = start(rlhfd_bin, tmp_path)
        stop = threading.Event()
        lock = threading.Lock()

        def submit(worker: int) -> None:
            stub = feedback_pb2_grpc.FeedbackStub(daemon.channel())
            for n in range(10_000):
                if stop.is_set():
                    return
                key = f"k-{round_}-{worker}-{n}"
                try:
                    ack = stub.SubmitPreference(preference(key, prompt=key), timeout=10)
                except grpc.RpcError:
                    return  # the daemon died under us: this one was not acknowledged
                with lock:
                    acked[key] = list(ack.feedback_ids)

        workers = [threading.Thread(target=submit, args=(w,)) for w in range(8)]
        for worker in workers:
            worker.start()
        time.sleep(rng.uniform(0.2, 1.5))
        os.kill(daemon.pid, signal.SIGKILL)
        stop.set()
        for worker in workers:
            worker.join(30)
        daemon.process.wait(10)
        daemon.kill()
        database = sqlite3.connect(str(tmp_path / "feedback.sqlite3"))
        assert database.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        database.close()
    assert acked, "nothing was acknowledged"
    print(f"{len(acked)} acknowledged preferences over {KILL_ROUNDS} kill -9 rounds")
    daemon = start(rlhfd_bin, tmp_path)
    try:
        stub = feedback_pb2_grpc.FeedbackStub(daemon.channel())
        assert pending(stub)[0] >= len(acked)
        for key in rng.sample(sorted(acked), min(200, len(acked))):
            replay = stub.SubmitPreference(preference(key, prompt=key), timeout=10)
            assert replay.duplicate and list(replay.feedback_ids) == acked[key], key
    finally:
        daemon.kill()
