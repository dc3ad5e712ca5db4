"""TLS reload on SIGHUP: after the certificate and key files are replaced and SIGHUP is sent,
new connections are served with the new certificate, while a connection opened before keeps
streaming (and takes new calls) on the old one. Files that cannot be read, or a certificate
with the wrong key, are refused at SIGHUP with an error line and the certificate in force stays."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import time
from pathlib import Path

import grpc
import pytest

from interop import SERVING, health_check, rpc_error
from rlhfd_client._proto.rlhfd.v1 import debug_pb2, debug_pb2_grpc
from test_tls import OVERRIDE, make_ca, make_leaf

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")

SAN = "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """`old` signed by `ca`, `new` signed by `other-ca`, both for localhost / 127.0.0.1."""
    directory = tmp_path_factory.mktemp("pki-reload")
    make_ca(directory, "ca")
    make_ca(directory, "other-ca")
    make_leaf(directory, "ca", "old", SAN)
    make_leaf(directory, "other-ca", "new", SAN)
    return directory


def install(pki: Path, live: Path, name: str, key: str | None = None) -> None:
    """Replaces live/server.pem and live/server.key atomically with `name`'s files."""
    for source, target in ((f"{name}.pem", "server.pem"), (f"{key or name}.key", "server.key")):
        shutil.copyfile(pki / source, live / (target + ".tmp"))
        os.replace(live / (target + ".tmp"), live / target)


def presented_certificate(port: int) -> bytes:
    """The DER certificate the server presents to a new TLS connection (ALPN h2)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def der(pki: Path, name: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert((pki / f"{name}.pem").read_text())


def trusting(daemon, pki: Path, ca: str) -> grpc.Channel:
    roots = (pki / f"{ca}.pem").read_bytes()
    return daemon.channel(credentials=grpc.ssl_channel_credentials(root_certificates=roots),
                          options=OVERRIDE)


def wait_for_log(daemon, needle: str, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.stderr_text().count(needle) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {count}x {needle!r} in the log:\n{daemon.stderr_text()[-3000:]}")


def test_sighup_serves_new_connections_the_new_certificate(make_daemon, pki, tmp_path):
    live = tmp_path / "live"
    live.mkdir()
    install(pki, live, "old")
    daemon = make_daemon(
        args=["--tls-certificate", str(live / "server.pem"),
              "--tls-private-key", str(live / "server.key")],
        credentials=grpc.ssl_channel_credentials(root_certificates=(pki / "ca.pem").read_bytes()),
        channel_options=OVERRIDE,
    )
    assert presented_certificate(daemon.port) == der(pki, "old")
    before = trusting(daemon, pki, "ca")
    ticks = debug_pb2_grpc.DebugStub(before).Ticks(
        debug_pb2.TicksRequest(count=25, interval_ms=100), timeout=20)
    assert next(ticks).index == 0

    install(pki, live, "new")
    daemon.send_signal(signal.SIGHUP)
    wait_for_log(daemon, "TLS files reloaded", 1)
    assert presented_certificate(daemon.port) == der(pki, "new")
    assert health_check(trusting(daemon, pki, "other-ca")) == SERVING
    error = rpc_error(lambda: health_check(trusting(daemon, pki, "ca"), timeout=3))
    assert error.code() == grpc.StatusCode.UNAVAILABLE, error
    # The connection opened before: its stream goes on to the end, and it takes new calls.
    assert [tick.index for tick in ticks] == list(range(1, 25))
    assert health_check(before) == SERVING

    # A certificate with the wrong key, or a file that is not PEM: refused at SIGHUP with an
    # error line, and the pair in force stays.
    install(pki, live, "old", key="new")
    daemon.send_signal(signal.SIGHUP)
    wait_for_log(daemon, "TLS files were not reloaded", 1)
    assert "refused the TLS certificate" in daemon.stderr_text()
    assert health_check(trusting(daemon, pki, "other-ca")) == SERVING
    assert presented_certificate(daemon.port) == der(pki, "new")
    (live / "server.pem").write_text("not a certificate\n")
    daemon.send_signal(signal.SIGHUP)
    wait_for_log(daemon, "TLS files were not reloaded", 2)
    assert presented_certificate(daemon.port) == der(pki, "new")
    assert "is not a PEM file" in daemon.stderr_text()
    assert daemon.stderr_text().count("TLS files reloaded") == 1
    assert daemon.stop() == 0
