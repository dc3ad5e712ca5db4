#!/usr/bin/env python3
"""Interactive TTFT while the online trainer runs, against the same with training paused (issue
13, "Benchmarks": p99 TTFT at 4 streams, goal ≤ 1.5×). One daemon, started with training paused
and the trainer's settings chosen by training_ttft.sh; this driver:

  setup   warm-up Generate, prompt length calibrated (load.py), RL prompts stored, training
          resumed until its first PPO step (the training path warm), paused again;
  rounds  for each round: waits (bounded) for a quiet machine with the trainer paused (quiet.sh's
          rule), then
          A  ResumeTraining, wait until it reports running; --streams closed-loop GenerateStream
             workers (interactive priority, greedy, each prompt distinct from its first token)
             until --requests have finished AND --min-steps PPO steps completed in the phase
             (bounded by --phase-timeout);
          B  PauseTraining, wait until the daemon is idle (rollouts already queued and the
             micro-batch in flight finish after the pause), then as many requests as A ran.
Each phase records every request's TTFT and inter-token gaps, the trainer's events in the phase
(steps and their wall time, rollout progress, states) and the daemon's CPU use (cores). A is
invalid when fewer than --min-steps steps completed in it or the trainer went idle (no prompts);
B is invalid when a step or rollout happened in it. RL prompts are topped up before each A phase.

    training_ttft.py --target 127.0.0.1:PORT --pid PID --rollout-batch 16 --json OUT
"""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
sys.path.insert(0, HERE)
from rlhfd_client._proto.rlhfd.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402
from rlhfd_client._proto.rlhfd.v1 import common_pb2, policy_pb2, policy_pb2_grpc  # noqa: E402
from load import calibrate, request, text_of  # noqa: E402
from stats import percentile  # noqa: E402
from training_watch import Trainer, cpu_seconds  # noqa: E402


def one_request(stub, prompt: str, max_new: int, timeout: float) -> dict:
    r = request(prompt, max_new)
    r.priority = common_pb2.PRIORITY_INTERACTIVE
    start, first, times, error, refused, reason = time.monotonic(), None, [], "", 0, ""
    while True:
        try:
            for chunk in stub.GenerateStream(r, timeout=timeout):
                now = time.monotonic()
                if chunk.token_ids and first is None:
                    first = now
                times.extend([now] * len(chunk.token_ids))
            break
        except grpc.RpcError as e:
            # Refused before any token (a full queue): retried after 0.2 s as load.py does; the
            # TTFT counts from the first attempt, and the refusals are reported.
            if e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and not times and refused < 50:
                refused += 1
                reason = (e.details() or "")[:160]
                time.sleep(0.2)
                continue
            error = f"{e.code().name}: {(e.details() or '')[:120]}"
            break
    gaps = [b - a for a, b in zip(times, times[1:])]
    return {"start": start, "ttft": None if first is None else first - start, "gaps": gaps,
            "tokens": len(times), "refused": refused, "refused_reason": reason,
            "error": error or ("no token" if first is None else "")}


def phase(stub, trainer: Trainer, a, name: str, words: int, salt: int, pid: int, min_steps: int,
          requests: int):
    """--streams closed-loop workers until `requests` are done (and, with min_steps, until that
    many PPO steps completed since the phase began, within --phase-timeout)."""
    results, lock = [], threading.Lock()
    step0 = trainer.status().step
    t0, c0 = time.monotonic(), cpu_seconds(pid)
    deadline = t0 + a.phase_timeout

    def more() -> bool:
        with lock:
            issued = len(results)
        if issued < requests:
            return time.monotonic() < deadline
        if min_steps <= 0 or time.monotonic() >= deadline:
            return False
        return trainer.status().step - step0 < min_steps

    def worker(w: int):
        i = 0
        while more():
            with lock:
                results.append(None)
                slot = len(results) - 1
            prompt = text_of(words, f"Run {salt} {name} stream {w} request {i}.")
            results[slot] = one_request(stub, prompt, a.max_new_tokens, a.rpc_timeout)
            i += 1

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(a.streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.phase_timeout + a.rpc_timeout)
    t1, c1 = time.monotonic(), cpu_seconds(pid)
    done = [r for r in results if r is not None]
    ok = [r for r in done if not r["error"]]
    ttft = [r["ttft"] for r in ok]
    gaps = [g for r in ok for g in r["gaps"]]
    out = {
        "phase": name, "requests": len(done), "ok": len(ok),
        "errors": sorted({r["error"] for r in done if r["error"]})[:5],
        "seconds": t1 - t0, "daemon_cores": (c1 - c0) / max(1e-9, t1 - t0),
        "steps": trainer.status().step - step0,
        # Each request's start (s into the phase) beside its TTFT: slow ones can be put next to
        # the trainer's events (`timeline`).
        "ttft_s": ttft, "started_s": [r["start"] - t0 for r in ok], "ttft_p50_s": percentile(ttft, 0.5), "ttft_p99_s": percentile(ttft, 0.99),
        "itl_p50_ms": None if not gaps else 1000 * percentile(gaps, 0.5),
        "itl_p99_ms": None if not gaps else 1000 * percentile(gaps, 0.99),
        "tokens": sum(r["tokens"] for r in ok),
        "refused_retries": sum(r["refused"] for r in done),
        "refused_reason": next((r["refused_reason"] for r in done if r.get("refused_reason")), ""),
    }
    out.update(trainer.window(t0, t1))
    return out


def wait_quiet(seconds: float) -> str:
    """quiet.sh's rule (the one place it is written), with the trainer paused and idle."""
    script = f'source "{ROOT}/Benchmarks/quiet.sh"; wait_quiet {int(seconds)} >&2; echo "$QUIET_STATE"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True)
    ap.add_argument("--pid", type=int, required=True, help="the daemon's process id (its CPU use)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--requests", type=int, default=200, help="requests per phase")
    ap.add_argument("--prompt-tokens", type=int, default=100)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--min-steps", type=int, default=1, help="PPO steps that must complete in A")
    ap.add_argument("--rollout-batch", type=int, required=True, help="training.rollout_batch_size")
    ap.add_argument("--prompts-ahead", type=int, default=40,
                    help="rollout batches of RL prompts kept pending before each A phase")
    ap.add_argument("--phase-timeout", type=float, default=1800)
    ap.add_argument("--warmup-timeout", type=float, default=1800, help="for the first PPO step")
    ap.add_argument("--quiesce-timeout", type=float, default=900)
    ap.add_argument("--quiet-wait", type=float, default=120, help="seconds to wait for quiet per round")
    ap.add_argument("--rpc-timeout", type=float, default=600)
    ap.add_argument("--image", default=os.path.join(ROOT, "Tests/Fixtures/images/rgb_64x48.png"))
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    channel = grpc.insecure_channel(a.target, options=[("grpc.max_receive_message_length", 64 << 20)])
    stub = policy_pb2_grpc.PolicyStub(channel)
    info = admin_pb2_grpc.AdminStub(channel).GetModelInfo(admin_pb2.GetModelInfoRequest(),
                                                          timeout=a.rpc_timeout)
    trainer = Trainer(channel, open(a.image, "rb").read(), a.rpc_timeout)
    result = {"compute_kernels": info.compute_kernels, "streams": a.streams, "requests": a.requests,
              "prompt_tokens_asked": a.prompt_tokens, "max_new_tokens": a.max_new_tokens,
              "min_steps": a.min_steps, "rounds": [], "quiet": []}
    t = time.monotonic()
    stub.Generate(request(text_of(20, "Warm-up."), 8), timeout=a.rpc_timeout)
    words = calibrate(stub, a.prompt_tokens, a.rpc_timeout)
    wanted = a.prompts_ahead * a.rollout_batch
    trainer.top_up(wanted)
    if not trainer.resume(60):
        raise SystemExit(f"training_ttft: the trainer did not start: {trainer.status()}")
    print(f"== warm-up: {trainer.status().pending_prompts} RL prompts stored; waiting for the first "
          f"PPO step (minutes at TinyLlama scale)", flush=True)
    first = trainer.wait_event("step", a.warmup_timeout)
    if first is None:
        raise SystemExit(f"training_ttft: no PPO step within {a.warmup_timeout:.0f} s: {trainer.status()}")
    result["warmup_step_time_ms"] = first.step.step_time_ms
    result["warmup_pause_s"] = trainer.pause(a.pid, a.quiesce_timeout)
    result["warmup_s"] = time.monotonic() - t
    print(f"== warm: first PPO step {first.step.step_time_ms / 1000:.1f} s "
          f"({first.step.rollouts} rollouts, {first.step.tokens} tokens); set-up {result['warmup_s']:.0f} s",
          flush=True)
    salt = random.Random().randrange(1000, 10000)
    for r in range(1, a.rounds + 1):
        state = wait_quiet(a.quiet_wait)
        result["quiet"].append(state)
        print(f"== round {r}: machine {state}", flush=True)
        trainer.top_up(wanted)
        running = trainer.resume(60)
        A = phase(stub, trainer, a, f"A{r}", words, salt, a.pid, a.min_steps, a.requests)
        A["trainer_started"] = running
        quiesce = trainer.pause(a.pid, a.quiesce_timeout)
        # As many requests as A ran (it ran on until its steps completed): equal samples for p99.
        B = phase(stub, trainer, a, f"B{r}", words, salt, a.pid, 0, A["requests"])
        B["quiesce_s"] = quiesce
        result["rounds"].append({"A": A, "B": B})
        for p in (A, B):
            print(f"   {p['phase']}: {p['ok']}/{p['requests']} ok in {p['seconds']:.0f} s, TTFT p50 "
                  f"{p['ttft_p50_s'] or float('nan'):.3f} s p99 {p['ttft_p99_s'] or float('nan'):.3f} s, "
                  f"ITL p50 {p['itl_p50_ms'] or float('nan'):.0f} ms p99 {p['itl_p99_ms'] or float('nan'):.0f} ms, "
                  f"steps {p['steps']} (rollout events {p['rollout_events']}), refused and retried "
                  f"{p['refused_retries']}, daemon "
                  f"{p['daemon_cores']:.2f} cores", flush=True)
        print(f"   quiesced {quiesce:.1f} s after PauseTraining", flush=True)
    result["final_status"] = {"step": trainer.status().step,
                              "pending_prompts": trainer.status().pending_prompts}
    trainer.close()
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
