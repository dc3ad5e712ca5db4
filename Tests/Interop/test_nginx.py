"""Debian's nginx in front (README, Security): `grpc_pass` to the daemon on loopback. Calls go
through with the client's `authorization` metadata unchanged; Health stays anonymous; refusals
and the daemon's status codes and messages come back to the client as they are."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from interop import SERVING, free_port, health_check, rpc_error
from rlhfd_client._proto.rlhfd.v1 import debug_pb2, debug_pb2_grpc, policy_pb2, policy_pb2_grpc
from test_auth import ADMIN_TOKEN, GENERATE_TOKEN, bearer, write_tokens

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt install nginx-light)")

CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port} http2;
        client_max_body_size 32m;
        http2_max_concurrent_streams 32;
        grpc_read_timeout 60s;
        location / {{
            grpc_pass grpc://{upstream};
        }}
    }}
}}
"""


@pytest.fixture
def nginx_front(make_daemon, tmp_path):
    tokens = tmp_path / "tokens.yaml"
    write_tokens(tokens, [("ops", ADMIN_TOKEN, ["admin"]),
                          ("writer", GENERATE_TOKEN, ["generate"])])
    config = tmp_path / "rlhfd.yaml"
    config.write_text(f"auth:\n  tokens_file: {tokens}\n")
    daemon = make_daemon(args=["--config", str(config)])
    directory = tmp_path / "nginx"
    directory.mkdir()
    port = free_port()
    (directory / "nginx.conf").write_text(
        CONF.format(dir=directory, port=port, upstream=daemon.target))
    process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
                                "-e", str(directory / "error.log")],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
    channel = None
    try:
        deadline = time.monotonic() + 10
        while True:  # until nginx listens (a channel would back off for seconds meanwhile)
            assert process.poll() is None, process.stderr.read().decode(errors="replace")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (directory / "error.log").read_text()
                time.sleep(0.05)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        assert health_check(channel) == SERVING  # anonymous through nginx
        yield daemon, channel
    finally:
        if channel is not None:
            channel.close()
        process.send_signal(signal.SIGQUIT)  # graceful; the workers follow the master
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_calls_through_nginx_keep_tokens_and_status_codes(nginx_front):
    daemon, channel = nginx_front
    debug = debug_pb2_grpc.DebugStub(channel)
    reply = debug.Echo(debug_pb2.EchoRequest(payload=b"via nginx"), timeout=5,
                       metadata=bearer(ADMIN_TOKEN))
    assert reply.payload == b"via nginx"
    ticks = debug.Ticks(debug_pb2.TicksRequest(count=5, interval_ms=20), timeout=10,
                        metadata=bearer(ADMIN_TOKEN))
    assert [tick.index for tick in ticks] == list(range(5))
    error = rpc_error(lambda: debug.Echo(debug_pb2.EchoRequest(), timeout=5))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
    error = rpc_error(lambda: debug.Echo(debug_pb2.EchoRequest(), timeout=5,
                                         metadata=bearer(GENERATE_TOKEN)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED and "'admin'" in error.details()
    policy = policy_pb2_grpc.PolicyStub(channel)
    error = rpc_error(lambda: policy.Generate(policy_pb2.GenerateRequest(prompt="hi"), timeout=5,
                                              metadata=bearer(GENERATE_TOKEN)))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED, error  # no model; authorized
    assert daemon.stop() == 0
    assert "token_name=writer" in daemon.stderr_text()
