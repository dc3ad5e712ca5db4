"""The implementation of ``rlhfctl``: the argument parser and ``main`` (argparse; the standard
library and the client only). Commands are in ``commands.py``, shared helpers in ``common.py``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Optional, Sequence

import grpc

from rlhfd_client import ingest
from rlhfd_client.cli.commands import (cmd_feedback_import, cmd_generate, cmd_health, cmd_info,
                                       cmd_score, cmd_training_pause, cmd_training_resume,
                                       cmd_training_status, cmd_training_watch,
                                       cmd_versions_list, cmd_versions_promote,
                                       cmd_versions_register, cmd_versions_retire,
                                       cmd_versions_rollback, cmd_versions_save)
from rlhfd_client.cli.common import (DEFAULT_ADDRESS, DEFAULT_GENERATE_TIMEOUT_S,
                                     DEFAULT_TIMEOUT_S, EXIT_INTERRUPTED, EXIT_USAGE, PROG,
                                     CliError, err_stream, connect, note, rpc_failure)
from rlhfd_client.client import RlhfdClient

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
        failure = rpc_failure(args.address, error, secure, token=bool(args.token_file))
        note(str(failure))
        return failure.code
    except KeyboardInterrupt:
        err_stream().write("\n")
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
