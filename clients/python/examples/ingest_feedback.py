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
captions, choices, correct_choice, yes_no_answer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import grpc

from rlhfd_client import RlhfdClient
from rlhfd_client.pb import common_pb2, feedback_pb2

RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
             grpc.StatusCode.DEADLINE_EXCEEDED}


def idempotency_key(file_name: str, record_id: Optional[str], index: int) -> str:
    """`import:FILE:ID` (position when there is no id); hashed when longer than 128 bytes."""
    rid = record_id if record_id is not None else f"#{index}"
    key = f"import:{file_name}:{rid}"
    if len(key.encode()) <= 128:
        return key
    return "import:" + hashlib.sha256(f"{file_name}\0{rid}".encode()).hexdigest()


def prompt_of(record: dict) -> str:
    turns = record.get("conversations") or []
    if not turns or turns[0].get("from") != "human":
        raise ValueError("conversations must start with a human turn")
    text = turns[0].get("value", "")
    if text.startswith("<image>\n"):
        return text[len("<image>\n"):]
    if text.endswith("\n<image>"):
        return text[: -len("\n<image>")]
    return text.replace("<image>", "")


def message(record: dict, images: Path, key: str) -> feedback_pb2.PreferenceFeedback:
    """The SubmitPreference request of one record (the daemon validates it)."""
    image = images / str(record.get("image", ""))
    facts = None
    if any(k in record for k in ("captions", "choices", "correct_choice", "yes_no_answer")):
        facts = common_pb2.Facts(captions=record.get("captions") or [],
                                 choices=record.get("choices") or [])
        if record.get("correct_choice") is not None:
            facts.correct_choice = record["correct_choice"]
        if record.get("yes_no_answer") is not None:
            facts.yes_no_answer = record["yes_no_answer"]
    return feedback_pb2.PreferenceFeedback(
        image=common_pb2.Image(data=image.read_bytes()),
        prompt=prompt_of(record),
        response_1=feedback_pb2.ResponseRef(text=record["output_1"]["value"]),
        response_2=feedback_pb2.ResponseRef(text=record["output_2"]["value"]),
        preferred=int(record.get("preference", 0)),
        hallucination=feedback_pb2.HallucinationFlags(
            response_1_hallucinated=bool(record.get("hallucination_1", False)),
            response_2_hallucinated=bool(record.get("hallucination_2", False)),
            dataset_flag=bool(record.get("hallucination", False))),
        facts=facts,
        idempotency_key=key,
    )


class Progress:
    """A bar redrawn in place on a terminal (10/s at most), plain lines every 10 % otherwise."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total = label, total
        self.tty = sys.stderr.isatty()
        self.last_draw = 0.0
        self.last_tenth = -1

    def update(self, done: int, detail: str) -> None:
        fraction = done / self.total if self.total else 1.0
        if self.tty:
            now = time.monotonic()
            if done != self.total and now - self.last_draw < 0.1:
                return
            self.last_draw = now
            bar = "#" * int(fraction * 30)
            sys.stderr.write(f"\r\x1b[2K{self.label} [{bar:-<30}] {int(fraction * 100)}% "
                             f"{done}/{self.total} {detail}")
            if done == self.total:
                sys.stderr.write("\n")
        else:
            tenth = int(fraction * 10)
            if tenth == self.last_tenth:
                return
            self.last_tenth = tenth
            sys.stderr.write(f"{self.label}: {done}/{self.total} ({tenth * 10}%) {detail}\n")
        sys.stderr.flush()


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = self.duplicate = self.rejected = self.retries = self.done = 0
        self.reasons: list[str] = []
        self.ids: dict[str, list[str]] = {}

    def detail(self) -> str:
        return (f"accepted {self.accepted} duplicate {self.duplicate} "
                f"rejected {self.rejected} retries {self.retries}")

    def reject(self, where: str, reason: str) -> None:
        self.rejected += 1
        if len(self.reasons) < 10:
            self.reasons.append(f"{where}: {reason}")


def submit(client: RlhfdClient, request, tally: Tally, args) -> feedback_pb2.FeedbackAck:
    """SubmitPreference, retried on transient errors with jittered exponential backoff."""
    delay, deadline = args.initial_backoff, time.monotonic() + args.give_up_after
    while True:
        try:
            return client.feedback.SubmitPreference(request, timeout=args.timeout)
        except grpc.RpcError as error:
            if error.code() not in RETRYABLE or time.monotonic() + delay > deadline:
                raise
            with tally.lock:
                tally.retries += 1
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, args.max_backoff)


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
        records = json.loads(args.file.read_text())
        assert isinstance(records, list)
    except (OSError, ValueError, AssertionError) as error:
        print(f"ingest_feedback: {args.file} is not a JSON list of records: {error}",
              file=sys.stderr)
        return 2

    tally = Tally()
    progress = Progress(args.file.name, len(records))
    progress.update(0, tally.detail())
    # Reconnect quickly after a daemon restart (gRPC's default backoff grows to minutes).
    options = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", 1000)]

    def one(index: int, record: dict, client: RlhfdClient) -> None:
        rid = record.get("id")
        key = idempotency_key(args.file.name, None if rid is None else str(rid), index)
        where = f"record {index}" + (f" (id {rid})" if rid is not None else "")
        try:
            ack = submit(client, message(record, args.images, key), tally, args)
        except grpc.RpcError as error:
            with tally.lock:
                tally.reject(where, f"{error.code().name}: {error.details()}")
        except (OSError, KeyError, TypeError, ValueError) as error:
            with tally.lock:
                tally.reject(where, f"{type(error).__name__}: {error}")
        else:
            with tally.lock:
                if ack.duplicate:
                    tally.duplicate += 1
                else:
                    tally.accepted += 1
                tally.ids[key] = list(ack.feedback_ids)
        with tally.lock:
            tally.done += 1
            progress.update(tally.done, tally.detail())

    with RlhfdClient(args.target, root_certificates=args.ca, timeout=args.timeout,
                     channel_options=options) as client:
        with ThreadPoolExecutor(max_workers=max(1, args.concurrency)) as pool:
            for future in [pool.submit(one, i, r, client) for i, r in enumerate(records)]:
                future.result()

    print(f"{args.file}: {tally.accepted} accepted, {tally.duplicate} duplicate, "
          f"{tally.rejected} rejected, {tally.retries} retries")
    for reason in tally.reasons:
        print(f"  rejected {reason}")
    if tally.rejected > len(tally.reasons):
        print(f"  ... and {tally.rejected - len(tally.reasons)} more rejected")
    if args.ids_out:
        args.ids_out.write_text(json.dumps(tally.ids, indent=1, sort_keys=True))
    return 1 if tally.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
