"""Every RPC gets a request id: the client's `x-request-id` when usable, else a new one; it
comes back in the initial metadata (or with an error, in the trailers) and on the daemon's
access-log line for the RPC (log_level debug)."""

from __future__ import annotations

import re

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rlhfd_client._proto.rlhfd.v1 import policy_pb2, policy_pb2_grpc


def initial_id(call) -> str:
    return dict(call.initial_metadata()).get("x-request-id", "")


def test_ids_in_metadata_and_log(make_daemon):
    daemon = make_daemon(args=["--log-level", "debug"])
    channel = daemon.channel()
    health = health_pb2_grpc.HealthStub(channel)
    _, call = health.Check.with_call(health_pb2.HealthCheckRequest(), timeout=5)
    generated = initial_id(call)
    assert re.fullmatch(r"[0-9a-f]{16}", generated), generated
    _, again = health.Check.with_call(health_pb2.HealthCheckRequest(), timeout=5)
    assert initial_id(again) != generated
    _, mine = health.Check.with_call(
        health_pb2.HealthCheckRequest(), timeout=5, metadata=[("x-request-id", "client-42")])
    assert initial_id(mine) == "client-42"
    _, spaced = health.Check.with_call(
        health_pb2.HealthCheckRequest(), timeout=5, metadata=[("x-request-id", "a b")])
    assert re.fullmatch(r"[0-9a-f]{16}", initial_id(spaced)), "an unusable id is replaced"
    # An error (no model: Generate is UNIMPLEMENTED) carries the id in its trailers.
    policy = policy_pb2_grpc.PolicyStub(channel)
    try:
        policy.Generate(policy_pb2.GenerateRequest(prompt="x"), timeout=5,
                        metadata=[("x-request-id", "failing-7")])
        raise AssertionError("Generate without a model succeeded")
    except grpc.RpcError as error:
        trailers = dict(error.trailing_metadata() or ())
        initial = dict(error.initial_metadata() or ())
        assert "failing-7" in (trailers.get("x-request-id"), initial.get("x-request-id")), error
    assert daemon.stop() == 0
    log = daemon.stderr_text()
    assert re.search(r"request_id=client-42.*method=grpc\.health\.v1\.Health/Check", log) or \
        re.search(r"method=grpc\.health\.v1\.Health/Check.*request_id=client-42", log), log[-3000:]
    assert "request_id=failing-7" in log, log[-3000:]


def test_json_log_lines_carry_the_request_id(make_daemon):
    """`--log-format json`: every stderr line is one JSON object with time, level, label,
    message, module; the access-log line of an RPC carries its request_id and method."""
    import json

    daemon = make_daemon(args=["--log-level", "debug", "--log-format", "json"])
    health = health_pb2_grpc.HealthStub(daemon.channel())
    health.Check(health_pb2.HealthCheckRequest(), timeout=5,
                 metadata=[("x-request-id", "json-9")])
    assert daemon.stop() == 0
    lines = [line for line in daemon.stderr_text().splitlines() if line.strip()]
    objects = [json.loads(line) for line in lines]  # every line parses
    assert all({"time", "level", "label", "message", "module"} <= set(o) for o in objects)
    rpc = [o for o in objects if o.get("request_id") == "json-9"]
    assert rpc and rpc[0]["method"] == "grpc.health.v1.Health/Check", objects[-5:]
