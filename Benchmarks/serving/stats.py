"""Shared by load.py (rlhfd, gRPC) and peer.py (llama-server, HTTP): one wave of N concurrent
streams is recorded as per-stream timings, and summarised the same way for both servers."""
import math
from dataclasses import dataclass, field
from typing import List, Optional


@dataclass
class Stream:
    start: float  # monotonic seconds at the first attempt (retries included in TTFT)
    first: Optional[float] = None  # first generated token received
    end: Optional[float] = None
    tokens: int = 0
    token_times: List[float] = field(default_factory=list)  # one entry per token
    prompt_tokens: int = 0
    finish: str = ""
    error: str = ""
    rejected: int = 0  # RESOURCE_EXHAUSTED / 503 answers retried


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def summarise(streams: List[Stream], n_predict: int) -> dict:
    ok = [s for s in streams if not s.error and s.end is not None]
    out = {
        "streams": len(streams),
        "ok": len(ok),
        "errors": sorted({s.error for s in streams if s.error})[:5],
        "rejected_retries": sum(s.rejected for s in streams),
        "finish": {r: sum(1 for s in ok if s.finish == r) for r in sorted({s.finish for s in ok})},
        "tokens": sum(s.tokens for s in ok),
        "tokens_expected": n_predict * len(streams),
        "prompt_tokens_mean": (sum(s.prompt_tokens for s in ok) / len(ok)) if ok else None,
    }
    if not ok:
        return out
    t0 = min(s.start for s in streams)
    t1 = max(s.end for s in ok)
    out["makespan_s"] = t1 - t0
    # Aggregate over the whole wave: every token generated / first request to last answer.
    out["agg_tok_s"] = out["tokens"] / (t1 - t0)
    # Steady window: every stream has started generating and none has finished yet, so the
    # server holds all N at once. A server that runs one request at a time has no such window.
    w0 = max(s.first for s in ok if s.first is not None)
    w1 = min(s.end for s in ok)
    if w1 - w0 >= 1.0:
        n = sum(1 for s in ok for t in s.token_times if w0 <= t <= w1)
        out["steady_window_s"] = w1 - w0
        out["steady_tok_s"] = n / (w1 - w0)
    else:
        out["steady_window_s"] = max(0.0, w1 - w0)
        out["steady_tok_s"] = None
    ttft = [s.first - s.start for s in ok if s.first is not None]
    out["ttft_p50_s"] = percentile(ttft, 0.50)
    out["ttft_p99_s"] = percentile(ttft, 0.99)
    out["ttft_max_s"] = max(ttft) if ttft else None
    # Inter-token latency as a client sees it: gaps between successive tokens of one stream
    # (tokens that arrive in one chunk share its time, so such gaps are 0).
    gaps = [b - a for s in ok for a, b in zip(s.token_times, s.token_times[1:])]
    out["itl_p50_ms"] = None if not gaps else 1000 * percentile(gaps, 0.50)
    out["itl_p99_ms"] = None if not gaps else 1000 * percentile(gaps, 0.99)
    per_stream = [
        (s.end - s.first) / (s.tokens - 1) for s in ok if s.first is not None and s.tokens > 1
    ]
    out["itl_mean_ms"] = None if not per_stream else 1000 * sum(per_stream) / len(per_stream)
    return out
