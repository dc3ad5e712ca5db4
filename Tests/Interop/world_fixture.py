"""A small world data set written by the world tools (tools/world): images, and the feedback
files in LLaVA-RLHF's layouts (`preferences_val.json`, `rl_prompts_val.json`) that
`tools/world/export_feedback.py` writes. Generated per test session in a few seconds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
WORLD = REPO / "tools" / "world"


def world_feedback(out: Path, val_scenes: int = 3) -> Path:
    """Generates the world into `out` and exports its feedback; returns `out` (with `images/`
    and `feedback/`)."""
    subprocess.run(
        [sys.executable, str(WORLD / "generate.py"), "--out", str(out), "--train", "2",
         "--val", str(val_scenes), "--test", "12", "--per-type", "1"],
        check=True, capture_output=True, timeout=120,
    )
    subprocess.run(
        [sys.executable, str(WORLD / "export_feedback.py"), "--data", str(out), "--splits", "val",
         "--message-splits", "none"],
        check=True, capture_output=True, timeout=120,
    )
    return out
