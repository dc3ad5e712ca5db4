"""Retention in the real daemon: the `retention:` limits are enforced by the pruning worker
off the serving path; a generation that feedback rated stays (and counts), the oldest others
go past the limit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from interop import Daemon
from rlhfd_client._proto.rlhfd.v1 import (
    common_pb2,
    feedback_pb2,
    feedback_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
)

PNG = (Path(__file__).resolve().parent.parent / "Fixtures" / "images" / "rgb_64x48.png").read_bytes()


def stored_generations(store: Path) -> set:
    database = sqlite3.connect(str(store))
    try:
        return {row[0] for row in database.execute("SELECT id FROM generations")}
    finally:
        database.close()


@pytest.mark.time_limit(120)
def test_the_count_limit_prunes_all_but_rated_generations(rlhfd_bin, tmp_path):
    config = tmp_path / "rlhfd.yaml"
    config.write_text("retention:\n  max_generations: 2\n  interval_seconds: 0.2\n"
                      "  batch_size: 2\n")
    daemon = Daemon(rlhfd_bin, tmp_path, model="default", args=["--config", str(config)]).start()
    try:
        channel = daemon.channel()
        policy = policy_pb2_grpc.PolicyStub(channel)
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        ids = []
        for n in range(6):
            response = policy.Generate(policy_pb2.GenerateRequest(
                prompt=f"Describe image {n}.", images=[common_pb2.Image(data=PNG)],
                sampling=common_pb2.SamplingParams(max_new_tokens=2, seed=n)), timeout=60)
            ids.append(response.generation_id)
            if n == 0:
                time.sleep(0.5)  # committed (in the background) before it is rated
                feedback.SubmitRating(feedback_pb2.RatingFeedback(
                    generation_id=ids[0], score=1.0, idempotency_key="r0"), timeout=10)
        store = tmp_path / "feedback.sqlite3"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            kept = stored_generations(store)
            if len(kept) <= 2 and ids[-1] in kept:
                break
            time.sleep(0.1)
        # At most 2 kept, and the rated one (oldest) is one of them.
        assert kept == {ids[0], ids[5]}, (kept, ids)
        # The worker logs after its commit: the line may come a moment after the rows go.
        while "retention pruned generations" not in daemon.stderr_text() \
                and time.monotonic() < deadline + 10:
            time.sleep(0.1)
        assert "retention pruned generations" in daemon.stderr_text()
    finally:
        daemon.kill()
