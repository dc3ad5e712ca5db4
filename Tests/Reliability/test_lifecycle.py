"""H3 kill -9 under load then restart, and H2 SIGTERM drain under load (E1's invariant in both:
every acknowledged feedback is in the store after the restart).

kill -9: pass = the restarted daemon is SERVING and serves a Generate (time reported: process
start to SERVING, and to the first OK Generate), 0 acknowledged feedback lost.
SIGTERM: pass = every call in flight at the signal ends OK, calls after it are UNAVAILABLE, exit
0 within the drain budget + 2 s, 0 acknowledged feedback lost."""

from __future__ import annotations

import signal
import threading
import time

import grpc
import pytest

from harness import generate_request, pick, start_daemon
from interop import SERVING, health_check
from lifecycle import Load, missing_feedback
from rlhfd_client._proto.rlhfd.v1 import policy_pb2_grpc

LOAD_S = pick(3, 30)


def restart(rlhfd_bin, workdir):
    """Starts the daemon on `workdir`'s store; returns (daemon, s to SERVING, s to a Generate)."""
    started = time.monotonic()
    daemon = start_daemon(rlhfd_bin, workdir)
    serving = time.monotonic() - started
    policy_pb2_grpc.PolicyStub(daemon.channel()).Generate(generate_request(max_new_tokens=2),
                                                          timeout=30)
    return daemon, serving, time.monotonic() - started


@pytest.mark.time_limit(pick(120, 300))
def test_kill_9_under_load_then_restart(rlhfd_bin, tmp_path, figures):
    workdir = tmp_path / "kill9"
    daemon = start_daemon(rlhfd_bin, workdir)
    restarted = None
    try:
        load = Load(daemon)
        time.sleep(LOAD_S)
        daemon.process.kill()
        daemon.process.wait(timeout=10)
        load.stop()
        restarted, to_serving, to_first_ok = restart(rlhfd_bin, workdir)
        lost = missing_feedback(restarted, list(load.acked))
        figures.add(load_s=LOAD_S, codes_before_kill=dict(load.codes),
                    acked_feedback=len(load.acked), lost_feedback=len(lost),
                    restart_to_serving_s=round(to_serving, 3),
                    restart_to_first_generate_s=round(to_first_ok, 3))
        figures.check("serving again", health_check(restarted.channel()) == SERVING,
                      "SERVING after the restart, serves a Generate")
        figures.check("no feedback lost", not lost and len(load.acked) > 0,
                      "0 acknowledged feedback lost")
        figures.check("time to serving", to_serving <= 10, "restart to SERVING <= 10 s "
                      "(model load + 2 s)", timing=True)
        figures.assert_all()
    finally:
        daemon.kill()
        if restarted is not None:
            restarted.kill()


@pytest.mark.time_limit(pick(120, 300))
def test_sigterm_drain_under_load(rlhfd_bin, tmp_path, figures):
    workdir = tmp_path / "drain"
    daemon = start_daemon(rlhfd_bin, workdir, "drain_timeout_seconds: 10\n")
    restarted = None
    try:
        load = Load(daemon, generators=0)
        stub = policy_pb2_grpc.PolicyStub(daemon.channel())
        in_flight, results = [], {}

        def stream(index: int) -> None:
            try:
                call = stub.GenerateStream(generate_request(f"Drain {index}", max_new_tokens=120,
                                                            seed=index), timeout=60)
                results[index] = ("OK", sum(1 for _ in call))
            except grpc.RpcError as error:
                results[index] = (error.code().name, error.details())

        time.sleep(LOAD_S)
        in_flight = [threading.Thread(target=stream, args=(i,)) for i in range(16)]
        for thread in in_flight:
            thread.start()
        time.sleep(0.5)  # the streams are generating
        signalled = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        try:
            stub.Generate(generate_request(max_new_tokens=2), timeout=5)
            late = "OK"
        except grpc.RpcError as error:
            late = error.code().name
        code = daemon.wait_exit(timeout=20)
        exit_s = time.monotonic() - signalled
        for thread in in_flight:
            thread.join(timeout=30)
        load.stop()
        restarted, _, _ = restart(rlhfd_bin, workdir)
        lost = missing_feedback(restarted, list(load.acked))
        codes = sorted({r[0] for r in results.values()})
        figures.add(in_flight=len(results), in_flight_codes=codes, call_after_sigterm=late,
                    exit_code=code, exit_after_s=round(exit_s, 2), feedback=dict(load.codes),
                    acked_feedback=len(load.acked), lost_feedback=len(lost))
        figures.check("in-flight finish", codes == ["OK"] and len(results) == 16,
                      "in-flight calls finish OK within the drain budget")
        figures.check("new calls refused", late == "UNAVAILABLE", "new calls UNAVAILABLE")
        figures.check("exit", code == 0 and exit_s <= 12, "exit 0 within drain + 2 s")
        figures.check("no feedback lost", not lost and len(load.acked) > 0,
                      "0 acknowledged feedback lost")
        figures.assert_all()
    finally:
        daemon.kill()
        if restarted is not None:
            restarted.kill()
