"""Measurement helpers of the reliability suite: the mode (short or long), the daemon's RSS,
descriptors and threads from /proc, Prometheus samples, percentiles, and the figures file."""

from __future__ import annotations

import json
import os
import re
import time
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Interop"))
from interop import thread_priorities  # noqa: E402,F401  (one reader of /proc/PID/task)

# RELIABILITY_LONG=1: the durations of research/reliability.md (10-minute soak, ...).
LONG = os.environ.get("RELIABILITY_LONG") == "1"
REPO = Path(__file__).resolve().parent.parent.parent
RESULTS = Path(os.environ.get("RELIABILITY_RESULTS", REPO / "bench-results" / "reliability.jsonl"))
PNG = (REPO / "Tests" / "Fixtures" / "images" / "rgb_64x48.png").read_bytes()


def pick(short, long):
    return long if LONG else short


def proc_status(pid: int) -> dict:
    """VmRSS (KiB), threads, open descriptors of a process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            fields[key] = int(value.split()[0])
    fields["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return {"rss_kib": fields["VmRSS"], "threads": fields["Threads"], "fds": fields["fds"]}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        return reply.read().decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The first sample of `name` whose labels include `labels` (0 if the series is absent)."""
    for line in text.splitlines():
        found = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if found and all(f'{k}="{v}"' in (found.group(1) or "") for k, v in labels.items()):
            return float(found.group(2))
    return 0.0


def percentile(values, q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def wait_until(condition, timeout: float, interval: float = 0.01):
    """Polls `condition()` until truthy or `timeout`; returns (value, seconds waited)."""
    start = time.monotonic()
    while True:
        value = condition()
        if value or time.monotonic() - start >= timeout:
            return value, time.monotonic() - start
        time.sleep(interval)


class Figures:
    """What one test measured: plain figures and pass/fail checks against a criterion."""

    def __init__(self, test: str) -> None:
        self.record = {"test": test, "mode": "long" if LONG else "short", "figures": {},
                       "checks": []}

    def add(self, **values) -> None:
        self.record["figures"].update(values)

    def check(self, name: str, ok: bool, criterion: str, timing: bool = False) -> bool:
        """A pass criterion. `timing` ones (latency bounds that a loaded shared host can miss)
        fail the test only in the long run; the short run (CI) reports them."""
        hard = LONG or not timing
        self.record["checks"].append(
            {"name": name, "ok": bool(ok), "criterion": criterion, "hard": hard})
        return ok

    def write(self) -> None:
        self.record["load_average"] = [round(x, 1) for x in os.getloadavg()]
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        with open(RESULTS, "a") as out:
            out.write(json.dumps(self.record, default=str) + "\n")

    def assert_all(self) -> None:
        failed = [c for c in self.record["checks"] if not c["ok"] and c["hard"]]
        assert not failed, f"failed: {failed}\nfigures: {self.record['figures']}"


def start_daemon(rlhfd_bin, workdir: Path, config: str = "", *, binary=None, env=None,
                 listen=None, wait: bool = True):
    """The real daemon on the tiny test model (models/default) with /metrics on a free port and
    the YAML `config` (plus `metrics_listen`); `.metrics_port` names the port. Killed by
    `daemon.kill()`."""
    from interop import Daemon, free_port

    workdir.mkdir(parents=True, exist_ok=True)
    metrics_port = free_port()
    path = workdir / "rlhfd.yaml"
    path.write_text(f'metrics_listen: "127.0.0.1:{metrics_port}"\n' + config)
    daemon = Daemon(binary or rlhfd_bin, workdir, model="default", env=env, listen=listen,
                    args=["--config", str(path)])
    daemon.metrics_port = metrics_port
    try:
        daemon.start(wait=wait)
    except BaseException:
        daemon.kill()
        raise
    return daemon


def generate_request(prompt: str = "What is in the image?", max_new_tokens: int = 16, **sampling):
    from rlhfd_client._proto.rlhfd.v1 import common_pb2, policy_pb2

    return policy_pb2.GenerateRequest(
        prompt=prompt, images=[common_pb2.Image(data=PNG)],
        sampling=common_pb2.SamplingParams(max_new_tokens=max_new_tokens, **sampling),
    )


def scheduler_state(port: int) -> dict:
    """The policy scheduler's gauges: running, queue_depth, kv_blocks_used."""
    text = scrape(port)
    return {name: sample(text, f"rlhfd_scheduler_{name}", model="policy")
            for name in ("running", "queue_depth", "kv_blocks_used")}


# The load generator's nice value above ours (RELIABILITY_LOAD_NICE; 0 by default): it stands
# for clients on other machines but shares the daemon's two cores here; overload_ab.py A/Bs it.
LOAD_NICE = int(os.environ.get("RELIABILITY_LOAD_NICE", "0"))


def start_load(target: str, clients: int, seconds: float, max_new_tokens: int = 32,
               nice: int = LOAD_NICE):
    """Starts loadgen.py in its own process at `nice` above ours; `.communicate()` then
    `json.loads` the result."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve().parent / "loadgen.py"), target,
         str(clients), str(seconds), str(max_new_tokens)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=(lambda: os.nice(nice)) if nice else None,
    )
