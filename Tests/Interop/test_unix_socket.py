"""Unix-domain listeners: `--listen unix:/path` alone, and together with a TCP address."""

from __future__ import annotations

import os
import signal
import stat

import grpc
import pytest

from interop import SERVING, echo, free_port, health_check, short_tmp_path


@pytest.fixture
def socket_path():
    """A unique socket path under /tmp, removed afterwards."""
    path = short_tmp_path("rlhfd-test")
    yield path
    if os.path.exists(path):
        os.unlink(path)


def test_unix_socket_serves_health_and_echo(make_daemon, socket_path):
    """With only `unix:/path`, the socket file appears, a `unix:` channel gets SERVING and a
    working Echo, and a clean stop removes the file."""
    daemon = make_daemon(listen=[f"unix:{socket_path}"])
    assert stat.S_ISSOCK(os.stat(socket_path).st_mode)
    channel = grpc.insecure_channel(f"unix:{socket_path}")
    try:
        assert health_check(channel) == SERVING
        assert echo(channel, b"over unix") == b"over unix"
    finally:
        channel.close()
    assert daemon.stop(signal.SIGTERM) == 0, daemon.stderr_text()
    assert not os.path.exists(socket_path), "the socket file was left behind after a clean stop"


def test_tcp_and_unix_at_once(make_daemon, socket_path):
    """Repeated --listen serves the same daemon on 127.0.0.1:PORT and unix:/path at once."""
    tcp = f"127.0.0.1:{free_port()}"
    daemon = make_daemon(listen=[tcp, f"unix:{socket_path}"])
    for target in (tcp, f"unix:{socket_path}"):
        channel = daemon.channel(target)
        assert health_check(channel) == SERVING, target
        assert health_check(channel, "rlhfd.v1.Policy") == SERVING, target
        assert echo(channel, target.encode()) == target.encode()
    stderr = daemon.stderr_text()
    assert tcp in stderr and socket_path in stderr, stderr
    assert daemon.stop(signal.SIGTERM) == 0, stderr


def test_stale_socket_file_is_replaced(make_daemon, socket_path):
    """A socket file left behind by a killed daemon does not stop the next start."""
    first = make_daemon(listen=[f"unix:{socket_path}"])
    first.process.kill()
    first.process.wait(timeout=10)
    second = make_daemon(listen=[f"unix:{socket_path}"])
    assert echo(second.channel(), b"second") == b"second"


def test_unix_abstract_socket(make_daemon):
    """`unix-abstract:NAME` (no file) serves health and Echo too."""
    name = os.path.basename(short_tmp_path("rlhfd-abstract", suffix=""))
    daemon = make_daemon(listen=[f"unix-abstract:{name}"])
    channel = daemon.channel()
    assert health_check(channel) == SERVING
    assert echo(channel, b"abstract") == b"abstract"
