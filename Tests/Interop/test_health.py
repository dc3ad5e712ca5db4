"""grpc.health.v1.Health against the real daemon (doc/health-checking.md)."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from interop import RPC_TIMEOUT_S, rpc_error

Status = health_pb2.HealthCheckResponse

SERVED_SERVICES = [
    "rlhfd.v1.Policy",
    "rlhfd.v1.Reward",
    "rlhfd.v1.Feedback",
    "rlhfd.v1.Admin",
    "grpc.health.v1.Health",
    "rlhfd.v1.Debug",  # served because the fixture passes --debug-service
]

UNKNOWN_SERVICES = ["rlhfd.v1.Nope", "rlhfd.v1.policy", "Policy", " ", "rlhfd.v2.Policy"]


def _check(channel, service):
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT_S)


def _first_watch_status(channel, service):
    """Opens Watch(service), returns the first status and cancels the stream."""
    stub = health_pb2_grpc.HealthStub(channel)
    stream = stub.Watch(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT_S)
    try:
        return next(stream).status
    finally:
        stream.cancel()


def test_overall_health_is_serving(shared_channel):
    """Check("") (the daemon as a whole) answers SERVING once the daemon is up."""
    assert _check(shared_channel, "").status == Status.SERVING


@pytest.mark.parametrize("service", SERVED_SERVICES)
def test_each_served_service_is_serving(shared_channel, service):
    """Every fully qualified service name the daemon serves has its own SERVING entry."""
    assert _check(shared_channel, service).status == Status.SERVING


@pytest.mark.parametrize("service", UNKNOWN_SERVICES)
def test_unknown_service_is_not_found(shared_channel, service):
    """Check of a name the daemon does not serve is NOT_FOUND (names are exact, case-sensitive)."""
    error = rpc_error(lambda: _check(shared_channel, service))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()


def test_debug_service_is_unknown_without_the_flag(make_daemon):
    """Without --debug-service, rlhfd.v1.Debug is neither healthy nor callable."""
    daemon = make_daemon(debug_service=False)
    channel = daemon.channel()
    error = rpc_error(lambda: _check(channel, "rlhfd.v1.Debug"))
    assert error.code() == grpc.StatusCode.NOT_FOUND, error.details()
    echo = channel.unary_unary("/rlhfd.v1.Debug/Echo")
    error = rpc_error(lambda: echo(b"", timeout=RPC_TIMEOUT_S))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED, error.details()


@pytest.mark.parametrize("service", ["", "rlhfd.v1.Policy", "rlhfd.v1.Debug"])
def test_watch_sends_serving_first(shared_channel, service):
    """Watch sends the current status (SERVING) at once, before any change."""
    assert _first_watch_status(shared_channel, service) == Status.SERVING


def test_watch_of_unknown_service_sends_service_unknown(shared_channel):
    """Watch of an unknown name answers SERVICE_UNKNOWN instead of failing the stream."""
    assert _first_watch_status(shared_channel, "rlhfd.v1.Nope") == Status.SERVICE_UNKNOWN


def test_watch_stream_stays_open_until_its_deadline(shared_channel):
    """After the first status, a Watch stream stays open (no status change, no end) until the
    client's deadline, which ends it with DEADLINE_EXCEEDED."""
    stub = health_pb2_grpc.HealthStub(shared_channel)
    stream = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=0.5)
    assert next(stream).status == Status.SERVING
    error = rpc_error(lambda: next(stream))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()
