"""Makes `worldgen` (tools/world) and the client's stubs (clients/python/src) importable."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for path in (HERE.parent, HERE.parents[2] / "clients" / "python" / "src"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
