"""Feedback data from the world, for the online-RLHF experiment.

- Preference pairs: for a question, the grounded answer and a hallucinated one
  (``hallucinate.py``) in random order, `preferred` = the grounded one, with per-response
  hallucination flags and the image's five captions as facts.
- RL prompts: open questions (caption_type 1 = GENERAL), multiple-choice questions
  (caption_type 2-5 = A..D_IN_ABCD, with choices and the correct one) and yes/no questions
  (6 = NO_IN_YESNO, 7 = YES_IN_YESNO), with captions and a `length_bonus`.

Each is produced as a plain dict (``preference_pairs``, ``rl_prompts``) and converted to
(a) LLaVA-RLHF's JSON layouts (LLaVA-Human-Preference-10K; the PPO prompt file) and
(b) the Feedback API's messages (``PreferenceFeedback``, ``RlPrompt`` in ``PromptBatch``).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

from .dataset import scene_questions
from .hallucinate import hallucinated_answer
from .scene import Scene

# length_bonus per question form: long descriptions get the full length term, short answers
# less (the daemon reads 0 as the default 1.0, so none is 0).
LENGTH_BONUS = {"holistic": 1.0, "open": 0.5, "mc": 0.25, "yesno": 0.25}


def preference_pairs(scenes: Sequence[Scene], captions: Dict[str, List[str]], seed: int,
                     split: str) -> List[dict]:
    """One grounded-vs-hallucinated pair per open question of each scene."""
    rng = random.Random(f"{seed}:pairs:{split}")
    out = []
    for scene in scenes:
        for q in scene_questions(scene, seed):
            if q["form"] != "open":
                continue
            bad = hallucinated_answer(q, scene, rng)
            if bad is None:
                continue
            good_first = rng.random() < 0.5
            r1, r2 = (q["answer"], bad[0]) if good_first else (bad[0], q["answer"])
            out.append({
                "id": f"pref-{q['id']}", "scene_id": scene.id, "image": q["image"],
                "question": q["question"], "question_type": q["type"],
                "response_1": r1, "response_2": r2, "preferred": 1 if good_first else 2,
                "response_1_hallucinated": not good_first, "response_2_hallucinated": good_first,
                "corruption": bad[1], "captions": captions[scene.id],
            })
    return out


def rl_prompts(scenes: Sequence[Scene], captions: Dict[str, List[str]], seed: int) -> List[dict]:
    """Every question of every scene as an RL prompt, with facts and a length bonus."""
    out = []
    for scene in scenes:
        for q in scene_questions(scene, seed):
            form = "holistic" if q["type"] == "holistic" else q["form"]
            out.append({
                "id": f"rl-{q['id']}", "scene_id": scene.id, "image": q["image"],
                "question": q["question"], "question_type": q["type"], "form": q["form"],
                "answer": q["answer"], "captions": captions[scene.id],
                "caption_type": q["caption_type"], "length_bonus": LENGTH_BONUS[form],
                "choices": q.get("choices"), "correct_choice": q.get("correct_choice"),
                "yes_no_answer": q.get("yes_no_answer"),
            })
    return out


# --- LLaVA-RLHF JSON layouts ----------------------------------------------------------------
def llava_preference(p: dict) -> dict:
    """A record of LLaVA-Human-Preference-10K (`llava_7b_v1_preference.json`) plus the world's
    extra fields (flags per response, captions, question type, corruption)."""
    return {
        "id": p["id"], "image": p["image"],
        "conversations": [{"from": "human", "value": "<image>\n" + p["question"]},
                          {"from": "gpt", "value": p[f"response_{p['preferred']}"]}],
        "output_1": {"value": p["response_1"]}, "output_2": {"value": p["response_2"]},
        "preference": p["preferred"],
        # The pair differs only by a hallucination, so the choice is made by LLaVA-RLHF's Q1
        # ("which response has fewer hallucinations?").
        "hallucination": True,
        "hallucination_1": p["response_1_hallucinated"],
        "hallucination_2": p["response_2_hallucinated"],
        "captions": p["captions"], "question_type": p["question_type"],
        "corruption": p["corruption"],
    }


def llava_rl_prompt(r: dict) -> dict:
    """A record of LLaVA-RLHF's PPO prompt file (`llava_ppo50k-aokvqa12k-vqa10k.json`) plus
    the world's symbolic facts (choices, correct choice, yes/no answer)."""
    out = {
        "id": r["id"], "image": r["image"],
        "conversations": [{"from": "human", "value": "<image>\n" + r["question"]},
                          {"from": "gpt", "value": r["answer"]}],
        "captions": r["captions"], "caption_type": r["caption_type"],
        "length_bonus": r["length_bonus"], "question_type": r["question_type"],
    }
    for k in ("choices", "correct_choice", "yes_no_answer"):
        if r.get(k) is not None:
            out[k] = r[k]
    return out


# --- Feedback API messages ------------------------------------------------------------------
def _facts(pb, r: dict):
    common_pb2 = pb.common_pb2
    facts = common_pb2.Facts(captions=r["captions"])
    if r.get("choices"):
        facts.choices.extend(r["choices"])
        facts.correct_choice = r["correct_choice"]
    if r.get("yes_no_answer") is not None:
        facts.yes_no_answer = r["yes_no_answer"]
    return facts


def preference_message(pb, p: dict, image_dir: Path, key_prefix: str = "world"):
    """A `PreferenceFeedback` with the image bytes, flags, captions and an idempotency key."""
    f = pb.feedback_pb2
    return f.PreferenceFeedback(
        image=pb.common_pb2.Image(data=(image_dir / p["image"]).read_bytes()),
        prompt=p["question"],
        response_1=f.ResponseRef(text=p["response_1"]),
        response_2=f.ResponseRef(text=p["response_2"]),
        preferred=p["preferred"],
        hallucination=f.HallucinationFlags(
            response_1_hallucinated=p["response_1_hallucinated"],
            response_2_hallucinated=p["response_2_hallucinated"], dataset_flag=True),
        facts=_facts(pb, p),
        idempotency_key=f"{key_prefix}-{p['id']}",
    )


def prompt_batches(pb, prompts: Sequence[dict], image_dir: Path, batch_size: int = 256,
                   key_prefix: str = "world") -> Iterable:
    """`PromptBatch` messages of at most `batch_size` `RlPrompt`s (the daemon takes <= 256)."""
    f = pb.feedback_pb2
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        yield f.PromptBatch(
            prompts=[f.RlPrompt(image=pb.common_pb2.Image(data=(image_dir / r["image"]).read_bytes()),
                                prompt=r["question"], facts=_facts(pb, r),
                                length_bonus=r["length_bonus"], client_id=r["id"])
                     for r in chunk],
            idempotency_key=f"{key_prefix}-{chunk[0]['id']}-{len(chunk)}",
        )


def load_pb():
    """The client's generated message modules (rlhfd_client.pb), importable from the tree."""
    import sys

    src = Path(__file__).resolve().parents[3] / "clients" / "python" / "src"
    if str(src) not in sys.path:
        sys.path.insert(0, str(src))
    from rlhfd_client import pb  # noqa: WPS433

    return pb
