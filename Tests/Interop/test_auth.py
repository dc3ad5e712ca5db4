"""Bearer tokens with scopes (`auth: {tokens_file: ...}`): every RPC but grpc.health.v1.Health
needs `authorization: Bearer <token>`; a missing, malformed or unknown token is UNAUTHENTICATED,
a valid token without the service's scope PERMISSION_DENIED naming the scope. Admin RPCs and
refusals are audited (token name, method, code, request id; never the token). SIGHUP re-reads
the tokens file without a restart (calls in flight finish; a bad file keeps the old tokens).
A tokens file other users can read is refused at start-up."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import time

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from interop import SERVING, echo, health_check, rpc_error
from rlhfd_client._proto.rlhfd.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    debug_pb2,
    debug_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
)

ADMIN_TOKEN = "admin-secret-Xq7u2bN8pLw3"
GENERATE_TOKEN = "generate-secret-9Hc4Ty6Re1"
NEW_TOKEN = "rotated-secret-Mm5Kd2Zs8Va"


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def write_tokens(path, entries, mode=0o600):
    """entries: (name, token, scopes); written with token_sha256 (the production form), except
    a name starting with 'plain' which uses the plain `token` key (tests only)."""
    lines = ["tokens:"]
    for name, token, scopes in entries:
        key, value = ("token", token) if name.startswith("plain") else ("token_sha256", sha(token))
        lines.append(f"  - {{name: {name}, {key}: {value}, scopes: [{', '.join(scopes)}]}}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def bearer(token: str):
    return [("authorization", f"Bearer {token}")]


@pytest.fixture
def auth_daemon(make_daemon, tmp_path):
    tokens = tmp_path / "tokens.yaml"
    write_tokens(tokens, [("ops", ADMIN_TOKEN, ["admin"]),
                          ("writer", GENERATE_TOKEN, ["generate", "score"])])
    config = tmp_path / "rlhfd.yaml"
    config.write_text(f"auth:\n  tokens_file: {tokens}\n")
    daemon = make_daemon(args=["--config", str(config)])
    daemon.tokens_path = tokens
    return daemon


def test_health_is_anonymous_and_everything_else_needs_a_token(auth_daemon):
    channel = auth_daemon.channel()
    assert health_check(channel) == SERVING
    assert health_check(channel, "rlhfd.v1.Admin") == SERVING
    error = rpc_error(lambda: echo(channel, b"x"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
    assert "Bearer" in error.details()
    debug = debug_pb2_grpc.DebugStub(channel)
    for value in ["Basic abc", "Bearer", f"Token {ADMIN_TOKEN}", "Bearer wrong-token-123456"]:
        error = rpc_error(lambda: debug.Echo(debug_pb2.EchoRequest(payload=b"x"), timeout=5,
                                             metadata=[("authorization", value)]))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, (value, error)
        assert "wrong-token" not in error.details() and ADMIN_TOKEN not in error.details()
    # An unauthenticated call still carries its request id.
    error = rpc_error(lambda: debug.Echo(debug_pb2.EchoRequest(), timeout=5,
                                         metadata=[("x-request-id", "denied-1")]))
    found = dict(error.trailing_metadata() or ()) | dict(error.initial_metadata() or ())
    assert found.get("x-request-id") == "denied-1"


def test_scopes_per_service(auth_daemon):
    channel = auth_daemon.channel()
    debug = debug_pb2_grpc.DebugStub(channel)
    # The admin scope serves Debug and Admin.
    reply = debug.Echo(debug_pb2.EchoRequest(payload=b"ok"), timeout=5, metadata=bearer(ADMIN_TOKEN))
    assert reply.payload == b"ok"
    admin = admin_pb2_grpc.AdminStub(channel)
    # generate+score: Admin and Debug refused, naming the scope.
    error = rpc_error(lambda: debug.Echo(debug_pb2.EchoRequest(), timeout=5,
                                         metadata=bearer(GENERATE_TOKEN)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error
    assert "'admin'" in error.details()
    error = rpc_error(lambda: admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), timeout=5,
                                                 metadata=bearer(GENERATE_TOKEN)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error
    # Policy: the generate token passes authorization (no model: UNIMPLEMENTED), admin does not.
    policy = policy_pb2_grpc.PolicyStub(channel)
    request = policy_pb2.GenerateRequest(prompt="hi")
    error = rpc_error(lambda: policy.Generate(request, timeout=5, metadata=bearer(GENERATE_TOKEN)))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED, error
    error = rpc_error(lambda: policy.Generate(request, timeout=5, metadata=bearer(ADMIN_TOKEN)))
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED, error
    assert "'generate'" in error.details()
    # Reflection: any valid token.
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    ask = [reflection_pb2.ServerReflectionRequest(list_services="")]
    answers = list(stub.ServerReflectionInfo(iter(ask), timeout=5, metadata=bearer(GENERATE_TOKEN)))
    names = {s.name for s in answers[0].list_services_response.service}
    assert "rlhfd.v1.Policy" in names
    error = rpc_error(lambda: list(stub.ServerReflectionInfo(iter(ask), timeout=5)))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error


def test_audit_lines_name_the_token_never_its_text(auth_daemon):
    channel = auth_daemon.channel()
    admin = admin_pb2_grpc.AdminStub(channel)
    try:
        admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), timeout=5,
                           metadata=bearer(ADMIN_TOKEN) + [("x-request-id", "audit-ok-1")])
    except grpc.RpcError as error:  # no model: whatever it answers, it is audited
        assert error.code() != grpc.StatusCode.PERMISSION_DENIED
    rpc_error(lambda: admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), timeout=5,
                                         metadata=bearer(GENERATE_TOKEN)
                                         + [("x-request-id", "audit-denied-2")]))
    rpc_error(lambda: admin.GetModelInfo(admin_pb2.GetModelInfoRequest(), timeout=5,
                                         metadata=[("x-request-id", "audit-anon-3")]))
    assert auth_daemon.stop() == 0
    log = auth_daemon.stderr_text()
    audit = [line for line in log.splitlines() if line.endswith(" audit")]
    def line_for(request_id):
        found = [line for line in audit if f"request_id={request_id}" in line]
        assert len(found) == 1, (request_id, audit)
        return found[0]
    ok = line_for("audit-ok-1")
    assert "token_name=ops" in ok and "method=rlhfd.v1.Admin/GetModelInfo" in ok and " notice " in ok
    assert re.search(r"code=[A-Z_]+", ok)
    denied = line_for("audit-denied-2")
    assert "token_name=writer" in denied and "code=PERMISSION_DENIED" in denied
    anonymous = line_for("audit-anon-3")
    assert "token_name=-" in anonymous and "code=UNAUTHENTICATED" in anonymous
    for secret in (ADMIN_TOKEN, GENERATE_TOKEN, sha(ADMIN_TOKEN), sha(GENERATE_TOKEN)):
        assert secret not in log


def wait_for_log(daemon, needle, count, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon.stderr_text().count(needle) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"no {count}x {needle!r} in the log:\n{daemon.stderr_text()[-3000:]}")


def test_sighup_reloads_tokens_and_calls_in_flight_finish(auth_daemon):
    channel = auth_daemon.channel()
    debug = debug_pb2_grpc.DebugStub(channel)
    # A call in flight under the admin token, which the reload removes.
    slow = debug.Sleep.future(debug_pb2.SleepRequest(duration_ms=1500), timeout=10,
                              metadata=bearer(ADMIN_TOKEN))
    time.sleep(0.3)
    write_tokens(auth_daemon.tokens_path, [("rotated", NEW_TOKEN, ["admin"])])
    auth_daemon.send_signal(signal.SIGHUP)
    wait_for_log(auth_daemon, "tokens reloaded", 1)
    assert slow.result(timeout=10).slept_ms >= 1400
    assert echo_with(debug, NEW_TOKEN) == b"r"
    for gone in (ADMIN_TOKEN, GENERATE_TOKEN):
        error = rpc_error(lambda: echo_with(debug, gone))
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
    # A broken file (world-readable, then invalid) keeps the tokens in force and logs an error.
    write_tokens(auth_daemon.tokens_path, [("plain-x", "plain-token-0123456789", ["admin"])],
                 mode=0o644)
    auth_daemon.send_signal(signal.SIGHUP)
    wait_for_log(auth_daemon, "was not reloaded", 1)
    os.chmod(auth_daemon.tokens_path, 0o600)
    auth_daemon.tokens_path.write_text("tokens: [{name: broken}]\n")
    auth_daemon.send_signal(signal.SIGHUP)
    wait_for_log(auth_daemon, "was not reloaded", 2)
    assert echo_with(debug, NEW_TOKEN) == b"r"
    error = rpc_error(lambda: echo_with(debug, "plain-token-0123456789"))
    assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    assert auth_daemon.running()
    log = auth_daemon.stderr_text()
    assert "mode 644" in log and "tokens[0] ('broken')" in log
    assert auth_daemon.stop() == 0
    assert NEW_TOKEN not in auth_daemon.stderr_text()


def echo_with(debug, token):
    return debug.Echo(debug_pb2.EchoRequest(payload=b"r"), timeout=5, metadata=bearer(token)).payload


def test_sighup_without_auth_keeps_serving(make_daemon):
    daemon = make_daemon()
    daemon.send_signal(signal.SIGHUP)
    wait_for_log(daemon, "nothing to reload", 1)
    assert echo(daemon.channel(), b"still") == b"still"
    daemon.stop()
    daemon.assert_clean_exit()


@pytest.mark.parametrize("mode", [0o644, 0o604, 0o602])
def test_world_accessible_tokens_file_is_refused(rlhfd_bin, tmp_path, mode):
    tokens = tmp_path / "tokens.yaml"
    write_tokens(tokens, [("ops", ADMIN_TOKEN, ["admin"])], mode=mode)
    config = tmp_path / "rlhfd.yaml"
    config.write_text(f"auth:\n  tokens_file: {tokens}\n")
    result = subprocess.run(
        [str(rlhfd_bin), "serve", "--no-model", "--listen", "127.0.0.1:0", "--config", str(config),
         "--feedback-store", "none"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert result.returncode != 0, result
    assert f"mode {mode:o}" in result.stderr and "chmod o-rwx" in result.stderr, result.stderr
    assert sha(ADMIN_TOKEN) not in result.stderr
    # check-config loads the tokens file too (and never prints a token or digest).
    check = subprocess.run([str(rlhfd_bin), "check-config", "--config", str(config)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert check.returncode != 0 and "chmod o-rwx" in check.stderr, check
    os.chmod(tokens, 0o600)
    check = subprocess.run([str(rlhfd_bin), "check-config", "--config", str(config)],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    assert check.returncode == 0, check
    assert '"tokens_file"' in check.stdout and sha(ADMIN_TOKEN) not in check.stdout


def test_rlhfctl_with_a_token_file(auth_daemon, tmp_path):
    """The operator CLI sends `--token-file`'s token; without it the refusal comes with a hint."""
    from test_rlhfctl import rlhfctl

    token_file = tmp_path / "ops.token"
    token_file.write_text(ADMIN_TOKEN + "\n")
    os.chmod(token_file, 0o600)
    assert rlhfctl(auth_daemon.target, "health").stdout == "SERVING\n"  # anonymous
    result = rlhfctl(auth_daemon.target, "info", check=None)
    assert result.returncode != 0 and "--token-file" in result.stderr, result
    result = rlhfctl(auth_daemon.target, "--token-file", str(token_file), "info", check=None)
    assert "UNAUTHENTICATED" not in result.stderr and "PERMISSION_DENIED" not in result.stderr, result
    assert ADMIN_TOKEN not in result.stdout + result.stderr
    assert auth_daemon.stop() == 0
    assert "token_name=ops" in auth_daemon.stderr_text()
