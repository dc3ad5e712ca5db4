"""B2 deadline storm: many Generate calls with deadlines uniform in 1-50 ms, fired faster than
the daemon can serve them. Pass: only OK / DEADLINE_EXCEEDED (RESOURCE_EXHAUSTED counted and
allowed when the queue bound is reached); no crash; afterwards the daemon is SERVING and serves a
normal request, and /metrics shows no leaked sequence or KV block (running, queue, blocks back
to their idle values)."""

from __future__ import annotations

import collections
import random
import time

import grpc
import pytest

from harness import generate_request, pick, scheduler_state, scrape, sample, start_daemon, wait_until
from interop import SERVING, health_check
from rlhfd_client._proto.rlhfd.v1 import policy_pb2_grpc

CALLS = pick(1000, 10000)
IN_FLIGHT = 128


@pytest.mark.time_limit(pick(120, 900))
def test_deadline_storm_leaks_nothing(rlhfd_bin, tmp_path, figures):
    daemon = start_daemon(rlhfd_bin, tmp_path / "storm")
    try:
        channels = [daemon.channel() for _ in range(4)]
        stubs = [policy_pb2_grpc.PolicyStub(c) for c in channels]
        stubs[0].Generate(generate_request(max_new_tokens=2), timeout=30)  # warm-up
        idle = scheduler_state(daemon.metrics_port)
        rng = random.Random(11)
        codes = collections.Counter()
        pending = collections.deque()
        started = time.monotonic()
        for index in range(CALLS):
            while len(pending) >= IN_FLIGHT:
                future = pending.popleft()
                codes[code_of(future)] += 1
            request = generate_request(f"Storm {index % 16}", max_new_tokens=8 + index % 24)
            pending.append(stubs[index % 4].Generate.future(request, timeout=rng.uniform(0.001, 0.05)))
        while pending:
            codes[code_of(pending.popleft())] += 1
        storm_s = time.monotonic() - started
        after, waited = wait_until(
            lambda: (s := scheduler_state(daemon.metrics_port)) == idle and s, 10, 0.05)
        text = scrape(daemon.metrics_port)
        served = policy_pb2_grpc.PolicyStub(daemon.channel()).Generate(
            generate_request(max_new_tokens=4), timeout=30)
        figures.add(calls=CALLS, storm_s=round(storm_s, 2), rate_per_s=round(CALLS / storm_s),
                    codes=dict(codes), settle_s=round(waited, 3),
                    after=scheduler_state(daemon.metrics_port),
                    decode_tokens=sample(text, "rlhfd_scheduler_tokens_total", model="policy",
                                         kind="decode"))
        figures.check("codes", set(codes) <= {"OK", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"},
                      "only OK / DEADLINE_EXCEEDED (RESOURCE_EXHAUSTED at the queue bound)")
        figures.check("serving", health_check(daemon.channel()) == SERVING and bool(served.text
                      or served.usage.completion_tokens >= 0), "SERVING and serves afterwards")
        figures.check("no leaks", bool(after), "running, queue, KV blocks back to idle")
        figures.check("alive", daemon.running() and not daemon.error_lines(),
                      "no crash, nothing logged at error level")
        figures.assert_all()
    finally:
        daemon.kill()


def code_of(future) -> str:
    try:
        future.result()
        return "OK"
    except grpc.RpcError as error:
        return error.code().name
