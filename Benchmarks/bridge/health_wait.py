#!/usr/bin/env python3
"""Waits (bounded) until grpc.health.v1.Health/Check(service="") answers SERVING.

    python health_wait.py --target 127.0.0.1:50051 --timeout 30
Exit 0 when SERVING, 1 otherwise; prints the last status or error.
"""
import argparse
import sys
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    last = "no answer"
    with grpc.insecure_channel(args.target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    print(f"{args.target}: SERVING")
                    return 0
            except grpc.RpcError as error:
                last = f"{error.code().name}: {error.details()}"
            time.sleep(0.1)
    print(f"{args.target}: not SERVING after {args.timeout:.0f} s ({last})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
