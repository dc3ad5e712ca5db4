"""Client-streaming and bidirectional calls (Debug.Concat, Debug.EchoStream): ordering,
half-close, cancellation and deadlines through the bridge."""

from __future__ import annotations

import os
import queue
import time

import grpc

from interop import SERVING, echo, health_check, rpc_error
from rlhfd_client._proto.rlhfd.v1 import debug_pb2, debug_pb2_grpc


def requests(payloads):
    for payload in payloads:
        yield debug_pb2.EchoRequest(payload=payload)


def test_concat_joins_payloads_in_order(shared_channel):
    """Concat of 20 chunks (including empty ones) answers their concatenation, in order."""
    chunks = [os.urandom(i * 97) for i in range(20)]
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    response = stub.Concat(requests(chunks), timeout=5)
    assert response.payload == b"".join(chunks)


def test_concat_of_no_messages_is_empty(shared_channel):
    """A client stream closed without any message is a valid Concat: an empty payload."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    assert stub.Concat(iter(()), timeout=5).payload == b""


def test_echo_stream_answers_each_message_in_order(shared_channel):
    """EchoStream answers 50 messages one for one, in order, then ends OK on half-close."""
    payloads = [f"message-{i}".encode() for i in range(50)]
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    answers = [r.payload for r in stub.EchoStream(requests(payloads), timeout=5)]
    assert answers == payloads


def test_echo_stream_is_interactive(shared_channel):
    """EchoStream answers each message before the next is sent (a true bidirectional stream,
    not a buffered one): each answer arrives while the request stream is still open."""
    outbox: queue.Queue = queue.Queue()

    def generator():
        for _ in range(5):
            item = outbox.get(timeout=5)
            if item is None:
                return
            yield debug_pb2.EchoRequest(payload=item)

    stub = debug_pb2_grpc.DebugStub(shared_channel)
    stream = stub.EchoStream(generator(), timeout=10)
    try:
        for index in range(3):
            outbox.put(f"ping-{index}".encode())
            assert next(stream).payload == f"ping-{index}".encode()
    finally:
        outbox.put(None)
    assert list(stream) == []


def test_cancelled_bidi_stream_leaves_daemon_serving(shared_channel):
    """Cancelling an EchoStream whose request stream is still open ends it with CANCELLED on
    the client; the same channel keeps working."""
    outbox: queue.Queue = queue.Queue()

    def generator():
        for _ in range(100):
            item = outbox.get(timeout=5)
            if item is None:
                return
            yield debug_pb2.EchoRequest(payload=item)

    stub = debug_pb2_grpc.DebugStub(shared_channel)
    stream = stub.EchoStream(generator(), timeout=10)
    outbox.put(b"one")
    assert next(stream).payload == b"one"
    stream.cancel()
    outbox.put(None)
    error = rpc_error(lambda: next(stream))
    assert error.code() == grpc.StatusCode.CANCELLED, error.details()
    assert echo(shared_channel, b"after") == b"after"
    assert health_check(shared_channel) == SERVING


def test_concat_that_never_half_closes_hits_its_deadline(shared_channel):
    """A client stream that stays open past its 0.5 s deadline ends with DEADLINE_EXCEEDED."""

    def slow():
        yield debug_pb2.EchoRequest(payload=b"a")
        time.sleep(2)  # bounded: the call is over long before this returns
        yield debug_pb2.EchoRequest(payload=b"b")

    stub = debug_pb2_grpc.DebugStub(shared_channel)
    start = time.monotonic()
    error = rpc_error(lambda: stub.Concat(slow(), timeout=0.5))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()
    assert time.monotonic() - start < 1.5
