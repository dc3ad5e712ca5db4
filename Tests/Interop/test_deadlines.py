"""Deadlines, client cancellation and concurrency, with the Debug service's Sleep/Ticks/Echo."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import grpc

from interop import RPC_TIMEOUT_S, SERVING, echo, health_check, rpc_error
from rlhfd_client._proto.rlhfd.v1 import debug_pb2, debug_pb2_grpc


def test_deadline_exceeded_ends_a_long_call_promptly(shared_channel):
    """Sleep(2000 ms) under a 0.3 s deadline ends with DEADLINE_EXCEEDED well within 1 s."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    start = time.monotonic()
    error = rpc_error(lambda: stub.Sleep(debug_pb2.SleepRequest(duration_ms=2000), timeout=0.3))
    elapsed = time.monotonic() - start
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()
    assert 0.25 <= elapsed < 1.0, f"ended after {elapsed:.3f} s"
    assert health_check(shared_channel) == SERVING


def test_sleep_within_deadline_is_ok(shared_channel):
    """Sleep(200 ms) with a 5 s deadline answers OK and reports about 200 ms slept."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    response = stub.Sleep(debug_pb2.SleepRequest(duration_ms=200), timeout=RPC_TIMEOUT_S)
    assert 190 <= response.slept_ms < 1500, response.slept_ms


def test_sleep_over_the_cap_is_invalid_argument(shared_channel):
    """Sleep is capped at 60000 ms; above it is INVALID_ARGUMENT naming duration_ms."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    error = rpc_error(
        lambda: stub.Sleep(debug_pb2.SleepRequest(duration_ms=60001), timeout=RPC_TIMEOUT_S)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert "duration_ms" in error.details()


def test_cancelled_stream_reports_cancelled_and_daemon_keeps_serving(shared_channel):
    """Ticks(1000, every 20 ms) cancelled by the client after 3 ticks: the client sees
    CANCELLED at once, and a following Echo on the same channel works."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    stream = stub.Ticks(debug_pb2.TicksRequest(count=1000, interval_ms=20), timeout=10)
    indices = [next(stream).index for _ in range(3)]
    assert indices == [0, 1, 2]
    start = time.monotonic()
    stream.cancel()
    error = rpc_error(lambda: next(stream))
    assert error.code() == grpc.StatusCode.CANCELLED, error.details()
    assert time.monotonic() - start < 1.0
    assert echo(shared_channel, b"after cancel") == b"after cancel"


def test_short_stream_runs_to_completion(shared_channel):
    """Ticks(5, every 10 ms) sends indices 0..4 in order and ends OK."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    ticks = list(stub.Ticks(debug_pb2.TicksRequest(count=5, interval_ms=10), timeout=5))
    assert [tick.index for tick in ticks] == [0, 1, 2, 3, 4]


def test_stream_deadline_ends_stream_with_deadline_exceeded(shared_channel):
    """A Ticks stream that outlives its 0.5 s deadline ends with DEADLINE_EXCEEDED after some
    ticks (the deadline applies to streams too)."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    stream = stub.Ticks(debug_pb2.TicksRequest(count=1000, interval_ms=50), timeout=0.5)
    received = 0
    start = time.monotonic()
    try:
        for _ in stream:
            received += 1
            assert received < 1000
        raise AssertionError("the stream ended OK before its deadline")
    except grpc.RpcError as error:
        assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error.details()
    assert 1 <= received <= 15, received
    assert time.monotonic() - start < 1.5


def test_fifty_concurrent_echo_calls_all_succeed(shared_channel):
    """50 Echo calls in flight at once from 50 threads on one channel all answer OK with their
    own payload."""

    def one(index: int) -> bytes:
        return echo(shared_channel, f"call-{index}".encode() * 100, timeout=10)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50), timeout=20))
    assert results == [f"call-{index}".encode() * 100 for index in range(50)]


def test_concurrent_sleeps_run_in_parallel(shared_channel):
    """20 Sleep(500 ms) calls at once finish in about 0.5 s, not 10 s: calls do not serialize."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        futures = [
            pool.submit(stub.Sleep, debug_pb2.SleepRequest(duration_ms=500), timeout=10)
            for _ in range(20)
        ]
        slept = [future.result(timeout=15).slept_ms for future in futures]
    elapsed = time.monotonic() - start
    assert all(value >= 490 for value in slept), slept
    assert elapsed < 3.0, f"20 parallel 500 ms sleeps took {elapsed:.2f} s"


def test_more_calls_than_the_stream_limit_queue_and_all_succeed(shared_channel):
    """200 Sleep(300 ms) calls at once on ONE connection (the daemon allows 32 concurrent
    streams per connection): the excess waits in the client and every call answers OK."""
    stub = debug_pb2_grpc.DebugStub(shared_channel)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=200) as pool:
        futures = [
            pool.submit(stub.Sleep, debug_pb2.SleepRequest(duration_ms=300), timeout=15)
            for _ in range(200)
        ]
        slept = [future.result(timeout=20).slept_ms for future in futures]
    assert len(slept) == 200 and min(slept) >= 290, min(slept)
    assert time.monotonic() - start < 5.0
