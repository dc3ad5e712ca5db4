#!/usr/bin/env python3
"""Bridge benchmark driver: rlhfd vs grpcio's Python sync server, side by side in one run.

Empty grpc.health.v1.Health/Check (service="") on loopback. Load shapes:
  h2load (raw gRPC over HTTP/2, C client): 1 conn x 1 stream, 4 conns x 1 stream, 4 conns x 16 streams
  Python grpcio client: 1 process, 1 channel, 4 threads, blocking Check
Each (server, shape) is a warmup then a measured window; servers are interleaved (order alternates
per round), every shape runs REPS times and the median is reported. Server CPU is utime+stime of
the server process from /proc/PID/stat over the measured window.

Prints one line per figure (figure, peer, ratio, goal) and writes JSON. Use run.sh, which finds
the binaries; this script needs only the standard library (grpc runs in child processes).
"""
import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PATH = "/grpc.health.v1.Health/Check"
REQUEST = b"\x00\x00\x00\x00\x00"  # uncompressed frame, length 0: HealthCheckRequest{service: ""}
RESPONSE = b"\x00\x00\x00\x00\x02\x08\x01"  # HealthCheckResponse{status: SERVING}
GOAL_CPU_RATIO = 3.0
H2LOAD_SHAPES = [("1x1", 1, 1), ("4x1", 4, 1), ("4x16", 4, 16)]
PY_SHAPE = "py4t"  # Python grpcio client, 4 threads, 1 process


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    """utime + stime of every thread of pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    rest = stat[stat.rindex(")") + 2:].split()  # fields from 3 (state) on
    return int(rest[11]) + int(rest[12])  # fields 14 (utime) and 15 (stime)


def context_switches(pid):
    """Voluntary + involuntary context switches summed over the live threads of pid: a perf-less
    count of thread wakeups (a thread that blocks and is woken again switches once)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except FileNotFoundError:  # the thread exited meanwhile
            pass
    return total


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine_busy_s():
    """CPU seconds used by everything on the machine, all cores: wall time x cores minus idle.
    (/proc/stat's user/system fields are tick-sampled and miss the short bursts of a request
    loop on a tickless kernel; its idle field is exact.)"""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:6]]
    idle = (fields[3] + fields[4]) / CLK_TCK  # idle + iowait
    return time.monotonic() * os.cpu_count() - idle


def children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Server:
    def __init__(self, name, argv, port, log_path):
        self.name, self.argv, self.port, self.log_path = name, argv, port, log_path
        self.proc = None

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def start(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()


def wait_serving(python, server, timeout):
    result = subprocess.run(
        [python, os.path.join(HERE, "health_wait.py"), "--target", server.target, "--timeout", str(timeout)],
        capture_output=True, text=True, timeout=timeout + 15)
    if result.returncode != 0 or not server.alive():
        raise RuntimeError(f"{server.name} never answered SERVING: {result.stdout}{result.stderr}"
                           f" (log: {server.log_path})")


def verify_with_curl(server, request_file, workdir):
    """One raw-gRPC request the way h2load sends it; returns grpc-status and checks the body."""
    body_path = os.path.join(workdir, f"curl-{server.name}.bin")
    result = subprocess.run(
        ["curl", "--http2-prior-knowledge", "-sS", "-v", "--max-time", "5", "-X", "POST",
         "-H", "content-type: application/grpc", "-H", "te: trailers",
         "--data-binary", f"@{request_file}", "-o", body_path, f"http://{server.target}{PATH}"],
        capture_output=True, text=True, timeout=15)
    status = None
    for line in result.stderr.splitlines():
        if line.lower().startswith("< grpc-status:"):
            status = int(line.split(":", 1)[1].strip())
    with open(body_path, "rb") as f:
        body = f.read()
    if result.returncode != 0 or status != 0 or body != RESPONSE:
        raise RuntimeError(f"{server.name}: curl check failed: rc={result.returncode} grpc-status={status} "
                           f"body={body.hex()} (expected {RESPONSE.hex()})\n{result.stderr[-2000:]}")
    return status


def parse_h2load(text):
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("finished in"):
            parts = line.replace(",", "").split()
            out["finished_s"] = to_us(parts[2]) / 1e6
            out["req_per_s"] = float(parts[3])
        elif line.startswith("requests:"):
            words = line.replace(",", "").split()
            for i in range(1, len(words) - 1, 2):
                out[f"requests_{words[i + 1]}"] = int(words[i])
        elif line.startswith("status codes:"):
            words = line.replace(",", "").split()
            out["status_2xx"] = int(words[2])
            out["status_non_2xx"] = int(words[4]) + int(words[6]) + int(words[8])
        elif line.startswith("traffic:"):
            # traffic: 111.76KB (114443) total, 5.14KB (5265) headers (space savings 96.24%), 11.83KB (12110) data
            numbers = [int(tok.strip("()")) for tok in line.split() if tok.startswith("(") and tok.strip("()").isdigit()]
            out["bytes_total"], out["bytes_headers"], out["bytes_data"] = numbers[:3]
        elif line.startswith("time for request:"):
            fields = line.split(":", 1)[1].split()
            out["mean_latency_us"] = to_us(fields[2])
    return out


def to_us(token):
    for suffix, scale in (("us", 1.0), ("ms", 1e3), ("s", 1e6)):
        if token.endswith(suffix):
            return float(token[: -len(suffix)]) * scale
    raise ValueError(token)


def h2load_argv(h2load, request_file, server, conns, streams, duration):
    return [h2load, "-c", str(conns), "-m", str(streams), "-t", "1", "-D", f"{round(duration * 1000)}ms",
            "-H", "content-type: application/grpc", "-H", "te: trailers",
            "-d", request_file, f"http://{server.target}{PATH}"]


def run_h2load(args, request_file, server, conns, streams):
    # Warmup: its own h2load run, results discarded.
    subprocess.run(h2load_argv(args.h2load, request_file, server, conns, streams, args.warmup),
                   capture_output=True, timeout=args.warmup + 30, check=True)
    argv = h2load_argv(args.h2load, request_file, server, conns, streams, args.duration)
    client0, busy0 = children_cpu_s(), machine_busy_s()
    switches0 = context_switches(server.proc.pid)
    ticks0, t0 = cpu_ticks(server.proc.pid), time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 30)
    ticks1, t1 = cpu_ticks(server.proc.pid), time.monotonic()
    switches1 = context_switches(server.proc.pid)
    client1, busy1 = children_cpu_s(), machine_busy_s()
    if result.returncode != 0:
        raise RuntimeError(f"h2load failed ({result.returncode}): {result.stderr[-2000:]}")
    h = parse_h2load(result.stdout)
    ok = h.get("requests_succeeded", 0)
    window = t1 - t0
    cpu_s = (ticks1 - ticks0) / CLK_TCK
    data_per_response = h["bytes_data"] / ok if ok else None
    problems = []
    for key in ("requests_failed", "requests_errored", "requests_timeout", "status_non_2xx"):
        if h.get(key, 0):
            problems.append(f"{key}={h[key]}")
    # h2load cannot see grpc-status (a trailer); a SERVING answer is exactly 7 bytes of DATA, an
    # error status is trailers-only (0 bytes), so bytes of DATA per response tells them apart.
    if data_per_response is None or abs(data_per_response - len(RESPONSE)) > 0.05:
        problems.append(f"data_bytes_per_response={data_per_response} (expected {len(RESPONSE)}: non-OK grpc-status?)")
    return {
        "req_per_s": h["req_per_s"],
        "mean_latency_us": h["mean_latency_us"],
        "requests_ok": ok,
        "server_cpu_percent": 100.0 * cpu_s / window,
        "server_cpu_us_per_req": cpu_s * 1e6 / ok if ok else None,
        "server_ctx_switches_per_req": (switches1 - switches0) / ok if ok else None,
        "client_cpu_percent": 100.0 * (client1 - client0) / window,
        # everything else on the machine (the driver, other engineers' builds): noise indicator
        "other_cpu_percent": 100.0 * ((busy1 - busy0) - cpu_s - (client1 - client0)) / window,
        "window_s": window,
        "data_bytes_per_response": data_per_response,
        "problems": problems,
        "h2load": h,
    }


def run_py_client(args, server):
    argv = [args.python, os.path.join(HERE, "py_client_load.py"), "--target", server.target,
            "--threads", "4", "--warmup", str(args.warmup), "--duration", str(args.duration)]
    deadline = time.monotonic() + args.warmup + args.duration + 30
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    marks = {}
    summary = None
    try:
        for line in proc.stdout:
            line = line.strip()
            if line == "MEASURE_START":
                switches0 = context_switches(server.proc.pid)
                marks["start"] = (cpu_ticks(server.proc.pid), time.monotonic(), machine_busy_s())
            elif line == "MEASURE_END":
                marks["end"] = (cpu_ticks(server.proc.pid), time.monotonic(), machine_busy_s())
                switches1 = context_switches(server.proc.pid)
            elif line.startswith("{"):
                summary = json.loads(line)
            if time.monotonic() > deadline:
                break
        proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if summary is None or "start" not in marks or "end" not in marks:
        raise RuntimeError(f"python client failed (rc={proc.returncode}): {proc.stderr.read()[-2000:]}")
    (ticks0, t0, busy0), (ticks1, t1, busy1) = marks["start"], marks["end"]
    cpu_s = (ticks1 - ticks0) / CLK_TCK
    ok = summary["requests_ok"]
    problems = []
    if summary["errors"]:
        problems.append(f"non-OK statuses {summary['errors']}")
    if summary["not_serving"]:
        problems.append(f"not_serving={summary['not_serving']}")
    return {
        "req_per_s": summary["req_per_s"],
        "mean_latency_us": summary["mean_latency_us"],
        "p50_latency_us": summary["p50_latency_us"],
        "p99_latency_us": summary["p99_latency_us"],
        "requests_ok": ok,
        "server_cpu_percent": 100.0 * cpu_s / (t1 - t0),
        "server_cpu_us_per_req": cpu_s * 1e6 / ok if ok else None,
        "server_ctx_switches_per_req": (switches1 - switches0) / ok if ok else None,
        "client_cpu_percent": summary["client_cpu_percent"],
        "other_cpu_percent": 100.0 * (busy1 - busy0 - cpu_s) / (t1 - t0) - summary["client_cpu_percent"],
        "window_s": t1 - t0,
        "problems": problems,
    }


METRICS = ["req_per_s", "mean_latency_us", "server_cpu_percent", "server_cpu_us_per_req",
           "server_ctx_switches_per_req",
           "client_cpu_percent", "other_cpu_percent", "p50_latency_us", "p99_latency_us"]


def median_of(samples):
    out = {}
    for metric in METRICS:
        values = [s[metric] for s in samples if s.get(metric) is not None]
        if values:
            out[metric] = statistics.median(values)
    out["runs"] = len(samples)
    return out


def fmt_us(x):
    return f"{x / 1000:.2f} ms" if x >= 10_000 else f"{x:.0f} us"


def main():
    parser = argparse.ArgumentParser(description="rlhfd vs grpcio-py, empty Health.Check")
    parser.add_argument("--rlhfd", required=True, help="release rlhfd binary")
    parser.add_argument("--python", required=True, help="python with grpcio + grpcio-health-checking")
    parser.add_argument("--h2load", default=shutil.which("h2load") or "h2load")
    parser.add_argument("--out", required=True, help="JSON results file")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--no-py-client", action="store_true", help="skip the Python client shape")
    args = parser.parse_args()

    began = time.monotonic()

    def version(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:  # noqa: BLE001 - informational only
            return None

    # Read before measuring: other engineers may commit while the benchmark runs.
    versions = {
        "rlhfd_git": version(["git", "-C", HERE, "describe", "--always", "--dirty"]),
        "rlhfd_sources_changed": version(["git", "-C", HERE, "status", "--short", "--", ":/Sources", ":/Package.swift"]),
        "rlhfd_binary_mtime": datetime.datetime.fromtimestamp(os.path.getmtime(args.rlhfd)).isoformat(timespec="seconds"),
        "rlhfd_last_sources_commit": version(["git", "-C", HERE, "log", "-1", "--format=%h %cI", "--", ":/Sources", ":/Package.swift"]),
        "h2load": version([args.h2load, "--version"]),
        "grpcio": version([args.python, "-c", "import grpc; print(grpc.__version__)"]),
        "libgrpc": version(["dpkg-query", "-W", "-f", "${Version}", "libgrpc29"]),
    }

    last = (versions["rlhfd_last_sources_commit"] or "").split()
    if len(last) == 2 and datetime.datetime.fromisoformat(last[1]).timestamp() > os.path.getmtime(args.rlhfd):
        log(f"WARNING: {args.rlhfd} is older than commit {last[0]} to Sources/: rebuild it to measure HEAD")
    if versions["rlhfd_sources_changed"]:
        log("WARNING: Sources/ has uncommitted changes; the binary may not match HEAD")
    started_at = datetime.datetime.now(datetime.timezone.utc)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="bridge-bench-", dir=out_dir)
    request_file = os.path.join(workdir, "health-check.grpc")
    with open(request_file, "wb") as f:
        f.write(REQUEST)

    rport, pport = free_port(), free_port()
    servers = [
        Server("rlhfd", [args.rlhfd, "serve", "--listen", f"127.0.0.1:{rport}"], rport,
               os.path.join(workdir, "rlhfd.log")),
        Server("grpcio-py", [args.python, os.path.join(HERE, "py_health_server.py"), "--port", str(pport)],
               pport, os.path.join(workdir, "grpcio-py.log")),
    ]
    shapes = [s[0] for s in H2LOAD_SHAPES] + ([] if args.no_py_client else [PY_SHAPE])
    samples = {s.name: {shape: [] for shape in shapes} for s in servers}
    load_before = loadavg()
    problems = []
    rss_start = {}
    try:
        for server in servers:
            server.start()
        for server in servers:
            wait_serving(args.python, server, timeout=30)
            verify_with_curl(server, request_file, workdir)
            rss_start[server.name] = rss_kib(server.proc.pid)
            log(f"{server.name} pid {server.proc.pid} on {server.target}: Health.Check -> SERVING, "
                f"raw gRPC via curl -> grpc-status 0")
        per_run = 2 * len(shapes) * (args.warmup + args.duration)
        log(f"measuring: {len(shapes)} shapes x 2 servers x {args.reps} rounds, "
            f"{args.warmup:g} s warmup + {args.duration:g} s each (~{per_run * args.reps:.0f} s)")
        for rep in range(args.reps):
            order = servers if rep % 2 == 0 else list(reversed(servers))
            for shape in shapes:
                for server in order:
                    if not server.alive():
                        raise RuntimeError(f"{server.name} exited (log: {server.log_path})")
                    if shape == PY_SHAPE:
                        r = run_py_client(args, server)
                    else:
                        _, conns, streams = next(s for s in H2LOAD_SHAPES if s[0] == shape)
                        r = run_h2load(args, request_file, server, conns, streams)
                    r["round"] = rep
                    samples[server.name][shape].append(r)
                    for p in r["problems"]:
                        problems.append(f"{server.name} {shape} round {rep}: {p}")
                    log(f"  round {rep} {shape:5} {server.name:9}: {r['req_per_s']:8.0f} req/s, "
                        f"mean {fmt_us(r['mean_latency_us'])}, server CPU {r['server_cpu_percent']:5.1f}% "
                        f"= {r['server_cpu_us_per_req']:6.1f} us/req, "
                        f"{r['server_ctx_switches_per_req']:4.1f} cs/req, client CPU {r['client_cpu_percent']:5.1f}%, "
                        f"other {r['other_cpu_percent']:4.1f}%"
                        + (f"  PROBLEMS: {r['problems']}" if r["problems"] else ""))
        # One more check after the load: still SERVING and still grpc-status 0.
        for server in servers:
            verify_with_curl(server, request_file, workdir)
        rss_end = {s.name: rss_kib(s.proc.pid) for s in servers}
        threads = {s.name: len(os.listdir(f"/proc/{s.proc.pid}/task")) for s in servers}
    finally:
        for server in servers:
            server.stop()
    load_after = loadavg()

    medians = {name: {shape: median_of(runs) for shape, runs in by_shape.items()} for name, by_shape in samples.items()}
    figures = []
    lines = []
    for shape in shapes:
        r, p = medians["rlhfd"][shape], medians["grpcio-py"][shape]
        cpu_ratio = p["server_cpu_us_per_req"] / r["server_cpu_us_per_req"]
        verdict = "PASS" if cpu_ratio >= GOAL_CPU_RATIO else "FAIL"
        lines.append(f"cpu_per_req {shape}: rlhfd {r['server_cpu_us_per_req']:.0f} us, grpcio-py "
                     f"{p['server_cpu_us_per_req']:.0f} us, ratio {cpu_ratio:.1f}x (goal >= {GOAL_CPU_RATIO:g}x): {verdict}")
        rps_ratio = r["req_per_s"] / p["req_per_s"]
        lines.append(f"req_per_s {shape}: rlhfd {r['req_per_s']:.0f}, grpcio-py {p['req_per_s']:.0f}, "
                     f"ratio {rps_ratio:.2f}x (higher is better)")
        lat_ratio = p["mean_latency_us"] / r["mean_latency_us"]
        lines.append(f"mean_latency {shape}: rlhfd {fmt_us(r['mean_latency_us'])}, grpcio-py "
                     f"{fmt_us(p['mean_latency_us'])}, ratio {lat_ratio:.2f}x (peer/rlhfd)")
        lines.append(f"server_cpu {shape}: rlhfd {r['server_cpu_percent']:.0f}%, grpcio-py "
                     f"{p['server_cpu_percent']:.0f}% (limit {100 * os.cpu_count()}% on {os.cpu_count()} cores); "
                     f"client CPU {r['client_cpu_percent']:.0f}% / {p['client_cpu_percent']:.0f}%; "
                     f"server context switches per request {r['server_ctx_switches_per_req']:.1f} / "
                     f"{p['server_ctx_switches_per_req']:.1f}")
        figures.append({"shape": shape, "cpu_per_req_ratio": cpu_ratio, "goal": GOAL_CPU_RATIO,
                        "pass": cpu_ratio >= GOAL_CPU_RATIO, "req_per_s_ratio": rps_ratio,
                        "mean_latency_ratio": lat_ratio})
    for line in lines:
        print(line)
    passed = sum(f["pass"] for f in figures)
    print(f"goal (server CPU per request >= {GOAL_CPU_RATIO:g}x lower than grpcio-py): "
          f"{passed}/{len(figures)} shapes PASS" + ("" if passed == len(figures) else
          " (FAIL: " + ", ".join(f["shape"] for f in figures if not f["pass"]) + ")"))
    print(f"load average before {load_before}, after {load_after}; "
          f"RSS rlhfd {rss_start['rlhfd'] / 1024:.1f} -> {rss_end['rlhfd'] / 1024:.1f} MiB, "
          f"grpcio-py {rss_start['grpcio-py'] / 1024:.1f} -> {rss_end['grpcio-py'] / 1024:.1f} MiB; "
          f"threads rlhfd {threads['rlhfd']}, grpcio-py {threads['grpcio-py']}")
    other = max(r["other_cpu_percent"] for by_shape in samples.values() for runs in by_shape.values() for r in runs)
    print(f"other CPU on the machine during measured windows: max {other:.0f}%"
          + (" - NOT QUIET, rerun when nothing else runs" if other > 30 else
             " (quiet: ~10% is the load's own interrupt/softirq work plus this driver)"))
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems))

    result = {
        "benchmark": "bridge: empty grpc.health.v1.Health/Check, loopback",
        "started_at": started_at.isoformat(timespec="seconds"),
        "elapsed_s": round(time.monotonic() - began, 1),
        "host": {"nproc": os.cpu_count(), "kernel": platform.release(), "clk_tck": CLK_TCK,
                 "loadavg_before": load_before, "loadavg_after": load_after},
        "versions": versions,
        "protocol": {"reps": args.reps, "warmup_s": args.warmup, "duration_s": args.duration,
                     "statistic": "median", "interleaved": True,
                     "server_cpu": "delta utime+stime of /proc/PID/stat over the measured window",
                     "h2load_shapes": {s[0]: {"conns": s[1], "streams": s[2], "threads": 1} for s in H2LOAD_SHAPES},
                     "py_client_shape": None if args.no_py_client else
                     {PY_SHAPE: "grpcio client, 1 process, 1 channel, 4 threads, blocking Check"}},
        "rss_kib": {"start": rss_start, "end": rss_end},
        "server_threads": threads,
        "medians": medians,
        "figures": figures,
        "max_other_cpu_percent": other,
        "goal_met": passed == len(figures),
        "problems": problems,
        "samples": samples,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out} ({result['elapsed_s']:.0f} s)")
    shutil.rmtree(workdir, ignore_errors=True) if not problems else None
    return 1 if problems else 0


if __name__ == "__main__":
    # SIGTERM (e.g. from run.sh's `timeout`) unwinds like Ctrl-C, so the servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    try:
        sys.exit(main())
    except (RuntimeError, subprocess.SubprocessError, OSError, ValueError, KeyError) as error:
        log(f"bench: {error}")
        sys.exit(2)
