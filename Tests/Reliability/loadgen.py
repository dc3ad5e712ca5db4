"""A load generator in its own process (so that its threads do not share the test's GIL):
`python loadgen.py TARGET CLIENTS SECONDS MAX_NEW_TOKENS` runs CLIENTS closed-loop Generate
clients against TARGET for SECONDS and prints one JSON line: counts by status code and the first
message of each non-OK code."""

from __future__ import annotations

import collections
import json
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(REPO / "clients" / "python" / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import grpc  # noqa: E402

from harness import generate_request  # noqa: E402
from rlhfd_client._proto.rlhfd.v1 import policy_pb2_grpc  # noqa: E402


def main() -> None:
    target, clients, seconds, tokens = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    channels = [grpc.insecure_channel(target) for _ in range(4)]
    codes, messages = collections.Counter(), {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        stub = policy_pb2_grpc.PolicyStub(channels[index % len(channels)])
        request = generate_request(f"Load {index}", max_new_tokens=tokens, seed=index)
        while time.monotonic() < stop:
            try:
                stub.Generate(request, timeout=60)
                code = "OK"
            except grpc.RpcError as error:
                code = error.code().name
                with lock:
                    messages.setdefault(code, error.details())
                time.sleep(0.01)  # retry soon, not in a spin
            with lock:
                codes[code] += 1

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    print(json.dumps({"codes": dict(codes), "messages": messages}), flush=True)


if __name__ == "__main__":
    main()
