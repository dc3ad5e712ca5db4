#!/usr/bin/env python3
"""The same waves as load.py against llama.cpp's llama-server (the serving peer).

    peer.py --server .build-peer/llama-server --model .build-peer/models/tinyllama-f16.gguf \
            --streams 1,4,16,32 --prompt-tokens 100 --max-new-tokens 64 --threads 2 --json OUT

For each N it starts llama-server with N parallel slots (`--parallel N`, continuous batching,
context N x per-slot room) on a free loopback port, waits for /health, sends one warm-up
request, then N concurrent streaming POST /completion requests at once: the prompt is given as
token ids (exactly --prompt-tokens, BOS first; the GGUF's vocabulary is synthetic, so ids are
the only way to fix the length), `n_predict` tokens with `ignore_eos`, greedy (top_k 1), no
prompt cache (`cache_prompt` false) and a different second token per stream. The server is
stopped after each N. Figures are computed by stats.py exactly as for rlhfd.
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stats import Stream, summarise  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prompt_ids(n_tokens: int, head: int) -> list:
    rng = random.Random(7)  # the same filler for every stream; only the second token differs
    return [1, 300 + head] + [rng.randrange(300, 31000) for _ in range(n_tokens - 2)]


def stream_once(port: int, ids: list, n_predict: int, s: Stream, timeout: float):
    body = json.dumps({
        "prompt": ids, "n_predict": n_predict, "ignore_eos": True, "stream": True,
        "cache_prompt": False, "temperature": 0.0, "top_k": 1, "return_tokens": True,
    })
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("POST", "/completion", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            s.error = f"HTTP {resp.status}: {resp.read(200)!r}"
            return
        for raw in resp:  # server-sent events: "data: {json}\n\n"
            line = raw.strip()
            if not line.startswith(b"data: "):
                continue
            now = time.monotonic()
            ev = json.loads(line[6:])
            n = len(ev.get("tokens") or []) or (1 if ev.get("content") else 0)
            if ev.get("stop"):
                s.prompt_tokens = ev.get("tokens_evaluated", 0)
                s.finish = ev.get("stop_type", "stop")
                predicted = ev.get("tokens_predicted")
                n = 0 if predicted is None else max(0, predicted - s.tokens)
            if n and s.first is None:
                s.first = now
            s.token_times.extend([now] * n)
            s.tokens += n
            if ev.get("stop"):
                break
        s.end = time.monotonic()
    except Exception as e:  # noqa: BLE001 - any failure is recorded for this stream
        s.error = f"{type(e).__name__}: {str(e)[:120]}"


def wave(port: int, n: int, prompt_tokens: int, n_predict: int, timeout: float) -> dict:
    streams = [Stream(start=0.0) for _ in range(n)]
    go = threading.Barrier(n + 1)

    def worker(i: int):
        go.wait()
        streams[i].start = time.monotonic()
        stream_once(port, prompt_ids(prompt_tokens, i), n_predict, streams[i], timeout)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    go.wait()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 5)
    for s in streams:
        if s.end is None and not s.error:
            s.error = "wave timeout"
    return summarise(streams, n_predict)


def wait_health(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama-server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"llama-server not healthy after {timeout:.0f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--streams", default="1,4,16,32")
    ap.add_argument("--prompt-tokens", type=int, default=100)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--wave-timeout", type=float, default=900)
    ap.add_argument("--log", default=os.devnull)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    per_slot = a.prompt_tokens + a.max_new_tokens + 64  # room per slot, rounded up below
    per_slot = (per_slot + 255) // 256 * 256
    result = {"server": a.server, "model": os.path.basename(a.model), "threads": a.threads,
              "ctx_per_slot": per_slot, "prompt_tokens_asked": a.prompt_tokens,
              "max_new_tokens": a.max_new_tokens, "waves": {}}
    log = open(a.log, "a")
    rc = 0
    for n in (int(x) for x in a.streams.split(",") if x):
        port = free_port()
        cmd = [a.server, "-m", a.model, "--host", "127.0.0.1", "--port", str(port),
               "-t", str(a.threads), "-tb", str(a.threads), "--parallel", str(n),
               "-c", str(n * per_slot), "-b", "512", "-ub", "512", "--no-warmup"]
        log.write(f"\n== {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_health(port, proc, 120)
            warm = Stream(start=time.monotonic())
            stream_once(port, prompt_ids(16, 999), 4, warm, 120)  # page the weights in
            w = wave(port, n, a.prompt_tokens, a.max_new_tokens, a.wave_timeout)
        except Exception as e:  # noqa: BLE001 - report and go on to the next N
            w = {"streams": n, "ok": 0, "errors": [str(e)], "rejected_retries": 0, "finish": {}}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        result["waves"][str(n)] = w
        if w["ok"] < n:
            rc = 1
        print(f"llama-server --parallel {n:>2}: {w.get('agg_tok_s', 0):6.2f} tok/s aggregate, steady "
              f"{w.get('steady_tok_s') or float('nan'):6.2f}, TTFT p50 {w.get('ttft_p50_s') or float('nan'):.2f} s "
              f"p99 {w.get('ttft_p99_s') or float('nan'):.2f} s, prompt {w.get('prompt_tokens_mean') or 0:.0f} tok, "
              f"{w['ok']}/{n} ok", flush=True)
        for e in w["errors"]:
            print(f"  error: {e}", flush=True)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
    return rc


if __name__ == "__main__":
    sys.exit(main())
