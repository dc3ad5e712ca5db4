"""A3 overload: capacity C = max_batch_size + max_waiting_requests requests in the daemon at
once; 2C closed-loop clients offer twice that. Pass: the excess is RESOURCE_EXHAUSTED with a
message naming the queue; reject latency p99 <= 5 ms (measured by a probe client in the test
process every 20 ms while loadgen.py runs the load in another, so it includes the Python client);
once the load stops, a request is admitted again within 5 s and the queue drains;
the daemon never restarts. The compute threads run `compute_nice` (default 10) nice levels below
the threads that serve calls, preprocessing 5 more (docs/reliability.md, "Overload")."""

from __future__ import annotations

import collections
import json
import os
import time

import grpc
import pytest

from harness import (generate_request, percentile, pick, scheduler_state, start_daemon,
                     start_load, thread_priorities, wait_until)
from rlhfd_client._proto.rlhfd.v1 import policy_pb2_grpc

BATCH, WAITING = 4, 4
CAPACITY = BATCH + WAITING
DURATION_S = pick(15, 120)
CONFIG = f"batching:\n  max_batch_size: {BATCH}\n  max_waiting_requests: {WAITING}\n"
COMPUTE_NICE = 10  # the default
# Thread name -> nice value relative to the process.
EXPECTED_NICE = {"grpc-poller": 0, "policy-step": COMPUTE_NICE, "reward-step": COMPUTE_NICE,
                 "engine-pool": COMPUTE_NICE, "blas": COMPUTE_NICE,
                 "image-encoder": COMPUTE_NICE, "preprocess": COMPUTE_NICE + 5}


@pytest.mark.time_limit(DURATION_S + 90)
def test_overload_at_twice_capacity(rlhfd_bin, tmp_path, figures):
    daemon = start_daemon(rlhfd_bin, tmp_path / "overload", CONFIG)
    try:
        load = start_load(daemon.target, 2 * CAPACITY, DURATION_S)
        # Reject latency: a probe on its own channel every 20 ms while the load runs.
        stub = policy_pb2_grpc.PolicyStub(daemon.channel())
        probe = generate_request("Probe", max_new_tokens=32)
        codes, ok_latency, reject_latency, messages = collections.Counter(), [], [], set()
        time.sleep(1.0)  # the load fills the daemon first
        while load.poll() is None:
            start = time.perf_counter()
            try:
                stub.Generate(probe, timeout=60)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
                if code == "RESOURCE_EXHAUSTED":
                    messages.add(error.details())
            elapsed = time.perf_counter() - start
            codes[code] += 1
            (ok_latency if code == "OK" else reject_latency).append(elapsed)
            time.sleep(0.02)
        out, err = load.communicate(timeout=60)
        result = json.loads(out.strip().splitlines()[-1])
        for code, count in result["codes"].items():
            codes[code] += count
        if "RESOURCE_EXHAUSTED" in result["messages"]:
            messages.add(result["messages"]["RESOURCE_EXHAUSTED"])
        load_stopped = time.monotonic()
        threads = thread_priorities(daemon.pid)
        # Recovery: a fresh request is admitted and served, and nothing waits any more.

        def admitted():
            try:
                stub.Generate(generate_request("After the storm", max_new_tokens=4), timeout=10)
            except grpc.RpcError as error:
                return error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED and error.code().name
            state = scheduler_state(daemon.metrics_port)
            return state["queue_depth"] == 0 and "OK"

        result, _ = wait_until(admitted, timeout=10, interval=0.05)
        recovery = time.monotonic() - load_stopped
        p99 = percentile(reject_latency, 99) * 1000
        figures.add(capacity=CAPACITY, clients=2 * CAPACITY, duration_s=DURATION_S,
                    calls=dict(codes),
                    goodput_per_s=round(codes["OK"] / DURATION_S, 2),
                    reject_p50_ms=round(percentile(reject_latency, 50) * 1000, 2),
                    reject_p99_ms=round(p99, 2),
                    reject_max_ms=round(max(reject_latency, default=0) * 1000, 2),
                    admitted_p99_ms=round(percentile(ok_latency, 99) * 1000, 1),
                    recovery_s=round(recovery, 3), message=sorted(messages)[:1],
                    thread_nice={name: sorted(set(values)) for name, values in threads.items()
                                 if name in EXPECTED_NICE})
        figures.check("rejected as RESOURCE_EXHAUSTED", codes["RESOURCE_EXHAUSTED"] > 0
                      and set(codes) <= {"OK", "RESOURCE_EXHAUSTED"},
                      "excess RESOURCE_EXHAUSTED, nothing else but OK")
        figures.check("clear message", all("queue" in m for m in messages),
                      "the message names the full queue")
        figures.check("reject p99", p99 <= 5.0, "reject latency p99 <= 5 ms",
                      timing=True)
        figures.check("recovered", result == "OK", "admitted and served again after the load")
        figures.check("recovery", recovery <= 5.0, "within 5 s of the load stopping", timing=True)
        figures.check("no restart", daemon.running(), "no crash or restart")
        base = os.getpriority(os.PRIO_PROCESS, daemon.pid)
        figures.check("compute priority",
                      all(threads.get(name) and set(threads[name]) == {min(19, base + nice)}
                          for name, nice in EXPECTED_NICE.items()),
                      "compute threads below the threads that serve calls (by name)")
        figures.assert_all()
    finally:
        daemon.kill()
