"""The implementation of ``rlhfctl`` (argparse; the standard library and the client only)."""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import grpc
from google.protobuf import json_format

from rlhfd_client import ingest
from rlhfd_client._proto.rlhfd.v1 import admin_pb2, common_pb2, feedback_pb2, policy_pb2
from rlhfd_client.client import RlhfdClient

PROG = "rlhfctl"
DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT_S = 30.0          # unary calls and each feedback attempt
DEFAULT_GENERATE_TIMEOUT_S = 600.0  # a whole streamed generation
RLHFD_SERVICES = ("rlhfd.v1.Policy", "rlhfd.v1.Reward", "rlhfd.v1.Feedback", "rlhfd.v1.Admin")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    """An expected failure: printed as ``rlhfctl: MESSAGE`` with exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# -- output helpers ---------------------------------------------------------------------------

def _out() -> Any:
    return sys.stdout


def _err() -> Any:
    return sys.stderr


def emit(line: str = "") -> None:
    _out().write(line + "\n")


def note(line: str) -> None:
    """A line on stderr, prefixed with the program name."""
    _err().write(f"{PROG}: {line}\n")
    _err().flush()


def message_dict(message) -> Dict[str, Any]:
    """A message as a JSON-ready dict: proto field names, fields at their defaults included."""
    try:
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)
    except TypeError:  # protobuf < 5.26
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         including_default_value_fields=True)


def emit_json(value: Any) -> None:
    emit(json.dumps(value, indent=2, sort_keys=False))


def enum_name(enum_type, value: int, prefix: str) -> str:
    try:
        name = enum_type.Name(value)
    except ValueError:
        return str(value)
    return name[len(prefix):] if name.startswith(prefix) else name


def human_bytes(n: int) -> str:
    if not n:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def format_ms(unix_ms: int) -> str:
    if not unix_ms:
        return "-"
    moment = datetime.datetime.fromtimestamp(unix_ms / 1000, tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def table(rows: Sequence[Sequence[str]]) -> List[str]:
    """Rows of columns left-aligned (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell
                      for i, cell in enumerate(row)).rstrip() for row in rows]


# -- errors -----------------------------------------------------------------------------------

def unreachable(address: str, error: grpc.RpcError, secure: bool = False) -> Optional[str]:
    """The message for an RPC that failed because the daemon could not be reached (not for
    UNAVAILABLE answered by a daemon, e.g. while it drains), or None."""
    if error.code() != grpc.StatusCode.UNAVAILABLE:
        return None
    details = error.details() or ""
    if "last error:" in details:  # "failed to connect to all addresses; last error: ..."
        details = details.split("last error:", 1)[1].strip()
        if details.endswith(": OK"):
            details = details[:-len(": OK")]
    low = details.lower()
    if "connection refused" in low:
        reason = "connection refused (is it running?)"
    elif "no such file" in low or "enoent" in low:
        reason = "no such socket (is it running?)"
    elif any(word in low for word in ("handshake", "ssl", "tls", "certificate")):
        reason = (f"TLS handshake failed; check --tls/--ca/--cert/--key and whether the "
                  f"daemon serves TLS ({details})")
    elif "failed to connect" in low or "connect" in low or "dns" in low or "resolve" in low:
        reason = details
    elif "socket closed" in low or "connection reset" in low or "end of tcp stream" in low:
        reason = details + (" (does the daemon require a client certificate, --cert/--key?)"
                            if secure else " (a TLS daemon reached without --tls/--ca?)")
    else:
        return None
    return f"cannot reach rlhfd at {address}: {reason}"


def rpc_failure(address: str, error: grpc.RpcError, secure: bool = False) -> CliError:
    message = unreachable(address, error, secure)
    if message is not None:
        return CliError(message, EXIT_USAGE)
    code = error.code()
    name = code.name if code is not None else "UNKNOWN"
    return CliError(f"{name}: {error.details() or ''}".rstrip(), EXIT_FAILED)


# -- connection -------------------------------------------------------------------------------

def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as error:
        raise CliError(f"cannot read {what} {path}: {error.strerror or error}", EXIT_USAGE)


def read_token(path: str) -> str:
    """The bearer token in ``path`` (surrounding whitespace removed). Warns when the file can
    be read by others."""
    data = read_file(path, "token file")
    try:
        token = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CliError(f"token file {path} is not UTF-8 text", EXIT_USAGE)
    if not token:
        raise CliError(f"token file {path} is empty", EXIT_USAGE)
    if any(c in token for c in "\r\n") or not token.isprintable():
        raise CliError(f"token file {path} must hold one token on one line", EXIT_USAGE)
    try:
        mode = os.stat(path).st_mode
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            note(f"warning: token file {path} is readable by other users (chmod 600 it)")
    except OSError:
        pass
    return token


def _loopback(address: str) -> bool:
    if address.startswith(("unix:", "unix-abstract:")):
        return True
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 or "]" in address else address
    host = host.strip("[]")
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def connect(args: argparse.Namespace, channel_options=()) -> RlhfdClient:
    """An :class:`RlhfdClient` for the global options (files are read now, for clear errors)."""
    if bool(args.cert) != bool(args.key):
        raise CliError("--cert and --key go together (mutual TLS)", EXIT_USAGE)
    ca = read_file(args.ca, "CA certificate") if args.ca else None
    cert = read_file(args.cert, "client certificate") if args.cert else None
    key = read_file(args.key, "client key") if args.key else None
    secure = bool(args.tls or ca or cert)
    metadata = []
    if args.token_file:
        token = read_token(args.token_file)
        if not secure and not _loopback(args.address):
            note(f"warning: sending the bearer token in plaintext to {args.address} "
                 "(use --tls/--ca)")
        metadata.append(("authorization", f"Bearer {token}"))
    return RlhfdClient(args.address, root_certificates=ca, private_key=key, certificate_chain=cert,
                       tls=secure, server_name=args.server_name or None,
                       timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT_S,
                       metadata=metadata, channel_options=channel_options)


def read_image(value: str) -> common_pb2.Image:
    if value.startswith("sha256:"):
        return common_pb2.Image(sha256=value[len("sha256:"):].lower())
    return common_pb2.Image(data=read_file(value, "image"))


# -- commands ---------------------------------------------------------------------------------

def cmd_health(client: RlhfdClient, args: argparse.Namespace) -> int:
    services = list(args.service) or [""]
    if args.all:
        services = [""] + [s for s in RLHFD_SERVICES if s not in services]
    statuses: Dict[str, str] = {}
    for service in services:
        try:
            statuses[service] = client.health(service)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                statuses[service] = "NOT_FOUND"
            else:
                raise
    if args.json:
        emit_json({"address": args.address, "services": statuses})
    elif services == [""]:
        emit(statuses[""])
    else:
        emit("\n".join(table([[s or "(server)", statuses[s]] for s in services])))
    return EXIT_OK if all(v == "SERVING" for v in statuses.values()) else EXIT_FAILED


def cmd_info(client: RlhfdClient, args: argparse.Namespace) -> int:
    info = client.model_info()
    if args.json:
        emit_json(message_dict(info))
        return EXIT_OK
    rows = [
        ["daemon version", info.daemon_version],
        ["policy model", info.policy_model_name],
        ["reward model", info.reward_model_name],
        ["architecture", info.architecture],
        ["context length", str(info.context_length)],
        ["vocabulary", str(info.vocab_size)],
        ["image size", f"{info.image_size} px, {info.image_tokens} tokens"],
        ["promoted policy", info.policy_version],
        ["policy versions", ", ".join(info.policy_versions) or "-"],
        ["reward model version", info.reward_model_version],
        ["compute kernels", info.compute_kernels],
    ]
    emit("\n".join(table([[k + ":", v or "-"] for k, v in rows])))
    return EXIT_OK


def cmd_generate(client: RlhfdClient, args: argparse.Namespace) -> int:
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    images = [read_image(i) for i in args.image]
    sampling: Dict[str, Any] = {
        "max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
        "top_p": args.top_p, "top_k": args.top_k,
        "repetition_penalty": args.repetition_penalty, "seed": args.seed,
    }
    if args.stop:
        sampling["stop"] = args.stop
    timeout = args.timeout if args.timeout is not None else DEFAULT_GENERATE_TIMEOUT_S
    started = time.monotonic()
    call = client.generate_stream(prompt, images, policy_version=args.version,
                                  raw_prompt=args.raw_prompt, batch=args.batch,
                                  timeout=timeout, **sampling)
    final: Optional[policy_pb2.GenerateResponse] = None
    text_parts: List[str] = []
    first_token_s: Optional[float] = None
    out = _out()
    try:
        for chunk in call:
            if chunk.text:
                if first_token_s is None:
                    first_token_s = time.monotonic() - started
                text_parts.append(chunk.text)
                if not args.json:
                    out.write(chunk.text)
                    out.flush()
            if chunk.HasField("final"):
                final = chunk.final
    except KeyboardInterrupt:
        call.cancel()
        if not args.json and text_parts:
            out.write("\n")
        raise
    elapsed = time.monotonic() - started
    text = "".join(text_parts)
    if final is None:
        final = policy_pb2.GenerateResponse(text=text)
    if args.json:
        result = message_dict(final)
        if not result.get("text"):
            result["text"] = text
        emit_json(result)
        return EXIT_OK
    if not text.endswith("\n"):
        out.write("\n")
    out.flush()
    if not args.quiet:
        finish = enum_name(policy_pb2.FinishReason, final.finish_reason, "FINISH_REASON_")
        parts = [f"finish {finish}", f"{final.usage.completion_tokens} tokens",
                 f"policy {final.policy_version or '-'}"]
        if final.generation_id:
            parts.append(f"generation {final.generation_id}")
        if first_token_s is not None:
            parts.append(f"first text {first_token_s:.2f} s")
        parts.append(f"total {elapsed:.2f} s")
        _err().write("[" + ", ".join(parts) + "]\n")
    return EXIT_OK


def cmd_score(client: RlhfdClient, args: argparse.Namespace) -> int:
    facts = None
    if args.caption or args.choice or args.correct_choice is not None or args.yes_no:
        facts = common_pb2.Facts(captions=args.caption, choices=args.choice)
        if args.correct_choice is not None:
            facts.correct_choice = args.correct_choice
        if args.yes_no:
            facts.yes_no_answer = args.yes_no == "yes"
    response = client.score(args.prompt, read_image(args.image), args.response, facts,
                            batch=args.batch)
    if args.json:
        result = message_dict(response)
        for item, text in zip(result.get("rewards", []), args.response):
            item["response"] = text
        emit_json(result)
        return EXIT_OK
    rows = [["#", "total", "model", "correct", "length", "eos", "response"]]
    for i, (reward, text) in enumerate(zip(response.rewards, args.response)):
        shown = text if len(text) <= 60 else text[:57] + "..."
        rows.append([str(i), f"{reward.total:+.4f}", f"{reward.model_score:+.4f}",
                     f"{reward.correctness:+.4f}", f"{reward.length_penalty:+.4f}",
                     f"{reward.eos_penalty:+.4f}", shown.replace("\n", " ")])
    emit("\n".join(table(rows)))
    if response.reward_model_version:
        emit(f"reward model version {response.reward_model_version}")
    return EXIT_OK


def version_dict(version: admin_pb2.PolicyVersion) -> Dict[str, Any]:
    return {
        "version": version.version, "parent_version": version.parent_version,
        "created_unix_ms": version.created_unix_ms, "step": version.step,
        "promoted": version.promoted, "mean_reward": version.mean_reward,
        "source": version.source, "adapter_path": version.adapter_path,
        "adapter_bytes": version.adapter_bytes,
    }


def cmd_versions_list(client: RlhfdClient, args: argparse.Namespace) -> int:
    response = client.list_policy_versions(limit=args.limit)
    if args.json:
        emit_json({"promoted_version": response.promoted_version,
                   "versions": [version_dict(v) for v in response.versions]})
        return EXIT_OK
    rows = [["", "VERSION", "PARENT", "SOURCE", "STEP", "CREATED", "ADAPTER", "PATH"]]
    for v in response.versions:
        size = human_bytes(v.adapter_bytes)
        rows.append(["*" if v.promoted else "", v.version, v.parent_version or "-",
                     v.source or "-", str(v.step), format_ms(v.created_unix_ms), size,
                     v.adapter_path or "-"])
    emit("\n".join(table(rows)))
    return EXIT_OK


def cmd_versions_register(client: RlhfdClient, args: argparse.Namespace) -> int:
    path = args.adapter_path
    if not os.path.isabs(path):  # the daemon wants an absolute path on its host
        path = os.path.abspath(path)
    version = client.register_policy_version(args.version, path, parent_version=args.parent)
    if args.json:
        emit_json(version_dict(version))
    else:
        emit(f"registered {version.version} (parent {version.parent_version or 'base'}) "
             f"from {version.adapter_path or path}; not promoted")
    return EXIT_OK


def _switch(response, verb: str, args: argparse.Namespace) -> int:
    if args.json:
        emit_json({"previous_version": response.previous_version,
                   "promoted_version": response.promoted_version})
    else:
        emit(f"{verb} {response.promoted_version} (was {response.previous_version or '-'})")
    return EXIT_OK


def cmd_versions_promote(client: RlhfdClient, args: argparse.Namespace) -> int:
    return _switch(client.promote_policy(args.version), "promoted", args)


def cmd_versions_rollback(client: RlhfdClient, args: argparse.Namespace) -> int:
    return _switch(client.rollback_policy(args.version or ""), "rolled back to", args)


def cmd_versions_retire(client: RlhfdClient, args: argparse.Namespace) -> int:
    client.retire_policy_version(args.version)
    if args.json:
        emit_json({"retired_version": args.version})
    else:
        emit(f"retired {args.version}")
    return EXIT_OK


def cmd_versions_save(client: RlhfdClient, args: argparse.Namespace) -> int:
    saved = client.save_checkpoint(args.version or "", args.path or "")
    if args.json:
        emit_json(message_dict(saved))
    else:
        emit(f"saved {saved.policy_version} to {saved.path} (checkpoint {saved.checkpoint_id})")
    return EXIT_OK


def cmd_feedback_import(client: RlhfdClient, args: argparse.Namespace) -> int:
    file = Path(args.file)
    try:
        records = ingest.load_records(file)
    except OSError as error:
        raise CliError(f"cannot read {file}: {error.strerror or error}", EXIT_USAGE)
    except ValueError as error:
        raise CliError(f"{file} is not a JSON list of preference records: {error}", EXIT_USAGE)
    if not Path(args.images).is_dir():
        raise CliError(f"--images {args.images} is not a directory", EXIT_USAGE)
    client.health("")  # fail fast (exit 2) when the daemon cannot be reached at all
    retry = ingest.RetryPolicy(
        timeout=args.timeout if args.timeout is not None else DEFAULT_TIMEOUT_S,
        initial_backoff=args.initial_backoff, max_backoff=args.max_backoff,
        give_up_after=args.give_up_after)
    progress = None if args.no_progress else ingest.Progress(file.name, len(records), _err())
    tally = ingest.import_preferences(client, file, records, Path(args.images),
                                      concurrency=args.concurrency, retry=retry,
                                      progress=progress)
    if args.json:
        emit_json({"file": str(file), **tally.as_dict()})
    else:
        emit("\n".join(tally.summary(file)))
    if args.ids_out:
        Path(args.ids_out).write_text(json.dumps(tally.ids, indent=1, sort_keys=True))
    return EXIT_FAILED if tally.rejected else EXIT_OK


def status_lines(status: feedback_pb2.TrainingStatus) -> List[str]:
    state = enum_name(feedback_pb2.TrainingState, status.state, "TRAINING_STATE_")
    rows = [
        ["state", state],
        ["message", status.message or "-"],
        ["step", str(status.step)],
        ["promoted policy", status.promoted_policy_version or "-"],
        ["latest policy", status.latest_policy_version or "-"],
        ["reward model", status.reward_model_version or "-"],
        ["pending", f"{status.pending_preferences} preferences, {status.pending_prompts} "
                    f"prompts, {status.pending_ratings} ratings"],
        ["last step", f"{format_ms(status.last_step_unix_ms)} (mean reward "
                      f"{status.last_mean_reward:.4f})" if status.last_step_unix_ms else "-"],
    ]
    return table([[k + ":", v] for k, v in rows])


def _training_unavailable(error: grpc.RpcError, what: str) -> CliError:
    return CliError(f"{what} is not available from this rlhfd "
                    f"(UNIMPLEMENTED: {error.details() or ''})", EXIT_FAILED)


def cmd_training_status(client: RlhfdClient, args: argparse.Namespace) -> int:
    try:
        status = client.training_status()
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED:
            raise _training_unavailable(error, "training status")
        raise
    if args.json:
        emit_json(message_dict(status))
    else:
        emit("\n".join(status_lines(status)))
    return EXIT_OK


def event_line(event: feedback_pb2.TrainingEvent) -> str:
    when = format_ms(event.time_unix_ms) if event.time_unix_ms else format_ms(
        int(time.time() * 1000))
    kind = event.WhichOneof("event") or "event"
    if kind == "status":
        s = event.status
        body = (f"{enum_name(feedback_pb2.TrainingState, s.state, 'TRAINING_STATE_')} step "
                f"{s.step}, promoted {s.promoted_policy_version or '-'}, pending "
                f"{s.pending_preferences} preferences / {s.pending_prompts} prompts / "
                f"{s.pending_ratings} ratings" + (f" -- {s.message}" if s.message else ""))
    elif kind == "step":
        s = event.step
        body = (f"step {s.step}: {s.rollouts} rollouts, mean reward {s.mean_reward:.4f}, "
                f"kl {s.kl:.4f}, policy loss {s.policy_loss:.4f}, value loss "
                f"{s.value_loss:.4f}, {s.step_time_ms / 1000:.1f} s")
    elif kind == "policy_published":
        p = event.policy_published
        body = (f"published {p.policy_version} (from {p.parent_version or '-'}, step {p.step})"
                + (", promoted" if p.promoted else ""))
    elif kind == "checkpoint_saved":
        c = event.checkpoint_saved
        body = f"checkpoint {c.checkpoint_id} of {c.policy_version} at {c.path}"
    else:
        body = str(event).replace("\n", " ")
    sequence = f"#{event.sequence} " if event.sequence else ""
    return f"{when} {sequence}{kind}: {body}"


def cmd_training_watch(client: RlhfdClient, args: argparse.Namespace) -> int:
    """Streams WatchTraining; where the daemon does not implement it, polls GetTrainingStatus
    every --interval seconds and prints each change. Stops after --count events, after --for
    seconds, or on Ctrl-C (exit 0)."""
    end = time.monotonic() + args.for_seconds if args.for_seconds else None
    printed = 0
    stop = threading.Event()

    def show(event: feedback_pb2.TrainingEvent) -> bool:
        nonlocal printed
        if args.json:
            emit(json.dumps(message_dict(event)))
        else:
            emit(event_line(event))
        _out().flush()
        printed += 1
        return bool(args.count) and printed >= args.count

    def remaining() -> Optional[float]:
        return None if end is None else max(0.0, end - time.monotonic())

    call = client.watch_training(send_initial_status=True, timeout=remaining())
    timer = None
    if end is not None:  # a deadline ends the stream as DEADLINE_EXCEEDED; that is the plan
        timer = threading.Timer(max(0.0, end - time.monotonic()), lambda: (stop.set(),
                                                                             call.cancel()))
        timer.daemon = True
        timer.start()
    try:
        try:
            for event in call:
                if show(event):
                    call.cancel()
                    return EXIT_OK
            return EXIT_OK
        except grpc.RpcError as error:
            if stop.is_set() or error.code() in (grpc.StatusCode.CANCELLED,
                                                 grpc.StatusCode.DEADLINE_EXCEEDED) and end:
                return EXIT_OK
            if error.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            if not args.json:
                note(f"WatchTraining is not implemented by this rlhfd ({error.details()}); "
                     f"polling GetTrainingStatus every {args.interval:g} s")
        # Polling fallback.
        last = None
        sequence = 0
        while True:
            try:
                status = client.training_status()
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                    raise _training_unavailable(error, "training status")
                raise
            if last is None or status.SerializeToString(deterministic=True) != last:
                last = status.SerializeToString(deterministic=True)
                sequence += 1
                event = feedback_pb2.TrainingEvent(sequence=sequence,
                                                   time_unix_ms=int(time.time() * 1000),
                                                   status=status)
                if show(event):
                    return EXIT_OK
            wait = args.interval
            if end is not None:
                wait = min(wait, end - time.monotonic())
                if wait <= 0:
                    return EXIT_OK
            time.sleep(wait)
    finally:
        if timer is not None:
            timer.cancel()


def _training_control(client: RlhfdClient, args: argparse.Namespace, pause: bool) -> int:
    try:
        if pause:
            response = client.admin.PauseTraining(
                admin_pb2.PauseTrainingRequest(reason=args.reason or ""), **client._kw(None))
        else:
            response = client.admin.ResumeTraining(admin_pb2.ResumeTrainingRequest(),
                                                   **client._kw(None))
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED:
            raise _training_unavailable(error, "training control")
        raise
    if args.json:
        emit_json(message_dict(response.status))
    else:
        emit("\n".join(status_lines(response.status)))
    return EXIT_OK


def cmd_training_pause(client: RlhfdClient, args: argparse.Namespace) -> int:
    return _training_control(client, args, pause=True)


def cmd_training_resume(client: RlhfdClient, args: argparse.Namespace) -> int:
    return _training_control(client, args, pause=False)


# -- parser -----------------------------------------------------------------------------------

def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """The connection and output options; on subcommands they default to SUPPRESS so that
    ``rlhfctl health --address X`` and ``rlhfctl --address X health`` both work."""
    def default(value):
        return argparse.SUPPRESS if suppress else value

    group = parser.add_argument_group("connection")
    group.add_argument("--address", "-a", metavar="ADDRESS",
                       default=default(os.environ.get("RLHFD_ADDRESS", DEFAULT_ADDRESS)),
                       help="host:port or unix:/path of the daemon (default: $RLHFD_ADDRESS or "
                            f"{DEFAULT_ADDRESS})")
    group.add_argument("--timeout", type=float, metavar="SECONDS", default=default(None),
                       help=f"deadline per call (default {DEFAULT_TIMEOUT_S:g} s; generate "
                            f"{DEFAULT_GENERATE_TIMEOUT_S:g} s; watch none)")
    group.add_argument("--tls", action="store_true", default=default(False),
                       help="use TLS with the system's root certificates")
    group.add_argument("--ca", metavar="PEM", default=default(None),
                       help="CA certificate that signed the daemon's certificate (enables TLS)")
    group.add_argument("--cert", metavar="PEM", default=default(None),
                       help="client certificate for mutual TLS (with --key)")
    group.add_argument("--key", metavar="PEM", default=default(None),
                       help="client private key for mutual TLS (with --cert)")
    group.add_argument("--server-name", metavar="NAME", default=default(None),
                       help="TLS host name to check instead of the address's")
    group.add_argument("--token-file", metavar="FILE",
                       default=default(os.environ.get("RLHFD_TOKEN_FILE")),
                       help="file holding a bearer token, sent as `authorization: Bearer ...` "
                            "(default: $RLHFD_TOKEN_FILE)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print JSON instead of text")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # exit 2 with usage, as argparse does, but our prefix
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Operate an rlhfd daemon: health, model info, "
                     "generate, score, policy versions, feedback import, training status.",
                     epilog="Exit status: 0 ok; 1 the daemon answered with an error (CODE: "
                     "details), a service is not SERVING, or records were rejected; 2 usage, "
                     "unreadable local file, or daemon unreachable; 130 interrupted.")
    _global_options(parser, suppress=False)
    common = _Parser(add_help=False)
    _global_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def add(group, name: str, handler: Callable, help: str, **kwargs) -> argparse.ArgumentParser:
        sub = group.add_parser(name, help=help, description=help, parents=[common], **kwargs)
        sub.set_defaults(handler=handler)
        return sub

    p = add(commands, "health", cmd_health, "health of the daemon (grpc.health.v1); exit 0 iff "
            "every service asked about is SERVING")
    p.add_argument("service", nargs="*", help='service names (default: "" = the whole server)')
    p.add_argument("--all", action="store_true",
                   help="the server and every rlhfd.v1 service")

    add(commands, "info", cmd_info, "the served models and daemon (Admin.GetModelInfo)")

    p = add(commands, "generate", cmd_generate,
            "generate a completion, streaming text to the terminal as it is decoded")
    p.add_argument("prompt", help='the user turn ("-" reads it from stdin)')
    p.add_argument("--image", action="append", default=[], metavar="FILE",
                   help="PNG/JPEG file, or sha256:HEX of an image sent before (repeatable)")
    p.add_argument("--max-new-tokens", type=int, metavar="N")
    p.add_argument("--temperature", type=float, metavar="T", help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, metavar="P")
    p.add_argument("--top-k", type=int, metavar="K")
    p.add_argument("--repetition-penalty", type=float, metavar="R")
    p.add_argument("--stop", action="append", default=[], metavar="TEXT", help="(repeatable)")
    p.add_argument("--seed", type=int)
    p.add_argument("--version", default="", metavar="VERSION",
                   help="pin a policy version (default: the promoted one)")
    p.add_argument("--raw-prompt", action="store_true",
                   help="the prompt is already templated")
    p.add_argument("--batch", action="store_true", help="send with batch priority")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no statistics line on stderr")

    p = add(commands, "score", cmd_score, "score responses with the reward model (Reward.Score)")
    p.add_argument("prompt")
    p.add_argument("response", nargs="+", help="responses, scored together")
    p.add_argument("--image", required=True, metavar="FILE",
                   help="PNG/JPEG file, or sha256:HEX of an image sent before")
    p.add_argument("--caption", action="append", default=[], metavar="TEXT",
                   help="a true caption of the image (facts; repeatable)")
    p.add_argument("--choice", action="append", default=[], metavar="TEXT",
                   help="a multiple-choice option (facts; repeatable)")
    p.add_argument("--correct-choice", type=int, metavar="I",
                   help="index of the correct --choice")
    p.add_argument("--yes-no", choices=("yes", "no"), help="the correct yes/no answer")
    p.add_argument("--batch", action="store_true", help="send with batch priority")

    versions = add(commands, "versions", None, "policy versions (Admin)")
    versions.set_defaults(handler=None)
    vcommands = versions.add_subparsers(dest="versions_command", metavar="ACTION",
                                        parser_class=_Parser)
    vcommands.required = True
    p = add(vcommands, "list", cmd_versions_list, "the served versions, newest first "
            "(* = promoted)")
    p.add_argument("--limit", type=int, default=0, help="at most N (0 = all)")
    p = add(vcommands, "register", cmd_versions_register,
            "serve a PEFT LoRA adapter directory as a new version (not promoted)")
    p.add_argument("version")
    p.add_argument("adapter_path", help="the adapter directory on the daemon's host (relative "
                   "paths are made absolute against the current directory)")
    p.add_argument("--parent", default="", help='the version it derives from (default "base")')
    p = add(vcommands, "promote", cmd_versions_promote, "serve VERSION for unpinned requests")
    p.add_argument("version")
    p = add(vcommands, "rollback", cmd_versions_rollback,
            "promote the previously promoted version again (or VERSION)")
    p.add_argument("version", nargs="?", default="")
    p = add(vcommands, "retire", cmd_versions_retire,
            "stop serving VERSION and free its adapter")
    p.add_argument("version")
    p = add(vcommands, "save", cmd_versions_save,
            "write VERSION (default: the promoted one) as a PEFT directory on the daemon's host")
    p.add_argument("version", nargs="?", default="")
    p.add_argument("--path", default="", help="absolute directory to create (default: under "
                   "the daemon's state directory)")

    feedback = add(commands, "feedback", None, "feedback data")
    fcommands = feedback.add_subparsers(dest="feedback_command", metavar="ACTION",
                                        parser_class=_Parser)
    fcommands.required = True
    p = add(fcommands, "import", cmd_feedback_import,
            "replay a preference JSON file (LLaVA-Human-Preference-10K layout) through "
            "SubmitPreference, with retries and idempotency keys import:FILE:ID")
    p.add_argument("file")
    p.add_argument("--images", required=True, metavar="DIR", help="folder of the `image` files")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight (default 4)")
    p.add_argument("--initial-backoff", type=float, default=0.1, metavar="SECONDS")
    p.add_argument("--max-backoff", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--give-up-after", type=float, default=120.0, metavar="SECONDS",
                   help="seconds of retrying one record before rejecting it (default 120)")
    p.add_argument("--ids-out", metavar="FILE", help="write {key: feedback_ids} as JSON here")
    p.add_argument("--no-progress", action="store_true", help="no progress on stderr")

    training = add(commands, "training", None, "the online trainer")
    tcommands = training.add_subparsers(dest="training_command", metavar="ACTION",
                                        parser_class=_Parser)
    tcommands.required = True
    add(tcommands, "status", cmd_training_status, "a snapshot (Feedback.GetTrainingStatus)")
    p = add(tcommands, "watch", cmd_training_watch,
            "follow training events (WatchTraining; polls GetTrainingStatus where the daemon "
            "has no trainer)")
    p.add_argument("--interval", type=float, default=2.0, metavar="SECONDS",
                   help="polling interval of the fallback (default 2)")
    p.add_argument("--count", type=int, default=0, metavar="N", help="stop after N events")
    p.add_argument("--for", dest="for_seconds", type=float, default=0, metavar="SECONDS",
                   help="stop after this long")
    p = add(tcommands, "pause", cmd_training_pause, "pause online training (Admin)")
    p.add_argument("--reason", default="")
    add(tcommands, "resume", cmd_training_resume, "resume online training (Admin)")
    return parser


# -- main -------------------------------------------------------------------------------------

def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.timeout is not None and args.timeout <= 0:
        note("--timeout must be positive")
        return EXIT_USAGE
    options = ingest.FAST_RECONNECT if getattr(args, "feedback_command", None) == "import" or \
        getattr(args, "training_command", None) == "watch" else ()
    client: Optional[RlhfdClient] = None
    try:
        client = connect(args, channel_options=options)
        return args.handler(client, args)
    except CliError as error:
        note(str(error))
        return error.code
    except grpc.RpcError as error:
        secure = bool(args.tls or args.ca or args.cert)
        failure = rpc_failure(args.address, error, secure)
        note(str(failure))
        return failure.code
    except KeyboardInterrupt:
        _err().write("\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout closed early (e.g. `| head`): exit quietly, without a second error at exit.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return EXIT_FAILED
    finally:
        if client is not None:
            client.close()
