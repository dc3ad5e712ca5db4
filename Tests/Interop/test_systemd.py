"""systemd integration: sd_notify datagrams (READY=1 with MAINPID, STOPPING=1) to a fake
$NOTIFY_SOCKET, and `systemd-analyze verify` of the shipped unit."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from interop import SERVING, health_check, short_tmp_path

REPO = Path(__file__).resolve().parent.parent.parent
UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid


class NotifySocket:
    """A bound AF_UNIX datagram socket standing in for systemd's notification socket. With
    SO_PASSCRED each datagram carries the sender's pid (what NotifyAccess=main checks)."""

    def __init__(self, abstract: bool):
        self.name = short_tmp_path("rlhfd-notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if abstract:
            self.sock.bind("\0" + self.name)
            self.env_value = "@" + self.name
        else:
            self.sock.bind(self.name)
            self.env_value = self.name
        self.abstract = abstract
        self.received: list[tuple[int, dict]] = []

    def wait_for(self, key: str, timeout: float) -> tuple[int, dict]:
        """Receives datagrams until one sets `key`; returns (sender pid, fields)."""
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            self.sock.settimeout(remaining)
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(UCRED.size))
            except socket.timeout:
                break
            pid = next(
                (UCRED.unpack(d[: UCRED.size])[0] for level, kind, d in ancillary
                 if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS),
                -1,
            )
            fields = dict(
                line.split("=", 1) for line in data.decode().splitlines() if "=" in line
            )
            self.received.append((pid, fields))
            if key in fields:
                return pid, fields
        raise AssertionError(f"no {key} within {timeout} s; received: {self.received}")

    def close(self):
        self.sock.close()
        if not self.abstract and os.path.exists(self.name):
            os.unlink(self.name)


@pytest.fixture(params=[False, True], ids=["path", "abstract"])
def notify_socket(request):
    notify = NotifySocket(abstract=request.param)
    yield notify
    notify.close()


def test_notify_ready_and_stopping(make_daemon, notify_socket):
    """Under a fake $NOTIFY_SOCKET (a path or an abstract "@name"): READY=1 arrives from the
    main pid with MAINPID=<pid> once the daemon serves; SIGTERM sends STOPPING=1; exit 0."""
    env = dict(os.environ, NOTIFY_SOCKET=notify_socket.env_value)
    daemon = make_daemon(env=env, start=False).start(wait=False)
    pid, ready = notify_socket.wait_for("READY", timeout=20)
    assert ready["READY"] == "1", ready
    assert ready.get("MAINPID") == str(daemon.pid), ready
    assert pid == daemon.pid, f"sent by pid {pid}, main pid {daemon.pid}"
    assert daemon.target in ready.get("STATUS", ""), ready
    # READY=1 means serving: the very first health check after it must succeed.
    assert health_check(daemon.channel()) == SERVING
    daemon.send_signal(signal.SIGTERM)
    pid, stopping = notify_socket.wait_for("STOPPING", timeout=5)
    assert stopping["STOPPING"] == "1", stopping
    assert pid == daemon.pid
    daemon.assert_clean_exit(10)
    keys = [key for _, fields in notify_socket.received for key in fields]
    assert keys.count("READY") == 1 and keys.count("STOPPING") == 1, notify_socket.received


def collect(notify: NotifySocket, seconds: float) -> list[dict]:
    """Every datagram received in the next `seconds` (fields only)."""
    start = len(notify.received)
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            notify.wait_for("never-sent-key", timeout=remaining)
        except AssertionError:
            break
    return [fields for _, fields in notify.received[start:]]


def test_watchdog_pings_after_a_self_probe(make_daemon):
    """With WATCHDOG_USEC (systemd's WatchdogSec), WATCHDOG=1 arrives every third of it, each
    with STATUS= naming the listener, once READY=1 was sent; SIGTERM stops the pings."""
    notify = NotifySocket(abstract=False)
    try:
        env = dict(os.environ, NOTIFY_SOCKET=notify.env_value, WATCHDOG_USEC="300000")
        daemon = make_daemon(env=env, start=False).start(wait=False)
        notify.wait_for("READY", timeout=20)
        pings = [f for f in collect(notify, 1.5) if f.get("WATCHDOG") == "1"]
        assert len(pings) >= 4, notify.received
        assert all(daemon.target in f.get("STATUS", "") for f in pings), pings
        daemon.send_signal(signal.SIGTERM)
        notify.wait_for("STOPPING", timeout=5)
        daemon.assert_clean_exit(10)
        after = notify.received[[k for _, f in notify.received for k in f].index("STOPPING"):]
        assert not any(f.get("WATCHDOG") for _, f in after[1:]), notify.received
    finally:
        notify.close()


def test_watchdog_stops_when_the_listener_is_gone(make_daemon):
    """The self-probe dials the daemon's own listener: once the unix socket file is removed
    (new connections fail, the process still runs), WATCHDOG=1 stops and STATUS= says why; so
    systemd would restart a daemon whose listener died (CVE-2023-4785)."""
    notify = NotifySocket(abstract=False)
    path = short_tmp_path("rlhfd-wd")
    try:
        env = dict(os.environ, NOTIFY_SOCKET=notify.env_value, WATCHDOG_USEC="300000")
        daemon = make_daemon(listen=[f"unix:{path}"], env=env, start=False).start(wait=False)
        notify.wait_for("READY", timeout=20)
        notify.wait_for("WATCHDOG", timeout=5)
        os.unlink(path)
        # A probe already in flight may still succeed; then none may.
        collect(notify, 0.5)
        later = collect(notify, 1.5)
        assert not any(f.get("WATCHDOG") for f in later), later
        assert any("self-probe failed" in f.get("STATUS", "") for f in later), later
        assert daemon.process.poll() is None, "the daemon itself keeps running"
    finally:
        notify.close()
        if os.path.exists(path):
            os.unlink(path)


def test_no_ready_when_the_start_fails(make_daemon):
    """A daemon that cannot bind exits non-zero and never sends READY=1."""
    notify = NotifySocket(abstract=False)
    try:
        first = make_daemon()
        env = dict(os.environ, NOTIFY_SOCKET=notify.env_value)
        second = make_daemon(listen=[first.target], env=env, start=False).start(wait=False)
        assert second.wait_exit(10) != 0, second.stderr_text()
        with pytest.raises(AssertionError):
            notify.wait_for("READY", timeout=0.3)
    finally:
        notify.close()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_verifies_cleanly(rlhfd_bin, tmp_path):
    """`systemd-analyze verify` of systemd/rlhfd.service, with ExecStart pointing at the real
    binary, exits 0 with EMPTY stderr (it only warns, exit 0, on unknown keys)."""
    unit = (REPO / "systemd" / "rlhfd.service").read_text()
    assert "/usr/local/bin/rlhfd" in unit
    path = tmp_path / "rlhfd.service"
    path.write_text(unit.replace("/usr/local/bin/rlhfd", str(rlhfd_bin)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(path)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_exposure_at_most_2(rlhfd_bin, tmp_path):
    """The shipped unit's sandboxing: `systemd-analyze security --offline=yes` rates its
    exposure at 2.0 or less (issue 14: it was 8.4 "EXPOSED")."""
    unit = (REPO / "systemd" / "rlhfd.service").read_text()
    path = tmp_path / "rlhfd.service"
    path.write_text(unit.replace("/usr/local/bin/rlhfd", str(rlhfd_bin)))
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(path)],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0, result.stdout
