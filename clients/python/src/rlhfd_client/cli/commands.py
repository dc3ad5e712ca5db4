"""The rlhfctl commands: each takes the client and the parsed arguments, prints its result and
returns the exit status (RPC errors propagate to ``main``, which prints ``CODE: details``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import grpc

from rlhfd_client import ingest
from rlhfd_client._proto.rlhfd.v1 import admin_pb2, common_pb2, feedback_pb2, policy_pb2
from rlhfd_client.cli.common import (DEFAULT_GENERATE_TIMEOUT_S, DEFAULT_TIMEOUT_S, EXIT_FAILED,
                                     EXIT_OK, EXIT_USAGE, RLHFD_SERVICES, CliError, emit,
                                     emit_json, enum_name, err_stream, format_ms, human_bytes,
                                     interrupted, message_dict, note, out_stream, read_image,
                                     table)
from rlhfd_client.client import RlhfdClient


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
    out = out_stream()
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
    except (KeyboardInterrupt, RuntimeError) as error:
        # Ctrl-C inside grpc's condition wait can surface as "cannot release un-acquired
        # lock" (a RuntimeError whose context is the KeyboardInterrupt): the same interrupt.
        if not interrupted(error):
            raise
        call.cancel()
        if not args.json and text_parts:
            out.write("\n")
        raise KeyboardInterrupt from None
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
        err_stream().write("[" + ", ".join(parts) + "]\n")
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
    progress = None if args.no_progress else ingest.Progress(file.name, len(records), err_stream())
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
        body = (f"step {s.step}: {s.rollouts} rollouts, reward {s.mean_reward:.4f} "
                f"± {s.reward_std:.4f}, kl {s.kl:.4f}, policy loss {s.policy_loss:.4f}, value "
                f"loss {s.value_loss:.4f}, clipped {s.clip_fraction:.3f}, entropy "
                f"{s.entropy:.3f}, {s.step_time_ms / 1000:.1f} s")
    elif kind == "rollouts":
        r = event.rollouts
        body = f"step {r.step}: {r.done}/{r.total} rollouts"
    elif kind == "reward_model_updated":
        r = event.reward_model_updated
        body = (f"reward model {r.reward_model_version} ({r.train_pairs} pairs): held-out "
                f"accuracy {r.held_out_accuracy:.3f} (was {r.previous_held_out_accuracy:.3f}), "
                + ("adopted" if r.adopted else "not adopted")
                + (f" -- {r.reason}" if r.reason else ""))
    elif kind == "promotion_changed":
        c = event.promotion_changed
        body = (("rolled back " if c.rolled_back else "promoted ")
                + f"{c.from_version or '-'} -> {c.to_version}"
                + (f" -- {c.reason}" if c.reason else ""))
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

    def show(event: feedback_pb2.TrainingEvent) -> bool:
        nonlocal printed
        if args.json:
            emit(json.dumps(message_dict(event)))
        else:
            emit(event_line(event))
        out_stream().flush()
        printed += 1
        return bool(args.count) and printed >= args.count

    def remaining() -> Optional[float]:
        return None if end is None else max(0.0, end - time.monotonic())

    call = client.watch_training(send_initial_status=True, timeout=remaining())
    try:
        for event in call:
            if show(event):
                call.cancel()
                return EXIT_OK
        return EXIT_OK
    except (KeyboardInterrupt, RuntimeError) as error:
        if not interrupted(error):
            raise
        call.cancel()
        return EXIT_OK
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and end is not None:
            return EXIT_OK  # --for elapsed
        if error.code() not in (grpc.StatusCode.UNIMPLEMENTED,
                                grpc.StatusCode.FAILED_PRECONDITION):
            raise
        note(f"WatchTraining: {error.code().name} ({error.details()}); "
             f"polling GetTrainingStatus every {args.interval:g} s")
    # Polling fallback: print the status whenever it changes.
    last = None
    sequence = 0
    try:
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
    except KeyboardInterrupt:
        return EXIT_OK


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
