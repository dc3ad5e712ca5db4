"""Replaying a preference JSON file (LLaVA-Human-Preference-10K's layout) through
``Feedback.SubmitPreference``: shared by ``rlhfctl feedback import`` and
``examples/ingest_feedback.py``.

Each record becomes a ``SubmitPreference`` with the image bytes read from a folder and an
idempotency key made of the file's name and the record's id (``import:FILE:ID``, the key
``rlhfd import`` uses), so a replay -- or a retry after a lost ack -- stores nothing twice: the
daemon answers ``duplicate``. UNAVAILABLE, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED are retried
with jittered exponential backoff (the daemon restarting, full, or slow); any other error
rejects the record.

Fields read: id, image, conversations (the first human turn, without ``<image>``), output_1,
output_2, preference, hallucination, and if present hallucination_1, hallucination_2,
captions, choices, correct_choice, yes_no_answer.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Dict, List, Optional

import grpc

from rlhfd_client._proto.rlhfd.v1 import common_pb2, feedback_pb2

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED,
                       grpc.StatusCode.DEADLINE_EXCEEDED})

#: gRPC channel arguments that reconnect quickly after a daemon restart (gRPC's default
#: backoff grows to minutes).
FAST_RECONNECT = (("grpc.initial_reconnect_backoff_ms", 100),
                  ("grpc.min_reconnect_backoff_ms", 100),
                  ("grpc.max_reconnect_backoff_ms", 1000))


def idempotency_key(file_name: str, record_id: Optional[str], index: int) -> str:
    """``import:FILE:ID`` (position when there is no id); hashed when longer than 128 bytes."""
    rid = record_id if record_id is not None else f"#{index}"
    key = f"import:{file_name}:{rid}"
    if len(key.encode()) <= 128:
        return key
    return "import:" + hashlib.sha256(f"{file_name}\0{rid}".encode()).hexdigest()


def prompt_of(record: dict) -> str:
    """The first human turn of ``conversations``, without the ``<image>`` marker."""
    turns = record.get("conversations") or []
    if not turns or turns[0].get("from") != "human":
        raise ValueError("conversations must start with a human turn")
    text = turns[0].get("value", "")
    if text.startswith("<image>\n"):
        return text[len("<image>\n"):]
    if text.endswith("\n<image>"):
        return text[: -len("\n<image>")]
    return text.replace("<image>", "")


def preference_message(record: dict, images: Path, key: str) -> feedback_pb2.PreferenceFeedback:
    """The SubmitPreference request of one record (the daemon validates it)."""
    image = Path(images) / str(record.get("image", ""))
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


def load_records(file: Path) -> List[dict]:
    """The records of a preference file; ``ValueError`` if it is not a JSON list of objects
    (``OSError`` if it cannot be read)."""
    records = json.loads(Path(file).read_text())
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValueError("expected a JSON list of objects")
    return records


class Progress:
    """A bar redrawn in place on a terminal (10/s at most), plain lines every 10 % otherwise."""

    def __init__(self, label: str, total: int, stream: Optional[IO[str]] = None,
                 tty: Optional[bool] = None) -> None:
        self.label, self.total = label, total
        self.stream = sys.stderr if stream is None else stream
        self.tty = _isatty(self.stream) if tty is None else tty
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
            self.stream.write(f"\r\x1b[2K{self.label} [{bar:-<30}] {int(fraction * 100)}% "
                              f"{done}/{self.total} {detail}")
            if done == self.total:
                self.stream.write("\n")
        else:
            tenth = int(fraction * 10)
            if tenth == self.last_tenth:
                return
            self.last_tenth = tenth
            self.stream.write(f"{self.label}: {done}/{self.total} ({tenth * 10}%) {detail}\n")
        self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Tally:
    """Counts of an import (updated under ``lock``), the first rejection reasons, and the
    feedback ids acknowledged per idempotency key."""

    MAX_REASONS = 10

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = self.duplicate = self.rejected = self.retries = self.done = 0
        self.total = 0
        self.reasons: List[str] = []
        self.ids: Dict[str, List[str]] = {}

    def detail(self) -> str:
        return (f"accepted {self.accepted} duplicate {self.duplicate} "
                f"rejected {self.rejected} retries {self.retries}")

    def reject(self, where: str, reason: str) -> None:
        self.rejected += 1
        if len(self.reasons) < self.MAX_REASONS:
            self.reasons.append(f"{where}: {reason}")

    def summary(self, name: object) -> List[str]:
        """The summary lines (``FILE: N accepted, N duplicate, N rejected, N retries`` first)."""
        lines = [f"{name}: {self.accepted} accepted, {self.duplicate} duplicate, "
                 f"{self.rejected} rejected, {self.retries} retries"]
        lines += [f"  rejected {reason}" for reason in self.reasons]
        if self.rejected > len(self.reasons):
            lines.append(f"  ... and {self.rejected - len(self.reasons)} more rejected")
        return lines

    def as_dict(self) -> dict:
        return {"total": self.total, "accepted": self.accepted, "duplicate": self.duplicate,
                "rejected": self.rejected, "retries": self.retries,
                "rejections": list(self.reasons)}


@dataclass
class RetryPolicy:
    """How one record is retried: ``timeout`` seconds per attempt; backoff from
    ``initial_backoff`` doubling to ``max_backoff`` (jittered ±50 %); given up on after
    ``give_up_after`` seconds."""

    timeout: float = 30.0
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    give_up_after: float = 120.0


def submit_with_retry(stub_call: Callable[..., feedback_pb2.FeedbackAck],
                      request: feedback_pb2.PreferenceFeedback, retry: RetryPolicy,
                      on_retry: Callable[[], None] = lambda: None,
                      metadata=(), stop: Optional[threading.Event] = None,
                      ) -> feedback_pb2.FeedbackAck:
    """``stub_call(request)`` (e.g. ``client.feedback.SubmitPreference``), retried on transient
    errors with jittered exponential backoff; other errors, and the last transient one, raise
    (also the current one as soon as ``stop`` is set)."""
    delay, deadline = retry.initial_backoff, time.monotonic() + retry.give_up_after
    while True:
        try:
            return stub_call(request, timeout=retry.timeout, metadata=metadata)
        except grpc.RpcError as error:
            if error.code() not in RETRYABLE or time.monotonic() + delay > deadline:
                raise
            if stop is not None and stop.is_set():
                raise
            on_retry()
            pause = delay * random.uniform(0.5, 1.5)
            if stop is not None:
                if stop.wait(pause):
                    raise
            else:
                time.sleep(pause)
            delay = min(delay * 2, retry.max_backoff)


def import_preferences(client, file: Path, records: List[dict], images: Path, *,
                       concurrency: int = 4, retry: Optional[RetryPolicy] = None,
                       progress: Optional[Progress] = None,
                       stop: Optional[threading.Event] = None) -> Tally:
    """Submits every record of ``file`` (already loaded as ``records``) through ``client`` (an
    :class:`~rlhfd_client.RlhfdClient`) with ``concurrency`` requests in flight. Records that
    fail to convert or are refused are counted as rejected with their reason; nothing raises
    for one record. Setting ``stop`` (or an interrupt) makes records not yet started count as
    rejected."""
    retry = retry or RetryPolicy()
    tally = Tally()
    tally.total = len(records)
    name = Path(file).name
    if progress is not None:
        progress.update(0, tally.detail())

    stop = stop if stop is not None else threading.Event()

    def counted_retry() -> None:
        with tally.lock:
            tally.retries += 1

    def one(index: int, record: dict) -> None:
        rid = record.get("id")
        key = idempotency_key(name, None if rid is None else str(rid), index)
        where = f"record {index}" + (f" (id {rid})" if rid is not None else "")
        try:
            if stop is not None and stop.is_set():
                raise InterruptedError("import interrupted")
            ack = submit_with_retry(client.feedback.SubmitPreference,
                                    preference_message(record, images, key), retry,
                                    counted_retry, client.metadata, stop)
        except grpc.RpcError as error:
            with tally.lock:
                tally.reject(where, f"{error.code().name}: {error.details()}")
        except (OSError, KeyError, TypeError, ValueError, AttributeError) as error:
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
            if progress is not None:
                progress.update(tally.done, tally.detail())

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        try:
            for future in [pool.submit(one, i, r) for i, r in enumerate(records)]:
                future.result()
        except BaseException:  # KeyboardInterrupt: let the records in flight finish, no more
            stop.set()
            raise
    return tally
