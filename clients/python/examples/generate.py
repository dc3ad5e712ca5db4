#!/usr/bin/env python3
"""Generate a completion from an rlhfd daemon.

    python examples/generate.py --target 127.0.0.1:50051 --image cat.jpg "What is in the image?"
    python examples/generate.py --stream --max-new-tokens 128 --image cat.jpg "Describe it."
"""

from __future__ import annotations

import argparse
import sys

import grpc

from rlhfd_client import RlhfdClient
from rlhfd_client.pb import policy_pb2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prompt", help="the user turn")
    parser.add_argument("--target", default="127.0.0.1:50051",
                        help="host:port or unix:/path (default: %(default)s)")
    parser.add_argument("--image", action="append", default=[],
                        help="image file, or sha256:<hex> of one sent before (repeatable)")
    parser.add_argument("--max-new-tokens", type=int, default=0, help="0 = server default")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--top-p", type=float, default=0.0, help="0 = off")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--stream", action="store_true", help="print text as it is decoded")
    parser.add_argument("--ca", help="PEM file of the server's CA (enables TLS)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds")
    args = parser.parse_args(argv)

    sampling = dict(max_new_tokens=args.max_new_tokens or None, temperature=args.temperature,
                    top_p=args.top_p, seed=args.seed)
    try:
        with RlhfdClient(args.target, root_certificates=args.ca, timeout=args.timeout) as client:
            if args.stream:
                final = None
                for chunk in client.generate_stream(args.prompt, args.image, **sampling):
                    sys.stdout.write(chunk.text)
                    sys.stdout.flush()
                    if chunk.HasField("final"):
                        final = chunk.final
                print()
            else:
                final = client.generate(args.prompt, args.image, **sampling)
                print(final.text)
    except grpc.RpcError as err:
        print(f"error: {err.code().name}: {err.details()}", file=sys.stderr)
        return 1
    if final is not None:
        reason = policy_pb2.FinishReason.Name(final.finish_reason)
        print(f"[{final.usage.completion_tokens} tokens, finish={reason}, "
              f"policy={final.policy_version}, generation_id={final.generation_id}]",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
