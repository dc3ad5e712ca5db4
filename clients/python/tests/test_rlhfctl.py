"""Tests of `rlhfctl` (rlhfd_client.cli) against fake servicers in an in-process grpcio server:
argument parsing, text and JSON output, streaming, exit codes and error messages, the bearer
token from a file, and the feedback import shared with examples/ingest_feedback.py.

Run: .venv/bin/python -m pytest clients/python/tests  (or python -m unittest discover)
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from concurrent import futures
from pathlib import Path
from typing import List, Optional, Tuple

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

import test_client as fakes  # the fake servicers of the client's tests
import rlhfd_client
from rlhfd_client.cli import main
from rlhfd_client.cli.app import build_parser
from rlhfd_client.pb import (admin_pb2_grpc, feedback_pb2, feedback_pb2_grpc, policy_pb2,
                             policy_pb2_grpc, reward_pb2_grpc)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class StreamingPolicy(fakes.FakePolicy):
    """Sends "Hel", then waits until rlhfctl has written it to its stdout before "lo!": the
    text reaches the terminal as it is decoded, not at the end."""

    def __init__(self) -> None:
        self.first_written = threading.Event()
        self.streamed: Optional[bool] = None
        self.requests: List[policy_pb2.GenerateRequest] = []
        self.gate = False  # wait for "Hel" on stdout (the streaming test)
        self.cancelled: Optional[bool] = None

    def GenerateStream(self, request, context):
        self.requests.append(request)
        if request.prompt == "bad":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "prompt is bad")
        if request.prompt == "hang":  # one chunk, then nothing until the client cancels
            yield policy_pb2.GenerateChunk(text="Hel", token_ids=[1])
            deadline = time.monotonic() + 20
            while context.is_active() and time.monotonic() < deadline:
                time.sleep(0.01)
            self.cancelled = not context.is_active()
            return
        self.first_written.clear()
        yield policy_pb2.GenerateChunk(text="Hel", token_ids=[1])
        if self.gate:
            self.streamed = self.first_written.wait(5)
        yield policy_pb2.GenerateChunk(text="lo!", token_ids=[2])
        yield policy_pb2.GenerateChunk(final=policy_pb2.GenerateResponse(
            text="Hello!", token_ids=[1, 2], finish_reason=policy_pb2.FINISH_REASON_EOS,
            policy_version=request.policy_version or "base", generation_id="g-1"))


class DedupFeedback(fakes.FakeFeedback):
    """Acks preferences once per idempotency key (later copies are duplicates), records the
    metadata of every call, and refuses records whose prompt says so."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict = {}
        self.metadata: List[Tuple[str, str]] = []
        self.watch_events: Optional[List[feedback_pb2.TrainingEvent]] = None
        self.watch_hang = False
        self.status_unimplemented = False

    def SubmitPreference(self, request, context):
        self.metadata = list(context.invocation_metadata())
        if request.prompt == "refuse me":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "refused")
        if request.prompt == "busy":
            context.abort(grpc.StatusCode.UNAVAILABLE, "draining")
        if request.idempotency_key in self.keys:
            return feedback_pb2.FeedbackAck(feedback_ids=self.keys[request.idempotency_key],
                                            duplicate=True)
        ids = [f"f{len(self.keys)}"]
        self.keys[request.idempotency_key] = ids
        self.requests.append(request)
        return feedback_pb2.FeedbackAck(feedback_ids=ids, accepted=1)

    def GetTrainingStatus(self, request, context):
        self.metadata = list(context.invocation_metadata())
        if self.status_unimplemented:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "no feedback store")
        return feedback_pb2.TrainingStatus(
            state=feedback_pb2.TRAINING_STATE_DISABLED, message="no trainer",
            pending_preferences=len(self.keys))

    def WatchTraining(self, request, context):
        if self.watch_events is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "no trainer")
        yield from self.watch_events
        deadline = time.monotonic() + 20  # then stay open, as a live stream does
        while self.watch_hang and context.is_active() and time.monotonic() < deadline:
            time.sleep(0.01)


class FakeAdminWithInfo(fakes.FakeAdmin):
    require_token = False  # GetModelInfo: UNAUTHENTICATED without a token, PERMISSION_DENIED
    #                        for any token but "admin-token"

    def GetModelInfo(self, request, context):
        from rlhfd_client.pb import admin_pb2
        if self.require_token:
            auth = dict(context.invocation_metadata()).get("authorization")
            if auth is None:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing bearer token")
            if auth != "Bearer admin-token":
                context.abort(grpc.StatusCode.PERMISSION_DENIED, "needs scope admin")
        return admin_pb2.ModelInfo(policy_model_name="tiny", reward_model_name="tiny-rm",
                                   context_length=256, policy_version=self.stack[-1],
                                   policy_versions=list(self.versions), daemon_version="0.1.0")


class Writer(io.StringIO):
    """A stdout that tells the streaming fake when "Hel" was written (and flushed)."""

    def __init__(self, policy: StreamingPolicy) -> None:
        super().__init__()
        self.policy = policy

    def flush(self) -> None:
        super().flush()
        if "Hel" in self.getvalue():
            self.policy.first_written.set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RlhfctlTest(unittest.TestCase):
    server: grpc.Server
    address: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        cls.policy = StreamingPolicy()
        cls.feedback = DedupFeedback()
        cls.admin = FakeAdminWithInfo()
        policy_pb2_grpc.add_PolicyServicer_to_server(cls.policy, cls.server)
        reward_pb2_grpc.add_RewardServicer_to_server(fakes.FakeReward(), cls.server)
        feedback_pb2_grpc.add_FeedbackServicer_to_server(cls.feedback, cls.server)
        admin_pb2_grpc.add_AdminServicer_to_server(cls.admin, cls.server)
        cls.health = health.HealthServicer()
        cls.health.set("", health_pb2.HealthCheckResponse.SERVING)
        for name in ("rlhfd.v1.Policy", "rlhfd.v1.Reward", "rlhfd.v1.Feedback",
                     "rlhfd.v1.Admin"):
            cls.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(cls.health, cls.server)
        cls.address = f"127.0.0.1:{cls.server.add_insecure_port('127.0.0.1:0')}"
        cls.server.start()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = Path(cls.tmp.name)
        (cls.dir / "img.png").write_bytes(b"\x89PNG fake")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop(None)
        cls.tmp.cleanup()

    def run_cli(self, *argv: str, stdout: Optional[io.StringIO] = None,
                address: Optional[str] = None) -> Tuple[int, str, str]:
        out, err = stdout or io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["--address", address or self.address, *argv])
            except SystemExit as exit:  # argparse
                code = exit.code
        self.assertNotIn("Traceback", err.getvalue())
        return code, out.getvalue(), err.getvalue()

    # -- parsing ------------------------------------------------------------------------------
    def test_the_installed_script_is_main(self) -> None:
        try:
            import tomllib
        except ImportError:  # Python < 3.11
            self.skipTest("tomllib needs Python 3.11")
        project = tomllib.loads((EXAMPLES.parent / "pyproject.toml").read_text())
        self.assertEqual(project["project"]["scripts"], {"rlhfctl": "rlhfd_client.cli:main"})

    def test_global_options_go_before_or_after_the_command(self) -> None:
        parser = build_parser()
        a = parser.parse_args(["--address", "unix:/x.sock", "--timeout", "3", "versions", "list"])
        b = parser.parse_args(["versions", "list", "--address", "unix:/x.sock", "--timeout", "3"])
        for args in (a, b):
            self.assertEqual((args.address, args.timeout), ("unix:/x.sock", 3.0))
        defaults = parser.parse_args(["health"])
        self.assertEqual(defaults.address, os.environ.get("RLHFD_ADDRESS", "127.0.0.1:50051"))
        self.assertFalse(defaults.json)

    def test_usage_errors_exit_2(self) -> None:
        self.assertEqual(self.run_cli()[0], 2)  # no command
        self.assertEqual(self.run_cli("versions")[0], 2)
        self.assertEqual(self.run_cli("score", "p", "r")[0], 2)  # --image is required
        self.assertEqual(self.run_cli("--token", "x", "health")[0], 2)  # never a flag
        code, _, err = self.run_cli("--cert", "c.pem", "health")
        self.assertEqual(code, 2)
        self.assertIn("--cert and --key go together", err)
        code, _, err = self.run_cli("--ca", str(self.dir / "missing.pem"), "health")
        self.assertEqual(code, 2)
        self.assertIn("cannot read CA certificate", err)

    # -- health / info ------------------------------------------------------------------------
    def test_health(self) -> None:
        self.assertEqual(self.run_cli("health")[:2], (0, "SERVING\n"))
        self.health.set("rlhfd.v1.Policy", health_pb2.HealthCheckResponse.NOT_SERVING)
        try:
            code, out, _ = self.run_cli("health", "--all")
            self.assertEqual(code, 1)
            self.assertRegex(out, r"rlhfd\.v1\.Policy\s+NOT_SERVING")
            code, out, _ = self.run_cli("--json", "health", "rlhfd.v1.Reward", "nope")
            self.assertEqual(code, 1)
            self.assertEqual(json.loads(out)["services"],
                             {"rlhfd.v1.Reward": "SERVING", "nope": "NOT_FOUND"})
        finally:
            self.health.set("rlhfd.v1.Policy", health_pb2.HealthCheckResponse.SERVING)

    def test_info(self) -> None:
        code, out, _ = self.run_cli("info")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"policy model:\s+tiny\n")
        self.assertRegex(out, r"context length:\s+256\n")
        code, out, _ = self.run_cli("info", "--json")
        self.assertEqual(json.loads(out)["reward_model_name"], "tiny-rm")

    # -- generate / score ---------------------------------------------------------------------
    def test_generate_streams_text_as_it_arrives(self) -> None:
        out = Writer(self.policy)
        self.policy.gate = True
        try:
            code, text, err = self.run_cli(
                "generate", "Say hello", "--image", str(self.dir / "img.png"), "--image",
                "sha256:" + "A" * 64, "--max-new-tokens", "7", "--temperature", "0.5", "--seed",
                "3", "--top-k", "5", "--stop", "\n", "--version", "v1", stdout=out)
        finally:
            self.policy.gate = False
        self.assertEqual(code, 0, err)
        self.assertTrue(self.policy.streamed, "the first chunk was not written before the next")
        self.assertEqual(text, "Hello!\n")
        self.assertIn("[finish EOS", err)
        self.assertIn("policy v1", err)
        self.assertIn("generation g-1", err)
        request = self.policy.requests[-1]
        self.assertEqual(request.prompt, "Say hello")
        self.assertEqual(request.policy_version, "v1")
        self.assertEqual(request.images[0].data, b"\x89PNG fake")
        self.assertEqual(request.images[1].sha256, "a" * 64)
        s = request.sampling
        self.assertEqual((s.max_new_tokens, s.seed, s.top_k, list(s.stop)), (7, 3, 5, ["\n"]))
        self.assertAlmostEqual(s.temperature, 0.5)

    def test_ctrl_c_cancels_the_generation(self) -> None:
        """SIGINT while text streams in: the call is cancelled on the server, exit 130, no
        traceback (rlhfctl run as a process, `python -m rlhfd_client.cli`)."""
        src = str(Path(rlhfd_client.__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=src, PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            [sys.executable, "-m", "rlhfd_client.cli", "--address", self.address, "generate",
             "hang"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            first = process.stdout.read(3)  # blocks until the first chunk is on stdout
            self.assertEqual(first, b"Hel")
            self.assertIsNone(process.poll())
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.assertEqual(process.returncode, 130, err)
        self.assertNotIn(b"Traceback", err)
        deadline = time.monotonic() + 10
        while self.policy.cancelled is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertTrue(self.policy.cancelled)

    def test_generate_json_and_quiet(self) -> None:
        code, text, err = self.run_cli("--json", "generate", "x")
        self.assertEqual(code, 0)
        result = json.loads(text)
        self.assertEqual((result["text"], result["finish_reason"], result["generation_id"]),
                         ("Hello!", "FINISH_REASON_EOS", "g-1"))
        code, text, err = self.run_cli("generate", "x", "-q")
        self.assertEqual((code, text, err), (0, "Hello!\n", ""))
        self.assertFalse(self.policy.requests[-1].sampling.HasField("max_new_tokens"))

    def test_generate_errors(self) -> None:
        code, _, err = self.run_cli("generate", "bad")
        self.assertEqual(code, 1)
        self.assertEqual(err, "rlhfctl: INVALID_ARGUMENT: prompt is bad\n")
        code, _, err = self.run_cli("generate", "x", "--image", str(self.dir / "nope.png"))
        self.assertEqual(code, 2)
        self.assertIn("cannot read image", err)

    def test_score(self) -> None:
        code, out, _ = self.run_cli("score", "What is it?", "--image", str(self.dir / "img.png"),
                                    "A cat.", "A dog.", "--caption", "a dog", "--yes-no", "no")
        self.assertEqual(code, 0)
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["#", "total", "model", "correct", "length", "eos",
                                            "response"])
        self.assertTrue(lines[1].startswith("0  +1.0000"), out)  # the fake adds 1 for yes/no
        self.assertTrue(lines[2].endswith("A dog."), out)
        code, out, _ = self.run_cli("--json", "score", "q", "--image",
                                    str(self.dir / "img.png"), "x", "y")
        rewards = json.loads(out)["rewards"]
        self.assertEqual([(r["total"], r["response"]) for r in rewards], [(0.0, "x"), (1.0, "y")])

    # -- versions -----------------------------------------------------------------------------
    def test_versions(self) -> None:
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            code, out, err = self.run_cli("versions", "register", "cli-a", "adapters/a")
        finally:
            os.chdir(cwd)
        self.assertEqual(code, 0, err)
        self.assertIn("registered cli-a (parent base)", out)
        self.assertEqual(self.admin.versions["cli-a"].adapter_path,
                         str(self.dir / "adapters" / "a"))  # made absolute
        code, _, err = self.run_cli("versions", "register", "cli-a", "/x")
        self.assertEqual((code, err), (1, "rlhfctl: ALREADY_EXISTS: 'cli-a' exists\n"))
        self.assertEqual(self.run_cli("versions", "promote", "cli-a")[1],
                         "promoted cli-a (was base)\n")
        code, out, _ = self.run_cli("versions", "list")
        self.assertRegex(out, r"\n\*\s+cli-a\s+base\s+admin")
        code, out, _ = self.run_cli("--json", "versions", "list")
        listing = json.loads(out)
        self.assertEqual(listing["promoted_version"], "cli-a")
        self.assertIn({"version": "cli-a", "promoted": True},
                      [{k: v[k] for k in ("version", "promoted")} for v in listing["versions"]])
        code, out, _ = self.run_cli("versions", "save", "--path", "/ckpt")
        self.assertEqual(out, "saved cli-a to /ckpt (checkpoint cli-a-1)\n")
        code, _, err = self.run_cli("versions", "retire", "cli-a")
        self.assertEqual((code, err), (1, "rlhfctl: FAILED_PRECONDITION: promoted\n"))
        self.assertEqual(self.run_cli("versions", "rollback")[1],
                         "rolled back to base (was cli-a)\n")
        self.assertEqual(self.run_cli("versions", "retire", "cli-a")[:2], (0, "retired cli-a\n"))
        code, _, err = self.run_cli("versions", "promote", "nope")
        self.assertEqual((code, err), (1, "rlhfctl: NOT_FOUND: 'nope' is unknown\n"))

    # -- feedback import ----------------------------------------------------------------------
    def write_preferences(self, name: str, n: int, refuse: int = -1,
                          prompt: Optional[str] = None) -> Path:
        records = [{
            "id": f"r{i}", "image": "img.png",
            "conversations": [{"from": "human",
                               "value": prompt or ("refuse me" if i == refuse
                                                   else f"<image>\nQ{i}?")}],
            "output_1": {"from": "llava", "value": "one"},
            "output_2": {"from": "llava", "value": "two"},
            "preference": 1, "hallucination": 0, "captions": ["a cap"],
        } for i in range(n)]
        path = self.dir / name
        path.write_text(json.dumps(records))
        return path

    def test_feedback_import(self) -> None:
        file = self.write_preferences("prefs.json", 12)
        ids = self.dir / "ids.json"
        code, out, err = self.run_cli("feedback", "import", str(file), "--images", str(self.dir),
                                      "--ids-out", str(ids))
        self.assertEqual(code, 0, err)
        self.assertEqual(out.splitlines()[0],
                         f"{file}: 12 accepted, 0 duplicate, 0 rejected, 0 retries")
        # Not a terminal: plain progress lines, no bar.
        self.assertIn("prefs.json: 12/12 (100%)", err)
        self.assertNotIn("\r", err)
        sent = self.feedback.requests[-1]
        self.assertTrue(sent.idempotency_key.startswith("import:prefs.json:r"))
        self.assertEqual(list(sent.facts.captions), ["a cap"])
        self.assertEqual(len(json.loads(ids.read_text())), 12)
        code, out, err = self.run_cli("--json", "feedback", "import", str(file), "--images",
                                      str(self.dir), "--no-progress")
        self.assertEqual((code, err), (0, ""))
        summary = json.loads(out)
        self.assertEqual((summary["accepted"], summary["duplicate"]), (0, 12))

    def test_feedback_import_rejections_and_bad_files(self) -> None:
        file = self.write_preferences("refusing.json", 3, refuse=1)
        code, out, _ = self.run_cli("feedback", "import", str(file), "--images", str(self.dir))
        self.assertEqual(code, 1)
        self.assertIn("2 accepted, 0 duplicate, 1 rejected", out)
        self.assertIn("rejected record 1 (id r1): INVALID_ARGUMENT: refused", out)
        (self.dir / "notalist.json").write_text('{"a": 1}')
        code, _, err = self.run_cli("feedback", "import", str(self.dir / "notalist.json"),
                                    "--images", str(self.dir))
        self.assertEqual(code, 2)
        self.assertIn("is not a JSON list", err)
        code, _, err = self.run_cli("feedback", "import", str(self.dir / "absent.json"),
                                    "--images", str(self.dir))
        self.assertEqual(code, 2)
        self.assertIn("cannot read", err)

    def test_feedback_import_retries_until_interrupted(self) -> None:
        """Records the daemon answers UNAVAILABLE are retried (not rejected); Ctrl-C stops the
        retries at once: exit 130, no traceback."""
        file = self.write_preferences("busy.json", 6, prompt="busy")
        src = str(Path(rlhfd_client.__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=src, PYTHONUNBUFFERED="1")
        process = subprocess.Popen(
            [sys.executable, "-m", "rlhfd_client.cli", "--address", self.address, "feedback",
             "import", str(file), "--images", str(self.dir), "--concurrency", "2",
             "--give-up-after", "120", "--max-backoff", "0.2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            first = process.stderr.readline()  # the progress line at 0 %
            self.assertIn(b"busy.json: 0/6", first)
            time.sleep(1.0)
            self.assertIsNone(process.poll())  # still retrying
            started = time.monotonic()
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.assertEqual(process.returncode, 130, err)
        self.assertLess(time.monotonic() - started, 5)
        self.assertNotIn(b"Traceback", err)

    def test_the_example_shares_the_import(self) -> None:
        spec = importlib.util.spec_from_file_location("ingest_example",
                                                      EXAMPLES / "ingest_feedback.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        file = self.write_preferences("example.json", 4)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = module.main([str(file), "--images", str(self.dir), "--target", self.address])
        self.assertEqual(code, 0, err.getvalue())
        self.assertIn("4 accepted, 0 duplicate, 0 rejected, 0 retries", out.getvalue())
        # rlhfctl uses the same keys: a replay through it is all duplicates.
        code, out, _ = self.run_cli("feedback", "import", str(file), "--images", str(self.dir))
        self.assertIn("0 accepted, 4 duplicate, 0 rejected", out)

    # -- training -----------------------------------------------------------------------------
    def test_training_status(self) -> None:
        code, out, _ = self.run_cli("training", "status")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"state:\s+DISABLED\n")
        self.assertRegex(out, r"pending:\s+\d+ preferences, 0 prompts, 0 ratings")
        code, out, _ = self.run_cli("--json", "training", "status")
        self.assertEqual(json.loads(out)["state"], "TRAINING_STATE_DISABLED")
        self.feedback.status_unimplemented = True
        try:
            code, _, err = self.run_cli("training", "status")
        finally:
            self.feedback.status_unimplemented = False
        self.assertEqual(code, 1)
        self.assertIn("training status is not available from this rlhfd (UNIMPLEMENTED: "
                      "no feedback store)", err)

    def test_training_watch_falls_back_to_polling(self) -> None:
        code, out, err = self.run_cli("training", "watch", "--count", "1", "--interval", "0.05")
        self.assertEqual(code, 0, err)
        self.assertIn("WatchTraining: UNIMPLEMENTED", err)
        self.assertRegex(out, r"^\S+Z #1 status: DISABLED step 0")
        code, out, err = self.run_cli("--json", "training", "watch", "--for", "0.3",
                                      "--interval", "0.05")
        self.assertEqual(code, 0, err)
        events = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(events), 1)  # printed once: the status did not change
        self.assertEqual(events[0]["status"]["state"], "TRAINING_STATE_DISABLED")

    def test_training_watch_streams_events(self) -> None:
        self.feedback.watch_events = [
            feedback_pb2.TrainingEvent(sequence=1, time_unix_ms=1, status=feedback_pb2.
                                       TrainingStatus(state=feedback_pb2.TRAINING_STATE_IDLE)),
            feedback_pb2.TrainingEvent(sequence=2, time_unix_ms=2, step=feedback_pb2.
                                       TrainingStep(step=1, rollouts=8, mean_reward=0.5)),
            feedback_pb2.TrainingEvent(sequence=3, time_unix_ms=3, policy_published=feedback_pb2.
                                       PolicyPublished(policy_version="v1", step=1,
                                                       promoted=True)),
        ]
        try:
            code, out, err = self.run_cli("training", "watch")
        finally:
            self.feedback.watch_events = None
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 3)
        self.assertIn("#1 status: IDLE", lines[0])
        self.assertIn("#2 step: step 1: 8 rollouts, reward 0.5000 ± 0.0000", lines[1])
        self.assertIn("#3 policy_published: published v1 (from -, step 1), promoted", lines[2])

    def test_training_watch_for_a_while(self) -> None:
        self.feedback.watch_events = [feedback_pb2.TrainingEvent(
            sequence=1, status=feedback_pb2.TrainingStatus(
                state=feedback_pb2.TRAINING_STATE_PAUSED, message="by ops"))]
        self.feedback.watch_hang = True
        started = time.monotonic()
        try:
            code, out, err = self.run_cli("training", "watch", "--for", "0.5")
        finally:
            self.feedback.watch_events, self.feedback.watch_hang = None, False
        self.assertEqual((code, err), (0, ""))
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn("#1 status: PAUSED step 0, promoted -, pending 0 preferences", out)
        self.assertTrue(out.rstrip().endswith("-- by ops"), out)

    def test_training_control_unimplemented(self) -> None:
        code, _, err = self.run_cli("training", "pause", "--reason", "x")
        self.assertEqual(code, 1)
        self.assertIn("training control is not available from this rlhfd (UNIMPLEMENTED", err)

    # -- token, errors ------------------------------------------------------------------------
    def test_token_file_is_sent_as_bearer_metadata(self) -> None:
        token = self.dir / "token"
        token.write_text("s3cret-token\n")
        token.chmod(0o600)
        code, _, err = self.run_cli("--token-file", str(token), "training", "status")
        self.assertEqual((code, err), (0, ""))
        self.assertIn(("authorization", "Bearer s3cret-token"), self.feedback.metadata)
        token.chmod(0o644)
        code, _, err = self.run_cli("--token-file", str(token), "training", "status")
        self.assertEqual(code, 0)
        self.assertIn("readable by other users", err)
        self.assertNotIn("s3cret", err)
        empty = self.dir / "empty-token"
        empty.write_text("\n")
        code, _, err = self.run_cli("--token-file", str(empty), "health")
        self.assertEqual((code, err), (2, f"rlhfctl: token file {empty} is empty\n"))

    def test_authentication_errors_say_what_to_do(self) -> None:
        good, weak = self.dir / "admin-token", self.dir / "weak-token"
        good.write_text("admin-token")
        weak.write_text("score-token")
        for path in (good, weak):
            path.chmod(0o600)
        self.admin.require_token = True
        try:
            code, _, err = self.run_cli("info")
            self.assertEqual((code, err), (1, "rlhfctl: UNAUTHENTICATED: missing bearer token "
                                              "(the daemon wants a bearer token: --token-file "
                                              "FILE)\n"))
            code, _, err = self.run_cli("--token-file", str(weak), "info")
            self.assertEqual((code, err), (1, "rlhfctl: PERMISSION_DENIED: needs scope admin "
                                              "(the token lacks the scope this call needs)\n"))
            self.assertEqual(self.run_cli("info", "--token-file", str(good))[0], 0)
        finally:
            self.admin.require_token = False

    def test_daemon_down(self) -> None:
        port = free_port()
        for argv in (["health"], ["info"], ["generate", "x"], ["versions", "list"],
                     ["training", "watch"]):
            code, out, err = self.run_cli(*argv, address=f"127.0.0.1:{port}")
            self.assertEqual(code, 2, argv)
            self.assertEqual(err, f"rlhfctl: cannot reach rlhfd at 127.0.0.1:{port}: "
                                  "connection refused (is it running?)\n")
        file = self.write_preferences("down.json", 2)
        code, _, err = self.run_cli("feedback", "import", str(file), "--images", str(self.dir),
                                    address=f"127.0.0.1:{port}")
        self.assertEqual(code, 2)  # at once, not after two minutes of retries
        self.assertIn("connection refused (is it running?)", err)
        sock = f"/tmp/rlhfctl-test-{os.getpid()}.sock"
        code, _, err = self.run_cli("health", address=f"unix:{sock}")
        self.assertEqual((code, err),
                         (2, f"rlhfctl: cannot reach rlhfd at unix:{sock}: no such socket "
                             "(is it running?)\n"))


if __name__ == "__main__":
    unittest.main()
