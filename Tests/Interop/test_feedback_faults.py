"""Store faults never give a false ack: on a full disk a submission fails with
RESOURCE_EXHAUSTED (saying the disk is full) while the daemon serves on, a database on a file
system that turned read-only stops the start with a message naming `feedback_store`, and
everything acknowledged before is still there after a restart. The database
lives on a small tmpfs mounted for the test (root only; skipped where mounting is not allowed)."""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import grpc
import pytest

from interop import Daemon, rpc_error
from rlhfd_client._proto.rlhfd.v1 import common_pb2, feedback_pb2, feedback_pb2_grpc


def png_with_payload(seed: int, size: int) -> bytes:
    """A PNG signature and header (what the daemon probes) followed by `size` random bytes."""
    header = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", 13) + b"IHDR" + header
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + header) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk + os.urandom(size) + seed.to_bytes(4, "big")


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def submit(stub, key: str, image: bytes):
    return stub.SubmitPreference(
        feedback_pb2.PreferenceFeedback(
            image=common_pb2.Image(data=image),
            prompt="What is it?",
            response_1=feedback_pb2.ResponseRef(text="A box."),
            response_2=feedback_pb2.ResponseRef(text="A tiger."),
            preferred=1,
            idempotency_key=key,
        ),
        timeout=10,
    )


def test_a_full_disk_fails_submissions_without_acks_and_loses_nothing(rlhfd_bin, tmp_path, small_disk):
    store = str(small_disk / "feedback.sqlite3")
    args = ["--feedback-store", store]
    daemon = Daemon(rlhfd_bin, tmp_path / "d", args=args).start()
    try:
        stub = feedback_pb2_grpc.FeedbackStub(daemon.channel())
        acked: dict[str, tuple[bytes, list[str]]] = {}
        error = None
        for n in range(100):  # 64 KiB each: a 1 MiB disk fills within 16
            image = png_with_payload(n, 64 << 10)
            try:
                ack = submit(stub, f"k-{n}", image)
            except grpc.RpcError as failure:
                error = failure
                break
            acked[f"k-{n}"] = (image, list(ack.feedback_ids))
        assert error is not None, "a 1 MiB disk never filled"
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
        assert "full" in error.details(), error.details()
        assert acked, "nothing fit before the disk was full"
        assert daemon.running()
        assert daemon.stop() == 0, daemon.stderr_text()
        # On a file system that turned read-only the store cannot open: a clear start error.
        subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
        refused = Daemon(rlhfd_bin, tmp_path / "d", args=args).start(wait=False)
        assert refused.wait_exit(20) != 0
        assert "feedback_store" in refused.stderr_text(), refused.stderr_text()
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
        # A restart serves every acknowledged record, under its original ids.
        daemon = Daemon(rlhfd_bin, tmp_path / "d", args=args).start()
        stub = feedback_pb2_grpc.FeedbackStub(daemon.channel())
        status = stub.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(), timeout=10)
        assert status.pending_preferences == len(acked)
        for key, (image, ids) in acked.items():
            replay = submit(stub, key, image)
            assert replay.duplicate and list(replay.feedback_ids) == ids, key
    finally:
        daemon.kill()
