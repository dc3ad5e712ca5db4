"""Helpers for the black-box interop suite: a `Daemon` that runs the real `rlhfd` binary on
loopback or a unix socket, plus small gRPC utilities. Every wait here is bounded."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rlhfd_client._proto.rlhfd.v1 import debug_pb2, debug_pb2_grpc

STARTUP_TIMEOUT_S = 20.0
RPC_TIMEOUT_S = 5.0
SERVING = health_pb2.HealthCheckResponse.SERVING
# The random tiny checkpoints: test fixtures (the embedded default is the trained world model).
TINY_MODELS = Path(__file__).resolve().parent.parent.parent / "models" / "default"
TINY_POLICY = TINY_MODELS / "policy"
TINY_REWARD = TINY_MODELS / "reward"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def short_tmp_path(prefix: str, suffix: str = ".sock") -> str:
    """A unique path directly under /tmp: sockaddr_un paths must stay under 108 bytes."""
    return f"/tmp/{prefix}-{os.getpid()}-{uuid.uuid4().hex[:10]}{suffix}"


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    """Runs `call`, which must fail, and returns its RpcError (an AssertionError if it succeeds)."""
    try:
        result = call()
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"the call was expected to fail but returned {result!r}")


def health_check(channel: grpc.Channel, service: str = "", timeout: float = RPC_TIMEOUT_S):
    """grpc.health.v1.Health/Check(service); returns the status enum value."""
    stub = health_pb2_grpc.HealthStub(channel)
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout).status


def echo(channel: grpc.Channel, payload: bytes, timeout: float = RPC_TIMEOUT_S) -> bytes:
    """rlhfd.v1.Debug/Echo; returns the echoed payload."""
    stub = debug_pb2_grpc.DebugStub(channel)
    return stub.Echo(debug_pb2.EchoRequest(payload=payload), timeout=timeout).payload


class Daemon:
    """One `rlhfd serve` process started from the real binary.

    stdout and stderr go to files in `workdir`; `channel()` opens tracked client channels that
    `kill()` closes. The process is started in its own session so that signals sent to it are
    exactly the ones a test sends.
    """

    _counter = 0

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        *,
        args: Sequence[str] = (),
        listen: Optional[Sequence[str]] = None,
        debug_service: bool = True,
        model: Optional[str] = None,
        env: Optional[dict] = None,
        credentials: Optional[grpc.ChannelCredentials] = None,
        channel_options: Iterable[tuple] = (),
        training: str = "off",
    ) -> None:
        Daemon._counter += 1
        self.binary = Path(binary)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port: Optional[int] = None
        if listen is None:
            self.port = free_port()
            listen = [f"127.0.0.1:{self.port}"]
        self.listen = list(listen)
        self.target = self.listen[0]
        self.args = list(args)
        self.debug_service = debug_service
        # None = `--no-model` (the suites that test the transport and UNIMPLEMENTED answers);
        # "default" = the random tiny test models (`models/default/{policy,reward}`); "embedded"
        # = no model flags: the daemon's embedded default (the trained `models/world/`);
        # anything else = a `--policy-model` directory (with the tiny reward model unless
        # `args` name one). The tiny models keep the suites fast.
        self.model = model
        self.env = dict(os.environ if env is None else env)
        self.credentials = credentials
        self.channel_options = list(channel_options)
        # The online trainer is on in the daemon's default configuration; the suites that do not
        # test it turn it off so that their feedback is not consumed and no version is promoted
        # behind their backs ("on" / "paused" for the training tests).
        self.training = training
        name = f"rlhfd-{os.getpid()}-{Daemon._counter}"
        self.stderr_path = self.workdir / f"{name}.stderr"
        self.stdout_path = self.workdir / f"{name}.stdout"
        self.process: Optional[subprocess.Popen] = None
        self._channels: list[grpc.Channel] = []

    @property
    def command(self) -> list[str]:
        command = [str(self.binary), "serve"]
        for address in self.listen:
            command += ["--listen", address]
        if self.debug_service:
            command.append("--debug-service")
        if self.model is None:
            command.append("--no-model")
        elif self.model != "embedded":
            policy = TINY_POLICY if self.model == "default" else self.model
            command += ["--policy-model", str(policy)]
            if "--reward-model" not in self.args:
                command += ["--reward-model", str(TINY_REWARD)]
        if "--feedback-store" not in self.args:
            # Each daemon its own feedback database (a database takes one process at a time);
            # the same workdir gives a restarted daemon the same one.
            command += ["--feedback-store", str(self.workdir / "feedback.sqlite3")]
        if "--training" not in self.args:
            command += ["--training", self.training]
        return command + self.args

    @property
    def pid(self) -> int:
        assert self.process is not None, "the daemon was not started"
        return self.process.pid

    def start(self, wait: bool = True, timeout: float = STARTUP_TIMEOUT_S) -> "Daemon":
        """Starts the process; with `wait`, returns once Check("") answers SERVING."""
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=self.env,
                start_new_session=True,
            )
        if wait:
            self.wait_serving(timeout)
        return self

    def wait_serving(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        """Polls Health/Check("") on fresh channels until SERVING; fails with stderr otherwise."""
        deadline = time.monotonic() + timeout
        last = "no attempt"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"rlhfd exited with {self.process.returncode} during startup\n"
                    f"command: {self.command}\nstderr:\n{self.stderr_text()}"
                )
            channel = self._new_channel(self.target)
            try:
                status = health_check(channel, "", timeout=1.0)
                if status == SERVING:
                    return
                last = f"status {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}"
            except grpc.RpcError as error:
                last = f"{error.code()}: {error.details()}"
            finally:
                channel.close()
            time.sleep(0.05)
        self.kill()
        raise AssertionError(
            f"rlhfd was not SERVING within {timeout} s (last: {last})\n"
            f"command: {self.command}\nstderr:\n{self.stderr_text()}"
        )

    def _new_channel(self, target: str, credentials=None, options=None, insecure=False):
        credentials = None if insecure else (credentials or self.credentials)
        options = self.channel_options if options is None else list(options)
        if credentials is not None:
            return grpc.secure_channel(target, credentials, options=options)
        return grpc.insecure_channel(target, options=options)

    def channel(
        self,
        target: Optional[str] = None,
        *,
        credentials: Optional[grpc.ChannelCredentials] = None,
        options: Optional[Iterable[tuple]] = None,
        insecure: bool = False,
    ) -> grpc.Channel:
        """A new client channel, closed by `kill()`. Defaults: the first listen address, the
        daemon's credentials and options; `insecure=True` forces plaintext."""
        channel = self._new_channel(target or self.target, credentials, options, insecure)
        self._channels.append(channel)
        return channel

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send_signal(self, signum: int = signal.SIGTERM) -> None:
        assert self.running(), f"rlhfd is not running\nstderr:\n{self.stderr_text()}"
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Waits for the process to exit; kills it and fails if it takes longer than `timeout`."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"rlhfd did not exit within {timeout} s\nstderr:\n{self.stderr_text()}"
            ) from None

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        """Sends `signum` and returns the exit code (bounded by `timeout`)."""
        self.send_signal(signum)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        """Closes the tracked channels and SIGKILLs the process if it still runs (teardown)."""
        for channel in self._channels:
            channel.close()
        self._channels.clear()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def error_lines(self) -> list[str]:
        """stderr lines logged at error or critical level, or a Swift runtime crash."""
        return [
            line
            for line in self.stderr_text().splitlines()
            if " error " in line or " critical " in line or "Fatal error" in line
        ]

    def assert_clean_exit(self, timeout: float = 10.0) -> None:
        """Waits for the exit (bounded): code 0 and nothing logged at error level or above."""
        code = self.wait_exit(timeout)
        assert code == 0, f"exit code {code}\nstderr:\n{self.stderr_text()}"
        assert not self.error_lines(), self.stderr_text()

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def thread_priorities(pid: int) -> dict:
    """Nice values of a process's threads by thread name: {"policy-step": [10], ...}."""
    threads: dict = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            # Fields after the parenthesised name; nice is field 19 of stat.
            nice = int((task / "stat").read_text().rpartition(")")[2].split()[16])
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended
        threads.setdefault(name, []).append(nice)
    return threads
