"""Prometheus /metrics over HTTP (`--metrics-listen`): after a Generate, the scheduler's series
(tokens, running, KV blocks, TTFT histogram) are scraped in Prometheus's text format; a bad or
busy metrics address stops the start with a clear message."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import grpc
import pytest

from interop import free_port
from rlhfd_client._proto.rlhfd.v1 import feedback_pb2, feedback_pb2_grpc, policy_pb2, policy_pb2_grpc


def scrape(port: int, path: str = "/metrics") -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status, reply.headers["Content-Type"], reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the first sample of `name` whose labels include `labels`."""
    for line in text.splitlines():
        found = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if found and all(f'{k}="{v}"' in (found.group(1) or "") for k, v in labels.items()):
            return float(found.group(2))
    raise AssertionError(f"no sample {name} {labels} in:\n{text}")


def test_metrics_after_a_generate(make_daemon):
    port = free_port()
    daemon = make_daemon(model="default", args=["--metrics-listen", f"127.0.0.1:{port}"])
    stub = policy_pb2_grpc.PolicyStub(daemon.channel())
    reply = stub.Generate(
        policy_pb2.GenerateRequest(prompt="hello", sampling={"max_new_tokens": 4}), timeout=30)
    # A rating of that generation (stored in the background: NOT_FOUND until it is).
    feedback = feedback_pb2_grpc.FeedbackStub(daemon.channel())
    for _ in range(50):
        try:
            feedback.SubmitRating(feedback_pb2.RatingFeedback(
                generation_id=reply.generation_id, score=1.0), timeout=5)
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND, error
            time.sleep(0.1)
    status, kind, text = scrape(port)
    assert status == 200 and kind.startswith("text/plain; version=0.0.4"), (status, kind)
    assert sample(text, "rlhfd_feedback_acks_total", kind="rating", outcome="accepted") == 1
    assert sample(text, "rlhfd_feedback_ack_seconds_count", kind="rating") == 1
    decoded = sample(text, "rlhfd_scheduler_tokens_total", model="policy", kind="decode")
    assert decoded >= len(reply.token_ids) - 1, text
    assert sample(text, "rlhfd_scheduler_tokens_total", model="policy", kind="prefill") > 0
    assert sample(text, "rlhfd_scheduler_running", model="policy") == 0
    assert sample(text, "rlhfd_scheduler_time_to_first_token_seconds_count", model="policy") >= 1
    assert "# TYPE rlhfd_scheduler_time_to_first_token_seconds histogram" in text, text
    assert scrape(port, "/nothing")[0] == 404
    assert daemon.stop() == 0, daemon.stderr_text()


@pytest.mark.parametrize("address", ["localhost:9464", "127.0.0.1:notaport"])
def test_bad_metrics_address_is_a_start_error(make_daemon, address):
    daemon = make_daemon(args=["--metrics-listen", address], start=False).start(wait=False)
    assert daemon.wait_exit(15) != 0
    assert "metrics_listen" in daemon.stderr_text(), daemon.stderr_text()


def test_busy_metrics_port_is_a_start_error(make_daemon):
    port = free_port()
    first = make_daemon(args=["--metrics-listen", f"127.0.0.1:{port}"])
    second = make_daemon(args=["--metrics-listen", f"127.0.0.1:{port}"], start=False)
    second.start(wait=False)
    assert second.wait_exit(15) != 0
    assert "cannot listen" in second.stderr_text(), second.stderr_text()
    assert first.stop() == 0
