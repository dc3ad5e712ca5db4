"""A/B of the overload reject latency (docs/reliability.md, "Compute priority and the early
refusal"): daemon variants run back to back, their order alternating each round, each under the
load of test_overload.py (16 closed-loop clients against capacity 8, a probe every 20 ms).

    .venv/bin/python Tests/Reliability/overload_ab.py ROUNDS SECONDS NAME=YAML ...
    e.g. ... 4 15 'before=compute_nice: 0\\nearly_refusal: false' 'after=compute_nice: 10'

Prints one JSON line per run (probe reject p50/p90/p99/max in ms, goodput, the load generator's
rejects per second, the load average) and the pooled figures of each variant. RLHFD_BIN names
the binary (default: the debug build). On a shared host, AB_BOOST=-10 (root) sets the nice value
of the daemon's and the clients' autogroups, so that other process groups disturb less. A line
`load_nice: N` in a variant's YAML is not the daemon's: it runs that variant's load generator at
nice N (default: harness.LOAD_NICE)."""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path[:0] = [str(HERE), str(REPO / "Tests" / "Interop"), str(REPO / "clients" / "python" / "src")]

import grpc  # noqa: E402

from harness import LOAD_NICE, generate_request, percentile, start_daemon, start_load  # noqa: E402
from rlhfd_client._proto.rlhfd.v1 import policy_pb2_grpc  # noqa: E402

BIN = Path(os.environ.get("RLHFD_BIN", REPO / ".build" / "debug" / "rlhfd"))
BOOST = os.environ.get("AB_BOOST", "")
BASE = "batching:\n  max_batch_size: 4\n  max_waiting_requests: 4\n"


def run(name: str, extra: str, seconds: float, workdir: Path) -> dict:
    lines = extra.splitlines()
    nice = next((int(line.split(":")[1]) for line in lines if line.startswith("load_nice:")),
                LOAD_NICE)
    slice_us = next((int(line.split(":")[1]) for line in lines if line.startswith("slice_us:")),
                    0)
    extra = "".join(line + "\n" for line in lines
                    if not line.startswith(("load_nice:", "slice_us:")))
    daemon = start_daemon(BIN, workdir, BASE + extra)
    sys.path.insert(0, "/work/exp/slice")
    import slice as sl
    if slice_us:
        for tid, name in sl.threads(daemon.pid).items():
            if name.startswith("grpc") or name == "rlhfd":
                sl.set_slice(tid, slice_us * 1000)
    for tid in sl.threads(os.getpid()):
        sl.set_slice(tid, slice_us * 1000)
    if BOOST:
        Path(f"/proc/{daemon.pid}/autogroup").write_text(BOOST)
    try:
        load = start_load(daemon.target, 16, seconds, nice=nice)
        stub = policy_pb2_grpc.PolicyStub(daemon.channel())
        probe = generate_request("Probe", max_new_tokens=32)
        rejects = []
        time.sleep(1.0)  # the load fills the daemon first
        while load.poll() is None:
            start = time.perf_counter()
            try:
                stub.Generate(probe, timeout=60)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    rejects.append(time.perf_counter() - start)
            time.sleep(0.02)
        out, _ = load.communicate(timeout=60)
        codes = json.loads(out.strip().splitlines()[-1])["codes"]
    finally:
        daemon.kill()

    def ms(q):
        return round(percentile(rejects, q) * 1000, 2)

    return dict(variant=name, load_nice=nice, probes=len(rejects), p50=ms(50), p90=ms(90), p99=ms(99),
                max=ms(100), goodput=round(codes.get("OK", 0) / seconds, 2),
                load_rejects_per_s=round(codes.get("RESOURCE_EXHAUSTED", 0) / seconds),
                load_average=[round(x, 1) for x in os.getloadavg()], latencies=rejects)


def main() -> None:
    rounds, seconds = int(sys.argv[1]), float(sys.argv[2])
    variants = [arg.split("=", 1) for arg in sys.argv[3:]]
    if BOOST:
        Path("/proc/self/autogroup").write_text(BOOST)
    results = collections.defaultdict(list)
    workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"overload-ab-{os.getpid()}"
    for index in range(rounds):
        for name, extra in variants if index % 2 == 0 else variants[::-1]:
            result = run(name, extra.replace("\\n", "\n") + "\n", seconds,
                         workdir / f"{name}-{index}")
            results[name].append(result)
            print(json.dumps({k: v for k, v in result.items() if k != "latencies"}), flush=True)
    for name, runs in results.items():
        pooled = [x for result in runs for x in result["latencies"]]
        print(json.dumps({
            "pooled": name, "probes": len(pooled),
            **{f"p{q}": round(percentile(pooled, q) * 1000, 2) for q in (50, 90, 99)},
            "goodput": round(sum(r["goodput"] for r in runs) / len(runs), 2)}), flush=True)


if __name__ == "__main__":
    main()
