"""C2/C10 for every RPC: the malformed-input table. Every method of every service the daemon
serves (found from the generated descriptors, so a new RPC gets rows without editing this file)
receives the same wire-level rows (bytes that do not decode, a wrong wire type, a truncated
field, an over-long varint, invalid UTF-8, unknown fields only), and every method with fields
also gets value rows (SEMANTIC here, plus Tests/Interop/test_status_codes.py's tables for
Generate, Score and Feedback). Pass: no row crashes the daemon or is answered UNKNOWN; bytes that
do not decode are never OK; value rows get the codes listed; after every row Health is SERVING;
at the end nothing was logged at error level. The table (method x row -> code) goes to the
report."""

from __future__ import annotations

import collections

import grpc
import pytest
from grpc_health.v1 import health_pb2

from harness import start_daemon
from interop import SERVING, health_check
from rlhfd_client._proto.rlhfd.v1 import (admin_pb2, debug_pb2, feedback_pb2, policy_pb2,
                                          reward_pb2)
from test_status_codes import GENERATE_INVALID, OTHER_INVALID

TIMEOUT_S = 3.0
ANY_ERROR = {"INVALID_ARGUMENT", "INTERNAL", "UNIMPLEMENTED", "NOT_FOUND", "FAILED_PRECONDITION",
             "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "OUT_OF_RANGE"}

# (row, bytes, must fail to decode)
WIRE_ROWS = [
    ("garbage", b"\xff\xff\xff\xff\xff", True),
    ("truncated-field", b"\x0a\x64abc", True),
    ("overlong-varint", b"\x08" + b"\xff" * 10 + b"\x01", True),
    ("tag-zero", b"\x00\x01", True),
    ("wrong-wire-type", b"\x0d\x01\x02\x03\x04", False),
    ("invalid-utf8-field-1", b"\x0a\x02\xc3\x28", False),
    ("unknown-fields-only", b"\xf8\x07\x01\xfa\x07\x03abc", False),
    ("control-bytes-field-1", b"\x0a\x80\x01" + b"\x0a\x7e" + b"\x0a\x00" * 63, False),
]

# Value rows for the methods the interop tables do not cover: (method, row, request, codes).
SEMANTIC = [
    ("/rlhfd.v1.Admin/ListPolicyVersions", "limit-max",
     admin_pb2.ListPolicyVersionsRequest(limit=2**32 - 1), {"OK", "INVALID_ARGUMENT"}),
    ("/rlhfd.v1.Admin/PromotePolicy", "unknown-version",
     admin_pb2.PromotePolicyRequest(version="../../etc/passwd"), ANY_ERROR - {"INTERNAL"}),
    ("/rlhfd.v1.Admin/RollbackPolicy", "unknown-version",
     admin_pb2.RollbackPolicyRequest(version="no-such-version"), ANY_ERROR - {"INTERNAL"}),
    ("/rlhfd.v1.Admin/PauseTraining", "reason-100k",
     admin_pb2.PauseTrainingRequest(reason="x" * 100_000), ANY_ERROR | {"OK"}),
    ("/rlhfd.v1.Admin/SaveCheckpoint", "path-outside-state",
     admin_pb2.SaveCheckpointRequest(path="/proc/self/mem"), ANY_ERROR - {"INTERNAL"}),
    ("/rlhfd.v1.Admin/RegisterPolicyVersion", "empty-version",
     admin_pb2.RegisterPolicyVersionRequest(), {"INVALID_ARGUMENT"}),
    ("/rlhfd.v1.Admin/RegisterPolicyVersion", "missing-adapter",
     admin_pb2.RegisterPolicyVersionRequest(version="v-x", adapter_path="/nonexistent/a"),
     {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION"}),
    ("/rlhfd.v1.Admin/RetirePolicyVersion", "empty-version",
     admin_pb2.RetirePolicyVersionRequest(), {"INVALID_ARGUMENT"}),
    ("/rlhfd.v1.Admin/RetirePolicyVersion", "unknown-version",
     admin_pb2.RetirePolicyVersionRequest(version="nope"), {"NOT_FOUND", "INVALID_ARGUMENT",
                                                             "FAILED_PRECONDITION"}),
    ("/rlhfd.v1.Debug/Sleep", "duration-max", debug_pb2.SleepRequest(duration_ms=2**32 - 1),
     {"DEADLINE_EXCEEDED", "INVALID_ARGUMENT"}),
    ("/rlhfd.v1.Debug/Echo", "payload-1MiB", debug_pb2.EchoRequest(payload=b"\0" * (1 << 20)),
     {"OK", "RESOURCE_EXHAUSTED"}),
    ("/rlhfd.v1.Debug/Ticks", "count-max-interval-0",
     debug_pb2.TicksRequest(count=2**32 - 1, interval_ms=0),
     {"DEADLINE_EXCEEDED", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}),
    ("/rlhfd.v1.Debug/Concat", "payload-1MiB", debug_pb2.EchoRequest(payload=b"\1" * (1 << 20)),
     {"OK", "RESOURCE_EXHAUSTED"}),
    ("/rlhfd.v1.Debug/EchoStream", "empty", debug_pb2.EchoRequest(), {"OK"}),
    ("/rlhfd.v1.Feedback/GetTrainingStatus", "unknown-field-only",
     feedback_pb2.TrainingStatusRequest(), ANY_ERROR | {"OK"}),
    ("/rlhfd.v1.Feedback/WatchTraining", "initial-status",
     feedback_pb2.WatchTrainingRequest(send_initial_status=True), ANY_ERROR | {"OK"}),
    ("/grpc.health.v1.Health/Check", "unknown-service",
     health_pb2.HealthCheckRequest(service="\u00e9" * 1000), {"NOT_FOUND"}),
]
for name, request, field in GENERATE_INVALID:
    SEMANTIC.append(("/rlhfd.v1.Policy/Generate", name, request, {"INVALID_ARGUMENT"}))
    SEMANTIC.append(("/rlhfd.v1.Policy/GenerateStream", name, request, {"INVALID_ARGUMENT"}))
for name, rpc, request, field in OTHER_INVALID:
    SEMANTIC.append((f"/rlhfd.v1.{rpc}", name, request, {"INVALID_ARGUMENT", "NOT_FOUND"}))


def methods() -> list[tuple[str, bool, bool]]:
    """(path, client streaming, server streaming) for every RPC the daemon serves."""
    found = []
    for module in (policy_pb2, reward_pb2, feedback_pb2, admin_pb2, debug_pb2, health_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                found.append((f"/{service.full_name}/{method.name}", method.client_streaming,
                              method.server_streaming))
    found.append(("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", True, True))
    found.append(("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", True, True))
    return found


def call(channel, path: str, client_streaming: bool, server_streaming: bool, payload: bytes):
    """One raw call with `payload` as the (only) request message; returns the status name."""
    kinds = {(False, False): channel.unary_unary, (False, True): channel.unary_stream,
             (True, False): channel.stream_unary, (True, True): channel.stream_stream}
    function = kinds[(client_streaming, server_streaming)](path)
    request = iter([payload]) if client_streaming else payload
    try:
        result = function(request, timeout=TIMEOUT_S)
        if server_streaming:
            for _ in result:
                pass
        return "OK"
    except grpc.RpcError as error:
        return error.code().name


@pytest.mark.time_limit(300)
def test_malformed_input_for_every_rpc(rlhfd_bin, tmp_path, figures):
    daemon = start_daemon(rlhfd_bin, tmp_path / "malformed")
    try:
        channel = daemon.channel()
        kinds = {path: (cs, ss) for path, cs, ss in methods()}
        table, failures = collections.defaultdict(dict), []
        rows = [(path, row, data, set(ANY_ERROR) if undecodable else None)
                for path in kinds for row, data, undecodable in WIRE_ROWS]
        rows += [(path, row, request.SerializeToString(), codes)
                 for path, row, request, codes in SEMANTIC]
        for path, row, payload, expected in rows:
            code = call(channel, path, *kinds[path], payload)
            table[path][row] = code
            if code == "UNKNOWN" or (expected is not None and code not in expected):
                failures.append((path, row, code, sorted(expected or [])))
            if health_check(channel, timeout=5) != SERVING or not daemon.running():
                failures.append((path, row, "daemon not serving after this row", []))
                break
        unimplemented = sorted(p for p in kinds if set(table[p].values()) == {"UNIMPLEMENTED"})
        figures.add(methods=len(kinds), rows=len(rows),
                    codes=dict(collections.Counter(c for t in table.values() for c in t.values())),
                    unserved_methods=unimplemented, table={p: dict(t) for p, t in table.items()})
        figures.check("rows", not failures, f"no UNKNOWN, no crash, expected codes: {failures[:5]}")
        figures.check("clean log", not daemon.error_lines(), "nothing logged at error level")
        figures.assert_all()
    finally:
        daemon.kill()
