"""--max-receive-message-bytes: larger requests are RESOURCE_EXHAUSTED, the connection stays
usable, and requests under the limit round-trip byte-exact."""

from __future__ import annotations

import os

import grpc
import pytest

from interop import SERVING, Daemon, echo, health_check, rpc_error
from rlhfd_client._proto.rlhfd.v1 import (
    common_pb2,
    debug_pb2,
    debug_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
)

LIMIT = 1 << 20  # 1 MiB
# The client may receive large echoes (its own default limit is 4 MiB).
CLIENT_OPTIONS = [("grpc.max_receive_message_length", 16 << 20)]


@pytest.fixture(scope="module")
def limited(rlhfd_bin, tmp_path_factory):
    """A daemon that accepts requests of at most 1 MiB."""
    instance = Daemon(
        rlhfd_bin,
        tmp_path_factory.mktemp("limited-daemon"),
        args=["--max-receive-message-bytes", str(LIMIT)],
        channel_options=CLIENT_OPTIONS,
    )
    try:
        instance.start()
        yield instance
    finally:
        instance.kill()


def test_oversized_request_is_resource_exhausted_and_channel_survives(limited):
    """A 2 MiB Echo is RESOURCE_EXHAUSTED; on the SAME channel a small Echo and a health Check
    succeed right after (the limit fails the call, not the connection)."""
    channel = limited.channel()
    assert echo(channel, b"warm-up") == b"warm-up"  # the connection exists before the big call
    error = rpc_error(lambda: echo(channel, os.urandom(2 << 20), timeout=10))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert echo(channel, b"small") == b"small"
    assert health_check(channel) == SERVING


@pytest.mark.parametrize("size", [LIMIT - 64, 512 << 10, 0, 1])
def test_request_under_the_limit_round_trips_byte_exact(limited, size):
    """Echo payloads under the limit (including 512 KiB and just under 1 MiB with framing)
    come back byte for byte."""
    payload = os.urandom(size)
    assert echo(limited.channel(), payload, timeout=10) == payload


# An EchoRequest with n payload bytes serializes to 1 (tag) + 3 (length varint) + n bytes.
@pytest.mark.parametrize(
    "payload_size, accepted",
    [(LIMIT - 4, True), (LIMIT - 3, False), (LIMIT, False)],
    ids=["exactly-the-limit", "one-byte-over", "payload-of-the-limit"],
)
def test_limit_is_exact_on_the_serialized_message(limited, payload_size, accepted):
    """The limit applies to the serialized request and is inclusive: a message of exactly
    1048576 bytes is accepted, 1048577 is RESOURCE_EXHAUSTED; the channel works after both."""
    channel = limited.channel()
    payload = os.urandom(payload_size)
    if accepted:
        assert echo(channel, payload, timeout=10) == payload
    else:
        error = rpc_error(lambda: echo(channel, payload, timeout=10))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert echo(channel, b"ok") == b"ok"


def test_oversized_message_in_a_bidi_stream_is_resource_exhausted(limited):
    """In EchoStream, a 2 MiB second message ends the stream with RESOURCE_EXHAUSTED after the
    first message was answered; the channel stays usable."""
    channel = limited.channel()
    stub = debug_pb2_grpc.DebugStub(channel)
    messages = [debug_pb2.EchoRequest(payload=b"first"), debug_pb2.EchoRequest(payload=os.urandom(2 << 20))]
    answers = []
    with pytest.raises(grpc.RpcError) as raised:
        for answer in stub.EchoStream(iter(messages), timeout=10):
            answers.append(answer.payload)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, raised.value.details()
    assert answers in ([], [b"first"])
    assert echo(channel, b"ok") == b"ok"


def test_generate_with_oversized_image_is_resource_exhausted(limited):
    """A Generate carrying a 2 MiB image is RESOURCE_EXHAUSTED before any validation runs, and
    the daemon keeps serving on the same channel."""
    channel = limited.channel()
    request = policy_pb2.GenerateRequest(
        prompt="What is in the image?", images=[common_pb2.Image(data=os.urandom(2 << 20))]
    )
    stub = policy_pb2_grpc.PolicyStub(channel)
    error = rpc_error(lambda: stub.Generate(request, timeout=10))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert health_check(channel) == SERVING


def test_repeated_oversized_requests_do_not_break_the_daemon(limited):
    """Ten oversized requests in a row are each RESOURCE_EXHAUSTED; a fresh channel still works
    afterwards and the process is alive."""
    channel = limited.channel()
    payload = os.urandom(3 << 19)  # 1.5 MiB
    for _ in range(10):
        error = rpc_error(lambda: echo(channel, payload, timeout=10))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
    assert echo(limited.channel(), b"fresh") == b"fresh"
    assert limited.running(), limited.stderr_text()


def test_oversized_response_is_resource_exhausted(make_daemon):
    """--max-send-message-bytes caps responses: echoing 2 MiB with a 1 MiB send limit fails
    with RESOURCE_EXHAUSTED (not a hang or a dropped connection); the channel stays usable."""
    daemon = make_daemon(
        args=["--max-send-message-bytes", str(LIMIT), "--max-receive-message-bytes", str(8 << 20)],
        channel_options=CLIENT_OPTIONS,
    )
    channel = daemon.channel()
    error = rpc_error(lambda: echo(channel, os.urandom(2 << 20), timeout=10))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, (error.code(), error.details())
    assert echo(channel, b"small") == b"small"
    assert daemon.running(), daemon.stderr_text()
