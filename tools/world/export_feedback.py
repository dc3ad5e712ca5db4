#!/usr/bin/env python3
"""Exports the world's feedback data for the online-RLHF experiment (rlhfd issue 12, item 4).

    python tools/world/export_feedback.py --data .build-world/data          # all splits
    python tools/world/export_feedback.py --data DIR --submit 127.0.0.1:50051 --split val --limit 64

Writes under DATA/feedback/, per split:
    pairs_{split}.jsonl             grounded vs hallucinated pairs (plain records; training input)
    preferences_{split}.json        the same in LLaVA-Human-Preference-10K's layout
    rl_prompts_{split}.json         RL prompts in LLaVA-RLHF's PPO prompt layout
    preferences_{split}.pb.jsonl    Feedback API PreferenceFeedback messages (protobuf JSON)
    prompts_{split}.pb.jsonl        Feedback API PromptBatch messages (<= 256 prompts each)
The .pb.jsonl files (which carry the image bytes) are written for --message-splits only.
--submit sends the messages of --split to a running daemon (SubmitPreference, SubmitPrompts).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from worldgen.dataset import load_scenes, read_jsonl, write_json, write_jsonl  # noqa: E402
from worldgen.export import (llava_preference, llava_rl_prompt, load_pb,  # noqa: E402
                             preference_message, preference_pairs, prompt_batches, rl_prompts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, default=Path(".build-world/data"))
    p.add_argument("--splits", default="train,val,test")
    p.add_argument("--message-splits", default="val,test",
                   help="splits whose Feedback API messages are written (they hold the images)")
    p.add_argument("--submit", metavar="TARGET", help="submit --split to this daemon")
    p.add_argument("--split", default="val")
    p.add_argument("--limit", type=int, default=0, help="submit at most this many of each")
    a = p.parse_args()
    manifest = json.loads((a.data / "manifest.json").read_text())
    seed = manifest["seed"]
    out = a.data / "feedback"
    out.mkdir(exist_ok=True)
    images = a.data / "images"
    pb = None
    for split in a.splits.split(","):
        records = list(read_jsonl(a.data / split / "scenes.jsonl"))
        captions = {r["id"]: r["captions"] for r in records}
        scenes = load_scenes(a.data, split)
        pairs = preference_pairs(scenes, captions, seed, split)
        prompts = rl_prompts(scenes, captions, seed)
        write_jsonl(out / f"pairs_{split}.jsonl", pairs)
        write_json(out / f"preferences_{split}.json", [llava_preference(x) for x in pairs])
        write_json(out / f"rl_prompts_{split}.json", [llava_rl_prompt(x) for x in prompts])
        line = f"{split:5s} {len(pairs):6d} preference pairs {len(prompts):6d} RL prompts"
        if split in a.message_splits.split(","):
            from google.protobuf import json_format

            pb = pb or load_pb()
            write_jsonl(out / f"preferences_{split}.pb.jsonl",
                        (json_format.MessageToDict(preference_message(pb, x, images))
                         for x in pairs))
            n = write_jsonl(out / f"prompts_{split}.pb.jsonl",
                            (json_format.MessageToDict(b) for b in prompt_batches(pb, prompts, images)))
            line += f" (+ messages: {len(pairs)} PreferenceFeedback, {n} PromptBatch)"
        print(line)
    if a.submit:
        submit(a, out, images)


def submit(a, out: Path, images: Path) -> None:
    """Sends --split's pairs and prompts to the daemon through the Feedback API."""
    import grpc

    from worldgen.export import preference_message as message

    pb = load_pb()
    from rlhfd_client import RlhfdClient

    pairs = list(read_jsonl(out / f"pairs_{a.split}.jsonl"))
    prompts = [r for r in json.loads((out / f"rl_prompts_{a.split}.json").read_text())]
    if a.limit:
        pairs, prompts = pairs[: a.limit], prompts[: a.limit]
    with RlhfdClient(a.submit, timeout=60) as client:
        try:
            for k, x in enumerate(pairs, 1):
                ack = client.feedback.SubmitPreference(message(pb, x, images))
                print(f"\rpreferences {k}/{len(pairs)} duplicate={ack.duplicate}", end="",
                      file=sys.stderr)
            print(file=sys.stderr)
            flat = [{"id": r["id"], "image": r["image"], "question": r["conversations"][0]["value"]
                     .removeprefix("<image>\n"), "captions": r["captions"],
                     "length_bonus": r["length_bonus"], "choices": r.get("choices"),
                     "correct_choice": r.get("correct_choice"),
                     "yes_no_answer": r.get("yes_no_answer")} for r in prompts]
            for batch in prompt_batches(pb, flat, images):
                ack = client.feedback.SubmitPrompts(batch)
                print(f"prompts: {ack.accepted} accepted, duplicate={ack.duplicate}",
                      file=sys.stderr)
        except grpc.RpcError as error:
            print(f"\nthe daemon refused: {error.code().name}: {error.details()}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
