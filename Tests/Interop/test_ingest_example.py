"""clients/python/examples/ingest_feedback.py against the real daemon: a preference file from
the world tool is replayed through SubmitPreference while the daemon is killed (SIGKILL) and
restarted in the middle; the example retries (UNAVAILABLE, with backoff) and ends with every
record acknowledged exactly once -- acks lost in the kill come back as duplicates -- and the
database holds each record once. A second replay is all duplicates."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from interop import Daemon
from world_fixture import REPO, world_feedback

EXAMPLE = REPO / "clients" / "python" / "examples" / "ingest_feedback.py"


def count(store: Path) -> int:
    database = sqlite3.connect(str(store))
    try:
        return database.execute("SELECT count(*) FROM preferences").fetchone()[0]
    finally:
        database.close()


def ingest(daemon: Daemon, world: Path, file: Path, ids: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / "clients" / "python" / "src"))
    return subprocess.Popen(
        [sys.executable, str(EXAMPLE), str(file), "--images", str(world / "images"),
         "--target", daemon.target, "--concurrency", "2", "--timeout", "10",
         "--give-up-after", "60", "--ids-out", str(ids)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


@pytest.mark.time_limit(240)
def test_replay_survives_a_daemon_restart_with_each_record_once(rlhfd_bin, tmp_path):
    world = world_feedback(tmp_path / "world", val_scenes=40)
    file = world / "feedback" / "preferences_val.json"
    total = len(json.loads(file.read_text()))
    assert total >= 200
    workdir = tmp_path / "daemon"
    store = workdir / "feedback.sqlite3"
    daemon = Daemon(rlhfd_bin, workdir).start()
    process = ingest(daemon, world, file, tmp_path / "ids.json")
    try:
        # Kill the daemon once some (not all) records are in, then start it again.
        deadline = time.monotonic() + 60
        while count(store) < total // 5 and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.01)
        stored_at_kill = count(store)
        assert 0 < stored_at_kill < total, "the replay was not in the middle"
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.process.wait(10)
        daemon.kill()
        time.sleep(0.5)  # the replay sees UNAVAILABLE and backs off
        daemon = Daemon(rlhfd_bin, workdir, listen=[daemon.target]).start()
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, out + err
        accepted, duplicate, rejected, retries = map(int, re.search(
            r"(\d+) accepted, (\d+) duplicate, (\d+) rejected, (\d+) retries", out).groups())
        print(f"killed at {stored_at_kill}/{total} stored; {out.splitlines()[0]}")
        assert (accepted + duplicate, rejected) == (total, 0), out
        assert retries >= 1, out  # it did retry through the restart
        assert count(store) == total  # each record once
        ids = json.loads((tmp_path / "ids.json").read_text())
        assert len(ids) == total
        database = sqlite3.connect(str(store))
        stored = {row[0] for row in database.execute("SELECT id FROM preferences")}
        database.close()
        assert {i for acked in ids.values() for i in acked} == stored
        # A second replay stores nothing new.
        again = ingest(daemon, world, file, tmp_path / "ids2.json")
        out, err = again.communicate(timeout=120)
        assert again.returncode == 0, out + err
        assert f"0 accepted, {total} duplicate, 0 rejected" in out, out
        assert json.loads((tmp_path / "ids2.json").read_text()) == ids
        assert count(store) == total
    finally:
        if process.poll() is None:
            process.kill()
        daemon.kill()
