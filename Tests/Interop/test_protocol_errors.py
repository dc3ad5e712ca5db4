"""Calls the daemon cannot route or decode: unknown methods are UNIMPLEMENTED, bytes that are
not a valid protobuf fail the call (never the daemon), and the daemon keeps serving."""

from __future__ import annotations

import grpc
import pytest

from interop import RPC_TIMEOUT_S, SERVING, echo, health_check, rpc_error

UNKNOWN_METHODS = [
    "/rlhfd.v1.Nope/X",
    "/rlhfd.v1.Policy/Nope",
    "/rlhfd.v1.policy/Generate",
    "/grpc.health.v1.Health/Nope",
    "/grpc.reflection.v1alpha.ServerReflection/Nope",
]

# Bytes that no protobuf parser accepts as any message.
GARBAGE = {
    "ff-ff-ff": b"\xff\xff\xff",  # field 0x1f...: unterminated varint tag
    "truncated-length": b"\x0a\xff",  # field 1 (bytes), length varint never ends
    "length-past-end": b"\x0a\x10abc",  # field 1 claims 16 bytes, 3 follow
    "truncated-varint": b"\x08",  # field 1 varint with no value
    "field-number-zero": b"\x00\x01",  # field number 0 is invalid
}


@pytest.mark.parametrize("method", UNKNOWN_METHODS)
def test_unknown_method_is_unimplemented(shared_channel, method):
    """A method path the daemon does not serve is UNIMPLEMENTED, on any service name."""
    call = shared_channel.unary_unary(method)
    error = rpc_error(lambda: call(b"", timeout=RPC_TIMEOUT_S))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED, (method, error.details())


@pytest.mark.parametrize("payload", GARBAGE.values(), ids=GARBAGE.keys())
@pytest.mark.parametrize("method", ["/rlhfd.v1.Debug/Echo", "/rlhfd.v1.Policy/Generate"])
def test_undecodable_request_fails_and_daemon_keeps_serving(make_daemon, method, payload):
    """Raw bytes that are not a valid request protobuf end that call with a non-OK status; the
    same channel, a fresh channel and the process all keep working."""
    daemon = make_daemon()
    channel = daemon.channel()
    call = channel.unary_unary(method)  # no serializer: the bytes go on the wire as they are
    error = rpc_error(lambda: call(payload, timeout=RPC_TIMEOUT_S))
    assert error.code() not in (grpc.StatusCode.OK, grpc.StatusCode.DEADLINE_EXCEEDED), (
        error.code(),
        error.details(),
    )
    assert health_check(channel) == SERVING
    assert echo(channel, b"still here") == b"still here"
    assert health_check(daemon.channel()) == SERVING
    assert daemon.running(), daemon.stderr_text()


def test_undecodable_request_status_code(shared_channel):
    """Records what code a bad request protobuf gets: the gRPC convention is INTERNAL (the
    library's answer) or INVALID_ARGUMENT (an application decoding the bytes itself)."""
    call = shared_channel.unary_unary("/rlhfd.v1.Debug/Echo")
    error = rpc_error(lambda: call(b"\xff\xff\xff", timeout=RPC_TIMEOUT_S))
    assert error.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT), (
        error.code(),
        error.details(),
    )
    assert health_check(shared_channel) == SERVING


def test_empty_request_bytes_are_a_valid_empty_message(shared_channel):
    """Zero bytes are a valid (all-default) protobuf: Echo of an empty message answers OK with
    an empty payload (the failure above is about the bytes, not about raw calls)."""
    call = shared_channel.unary_unary("/rlhfd.v1.Debug/Echo")
    assert call(b"", timeout=RPC_TIMEOUT_S) == b""
