#!/usr/bin/env python3
"""Peer server for the bridge benchmark: grpcio's sync server serving grpc.health.v1.Health.

grpc.server(ThreadPoolExecutor(8)) with grpcio-health-checking's HealthServicer, the overall
status ("") set to SERVING, plaintext on 127.0.0.1:PORT. Runs until SIGTERM/SIGINT.

    python py_health_server.py --port 50052
"""
import argparse
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()

    server = grpc.server(ThreadPoolExecutor(max_workers=args.workers))
    servicer = health.HealthServicer()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    address = f"{args.host}:{args.port}"
    if server.add_insecure_port(address) == 0:
        print(f"py_health_server: cannot listen on {address}", file=sys.stderr)
        return 1
    server.start()
    print(f"py_health_server: serving on {address} (grpcio {grpc.__version__})", file=sys.stderr, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
