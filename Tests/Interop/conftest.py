"""Fixtures for the interop suite: the binary under test, daemons, and a per-test time limit.

The binary is `$RLHFD_BIN`, or `<repo>/.build/debug/rlhfd` by default (`swift build`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# The generated stubs live in the Python client; use them even if it is not pip-installed.
for path in (str(REPO / "clients" / "python" / "src"), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)



def _import_generated_stubs() -> None:
    """Makes `rlhfd_client._proto...` importable even if the client package itself is broken.

    The suite needs only the generated stubs; `rlhfd_client/__init__.py` also imports the
    hand-written client, which is edited independently. If that import fails, register a bare
    package so that its `_proto` subpackage still imports (and say so).
    """
    try:
        import rlhfd_client  # noqa: F401
    except Exception as error:  # noqa: BLE001 - any failure of the client module
        import types
        import warnings

        for name in [n for n in sys.modules if n.split(".")[0] == "rlhfd_client"]:
            del sys.modules[name]
        package = types.ModuleType("rlhfd_client")
        package.__path__ = [str(REPO / "clients" / "python" / "src" / "rlhfd_client")]
        sys.modules["rlhfd_client"] = package
        warnings.warn(f"rlhfd_client does not import ({error!r}); using its generated stubs only")


_import_generated_stubs()

from interop import Daemon  # noqa: E402

DEFAULT_TEST_TIMEOUT_S = 60


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "time_limit(seconds): fail the test if it runs longer (default 60 s)"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A SIGALRM watchdog per test, so that a hang fails one test instead of the whole run.

    Every RPC and wait in the suite has its own timeout; this is the backstop.
    """
    marker = item.get_closest_marker("time_limit")
    seconds = marker.args[0] if marker else DEFAULT_TEST_TIMEOUT_S

    def expired(signum, frame):
        raise TimeoutError(f"{item.nodeid} exceeded its time limit of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _binary_path() -> Path:
    explicit = os.environ.get("RLHFD_BIN")
    return Path(explicit) if explicit else REPO / ".build" / "debug" / "rlhfd"


@pytest.fixture(scope="session", autouse=True)
def state_home(tmp_path_factory):
    """Every daemon of the run keeps its state in one session directory ($XDG_STATE_HOME), not
    the user's. The OpenBLAS kernel choice is made there once, up front (`rlhfd blas-core`;
    it may probe for a few seconds, docs/kernels.md), so no daemon start pays for it."""
    home = tmp_path_factory.mktemp("state-home")
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(home)
    binary = _binary_path()
    if binary.is_file() and os.access(binary, os.X_OK):
        subprocess.run(
            [str(binary), "blas-core"], stdin=subprocess.DEVNULL, capture_output=True, timeout=300
        )
    yield home
    if previous is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = previous


@pytest.fixture(scope="session")
def rlhfd_bin() -> Path:
    """The rlhfd binary. Missing: an error if $RLHFD_BIN names it, else a skip saying how to build."""
    explicit = os.environ.get("RLHFD_BIN")
    path = _binary_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        message = (
            f"rlhfd binary not found or not executable at {path}. "
            "Build it with `swift build` in the repository root, or set RLHFD_BIN."
        )
        if explicit:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def daemon(rlhfd_bin, tmp_path_factory) -> Daemon:
    """A daemon shared by the read-only tests (plaintext 127.0.0.1, Debug service on)."""
    instance = Daemon(rlhfd_bin, tmp_path_factory.mktemp("shared-daemon"))
    try:
        instance.start()
    except BaseException:
        instance.kill()
        raise
    yield instance
    # After every read-only test: the daemon survived them all and still stops cleanly.
    try:
        alive = instance.running()
        code = instance.stop(signal.SIGTERM) if alive else instance.process.returncode
    finally:
        instance.kill()
    assert alive, f"the shared daemon died (exit {code})\nstderr:\n{instance.stderr_text()}"
    assert code == 0 and not instance.error_lines(), instance.stderr_text()


@pytest.fixture(scope="session")
def shared_channel(daemon):
    """One channel to the shared daemon, reused by the read-only tests."""
    return daemon.channel()


@pytest.fixture
def make_daemon(rlhfd_bin, tmp_path):
    """A factory of function-scoped daemons (for tests that stop them or need other flags).

    `make_daemon(args=[...], listen=[...], env={...}, credentials=..., start=True)`; every
    daemon it made is killed in teardown.
    """
    made: list[Daemon] = []

    def factory(*, start: bool = True, **kwargs) -> Daemon:
        instance = Daemon(rlhfd_bin, tmp_path / f"daemon-{len(made)}", **kwargs)
        made.append(instance)
        if start:
            instance.start()
        return instance

    try:
        yield factory
    finally:
        for instance in made:
            instance.kill()
