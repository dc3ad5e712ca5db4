"""A2 soak: 64 concurrent GenerateStream calls (8 connections x 8 streams, each stream
re-issued as soon as it ends) on the embedded default model. Pass: no status but OK; RSS growth
over the second half < 5 % (long run: 10 minutes; short run: reported only); descriptors and
threads back to baseline (+-5) within 10 s after the clients stop."""

from __future__ import annotations

import collections
import threading
import time

import grpc
import pytest

from harness import LONG, generate_request, pick, proc_status, start_daemon, wait_until
from rlhfd_client._proto.rlhfd.v1 import policy_pb2_grpc

CONNECTIONS, STREAMS = 8, 8
DURATION_S = pick(30, 600)


@pytest.mark.time_limit(DURATION_S + 120)
def test_soak_64_streams(rlhfd_bin, tmp_path, figures):
    daemon = start_daemon(rlhfd_bin, tmp_path / "soak", "batching:\n  max_batch_size: 64\n")
    try:
        base = proc_status(daemon.pid)
        channels = [daemon.channel() for _ in range(CONNECTIONS)]
        codes = collections.Counter()
        tokens = [0]
        lock = threading.Lock()
        stop = time.monotonic() + DURATION_S

        def client(index: int) -> None:
            stub = policy_pb2_grpc.PolicyStub(channels[index % CONNECTIONS])
            n = 0
            while time.monotonic() < stop:
                n += 1
                request = generate_request(f"Describe the picture, take {index}-{n % 4}.",
                                           max_new_tokens=24, seed=index)
                try:
                    count = sum(1 for _ in stub.GenerateStream(request, timeout=60))
                    code = "OK"
                except grpc.RpcError as error:
                    count, code = 0, error.code().name
                with lock:
                    codes[code] += 1
                    tokens[0] += count

        threads = [threading.Thread(target=client, args=(i,), daemon=True)
                   for i in range(CONNECTIONS * STREAMS)]
        for thread in threads:
            thread.start()
        samples = []  # (seconds, rss KiB)
        begin = time.monotonic()
        while time.monotonic() < stop:
            samples.append((time.monotonic() - begin, proc_status(daemon.pid)["rss_kib"]))
            time.sleep(pick(1.0, 5.0))
        for thread in threads:
            thread.join(timeout=90)
        half = [rss for t, rss in samples if t >= DURATION_S / 2]
        mid, end = half[0], sorted(half[-3:])[1] if len(half) >= 3 else half[-1]
        growth = 100.0 * (end - mid) / mid
        settled, waited = wait_until(
            lambda: (s := proc_status(daemon.pid))["fds"] <= base["fds"] + 5
            and s["threads"] <= base["threads"] + 5 and s, timeout=10, interval=0.2)
        after = proc_status(daemon.pid)
        figures.add(duration_s=DURATION_S, streams=CONNECTIONS * STREAMS, calls=dict(codes),
                    stream_messages=tokens[0], rss_start_mib=round(samples[0][1] / 1024, 1),
                    rss_mid_mib=round(mid / 1024, 1), rss_end_mib=round(end / 1024, 1),
                    rss_max_mib=round(max(r for _, r in samples) / 1024, 1),
                    rss_growth_second_half_pct=round(growth, 2),
                    fds_before_after=(base["fds"], after["fds"]),
                    threads_before_after=(base["threads"], after["threads"]),
                    settle_s=round(waited, 2))
        figures.check("only OK", set(codes) == {"OK"}, "0 statuses other than OK")
        if LONG:
            figures.check("rss growth", growth < 5.0, "RSS growth over the second half < 5 %")
        figures.check("fds and threads back", bool(settled),
                      "descriptors and threads at baseline +-5 within 10 s")
        assert daemon.running()
        figures.assert_all()
    finally:
        daemon.kill()
