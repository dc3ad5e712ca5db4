"""Fixtures of the reliability suite: the interop suite's (binary, state directory, daemons,
per-test time limit), loaded from Tests/Interop/conftest.py under another module name, plus
`figures`, which records each test's measurements for the report (scripts/reliability.sh)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INTEROP = HERE.parent / "Interop"
for path in (str(INTEROP), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

_spec = importlib.util.spec_from_file_location("interop_conftest", INTEROP / "conftest.py")
_interop = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_interop)

pytest_configure = _interop.pytest_configure
pytest_runtest_call = _interop.pytest_runtest_call
state_home = _interop.state_home
rlhfd_bin = _interop.rlhfd_bin
make_daemon = _interop.make_daemon

from harness import Figures  # noqa: E402


@pytest.fixture
def figures(request):
    """`figures.add(name=value, ...)`, `figures.check(name, ok, criterion)`: written to
    $RELIABILITY_RESULTS (JSON lines) when the test ends, passed or not."""
    recorder = Figures(request.node.name)
    yield recorder
    recorder.write()
