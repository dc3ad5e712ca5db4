"""A fake systemd notification socket for the reliability tests.
See Tests/Interop/test_systemd.py for the full harness."""

from __future__ import annotations

import os
import socket
import time

from interop import short_tmp_path


class NotifySocket:
    """A bound AF_UNIX datagram socket standing in for $NOTIFY_SOCKET."""

    def __init__(self) -> None:
        self.path = short_tmp_path("rlhfd-rel-notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.received: list[dict] = []

    def receive(self, timeout: float):
        self.sock.settimeout(max(0.001, timeout))
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        self.received.append(fields)
        return fields

    def wait_for(self, key: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            fields = self.receive(remaining)
            if fields and key in fields:
                return fields
        raise AssertionError(f"no {key} within {timeout} s; received {self.received}")

    def close(self) -> None:
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


def collect(notify: NotifySocket, seconds: float) -> list[dict]:
    """Every datagram received in the next `seconds`."""
    out = []
    deadline = time.monotonic() + seconds
    while (remaining := deadline - time.monotonic()) > 0:
        fields = notify.receive(remaining)
        if fields:
            out.append(fields)
    return out
