"""C9 descriptor exhaustion (CVE-2023-4785: gRPC core 1.51's listener stops accepting for good
after EMFILE): the daemon runs under `ulimit -n 64` with a fake $NOTIFY_SOCKET and
WATCHDOG_USEC; the test opens connections until the daemon runs out of descriptors, holds them,
closes them all, then dials again. Pass: either the daemon keeps or regains its listener (a fresh
connection is served within 10 s), or the watchdog self-probe notices (WATCHDOG=1 stops, so
systemd would restart it). The report says which."""

from __future__ import annotations

import os
import socket
import stat
import time

import grpc
import pytest

from harness import proc_status, start_daemon
from interop import SERVING, health_check
from notify import NotifySocket, collect

NOFILE = 64
CONNECTIONS = 200


@pytest.mark.time_limit(120)
def test_descriptor_exhaustion(rlhfd_bin, tmp_path, figures):
    wrapper = tmp_path / "rlhfd-low-nofile"
    wrapper.write_text(f'#!/bin/sh\nulimit -n {NOFILE}\nexec "{rlhfd_bin}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    notify = NotifySocket()
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="300000")
    daemon = start_daemon(rlhfd_bin, tmp_path / "fds", binary=wrapper, env=env)
    held: list[socket.socket] = []
    try:
        notify.wait_for("READY", timeout=20)
        base = proc_status(daemon.pid)
        for _ in range(CONNECTIONS):
            try:
                held.append(socket.create_connection(("127.0.0.1", daemon.port), timeout=2))
            except OSError:
                break
        time.sleep(1.0)
        peak = proc_status(daemon.pid)
        during = collect(notify, 1.5)
        for sock in held:
            sock.close()
        closed_at = time.monotonic()
        regained = None
        while time.monotonic() - closed_at < 10:
            channel = grpc.insecure_channel(daemon.target)
            try:
                if health_check(channel, "", timeout=1.0) == SERVING:
                    regained = time.monotonic() - closed_at
                    break
            except grpc.RpcError:
                pass
            finally:
                channel.close()
            time.sleep(0.1)
        after = collect(notify, 1.5)
        pings_during = sum(1 for f in during if f.get("WATCHDOG") == "1")
        pings_after = sum(1 for f in after if f.get("WATCHDOG") == "1")
        statuses = sorted({f.get("STATUS", "") for f in during + after if "STATUS" in f})
        outcome = ("listener kept or regained" if regained is not None else
                   "listener dead; watchdog pings stopped (systemd restarts)" if pings_after == 0
                   else "listener dead and watchdog still pinging")
        figures.add(nofile=NOFILE, fds_idle=base["fds"], fds_peak=peak["fds"],
                    connections_opened=len(held), regained_after_s=regained and round(regained, 3),
                    watchdog_pings_during=pings_during, watchdog_pings_after=pings_after,
                    statuses=statuses[:3], outcome=outcome,
                    emfile_logged="Too many open files" in daemon.stderr_text())
        figures.check("listener or watchdog", outcome != "listener dead and watchdog still pinging",
                      "the listener keeps/regains accepting, or the watchdog self-probe notices")
        figures.check("alive", daemon.running(), "the process did not crash")
        figures.assert_all()
    finally:
        for sock in held:
            sock.close()
        notify.close()
        daemon.kill()
