"""The trainer's side of training_ttft.py: WatchTraining events with their arrival times, status,
pause / resume, the RL prompts that keep it busy, and the daemon's own CPU use (to know when a
paused trainer has really stopped: rollouts already in the scheduler and the micro-batch in
flight finish after PauseTraining returns)."""
import os
import queue
import threading
import time

import grpc

from rlhfd_client._proto.rlhfd.v1 import admin_pb2, admin_pb2_grpc  # noqa: E402
from rlhfd_client._proto.rlhfd.v1 import common_pb2, feedback_pb2, feedback_pb2_grpc  # noqa: E402

STATE = {v: k.replace("TRAINING_STATE_", "").lower()
         for k, v in feedback_pb2.TrainingState.items()}
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
WORK = ("PPO step", "guard", "reward")  # status messages of the trainer's parts of work


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def running_threads(pid: int) -> int:
    """Threads of `pid` running or runnable now (a starved process uses no CPU time but is not
    idle)."""
    n = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                n += f.read().rsplit(")", 1)[1].split()[0] == "R"
        except OSError:
            pass
    return n


class Trainer:
    def __init__(self, channel: grpc.Channel, image: bytes, timeout: float):
        self.feedback = feedback_pb2_grpc.FeedbackStub(channel)
        self.admin = admin_pb2_grpc.AdminStub(channel)
        self.image = image
        self.timeout = timeout
        self.events = []  # (monotonic time, TrainingEvent), in arrival order
        self.lock = threading.Lock()
        self.arrived = queue.Queue()
        self.submitted = 0
        self.call = self.feedback.WatchTraining(
            feedback_pb2.WatchTrainingRequest(send_initial_status=True), timeout=24 * 3600)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self):
        try:
            for event in self.call:
                with self.lock:
                    self.events.append((time.monotonic(), event))
                self.arrived.put(event)
        except grpc.RpcError:
            pass

    def close(self):
        self.call.cancel()

    def status(self) -> feedback_pb2.TrainingStatus:
        return self.feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                               timeout=self.timeout)

    def window(self, t0: float, t1: float) -> dict:
        """What the trainer reported between t0 and t1 (monotonic): steps with their wall
        times, rollout progress, the states it passed through, failures."""
        with self.lock:
            timed = [(t, e) for t, e in self.events if t0 <= t <= t1]
            # What it was doing when the phase began: a resumed trainer carries on with the work
            # it was paused in, and its status message says nothing new until the next part.
            work = [e.status.message for t, e in self.events if t < t0
                    and e.WhichOneof("event") == "status" and e.status.message.startswith(WORK)]
        events = [e for _, e in timed]
        kinds = [e.WhichOneof("event") for e in events]
        steps = [e.step for e in events if e.WhichOneof("event") == "step"]
        states = [STATE.get(e.status.state, "?") for e in events if e.WhichOneof("event") == "status"]
        return {
            "step_events": len(steps),
            "step_time_ms": [s.step_time_ms for s in steps],
            "step_tokens": [s.tokens for s in steps],
            "rollout_events": kinds.count("rollouts"),
            "published": kinds.count("policy_published"),
            "checkpoints": kinds.count("checkpoint_saved"),
            "states": states,
            "timeline": [(0.0, "status", work[-1] if work else "")] + [(round(t - t0, 4), e.WhichOneof("event"),
                          e.status.message if e.WhichOneof("event") == "status" else "")
                         for t, e in timed],
            # Idle for want of feedback (the RL prompts ran out): the phase did not train throughout.
            "starved": sum(1 for e in events if e.WhichOneof("event") == "status"
                           and e.status.state == feedback_pb2.TRAINING_STATE_IDLE
                           and e.status.message.startswith("waiting for feedback")),
            "failed": [e.status.message for e in events if e.WhichOneof("event") == "status"
                       and e.status.state == feedback_pb2.TRAINING_STATE_FAILED],
        }

    def wait_event(self, kind: str, timeout: float):
        """The next event of `kind` (arriving from now on), or None after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                e = self.arrived.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if e.WhichOneof("event") == "status" and e.status.state == feedback_pb2.TRAINING_STATE_FAILED:
                raise SystemExit(f"training_ttft: training failed: {e.status.message}")
            if e.WhichOneof("event") == kind:
                return e
        return None

    def drain(self):
        while not self.arrived.empty():
            self.arrived.get_nowait()

    def top_up(self, wanted: int):
        """Stores RL prompts until at least `wanted` are pending (each prompt distinct)."""
        pending = self.status().pending_prompts
        while pending < wanted:
            n = min(100, wanted - pending)
            batch = feedback_pb2.PromptBatch(prompts=[
                feedback_pb2.RlPrompt(
                    image=common_pb2.Image(data=self.image),
                    prompt=f"What colour is the square? Describe it. ({self.submitted + i})",
                    facts=common_pb2.Facts(captions=["A red square.", "A square, red, on white."]),
                ) for i in range(n)], idempotency_key=f"ttft-{os.getpid()}-{self.submitted}")
            ack = self.feedback.SubmitPrompts(batch, timeout=self.timeout)
            self.submitted += n
            pending += ack.accepted

    def resume(self, timeout: float) -> bool:
        """ResumeTraining; True once the trainer no longer reports paused (a step blocked at the
        gate goes on without a new state: `idle` until its next phase)."""
        self.drain()
        self.admin.ResumeTraining(admin_pb2.ResumeTrainingRequest(), timeout=self.timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status().state != feedback_pb2.TRAINING_STATE_PAUSED:
                return True
            time.sleep(0.05)
        return False

    def pause(self, pid: int, timeout: float) -> float:
        """PauseTraining, then waits until the daemon is idle: under 5 % of a core over two
        0.5 s samples in a row, and no thread runnable at their ends. Returns the seconds that
        took, or -1 after `timeout`."""
        t0 = time.monotonic()
        self.admin.PauseTraining(admin_pb2.PauseTrainingRequest(reason="training_ttft B phase"),
                                 timeout=self.timeout)
        while self.status().state != feedback_pb2.TRAINING_STATE_PAUSED:
            time.sleep(0.05)
        calm = 0
        while time.monotonic() - t0 < timeout:
            c0 = cpu_seconds(pid)
            time.sleep(0.5)
            idle = cpu_seconds(pid) - c0 < 0.025 and running_threads(pid) == 0
            calm = calm + 1 if idle else 0
            if calm >= 2:
                return time.monotonic() - t0
        return -1.0
