#!/usr/bin/env python3
"""Bounded grpcio load client for rlhfd: concurrent Policy.GenerateStream waves and a Score test.

    load.py --target 127.0.0.1:PORT --streams 1,4,16,32 --prompt-tokens 100 \
            --max-new-tokens 64 --score-candidates 16 --json OUT

Generate. For each N: N threads start one GenerateStream each at the same moment (a wave),
greedy, no stop strings, `raw_prompt` text of ~--prompt-tokens tokens (calibrated once against
the daemon's own count, `usage.prompt_tokens`). The API has no `ignore_eos`: with no stop
strings the only early end is the EOS token, and the finish reasons are recorded so that a
short wave shows. Every stream's prompt starts differently (run salt + stream index), so a
prefix cache cannot share prompts between streams or waves. A request refused with
RESOURCE_EXHAUSTED (the pre-batching daemon lets only 8 wait) is retried after 0.2 s; its TTFT
counts from the first attempt. Figures: aggregate tok/s over the wave and over the steady window
(all N streams generating), TTFT p50/p99, inter-token latency; see stats.py.

Score. The image is sent once by bytes (warm-up: encodes it and fills the daemon's image-feature
cache), then referred to by SHA-256. Shared: one Score with K candidates under the same image +
prompt. Separate: K Score requests of one candidate each, sent one after another (sequentially:
a Score that carries K candidates is compared with the same K candidates scored one at a time).
Ratio = separate time / shared time.

Every RPC has a deadline (--rpc-timeout); a wave stops waiting after --wave-timeout.
"""
import argparse
import hashlib
import json
import os
import random
import sys
import threading
import time

import grpc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rlhfd_client._proto.rlhfd.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402
from rlhfd_client._proto.rlhfd.v1 import common_pb2, policy_pb2, policy_pb2_grpc  # noqa: E402
from rlhfd_client._proto.rlhfd.v1 import reward_pb2, reward_pb2_grpc  # noqa: E402
from stats import Stream, summarise  # noqa: E402

WORDS = (
    "the quick brown fox jumps over a lazy dog while seven wizards quietly judge every "
    "boxing match near the old harbour and children count boats under a bright morning sky"
).split()


def text_of(words: int, head: str) -> str:
    return head + " " + " ".join(WORDS[i % len(WORDS)] for i in range(words))


def request(prompt: str, max_new: int) -> policy_pb2.GenerateRequest:
    return policy_pb2.GenerateRequest(
        prompt=prompt,
        raw_prompt=True,  # exact text, no chat template: the length is what we calibrate
        sampling=common_pb2.SamplingParams(max_new_tokens=max_new, temperature=0.0),
    )


def calibrate(stub, target_tokens: int, timeout: float) -> int:
    """Number of filler words giving ~target_tokens prompt tokens (daemon's tokenizer)."""
    words = max(1, target_tokens // 2)
    for _ in range(4):
        r = stub.Generate(request(text_of(words, "Run 0000 wave 00 stream 00."), 1), timeout=timeout)
        got = r.usage.prompt_tokens
        if abs(got - target_tokens) <= 2:
            break
        words = max(1, round(words * target_tokens / max(got, 1)))
    return words


def run_stream(stub, prompt: str, max_new: int, s: Stream, deadline: float, timeout: float):
    while True:
        try:
            for chunk in stub.GenerateStream(request(prompt, max_new), timeout=timeout):
                now = time.monotonic()
                n = len(chunk.token_ids)
                if n and s.first is None:
                    s.first = now
                s.token_times.extend([now] * n)
                s.tokens += n
                if chunk.HasField("final"):
                    s.finish = policy_pb2.FinishReason.Name(chunk.final.finish_reason)
                    s.prompt_tokens = chunk.final.usage.prompt_tokens
                    s.tokens = len(chunk.final.token_ids)
            s.end = time.monotonic()
            return
        except grpc.RpcError as e:
            # Refused before any token: the daemon's queue is full; wait and retry (bounded).
            if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and s.tokens == 0:
                if time.monotonic() + 0.2 < deadline:
                    s.rejected += 1
                    time.sleep(0.2)
                    continue
            s.error = f"{e.code().name}: {(e.details() or '')[:120]}"
            return


def wave(stub, n: int, words: int, max_new: int, salt: int, wave_timeout: float, rpc_timeout: float):
    deadline = time.monotonic() + wave_timeout
    streams, threads = [], []
    go = threading.Barrier(n + 1)

    def worker(i: int, s: Stream):
        go.wait()
        s.start = time.monotonic()
        run_stream(stub, text_of(words, f"Run {salt} wave {n} stream {i}."), max_new, s,
                   deadline, min(rpc_timeout, wave_timeout))

    for i in range(n):
        s = Stream(start=0.0)
        streams.append(s)
        t = threading.Thread(target=worker, args=(i, s), daemon=True)
        threads.append(t)
        t.start()
    go.wait()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()) + 5)
    for s in streams:
        if s.end is None and not s.error:
            s.error = "wave timeout"
    return summarise(streams, max_new)


def score_test(channel, k: int, image_path: str, timeout: float, separate_only: bool) -> dict:
    """Shared: one Score with K candidates (fresh prompt, so only the image features are
    cached). Separate: the same K candidates as K sequential one-candidate requests with a new
    prompt each; on this daemon they still reuse each other's image prefix through the prefix
    cache. With `separate_only` (run against a daemon with `prefix_caching: false`) only the
    separate requests run: the cost of a server that shares nothing."""
    stub = reward_pb2_grpc.RewardStub(channel)
    data = open(image_path, "rb").read()
    sha = hashlib.sha256(data).hexdigest()
    salt = random.Random().randrange(1000, 10000)
    prompt = f"Case {salt}: what is shown in the image? Describe the objects, their colours and positions."
    responses = [
        f"Answer {i}: the image shows a coloured shape on a plain background, "
        f"and candidate {i} describes it in a few words." for i in range(k)
    ]
    t = time.monotonic()
    warm = stub.Score(reward_pb2.ScoreRequest(
        prompt="Warm-up.", image=common_pb2.Image(data=data), responses=["warm-up"]), timeout=timeout)
    warm_s = time.monotonic() - t
    by_hash = common_pb2.Image(sha256=sha)
    result = {"candidates": k, "separate_mode": "sequential", "warmup_s": warm_s,
              "warmup_prompt_tokens": warm.usage.prompt_tokens}
    if not separate_only:
        t = time.monotonic()
        shared = stub.Score(reward_pb2.ScoreRequest(prompt=prompt, image=by_hash, responses=responses),
                            timeout=timeout)
        result["shared_s"] = time.monotonic() - t
        result["shared_prompt_tokens"] = shared.usage.prompt_tokens
        result["shared_scores"] = [r.model_score for r in shared.rewards]
    t = time.monotonic()
    separate_scores = []
    for i, r in enumerate(responses):
        one = stub.Score(reward_pb2.ScoreRequest(prompt=f"{prompt} (request {i})", image=by_hash,
                                                 responses=[r]), timeout=timeout)
        separate_scores.append(one.rewards[0].model_score)
    result["separate_s"] = time.monotonic() - t
    result["separate_scores"] = separate_scores
    if not separate_only:
        result["ratio"] = result["separate_s"] / result["shared_s"]
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--streams", default="1,4,16,32")
    ap.add_argument("--prompt-tokens", type=int, default=100)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--score-candidates", type=int, default=16, help="0 = skip the Score test")
    ap.add_argument("--score-separate-only", action="store_true",
                    help="only the separate Score requests (against a daemon without prefix caching)")
    ap.add_argument("--image", default=os.path.join(ROOT, "Tests/Fixtures/images/rgb_64x48.png"))
    ap.add_argument("--rpc-timeout", type=float, default=900)
    ap.add_argument("--wave-timeout", type=float, default=900)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    channel = grpc.insecure_channel(a.target, options=[("grpc.max_receive_message_length", 64 << 20)])
    stub = policy_pb2_grpc.PolicyStub(channel)
    result = {"target": a.target, "prompt_tokens_asked": a.prompt_tokens,
              "max_new_tokens": a.max_new_tokens, "waves": {}}
    # The kernels this daemon runs (OpenBLAS core, GEMV, bf16 products), for the report.
    info = admin_pb2_grpc.AdminStub(channel).GetModelInfo(admin_pb2.GetModelInfoRequest(),
                                                          timeout=a.rpc_timeout)
    result["compute_kernels"] = info.compute_kernels
    t = time.monotonic()
    # Warm-up: pages the mmap'd weights in and runs one prefill + a few decode steps.
    stub.Generate(request(text_of(20, "Warm-up."), 8), timeout=a.rpc_timeout)
    words = calibrate(stub, a.prompt_tokens, a.rpc_timeout) if a.streams else 0
    result["warmup_s"] = time.monotonic() - t
    salt = random.Random().randrange(1000, 10000)
    for n in (int(x) for x in a.streams.split(",") if x):
        w = wave(stub, n, words, a.max_new_tokens, salt, a.wave_timeout, a.rpc_timeout)
        result["waves"][str(n)] = w
        print(f"rlhfd {n:>2} streams: {w.get('agg_tok_s', 0):6.2f} tok/s aggregate, steady "
              f"{w.get('steady_tok_s') or float('nan'):6.2f}, TTFT p50 {w.get('ttft_p50_s') or float('nan'):.2f} s "
              f"p99 {w.get('ttft_p99_s') or float('nan'):.2f} s, prompt {w.get('prompt_tokens_mean') or 0:.0f} tok, "
              f"{w['ok']}/{n} ok, finish {w['finish']}, retries {w['rejected_retries']}", flush=True)
        for e in w["errors"]:
            print(f"  error: {e}", flush=True)
    if a.score_candidates > 0:
        s = score_test(channel, a.score_candidates, a.image, a.rpc_timeout, a.score_separate_only)
        result["score"] = s
        if a.score_separate_only:
            print(f"rlhfd (prefix caching off) Score: {s['candidates']} separate requests "
                  f"(sequential) {s['separate_s']:.2f} s", flush=True)
        else:
            print(f"rlhfd Score: {s['candidates']} candidates in one request {s['shared_s']:.2f} s, "
                  f"{s['candidates']} separate requests (sequential, prefix cache on) "
                  f"{s['separate_s']:.2f} s, ratio {s['ratio']:.2f}x; reward input "
                  f"{s['shared_prompt_tokens']} tokens; image warm-up {s['warmup_s']:.1f} s", flush=True)
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
    bad = sum(w["streams"] - w["ok"] for w in result["waves"].values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
