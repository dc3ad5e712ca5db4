#!/usr/bin/env python3
"""How fast a full queue says no: starts rlhfd (embedded default model) with one batch slot and
no waiting room, keeps the slot busy (a thread sends long generations back to back), then sends
--requests Generate calls one after another and times each RESOURCE_EXHAUSTED answer on the
client (so the figure includes grpcio's own overhead); probes that find the slot free between
two holders get through and are only counted.
Goal (issue 4): p99 ≤ 5 ms.

    reject.py --rlhfd .build-release/release/rlhfd [--requests 500]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

import grpc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
sys.path.insert(0, os.path.join(ROOT, "Benchmarks", "bridge"))
from rlhfd_client._proto.rlhfd.v1 import common_pb2, policy_pb2, policy_pb2_grpc  # noqa: E402


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rlhfd", required=True)
    ap.add_argument("--requests", type=int, default=500)
    a = ap.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as work:
        config = os.path.join(work, "rlhfd.yaml")
        with open(config, "w") as f:
            f.write("batching:\n  max_batch_size: 1\n  step_token_budget: 64\n"
                    "  max_waiting_requests: 0\n")
        daemon = subprocess.Popen(
            [a.rlhfd, "serve", "--listen", f"127.0.0.1:{port}", "--config", config],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            channel = grpc.insecure_channel(f"127.0.0.1:{port}")
            grpc.channel_ready_future(channel).result(timeout=30)
            stub = policy_pb2_grpc.PolicyStub(channel)
            busy = policy_pb2.GenerateRequest(
                prompt="Go on", sampling=common_pb2.SamplingParams(
                    max_new_tokens=150, temperature=1.0, seed=1))
            for _ in range(300):  # wait until the model is loaded
                try:
                    stub.Generate(policy_pb2.GenerateRequest(prompt="Hi", sampling=common_pb2.SamplingParams(max_new_tokens=1)), timeout=5)
                    break
                except grpc.RpcError:
                    time.sleep(0.1)
            stop = threading.Event()

            def hold() -> None:
                while not stop.is_set():
                    try:
                        stub.Generate(busy, timeout=60)
                    except grpc.RpcError:
                        pass

            holder = threading.Thread(target=hold, daemon=True)
            holder.start()
            time.sleep(0.05)
            times, others = [], 0
            probe = policy_pb2.GenerateRequest(prompt="Hi", sampling=common_pb2.SamplingParams(max_new_tokens=1))
            for _ in range(a.requests):
                t = time.perf_counter()
                try:
                    stub.Generate(probe, timeout=5)
                    others += 1
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                        raise
                    times.append(time.perf_counter() - t)
            stop.set()
            holder.join(timeout=60)
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    times.sort()
    if not times:
        print("no request was rejected (the holder finished too soon)")
        return 1
    p = lambda q: times[min(len(times) - 1, int(q * len(times)))] * 1e3  # noqa: E731
    print(f"reject latency over {len(times)} RESOURCE_EXHAUSTED answers ({others} got through): "
          f"p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms, max {times[-1] * 1e3:.2f} ms (goal p99 ≤ 5 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
