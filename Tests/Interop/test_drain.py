"""Graceful shutdown: SIGTERM/SIGINT stop accepting, in-flight calls finish within
--drain-timeout (later ones are ended), health watchers see NOT_SERVING, and the exit code is 0."""

from __future__ import annotations

import signal
import threading
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from interop import SERVING, echo, health_check
from rlhfd_client._proto.rlhfd.v1 import debug_pb2, debug_pb2_grpc


class BackgroundSleep:
    """Debug.Sleep(duration_ms) on its own thread; records the outcome and when it ended."""

    def __init__(self, channel: grpc.Channel, duration_ms: int, timeout: float = 15.0):
        self.response = None
        self.error = None
        self.ended_at = None
        self.started_at = time.monotonic()
        stub = debug_pb2_grpc.DebugStub(channel)

        def run():
            try:
                self.response = stub.Sleep(
                    debug_pb2.SleepRequest(duration_ms=duration_ms), timeout=timeout
                )
            except grpc.RpcError as error:
                self.error = error
            finally:
                self.ended_at = time.monotonic()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"the Sleep call did not end within {timeout} s"


def poll_until_unavailable(daemon, budget_s: float = 2.0):
    """New calls on fresh channels, until one fails with UNAVAILABLE; returns the OK calls seen
    and the final status code (bounded by `budget_s`)."""
    deadline = time.monotonic() + budget_s
    successes = 0
    code = None
    while time.monotonic() < deadline:
        channel = grpc.insecure_channel(daemon.target)
        try:
            echo(channel, b"new call", timeout=0.5)
            successes += 1
        except grpc.RpcError as error:
            code = error.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                break
        finally:
            channel.close()
        time.sleep(0.05)
    return successes, code


def test_in_flight_call_completes_and_new_calls_are_unavailable(make_daemon):
    """SIGTERM during a 1.5 s Sleep (drain timeout 5 s): the Sleep still answers OK after its
    full duration, new calls on fresh connections are UNAVAILABLE, and the exit code is 0."""
    daemon = make_daemon(args=["--drain-timeout", "5"])
    sleeper = BackgroundSleep(daemon.channel(), 1500)
    time.sleep(0.3)
    daemon.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    successes, code = poll_until_unavailable(daemon)
    assert sleeper.ended_at is None, "the in-flight call ended before new calls were refused"
    assert code == grpc.StatusCode.UNAVAILABLE, f"new calls got {code} ({successes} OK)"
    assert successes == 0, f"{successes} new calls were accepted 200 ms after SIGTERM"
    sleeper.join(10)
    assert sleeper.error is None, (sleeper.error.code(), sleeper.error.details())
    assert sleeper.response.slept_ms >= 1490, sleeper.response.slept_ms
    daemon.assert_clean_exit(10)
    assert "draining" in daemon.stderr_text()


def test_call_past_the_drain_timeout_is_ended(make_daemon):
    """SIGTERM during a 5 s Sleep with --drain-timeout 1: the call ends (UNAVAILABLE or
    CANCELLED) about 1 s after the signal, not after 5 s, and the exit code is still 0."""
    daemon = make_daemon(args=["--drain-timeout", "1"])
    sleeper = BackgroundSleep(daemon.channel(), 5000)
    time.sleep(0.3)
    signalled_at = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    sleeper.join(6)
    waited = sleeper.ended_at - signalled_at
    assert sleeper.error is not None, f"the Sleep answered OK: {sleeper.response}"
    assert sleeper.error.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
    ), (sleeper.error.code(), sleeper.error.details())
    assert 0.8 <= waited <= 2.5, f"the call ended {waited:.2f} s after SIGTERM"
    daemon.assert_clean_exit(10)


def test_zero_drain_timeout_ends_in_flight_calls_at_once(make_daemon):
    """--drain-timeout 0: SIGTERM ends a 3 s Sleep at once (UNAVAILABLE or CANCELLED); exit 0."""
    daemon = make_daemon(args=["--drain-timeout", "0"])
    sleeper = BackgroundSleep(daemon.channel(), 3000)
    time.sleep(0.3)
    signalled_at = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    sleeper.join(5)
    assert sleeper.error is not None, f"the Sleep answered OK: {sleeper.response}"
    assert sleeper.error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    assert sleeper.ended_at - signalled_at < 1.0
    daemon.assert_clean_exit(10)


def test_health_watch_sees_not_serving_then_ends(make_daemon):
    """A Health.Watch("") stream open at SIGTERM receives NOT_SERVING and then ends (it does
    not hold the drain open); the exit code is 0 well before the 5 s drain timeout."""
    daemon = make_daemon(args=["--drain-timeout", "5"])
    stub = health_pb2_grpc.HealthStub(daemon.channel())
    stream = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert next(stream).status == SERVING
    signalled_at = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    statuses = []
    ending = None
    try:
        for response in stream:
            statuses.append(response.status)
            assert len(statuses) < 10, statuses
    except grpc.RpcError as error:
        ending = error.code()
    assert statuses and statuses[-1] == health_pb2.HealthCheckResponse.NOT_SERVING, statuses
    assert ending != grpc.StatusCode.DEADLINE_EXCEEDED, "the Watch stream did not end"
    daemon.assert_clean_exit(10)
    assert time.monotonic() - signalled_at < 4.0, "the Watch stream held the drain open"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_daemon_exits_zero_on_signal(make_daemon, signum):
    """With nothing in flight, SIGTERM and SIGINT each stop the daemon promptly with exit 0."""
    daemon = make_daemon()
    assert echo(daemon.channel(), b"x") == b"x"
    start = time.monotonic()
    assert daemon.stop(signum, timeout=10) == 0, daemon.stderr_text()
    assert time.monotonic() - start < 3.0
    assert "stopped" in daemon.stderr_text()


def test_sigint_drains_like_sigterm(make_daemon):
    """SIGINT during a 1 s Sleep also drains: the call answers OK and the exit code is 0."""
    daemon = make_daemon(args=["--drain-timeout", "5"])
    sleeper = BackgroundSleep(daemon.channel(), 1000)
    time.sleep(0.3)
    daemon.send_signal(signal.SIGINT)
    sleeper.join(10)
    assert sleeper.error is None, (sleeper.error.code(), sleeper.error.details())
    daemon.assert_clean_exit(10)


def test_existing_connection_gets_unavailable_during_drain(make_daemon):
    """During the drain a new call on an ALREADY connected channel (the one carrying the
    in-flight call) is refused with UNAVAILABLE, not queued until the drain ends."""
    daemon = make_daemon(args=["--drain-timeout", "5"])
    channel = daemon.channel()
    assert health_check(channel) == SERVING
    sleeper = BackgroundSleep(channel, 1500)
    time.sleep(0.3)
    daemon.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as raised:
        echo(channel, b"late", timeout=3)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE, raised.value.details()
    assert time.monotonic() - start < 1.0
    sleeper.join(10)
    assert sleeper.error is None, (sleeper.error.code(), sleeper.error.details())
    daemon.assert_clean_exit(10)


def read_ticks(stream, limit: int = 2000):
    """Reads a Ticks stream to its end; returns (indices, final status code)."""
    indices = []
    try:
        for tick in stream:
            indices.append(tick.index)
            assert len(indices) <= limit
        return indices, grpc.StatusCode.OK
    except grpc.RpcError as error:
        return indices, error.code()


def test_open_server_stream_finishes_within_the_drain(make_daemon):
    """A Ticks stream (40 ticks, 20 ms apart) open at SIGTERM keeps streaming during the drain
    and ends OK with every tick; exit 0."""
    daemon = make_daemon(args=["--drain-timeout", "5"])
    stub = debug_pb2_grpc.DebugStub(daemon.channel())
    stream = stub.Ticks(debug_pb2.TicksRequest(count=40, interval_ms=20), timeout=10)
    assert next(stream).index == 0
    daemon.send_signal(signal.SIGTERM)
    indices, code = read_ticks(stream)
    assert code == grpc.StatusCode.OK, (code, indices)
    assert indices == list(range(1, 40))
    daemon.assert_clean_exit(10)


def test_endless_server_stream_is_ended_by_the_drain_timeout(make_daemon):
    """A Ticks stream that would run 20 s, open at SIGTERM with --drain-timeout 1, is ended
    (UNAVAILABLE or CANCELLED) about 1 s later; exit 0."""
    daemon = make_daemon(args=["--drain-timeout", "1"])
    stub = debug_pb2_grpc.DebugStub(daemon.channel())
    stream = stub.Ticks(debug_pb2.TicksRequest(count=1000, interval_ms=20), timeout=15)
    assert next(stream).index == 0
    signalled_at = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    indices, code = read_ticks(stream)
    waited = time.monotonic() - signalled_at
    assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED), (code, len(indices))
    assert 0.8 <= waited <= 2.5, f"the stream ended {waited:.2f} s after SIGTERM"
    assert indices and indices == list(range(1, len(indices) + 1))
    daemon.assert_clean_exit(10)
