"""OpenBLAS kernel choice at start-up (docs/kernels.md): the daemon logs the kernel set it runs
and why; when OpenBLAS picked an older set than the CPU runs it probes the candidates in child
processes, re-executes itself with the fastest correct one and caches the choice in the state
directory; an explicit OPENBLAS_CORETYPE and `--blas-core` win. GetModelInfo's compute_kernels
carries the same core and reason.

These pass on any x86-64-v3 CPU: where OpenBLAS already picks the best set by itself (a Zen 3),
the test hook RLHFD_TEST_BLAS_OWN_CHOICE=1 with OPENBLAS_CORETYPE=Prescott plays a CPU that
OpenBLAS does not know (as Debian's 0.3.21 on a recent Xeon), so the probing and the re-exec
run for real; RLHFD_TEST_BLAS_PROBE_FAULT breaks the probes of named cores.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from interop import RPC_TIMEOUT_S, SERVING, health_check
from rlhfd_client._proto.rlhfd.v1 import admin_pb2, admin_pb2_grpc

LINE = re.compile(r"source=(\w+) \[rlhfd\] openblas core (\w+) \((.*)\)$", re.M)
CONFIG_CORE = re.compile(r"MAX_THREADS=\d+ core=(\w+),")
# Probe children run the debug binary under whatever load the machine has.
pytestmark = pytest.mark.time_limit(180)
START_S = 90.0


def clean_env(**extra: str) -> dict:
    """This environment without OpenBLAS pins (some sandboxes export them), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS_", "RLHFD_TEST_"))}
    env.update(extra)
    return env


def pretend_prescott(**extra: str) -> dict:
    return clean_env(OPENBLAS_CORETYPE="Prescott", RLHFD_TEST_BLAS_OWN_CHOICE="1", **extra)


def start(make_daemon, state, env, *args):
    """A daemon with its state directory `state`; returns (daemon, source, core, reason)."""
    daemon = make_daemon(
        args=["--state-directory", str(state), *args], env=env, start=False
    ).start(timeout=START_S)
    assert health_check(daemon.channel()) == SERVING
    log = daemon.stderr_text()
    found = LINE.search(log)
    assert found, log
    running = CONFIG_CORE.search(log)
    assert running, log
    # What the daemon says it runs is what OpenBLAS runs in the serving process.
    assert running.group(1) == found.group(2), log
    # GetModelInfo says the same.
    info = admin_pb2_grpc.AdminStub(daemon.channel()).GetModelInfo(
        admin_pb2.GetModelInfoRequest(), timeout=RPC_TIMEOUT_S
    )
    assert f"openblas core={found.group(2)} ({found.group(3)})," in info.compute_kernels, info
    return daemon, found.group(1), found.group(2), found.group(3)


def probed(reason: str) -> dict:
    """{core: GFLOP/s or None (unusable)} from "probed A 212 GFLOP/s, B unusable (...), ..."."""
    text = reason.split("probed ", 1)[1]
    result = {}
    for name, speed in re.findall(r"(\w+) (?:(\d+) GFLOP/s|unusable \()", text):
        result[name] = int(speed) if speed else None
    return result


def openblas_own_choice() -> str:
    """What OpenBLAS picks by itself, asked in a fresh Python process through ctypes."""
    code = "import ctypes; l = ctypes.CDLL('libopenblas.so.0'); " \
        "l.openblas_get_corename.restype = ctypes.c_char_p; print(l.openblas_get_corename().decode())"
    return subprocess.run(
        ["python3", "-c", code], env=clean_env(), capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()


def test_the_daemon_logs_the_core_it_runs_and_why(make_daemon, tmp_path):
    """No pin, no setting: the core is OpenBLAS's own choice when that is already the best
    this CPU runs, otherwise a probed one that is never older than OpenBLAS's choice."""
    own = openblas_own_choice()
    _, source, core, reason = start(make_daemon, tmp_path / "state", clean_env())
    if source == "openblas":
        assert core == own and reason == "OpenBLAS's own choice, the best this CPU runs"
    else:
        assert source == "probed", reason
        assert reason.startswith(f"OpenBLAS chose {own}; probed "), reason
        assert core in probed(reason), reason
        assert reason.endswith(f"cached in {tmp_path / 'state' / 'blas-core.cache'}"), reason


def test_probes_reexecute_and_a_second_start_uses_the_cache(make_daemon, tmp_path):
    state = tmp_path / "state"
    first, source, core, reason = start(make_daemon, state, pretend_prescott())
    assert source == "probed", reason
    speeds = probed(reason)
    assert list(speeds)[-1] == "Prescott" and len(speeds) >= 2, reason
    # Every x86-64-v3 CPU runs Haswell's kernels correctly, so a better set than Prescott wins.
    assert core != "Prescott" and speeds[core] is not None, reason
    assert (state / "blas-core.cache").is_file()
    cache = (state / "blas-core.cache").read_text()
    assert f"core={core}\n" in cache, cache
    assert first.stop() == 0

    # Second start: from the cache. Were it to probe, the chosen core's probe would crash now.
    env = pretend_prescott(RLHFD_TEST_BLAS_PROBE_FAULT=f"{core}:crash")
    _, source, again, reason = start(make_daemon, state, env)
    assert (source, again) == ("cached", core), reason
    assert reason.startswith("OpenBLAS chose Prescott; cached in "), reason


def test_a_crashing_or_wrong_candidate_is_never_used(make_daemon, tmp_path):
    _, _, _, reason = start(make_daemon, tmp_path / "first", pretend_prescott())
    names = [name for name in probed(reason) if name != "Prescott"]
    best, second = names[0], (names[1] if len(names) > 1 else None)
    faults = f"{best}:crash" + (f",{second}:wrong" if second else "")
    _, source, core, reason = start(
        make_daemon, tmp_path / "second", pretend_prescott(RLHFD_TEST_BLAS_PROBE_FAULT=faults)
    )
    speeds = probed(reason)
    assert speeds[best] is None and f"{best} unusable (killed by signal 4" in reason, reason
    if second:
        assert speeds[second] is None and f"{second} unusable (wrong results" in reason, reason
    assert core not in (best, second), reason
    assert speeds[core] is not None, reason


def test_an_explicit_openblas_coretype_is_kept(make_daemon, tmp_path):
    state = tmp_path / "state"
    _, source, core, reason = start(make_daemon, state, clean_env(OPENBLAS_CORETYPE="Haswell"))
    assert (source, core) == ("environment", "Haswell"), reason
    assert reason == "OPENBLAS_CORETYPE=Haswell set by the environment"
    assert not (state / "blas-core.cache").exists()


def test_blas_core_keep_keeps_openblass_own_choice(make_daemon, tmp_path):
    state = tmp_path / "state"
    _, source, core, reason = start(make_daemon, state, clean_env(), "--blas-core", "keep")
    assert (source, core) == ("keep", openblas_own_choice()), reason
    assert not (state / "blas-core.cache").exists()


def test_blas_core_names_a_core(make_daemon, tmp_path):
    _, source, core, reason = start(make_daemon, tmp_path, clean_env(), "--blas-core", "haswell")
    assert (source, core) == ("setting", "Haswell"), reason


def run(rlhfd_bin, *args, env=None):
    return subprocess.run(
        [str(rlhfd_bin), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=120, env=env or clean_env(),
    )


@pytest.mark.parametrize("value", ["fastest", "SapphireRapids", ""])
def test_a_bad_blas_core_is_a_usage_error(rlhfd_bin, tmp_path, value):
    result = run(rlhfd_bin, "serve", "--no-model", "--blas-core", value)
    assert result.returncode == 64, result.stderr
    assert "'blas_core' must be auto, keep or an OpenBLAS 0.3.21 core name" in result.stderr
    config = tmp_path / "bad.yaml"
    config.write_text(f"blas_core: '{value}'\n")
    result = run(rlhfd_bin, "check-config", "--config", str(config))
    assert result.returncode == 64 and "'blas_core'" in result.stderr, result.stderr


def test_check_config_resolves_the_state_directory_without_probing(rlhfd_bin, tmp_path):
    env = clean_env(XDG_STATE_HOME=str(tmp_path / "xdg"), **{"OPENBLAS_CORETYPE": "Prescott"})
    env["RLHFD_TEST_BLAS_OWN_CHOICE"] = "1"
    result = run(rlhfd_bin, "check-config", env=env)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert resolved["state_directory"] == str(tmp_path / "xdg" / "rlhfd"), resolved
    assert resolved["blas_core"] == "auto", resolved
    assert not (tmp_path / "xdg").exists()  # neither created nor probed into


def test_the_blas_core_command_prints_the_daemons_choice(rlhfd_bin, make_daemon, tmp_path):
    state = tmp_path / "state"
    printed = run(rlhfd_bin, "blas-core", "--state-directory", str(state), env=pretend_prescott())
    assert printed.returncode == 0, printed.stderr
    assert f"openblas core {printed.stdout.strip()} (" in printed.stderr
    _, source, core, _ = start(make_daemon, state, pretend_prescott())
    assert (source, core) == ("cached", printed.stdout.strip())
