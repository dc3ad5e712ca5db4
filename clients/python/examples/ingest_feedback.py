#!/usr/bin/env python3
"""Replay a preference JSON file (LLaVA-Human-Preference-10K's layout) through the Feedback API.

    python examples/ingest_feedback.py --target 127.0.0.1:50051 --images DIR preferences.json

Each record becomes a `SubmitPreference` with the image bytes from DIR and an idempotency key
made of the file's name and the record's id (`import:FILE:ID`, the key `rlhfd import` uses), so
a replay -- or a retry after a lost ack -- stores nothing twice: the daemon answers
`duplicate`. UNAVAILABLE, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED are retried with jittered
exponential backoff (the daemon restarting, full, or slow); any other error rejects the record.
Progress goes to stderr (a bar on a terminal, plain lines otherwise); a summary to stdout.
Exit status: 0 every record acknowledged, 1 some rejected or given up on, 2 bad usage.

Fields read: id, image, conversations (the first human turn, without `<image>`), output_1,
output_2, preference, hallucination, and if present hallucination_1, hallucination_2,
captions, choices, correct_choice, yes_no_answer. The logic lives in `rlhfd_client.ingest`,
shared with `rlhfctl feedback import` (the same, plus TLS and token options).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

from rlhfd_client import RlhfdClient
from rlhfd_client.ingest import (FAST_RECONNECT, Progress, RetryPolicy, import_preferences,
                                 load_records)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="preference JSON file (a list of records)")
    parser.add_argument("--images", type=Path, required=True, help="folder of the `image` files")
    parser.add_argument("--target", default="127.0.0.1:50051",
                        help="host:port or unix:/path (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per attempt")
    parser.add_argument("--initial-backoff", type=float, default=0.1, help="seconds")
    parser.add_argument("--max-backoff", type=float, default=5.0, help="seconds")
    parser.add_argument("--give-up-after", type=float, default=120.0,
                        help="seconds of retrying one record before rejecting it")
    parser.add_argument("--ids-out", type=Path, help="write {key: feedback_ids} as JSON here")
    parser.add_argument("--ca", help="PEM file of the server's CA (enables TLS)")
    args = parser.parse_args(argv)
    try:
        records = load_records(args.file)
    except (OSError, ValueError) as error:
        print(f"ingest_feedback: {args.file} is not a JSON list of records: {error}",
              file=sys.stderr)
        return 2

    retry = RetryPolicy(timeout=args.timeout, initial_backoff=args.initial_backoff,
                        max_backoff=args.max_backoff, give_up_after=args.give_up_after)
    with RlhfdClient(args.target, root_certificates=args.ca, timeout=args.timeout,
                     channel_options=FAST_RECONNECT) as client:
        tally = import_preferences(client, args.file, records, args.images,
                                   concurrency=args.concurrency, retry=retry,
                                   progress=Progress(args.file.name, len(records)))

    print("\n".join(tally.summary(args.file)))
    if args.ids_out:
        args.ids_out.write_text(json.dumps(tally.ids, indent=1, sort_keys=True))
    return 1 if tally.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
