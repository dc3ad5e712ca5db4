"""Load for the lifecycle tests (kill -9, SIGTERM drain): streaming Generate clients and
feedback writers whose acknowledged idempotency keys are kept, so that a restarted daemon can be
asked whether each is still there (re-submitting a stored key answers `duplicate`)."""

from __future__ import annotations

import collections
import threading
import time

import grpc

from harness import PNG, generate_request
from rlhfd_client._proto.rlhfd.v1 import common_pb2, feedback_pb2, feedback_pb2_grpc, policy_pb2_grpc


def preference(key: str) -> feedback_pb2.PreferenceFeedback:
    return feedback_pb2.PreferenceFeedback(
        image=common_pb2.Image(data=PNG), prompt="What is in the image?",
        response_1=feedback_pb2.ResponseRef(text="A square."),
        response_2=feedback_pb2.ResponseRef(text="A circle."), preferred=1, idempotency_key=key)


class Load:
    """`generators` streaming Generate loops and `writers` feedback loops on `daemon`, until
    `stop()`; `codes` counts statuses, `acked` holds the keys the daemon acknowledged."""

    def __init__(self, daemon, generators: int = 8, writers: int = 2, max_new_tokens: int = 48):
        self.codes = collections.Counter()
        self.acked: list[str] = []
        self.lock = threading.Lock()
        self.running = True
        self.channel = daemon.channel()
        self.max_new_tokens = max_new_tokens
        self.threads = [threading.Thread(target=self.generate, args=(i,), daemon=True)
                        for i in range(generators)]
        self.threads += [threading.Thread(target=self.write, args=(i,), daemon=True)
                         for i in range(writers)]
        for thread in self.threads:
            thread.start()

    def count(self, code: str) -> None:
        with self.lock:
            self.codes[code] += 1

    def generate(self, index: int) -> None:
        stub = policy_pb2_grpc.PolicyStub(self.channel)
        while self.running:
            try:
                for _ in stub.GenerateStream(generate_request(
                        f"Load {index}", max_new_tokens=self.max_new_tokens, seed=index),
                        timeout=30):
                    pass
                self.count("OK")
            except grpc.RpcError as error:
                self.count(error.code().name)
                time.sleep(0.05)

    def write(self, index: int) -> None:
        stub = feedback_pb2_grpc.FeedbackStub(self.channel)
        n = 0
        while self.running:
            n += 1
            key = f"w{index}-{n}-{time.monotonic_ns()}"
            try:
                stub.SubmitPreference(preference(key), timeout=10)
                with self.lock:
                    self.acked.append(key)
                self.count("feedback OK")
            except grpc.RpcError as error:
                self.count("feedback " + error.code().name)
                time.sleep(0.05)

    def stop(self, timeout: float = 60) -> None:
        self.running = False
        for thread in self.threads:
            thread.join(timeout=timeout)


def missing_feedback(daemon, keys: list[str]) -> list[str]:
    """The keys a (restarted) daemon does not know: re-submitted, each must be a duplicate."""
    stub = feedback_pb2_grpc.FeedbackStub(daemon.channel())
    return [key for key in keys
            if not stub.SubmitPreference(preference(key), timeout=10).duplicate]
