"""Shared pieces of rlhfctl: exit codes, output helpers, error messages, the connection."""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import json
import os
import stat
import sys
from typing import Any, Dict, List, Optional, Sequence

import grpc
from google.protobuf import json_format

from rlhfd_client._proto.rlhfd.v1 import common_pb2
from rlhfd_client.client import RlhfdClient

PROG = "rlhfctl"
DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT_S = 30.0          # unary calls and each feedback attempt
DEFAULT_GENERATE_TIMEOUT_S = 600.0  # a whole streamed generation
RLHFD_SERVICES = ("rlhfd.v1.Policy", "rlhfd.v1.Reward", "rlhfd.v1.Feedback", "rlhfd.v1.Admin")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def interrupted(error: BaseException) -> bool:
    """Ctrl-C while a streaming call is read: a KeyboardInterrupt, or the RuntimeError
    ("cannot release un-acquired lock") that replaces it when it lands inside grpc's condition
    wait (its context is the KeyboardInterrupt)."""
    return isinstance(error, KeyboardInterrupt) or (
        isinstance(error, RuntimeError) and isinstance(error.__context__, KeyboardInterrupt))


class CliError(Exception):
    """An expected failure: printed as ``rlhfctl: MESSAGE`` with exit status ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


# -- output helpers ---------------------------------------------------------------------------

def out_stream() -> Any:
    return sys.stdout


def err_stream() -> Any:
    return sys.stderr


def emit(line: str = "") -> None:
    out_stream().write(line + "\n")


def note(line: str) -> None:
    """A line on stderr, prefixed with the program name."""
    err_stream().write(f"{PROG}: {line}\n")
    err_stream().flush()


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


def rpc_failure(address: str, error: grpc.RpcError, secure: bool = False,
                token: bool = False) -> CliError:
    """The CliError of a failed RPC: "cannot reach" (exit 2) or ``CODE: details`` (exit 1),
    with a hint for the authentication codes."""
    message = unreachable(address, error, secure)
    if message is not None:
        return CliError(message, EXIT_USAGE)
    code = error.code()
    name = code.name if code is not None else "UNKNOWN"
    text = f"{name}: {error.details() or ''}".rstrip()
    if code == grpc.StatusCode.UNAUTHENTICATED:
        text += (" (is the token in --token-file valid?)" if token
                 else " (the daemon wants a bearer token: --token-file FILE)")
    elif code == grpc.StatusCode.PERMISSION_DENIED and token:
        text += " (the token lacks the scope this call needs)"
    return CliError(text, EXIT_FAILED)


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
