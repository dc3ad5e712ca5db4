"""Slow and silent clients: 8 GenerateStream calls whose client never reads (HTTP/2 window 0,
Tests/Interop/test_stalled_streams.py's StalledClient) and 50 TCP connections that send nothing
(not even the HTTP/2 preface), against a daemon with `stall_timeout_seconds: 2` and
`handshake_timeout_seconds: 2`. Pass: a normal client's Generate p99 stays within 2x its p99
alone (+20 ms for timer noise); the silent connections are closed by the daemon at the handshake
timeout and the stalled streams end (RESOURCE_EXHAUSTED) at the stall timeout; descriptors,
running sequences and KV blocks back to idle."""

from __future__ import annotations

import socket
import time

import pytest

from harness import (generate_request, percentile, proc_status, scheduler_state, start_daemon,
                     wait_until)
from rlhfd_client._proto.rlhfd.v1 import common_pb2, policy_pb2, policy_pb2_grpc
from test_stalled_streams import StalledClient

CONFIG = ("batching:\n  stall_timeout_seconds: 2\n"
          "connections:\n  handshake_timeout_seconds: 2\n")
SILENT, STALLED, CALLS = 50, 8, 20


def latencies(stub, n: int) -> list[float]:
    out = []
    for index in range(n):
        start = time.perf_counter()
        stub.Generate(generate_request(f"Normal {index % 4}", max_new_tokens=8), timeout=30)
        out.append(time.perf_counter() - start)
    return out


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the daemon closed the connection (whatever it sent before, e.g. its SETTINGS
    or a GOAWAY, is read and dropped)."""
    sock.settimeout(0.001)
    try:
        while True:
            if sock.recv(4096) == b"":
                return True
    except socket.timeout:
        return False
    except OSError:
        return True


@pytest.mark.time_limit(120)
def test_slow_and_silent_clients(rlhfd_bin, tmp_path, figures):
    daemon = start_daemon(rlhfd_bin, tmp_path / "slow", CONFIG)
    stalled = None
    silent: list[socket.socket] = []
    try:
        stub = policy_pb2_grpc.PolicyStub(daemon.channel())
        latencies(stub, 3)  # warm-up
        idle_state = scheduler_state(daemon.metrics_port)
        idle = proc_status(daemon.pid)
        alone = latencies(stub, CALLS)
        silent = [socket.create_connection(("127.0.0.1", daemon.port), timeout=2)
                  for _ in range(SILENT)]
        opened = time.monotonic()
        stalled = StalledClient(daemon.port)
        streams = [stalled.open(policy_pb2.GenerateRequest(
            prompt="Tell a long story.", sampling=common_pb2.SamplingParams(max_new_tokens=150)))
            for _ in range(STALLED)]
        time.sleep(1.0)  # their prompts are computed; then they pause, unread
        beside = latencies(stub, CALLS)
        closed, waited = wait_until(lambda: all(closed_by_peer(s) for s in silent), 10, 0.1)
        silent_closed_after = time.monotonic() - opened
        time.sleep(2.5)
        stalled.drain(20)
        codes = sorted({stalled.status.get(s, "none").split(" ")[0] for s in streams})
        stalled.close()
        stalled = None
        for sock in silent:
            sock.close()
        freed, _ = wait_until(lambda: proc_status(daemon.pid)["fds"] <= idle["fds"] + 2
                              and scheduler_state(daemon.metrics_port) == idle_state, 10, 0.1)
        p99_alone, p99_beside = percentile(alone, 99) * 1000, percentile(beside, 99) * 1000
        figures.add(p50_alone_ms=round(percentile(alone, 50) * 1000, 1),
                    p50_beside_ms=round(percentile(beside, 50) * 1000, 1), p99_alone_ms=round(p99_alone, 1), p99_beside_ms=round(p99_beside, 1),
                    silent_closed_after_s=round(silent_closed_after, 2) if closed else None,
                    stalled_status_codes=codes, fds_idle_after=(idle["fds"],
                                                                proc_status(daemon.pid)["fds"]))
        figures.check("others unaffected", p99_beside <= 2 * p99_alone + 20,
                      "a normal client's p99 within 2x alone (+20 ms)", timing=True)
        figures.check("silent closed", bool(closed), "silent connections closed at the handshake timeout")
        figures.check("stalled ended", codes == ["8"], "stalled streams end RESOURCE_EXHAUSTED (8)")
        figures.check("freed", bool(freed), "descriptors, running sequences, KV blocks back to idle")
        figures.assert_all()
    finally:
        if stalled is not None:
            stalled.close()
        for sock in silent:
            sock.close()
        daemon.kill()
