"""Online Fact-RLHF through the real daemon and the Python client (issue 13): feedback in ->
training events out -> a new policy version served for policy_version = ""; reward-model updates
from preferences; pause / resume; kill -9 during a step and during a checkpoint, then restart:
training resumes from its last checkpoint, nothing acknowledged is lost and nothing is consumed
twice. The models are the embedded tiny defaults; the settings are scaled down so a PPO step
takes about a second."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import sqlite3
import struct
import threading
import time
from array import array
from pathlib import Path

import grpc
import pytest

from interop import RPC_TIMEOUT_S, TINY_POLICY, Daemon, thread_priorities
from rlhfd_client._proto.rlhfd.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    common_pb2,
    feedback_pb2,
    feedback_pb2_grpc,
    policy_pb2,
    policy_pb2_grpc,
)

IMAGES = Path(__file__).resolve().parent.parent / "Fixtures" / "images"
PNG = (IMAGES / "rgb_64x48.png").read_bytes()
KILL_ROUNDS = int(os.environ.get("TRAINING_KILL_ROUNDS", "2"))

CONFIG = """
training:
  rollout_batch_size: {rollouts}
  step_batch_size: {step_batch}
  micro_batch_size: {micro}
  epochs: {epochs}
  response_length: {response}
  query_length: 1024
  learning_rate: {lr}
  lora_rank: 4
  publish_every: {publish}
  checkpoint_every: 1
  guard_prompts: {guard}
  guard_prompt_fraction: 0.3
  max_kl: {max_kl}
  max_reward_drop: 1000
  auto_promote: true
  idle_poll_seconds: 0.1
  reward_model_min_pairs: {min_pairs}
  reward_model_batch_size: 4
  reward_model_max_steps: 2
  reward_model_lora_rank: 4
"""


def start(rlhfd_bin, workdir: Path, *, lr: float = 1e-3, publish: int = 1,
          training: str = "on", extra: str = "", rollouts: int = 4, response: int = 8,
          max_kl: float | str = 1000, guard: int = 2, min_pairs: int = 4,
          epochs: int = 1, model: str = "default") -> Daemon:
    config = workdir / "rlhfd.yaml"
    step_batch = max(1, rollouts // 2)
    config.write_text(
        CONFIG.format(lr=lr, publish=publish, rollouts=rollouts, step_batch=step_batch,
                      micro=1 if step_batch < 4 else 4, response=response, max_kl=max_kl, guard=guard,
                      min_pairs=min_pairs, epochs=epochs)
        + extra
    )
    return Daemon(
        rlhfd_bin, workdir, model=model, training=training, args=["--config", str(config)]
    ).start()


def prompts(feedback, count: int, key: str, start_index: int = 0) -> list[str]:
    ack = feedback.SubmitPrompts(
        feedback_pb2.PromptBatch(
            prompts=[
                feedback_pb2.RlPrompt(
                    image=common_pb2.Image(data=PNG),
                    prompt=f"What colour is the square? ({i})",
                    facts=common_pb2.Facts(captions=["A red square.", "A square, red, on white."]),
                )
                for i in range(start_index, start_index + count)
            ],
            idempotency_key=key,
        ),
        timeout=RPC_TIMEOUT_S,
    )
    assert ack.accepted == count
    return list(ack.feedback_ids)


def preferences(feedback, count: int, key: str, start_index: int = 0) -> list[str]:
    ids = []
    for i in range(start_index, start_index + count):
        ack = feedback.SubmitPreference(
            feedback_pb2.PreferenceFeedback(
                image=common_pb2.Image(data=PNG),
                prompt=f"Describe the image. ({i})",
                response_1=feedback_pb2.ResponseRef(text="A red square."),
                response_2=feedback_pb2.ResponseRef(text="A purple elephant on a beach."),
                preferred=1,
                facts=common_pb2.Facts(captions=["A red square on white."]),
                idempotency_key=f"{key}-{i}",
            ),
            timeout=RPC_TIMEOUT_S,
        )
        ids += list(ack.feedback_ids)
    return ids


class Watcher:
    """WatchTraining on a thread; events in a queue."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.events: "queue.Queue" = queue.Queue()
        self.call = feedback_pb2_grpc.FeedbackStub(channel).WatchTraining(
            feedback_pb2.WatchTrainingRequest(send_initial_status=True), timeout=600
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for event in self.call:
                self.events.put(event)
        except grpc.RpcError:
            pass

    def wait_for(self, kind: str, timeout: float, where=lambda e: True):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            seen.append(event.WhichOneof("event"))
            if event.WhichOneof("event") == "status" and event.status.state == \
                    feedback_pb2.TRAINING_STATE_FAILED:
                raise AssertionError(f"training failed: {event.status.message}")
            if event.WhichOneof("event") == kind and where(getattr(event, kind)):
                return getattr(event, kind)
        raise AssertionError(f"no {kind} event within {timeout} s; saw {seen}")

    def expect_none(self, kinds: tuple, seconds: float) -> None:
        """No event of `kinds` for `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return
            assert event.WhichOneof("event") not in kinds, event

    def close(self) -> None:
        self.call.cancel()


def consumed(workdir: Path, table: str) -> int:
    with sqlite3.connect(workdir / "feedback.sqlite3") as db:
        return db.execute(
            f"SELECT COUNT(*) FROM {table} WHERE consumed_unix_ms IS NOT NULL"
        ).fetchone()[0]


@pytest.mark.time_limit(240)
def test_feedback_in_training_events_out_and_a_new_version_served(rlhfd_bin, tmp_path):
    daemon = start(rlhfd_bin, tmp_path)
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        admin = admin_pb2_grpc.AdminStub(channel)
        watcher = Watcher(channel)
        first = watcher.wait_for("status", 30)
        assert first.state in (feedback_pb2.TRAINING_STATE_IDLE,
                               feedback_pb2.TRAINING_STATE_RUNNING), first
        prompts(feedback, 12, "batch-1")
        progress = watcher.wait_for("rollouts", 120)
        assert progress.total == 4
        step = watcher.wait_for("step", 120)
        assert step.step == 1 and step.rollouts == 4 and step.tokens > 0
        published = watcher.wait_for("policy_published", 120)
        assert published.promoted, "the guard's limits are wide open: it must promote"
        change = watcher.wait_for("promotion_changed", 30)
        assert change.to_version == published.policy_version and not change.rolled_back
        watcher.wait_for("checkpoint_saved", 60)
        versions = admin.ListPolicyVersions(admin_pb2.ListPolicyVersionsRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert versions.promoted_version == published.policy_version
        policy = policy_pb2_grpc.PolicyStub(channel)
        reply = policy.Generate(
            policy_pb2.GenerateRequest(
                prompt="What is in the image?", images=[common_pb2.Image(data=PNG)],
                sampling=common_pb2.SamplingParams(max_new_tokens=4),
            ),
            timeout=RPC_TIMEOUT_S,
        )
        assert reply.policy_version == published.policy_version
        status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert status.step >= 1
        assert status.latest_policy_version.startswith("ppo-")
        # The rollouts' prompts (and any the guard kept) are consumed with the checkpoint.
        assert consumed(tmp_path, "prompts") >= 4
        watcher.close()
    finally:
        daemon.stop()


@pytest.mark.time_limit(240)
def test_reward_model_update_from_preferences_is_reported_and_score_answers_its_version(
    rlhfd_bin, tmp_path
):
    daemon = start(rlhfd_bin, tmp_path)
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        watcher = Watcher(channel)
        preferences(feedback, 12, "pref")
        update = watcher.wait_for("reward_model_updated", 180)
        assert update.train_pairs >= 4
        assert update.reason
        watcher.wait_for("checkpoint_saved", 60)
        assert consumed(tmp_path, "preferences") == update.train_pairs + update.held_out_pairs
        status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                            timeout=RPC_TIMEOUT_S)
        if update.adopted:
            assert status.reward_model_version == update.reward_model_version
        watcher.close()
    finally:
        daemon.stop()


def latest_checkpoint_metadata(workdir: Path) -> dict:
    with sqlite3.connect(workdir / "feedback.sqlite3") as db:
        row = db.execute(
            "SELECT metadata FROM trainer_checkpoints ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
    assert row is not None, "no trainer checkpoint committed"
    return json.loads(row[0])


@pytest.mark.time_limit(120)
def test_a_ppo_step_runs_from_preference_prompts_alone(rlhfd_bin, tmp_path):
    """Only preferences, no RL prompts: a PPO step rolls out the preferences' prompts (with their
    facts), consumes none of them, and the checkpoint keeps the cursor past them, so a restart
    does not roll them out again; new preferences make the next step."""
    # No reward-model update (its minimum is out of reach): the test is about PPO only.
    daemon = start(rlhfd_bin, tmp_path, publish=1000, min_pairs=1000)
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        watcher = Watcher(channel)
        preferences(feedback, 4, "prefs-a")
        step = watcher.wait_for("step", 60)
        assert step.step == 1 and step.rollouts == 4 and step.tokens > 0
        watcher.wait_for("checkpoint_saved", 30)
        assert consumed(tmp_path, "preferences") == 0
        with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:
            last_row = db.execute("SELECT MAX(rowid) FROM preferences").fetchone()[0]
            assert db.execute("SELECT COUNT(*) FROM prompts").fetchone()[0] == 0
        assert latest_checkpoint_metadata(tmp_path)["preferencePromptRow"] == last_row
        watcher.close()
    finally:
        daemon.stop()
    daemon = start(rlhfd_bin, tmp_path, publish=1000, min_pairs=1000)
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        watcher = Watcher(channel)
        # Resumed, then idle: the cursor survived the restart, there is nothing to roll out
        # (it looks every 0.1 s).
        watcher.wait_for("status", 60, where=lambda e: "waiting for feedback" in e.message)
        watcher.expect_none(("rollouts", "step"), 2)
        preferences(feedback, 4, "prefs-b", start_index=4)
        step = watcher.wait_for("step", 60)
        assert step.step == 2 and step.rollouts == 4
        watcher.close()
    finally:
        daemon.stop()


@pytest.mark.time_limit(120)
def test_a_promoted_version_that_fails_the_guard_later_is_rolled_back(rlhfd_bin, tmp_path):
    """A promoted version that fails the guard later is rolled back automatically, and the
    event says why. The lever: the operator tightens the guard's KL ceiling across a restart.
    The first version (step 3) passes the wide ceiling and is promoted; after the restart the
    next one (step 4, published every step now) fails the new ceiling (any policy that moved has KL > 1e-12), so the
    promoted version is checked again against the current guard — its recorded KL is over the
    ceiling now — and rolled back to the version promoted before it. (A version's KL is its
    step's, measured on rollouts from the policy before the step: step 1's learning rate is 0
    in the warmup, so step 2's KL is 0 and step 3's is the first above it.)"""
    daemon = start(rlhfd_bin, tmp_path, lr=1e-2, publish=3, guard=0)
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        admin = admin_pb2_grpc.AdminStub(channel)
        before = admin.ListPolicyVersions(admin_pb2.ListPolicyVersionsRequest(),
                                          timeout=RPC_TIMEOUT_S).promoted_version
        watcher = Watcher(channel)
        prompts(feedback, 12, "guard-1")
        step = watcher.wait_for("step", 60, where=lambda e: e.step == 3)
        assert step.kl > 1e-9, "the policy did not move: no lever"
        first = watcher.wait_for("policy_published", 60)
        assert first.promoted and first.step == 3
        watcher.wait_for("checkpoint_saved", 30,
                         where=lambda e: e.policy_version == first.policy_version)
        watcher.close()
    finally:
        daemon.stop()
    daemon = start(rlhfd_bin, tmp_path, lr=1e-2, publish=1, guard=0, max_kl="1.0e-12")
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        admin = admin_pb2_grpc.AdminStub(channel)
        versions = admin.ListPolicyVersions(admin_pb2.ListPolicyVersionsRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert versions.promoted_version == first.policy_version  # journaled
        watcher = Watcher(channel)
        prompts(feedback, 4, "guard-2", start_index=12)
        second = watcher.wait_for("policy_published", 90)
        assert second.step == 4 and not second.promoted
        change = watcher.wait_for("promotion_changed", 60)
        assert change.rolled_back
        assert change.from_version == first.policy_version and change.to_version == before
        assert second.policy_version in change.reason and "failed the guard" in change.reason
        assert "KL to the reference" in change.reason and "> 1e-12" in change.reason, \
            change.reason
        versions = admin.ListPolicyVersions(admin_pb2.ListPolicyVersionsRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert versions.promoted_version == before
        status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert status.state != feedback_pb2.TRAINING_STATE_FAILED, status.message
        watcher.close()
    finally:
        daemon.stop()


@pytest.mark.time_limit(120)
def test_pause_and_resume(rlhfd_bin, tmp_path):
    daemon = start(rlhfd_bin, tmp_path, training="paused")
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        admin = admin_pb2_grpc.AdminStub(channel)
        status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert status.state == feedback_pb2.TRAINING_STATE_PAUSED
        prompts(feedback, 12, "batch-p")
        time.sleep(1.5)
        status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert status.state == feedback_pb2.TRAINING_STATE_PAUSED and status.step == 0
        watcher = Watcher(channel)
        admin.ResumeTraining(admin_pb2.ResumeTrainingRequest(), timeout=RPC_TIMEOUT_S)
        watcher.wait_for("step", 120)
        admin.PauseTraining(admin_pb2.PauseTrainingRequest(reason="maintenance"),
                            timeout=RPC_TIMEOUT_S)
        status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert status.state == feedback_pb2.TRAINING_STATE_PAUSED
        assert "maintenance" in status.message
        watcher.close()
    finally:
        daemon.stop()


def test_training_computes_on_its_own_low_priority_threads(rlhfd_bin, tmp_path):
    """The trainer's kernel pool (`trainer-pool`) runs at `training.nice` (19 by default), below
    serving's `engine-pool`, and a PPO step completes on it."""
    daemon = start(rlhfd_bin, tmp_path)
    try:
        channel = daemon.channel()
        watcher = Watcher(channel)
        prompts(feedback_pb2_grpc.FeedbackStub(channel), 12, "nice")
        watcher.wait_for("step", 120)
        threads = thread_priorities(daemon.pid)
        assert threads.get("trainer-pool") and set(threads["trainer-pool"]) == {19}, threads
        assert threads.get("engine-pool") and max(threads["engine-pool"]) < 19, threads
        watcher.close()
    finally:
        daemon.stop()


@pytest.mark.time_limit(240)
def test_a_rollout_batch_larger_than_the_waiting_queue_trains(rlhfd_bin, tmp_path):
    """A step's rollouts are submitted a few at a time: a rollout batch above
    `max_waiting_requests` (the runner's preprocessing and waiting queues) must not fill them,
    which refused rollouts and stopped training with "the preprocessing queue is full"."""
    daemon = start(rlhfd_bin, tmp_path, rollouts=16,
                   extra="batching:\n  max_waiting_requests: 8\n")
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        watcher = Watcher(channel)
        prompts(feedback, 30, "wide")
        step = watcher.wait_for("step", 180)
        assert step.rollouts == 16
        status = feedback.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                            timeout=RPC_TIMEOUT_S)
        assert status.state != feedback_pb2.TRAINING_STATE_FAILED, status.message
        watcher.close()
    finally:
        daemon.stop()


def eos_biased_policy(out: Path, offset: float = 0.1, logit: float = 2.5, eos: int = 2) -> Path:
    """A copy of the tiny random policy that ends about half of its 96-token samples (the
    original ends almost none): every token embedding gets `offset` in dimension 0, which then
    dominates that dimension of the final hidden state, and the LM head's EOS row reads only that
    dimension (times `logit`). EOS is then likely at a roughly constant rate, and PPO has a
    behaviour with a high base rate to make more likely. Edited in place in the safetensors file
    (fp32 tensors; the header is unchanged)."""
    shutil.copytree(TINY_POLICY, out)
    path = out / "model.safetensors"
    data = bytearray(path.read_bytes())
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])

    def edit(name: str, change) -> None:
        info = header[name]
        assert info["dtype"] == "F32", info
        begin, end = (8 + size + at for at in info["data_offsets"])
        values = array("f")
        values.frombytes(bytes(data[begin:end]))
        change(values, *info["shape"])
        data[begin:end] = values.tobytes()

    def shift(values, rows, columns):
        for row in range(rows):
            values[row * columns] += offset

    def eos_row(values, rows, columns):
        for column in range(columns):
            values[eos * columns + column] = logit if column == 0 else 0.0

    edit("language_model.model.embed_tokens.weight", shift)
    edit("language_model.lm_head.weight", eos_row)
    path.write_bytes(bytes(data))
    return out


@pytest.mark.time_limit(900)
def test_mean_reward_rises_while_kl_stays_under_the_ceiling(rlhfd_bin, tmp_path):
    """A reward that clearly prefers a behaviour: ending the answer early. The symbolic terms
    penalise a response without EOS (-8) and its length (-10 at 128 tokens); PPO must make early
    EOS more likely: the mean reward rises over the steps while the KL to the reference stays
    under the ceiling. The policy is the tiny one with EOS made likely (`eos_biased_policy`: about
    half of its samples end within 96 tokens): the unmodified random policy ends few, and that
    weak signal made the rise come late or not at all on some hosts and seeds (CI once; release,
    `training.seed` 1-8 and 13-20: 3 of 16 rose by < 1.0, the late third's mean over the early
    third's, and 4 epochs per step did not make it reliable). With the
    biased policy, seeds 1-8, 9, 12, 17 and 18 all rose by 9-12 (release, 12 steps), and the
    responses shorten from ~2,400 to ~300 tokens per step, which also makes the test faster."""
    steps = int(os.environ.get("TRAINING_RISE_STEPS", "12"))
    per_step = int(os.environ.get("TRAINING_RISE_ROLLOUTS", "32"))
    ceiling = 100.0  # mean per-sequence KL (nats over up to 96 tokens, ~1 per token): max_kl
    policy = eos_biased_policy(tmp_path / "eos-biased-policy")
    daemon = start(rlhfd_bin, tmp_path, lr=float(os.environ.get("TRAINING_RISE_LR", "5e-3")),
                   publish=1000, rollouts=per_step, response=96, max_kl=ceiling, model=str(policy),
                   guard=0)  # no guard set: every step's prompts (and so its rollouts) are fixed
    try:
        channel = daemon.channel()
        feedback = feedback_pb2_grpc.FeedbackStub(channel)
        watcher = Watcher(channel)
        total = per_step * steps + 8
        for first in range(0, total, 200):  # SubmitPrompts takes at most 256 per call
            prompts(feedback, min(200, total - first), f"rise-{first}", first)
        rewards, kls = [], []
        for _ in range(steps):
            step = watcher.wait_for("step", 300)
            rewards.append(step.mean_reward)
            print(f"step {len(rewards)}: {step.tokens} response tokens, "
                  f"mean reward {step.mean_reward:.2f}, kl {step.kl:.1f}")
            kls.append(step.kl)
        print("mean rewards", rewards, "kl", kls)
        third = max(1, steps // 3)
        early = sum(rewards[:third]) / third
        late = sum(rewards[-third:]) / third
        assert late > early + 3.0, f"mean reward did not rise: {rewards}"
        assert max(kls) < ceiling, kls
        watcher.close()
    finally:
        daemon.stop()


@pytest.mark.time_limit(600)
def test_kill_9_during_steps_and_checkpoints_then_resume(rlhfd_bin, tmp_path):
    """kill -9 at random moments while training runs (in rollouts, in a step, in a checkpoint);
    each restart resumes from the last committed checkpoint: the step count never goes back
    past it, every acknowledged prompt is still stored, and no prompt is consumed twice (a
    consumed prompt is never rolled out again: consumed + pending == stored)."""
    daemon = start(rlhfd_bin, tmp_path)
    channel = daemon.channel()
    feedback = feedback_pb2_grpc.FeedbackStub(channel)
    acknowledged = prompts(feedback, 40, "kill-batch")
    last_step = 0
    try:
        for round_ in range(KILL_ROUNDS):
            watcher = Watcher(daemon.channel())
            watcher.wait_for("step", 120)
            time.sleep(0.05 + 0.4 * (round_ % 3) / 3)
            daemon.send_signal(signal.SIGKILL)
            daemon.wait_exit(10)
            with sqlite3.connect(tmp_path / "feedback.sqlite3") as db:
                stored = db.execute("SELECT COUNT(*) FROM prompts").fetchone()[0]
                committed = db.execute(
                    "SELECT COALESCE(MAX(step), 0) FROM trainer_checkpoints"
                ).fetchone()[0]
            assert stored == len(acknowledged)
            assert committed >= last_step
            last_step = committed
            daemon = start(rlhfd_bin, tmp_path)
            status = feedback_pb2_grpc.FeedbackStub(daemon.channel()).GetTrainingStatus(
                feedback_pb2.TrainingStatusRequest(), timeout=RPC_TIMEOUT_S
            )
            assert status.step >= committed, (status.step, committed)
        stub = feedback_pb2_grpc.FeedbackStub(daemon.channel())
        status = stub.GetTrainingStatus(feedback_pb2.TrainingStatusRequest(),
                                        timeout=RPC_TIMEOUT_S)
        assert status.state != feedback_pb2.TRAINING_STATE_FAILED, status.message
        # The store reports ids a checkpoint marks that were consumed already: none may be.
        for log in tmp_path.glob("rlhfd-*.stderr"):
            assert "feedback consumed twice" not in log.read_text(errors="replace"), log
    finally:
        daemon.stop()
