"""A corrupt checkpoint ends the daemon with the checkpoint error, never with a signal: each
malformed safetensors file is tried 20 times through the real binary (the load runs after the
server listens, so a crash in the error path would show up as SIGABRT in some runs)."""

from __future__ import annotations

import shutil
import struct
import subprocess

import pytest

from conftest import REPO

RUNS = 20


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def empty(data: bytes) -> bytes:
    return b""


def huge_header_length(data: bytes) -> bytes:
    return struct.pack("<Q", 1 << 63) + data[8:]


def header_not_json(data: bytes) -> bytes:
    (length,) = struct.unpack("<Q", data[:8])
    return data[:8] + b"not json".ljust(length, b" ") + data[8 + length :]


CORRUPTIONS = [truncated, empty, huge_header_length, header_not_json]


@pytest.mark.parametrize("model", ["policy", "reward"])
@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=[c.__name__ for c in CORRUPTIONS])
def test_corrupt_checkpoint_exits_with_the_error(rlhfd_bin, tmp_path, model, corrupt):
    """`serve` with a corrupt `model.safetensors` exits with status 1 and a message naming the
    file, in every one of 20 runs."""
    directory = tmp_path / model
    shutil.copytree(REPO / "models" / "default" / model, directory)
    weights = directory / "model.safetensors"
    weights.write_bytes(corrupt(weights.read_bytes()))
    flag = "--policy-model" if model == "policy" else "--reward-model"
    # The other model: the tiny fixture (not the embedded trained default).
    other = ["--reward-model" if model == "policy" else "--policy-model",
             str(REPO / "models" / "default" / ("reward" if model == "policy" else "policy"))]
    for run in range(RUNS):
        result = subprocess.run(
            [str(rlhfd_bin), "serve", "--listen", "127.0.0.1:0", flag, str(directory), *other],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1, (run, result.returncode, result.stderr[-2000:])
        assert "cannot serve" in result.stderr, (run, result.stderr[-2000:])
        assert "model.safetensors" in result.stderr, (run, result.stderr[-2000:])
