#!/usr/bin/env python3
"""Python grpcio client load for the bridge benchmark (the spike's "4 threads, 1 process" shape).

One channel, N threads each calling the blocking Health.Check(service="") in a loop. After the
warmup it prints `MEASURE_START` on stdout, after the measured window `MEASURE_END`, then one JSON
line with the results of the measured window only. The driver samples the server's CPU when it
reads the two markers. Stops by itself after warmup + duration (+ one call timeout).

    python py_client_load.py --target 127.0.0.1:50051 --threads 4 --warmup 2 --duration 5
"""
import argparse
import json
import os
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

CALL_TIMEOUT_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()

    channel = grpc.insecure_channel(args.target)
    stub = health_pb2_grpc.HealthStub(channel)
    request = health_pb2.HealthCheckRequest(service="")
    serving = health_pb2.HealthCheckResponse.SERVING

    # phase: 0 warmup, 1 measured, 2 stop. Each thread keeps its own lists (no lock per call).
    phase = [0]
    per_thread = []

    def worker(results):
        latencies, not_serving, errors = results["lat"], [0], {}
        call = stub.Check
        perf = time.perf_counter
        while phase[0] != 2:
            start = perf()
            measured = phase[0] == 1
            try:
                response = call(request, timeout=CALL_TIMEOUT_S)
                ok = True
            except grpc.RpcError as error:  # a non-OK status: count it, never hide it
                ok = False
                code = error.code().name if error.code() else "UNKNOWN"
            end = perf()
            if measured and phase[0] == 1:  # completed inside the measured window
                if ok:
                    latencies.append(end - start)
                    if response.status != serving:
                        not_serving[0] += 1
                else:
                    errors[code] = errors.get(code, 0) + 1
        results["not_serving"] = not_serving[0]
        results["errors"] = errors

    threads = []
    for _ in range(args.threads):
        results = {"lat": []}
        per_thread.append(results)
        thread = threading.Thread(target=worker, args=(results,), daemon=True)
        thread.start()
        threads.append(thread)

    time.sleep(args.warmup)
    cpu0 = os.times()
    phase[0] = 1
    t0 = time.perf_counter()
    print("MEASURE_START", flush=True)
    time.sleep(args.duration)
    phase[0] = 2
    t1 = time.perf_counter()
    cpu1 = os.times()
    print("MEASURE_END", flush=True)
    for thread in threads:
        thread.join(timeout=CALL_TIMEOUT_S + 1)
    channel.close()

    latencies = sorted(x for r in per_thread for x in r["lat"])
    errors = {}
    for r in per_thread:
        for code, n in r.get("errors", {}).items():
            errors[code] = errors.get(code, 0) + n
    elapsed = t1 - t0
    n = len(latencies)

    def pct(p):
        return latencies[min(n - 1, int(p * n))] if n else None

    client_cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(json.dumps({
        "requests_ok": n,
        "errors": errors,
        "not_serving": sum(r.get("not_serving", 0) for r in per_thread),
        "elapsed_s": elapsed,
        "req_per_s": n / elapsed if elapsed > 0 else 0.0,
        "mean_latency_us": (sum(latencies) / n * 1e6) if n else None,
        "p50_latency_us": pct(0.50) * 1e6 if n else None,
        "p99_latency_us": pct(0.99) * 1e6 if n else None,
        "client_cpu_percent": 100.0 * client_cpu_s / elapsed if elapsed > 0 else None,
        "grpcio": grpc.__version__,
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
